"""The ``rapidocr`` engine: PP-OCRv4 text detection + recognition (ONNX) from ``rapidocr_onnxruntime``.

The wheel ships the detection, angle-classifier and recognition models (Chinese and English), so
nothing is downloaded. We drive its three stages ourselves instead of calling ``RapidOCR()``,
because the bare pipeline loses text that matters on product photos:

- **Run-together words.** The detector boxes whole lines and the recogniser rarely emits a space,
  so "FairPrice finest" comes out as ``FairPricefinest``. The recogniser's CTC output says where
  each character sits along the line strip, and the strip's own pixels say where the ink-free
  columns are; an ink-free run wider than 0.3 of the letters' height that falls between two
  characters is a word space. (The CTC column gaps alone turned out not to separate words: the
  model spaces characters evenly across a word break.)
- **Small text.** Bare RapidOCR's detector sees the photo at ~736 px on its short side, where
  small print vanishes. We show it the photo enlarged 1.5 times (area capped): on ICDAR 2015 dev
  that read 4 points more of the words for about twice bare RapidOCR's time (2x read one point
  more again but cost five times bare's time and lost precision); set
  ``ocr.enlarge = "none"`` for the single-size reading at bare's speed. Most of that time
  went on parts of the photo without small print, so by default (``ocr.enlarge = "small-text"``)
  the detector first sees the photo at 1x and only the regions around the small lines it found
  there are detected again enlarged: ICDAR dev report half, recall 0.564 -> 0.554, precision
  0.616 -> 0.643 against the whole photo enlarged, at 0.48 of its time (about bare's).

Each result is one text line (words separated by single spaces) with an axis-aligned box in the
caller's image coordinates and the recogniser's mean character confidence as its score.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..config import OcrConfig
from ..errors import ConfigError, EngineUnavailableError, InputError
from ..types import TextHit

INSTALL_HINT = "pip install --no-deps rapidocr_onnxruntime==1.4.4"
THREADS_ENV = "SCREENER_OCR_THREADS"  # scan workers set this to pin onnxruntime's threads
ENLARGE_MODES = ("whole", "small-text")
# The enlarged photo's long side at most this. Enlarging by the short side blows a wide photo's
# text up past what the detector finds: a 500 x 150 px banner went in at 3680 x 1104 and "unicef"
# filling its height was not read. FlickrLogos dev (BENCHMARKS.md), text alone: 0.40 -> 0.43
# (trained brands), 0.40 -> 0.42 (held-out), same precision and false names. 2000 leaves ICDAR's
# 1280 x 720 photos (1963 px) and 3:2 listings as they were.
DET_MAX_SIDE = 2000


@dataclass(frozen=True)
class RapidSettings:
    """How the engine reads; the defaults are what measured best on ICDAR 2015 dev."""

    det_limit_side_len: int = 736  # RapidOCR's default short side for the detector ...
    det_scale: float = 1.5  # ... times this: small text needs the photo enlarged
    det_max_pixels: int = 4_000_000  # bounds the detector's cost on panoramas
    det_max_side: int = DET_MAX_SIDE  # the enlarged photo's long side at most this (0: no bound)
    # Where the enlarged input is shown: "whole" (the whole photo, enlarged: one pass), or
    # "small-text" (a pass at 1x, then the enlarged pass only on regions around the lines the
    # first pass found small; none when it found no small line).
    det_enlarge: str = "small-text"
    small_text: float = 40.0  # px: a line this short or shorter in the 1x detector's input is small (fit half: 24, 40, 56, any)
    region_margin: float = 2.0  # line heights of context kept around each small line
    whole_share: float = 0.5  # regions covering more of the photo than this: enlarge it whole
    det_box_thresh: float = 0.5
    det_unclip_ratio: float = 1.6
    use_cls: bool = True  # the 0/180 degree angle classifier for upside-down lines
    split_words: bool = True  # insert spaces at ink-free gaps between characters
    word_gap: float = 0.3  # the narrowest word space, as a fraction of the letters' height
    min_score: float = 0.5  # lines whose mean character confidence is below this are dropped
    # Other ONNX models than the wheel's PP-OCRv4 ("": the wheel's); a recogniser needs its keys
    # file (one character a line, without CTC's blank and the trailing space).
    det_model: str = ""
    rec_model: str = ""
    rec_keys: str = ""


@dataclass(frozen=True)
class RawLine:
    """One recognised line before it becomes a :class:`TextHit` (kept for analysis)."""

    quad: np.ndarray  # 4x2 float, image coordinates
    chars: list[str]
    cols: list[int]  # CTC column of each character
    probs: list[float]
    score: float
    strip_height: int  # height of the strip the recogniser read (it saw it at 48 px)
    ink_height: int  # rows of the strip that hold letters
    blank_runs: list[tuple[int, int]]  # ink-free column runs [start, end) along the strip

    def char_x(self, i: int) -> float:
        """The strip x of character ``i``: each CTC column covers 8 px of the 48 px-high input."""
        return (8 * self.cols[i] + 4) * self.strip_height / 48.0

    @property
    def text(self) -> str:
        return "".join(self.chars)


def _threads_from_env() -> int | None:
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return None
    try:
        threads = int(value)
    except ValueError:
        return None
    return threads if threads > 0 else None


class RapidOcrEngine:
    """PP-OCRv4 via onnxruntime, with word splitting and an enlarged detector input.

    ``threads`` pins onnxruntime's intra-op threads (default: ``$SCREENER_OCR_THREADS``, else
    onnxruntime's own choice); scan workers set it so N workers do not fight over the cores.
    """

    name = "rapidocr"

    def __init__(self, config: OcrConfig | None = None, *, threads: int | None = None,
                 settings: RapidSettings | None = None) -> None:
        config = config or OcrConfig()
        if settings is None:
            # ocr.enlarge = "none": one pass at 1x ("whole" at scale 1 is that pass).
            settings = RapidSettings(min_score=config.min_score,
                                     det_scale=1.0 if config.enlarge == "none" else 1.5,
                                     det_enlarge="whole" if config.enlarge == "none" else config.enlarge)
        if settings.det_enlarge not in ENLARGE_MODES:
            raise ConfigError(f"ocr.enlarge must be one of {', '.join(ENLARGE_MODES)}, "
                              f"got {settings.det_enlarge!r}")
        self.settings = settings
        self.threads = threads if threads is not None else _threads_from_env()
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise EngineUnavailableError(
                f"the rapidocr OCR engine needs rapidocr_onnxruntime ({exc}); install it with "
                f"`{INSTALL_HINT}` or choose ocr.engine = \"tesseract\"") from None
        kwargs: dict[str, Any] = {
            "det_limit_side_len": settings.det_limit_side_len,
            "det_box_thresh": settings.det_box_thresh,
            "det_unclip_ratio": settings.det_unclip_ratio,
        }
        for key, path in (("det_model_path", settings.det_model), ("rec_model_path", settings.rec_model),
                          ("rec_keys_path", settings.rec_keys)):
            if path:
                kwargs[key] = str(path)
        if self.threads:
            kwargs["intra_op_num_threads"] = int(self.threads)
            kwargs["inter_op_num_threads"] = 1
        try:
            pipeline = RapidOCR(**kwargs)
        except Exception as exc:  # a broken wheel or model file: say so, not a bare traceback
            raise EngineUnavailableError(
                f"rapidocr_onnxruntime could not load its models ({type(exc).__name__}: {exc}); "
                f"reinstall it with `{INSTALL_HINT}`") from exc
        self._det = pipeline.text_det
        self._cls = pipeline.text_cls
        self._rec = pipeline.text_rec
        self._charset: list[str] = list(self._rec.postprocess_op.character)

    # --- the public call ----------------------------------------------------------------
    def __call__(self, image: np.ndarray) -> tuple[TextHit, ...]:
        """Read an RGB uint8 image; lines in reading order with boxes in its coordinates."""
        hits = []
        for line in self.read_lines(image):
            text = self.line_text(line)
            if not text.strip():
                continue
            x1, y1 = np.floor(line.quad.min(axis=0)).astype(int)
            x2, y2 = np.ceil(line.quad.max(axis=0)).astype(int)
            hits.append(TextHit(text=text, box=(int(x1), int(y1), int(x2), int(y2)),
                                score=float(min(1.0, max(0.0, line.score)))))
        return tuple(hits)

    # --- stages ---------------------------------------------------------------------------
    def read_lines(self, image: np.ndarray) -> list[RawLine]:
        """Detect, crop, orient and recognise every line (no score filter on words yet)."""
        import cv2

        bgr = self._to_bgr(image)
        quads = self._detect(bgr)
        if not quads:
            return []
        quads = _reading_order(quads)
        crops = [_crop(bgr, q, cv2) for q in quads]
        if self.settings.use_cls:
            crops, _, _ = self._cls(crops)
        lines = []
        for quad, crop, (chars, cols, probs) in zip(quads, crops, self._recognise(crops)):
            if not chars:
                continue
            score = float(np.mean(probs))
            if score < self.settings.min_score:
                continue
            ink_height, runs = strip_ink(crop, cv2) if self.settings.split_words else (0, [])
            lines.append(RawLine(quad=quad, chars=chars, cols=cols, probs=probs, score=score,
                                 strip_height=int(crop.shape[0]), ink_height=ink_height,
                                 blank_runs=runs))
        return lines

    def line_text(self, line: RawLine) -> str:
        """The line's text with a space at every word break, spaces normalised."""
        if not self.settings.split_words:
            return " ".join(line.text.split())
        return " ".join(" ".join(split_words(line, self.settings.word_gap)).split())

    @staticmethod
    def _to_bgr(image: np.ndarray) -> np.ndarray:
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
            raise InputError("the OCR stage expects an H x W x 3 RGB image array")
        if image.dtype != np.uint8:
            raise InputError(f"the OCR stage expects uint8 pixels, got {image.dtype}")
        # PP-OCR models were trained on OpenCV's BGR order.
        return np.ascontiguousarray(image[:, :, ::-1])

    def detect(self, bgr: np.ndarray) -> "Detection":
        """Text-line quads in image coordinates, and the regions the enlarged pass looked at.

        With ``det_enlarge = "whole"`` the detector sees the whole photo enlarged (see
        :meth:`_scale`). With ``"small-text"`` it first sees it at 1x (RapidOCR's own size); the
        lines it finds there whose height is at most ``small_text`` px are small print, and only
        the regions around them (``region_margin`` line heights of context, merged, grown to
        hold every line they touch) are detected again enlarged. Their lines replace the 1x
        lines inside them; lines elsewhere keep their 1x reading. A photo whose 1x pass finds no
        small line (none at all, or only big print) costs one 1x pass.
        """
        h, w = bgr.shape[:2]
        if min(h, w) < 4:
            return Detection((), ())
        big, small = self._scale(h, w, self.settings.det_scale), self._scale(h, w, 1.0)
        if self.settings.det_enlarge == "whole" or big <= small * 1.05:  # one pass
            return Detection(tuple(self._detect_pass(bgr, big)), ((0, 0, w, h),) if big > small else ())
        base = self._detect_pass(bgr, small)
        regions = small_text_regions(base, small, (h, w), self.settings)
        if not regions:
            return Detection(tuple(base), ())
        if sum((x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in regions) > self.settings.whole_share * h * w:
            regions = [(0, 0, w, h)]
        quads = [q for q in base if not any(_inside(q, r) for r in regions)]
        for x1, y1, x2, y2 in regions:
            found = self._detect_pass(bgr[y1:y2, x1:x2], big)
            quads += [q + np.float32([x1, y1]) for q in found]
        return Detection(tuple(quads), tuple(regions))

    def _detect(self, bgr: np.ndarray) -> list[np.ndarray]:
        return list(self.detect(bgr).quads)

    def _scale(self, h: int, w: int, scale: float) -> float:
        """The detector's resize factor for an ``h x w`` photo at ``scale`` times its base size.

        The short side becomes ``det_limit_side_len * scale`` (smaller photos are enlarged, larger
        ones kept), an enlarged photo's long side at most ``det_max_side`` (a wide photo's text
        would outgrow the detector), and the area never more than ``det_max_pixels`` (huge photos
        and panoramas are shrunk to that), so its cost is bounded.
        """
        target = self.settings.det_limit_side_len * max(scale, 0.1)
        ratio = max(1.0, target / min(h, w))
        ratio = min(ratio, (self.settings.det_max_pixels / float(h * w)) ** 0.5)
        if self.settings.det_max_side:
            ratio = min(ratio, max(1.0, self.settings.det_max_side / max(h, w)))
        return ratio

    def _detect_pass(self, bgr: np.ndarray, ratio: float) -> list[np.ndarray]:
        """One detector pass over ``bgr`` resized by ``ratio``: quads in ``bgr``'s coordinates."""
        import cv2

        h, w = bgr.shape[:2]
        if min(h, w) < 4:
            return []
        det = self._det
        # the network wants sides that are multiples of 32
        rh, rw = max(32, int(round(h * ratio / 32)) * 32), max(32, int(round(w * ratio / 32)) * 32)
        resized = cv2.resize(bgr, (rw, rh))
        # (x / 255 - mean) / std in float32 (RapidOCR's lists of means would make it float64)
        mean = np.float32(det.mean).reshape(1, 1, 3) * 255.0
        scale = 1.0 / (np.float32(det.std).reshape(1, 1, 3) * 255.0)
        tensor = ((resized.astype(np.float32) - mean) * scale).transpose(2, 0, 1)[np.newaxis]
        preds = det.infer(np.ascontiguousarray(tensor))[0]
        boxes, _ = det.postprocess_op(preds, (h, w))  # maps the map back to h x w
        if boxes is None or len(boxes) == 0:
            return []
        boxes = det.filter_tag_det_res(boxes, (h, w))
        return [np.asarray(b, dtype=np.float32) for b in boxes]

    def _recognise(self, crops: Sequence[np.ndarray]) -> list[tuple[list[str], list[int], list[float]]]:
        """CTC-decode every crop, keeping each character's column and probability."""
        rec = self._rec
        _, img_h, img_w = rec.rec_image_shape
        ratios = np.array([c.shape[1] / float(c.shape[0]) for c in crops])
        order = np.argsort(ratios)  # similar widths share a batch: less padding
        out: list[tuple[list[str], list[int], list[float]]] = [([], [], [])] * len(crops)
        batch = max(1, int(rec.rec_batch_num))
        for start in range(0, len(crops), batch):
            idx = order[start:start + batch]
            max_ratio = max(img_w / img_h, float(ratios[idx].max()))
            norm = np.stack([rec.resize_norm_img(crops[i], max_ratio) for i in idx]).astype(np.float32)
            preds = rec.session(norm)[0]  # B x T x C softmax
            best = preds.argmax(axis=2)
            prob = preds.max(axis=2)
            for row, i in enumerate(idx):
                out[i] = self._decode(best[row], prob[row])
        return out

    def _decode(self, best: np.ndarray, prob: np.ndarray) -> tuple[list[str], list[int], list[float]]:
        keep = best != 0  # 0 is the CTC blank
        keep[1:] &= best[1:] != best[:-1]
        cols = np.nonzero(keep)[0]
        chars = [self._charset[int(best[c])] for c in cols]
        return chars, [int(c) for c in cols], [float(prob[c]) for c in cols]


def strip_ink(strip: np.ndarray, cv2: Any) -> tuple[int, list[tuple[int, int]]]:
    """The letters' height and the ink-free column runs ``[start, end)`` of a text strip.

    Otsu splits the strip into two tones; the tone that dominates the top and bottom rows is
    the background (text can be dark on light or light on dark). Rows where at least 8% of the
    pixels are text-tone count towards the letters' height. A column is ink-free when at most 2%
    of its middle rows (15-85% of the height, where letters are) are text-tone; runs touching
    the strip's ends are margins, not gaps.
    """
    gray = cv2.cvtColor(strip, cv2.COLOR_BGR2GRAY)
    _, tone = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    h, w = tone.shape
    border = np.concatenate([tone[0], tone[-1]])
    background = 1 if border.mean() > 0.5 else 0
    top, bottom = int(h * 0.15), max(int(h * 0.85), int(h * 0.15) + 1)
    text = tone != background
    ink_height = int((text.mean(axis=1) >= 0.08).sum())
    empty = np.concatenate([[False], text[top:bottom].mean(axis=0) <= 0.02, [False]])
    edges = np.flatnonzero(np.diff(empty.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]  # in strip columns
    return ink_height, [(int(a), int(b)) for a, b in zip(starts, ends) if a > 0 and b < w]


def split_words(line: RawLine, word_gap: float) -> list[str]:
    """Split a recognised line into words at spaces and at ink-free gaps between characters.

    A gap counts when it is at least ``word_gap`` times the letters' height wide and its middle
    lies between the two characters' CTC positions. Measured on ICDAR 2015 dev, 0.3 keeps
    letters of clean bold print together and still separates blurred words. Chinese characters are never split apart (the
    language writes no spaces).
    """
    min_width = max(1.0, word_gap * line.ink_height)
    gaps = [(a + b) / 2.0 for a, b in line.blank_runs if b - a >= min_width]
    words: list[str] = []
    current: list[str] = []
    for i, ch in enumerate(line.chars):
        if not ch.strip():
            if current:
                words.append("".join(current))
                current = []
            continue
        if current and gaps and not (_is_cjk(ch) or _is_cjk(line.chars[i - 1])):
            left, right = line.char_x(i - 1), line.char_x(i)
            if any(left <= g <= right for g in gaps):
                words.append("".join(current))
                current = []
        current.append(ch)
    if current:
        words.append("".join(current))
    return words


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _crop(bgr: np.ndarray, quad: np.ndarray, cv2: Any) -> np.ndarray:
    """Perspective-crop a detected quad to an upright strip (tall strips turned to horizontal)."""
    w = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))
    h = int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))
    w, h = max(w, 1), max(h, 1)
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    crop = cv2.warpPerspective(bgr, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE,
                               flags=cv2.INTER_CUBIC)
    if h / w >= 1.5:  # a vertical line: turn it so the recogniser reads along its length
        crop = np.ascontiguousarray(np.rot90(crop))
    return crop


