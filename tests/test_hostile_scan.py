"""One folder with every hostile and odd input, scanned through `screener scan` (main([...])).

Done when: every good file is screened, every bad file gets exactly one clear error row, the
scan exits 0, the HTML report carries no unescaped names and CSV cells cannot run as formulas.
Also here: model weights whose sha256 differs from the manifest are refused, and weights are
never unpickled.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from screener.cli import main
from test_io import (animated, bomb_png, encode, marker_image, palette_png, rgba_png,
                     sixteen_bit_png, with_orientation)

XSS = "<img src=x onerror=alert(1)>"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def listing(text: str) -> bytes:
    """A small listing photo with one line of text (real OCR reads it)."""
    image = Image.new("RGB", (640, 200), (236, 233, 226))
    ImageDraw.Draw(image).text((30, 50), text, fill=(15, 15, 20), font=ImageFont.truetype(BOLD, 72))
    return encode(image, "JPEG", quality=92)


def build_folder(root: Path) -> tuple[dict[str, str], list[str]]:
    """Write the hostile folder. Returns ({bad name: words its error must contain}, good names).

    Names are relative to ``root`` (the scan runs there, so CSV path cells start with the name).
    """
    root.mkdir()
    good: dict[str, bytes] = {
        "replica-listing.jpg": listing("REPLICA 1:1"),
        "cmyk.jpg": encode(marker_image().convert("CMYK"), "JPEG"),
        "grey.jpg": encode(marker_image().convert("L"), "JPEG"),
        "sixteen-bit.png": sixteen_bit_png(),
        "palette.png": palette_png(False),
        "palette-transparent.png": palette_png(True),
        "alpha.png": rgba_png(),
        "animated.gif": animated("GIF"),
        "animated.webp": animated("WEBP"),
        "one-pixel.png": encode(Image.new("RGB", (1, 1), (255, 0, 0)), "PNG"),
        "wide.png": encode(Image.new("RGB", (12000, 4), (0, 0, 255)), "PNG"),
        "tall.jpg": encode(Image.new("RGB", (3, 9000), (0, 255, 0)), "JPEG"),
        f"{XSS}.png": encode(marker_image(), "PNG"),
        "=1+2.png": encode(marker_image(), "PNG"),  # a formula if a spreadsheet evaluated it
        "@SUM(A1).webp": encode(marker_image(), "WEBP"),
        "UPPER.JPG": encode(marker_image(), "JPEG"),
        "sub/deeper/nested.bmp": encode(marker_image(), "BMP"),
    }
    for orientation in range(1, 9):
        good[f"exif-{orientation}.jpg"] = with_orientation(marker_image(), orientation)
    for name, data in good.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    jpeg = good["replica-listing.jpg"]

    bad: dict[str, str] = {
        "empty.jpg": "empty (0 bytes)",
        "truncated.jpg": "corrupt or truncated",
        "random.jpg": "not an image the screener reads",
        "notes.jpg": "looks like text",
        "folder.jpg": "is a folder",
        "broken-link.jpg": "broken symbolic link",
        "self-loop.jpg": "symbolic link loop",
        "pipe.jpg": "not a regular file",
        "document.png": "PDF",
        "portable.jpg": "PNM/PPM",
        "bomb.png": "refused before decoding",
        f"{XSS}.jpg": "looks like markup",
        "vanished.jpg": "does not exist",
    }
    (root / "empty.jpg").write_bytes(b"")
    (root / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (root / "random.jpg").write_bytes(np.random.default_rng(1).bytes(3000))
    (root / "notes.jpg").write_text("not a photo\n" * 30)
    (root / "folder.jpg").mkdir()
    (root / "folder.jpg" / "inside.txt").write_text("x")
    (root / "broken-link.jpg").symlink_to(root / "gone.jpg")
    (root / "self-loop.jpg").symlink_to(root / "self-loop.jpg")
    os.mkfifo(root / "pipe.jpg")  # reading it would block a worker forever
    (root / "document.png").write_bytes(b"%PDF-1.7\n" + b"0" * 200)
    (root / "portable.jpg").write_bytes(encode(marker_image(), "PPM"))
    (root / "bomb.png").write_bytes(bomb_png(30000, 30000))
    (root / f"{XSS}.jpg").write_text("<html><script>alert(1)</script></html>")
    # A folder link back up the tree: the walk must not loop or list photos twice.
    (root / "sub" / "deeper" / "up").symlink_to(root, target_is_directory=True)
    # Names that are not UTF-8: one good photo, one bad file.
    raw_root = os.fsencode(root)
    with open(raw_root + b"/caf\xe9-good.png", "wb") as handle:
        handle.write(encode(marker_image(), "PNG"))
    with open(raw_root + b"/caf\xe9-\xff-bad.jpg", "wb") as handle:
        handle.write(b"\x00\x01garbage")
    good_names = list(good) + ["caf\\xe9-good.png"]
    bad["caf\\xe9-\\xff-bad.jpg"] = "unrecognised bytes"
    return bad, good_names


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("hostile")
    folder = base / "photos"
    bad, good = build_folder(folder)
    registry = base / "reg"
    # A registry with a reference logo, so the CNN logo stage runs on every odd image too.
    logo = Image.new("RGB", (240, 90), (255, 255, 255))
    ImageDraw.Draw(logo).text((12, 14), "VELTORA", fill=(20, 20, 20), font=ImageFont.truetype(BOLD, 48))
    logo.save(base / "veltora.png")
    assert main(["brands", "add", "Veltora", "--registry", str(registry), "--logo",
                 str(base / "veltora.png")]) == 0
    out, table, report = base / "out" / "r.jsonl", base / "out" / "r.csv", base / "out" / "r.html"
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        # "vanished.jpg" is named but absent: a file deleted between listing and reading.
        code = main(["scan", ".", "vanished.jpg", "--registry", str(registry), "--out", str(out),
                     "--csv", str(table), "--report", str(report), "--workers", "2", "--quiet"])
    finally:
        os.chdir(cwd)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return {"code": code, "rows": rows, "bad": bad, "good": good, "csv": table, "html": report}


def _by_name(rows: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for row in rows:
        found.setdefault(os.path.normpath(row["path"]), []).append(row)
    return found


def test_scan_exits_zero(scanned: dict) -> None:
    assert scanned["code"] == 0


def test_every_file_has_exactly_one_row(scanned: dict) -> None:
    found = _by_name(scanned["rows"])
    expected = set(scanned["good"]) | set(scanned["bad"])
    assert set(found) == expected, (set(found) ^ expected)
    assert all(len(rows) == 1 for rows in found.values())


def test_good_files_are_screened(scanned: dict) -> None:
    found = _by_name(scanned["rows"])
    for name in scanned["good"]:
        (row,) = found[name]
        assert row["status"] == "ok", (name, row["error"])
        assert row["verdict"] in ("clear", "review", "suspect") and row["size"]
    (listing_row,) = found["replica-listing.jpg"]
    assert listing_row["verdict"] == "suspect"
    assert "counterfeit_cue" in {f["kind"] for f in listing_row["flags"]}
    assert any("first frame" in n for n in found["animated.gif"][0]["notes"])
    assert any("first frame" in n for n in found["animated.webp"][0]["notes"])
    assert any("composited on white" in n for n in found["alpha.png"][0]["notes"])
    for orientation in range(1, 9):  # the upright size whatever the stored orientation
        assert found[f"exif-{orientation}.jpg"][0]["size"] == [64, 32]


def test_bad_files_get_one_clear_error(scanned: dict) -> None:
    found = _by_name(scanned["rows"])
    for name, words in scanned["bad"].items():
        (row,) = found[name]
        assert row["status"] == "error" and row["verdict"] == "error", name
        assert words in row["error"], (name, row["error"])
        assert "Traceback" not in row["error"] and "\n" not in row["error"]


def test_html_report_escapes_names(scanned: dict) -> None:
    text = Path(scanned["html"]).read_text(encoding="utf-8")
    assert XSS not in text and "<script>alert" not in text
    assert html.escape(XSS, quote=False).split(" ")[0] in text  # the name is shown, escaped
    assert "caf\\xe9-good.png" in text


def test_csv_cells_are_neutralised(scanned: dict) -> None:
    with open(scanned["csv"], newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(scanned["rows"])
    for row in rows:
        for value in row.values():
            assert not (value or "").startswith(("=", "+", "-", "@", "\t", "\r")), value
    paths = {row["path"] for row in rows}
    assert "'=1+2.png" in paths and "'@SUM(A1).webp" in paths


def test_fail_on_error_turns_errors_into_exit_1(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "ok.png").write_bytes(encode(marker_image(), "PNG"))
    registry = tmp_path / "reg"
    assert main(["brands", "add", "Veltora", "--registry", str(registry)]) == 0
    argv = ["scan", str(tmp_path / "empty.jpg"), str(tmp_path / "ok.png"), "--registry",
            str(registry), "--out", str(tmp_path / "r.jsonl"), "--ocr", "none", "--quiet",
            "--workers", "1"]
    assert main(argv) == 0
    assert main(argv + ["--fail-on", "error"]) == 1


# --- model weights --------------------------------------------------------------------------------
def _manifest(folder: Path, file: str, sha256: str) -> None:
    from screener.logo.weights import update_manifest

    update_manifest(folder / "manifest.toml", {
        "name": "logo-embed", "file": file, "sha256": sha256, "arch": "mobilenet_v3_small",
        "dim": 128, "input_size": 128, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]})


def test_weights_with_the_wrong_sha256_are_refused(tmp_path: Path) -> None:
    # The torch weights are the training's to read (screening runs the ONNX export, whose
    # damaged files are the next tests').
    from screener.errors import ModelError
    from screener.logo.weights import sha256_file
    from screener.train.network import load_torch_embedder

    weights = tmp_path / "logo.pt"
    weights.write_bytes(b"weights that were swapped or damaged")
    _manifest(tmp_path, "logo.pt", "0" * 64)
    with pytest.raises(ModelError, match="does not match its manifest"):
        load_torch_embedder("logo-embed", tmp_path)
    # The right hash for a file that is not a state dict: a clear ModelError, not a crash.
    _manifest(tmp_path, "logo.pt", sha256_file(weights))
    with pytest.raises(ModelError, match="cannot be loaded"):
        load_torch_embedder("logo-embed", tmp_path)


def test_a_damaged_onnx_export_with_a_matching_hash_is_a_clear_error(tmp_path: Path) -> None:
    """A graph onnxruntime cannot parse (the hash was updated along with it): a ModelError that
    names the file, not onnxruntime's own exception."""
    from screener.errors import ModelError
    from screener.logo.weights import load_embedder, manifest_entry, sha256_file, update_manifest

    export = tmp_path / "logo.onnx"
    export.write_bytes(b"\x08\x07not a protobuf graph" * 20)
    _manifest(tmp_path, "logo.pt", "0" * 64)
    entry = {**manifest_entry("logo-embed", tmp_path), "onnx_file": "logo.onnx", "onnx_sha256": sha256_file(export)}
    update_manifest(tmp_path / "manifest.toml", entry)
    with pytest.raises(ModelError, match="logo.onnx cannot be loaded"):
        load_embedder("logo-embed", tmp_path)


