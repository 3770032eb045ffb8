"""The committed sample set: made by its script, labelled by DESIGN.md's rules, covering every case."""

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from screener.brands import BrandRegistry
from screener.train.synth.samples import BRANDS, CASES, LABEL_FIELDS, make_photo, plan

ROOT = Path(__file__).resolve().parents[1] / "sample_images"
SUSPECT_KINDS = {"altered_brand_name", "imitation_logo", "counterfeit_cue", "mixed_marks"}


@pytest.fixture(scope="module")
def rows():
    with open(ROOT / "labels.csv", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == LABEL_FIELDS
        return list(reader)


def test_labels_reference_existing_photos(rows):
    assert len(rows) >= 80
    paths = [r["path"] for r in rows]
    assert len(set(paths)) == len(paths)
    on_disk = {p.relative_to(ROOT).as_posix() for p in (ROOT / "listings").glob("*.jpg")}
    assert set(paths) == on_disk
    total = sum((ROOT / p).stat().st_size for p in paths)
    assert total < 15e6


def test_photos_are_listing_sized_jpegs(rows):
    for row in rows[::7]:
        with Image.open(ROOT / row["path"]) as image:
            assert image.format == "JPEG" and max(image.size) == 1024
            for mark in json.loads(row["marks"]):
                x1, y1, x2, y2 = mark["box"]
                assert 0 <= x1 < x2 <= image.width and 0 <= y1 < y2 <= image.height


def test_verdicts_follow_the_flags(rows):
    for row in rows:
        flags = set(filter(None, row["flags"].split(";")))
        brands = set(filter(None, row["brands"].split(";")))
        if flags & SUSPECT_KINDS:
            assert row["verdict"] == "suspect", row
        elif flags:
            assert flags == {"brand_mark"} and brands and row["verdict"] == "review", row
        else:
            assert row["verdict"] == "clear" and not brands, row


def test_every_case_is_covered(rows):
    kinds = {r["kind"] for r in rows}
    assert kinds == {case for case, _, _ in CASES}
    for needed in ("clean", "hard-negative", "genuine-text", "genuine-logo", "genuine-emblem",
                   "altered-leet", "altered-rn", "altered-swap", "altered-split", "altered-cyrillic",
                   "cue-en", "cue-zh", "imitation-emblem", "imitation-logo", "mixed-marks"):
        assert needed in kinds
    evidence = {r["evidence"] for r in rows}
    assert {"text", "logo", "text;logo", ""} <= evidence   # text-only, logo-only, both, none
    flags = {f for r in rows for f in r["flags"].split(";") if f}
    assert flags == {"brand_mark"} | SUSPECT_KINDS
    verdicts = [r["verdict"] for r in rows]
    assert min(verdicts.count(v) for v in ("clear", "review", "suspect")) >= 15
    texts = " ".join(m["content"] for r in rows for m in json.loads(r["marks"]))
    for cue in ("高仿", "复刻", "原单", "A货", "1:1", "AAA", "REPLICA"):
        assert cue in texts


def test_registry_loads_with_a_wordmark_and_an_emblem_per_brand():
    registry = BrandRegistry.load(ROOT / "brands")
    assert 6 <= len(registry) <= 10
    assert {b.name for b in registry} == {b.name for b in BRANDS}
    for brand in registry:
        assert len(brand.logos) == 2
    for _, _, path in registry.logo_files():
        with Image.open(path) as image:
            assert image.mode == "RGBA" and image.height == 256


@pytest.mark.parametrize("case", ["genuine-logo", "altered-split", "cue-zh"])
def test_generator_reproduces_the_committed_photos(rows, case):
    index, _, k = next(entry for entry in plan() if entry[1] == case)
    scene, row = make_photo(index, case, k)
    again, _ = make_photo(index, case, k)
    assert scene.jpeg == again.jpeg                     # deterministic in one environment
    committed = next(r for r in rows if r["path"] == row["path"])
    assert row == committed
    # Pixels, not bytes, against the committed file: another FreeType build may shift edges.
    made = np.asarray(Image.open(io.BytesIO(scene.jpeg)).convert("RGB"), dtype=np.int16)
    stored = np.asarray(Image.open(ROOT / row["path"]).convert("RGB"), dtype=np.int16)
    assert made.shape == stored.shape
    assert np.abs(made - stored).mean() < 2.0


def test_marks_do_not_hide_each_other(rows):
    # A tag or caption laid over a print would make the label promise text nobody can read.
    for row in rows:
        boxes = [m["box"] for m in json.loads(row["marks"])]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                w = min(a[2], b[2]) - max(a[0], b[0])
                h = min(a[3], b[3]) - max(a[1], b[1])
                smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
                assert max(0, w) * max(0, h) < 0.2 * smaller, row["path"]
