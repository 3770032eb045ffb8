"""The HTML review report: one self-contained file a reviewer opens offline.

What it shows: summary counts (per verdict and per brand), every photo sorted by risk with a small
thumbnail on which the evidence boxes are drawn (OCR text blue, logos green, flags red), the flags
with their reasons, the brands and the OCR text, and filters by verdict, brand and free text.

Safety: file names and OCR text come from strangers, so every string goes through
``html.escape`` and the script only ever reads ``data-*`` attributes and writes ``textContent``.
As a second wall, a Content-Security-Policy allows no network at all, images only from ``data:``
URIs, and only the report's own script (by its sha256), so even an injected ``onerror=`` handler
would not run. Nothing is loaded from a CDN: the file works offline and leaks nothing.

The report streams: rows are read from the store in risk order and written one at a time, and
only the first ``max_thumbnails`` rows (the riskiest) get a thumbnail, so the file stays a sane
size for a 100,000-photo scan.

Writing: a report to a regular file is written next to it under a temporary name and renamed over
it when complete, so a full disk or a Ctrl-C halfway leaves the previous report (or none), never a
truncated one; a write that fails raises :class:`~screener.errors.WriteError` naming the file.
A destination that is not a regular file (``/dev/stdout``, a pipe) is written in place.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import IO, Iterable

from .errors import InputError, ScreenerError, WriteError
from .types import VERDICTS, ScreenResult

THUMB_SIDE = 240  # px, the longer side of a thumbnail
THUMB_QUALITY = 70  # JPEG quality: small files, boxes still readable
DEFAULT_MAX_THUMBNAILS = 1000

_BOX_COLOURS = {"text": (31, 119, 180), "logo": (44, 160, 44), "flag": (214, 39, 40)}

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin:0 0 .3em}
.meta{color:#666;font-size:12px}
.summary{display:flex;gap:1em;flex-wrap:wrap;margin:1em 0}
.count{border:1px solid #ddd;border-radius:6px;padding:.4em .8em}
.count b{font-size:1.3em;display:block}
#filters{position:sticky;top:0;background:#fff;padding:.5em 0;border-bottom:1px solid #ddd}
#filters label{margin-right:1em}
table{border-collapse:collapse;width:100%;margin-top:.5em}
td,th{border-bottom:1px solid #eee;padding:6px;vertical-align:top;text-align:left}
td.thumb{width:250px}
td.thumb img{max-width:240px;max-height:240px;border:1px solid #ccc}
.path{font-family:monospace;word-break:break-all}
.badge{display:inline-block;padding:0 .5em;border-radius:4px;color:#fff;font-weight:600}
.badge.suspect{background:#c62828}.badge.review{background:#ef6c00}
.badge.clear{background:#2e7d32}.badge.error{background:#616161}
ul.flags{margin:0;padding-left:1.1em}
.ocr{font-family:monospace;font-size:12px;color:#444;max-width:28em;word-break:break-word}
.legend span{margin-right:1em}
.err{color:#b71c1c}
"""

# Reads only data-* attributes and writes only textContent: no string from a photo is ever
# parsed as HTML. The URL fragment (#verdict=suspect&brand=X&q=text) sets the initial filters,
# so a reviewer can share a filtered view.
_SCRIPT = """
(function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll('tr.row'));
  var verdict = document.getElementById('f-verdict');
  var brand = document.getElementById('f-brand');
  var text = document.getElementById('f-text');
  var shown = document.getElementById('shown');
  var params = new URLSearchParams(window.location.hash.replace(/^#/, ''));
  if (params.has('verdict')) verdict.value = params.get('verdict');
  if (params.has('brand')) brand.value = params.get('brand');
  if (params.has('q')) text.value = params.get('q');
  function apply() {
    var v = verdict.value, b = brand.value, q = text.value.trim().toLowerCase(), count = 0;
    rows.forEach(function (row) {
      var brands = JSON.parse(row.getAttribute('data-brands') || '[]');
      var ok = (!v || row.getAttribute('data-verdict') === v) &&
               (!b || brands.indexOf(b) >= 0) &&
               (!q || row.textContent.toLowerCase().indexOf(q) >= 0);
      row.hidden = !ok;
      if (ok) count += 1;
    });
    shown.textContent = count + ' of ' + rows.length + ' photos shown';
    document.body.setAttribute('data-shown', String(count));
  }
  verdict.addEventListener('change', apply);
  brand.addEventListener('change', apply);
  text.addEventListener('input', apply);
  apply();
})();
"""


