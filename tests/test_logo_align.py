"""Direct alignment (ECC) of reference logos onto regions of the sample listings: flat emblems
that SIFT cannot verify align with every part agreeing, imitations align with a part that does
not, and other brands' references do not align as genuine. Real OpenCV, no model: the regions
are the labelled boxes, so this pins the aligner, not the network that proposes regions."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest
from PIL import Image

from helpers import SAMPLES
from screener.brands import BrandRegistry
from screener.config import Config
from screener.logo.align import ReferenceAligner
from screener.logo.matcher import read_logo

pytestmark = pytest.mark.skipif(not (SAMPLES / "labels.csv").exists(), reason="sample_images not generated")
LOGO = Config().logo.point
# The imitation band's lower edge as measured here; the shipped default keeps the band closed
# because the network's windows do not land on imitations in the full pipeline (config.py).
NEAR_BAND = 0.85


@pytest.fixture(scope="module")
def registry_files():
    return list(BrandRegistry.load(SAMPLES / "brands").logo_files())


@pytest.fixture(scope="module")
def aligner(registry_files) -> ReferenceAligner:
    return ReferenceAligner([read_logo(path.read_bytes()) for _, _, path in registry_files])


def _rows(kind: str) -> list[dict]:
    with open(SAMPLES / "labels.csv", newline="", encoding="utf-8") as handle:
        return [r for r in csv.DictReader(handle) if r["kind"] == kind]


def _best_per_brand(aligner, registry_files, row):
    grey = cv2.cvtColor(np.asarray(Image.open(SAMPLES / row["path"]).convert("RGB")), cv2.COLOR_RGB2GRAY)
    box = next(m["box"] for m in json.loads(row["marks"]) if m["kind"] == "logo")
    best = {}
    for i, (brand, _, _) in enumerate(registry_files):
        result = aligner.align(grey, box, i)
        if result and (brand not in best or result.correlation > best[brand].correlation):
            best[brand] = result
    return best, box


def _genuine(result) -> bool:
    return LOGO.aligned_genuine(result.correlation, result.worst_cell)


def test_flat_emblems_align_as_genuine_in_their_place(aligner, registry_files):
    rows = _rows("genuine-emblem")
    genuine = 0
    for row in rows:
        best, (x1, y1, x2, y2) = _best_per_brand(aligner, registry_files, row)
        own = best.get(row["brands"])
        if own and _genuine(own):
            genuine += 1
            bx1, by1, bx2, by2 = own.box
            assert abs(bx1 - x1) + abs(by1 - y1) + abs(bx2 - x2) + abs(by2 - y2) < 0.4 * (x2 - x1 + y2 - y1)
        others = [b for b, r in best.items() if b != row["brands"] and _genuine(r)]
        assert not others, f"{row['path']}: other brands align as genuine: {others}"
    assert genuine >= 6, f"{genuine} of {len(rows)} genuine emblems aligned"  # measured 7 of 8


def test_imitation_emblems_align_with_a_part_that_disagrees(aligner, registry_files):
    caught = 0
    for row in _rows("imitation-emblem"):
        best, _ = _best_per_brand(aligner, registry_files, row)
        own = best.get(row["brands"])
        assert own is None or not _genuine(own), row["path"]
        caught += bool(own and own.correlation >= NEAR_BAND)
    assert caught >= 3  # measured 3 of 5 (an outline-for-fill redraw does not align at all)


def test_nothing_aligns_on_a_flat_or_noisy_region(aligner):
    flat = np.full((300, 300), 200, np.uint8)
    assert aligner.align(flat, (100, 100, 200, 200), 0) is None
    noise = cv2.GaussianBlur(np.random.default_rng(1).integers(0, 255, (300, 300), dtype=np.uint8), (0, 0), 2)
    result = aligner.align(noise, (100, 100, 200, 200), 1)
    assert result is None or result.correlation < NEAR_BAND


def test_photo_crops_are_not_aligned_logo_files_are(registry_files):
    """A reference cut from a photo carries its background: comparing it part by part says
    little about the mark, so only clean logo files are aligned."""
    rng = np.random.default_rng(2)
    photo_crop = cv2.GaussianBlur(rng.integers(0, 255, (80, 120, 3), dtype=np.uint8), (0, 0), 1)
    on_white = np.full((80, 120, 3), 255, np.uint8)
    cv2.circle(on_white, (60, 40), 25, (10, 60, 160), -1)
    aligner = ReferenceAligner([(photo_crop, None), (on_white, None)])
    assert aligner.usable == [False, True]
    scene = np.full((300, 300), 230, np.uint8)
    scene[100:180, 100:220] = cv2.cvtColor(on_white, cv2.COLOR_RGB2GRAY)
    assert aligner.align(scene, (100, 100, 220, 180), 0) is None
    found = aligner.align(scene, (95, 95, 225, 185), 1)
    assert found is not None and found.correlation > 0.9


# Windows where, before the sliver checks, a FlickrLogos Nike crop (a white script swoosh on dark
# blue, a plain border, so "clean") aligned as genuine by shrinking to a few pixels: photos of
# other brands (HP, Pepsi) whose windows the network scored Nike on. Real third-party photos,
# read from ../shared/data when present.
NIKE_CROP = ("1597577216.jpg", (16, 23, 101, 72))
SLIVER_WINDOWS = [("1263617360.jpg", (30.8, 26.6, 40.0, 48.9)), ("2317967173.jpg", (17.8, 1.9, 32.7, 13.0)),
                  ("2727066466.jpg", (83.9, 107.4, 102.7, 141.7)), ("3177582448.jpg", (226.2, 165.1, 241.2, 192.5))]


def test_a_simple_reference_does_not_align_as_a_speck_on_real_photos(shared_data):
    images = shared_data / "flickrlogos27-dev" / "images"
    if not images.exists():
        pytest.skip("FlickrLogos-27 dev is not present")
    name, (x1, y1, x2, y2) = NIKE_CROP
    crop = cv2.cvtColor(cv2.imread(str(images / name)), cv2.COLOR_BGR2RGB)[y1:y2, x1:x2]
    aligner = ReferenceAligner([(crop, None)])
    assert aligner.usable == [True]
    for photo, window in SLIVER_WINDOWS:
        grey = cv2.cvtColor(cv2.imread(str(images / photo)), cv2.COLOR_BGR2GRAY)
        result = aligner.align(grey, window, 0)
        assert result is None or not _genuine(result), (photo, result)
        if result is not None:
            bx1, by1, bx2, by2 = result.box
            assert min(bx2 - bx1, by2 - by1) >= 16


def test_references_are_prepared_when_first_aligned_and_align_as_decoded_ones(aligner, registry_files):
    """The stage hands the aligner the logo files, not their pixels: a reference is decoded and
    prepared the first time a window proposes it (a warm start prepares none), and then aligns
    exactly as one given decoded."""
    from screener.logo.pixels import LogoFile

    lazy = ReferenceAligner([LogoFile(path.read_bytes(), brand, rel) for brand, rel, path in registry_files])
    assert lazy._prepared == {}
    row = _rows("genuine-emblem")[1]
    grey = cv2.cvtColor(np.asarray(Image.open(SAMPLES / row["path"]).convert("RGB")), cv2.COLOR_RGB2GRAY)
    box = next(m["box"] for m in json.loads(row["marks"]) if m["kind"] == "logo")
    first = next(i for i, (brand, _, _) in enumerate(registry_files) if brand == row["brands"])
    assert lazy.align(grey, box, first) == aligner.align(grey, box, first)
    assert set(lazy._prepared) == {first}
    assert lazy.usable == aligner.usable
    for i in range(len(registry_files)):
        assert lazy.align(grey, box, i) == aligner.align(grey, box, i)
