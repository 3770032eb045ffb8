"""The thread rules: how many threads a stage may use, and NumPy's BLAS held to one thread while
the logo stage runs its own SIFT thread. Real OpenBLAS (NumPy's), read back by threadpoolctl."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController

from screener.threads import one_blas_thread, thread_budget


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in ThreadpoolController().info() if lib["user_api"] == "blas"]


@pytest.fixture
def two_blas_threads():
    """BLAS on two threads for the test (a CI machine's default may be one core's worth)."""
    if not _blas_threads():
        pytest.skip("NumPy has no BLAS library that threadpoolctl can see")
    with ThreadpoolController().limit(limits=2, user_api="blas"):
        yield


def test_thread_budget_prefers_the_argument_then_the_environment(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert thread_budget(1) == 1
    assert thread_budget() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert thread_budget() >= 1


def test_blas_runs_on_one_thread_inside_and_is_restored_after(two_blas_threads):
    assert set(_blas_threads()) == {2}
    with one_blas_thread():
        assert set(_blas_threads()) == {1}
        np.ones((64, 64), np.float32) @ np.ones((64, 64), np.float32)
    assert set(_blas_threads()) == {2}


def test_overlapping_blocks_keep_the_limit_until_the_last_one_leaves(two_blas_threads):
    """Two screenings at once share the process-wide limit, and need not end in the order they
    began: the first to leave must not lift the other's limit, and the last restores BLAS."""
    first, second = one_blas_thread(), one_blas_thread()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first one ends while the second still runs
    assert set(_blas_threads()) == {1}
    second.__exit__(None, None, None)
    assert set(_blas_threads()) == {2}
