"""The HTML review report, opened in headless Chromium: rows, filters, escaping, no network.

One real scan (rapidocr; a registry of names without logos, so no logo model is needed for these
verdicts) of four rendered listings, one of them named like an XSS payload.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from screener.brands import BrandRegistry
from screener.cli import main

from helpers import render_listing

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HOSTILE = "<img src=x onerror=alert(1)>.jpg"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report")
    photos = root / "photos"
    photos.mkdir()
    render_listing(["V3LTORA bag"], photos / HOSTILE, size=(720, 320), seed=1)
    render_listing(["VELTORA", "Leather tote"], photos / "mark.jpg", size=(720, 320), seed=2)
    render_listing(["Novalux belt"], photos / "novalux.jpg", size=(720, 320), seed=3)
    render_listing(["Soft leather tote"], photos / "clear.jpg", size=(720, 320), seed=4)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff not a photo")
    registry = BrandRegistry(root / "brands")
    registry.add("Veltora")
    registry.add("Novalux")
    registry.save()
    out = root / "report.html"
    assert main(["scan", str(photos), "--registry", str(registry.root), "--out",
                 str(root / "r.jsonl"), "--report", str(out), "--workers", "2", "--quiet"]) == 0
    return out


def _scan_rows(report: Path) -> list[dict]:
    """The scan's JSONL rows: what the report must show (verdicts come from real OCR)."""
    lines = report.with_name("r.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_report_is_self_contained_and_escapes_strangers_strings(report):
    text = report.read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;.jpg" in text
    assert "<img src=x" not in text and "onerror=alert(1)>" not in text
    assert not re.search(r"(src|href)=\"(https?:)?//", text), "nothing may load from the network"
    assert "default-src 'none'" in text  # CSP: even an injected handler could not run
    assert text.count("data:image/jpeg;base64,") == 4  # every readable photo has a thumbnail
    # Sorted by risk, highest first; the unreadable photo last.
    rows = _scan_rows(report)
    by_risk = sorted((r for r in rows if r["verdict"] != "error"), key=lambda r: -r["risk"])
    paths = re.findall(r'<div class="path">([^<]*)</div>', text)
    assert len(paths) == len(rows) == 5
    assert paths[0] == html.escape(by_risk[0]["path"])
    assert paths[-1].endswith("broken.jpg")
    assert {r["verdict"] for r in rows} >= {"suspect", "clear", "error"}


def _dom(report: Path, fragment: str, tmp_path: Path) -> str:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'chromium'}", "--dump-dom",
         report.as_uri() + fragment],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _expected(rows: list[dict], verdict: str = "", brand: str = "", q: str = "") -> list[dict]:
    """The rows a filter must leave visible, computed from the JSONL results."""
    def brands(row: dict) -> set[str]:
        return ({b["brand"] for b in row["brands"]} | {f["brand"] for f in row["flags"] if f["brand"]}
                | {h["brand"] for h in row["logos"]})

    return [r for r in rows if (not verdict or r["verdict"] == verdict)
            and (not brand or brand in brands(r))
            and (not q or q in (r["path"] + " ".join(t["text"] for t in r["texts"])).lower())]


@pytest.mark.browser
@pytest.mark.parametrize("fragment, filters", [
    ("", {}),
    ("#verdict=suspect", {"verdict": "suspect"}),
    ("#verdict=clear", {"verdict": "clear"}),
    ("#brand=Novalux", {"brand": "Novalux"}),
    ("#brand=Veltora&verdict=suspect", {"brand": "Veltora", "verdict": "suspect"}),
    ("#q=broken", {"q": "broken"}),
])
def test_filters_work_in_chromium(report, tmp_path, fragment, filters):
    rows = _scan_rows(report)
    expected = _expected(rows, **filters)
    if filters:
        assert len(expected) < len(rows), "a filter case that hides nothing proves nothing"
    dom = _dom(report, fragment, tmp_path)
    shown = len(expected)
    assert f'data-shown="{shown}"' in dom, "the report's script ran and applied the filter"
    assert f"{shown} of 5 photos shown" in dom
    trs = re.findall(r'<tr class="row"[^>]*>.*?<div class="path">([^<]*)</div>', dom, re.S)
    hidden = re.findall(r'<tr class="row"([^>]*)>', dom)
    visible = sorted(p for p, attrs in zip(trs, hidden) if "hidden" not in attrs)
    assert visible == sorted(html.escape(r["path"], quote=False) for r in expected)
    # The hostile name is text in the live DOM too: no element was made from it.
    assert "&lt;img src=x onerror=alert(1)&gt;.jpg" in dom
    assert '<img src="x"' not in dom


def test_report_command_writes_from_the_store(report, tmp_path, capsys):
    out = tmp_path / "again.html"
    assert main(["report", "--db", str(report.with_name("r.db")), "--out", str(out),
                 "--thumbnails", "1"]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.count("data:image/jpeg;base64,") == 1
    assert text.count('<tr class="row"') == 5
    assert main(["report", "--db", str(tmp_path / "none.db"), "--out", str(out)]) == 2
