"""Shared fixtures: photos rendered by the project's own generator, small registries, options."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import SAMPLES, SHARED_DATA  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="run tests that train or scan a lot")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: use --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture()
def text_registry(tmp_path) -> Path:
    """A registry of two fictional brands without logos (text evidence only)."""
    from screener.brands import BrandRegistry

    registry = BrandRegistry(tmp_path / "brands")
    registry.add("Veltora", aliases=["Veltora Paris"])
    registry.add("Novalux")
    registry.save()
    return registry.root


@pytest.fixture(scope="session")
def samples() -> Path:
    if not (SAMPLES / "labels.csv").exists():
        pytest.skip("sample_images/ has not been generated")
    return SAMPLES


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA
