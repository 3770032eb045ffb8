"""The background bank: a logo network's embeddings of what no reference should match.

Each reference variant's calibration floor (:func:`screener.logo.matcher.reference_floors`) is
its similarity to the bank at the bank's quantile: what the reference scores against regions it
should *not* match. A reference that resembles everything (a plain disc, a short word) gets a
high floor and must score far over it. Two recipes (``python -m screener.train.bank``):

- **synthetic** (``bank-v1``, floors at q0.95): seeded made-up marks, words and backgrounds drawn
  by the training renderer; needs no data. The networks that embed crops use it.
- **photo clutter** (``bank-v2``, floors at q0.99): windows of real photos that show no logo,
  pooled from the photos' feature maps exactly as the stage pools its candidate windows (the
  FlickrLogos-27 dev training photos, away from their logo boxes). The trunk networks use it: a
  logo photo's background fools them long before a made-up mark does, and those are the regions
  a reference must score over (BENCHMARKS.md, "A background bank of real clutter").

Screening needs only the embeddings, which ship beside each network's weights as
``screener/models/bank-<model>.npy`` (float32, N x dim), recorded in the network's manifest entry:

- ``bank_file``, ``bank_sha256``: the file, checked like every model file before it is read;
- ``bank_recipe``: which images were embedded (the recipe's version);
- ``bank_quantile``: the floors' quantile (0.95 when absent: the synthetic recipe's);
- ``bank_model_sha256``: the sha256 of the network the bank was embedded with (the embedder's
  ``sha256``, the ONNX export that screening runs), so a network exported or fitted again
  without a new bank is refused instead of being calibrated against another network's vectors.

Screening never draws a mark or reads a training photo, so it needs neither the training package,
the fonts nor the data: the floors are the ones measured.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelError
from .model import Embedder

BANK_COMMAND = "python -m screener.train.bank"
SYNTHETIC_QUANTILE = 0.95  # the synthetic bank's floors (bank-v1); a bank's entry may record another


def bank_file(model: str) -> str:
    """The bank's file name in the models folder."""
    return f"bank-{model}.npy"


def remake_command(model: str, folder: str | Path) -> str:
    """The command that writes ``model``'s bank again into ``folder``."""
    return f"{BANK_COMMAND} --models {folder} --model {model}"


def bank_quantile(embedder: Embedder) -> float:
    """The quantile of a reference's similarities to the bank that is its floor: the entry's
    ``bank_quantile``, or 0.95 for a bank recorded without one (the synthetic bank's)."""
    entry = embedder.source[0] if embedder.source is not None else {}
    return float(entry.get("bank_quantile", SYNTHETIC_QUANTILE))


def bank_id(embedder: Embedder) -> str:
    """What identifies the floors the bank gives (its file's sha256 as recorded, and its quantile),
    for caching them; "none" for an embedder with no bank recorded (:func:`load_bank` then says why)."""
    entry = embedder.source[0] if embedder.source is not None else {}
    return f"{entry.get('bank_sha256', 'none')}:{bank_quantile(embedder)}"


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