def write_report(store: "ResultStore", out: str | Path, scan_id: int | None = None,  # noqa: F821
                 max_thumbnails: int = DEFAULT_MAX_THUMBNAILS, title: str = "Screener report",
                 limits: "LimitsConfig | None" = None) -> int:  # noqa: F821
    """Write the report of one scan in ``store`` (default: the latest); returns the row count."""
    if scan_id is None:
        scan_id = store.latest_scan()
        if scan_id is None:
            raise ScreenerError(f"{store.path} holds no scan yet")
    info = store.scan_info(scan_id) or {}
    verdicts: dict[str, int] = {v: 0 for v in VERDICTS}
    brands: dict[str, int] = {}
    for result in store.rows(scan_id):  # first pass: counts only (streamed, nothing kept)
        verdicts[result.verdict] = verdicts.get(result.verdict, 0) + 1
        for name in _brand_names(result):
            brands[name] = brands.get(name, 0) + 1
    out = Path(out)
    target = Path(os.path.realpath(out))  # through a link, as `open` would write
    temporary: str | None = None
    try:
        if _exists_not_regular(target):
            handle = open(out, "w", encoding="utf-8")
        else:
            if not target.parent.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial",
                                             dir=target.parent)
            handle = os.fdopen(fd, "w", encoding="utf-8")
        with handle:
            count = render(store.rows_with_paths(scan_id, order="risk"), handle,
                           verdicts=verdicts, brands=brands, max_thumbnails=max_thumbnails,
                           title=title, subtitle=_subtitle(info), limits=limits)
        if temporary is not None:
            os.chmod(temporary, 0o666 & ~_umask())  # mkstemp's 0600 is not what `open` gives
            os.replace(temporary, target)
            temporary = None
        return count
    except OSError as exc:
        raise WriteError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        if temporary is not None:  # failed or interrupted: the partial file goes
            try:
                os.unlink(temporary)
            except OSError:
                pass