@pytest.mark.parametrize("written", ["../logo.onnx", "/etc/hostname", "sub/logo.onnx"])
def test_a_manifest_cannot_point_outside_the_models_folder(tmp_path: Path, written: str) -> None:
    from screener.errors import ModelError
    from screener.logo.weights import load_embedder, manifest_entry, update_manifest

    models = tmp_path / "models"
    models.mkdir()
    _manifest(models, "logo.pt", "0" * 64)
    update_manifest(models / "manifest.toml", {**manifest_entry("logo-embed", models), "onnx_file": written,
                                               "onnx_sha256": "0" * 64})
    with pytest.raises(ModelError, match="must be a file name"):
        load_embedder("logo-embed", models)


class _Payload:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (self.marker,))


def test_weights_are_never_unpickled(tmp_path: Path) -> None:
    import torch

    from screener.errors import ModelError
    from screener.logo.weights import sha256_file
    from screener.train.network import load_torch_embedder

    marker = tmp_path / "code-ran"
    weights = tmp_path / "evil.pt"
    torch.save({"state": _Payload(marker)}, weights)
    _manifest(tmp_path, "evil.pt", sha256_file(weights))  # even with a matching hash
    with pytest.raises(ModelError, match="cannot be loaded"):
        load_torch_embedder("logo-embed", tmp_path)
    assert not marker.exists()
