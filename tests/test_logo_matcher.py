"""The CNN logo stage on whole photos: registered logos are found where they are, the reference
cache is reused, and the stage is only built when there is something to match."""

from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from helpers import SAMPLES
from screener.brands import BrandRegistry
from screener.config import Config
from screener.geometry import over_smaller  # the hit covers the mark or sits inside it
from screener.logo.base import NoLogoStage
from screener.logo.matcher import WORK_SIDE, CnnLogoStage, build_logo_stage, working_copy
from screener.logo.weights import load_embedder


# These tests run the stage on logo-embed (the `embedder` fixture), the network trained here: small
# and fast. The default network's stage is exercised by the sample and pipeline tests.
EMBED = Config().replace(logo__model="logo-embed")
# Every brand's best box, whatever its score: these tests are about finding and placing marks;
# the shipped thresholds (measured on real photos) are checked by benchmarks/logo_flickr.py.
LOW = EMBED.replace(logo__operating_point={"near_threshold": 0.0, "genuine_threshold": 0.0})


@pytest.fixture(scope="module")
def embedder():
    return load_embedder("logo-embed", threads=1)


def _registry_of_synthetic_brands(root: Path, count: int, seed: int):
    from screener.train.synth import logos

    rng = random.Random(seed)
    registry = BrandRegistry(root / "brands")
    specs = []
    for i in range(count):
        spec = logos.random_spec(logos.random_brand_name(rng), rng)
        path = root / f"logo{i}.png"
        logos.render_logo(spec, 128).save(path)
        registry.add(spec.name, logos=[path])
        specs.append(spec)
    registry.save()
    return BrandRegistry.load(registry.root), specs


def _scene_with_logo(spec, logo_side: int) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """A 1024 x 768 listing: a product on a plain background with ``spec``'s logo printed on it,
    and the logo's box."""
    from screener.train.synth import logos

    scene = Image.new("RGB", (1024, 768), (214, 206, 190))
    scene.paste((90, 60, 40), (540, 120, 960, 640))  # a product
    logo = logos.render_logo(spec, logo_side)
    scene.paste(logo, (600, 300), logo)
    return scene, (600, 300, 600 + logo.width, 300 + logo.height)


def test_rendered_logo_is_found_in_a_scene_with_its_box(tmp_path, embedder):
    registry, specs = _registry_of_synthetic_brands(tmp_path, 5, seed=11)
    target = specs[3]
    scene, true_box = _scene_with_logo(target, 110)
    scene = scene.filter(ImageFilter.GaussianBlur(0.8))
    # The default thresholds are set for real photos (see config.py); localisation is what this
    # test is about, so it reads every brand's best box.
    stage = build_logo_stage(registry, LOW, embedder=embedder)
    hits = {h.brand: h for h in stage(np.asarray(scene))}
    assert target.name in hits, hits
    assert over_smaller(hits[target.name].box, true_box) > 0.5
    assert hits[target.name].reference.startswith("logos/")


def test_the_working_copy_has_the_working_side_whatever_the_photo_size():
    """Large photos are shrunk and small ones enlarged to the same long side: the trunk pools
    windows from stride-16 and -32 maps, where a mark of a 500 px photo at its own size spans one or
    two cells."""
    for shape, factor in (((375, 500, 3), WORK_SIDE / 500), ((960, 1280, 3), 0.5), ((480, 640, 3), 1.0)):
        photo = np.zeros(shape, np.uint8)
        work, scale = working_copy(photo)
        assert scale == pytest.approx(factor)
        assert max(work.shape[:2]) == WORK_SIDE
        assert work.shape[:2] == (int(shape[0] * factor), int(shape[1] * factor))
    same = np.zeros((480, 640, 3), np.uint8)
    assert working_copy(same)[0] is same  # nothing copied at the working side


def test_a_logo_on_a_small_photo_is_boxed_in_that_photos_own_pixels(tmp_path, embedder):
    """A 400 px photo is enlarged for the stage; its hit comes back in the 400 px photo's pixels."""
    registry, specs = _registry_of_synthetic_brands(tmp_path, 5, seed=11)
    target = specs[3]
    scene, box_at_1024 = _scene_with_logo(target, 150)
    small = scene.resize((400, 300), Image.LANCZOS)
    true_box = tuple(v * 400 / 1024 for v in box_at_1024)
    stage = build_logo_stage(registry, LOW, embedder=embedder)
    hits = {h.brand: h for h in stage(np.asarray(small))}
    assert target.name in hits, hits
    box = hits[target.name].box
    assert over_smaller(box, true_box) > 0.5, (box, true_box)
    assert max(box[2], box[3]) <= 400 + 1  # not the working copy's 640 px frame