@dataclass(frozen=True)
class Detection:
    """What the detector found: line quads (image coordinates) and the regions ``(x1, y1, x2,
    y2)`` it looked at enlarged (empty: the enlarged pass was skipped)."""

    quads: tuple[np.ndarray, ...]
    regions: tuple[tuple[int, int, int, int], ...]


def _line_height(quad: np.ndarray) -> float:
    return float(min(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2]),
                     np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))


def _inside(quad: np.ndarray, region: tuple[int, int, int, int]) -> bool:
    x1, y1, x2, y2 = region
    return bool(quad[:, 0].min() >= x1 - 1 and quad[:, 1].min() >= y1 - 1
                and quad[:, 0].max() <= x2 + 1 and quad[:, 1].max() <= y2 + 1)


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def small_text_regions(quads: Sequence[np.ndarray], ratio: float, size: tuple[int, int],
                       settings: RapidSettings) -> list[tuple[int, int, int, int]]:
    """The regions of a photo to detect again enlarged: around each line whose height in the
    detector's input (``ratio`` times the photo's) is at most ``settings.small_text``.

    Each small line's box is grown by ``region_margin`` of its height on every side (small print
    comes in blocks: its neighbours the first pass missed are near it); overlapping regions are
    merged, and a region is grown to hold every line it touches whole, so that no line is cut in
    two between the passes.
    """
    h, w = size
    regions = []
    for quad in quads:
        height = _line_height(quad)
        if height * ratio > settings.small_text:
            continue
        pad = settings.region_margin * height + 4
        regions.append((max(0, int(quad[:, 0].min() - pad)), max(0, int(quad[:, 1].min() - pad)),
                        min(w, int(np.ceil(quad[:, 0].max() + pad))), min(h, int(np.ceil(quad[:, 1].max() + pad)))))
    if not regions:
        return []
    boxes = [(int(np.floor(q[:, 0].min())), int(np.floor(q[:, 1].min())),
              int(np.ceil(q[:, 0].max())) + 1, int(np.ceil(q[:, 1].max())) + 1) for q in quads]
    changed = True
    while changed:  # merge overlapping regions, grow them over touched lines, until stable
        changed = False
        merged: list[tuple[int, int, int, int]] = []
        for region in regions:
            for i, other in enumerate(merged):
                if _overlaps(region, other):
                    merged[i] = (min(region[0], other[0]), min(region[1], other[1]),
                                 max(region[2], other[2]), max(region[3], other[3]))
                    changed = True
                    break
            else:
                merged.append(region)
        grown = []
        for region in merged:
            x1, y1, x2, y2 = region
            for box in boxes:
                if _overlaps(region, box):
                    x1, y1 = min(x1, max(0, box[0])), min(y1, max(0, box[1]))
                    x2, y2 = max(x2, min(w, box[2])), max(y2, min(h, box[3]))
            changed |= (x1, y1, x2, y2) != region
            grown.append((x1, y1, x2, y2))
        regions = grown
    return regions


def _reading_order(quads: list[np.ndarray]) -> list[np.ndarray]:
    """Top-to-bottom, then left-to-right within a line band."""
    def key(q: np.ndarray) -> tuple[float, float]:
        return (float(q[:, 1].min()), float(q[:, 0].min()))

    ordered = sorted(quads, key=key)
    result: list[np.ndarray] = []
    for q in ordered:
        # insertion keeps boxes whose tops differ by <10 px in left-to-right order
        j = len(result)
        while j > 0 and abs(key(result[j - 1])[0] - key(q)[0]) < 10 and key(result[j - 1])[1] > key(q)[1]:
            j -= 1
        result.insert(j, q)
    return result
