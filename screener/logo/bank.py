"""The background bank: a logo network's embeddings of unrelated made-up marks and backgrounds.

Each reference variant's calibration floor (:func:`screener.logo.matcher.reference_floors`) is
its similarity to these at the 0.95 quantile: what the reference scores against marks it should
*not* match. The bank's images are seeded synthetic marks, words and backgrounds drawn by the
training renderer; screening needs only their embeddings, which ship beside each network's
weights as ``screener/models/bank-<model>.npy`` (float32, N x dim), recorded in the network's
manifest entry:

- ``bank_file``, ``bank_sha256``: the file, checked like every model file before it is read;
- ``bank_recipe``: which images were embedded (the generator's version);
- ``bank_model_sha256``: the sha256 of the network the bank was embedded with (the embedder's
  ``sha256``, the ONNX export that screening runs), so a network exported or fitted again
  without a new bank is refused instead of being calibrated against another network's vectors.

``python -m screener.train.bank`` makes them (:mod:`screener.train.bank`). Screening never draws a
mark, so it needs neither the training package nor the fonts the marks were drawn with: the
floors are the ones measured, whatever fonts the screening machine has.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelError
from .model import Embedder

BANK_COMMAND = "python -m screener.train.bank"


def bank_file(model: str) -> str:
    """The bank's file name in the models folder."""
    return f"bank-{model}.npy"


def remake_command(model: str, folder: str | Path) -> str:
    """The command that writes ``model``'s bank again into ``folder``."""
    return f"{BANK_COMMAND} --models {folder} --model {model}"


def load_bank(embedder: Embedder) -> np.ndarray:
    """The shipped bank of the network ``embedder`` runs (N x dim float32, unit rows).

    Raises :class:`ModelError`, naming the command that makes it, when the embedder was not
    loaded from a manifest, its entry records no bank, or the file is missing, changed, of the
    wrong shape, or embedded by another version of the network."""
    from .weights import checked_path

    if embedder.source is None:
        raise ModelError("this embedder was not loaded from a models manifest (load_embedder), so it has no "
                         "background bank: build its references with calibrate=False")
    entry, folder = embedder.source
    name = str(entry.get("name"))
    remake = remake_command(name, folder)
    if not entry.get("bank_file"):
        raise ModelError(f"model {name!r} has no background bank in {folder / 'manifest.toml'}; the logo "
                         f"stage's calibration needs one: make it with `{remake}`")
    path, _ = checked_path(entry, "bank_file", folder, remake=remake)
    # The torch runtime of the same entry runs the weights the ONNX export was made from (the two
    # embed alike to 1e-4, tests/test_logo_model.py): it shares the bank. Any other runtime must
    # be the one the bank was embedded with.
    if embedder.runtime != "torch" and entry.get("bank_model_sha256") != embedder.sha256:
        raise ModelError(f"background bank {path} was embedded with another version of {name!r} (network "
                         f"sha256 {str(entry.get('bank_model_sha256'))[:12]}... instead of {embedder.sha256[:12]}...): "
                         f"make it again with `{remake}`")
    try:
        bank = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ModelError(f"background bank {path} cannot be read: {exc}") from exc
    if bank.ndim != 2 or len(bank) == 0 or bank.shape[1] != embedder.spec.dim or bank.dtype != np.float32:
        raise ModelError(f"background bank {path} holds a {bank.dtype} array of shape {bank.shape}, not "
                         f"N x {embedder.spec.dim} float32: make it again with `{remake}`")
    return bank