def _sample_rows(kind: str):
    with open(SAMPLES / "labels.csv", newline="", encoding="utf-8") as handle:
        return [r for r in csv.DictReader(handle) if r["kind"] == kind]


@pytest.mark.skipif(not (SAMPLES / "labels.csv").exists(), reason="sample_images not generated")
def test_registered_sample_brand_is_found_in_logo_listings(embedder):
    """Most genuine-logo sample listings give a hit of the labelled brand over the true mark."""
    registry = BrandRegistry.load(SAMPLES / "brands")
    stage = build_logo_stage(registry, LOW, embedder=embedder)
    rows = _sample_rows("genuine-logo")
    assert rows
    found = 0
    for row in rows:
        image = np.asarray(Image.open(SAMPLES / row["path"]).convert("RGB"))
        marks = [m for m in json.loads(row["marks"]) if m["kind"] == "logo"]
        hits = {h.brand: h for h in stage(image)}
        hit = hits.get(row["brands"])
        if hit and any(over_smaller(hit.box, m["box"]) > 0.3 for m in marks):
            found += 1
    assert found >= 0.75 * len(rows), f"{found} of {len(rows)}"


def test_reference_cache_is_reused(tmp_path, embedder):
    registry, _ = _registry_of_synthetic_brands(tmp_path, 3, seed=5)
    config = EMBED.replace(logo__cache_dir=str(tmp_path / "cache"))
    first = build_logo_stage(registry, config, embedder=embedder)
    # 3 references' embeddings and SIFT keypoints (the background bank ships with the model)
    assert first.cache.hits == 0 and first.cache.misses >= 6
    # The SIFT inverted file is built and stored by a thread of its own: a stage built before it
    # is stored builds its own, reading the cached keypoints' descriptors again (more hits).
    assert first.verifier.index is not None
    second = build_logo_stage(registry, config, embedder=embedder)
    assert (second.cache.hits, second.cache.misses) == (first.cache.misses, 0)  # nothing computed again
    assert np.array_equal(first.references.vectors, second.references.vectors)
    assert np.array_equal(first.verifier.ref_descriptors, second.verifier.ref_descriptors)
    # An edited logo file is a new key: only its embedding and keypoints are computed again.
    path = registry.logo_files()[0][2]
    Image.open(path).rotate(90, expand=True).save(path)
    third = build_logo_stage(BrandRegistry.load(registry.root), config, embedder=embedder)
    assert (third.cache.hits, third.cache.misses) == (first.cache.misses - 2, 2)


def test_no_stage_without_logos_or_when_disabled(tmp_path, embedder):
    registry = BrandRegistry(tmp_path / "brands")
    registry.add("Textonly", aliases=["Text Only"])
    assert isinstance(build_logo_stage(registry, EMBED, embedder=embedder), NoLogoStage)
    (tmp_path / "b").mkdir()
    logo_registry, _ = _registry_of_synthetic_brands(tmp_path / "b", 1, seed=1)
    disabled = EMBED.replace(logo__enabled=False)
    assert isinstance(build_logo_stage(logo_registry, disabled, embedder=embedder), NoLogoStage)
    stage = build_logo_stage(logo_registry, EMBED, embedder=embedder)
    assert isinstance(stage, CnnLogoStage)
    assert stage.fingerprint.startswith("logo-embed:")


def test_tiny_and_odd_images_give_no_hits_and_no_errors(tmp_path, embedder):
    registry, _ = _registry_of_synthetic_brands(tmp_path, 2, seed=3)
    stage = build_logo_stage(registry, EMBED, embedder=embedder)
    assert stage(np.zeros((4, 4, 3), np.uint8)) == ()
    assert stage(np.full((40, 2000, 3), 255, np.uint8)) == ()  # a thin white strip


