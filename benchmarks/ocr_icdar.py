"""Word spotting on ICDAR 2015 incidental scene text: recall, precision and seconds per photo.

Usage::

    python benchmarks/ocr_icdar.py ../shared/data/icdar2015-dev [--engine rapidocr tesseract bare]
                                   [--limit N] [--threads T] [--cache DIR]

Scoring follows ``../shared/data/README.md``: every ground-truth transcription and every OCR line is
split on white space; each word is upper-cased and stripped of non-alphanumerics at its ends; words
of 3+ characters count; ``###`` (illegible) boxes are left out of the ground truth. Per photo,
matches are counted as a multiset intersection; recall = matches / ground-truth words, precision
= matches / OCR words, both pooled over all photos.

``rapidocr-1x`` is the screener's engine with ``ocr.enlarge = "none"`` (the detector sees
the photo at RapidOCR's default size: faster, fewer small words); ``rapidocr@S`` scales the
detector's input by S (the default is 1.5); ``rapidocr~N`` bounds the enlarged photo's long side
by N (0: unbounded). ``bare`` is RapidOCR 1.4.4
with its default settings (``RapidOCR()(image)``), the peer the
screener's ``rapidocr`` engine has to beat. Engines run photo by photo in turn, so their times are
measured under the same load. OCR output per photo is cached as JSON (default
``/tmp/screener-ocr-cache/<engine>/``) so later scripts (false brand flags) can reuse it without
re-reading; pass ``--no-cache`` to ignore the cache.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

DEFAULT_CACHE = Path("/tmp/screener-ocr-cache")


def normalize_word(word: str) -> str:
    """Upper-case and strip non-alphanumerics at both ends (the README's convention)."""
    word = word.upper()
    start, end = 0, len(word)
    while start < end and not word[start].isalnum():
        start += 1
    while end > start and not word[end - 1].isalnum():
        end -= 1
    return word[start:end]


def spot_words(texts: Iterable[str]) -> list[str]:
    """The scored words of some texts: split on white space, normalised, 3+ characters."""
    words = []
    for text in texts:
        for raw in text.split():
            word = normalize_word(raw)
            if len(word) >= 3:
                words.append(word)
    return words


def load_ground_truth(path: Path) -> list[str]:
    """Transcriptions of one ``gt_img_N.txt`` (BOM, CRLF; ``###`` = illegible, left out)."""
    texts = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        parts = line.strip().split(",", 8)
        if len(parts) < 9:
            continue
        text = parts[8]
        if text == "###":
            continue
        texts.append(text)
    return texts


@dataclass
class Tally:
    matched: int = 0
    gt: int = 0
    ocr: int = 0
    seconds: float = 0.0
    photos: int = 0

    def add(self, gt_words: Sequence[str], ocr_words: Sequence[str], seconds: float) -> None:
        self.matched += sum((Counter(gt_words) & Counter(ocr_words)).values())
        self.gt += len(gt_words)
        self.ocr += len(ocr_words)
        self.seconds += seconds
        self.photos += 1

    @property
    def recall(self) -> float:
        return self.matched / self.gt if self.gt else 0.0

    @property
    def precision(self) -> float:
        return self.matched / self.ocr if self.ocr else 0.0

    def line(self, name: str) -> str:
        return (f"{name:<10} photos={self.photos} gt_words={self.gt} ocr_words={self.ocr} "
                f"matched={self.matched} recall={self.recall:.3f} precision={self.precision:.3f} "
                f"s/photo={self.seconds / max(1, self.photos):.3f}")


# --- engines -------------------------------------------------------------------------------
Reader = Callable[[np.ndarray], list[dict]]


def build_reader(name: str, threads: int | None) -> Reader:
    """A callable photo -> list of {text, box, score}, for a screener engine or the bare peer."""
    if name == "bare":
        from rapidocr_onnxruntime import RapidOCR

        kwargs = {"intra_op_num_threads": threads, "inter_op_num_threads": 1} if threads else {}
        bare = RapidOCR(**kwargs)

        def read_bare(rgb: np.ndarray) -> list[dict]:
            result, _ = bare(np.ascontiguousarray(rgb[:, :, ::-1]))  # it expects BGR like cv2
            hits = []
            for quad, text, score in result or []:
                xs = [p[0] for p in quad]
                ys = [p[1] for p in quad]
                hits.append({"text": text, "box": [int(min(xs)), int(min(ys)), int(max(xs)),
                                                   int(max(ys))], "score": float(score)})
            return hits

        return read_bare

    from screener.config import OcrConfig
    from screener.ocr import build_ocr_engine

    if name in ("rapidocr", "rapidocr-1x"):
        from screener.ocr.rapid import RapidOcrEngine

        # rapidocr-1x: the same engine with ocr.enlarge = "none" (detector at 1x)
        engine = RapidOcrEngine(OcrConfig(enlarge="small-text" if name == "rapidocr" else "none"), threads=threads)
    elif name.startswith("rapidocr@"):
        from screener.ocr.rapid import RapidOcrEngine, RapidSettings

        # rapidocr@S: the engine with the detector's input scaled by S (default 1.5; trade-offs)
        engine = RapidOcrEngine(threads=threads, settings=RapidSettings(
            det_scale=float(name.split("@", 1)[1]), min_score=OcrConfig().min_score))
    elif name.startswith("rapidocr~"):
        from screener.ocr.rapid import RapidOcrEngine, RapidSettings

        # rapidocr~N: the engine with the enlarged photo's long side bounded by N (0: unbounded)
        engine = RapidOcrEngine(threads=threads, settings=RapidSettings(
            det_max_side=int(name.split("~", 1)[1]), min_score=OcrConfig().min_score))
    elif name.startswith("rapidocr:"):
        from dataclasses import fields

        from screener.ocr.rapid import RapidOcrEngine, RapidSettings

        # rapidocr:field=value,...: the engine with RapidSettings fields set (sweeps), e.g.
        # rapidocr:det_enlarge=small-text,small_text=24
        types = {f.name: type(getattr(RapidSettings(), f.name)) for f in fields(RapidSettings)}
        pairs = dict(item.split("=", 1) for item in name.split(":", 1)[1].split(",") if item)
        values = {k: (v.lower() in ("1", "true") if types[k] is bool else types[k](v)) for k, v in pairs.items()}
        values.setdefault("min_score", OcrConfig().min_score)
        engine = RapidOcrEngine(threads=threads, settings=RapidSettings(**values))
    else:
        engine = build_ocr_engine(OcrConfig(engine=name))
    return lambda rgb: [hit.to_dict() for hit in engine(rgb)]


def load_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def photo_ids(data_dir: Path, limit: int | None, skip: int = 0, half: str | None = None) -> list[str]:
    """Photo names in numeric order; ``skip`` leaves out the first ones (e.g. those tuned on);
    ``half`` keeps one half of :func:`screener.train.data.evaluation_half` ("fit" or "report")."""
    ids = sorted((p.stem for p in (data_dir / "images").glob("img_*.jpg")),
                 key=lambda s: int(s.split("_")[1]))[skip:]
    if half:
        try:
            from screener.train.data import evaluation_half
        except ImportError:  # before the training code moved to screener.train
            from screener.train.data import evaluation_half

        ids = [i for i in ids if evaluation_half(f"{i}.jpg") == half]
    return ids[:limit] if limit else ids


def run(data_dir: Path, engines: Sequence[str], limit: int | None, threads: int | None,
        cache: Path | None, progress: bool = True, skip: int = 0,
        half: str | None = None) -> dict[str, Tally]:
    ids = photo_ids(data_dir, limit, skip, half)
    if not ids:
        raise SystemExit(f"no images/img_*.jpg under {data_dir}")
    readers: dict[str, Reader] = {}
    tallies = {name: Tally() for name in engines}
    for n, photo in enumerate(ids, 1):
        gt_words = spot_words(load_ground_truth(data_dir / "gt" / f"gt_{photo}.txt"))
        rgb = None
        for name in engines:
            cached = cache / name / f"{photo}.json" if cache else None
            if cached and cached.exists():
                record = json.loads(cached.read_text())
            else:
                if rgb is None:
                    rgb = load_rgb(data_dir / "images" / f"{photo}.jpg")
                if name not in readers:
                    readers[name] = build_reader(name, threads)
                start = time.perf_counter()
                hits = readers[name](rgb)
                record = {"photo": photo, "hits": hits, "seconds": time.perf_counter() - start}
                if cached:
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    cached.write_text(json.dumps(record, ensure_ascii=False))
            tallies[name].add(gt_words, spot_words(h["text"] for h in record["hits"]),
                              record["seconds"])
        if progress and (n % 25 == 0 or n == len(ids)):
            print(f"[{n}/{len(ids)}] " + " | ".join(
                f"{k} R={t.recall:.3f} P={t.precision:.3f}" for k, t in tallies.items()),
                file=sys.stderr, flush=True)
    return tallies


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, help="icdar2015-dev folder (images/, gt/)")
    parser.add_argument("--engine", nargs="+", default=["rapidocr", "tesseract", "bare"],
                        help="screener engines by name, and/or 'bare' (RapidOCR defaults)")
    parser.add_argument("--limit", type=int, default=None, help="first N photos only")
    parser.add_argument("--skip", type=int, default=0,
                        help="leave out the first N photos (the rapidocr settings were tuned on "
                             "img_1..img_100)")
    parser.add_argument("--half", choices=("fit", "report"), default=None,
                        help="one half of the evaluation split (fit thresholds, report results)")
    parser.add_argument("--threads", type=int, default=None,
                        help="onnxruntime intra-op threads for rapidocr and bare")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--no-cache", action="store_true")
    args = parser.parse_args(argv)
    tallies = run(args.data_dir, args.engine, args.limit, args.threads,
                  None if args.no_cache else args.cache, skip=args.skip, half=args.half)
    for name, tally in tallies.items():
        print(tally.line(name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