def _exists_not_regular(path: Path) -> bool:
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:  # missing (or a broken link): a new regular file is written
        return False


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def render(rows: Iterable[tuple[Path | None, ScreenResult]], out: IO[str], *,
           verdicts: dict[str, int], brands: dict[str, int],
           max_thumbnails: int = DEFAULT_MAX_THUMBNAILS, title: str = "Screener report",
           subtitle: str = "", limits: "LimitsConfig | None" = None) -> int:  # noqa: F821
    """Write the report HTML for ``rows`` (already in display order) to ``out``."""
    esc = html.escape
    script_hash = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
    total = sum(verdicts.values())
    out.write("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n")
    out.write("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
              "img-src data:; style-src 'unsafe-inline'; "
              f"script-src 'sha256-{script_hash}'; base-uri 'none'; form-action 'none'\">\n")
    out.write("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
    out.write(f"<title>{esc(title)}</title>\n<style>{_CSS}</style></head>\n<body>\n")
    out.write(f"<h1>{esc(title)}</h1>\n<p class=\"meta\">{esc(subtitle)}</p>\n")

    out.write("<div class=\"summary\" id=\"summary\">")
    out.write(f"<div class=\"count\" data-count=\"total\"><b>{total}</b>photos</div>")
    for verdict in VERDICTS:
        out.write(f"<div class=\"count\" data-count=\"{esc(verdict)}\"><b>{verdicts.get(verdict, 0)}"
                  f"</b><span class=\"badge {esc(verdict)}\">{esc(verdict)}</span></div>")
    out.write("</div>\n")
    if brands:
        out.write("<p id=\"brand-counts\">Brands seen: " + ", ".join(
            f"{esc(name)} ({count})" for name, count in sorted(brands.items(),
                                                                key=lambda kv: (-kv[1], kv[0])))
            + "</p>\n")

    out.write("<div id=\"filters\"><label>Verdict <select id=\"f-verdict\">"
              "<option value=\"\">all</option>")
    for verdict in VERDICTS:
        out.write(f"<option value=\"{esc(verdict)}\">{esc(verdict)} ({verdicts.get(verdict, 0)})"
                  "</option>")
    out.write("</select></label><label>Brand <select id=\"f-brand\"><option value=\"\">all</option>")
    for name in sorted(brands, key=str.casefold):
        out.write(f"<option value=\"{esc(name)}\">{esc(name)} ({brands[name]})</option>")
    out.write("</select></label><label>Search <input id=\"f-text\" type=\"search\" "
              "placeholder=\"file name, text, flag\"></label>"
              f"<span id=\"shown\">{total} of {total} photos shown</span>"
              "<div class=\"legend meta\"><span style=\"color:#1f77b4\">&#9632; OCR text</span>"
              "<span style=\"color:#2ca02c\">&#9632; logo</span>"
              "<span style=\"color:#d62728\">&#9632; flag</span></div></div>\n")

    out.write("<table id=\"rows\"><thead><tr><th>photo</th><th>verdict</th><th>flags</th>"
              "<th>brands</th><th>OCR text</th></tr></thead><tbody>\n")
    count = 0
    for path, result in rows:
        thumb = _thumbnail(path, result, limits) if count < max_thumbnails and path else None
        out.write(_row_html(result, thumb, thumbnails_left=count < max_thumbnails))
        count += 1
    out.write("</tbody></table>\n")
    out.write(f"<script>{_SCRIPT}</script>\n</body></html>\n")
    return count


def _row_html(result: ScreenResult, thumb: str | None, thumbnails_left: bool) -> str:
    esc = html.escape
    brands_json = json.dumps(sorted(_brand_names(result)), ensure_ascii=False)
    parts = [f"<tr class=\"row\" data-verdict=\"{esc(result.verdict)}\" "
             f"data-brands=\"{esc(brands_json)}\" data-risk=\"{result.risk:.4f}\">"]
    if thumb:
        parts.append(f"<td class=\"thumb\"><img alt=\"\" src=\"data:image/jpeg;base64,{thumb}\">")
    elif result.ok and not thumbnails_left:
        parts.append("<td class=\"thumb meta\">(no thumbnail: over the report's thumbnail limit)")
    elif result.ok:
        parts.append("<td class=\"thumb meta\">(photo no longer readable)")
    else:
        parts.append("<td class=\"thumb\">")
    parts.append(f"<div class=\"path\">{esc(result.path)}</div></td>")
    parts.append(f"<td><span class=\"badge {esc(result.verdict)}\">{esc(result.verdict)}</span>"
                 f"<div>risk {result.risk:.2f}</div>")
    if result.error:
        parts.append(f"<div class=\"err\">{esc(result.error)}</div>")
    for note in result.notes:
        parts.append(f"<div class=\"meta\">{esc(note)}</div>")
    parts.append("</td><td>")
    if result.flags:
        parts.append("<ul class=\"flags\">")
        for flag in result.flags:
            who = f" {esc(flag.brand)}" if flag.brand else ""
            said = f" &ldquo;{esc(flag.text)}&rdquo;" if flag.text else ""
            parts.append(f"<li><b>{esc(flag.kind)}</b>{who}{said} ({flag.score:.2f}): "
                         f"{esc(flag.reason)}</li>")
        parts.append("</ul>")
    parts.append("</td><td>")
    parts.append("<br>".join(
        f"{esc(b.brand)} ({esc(b.match)}, {esc('+'.join(b.evidence))}, {b.score:.2f})"
        for b in result.brands))
    parts.append("</td><td class=\"ocr\">")
    parts.append(" | ".join(esc(t.text) for t in result.texts))
    parts.append("</td></tr>\n")
    return "".join(parts)


def _brand_names(result: ScreenResult) -> set[str]:
    names = {b.brand for b in result.brands}
    names.update(f.brand for f in result.flags if f.brand)
    names.update(h.brand for h in result.logos)
    return names


def _thumbnail(path: Path | None, result: ScreenResult,
               limits: "LimitsConfig | None" = None) -> str | None:  # noqa: F821
    """A small JPEG of the photo with the evidence boxes drawn, base64; None if unreadable."""
    if path is None or not result.ok:
        return None
    from PIL import Image, ImageDraw

    from .config import LimitsConfig
    from .io import load_image

    try:
        loaded = load_image(path, limits or LimitsConfig())
    except InputError:
        return None  # moved or changed since the scan: the row still shows its findings
    if loaded.sha256 and result.sha256 and loaded.sha256 != result.sha256:
        return None  # the file changed since it was screened: its boxes would be wrong
    image = Image.fromarray(loaded.pixels)
    width, height = image.size
    scale = min(1.0, THUMB_SIDE / max(width, height))
    if scale < 1.0:
        image = image.resize((max(1, round(width * scale)), max(1, round(height * scale))),
                             Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(image)

    def box(b: tuple[int, int, int, int], colour: tuple[int, int, int], w: int) -> None:
        x1, y1, x2, y2 = (v * scale for v in b)
        draw.rectangle((min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)), outline=colour, width=w)

    for text in result.texts:
        box(text.box, _BOX_COLOURS["text"], 1)
    for logo in result.logos:
        box(logo.box, _BOX_COLOURS["logo"], 2)
    for flag in result.flags:
        if flag.box:
            box(flag.box, _BOX_COLOURS["flag"], 2)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=THUMB_QUALITY, optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _subtitle(info: dict[str, object]) -> str:
    parts = []
    if info.get("id"):
        parts.append(f"scan #{info['id']}")
    started = info.get("started")
    if isinstance(started, (int, float)):
        parts.append("started " + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)))
    if not info.get("finished"):
        parts.append("interrupted or still running: rows of finished photos only")
    if info.get("fingerprint"):
        parts.append(f"pipeline {info['fingerprint']}")
    return "; ".join(parts)