def test_odd_reference_logos_build_a_working_stage(tmp_path, embedder):
    """References the verifiers cannot use (a 5 px speck, a fully transparent file, a banner far
    wider than tall) are still registered; every matcher copes and a photo screens."""
    registry = BrandRegistry(tmp_path / "brands")
    odd = {"speck.png": Image.new("RGB", (5, 5), (200, 30, 30)),
           "clear.png": Image.new("RGBA", (64, 64), (0, 0, 0, 0)),
           "banner.png": Image.new("RGB", (3000, 40), (20, 20, 20))}
    for i, (name, image) in enumerate(odd.items()):
        image.save(tmp_path / name)
        registry.add(f"Odd{i}", logos=[tmp_path / name])
    registry.save()
    stage = build_logo_stage(BrandRegistry.load(registry.root), EMBED, embedder=embedder)
    assert stage.verifier is not None and stage.aligner is not None
    rng = np.random.default_rng(0)
    photo = np.asarray(Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)).filter(ImageFilter.GaussianBlur(2)))
    hits = stage(photo)
    assert all(h.score <= 1.0 + 1e-6 and h.inliers >= 0 for h in hits)


def test_a_torn_or_foreign_cache_entry_is_recomputed(tmp_path, embedder):
    """A cache file cut short by a crash, or holding an array of the wrong shape, is not trusted:
    the stage recomputes it and matches exactly as with a fresh cache."""
    registry, _ = _registry_of_synthetic_brands(tmp_path, 2, seed=7)
    config = EMBED.replace(logo__cache_dir=str(tmp_path / "cache"))
    fresh = build_logo_stage(registry, config, embedder=embedder)
    entries = sorted((tmp_path / "cache").glob("*.npy"))
    assert entries
    entries[0].write_bytes(entries[0].read_bytes()[:40])  # torn
    for other in entries[1:]:
        np.save(other, np.zeros((3, 7), np.float32))  # readable, but not what the key promises
    again = build_logo_stage(registry, config, embedder=embedder)
    assert np.array_equal(fresh.verifier.ref_descriptors, again.verifier.ref_descriptors)
    assert np.allclose(fresh.references.vectors, again.references.vectors, atol=1e-5)


@pytest.mark.skipif(not (SAMPLES / "labels.csv").exists(), reason="sample_images not generated")
def test_a_warm_start_decodes_no_reference_and_screens_as_a_cold_one(tmp_path, embedder, monkeypatch):
    """With every cached product of a reference present (embeddings, SIFT keypoints and their
    inverted file), a warm start decodes no logo file: the aligner and the SIFT appearance check
    decode a reference only when a photo needs it. The warm stage finds exactly what the cold one
    found. An edited file is a new key: only it is decoded again, and the stage then screens as
    one built from an empty cache."""
    import hashlib

    import screener.logo.matcher as matcher_module

    shutil.copytree(SAMPLES / "brands", tmp_path / "brands")
    registry = BrandRegistry.load(tmp_path / "brands")
    config = EMBED.replace(logo__cache_dir=str(tmp_path / "cache"))
    decoded: list[str] = []  # sha256 of every logo file decoded
    real_read_logo = matcher_module.read_logo

    def counting_read_logo(data: bytes):
        decoded.append(hashlib.sha256(data).hexdigest())
        return real_read_logo(data)

    monkeypatch.setattr(matcher_module, "read_logo", counting_read_logo)
    photos = [np.asarray(Image.open(SAMPLES / name).convert("RGB")) for name in (
        "listings/036-genuine-logo.jpg", "listings/045-genuine-emblem.jpg", "listings/096-mixed-marks.jpg",
        "listings/000-clean.jpg")]

    def screened(stage) -> list:
        return [[(h.brand, h.box, round(h.score, 5), h.reference, h.inliers, h.agreement, h.alignment)
                 for h in stage(photo)] for photo in photos]

    cold = build_logo_stage(registry, config, embedder=embedder)
    files = len(registry.logo_files())
    assert len(set(decoded)) == files
    expected = screened(cold)
    assert any(any(h[4] for h in hits) for hits in expected)  # SIFT verified a mark
    assert any(any(h[6] for h in hits) for hits in expected)  # and a mark was aligned
    decoded.clear()
    warm = build_logo_stage(registry, config, embedder=embedder)
    assert decoded == [] and warm.cache.misses == 0
    assert screened(warm) == expected
    assert 0 < len(set(decoded)) <= files  # decoded on demand, once each
    assert len(decoded) <= 2 * len(set(decoded))  # (SIFT and the aligner each keep their own)

    path = registry.logo_files()[0][2]
    Image.open(path).rotate(90, expand=True).save(path)
    edited_sha = hashlib.sha256(path.read_bytes()).hexdigest()
    decoded.clear()
    edited = build_logo_stage(BrandRegistry.load(registry.root), config, embedder=embedder)
    assert set(decoded) == {edited_sha}  # its embeddings and keypoints, nothing else
    assert edited.verifier.index is not None  # (built in a thread of its own: wait for it)
    assert len(list((tmp_path / "cache").glob("*.faiss"))) == 2  # a new inverted file for the new keys
    fresh = build_logo_stage(BrandRegistry.load(registry.root), config.replace(logo__cache_dir=str(tmp_path / "fresh")),
                             embedder=embedder)
    assert screened(edited) == screened(fresh)


