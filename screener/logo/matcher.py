"""The CNN logo stage: candidate regions → embeddings → cosine similarity with every reference.

How a photo is matched:

1. **Candidates** (:mod:`screener.logo.candidates`), on a working copy of the photo (long side
   ``WORK_SIDE``, smaller photos enlarged: :func:`working_copy`): sliding windows ranked by edge density and OCR text neighbourhoods,
   ``MAX_CANDIDATES`` in all (boxes fitted to printed marks are added for alignment, step 5).
2. **Embedding.** Every candidate is squashed to the network's input size (as in training) and
   embedded in batches.
3. **Similarity.** Cosine similarity with every reference variant (each reference logo is embedded
   at several margins, backgrounds and resolutions; cached on disk per model and file); a brand's
   score in a window is its best variant.
4. **Per-brand best box**: every brand's best window. Two brands may be reported on one region;
   the policy decides which one it carries (``Policy.one_brand_per_region``).
5. **Alignment** (``"alignment"`` in ``logo.verifiers``, :mod:`screener.logo.align`): on boxes fitted
   to compact printed marks first, then on the best windows, the best
   references are aligned onto the photo directly (ECC), which works on flat emblems with too
   little texture for keypoints; a reference that aligns with every part agreeing is a genuine
   mark, one that aligns well with a part disagreeing is an imitation.
6. **Geometric verification** (``"keypoints"`` in ``logo.verifiers``, :mod:`screener.logo.sift`): the
   references are also looked for by SIFT matches agreeing on one homography. A verified mark
   replaces the network's box for its brand (the homography's box is tighter) and carries its
   inlier count. Another brand's hit on the same region is still reported: the policy decides
   which brand a region carries (``Policy.one_brand_per_region``). SIFT needs nothing from
   steps 1-5, so when the process may use two threads it runs beside them.

Every brand scoring at least the model's ``near_threshold`` (:mod:`screener.logo.operating_point`;
the fitted decision's own floor when it judges), aligned or verified by geometry gives a
:class:`LogoHit`; the policy decides genuine versus imitation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from ..brands import BrandRegistry
from ..config import Config, LogoConfig
from ..errors import ModelError, RegistryError
from ..geometry import SAME_REGION, iou, iou_many
from ..threads import one_blas_thread, thread_budget
from ..types import Box, LogoHit, TextHit
from .base import LogoStage, NoLogoStage
from .align import ReferenceAligner
from .bank import load_bank
from .candidates import mark_candidates, text_candidates, window_candidates
from .cache import EmbeddingCache
from .index import ReferenceIndex
from .model import Embedder
from .pixels import LogoFile
from .sift import AFFINE_VIEWS, GeometricMatch, SiftMatcher, feature_key

WORK_SIDE = 640  # long side of the working copy candidates are cut from
# Candidate windows embedded per photo (OCR text neighbourhoods included): 200 find as many marks
# as 400 at the shipped threshold (FlickrLogos, 60 photos per group), with fewer false ones and
# 0.1 s less a photo.
MAX_CANDIDATES = 200
ALIGN_TRIES = 12  # (window, brand) pairs a photo's references are aligned onto
ALIGN_PER_BRAND = 2  # distinct regions tried per brand
VARIANT_RECIPE = "v1:margins(0,.08,.2)+bg(white,grey,black if alpha)+lowres"


def working_copy(image: np.ndarray) -> tuple[np.ndarray, float]:
    """The photo at a long side of ``WORK_SIDE`` and the factor it was scaled by (photo pixels x
    factor = working-copy pixels). Larger photos are shrunk and smaller ones enlarged: the trunk's
    feature maps have a stride of 16 and 32 px, so a 40 px mark on a 500 px photo spans one or two
    cells at its own size. Enlarging photos under 640 px found two more held-out-brand photos with two
    fewer wrong brands on the dev fitting half (BENCHMARKS.md, "Small photos enlarged to the working
    side"); a photo never costs more than a large one's working copy."""
    h0, w0 = image.shape[:2]
    scale = WORK_SIDE / max(h0, w0)
    if scale == 1.0:
        return image, scale
    size = (max(8, int(w0 * scale)), max(8, int(h0 * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


@dataclass(frozen=True)
class ReferenceSet:
    """Embeddings of every reference variant with the brand and file each came from."""

    vectors: np.ndarray  # M x dim, unit length
    brand_index: np.ndarray  # M, index into ``brands``
    file_index: np.ndarray  # M, index into ``files``
    brands: tuple[str, ...]
    files: tuple[str, ...]  # reference path relative to the registry folder
    floors: np.ndarray | None = None  # M: each variant's similarity to unrelated marks (q95)

    def calibrated(self, sim: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
        """Raw cosine similarities (N x M, or N x len(columns) for those variant rows) rescaled
        so an unrelated mark scores about 0 and an identical one 1: references that resemble
        everything (a plain disc, a short word) must not win by being generic."""
        if self.floors is None:
            return sim
        floors = self.floors if columns is None else self.floors[columns]
        return (sim - floors[None, :]) / (1.0 - floors[None, :])


# --- references --------------------------------------------------------------------------------
def reference_variants(image: np.ndarray, alpha: np.ndarray | None, size: int) -> np.ndarray:
    """The reference logo as the network may meet it in photos: tight and with margins, on light,
    grey and dark backgrounds when the file has transparency, and at a lower resolution."""
    if alpha is not None:
        ys, xs = np.nonzero(alpha > 16)
        if len(xs):
            image = image[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
            alpha = alpha[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    else:
        image = _trim_uniform_border(image)
    backgrounds = [255] if alpha is None else [255, 128, 0]
    variants = []
    for level in backgrounds:
        if alpha is not None:
            a = alpha.astype(np.float32)[..., None] / 255.0
            flat = (image.astype(np.float32) * a + level * (1 - a)).astype(np.uint8)
        else:
            flat = image
        for margin in (0.0, 0.08, 0.2):
            if alpha is None and margin > 0:
                padded = cv2.copyMakeBorder(flat, *(int(flat.shape[0] * margin),) * 2,
                                            *(int(flat.shape[1] * margin),) * 2, cv2.BORDER_REPLICATE)
            elif margin > 0:
                padded = cv2.copyMakeBorder(flat, *(int(flat.shape[0] * margin),) * 2,
                                            *(int(flat.shape[1] * margin),) * 2, cv2.BORDER_CONSTANT,
                                            value=(level, level, level))
            else:
                padded = flat
            variants.append(square(padded, size))
    low = square(flat if alpha is None else variants[0], max(12, size // 3))
    variants.append(cv2.resize(low, (size, size), interpolation=cv2.INTER_LINEAR))
    return np.stack(variants)


def _trim_uniform_border(image: np.ndarray) -> np.ndarray:
    """Cut away a flat border (a logo file on a white canvas) so the reference is tight."""
    corner = image[0, 0].astype(np.int16)
    diff = np.abs(image.astype(np.int16) - corner).max(axis=2) > 24
    ys, xs = np.nonzero(diff)
    if len(xs) < 16:
        return image
    pad = 1
    return image[max(0, ys.min() - pad):ys.max() + 1 + pad, max(0, xs.min() - pad):xs.max() + 1 + pad]


def square(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` squashed to ``size`` x ``size``, as the network sees every crop."""
    interp = cv2.INTER_AREA if max(image.shape[:2]) > size else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(image), (size, size), interpolation=interp)


def read_logo(data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode a reference logo file to RGB and its alpha channel (None when opaque)."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as img:
        img = ImageOps.exif_transpose(img)
        has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
        rgba = np.asarray(img.convert("RGBA"))
    alpha = rgba[..., 3] if has_alpha and rgba[..., 3].min() < 250 else None
    return np.ascontiguousarray(rgba[..., :3]), alpha


def embed_references(embedder: Embedder, logos: Sequence[tuple[str, str, bytes]],
                     cache: EmbeddingCache, calibrate: bool = True) -> ReferenceSet:
    """Embed ``(brand, relative path, file bytes)`` references, reusing cached vectors."""
    brands: list[str] = []
    files: list[str] = []
    vectors, brand_index, file_index = [], [], []
    for brand, rel, data in logos:
        if brand not in brands:
            brands.append(brand)
        key = cache.key(embedder.sha256, hashlib.sha256(data).hexdigest(), f"{VARIANT_RECIPE}:{embedder.size}")
        vecs = cache.get(key, columns=embedder.spec.dim)
        if vecs is None or len(vecs) == 0:
            try:
                rgb, alpha = read_logo(data)
            except Exception as exc:  # PIL raises many types for a bad file
                raise RegistryError(f"brand {brand!r}: reference logo {rel} cannot be read: {exc}") from exc
            vecs = embedder.embed(reference_variants(rgb, alpha, embedder.size))
            cache.put(key, vecs)
        files.append(rel)
        vectors.append(vecs)
        brand_index += [brands.index(brand)] * len(vecs)
        file_index += [len(files) - 1] * len(vecs)
    dim = embedder.spec.dim
    stacked = np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32)
    floors = reference_floors(embedder, stacked) if calibrate else None
    return ReferenceSet(stacked, np.asarray(brand_index, np.int64), np.asarray(file_index, np.int64),
                        tuple(brands), tuple(files), floors)


def reference_floors(embedder: Embedder, vectors: np.ndarray, quantile: float = 0.95) -> np.ndarray:
    """Each reference variant's ``quantile`` similarity to the network's shipped background bank
    (:mod:`screener.logo.bank`): what it scores against marks it should not match."""
    if len(vectors) == 0:
        return np.zeros(0, np.float32)
    bank = load_bank(embedder)
    floors = np.quantile(vectors @ bank.T, quantile, axis=1)
    return np.clip(floors, -0.5, 0.95).astype(np.float32)


def cut(image: np.ndarray | "Pyramid", boxes: np.ndarray, size: int) -> np.ndarray:
    """Crops of ``boxes`` squashed to ``size`` x ``size``.

    Each crop is cut from the coarsest pyramid level where its short side still spans ``size``
    pixels, so the final resize shrinks it by at most about 2x: INTER_AREA on a 500 px window
    costs far more than on a 128 px one, for the same 64 px crop."""
    pyramid = image if isinstance(image, Pyramid) else Pyramid(image)
    out = np.empty((len(boxes), size, size, 3), np.uint8)
    for i, box in enumerate(boxes):
        level, factor = pyramid.level_for(min(box[2] - box[0], box[3] - box[1]), size)
        x1, y1, x2, y2 = box * factor
        a, b = int(x1), int(y1)
        c, d = max(a + 2, int(round(x2))), max(b + 2, int(round(y2)))
        crop = level[b:d, a:c]
        interp = cv2.INTER_AREA if crop.shape[0] > size or crop.shape[1] > size else cv2.INTER_LINEAR
        out[i] = cv2.resize(crop, (size, size), interpolation=interp)
    return out


class Pyramid:
    """An image and its successive halvings, for :func:`cut`."""

    def __init__(self, image: np.ndarray, min_side: int = 32) -> None:
        self.levels = [image]
        while min(self.levels[-1].shape[:2]) >= 2 * min_side:
            self.levels.append(cv2.pyrDown(self.levels[-1]))

    def level_for(self, short_side: float, size: int) -> tuple[np.ndarray, float]:
        """The coarsest level where a box with this short side still spans ``size`` pixels, and
        the factor from level-0 coordinates to it."""
        k = 0
        while k + 1 < len(self.levels) and short_side / 2 ** (k + 1) >= size:
            k += 1
        level = self.levels[k]
        return level, level.shape[1] / self.levels[0].shape[1]


# --- the stage -----------------------------------------------------------------------------------
class CnnLogoStage:
    """Finds registered brands' logos in a photo with the embedding network (see module doc)."""

    def __init__(self, embedder: Embedder, references: ReferenceSet, config: LogoConfig,
                 model_name: str = "logo-embed", verifier: SiftMatcher | None = None,
                 aligner: ReferenceAligner | None = None, threads: int | None = None) -> None:
        """``verifier`` (a :class:`SiftMatcher`) and ``aligner`` (a :class:`ReferenceAligner`):
        over the same references in the same order (``references.files``), or None. ``threads``:
        how many this stage may use (default :func:`screener.threads.thread_budget`)."""
        if len(references.vectors) == 0:
            raise RegistryError("the CNN logo stage needs at least one reference logo")
        self.embedder = embedder
        self.references = references
        self.index = ReferenceIndex(references)
        self.config = config
        self.point = config.point  # the model's measured thresholds
        self.verifier = verifier
        self.aligner = aligner
        point = self.point
        verified = f":sift{point.min_inliers}:{verifier.recipe}" if verifier is not None else ""
        aligned = (f":ecc{point.align_genuine}/{point.align_agreement}/{point.align_near}/{point.align_min_score}"
                   if aligner is not None else "")
        self.fingerprint = f"{model_name}:{embedder.sha256[:16]}{verified}{aligned}"
        self.last_candidates = 0  # how many windows the last call embedded (for benchmarks)
        self.last_timings: dict[str, float] = {}  # seconds per step of the last call (benchmarks)
        self.keep_raw = False
        self.last_raw: dict[str, float] = {}  # per brand best raw cosine of the last call (keep_raw)
        # SIFT needs nothing from the network, so with a second core it runs in a thread beside
        # it (OpenCV and onnxruntime release the GIL): a photo's wait is the slower of the two,
        # not their sum. A process pinned to one thread (a scan worker per core) runs it inline.
        self._sift_pool: ThreadPoolExecutor | None = None
        self.parallel_sift = verifier is not None and thread_budget(threads) > 1

    def _scores(self, crops_embedded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per window and brand: best calibrated similarity and the row of the reference variant
        giving it (for the brands that reach the band the stage reports; see ``ReferenceIndex``)."""
        refs = self.references
        if self.keep_raw:  # benchmarks compare calibrated with raw cosine scores
            raw = crops_embedded @ refs.vectors.T
            for b in range(len(refs.brands)):
                top = float(raw[:, refs.brand_index == b].max()) if len(raw) else -1.0
                self.last_raw[refs.brands[b]] = max(self.last_raw.get(refs.brands[b], -1.0), top)
        return self.index.scores(crops_embedded, floor=self.point.report_floor)

    def __call__(self, image: np.ndarray, texts: tuple[TextHit, ...] = ()) -> tuple[LogoHit, ...]:
        with one_blas_thread():  # its idle threads would spin on the cores SIFT and the network use
            return self._find(image, texts)

    def _find(self, image: np.ndarray, texts: tuple[TextHit, ...]) -> tuple[LogoHit, ...]:
        if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 8 or image.shape[1] < 8:
            return ()
        clock = time.perf_counter
        t0 = clock()
        self.last_raw = {}
        sift = self._start_sift(image) if self.parallel_sift else None
        work, scale = working_copy(image)
        h, w = work.shape[:2]
        hint = text_candidates(texts, scale, w, h)
        budget = max(16, MAX_CANDIDATES - len(hint))
        boxes = np.concatenate([window_candidates(work, budget), hint])
        if len(boxes) == 0:  # a flat image: nothing could hold a mark
            if sift is not None:
                sift.cancel()
            self.last_candidates, self.last_timings = 0, {"total": clock() - t0}
            return ()
        size = self.embedder.size
        pyramid = Pyramid(work)
        pooled = self.embedder.region_embedder(work)
        t1 = clock()
        vectors = pooled(boxes) if pooled is not None else self.embedder.embed(cut(pyramid, boxes, size))
        t2 = clock()
        best, arg = self._scores(vectors)
        t3 = clock()
        embedded = len(boxes)
        hits = self._pick(boxes, best, arg, scale)
        t4 = clock()
        if self.aligner is not None:
            # Boxes fitted to printed marks are for alignment only, tried first: the network-only
            # decision was fitted on windows' evidence (a tight box changes the region's share of
            # the photo it weighs), so they do not make network-only hits. They are cut and
            # embedded as crops even where the network pools its windows from whole-photo feature
            # maps (a trunk): a small mark spans two or three cells of those maps and pools to a
            # score that says little (sample 099: 0.57 pooled, 0.88 cut), and pooled mark boxes,
            # tried first, spend alignment tries on it: the samples lose two listings
            # (BENCHMARKS.md, "Ablation with logo-trunk-metric"). There are at most MARK_LIMIT.
            marks = mark_candidates(work)
            if len(marks):
                mark_vectors = self.embedder.embed(cut(pyramid, marks, size))
                embedded += len(marks)
                boxes, vectors = np.concatenate([marks, boxes]), np.concatenate([mark_vectors, vectors])
                best = np.concatenate([self._scores(mark_vectors)[0], best])
            hits = self._align(image, boxes, vectors, best, scale, hits, fitted=len(marks))
        self.last_candidates = embedded
        t5 = clock()
        sift_seconds = 0.0
        if self.verifier is not None:
            found, sift_seconds = sift.result() if sift is not None else self._sift(image)
            hits = self._verify(found, pyramid, scale, hits)
        self.last_timings = {"candidates": t1 - t0, "embed": t2 - t1, "similarity": t3 - t2,
                             "pick": t4 - t3, "align": t5 - t4, "verify": clock() - t5,
                             "sift": sift_seconds, "total": clock() - t0}
        return hits

    def _sift(self, image: np.ndarray) -> tuple[list[GeometricMatch], float]:
        """The photo's SIFT-verified matches with enough inliers, and the seconds they took."""
        assert self.verifier is not None
        started = time.perf_counter()
        found = [m for m in self.verifier.match(image) if m.inliers >= self.point.min_inliers]
        return found, time.perf_counter() - started

    def _start_sift(self, image: np.ndarray) -> "Future[tuple[list[GeometricMatch], float]]":
        """:meth:`_sift` started in the stage's own thread."""
        if self._sift_pool is None:
            self._sift_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="screener-sift")
        return self._sift_pool.submit(self._sift, image)

    def _align(self, image: np.ndarray, boxes: np.ndarray, vectors: np.ndarray, best: np.ndarray, scale: float,
               hits: tuple[LogoHit, ...], fitted: int = 0) -> tuple[LogoHit, ...]:
        """Align references onto the network's best (window, brand) pairs (see
        :mod:`screener.logo.align`).

        Pairs on the first ``fitted`` boxes, those fitted to printed marks
        (:func:`mark_candidates`: the flat marks alignment is for, framed whole), are tried first,
        then the rest, each group best network score first; at most ``ALIGN_TRIES`` of them (so
        the cost does not grow with the registry) and ``ALIGN_PER_BRAND`` distinct regions per
        brand (so
        one brand's wordmark, met in several OCR-text windows, cannot use up the budget of an
        emblem elsewhere). On each pair the brand's clean reference file that the network scores
        best there is aligned: a brand's combined logo file may win the network's score while
        only its emblem file matches the emblem. Every alignment is reported; the policy keeps
        the best-aligned brand of a region (``Policy.one_brand_per_region``)."""
        assert self.aligner is not None
        cfg, refs = self.point, self.references
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        rows, cols = np.nonzero(best >= cfg.align_min_score)
        tried: dict[int, list[np.ndarray]] = {}
        found: list[LogoHit] = []
        tries = 0
        first = rows < fitted
        for k in np.lexsort((-best[rows, cols], ~first)):
            if tries == ALIGN_TRIES:
                break
            i, b = int(rows[k]), int(cols[k])
            regions = tried.setdefault(b, [])
            if len(regions) == ALIGN_PER_BRAND or any(iou_many(boxes[i], r[None])[0] >= SAME_REGION for r in regions):
                continue
            # The brand's clean reference the network scores best here. References are prepared
            # on first use (ReferenceAligner), so they are asked best first, until one is clean:
            # usually one file is decoded, not every one of the brand's.
            columns = np.nonzero(refs.brand_index == b)[0]
            sims = refs.calibrated(vectors[i:i + 1] @ refs.vectors[columns].T, columns)[0]
            ref = next((int(refs.file_index[c]) for c in columns[np.argsort(-sims, kind="stable")]
                        if self.aligner.is_usable(int(refs.file_index[c]))), None)
            if ref is None:
                continue
            regions.append(boxes[i])
            tries += 1
            result = self.aligner.align(grey, boxes[i] / scale, ref)
            if result is None or result.correlation < min(cfg.align_near, cfg.align_genuine):
                continue
            found.append(LogoHit(refs.brands[b], result.box, float(best[i, b]), refs.files[ref],
                                 agreement=result.worst_cell, alignment=result.correlation))
        # One hit per (brand, region), its best alignment: a brand's two windows may align its
        # reference onto the same place. Several brands may align onto one region: the policy
        # decides which it carries.
        found.sort(key=lambda h: -h.alignment)
        aligned: list[LogoHit] = []
        for hit in found:
            if not any(a.brand == hit.brand and iou(a.box, hit.box) > SAME_REGION for a in aligned):
                aligned.append(hit)
        return _merge(hits, aligned, key=lambda hit: (-hit.alignment, -hit.score))

    def _verify(self, found: Sequence[GeometricMatch], work: Pyramid, scale: float,
                hits: tuple[LogoHit, ...]) -> tuple[LogoHit, ...]:
        """Merge SIFT-verified marks into the other hits (see module doc, step 6)."""
        if not found:
            return hits
        refs = self.references
        # The network's own score for each verified region, so the hit still reports it.
        boxes = np.asarray([[v * scale for v in m.box] for m in found], np.float64)
        h, w = work.levels[0].shape[:2]
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        ok = (boxes[:, 2] - boxes[:, 0] >= 2) & (boxes[:, 3] - boxes[:, 1] >= 2)
        cnn = np.full(len(found), -1.0)
        if ok.any():
            best, _ = self._scores(self.embedder.embed(cut(work, boxes[ok], self.embedder.size)))
            brand_cols = [refs.brands.index(m.brand) for m, keep in zip(found, ok) if keep]
            cnn[ok] = best[np.arange(len(brand_cols)), brand_cols]
        verified = [LogoHit(m.brand, m.box, float(max(cnn[i], 0.0)), refs.files[m.reference], m.inliers,
                            m.worst_cell, median_agreement=m.typical_cell) for i, m in enumerate(found)]
        # A verified hit's agreement stays SIFT's (at reference resolution, where single letters
        # show). Another brand's hit on the same region stays too: the policy decides which
        # brand the region carries (Policy.one_brand_per_region).
        return _merge(hits, verified, key=lambda hit: (-hit.inliers, -hit.score))

    def _pick(self, boxes: np.ndarray, best: np.ndarray, arg: np.ndarray, scale: float) -> tuple[LogoHit, ...]:
        """Each brand's best window from the report floor on. Several brands may be reported on
        one region: the policy decides which it carries (``Policy.one_brand_per_region``)."""
        refs = self.references
        hits = []
        for b in np.nonzero(best.max(axis=0) >= self.point.report_floor)[0]:
            i = int(np.argmax(best[:, b]))
            hits.append(LogoHit(brand=refs.brands[b], box=_photo_box(boxes[i], scale), score=float(best[i, b]),
                                reference=refs.files[refs.file_index[arg[i, b]]]))
        return tuple(sorted(hits, key=lambda hit: -hit.score))


def _photo_box(box: np.ndarray, scale: float) -> Box:
    """A working-copy box in the photo's pixels (the box a hit reports)."""
    x1, y1, x2, y2 = (float(v) / scale for v in box)
    return (int(x1), int(y1), int(round(x2)), int(round(y2)))


def _merge(hits: Sequence[LogoHit], new: Sequence[LogoHit], key) -> tuple[LogoHit, ...]:  # noqa: ANN001
    """``hits`` with ``new`` merged in: a new hit replaces its brand's earlier one (one hit per
    brand, keeping the better network score). Hits of other brands stay, on any region."""
    if not new:
        return tuple(hits)
    replaced = {h.brand for h in new}
    kept = [h for h in hits if h.brand not in replaced]
    earlier = {h.brand: h.score for h in hits}
    merged = [dataclasses.replace(h, score=max(h.score, earlier.get(h.brand, 0.0))) for h in new]
    return tuple(sorted(kept + merged, key=key))


def network_threads(config: LogoConfig, threads: int | None = None) -> int:
    """Threads for the network out of the stage's ``threads`` (see :func:`thread_budget`).

    With SIFT in its own thread beside the network (a budget of two or more), that thread keeps
    a core busy, so the network takes one thread fewer: oversubscribed, the two slow each other
    down (30 brands on 2 cores: 203 ms a photo with 2 network threads, 165 ms with 1;
    ``benchmarks/logo_speed.py --threads 2 --net-threads 2|1``)."""
    budget = thread_budget(threads)
    return budget - 1 if "keypoints" in config.verifiers and budget > 1 else budget


def build_logo_stage(registry: BrandRegistry, config: Config | None = None,
                     models_dir: str | Path | None = None, threads: int | None = None,
                     embedder: Embedder | None = None, calibrate: bool = True) -> LogoStage:
    """The logo stage for ``registry``: :class:`NoLogoStage` when disabled or no brand has a logo,
    else a :class:`CnnLogoStage` with the manifest model and cached reference embeddings."""
    from .weights import MODELS_DIR, load_embedder

    config = config or Config()
    if not config.logo.enabled or not any(b.logos for b in registry):
        return NoLogoStage()
    if embedder is None:
        embedder = load_embedder(config.logo.model, models_dir or MODELS_DIR,
                                 threads=network_threads(config.logo, threads))
    cache_dir = Path(config.logo.cache_dir) if config.logo.cache_dir else registry.root / ".cache" / "logo-embeddings"
    cache = EmbeddingCache(cache_dir)
    logos = []
    for brand, rel, path in registry.logo_files():
        try:
            logos.append((brand, rel, path.read_bytes()))
        except OSError as exc:
            raise RegistryError(f"brand {brand!r}: cannot read reference logo {rel}: {exc}") from exc
    references = embed_references(embedder, logos, cache, calibrate)
    verifier, aligner = None, None
    verifiers = config.logo.verifiers
    if "keypoints" in verifiers or "alignment" in verifiers:
        # Decoded only where a cache entry is missing or a photo needs the pixels (LogoFile).
        files = [LogoFile(data, brand, rel) for brand, rel, data in logos]  # in the reference set's order
        if "keypoints" in verifiers:
            views = AFFINE_VIEWS if "tilted" in verifiers else ()
            keys = [feature_key(cache, file.sha256, views) for file in files]
            verifier = SiftMatcher([(file.brand, file) for file in files],
                                   min_inliers=config.logo.point.min_inliers, cache=cache, keys=keys, views=views)
        if "alignment" in verifiers:
            aligner = ReferenceAligner(files)
    stage = CnnLogoStage(embedder, references, config.logo, config.logo.model, verifier, aligner, threads)
    stage.cache = cache  # type: ignore[attr-defined]  # exposed so callers can see hits/misses
    return stage


__all__ = ["CnnLogoStage", "ReferenceSet", "build_logo_stage", "embed_references", "network_threads", "ModelError"]
