"""The ``tesseract`` engine: the ``tesseract-ocr`` system program in sparse-text mode.

Full-page layout analysis (the default ``--psm 3``) finds almost nothing in photos, so the engine
uses sparse-text mode (``--psm 11``: find as much text as possible, in no particular order). One
tesseract process reads the whole photo per call, because each process start costs more than
reading a photo region. The photo goes in on stdin as PNG and TSV comes back on stdout: no
temporary files.

We start the process ourselves rather than through ``pytesseract``: it must run with
``OMP_THREAD_LIMIT=1`` (tesseract's OpenMP threads otherwise oversubscribe the cores that scan
workers share), and pytesseract always hands its child our own ``os.environ``, which torch also
reads. The TSV format and the language packs are the same.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np

from ..config import OcrConfig
from ..errors import EngineUnavailableError, InputError
from ..types import TextHit

INSTALL_HINT = "apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim"
CMD_ENV = "SCREENER_TESSERACT_CMD"  # overrides the program found on PATH


@dataclass(frozen=True)
class TessSettings:
    """How tesseract reads; the defaults are what measured best on ICDAR 2015 dev."""

    psm: int = 11  # sparse text
    upscale: float = 1.0  # tesseract wants ~20 px letters; >1 enlarges the photo first
    min_score: float = 0.5  # words below this confidence (0-1) are dropped
    timeout_s: float = 60.0


def _is_cjk(text: str) -> bool:
    return bool(text) and all("\u3400" <= ch <= "\u9fff" for ch in text)


class TesseractEngine:
    """Reads a photo with one ``tesseract --psm 11`` process; returns text lines with boxes."""

    name = "tesseract"

    def __init__(self, config: OcrConfig | None = None, *,
                 settings: TessSettings | None = None) -> None:
        config = config or OcrConfig()
        self.settings = settings or TessSettings(min_score=config.min_score)
        self.languages = tuple(config.languages) or ("eng",)
        cmd = os.environ.get(CMD_ENV) or shutil.which("tesseract")
        if not cmd or not os.path.exists(cmd):
            raise EngineUnavailableError(
                "the tesseract OCR engine needs the tesseract program, which is not installed "
                f"(not on PATH); install it with `{INSTALL_HINT}` or choose ocr.engine = \"rapidocr\"")
        self.cmd = cmd
        missing = [lang for lang in self.languages if lang not in self._installed_languages()]
        if missing:
            raise EngineUnavailableError(
                f"tesseract has no language pack for {', '.join(missing)}; install "
                + " ".join(f"tesseract-ocr-{m.replace('_', '-')}" for m in missing)
                + " or change ocr.languages")
        self._env = dict(os.environ, OMP_THREAD_LIMIT="1")

    def _installed_languages(self) -> set[str]:
        try:
            out = subprocess.run([self.cmd, "--list-langs"], capture_output=True, text=True,
                                 timeout=30, env=dict(os.environ, OMP_THREAD_LIMIT="1"))
        except (OSError, subprocess.SubprocessError) as exc:
            raise EngineUnavailableError(f"cannot run {self.cmd}: {exc}; reinstall it with "
                                         f"`{INSTALL_HINT}`") from None
        lines = (out.stdout + out.stderr).splitlines()
        return {line.strip() for line in lines[1:] if line.strip()}

    def __call__(self, image: np.ndarray) -> tuple[TextHit, ...]:
        """Read an RGB uint8 image; lines with boxes in its coordinates and scores in [0, 1]."""
        import cv2

        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
            raise InputError("the OCR stage expects an H x W x 3 RGB image array")
        scale = self.settings.upscale if self.settings.upscale > 1.0 else 1.0
        # Grey input: tesseract binarises anyway, and on coloured labels its own colour
        # conversion lost words (a rendered "FairPrice" on a cream panel) that grey kept.
        gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
        if scale != 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        ok, png = cv2.imencode(".png", gray, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise InputError("could not encode the image for tesseract")
        args = [self.cmd, "stdin", "stdout", "-l", "+".join(self.languages),
                "--psm", str(self.settings.psm), "tsv"]
        try:
            proc = subprocess.run(args, input=png.tobytes(), capture_output=True,
                                  timeout=self.settings.timeout_s, env=self._env)
        except subprocess.TimeoutExpired:
            raise InputError(f"tesseract took over {self.settings.timeout_s:.0f} s on this photo") from None
        except OSError as exc:
            raise EngineUnavailableError(f"cannot run {self.cmd}: {exc}") from None
        if proc.returncode != 0:
            message = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
            raise InputError(f"tesseract failed on this photo: {message[0]}")
        return tuple(_lines_from_tsv(proc.stdout.decode("utf-8", "replace"), scale,
                                     self.settings.min_score))


def _lines_from_tsv(tsv: str, scale: float, min_score: float) -> list[TextHit]:
    """Group tesseract's word rows into lines (block, paragraph, line)."""
    lines: dict[tuple[str, str, str], list[tuple[str, float, float, float, float, float]]] = {}
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (row.get("text") or "").strip()
        try:
            conf = float(row.get("conf") or -1)
        except ValueError:
            continue
        if row.get("level") != "5" or not text or conf < 0 or conf / 100.0 < min_score:
            continue
        left, top = float(row["left"]), float(row["top"])
        width, height = float(row["width"]), float(row["height"])
        key = (row["block_num"], row["par_num"], row["line_num"])
        lines.setdefault(key, []).append((text, conf / 100.0, left, top, left + width, top + height))
    hits = []
    for words in lines.values():
        words.sort(key=lambda w: w[2])
        text = words[0][0]
        for (prev, *_), (word, *_) in zip(words, words[1:]):
            # Chinese has no spaces; tesseract reports each character as a "word".
            text += word if _is_cjk(prev[-1:]) and _is_cjk(word[:1]) else " " + word
        x1 = min(w[2] for w in words) / scale
        y1 = min(w[3] for w in words) / scale
        x2 = max(w[4] for w in words) / scale
        y2 = max(w[5] for w in words) / scale
        score = float(np.mean([w[1] for w in words]))
        hits.append(TextHit(text=text, box=(int(x1), int(y1), int(round(x2)), int(round(y2))),
                            score=min(1.0, max(0.0, score))))
    hits.sort(key=lambda h: (h.box[1], h.box[0]))
    return hits
