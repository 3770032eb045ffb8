"""The shipped logo network: it loads, a tampered file is refused, and it embeds a damaged logo
closer to its own reference than to other logos."""

from __future__ import annotations

import random
import shutil

import cv2
import numpy as np
import pytest

from screener.errors import ModelError
from screener.logo.weights import MODELS_DIR, load_embedder, manifest_entry, read_manifest, sha256_file, update_manifest
from screener.train.network import load_torch_embedder


@pytest.fixture(scope="module")
def embedder():
    return load_embedder("logo-embed", threads=1)


def test_shipped_model_matches_manifest_and_loads(embedder):
    entry = manifest_entry("logo-embed")
    weights, export = MODELS_DIR / entry["file"], MODELS_DIR / entry["onnx_file"]
    assert weights.suffix == ".pt" and export.suffix == ".onnx"
    assert weights.stat().st_size + export.stat().st_size < 20 * 1024 * 1024
    assert sha256_file(weights) == entry["sha256"]
    assert embedder.runtime == "onnxruntime"  # screening runs the export by default
    assert sha256_file(export) == entry["onnx_sha256"] == embedder.sha256
    for key in ("arch", "input_size", "mean", "std", "training_command", "data_recipe", "seed", "metrics"):
        assert key in entry, key
    crops = np.zeros((3, embedder.size, embedder.size, 3), np.uint8)
    vectors = embedder.embed(crops)
    assert vectors.shape == (3, entry["dim"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_onnx_export_embeds_like_the_torch_weights(embedder):
    """The export is the same network: on real-looking crops (rendered logos and noise) both
    runtimes give the same vectors, so scores and thresholds carry over between them."""
    from screener.train.render import random_mark, render_mark

    rng = random.Random(5)
    crops = [np.asarray(render_mark(random_mark(rng), embedder.size).convert("RGB")) for _ in range(12)]
    crops.append(np.random.default_rng(5).integers(0, 256, (embedder.size, embedder.size, 3), dtype=np.uint8))
    batch = np.stack([cv2.resize(c, (embedder.size, embedder.size)) for c in crops])
    torch_embedder = load_torch_embedder("logo-embed", threads=1)
    assert torch_embedder.runtime == "torch"
    cosines = np.sum(embedder.embed(batch) * torch_embedder.embed(batch), axis=1)
    assert cosines.min() > 0.9999


@pytest.mark.parametrize("key", ["file", "onnx_file"])
def test_tampered_weights_are_refused(tmp_path, key):
    shutil.copy(MODELS_DIR / "manifest.toml", tmp_path / "manifest.toml")
    entry = manifest_entry("logo-embed")
    for name in (entry["file"], entry["onnx_file"]):
        shutil.copy(MODELS_DIR / name, tmp_path / name)
    data = bytearray((MODELS_DIR / entry[key]).read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle of the weights
    (tmp_path / entry[key]).write_bytes(bytes(data))
    load = load_torch_embedder if key == "file" else load_embedder
    with pytest.raises(ModelError, match="does not match its manifest"):
        load("logo-embed", tmp_path)


def test_an_entry_without_an_onnx_export_names_the_command_that_writes_it(tmp_path):
    # Screening runs only the ONNX export: an entry of torch weights alone (as older trainings
    # wrote) is refused with the export command, not loaded through torch.
    entry = manifest_entry("logo-embed")
    shutil.copy(MODELS_DIR / entry["file"], tmp_path / entry["file"])
    update_manifest(tmp_path / "manifest.toml", {k: v for k, v in entry.items() if not k.startswith("onnx_")})
    with pytest.raises(ModelError, match="screener.train.export --name logo-embed"):
        load_embedder("logo-embed", tmp_path)
    assert load_torch_embedder("logo-embed", tmp_path, threads=1).runtime == "torch"


def test_missing_model_file_and_unknown_name_are_clear_errors(tmp_path):
    shutil.copy(MODELS_DIR / "manifest.toml", tmp_path / "manifest.toml")
    with pytest.raises(ModelError, match="missing"):
        load_embedder("logo-embed", tmp_path)
    with pytest.raises(ModelError, match="missing"):
        load_torch_embedder("logo-embed", tmp_path)
    with pytest.raises(ModelError, match="not in"):
        load_embedder("no-such-model", tmp_path)
    assert read_manifest()  # the shipped manifest itself parses


def _damage(rgb: np.ndarray) -> np.ndarray:
    """A perspective warp, a blur and a darker, lower-contrast light: a logo photographed."""
    h, w = rgb.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[0.06 * w, 0.04 * h], [0.97 * w, 0.0], [0.92 * w, 0.96 * h], [0.0, h]])
    warped = cv2.warpPerspective(rgb, cv2.getPerspectiveTransform(src, dst), (w, h),
                                 borderMode=cv2.BORDER_REPLICATE)
    blurred = cv2.GaussianBlur(warped, (5, 5), 1.2)
    return np.clip(blurred.astype(np.float32) * 0.7 + 20, 0, 255).astype(np.uint8)


def test_damaged_logo_is_closer_to_its_reference_than_to_others(embedder):
    """Matched the way the stage matches (reference variants, calibrated scores): at least 22 of
    24 damaged logos are closest to their own brand (measured with the shipped model: 23 of 24;
    the miss is a look-alike layout in the same colours)."""
    import io

    from PIL import Image

    from screener.logo.cache import EmbeddingCache
    from screener.logo.matcher import embed_references, square
    from screener.train.synth import logos

    correct = 0
    for seed in (2024, 1, 2):
        rng = random.Random(seed)
        specs = [logos.random_spec(logos.random_brand_name(rng), rng) for _ in range(8)]
        references, damaged = [], []
        for i, spec in enumerate(specs):
            rgba = logos.render_logo(spec, 96)
            buffer = io.BytesIO()
            rgba.save(buffer, "PNG")
            references.append((spec.name, f"{i}.png", buffer.getvalue()))
            canvas = Image.new("RGB", (rgba.width + 16, rgba.height + 16), (255, 255, 255))
            canvas.paste(rgba, (8, 8), rgba)
            damaged.append(square(_damage(np.asarray(canvas)), embedder.size))
        refs = embed_references(embedder, references, EmbeddingCache(None))
        sim = refs.calibrated(embedder.embed(np.stack(damaged)) @ refs.vectors.T)
        per_brand = np.stack([sim[:, refs.brand_index == b].max(axis=1) for b in range(len(specs))], axis=1)
        correct += int((per_brand.argmax(axis=1) == np.arange(len(specs))).sum())
    assert correct >= 22, f"{correct} of 24"


def test_writing_a_manifest_entry_keeps_the_others_and_their_comments(tmp_path):
    """Refitting one model (a decision, a head) rewrites its own [[model]] block only: the other
    entries and the comments that record how their numbers were chosen stay as written."""
    from screener.logo.weights import MODELS_DIR, read_manifest, update_manifest

    path = tmp_path / "manifest.toml"
    shipped = (MODELS_DIR / "manifest.toml").read_text(encoding="utf-8")
    path.write_text(shipped, encoding="utf-8")
    before = read_manifest(tmp_path)
    update_manifest(path, {"name": "decision-x", "file": "a.json", "metrics": {"hits": 3}})
    update_manifest(path, {"name": "decision-x", "file": "b.json"})  # replaced, not added twice
    after = read_manifest(tmp_path)
    assert after[:-1] == before and after[-1] == {"name": "decision-x", "file": "b.json"}
    text = path.read_text(encoding="utf-8")
    comments = [line for line in shipped.splitlines() if line.startswith("#")]
    assert comments and all(line in text for line in comments)
    # An existing model is rewritten where it stands, so a refit's diff is its own block only.
    first = before[0]["name"]
    update_manifest(path, {"name": first, "file": "c.json"})
    again = read_manifest(tmp_path)
    assert [e["name"] for e in again] == [e["name"] for e in after]
    assert again[0] == {"name": first, "file": "c.json"} and again[1:] == after[1:]


def test_setting_keys_of_one_entry_keeps_it_as_written(tmp_path):
    """A file made for an existing model (its background bank) adds keys to an entry with
    comments, inline arrays and sub-tables: only their lines change, setting them again replaces
    them, and the other entries stay as they were."""
    from screener.errors import ModelError
    from screener.logo.weights import MODELS_DIR, read_manifest, set_manifest_keys

    path = tmp_path / "manifest.toml"
    shipped = (MODELS_DIR / "manifest.toml").read_text(encoding="utf-8")
    path.write_text(shipped, encoding="utf-8")
    before = read_manifest(tmp_path)
    set_manifest_keys(path, "logo-trunk-tuned", {"extra_file": "a.npy", "extra_count": 3})
    set_manifest_keys(path, "logo-trunk-tuned", {"extra_file": "b.npy"})
    after = read_manifest(tmp_path)
    index = [e["name"] for e in before].index("logo-trunk-tuned")
    assert after[index] == {**before[index], "extra_file": "b.npy", "extra_count": 3}
    assert after[:index] + after[index + 1:] == before[:index] + before[index + 1:]
    text, old = path.read_text(encoding="utf-8").splitlines(), shipped.splitlines()
    assert sorted(line for line in text if line not in old) == ['extra_count = 3', 'extra_file = "b.npy"']
    assert [line for line in old if line not in text] == []
    with pytest.raises(ModelError, match="'no-such' is not in"):
        set_manifest_keys(path, "no-such", {"extra_file": "c.npy"})
