"""The Screener end to end with the real OCR engine on rendered listing photos."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from screener import Config, InputError, Screener
from screener.brands import BrandRegistry

from helpers import render_listing

# The logo stage has its own tests; here the registry has no logos, so it is not built.


@pytest.fixture(scope="module")
def screener(tmp_path_factory) -> Screener:
    registry = BrandRegistry(tmp_path_factory.mktemp("reg") / "brands")
    registry.add("Veltora", aliases=["Veltora Paris"])
    registry.add("Novalux")
    registry.save()
    return Screener.from_registry(registry.root, Config())


@pytest.mark.parametrize("lines, verdict, kinds", [
    (["Soft leather tote", "Free shipping"], "clear", set()),
    (["VELTORA", "Leather tote"], "review", {"brand_mark"}),
    (["V3LTORA", "Leather tote"], "suspect", {"altered_brand_name"}),
    # both OCR engines read this zero as an O; the glyph check sees the narrower zero
    (["VELT0RA", "Leather tote"], "suspect", {"altered_brand_name"}),
    (["N0VALUX"], "suspect", {"altered_brand_name"}),
    (["Novalux bag", "1:1 replica"], "suspect", {"brand_mark", "counterfeit_cue"}),
    (["高仿 包包", "Leather tote"], "suspect", {"counterfeit_cue"}),
    (["AAA grade", "Leather tote"], "suspect", {"counterfeit_cue"}),
    (["AAA batteries", "Pack of 4"], "clear", set()),  # a battery size, not a grade
])
def test_verdict_on_rendered_listing(screener, lines, verdict, kinds):
    result = screener.screen(render_listing(lines))
    assert result.verdict == verdict, [t.text for t in result.texts]
    assert {f.kind for f in result.flags} == kinds
    for flag in result.flags:
        assert flag.reason and flag.box is not None


def test_flag_box_is_where_the_text_was_drawn(screener):
    result = screener.screen(render_listing(["Genuine", "VE1TORA"]))
    [flag] = result.flags_of("altered_brand_name")
    x1, y1, x2, y2 = flag.box
    assert 40 <= x1 < 200 and 150 <= y1 < 260 and y2 < 300  # the second line starts at (60, 180)


def test_every_input_kind_gives_the_same_answer(screener, tmp_path):
    image = render_listing(["V3LTORA"])
    path = tmp_path / "p.png"
    image.save(path)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    results = [screener.screen(x) for x in (path, str(path), buffer.getvalue(), np.asarray(image), image)]
    assert {r.verdict for r in results} == {"suspect"}
    assert results[0].sha256 == results[2].sha256 != ""


def test_large_photo_boxes_map_back_to_the_original(screener):
    big = render_listing(["V3LTORA"]).resize((3072, 2304))
    result = screener.screen(big)
    assert result.size == (3072, 2304)
    [flag] = result.flags_of("altered_brand_name")
    assert flag.box[0] > 120 and flag.box[3] > 240  # 3x the small photo's coordinates
    assert any("downscaled" in n for n in result.notes)


def test_unreadable_input(screener, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(InputError, match="not an image"):
        screener.screen(bad)
    row = screener.screen_file(bad)
    assert (row.status, row.verdict) == ("error", "error") and "not an image" in row.error


def test_scan_walks_folders(screener, tmp_path):
    render_listing(["VELTORA"], tmp_path / "a.jpg")
    (tmp_path / "sub").mkdir()
    render_listing(["plain tote"], tmp_path / "sub" / "b.jpg")
    (tmp_path / "notes.txt").write_text("not a photo")
    results = {r.path.split("/")[-1]: r.verdict for r in screener.scan([tmp_path])}
    assert results == {"a.jpg": "review", "b.jpg": "clear"}


def test_fingerprint_changes_with_registry_and_config(tmp_path, screener):
    registry = BrandRegistry.load(screener.registry.root)
    other = Screener(registry, Config().replace(policy__suspect_risk=0.5), ocr=screener.ocr)
    assert other.fingerprint != screener.fingerprint