def test_a_users_operating_point_reaches_the_stage_beside_the_fitted_decisions_floor(tmp_path):
    # The fitted decision lowers the stage's report floor to its own; a user's (or a fitting
    # command's) overrides of other thresholds must reach the stage with it, not be dropped.
    from screener.pipeline import Screener

    registry, _ = _registry_of_synthetic_brands(tmp_path, 1, seed=1)
    screener = Screener(registry, EMBED.replace(logo__operating_point={"min_inliers": 7, "align_near": 0.8}))
    point = screener.logo.point
    assert (point.min_inliers, point.align_near) == (7, 0.8)
    assert point.near_threshold == screener.policy.decision.report_floor < EMBED.logo.point.near_threshold


@pytest.mark.skipif(not (SAMPLES / "labels.csv").exists(), reason="sample_images not generated")
def test_cache_prune_removes_what_the_registry_no_longer_uses_and_keeps_a_warm_start(tmp_path, embedder, capsys):
    """`screener cache prune`: after a logo file is edited, its old embeddings and keypoints, the
    stack and inverted file of the old keys, entries of earlier versions and crashed writers'
    old temporary files are removed; the entries in use (also the per-reference keypoints a warm
    start does not read), a writer's fresh temporary file and files the cache did not write stay,
    and the next stage starts warm from what is left."""
    import os
    import time

    from screener.cli import main

    shutil.copytree(SAMPLES / "brands", tmp_path / "brands")
    cache = tmp_path / "cache"
    config = EMBED.replace(logo__cache_dir=str(cache))
    first = build_logo_stage(BrandRegistry.load(tmp_path / "brands"), config, embedder=embedder)
    assert first.verifier.index is not None  # stored by a thread of its own: wait for it
    before = {p.name for p in cache.iterdir()}
    path = BrandRegistry.load(tmp_path / "brands").logo_files()[0][2]
    Image.open(path).rotate(90, expand=True).save(path)  # its old entries are now unused
    (cache / "0123456789abcdef0123456789abcdef.flann").write_bytes(b"an earlier version's index")
    old_tmp = cache / ".fedcba9876543210fedcba9876543210.npy.4242.tmp"
    fresh_tmp = cache / ".fedcba9876543210fedcba9876543211.npy.4243.tmp"
    for tmp in (old_tmp, fresh_tmp):
        tmp.write_bytes(b"half a file")
    os.utime(old_tmp, (time.time() - 7200, time.time() - 7200))
    (cache / "README.txt").write_text("a note of the user's")
    args = ["cache", "prune", "--registry", str(tmp_path / "brands"), "--set", f"logo.cache_dir={cache}",
            "--set", "logo.model=logo-embed"]

    assert main([*args, "--dry-run"]) == 0
    assert before <= {p.name for p in cache.iterdir()}  # a dry run removes nothing
    assert main(args) == 0
    left = {p.name for p in cache.iterdir()}
    assert {"README.txt", fresh_tmp.name} <= left
    assert not {"0123456789abcdef0123456789abcdef.flann", old_tmp.name} & left
    stale = before - left
    assert {name.split(".", 1)[1] for name in stale} >= {"npy", "faiss", "points.npy", "owner.npy"}
    warm = build_logo_stage(BrandRegistry.load(tmp_path / "brands"), config, embedder=embedder)
    assert warm.cache.misses == 0 and warm.cache.hits > 0
    assert "removed" in capsys.readouterr().err
    assert main([*args, "--no-logo"]) == 2  # nothing would be kept: refused
