"""Geometric logo matching with OpenCV SIFT + RANSAC.

Used two ways: as the logo stage's geometric verification (``"keypoints"`` in ``logo.verifiers``),
which finds textured marks the embedding network misses and gives every mark it finds a
homography-consistent box, and as the classical floor the CNN is measured against
(``benchmarks/logo_flickr.py --sift``).

How a photo is matched, and why each step is there:

1. **Features.** SIFT keypoints on the photo (long side at most ``max_side``) and on every
   reference (rescaled to a 200-400 px long side: small crops give too few keypoints at their own
   size), also on tilted views of the reference (:data:`AFFINE_VIEWS`): SIFT copes with rotation
   and scale but not with a mark seen at a slant. Descriptors are RootSIFT (Arandjelović &
   Zisserman 2012): Hellinger-normalised SIFT matches more reliably than raw SIFT at no cost.
2. **Matching.** One inverted file (faiss) over every reference's descriptors. A photo keypoint's nearest
   reference descriptor is kept when it is clearly closer than the nearest descriptor *of another
   brand* (Lowe's ratio test across brands: five references of one brand must not cancel each
   other out, as they would with a plain two-nearest-neighbour test).
3. **Geometry.** Per reference, RANSAC fits a homography to its matches. A fit counts only when
   the reference's outline maps to a plausible quadrilateral (convex, not mirrored, not collapsed
   to a sliver or a point, inside the photo) and its inliers cover a real part of the reference:
   random matches on foliage or text can agree on a degenerate homography with many "inliers".
4. **Appearance.** The photo is warped back onto the reference with the homography and the two
   are compared cell by cell (zero-mean normalised cross-correlation). A genuine mark agrees
   everywhere; an imitation that keeps most of a wordmark but changes a letter, or a different
   word sharing letters with the brand ("CRANE" and "KYRANE"), matches many keypoints yet
   leaves a cell that disagrees. Each match reports its worst and its typical cell.
5. **Per brand**, the reference with the most inliers gives the count and the box.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import cv2
import faiss
import numpy as np

from .agreement import cell_agreement, soften_to
from .pixels import LogoFile, grey_on_white

if TYPE_CHECKING:  # pragma: no cover
    from .cache import EmbeddingCache

MIN_REFERENCE_SIDE = 200  # references are upscaled to at least this long side
MAX_REFERENCE_SIDE = 400  # and downscaled to at most this
MIN_MATCHES = 6  # RANSAC is not tried on fewer tentative matches
MIN_COVERAGE = 0.12  # inliers' bounding box / reference area: a fit on a corner of it is not a match
MAX_ANISOTROPY = 4.0  # longest / shortest side of the mapped outline, relative to the reference's
# The approximate nearest-neighbour search: an inverted file (faiss ``IndexIVFScalarQuantizer``):
# the reference descriptors are grouped into cells by k-means, and a photo descriptor is compared
# with every descriptor of the IVF_PROBES cells nearest to it. The descriptors are stored as 16-bit
# floats: half the file to map and to read per probe, and on the fitting half every match of
# every photo is the one 32-bit floats give (sift_variants.py ``store=fp16``; 8 bits a dimension
# lost a photo and let a street false brand in). Against OpenCV FLANN's
# randomised kd-trees (8 trees, 64 checks), on FlickrLogos' 104 707 reference descriptors with
# the tilted views and 28 712 photo descriptors, one thread (``benchmarks/sift_index.py``): the
# kd-trees found the exact nearest neighbour 45% of the time in 196-349 ms per 3,000 queries,
# the inverted file with 1,024 cells and 8 probes 84% in 89-98 ms. And a stored inverted file is
# memory-mapped, not read: FLANN rebuilt its trees node by node (3.9 s and 3.7 GB per worker at
# 1,000 brands), where the scan workers of one machine now share one copy in the page cache.
# 8 probes: 4 found 49 of the fitting half's 131 logo photos, 8 and 16 found 51 (sift_variants.py).
IVF_PROBES = 8
# Per photo descriptor, its NEIGHBOURS nearest reference descriptors are found; the nearest of
# another brand among them is the ratio test's denominator (when none is, the farthest found
# stands in for it: a reference's tilted views make near copies of a keypoint, which can fill
# all of them, and the test then compares the nearest with a copy of itself). RATIO: the test's
# threshold. Both fitted on the fitting half (``benchmarks/sift_variants.py``, BENCHMARKS.md):
# 8 -> 16 neighbours found 48 -> 51 of its 131 logo photos (32: 51), and the loosest ratio with
# no wrong brand and no false brand on its 145 street photos is 0.85 (55 photos; 0.9: 58, with 1
# wrong brand and 3 street false brands).
NEIGHBOURS = 16
RATIO = 0.85
# The stored descriptors' type (see the search's comment above), and its name in cache keys.
STORAGE, STORAGE_NAME = faiss.ScalarQuantizer.QT_fp16, "fp16"


def ivf_cells(descriptors: int) -> int:
    """Cells of the inverted file over ``descriptors`` reference descriptors. A query costs about
    ``cells`` distances to find its nearest cells plus ``IVF_PROBES * n / cells`` in them, least
    at sqrt(IVF_PROBES * n): the power of two nearest that (1,024 for FlickrLogos' 100
    references with their tilted views, 4,096 at 1,000 brands), with at least 39 descriptors per
    cell for the k-means (faiss's own floor)."""
    best = 2 ** int(round(np.log2(np.sqrt(IVF_PROBES * max(descriptors, 1)))))
    return int(max(1, min(best, descriptors // 39)))


# Affine-simulated views of every reference, as (tilt, angle in degrees): the reference rotated
# by the angle, then squeezed by the tilt along x, as a flat mark looks from 45 degrees (tilt
# 1.41) and 60 degrees (tilt 2) off its axis. These are ASIFT's first two tilts (Morel & Yu 2009,
# "ASIFT: A New Framework for Fully Affine Invariant Image Comparison"). Views are made for the
# references only: they are cached, and the photo is still read once.
# Measured on FlickrLogos-27 dev (BENCHMARKS.md, 5 inliers): the SIFT floor's recall rose from
# 0.414 to 0.428 on trained brands' photos and from 0.216 to 0.256 on held-out brands', precision
# 1.0 and no mark on 300 street photos; the screener's from 0.664 to 0.671 and 0.432 to 0.464. No
# time per photo; 5.6x the reference keypoints on photo crops, 7x on logo files. Other view sets
# (3, or 15 over three tilts) did no better beyond the spread between index draws.
AFFINE_VIEWS: tuple[tuple[float, float], ...] = tuple(
    (tilt, angle) for tilt in (1.41, 2.0) for angle in (0.0, 45.0, 90.0, 135.0))


def feature_recipe(views: Sequence[tuple[float, float]] = AFFINE_VIEWS) -> str:
    """What decides a reference's stored keypoints: part of their cache key."""
    tilted = ",".join(f"{t:g}@{a:g}" for t, a in views) or "none"
    return f"rootsift-v2:{MIN_REFERENCE_SIDE}-{MAX_REFERENCE_SIDE}:views({tilted}):opencv-{cv2.__version__}"


def feature_key(cache: "EmbeddingCache", reference_sha256: str,
                views: Sequence[tuple[float, float]] = AFFINE_VIEWS) -> str:
    """The cache key of one reference file's keypoints (x, y and RootSIFT descriptor per row)."""
    return cache.key("sift", reference_sha256, feature_recipe(views))


def _tilted(grey: np.ndarray, tilt: float, angle: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``grey`` rotated by ``angle`` and squeezed by ``tilt`` along x: the view, the mask of its
    pixels that come from the reference, and the 2 x 3 map from view back to reference pixels."""
    h, w = grey.shape
    rotation = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(rotation[0, 0]), abs(rotation[0, 1])
    rw, rh = h * sin + w * cos, h * cos + w * sin  # the rotated image's bounding box
    rotation[0, 2] += rw / 2 - w / 2
    rotation[1, 2] += rh / 2 - h / 2
    forward = np.diag([1.0 / tilt, 1.0, 1.0])[:2] @ np.vstack([rotation, [0.0, 0.0, 1.0]])
    size = (max(8, int(rw / tilt)), max(8, int(rh)))
    # Blur before squeezing (ASIFT's anti-aliasing), as a camera farther off the axis would see it.
    source = cv2.GaussianBlur(grey, (0, 0), 0.8 * np.sqrt(tilt * tilt - 1)) if tilt > 1 else grey
    view = cv2.warpAffine(source, forward, size, flags=cv2.INTER_LINEAR, borderValue=255)
    inside = cv2.warpAffine(np.full_like(grey, 255), forward, size, flags=cv2.INTER_NEAREST)
    # Keypoints on the view's border with the padding are artefacts, not part of the mark.
    mask = cv2.erode(inside, np.ones((5, 5), np.uint8))
    return view, mask, cv2.invertAffineTransform(forward)


def reference_features(sift: "cv2.SIFT", grey: np.ndarray,
                       views: Sequence[tuple[float, float]] = AFFINE_VIEWS) -> np.ndarray:
    """Keypoints of a reference and of its tilted ``views``: one row per keypoint, its x and y in
    the reference's own pixels, then its RootSIFT descriptor (130 columns)."""
    rows = []
    for tilt, angle in ((1.0, 0.0), *views):
        if tilt == 1.0 and angle == 0.0:
            image, mask, back = grey, None, None
        else:
            image, mask, back = _tilted(grey, tilt, angle)
        kps, desc = sift.detectAndCompute(image, mask)
        if desc is None or not len(kps):
            continue
        points = np.float32([k.pt for k in kps])
        if back is not None:
            points = points @ back[:, :2].T.astype(np.float32) + back[:, 2].astype(np.float32)
        rows.append(np.hstack([points, root_sift(desc)]))
    return np.vstack(rows).astype(np.float32) if rows else np.zeros((0, 130), np.float32)


# The stacked keypoints: their points and owning references. Their descriptors are not stacked:
# the inverted file holds them, and a warm matcher reads them only if it must build that again.
STACK_SUFFIXES = (".points.npy", ".owner.npy")


def _save(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:  # (np.save on a path would add ".npy" to the temporary name)
        np.save(handle, array, allow_pickle=False)


def _load_stack(paths: Sequence[Path], references: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The stacked keypoints (points, owners), or None when a file is absent, torn, or not the
    shapes and types the matcher holds (then they are read per reference and stored again)."""
    try:
        points = np.load(paths[0], allow_pickle=False)
        owner = np.load(paths[1], allow_pickle=False)
    except (OSError, ValueError):
        return None
    n = len(owner) if owner.ndim == 1 else -1
    if points.shape != (n, 2) or points.dtype != np.float32 or owner.dtype != np.int32:
        return None
    if n and (int(owner.min()) < 0 or int(owner.max()) >= references):
        return None
    return points, owner


@dataclass(frozen=True)
class GeometricMatch:
    """A reference logo found in a photo by a verified homography."""

    brand: str
    reference: int  # index of the reference in the order given to :class:`SiftMatcher`
    inliers: int  # RANSAC inliers (distinct photo keypoints)
    box: tuple[int, int, int, int]  # bounding box of the mapped reference outline, photo pixels
    quad: tuple[tuple[float, float], ...]  # the mapped reference corners, photo pixels
    worst_cell: float  # lowest cell correlation of photo and reference (1 = identical)
    typical_cell: float  # median cell correlation


def root_sift(descriptors: np.ndarray) -> np.ndarray:
    """Hellinger-normalised SIFT descriptors (L1-normalise, then square root)."""
    d = descriptors.astype(np.float32)
    d /= d.sum(axis=1, keepdims=True) + 1e-7
    return np.sqrt(d)


def _convex(quad: np.ndarray) -> bool:
    """True when the four points make a convex, counter-clockwise-or-clockwise, non-mirrored
    quadrilateral in the same orientation as the reference's corners."""
    crosses = []
    for i in range(4):
        a, b, c = quad[i], quad[(i + 1) % 4], quad[(i + 2) % 4]
        crosses.append((b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]))
    # The reference corners run clockwise in image coordinates (y down): all crosses positive.
    return all(c > 0 for c in crosses)


def inverted_file(descriptors: np.ndarray, cells: int, storage: int | None = STORAGE,
                  probes: int = IVF_PROBES) -> "faiss.IndexIVF":
    """An inverted file over ``descriptors`` (N x 128) with ``cells`` k-means cells, searching
    ``probes`` of them per query; ``storage`` is a ``faiss.ScalarQuantizer`` type for the stored
    descriptors, or None for 32-bit floats (``IndexIVFFlat``). The matcher's, and the benchmarks'
    variants of it."""
    index = (faiss.IndexIVFFlat(faiss.IndexFlatL2(128), 128, cells) if storage is None
             else faiss.IndexIVFScalarQuantizer(faiss.IndexFlatL2(128), 128, cells, storage))
    # k-means on at most 64 descriptors per cell (faiss's default is 256): the cells only route
    # queries, every probed cell is searched in full, and at 1,000 brands the default would
    # cluster 1M descriptors. faiss's k-means is seeded (``cp.seed``), so two processes build the
    # same file and verify a photo with the same inliers.
    index.cp.max_points_per_centroid = 64
    descriptors = np.ascontiguousarray(descriptors, np.float32)
    index.train(descriptors)
    index.add(descriptors)
    index.nprobe = probes
    return index


def tentative_matches(neighbours: np.ndarray, distances: np.ndarray, owner: np.ndarray, brand_of: np.ndarray,
                      ratio: float) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """The ratio test over a photo's nearest reference descriptors, per reference.

    ``neighbours`` / ``distances``: Q x K nearest reference descriptors of each photo descriptor
    (faiss: -1 after the last one found), ``owner``: each reference descriptor's reference,
    ``brand_of``: each reference's brand id. For each photo descriptor, the nearest descriptor of
    any *other* brand is the denominator (none among the K: the farthest found stands in); every
    reference of the nearest brand met before a neighbour fails the test gets the match (a brand's
    emblem file and its emblem-plus-wordmark file share descriptors, and each must be fitted).

    Returns ``(reference, train, query)`` per reference with a match, in the order the photo's
    descriptors first reached them: its reference descriptors and photo descriptors pair by pair,
    closest pair first, one pair per reference descriptor (its closest). Done on whole arrays: a
    photo has thousands of descriptors, and a Python loop over them cost more than the search."""
    rows, k = neighbours.shape
    if rows == 0 or k == 0:
        return []
    valid = neighbours >= 0
    refs = owner[np.where(valid, neighbours, 0)]
    brands = brand_of[refs]
    dist = distances.astype(np.float64)  # the test in double precision, as Python floats compare
    index = np.arange(rows)
    other_brand = valid & (brands != brands[:, :1])
    other_brand[:, 0] = False
    last_found = k - 1 - np.argmax(valid[:, ::-1], axis=1)
    other = np.where(other_brand.any(axis=1), dist[index, np.argmax(other_brand, axis=1)], dist[index, last_found])
    # faiss puts the -1s last, so the neighbours found are a prefix: the test stops at the first failure.
    passed = np.logical_and.accumulate(valid & (brands == brands[:, :1]) & (dist < ratio * other[:, None]), axis=1)
    # One match per (photo descriptor, reference): its nearest descriptor of that reference.
    earlier_same = np.tril(np.ones((k, k), bool), -1)[None] & (refs[:, :, None] == refs[:, None, :])
    keep = passed & ~earlier_same.any(axis=2)
    query, column = np.nonzero(keep)  # photo descriptor first, then nearest first
    if len(query) == 0:
        return []
    ref, train, gap = refs[query, column], neighbours[query, column].astype(np.int64), dist[query, column]
    met, first_met = np.unique(ref, return_index=True)
    met_at = dict(zip(met.tolist(), first_met.tolist()))
    # Per reference, closest pair first (ties: the earlier photo descriptor), then one pair per
    # reference descriptor: the closest.
    order = np.lexsort((query, gap, ref))
    ref, train, query = ref[order], train[order], query[order]
    starts = np.flatnonzero(np.r_[True, ref[1:] != ref[:-1]])
    ends = np.r_[starts[1:], len(ref)]
    out = []
    for a, b in sorted(zip(starts, ends), key=lambda span: met_at[int(ref[span[0]])]):
        _, first = np.unique(train[a:b], return_index=True)
        pick = a + np.sort(first)
        out.append((int(ref[a]), train[pick], query[pick]))
    return out


class SiftMatcher:
    """Finds reference logos in photos by RootSIFT matches that agree on one homography."""

    def __init__(self, references: Sequence[tuple[str, np.ndarray] | tuple[str, np.ndarray, np.ndarray | None]
                                            | tuple[str, LogoFile]],
                 ratio: float = RATIO, max_side: int = 1024, min_inliers: int = 8, min_side: int = 900,
                 cache: "EmbeddingCache | None" = None, keys: Sequence[str] | None = None,
                 views: Sequence[tuple[float, float]] = AFFINE_VIEWS) -> None:
        """``references``: ``(brand, rgb)``, ``(brand, rgb, alpha)`` or ``(brand, LogoFile)`` per
        reference logo. A :class:`LogoFile` is decoded only when its keypoints are not in the
        cache, or once a photo's matches need its pixels (:meth:`reference_image`).

        ``cache`` and ``keys`` (one per reference, e.g. :func:`feature_key` of its file with the
        same ``views``): keep each reference's keypoints on disk, so a scan worker does not detect
        them again. ``views``: the tilted views of each reference also searched (``()``: none)."""
        self.sift = cv2.SIFT_create()
        self.ratio = ratio
        self.neighbours = NEIGHBOURS
        self.max_side = max_side
        # Smaller photos are enlarged to this long side (0: never): small marks in small photos
        # then give enough keypoints (FlickrLogos, 6 inliers: recall 0.36 -> 0.38 trained brands,
        # 0.15 -> 0.18 held-out, precision 1.0; 0.25 -> 0.35 s per ~500 px photo).
        self.min_side = min_side
        self.min_inliers = min_inliers
        self.views = tuple(views)
        # What decides this matcher's results beyond its references (part of the stage fingerprint).
        self.recipe = f"{'views' if self.views else 'upright'}:ivf-{STORAGE_NAME}-p{IVF_PROBES}:k{NEIGHBOURS}:ratio{ratio:g}"
        self.brands: list[str] = []
        # Per reference: the file or its pixels, and (once made) the grey image keypoints come from.
        self._sources: list[LogoFile | tuple[np.ndarray, np.ndarray | None] | None] = []
        self._images: dict[int, np.ndarray] = {}
        for i, ref in enumerate(references):
            brand, source = ref[0], ref[1]
            self.brands.append(brand)
            if isinstance(source, LogoFile):
                self._sources.append(source)
            else:  # already decoded: keep the grey image, not the pixels
                self._sources.append((source, ref[2] if len(ref) > 2 else None))  # type: ignore[misc]
                self.reference_image(i)
                self._sources[i] = None
        self._features = (cache, keys)
        self._descriptors: np.ndarray | None = None
        stack = self._stack_paths(cache, keys)
        stacked = _load_stack(stack, len(self.brands)) if stack is not None else None
        if stacked is not None:
            self.ref_points, self.ref_owner = stacked
            cache.hits += len(self.brands)  # type: ignore[union-attr]  # every reference's keypoints came from it
        else:
            self.ref_points, self._descriptors, self.ref_owner = self._read_features()
            if stack is not None:
                for path, array in zip(stack, (self.ref_points, self.ref_owner)):
                    cache.write_blob(path, lambda tmp, array=array: _save(tmp, array))  # type: ignore[union-attr]
        brand_ids = {b: k for k, b in enumerate(dict.fromkeys(self.brands))}
        self.ref_brand_id = np.asarray([brand_ids[b] for b in self.brands], np.int32)
        # The inverted file is mapped (or, the first time, built) in a thread of its own, which
        # faiss runs without the GIL: building it takes seconds to minutes, and the stage has the
        # photo's OCR and network to run before it needs it. The first match waits for it
        # (:attr:`index`).
        self._index: Future["faiss.IndexIVFScalarQuantizer"] | None = None
        self._index_source = (cache, keys, os.getpid())
        if cache is not None and keys is not None:
            # Every entry these references need is claimed now (EmbeddingCache.prune keeps them),
            # also the keypoints a warm start does not read: a changed registry rebuilds the
            # stack and inverted file from them.
            for key in keys:
                cache.entry(key)
            self._index_file(cache, keys)
        if len(self.ref_owner):
            loader = ThreadPoolExecutor(1, thread_name_prefix="screener-sift-index")
            self._index = loader.submit(self._ivf_index, cache, keys)
            loader.shutdown(wait=False)  # the thread ends once the inverted file is there

    def _read_features(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every reference's keypoints (points, descriptors, owning reference), from the cache
        where it has them, else detected (and stored there)."""
        cache, keys = self._features
        points, descriptors, owner = [], [], []
        for i in range(len(self.brands)):
            stored = cache.get(keys[i], columns=130) if cache is not None and keys is not None else None
            if stored is None:
                stored = reference_features(self.sift, self.reference_image(i), self.views)
                if cache is not None and keys is not None:
                    cache.put(keys[i], stored)
            if len(stored) < MIN_MATCHES:
                continue
            points.append(np.ascontiguousarray(stored[:, :2], np.float32))
            descriptors.append(np.ascontiguousarray(stored[:, 2:], np.float32))
            owner.append(np.full(len(stored), i, np.int32))
        return (np.concatenate(points) if points else np.zeros((0, 2), np.float32),
                np.concatenate(descriptors) if descriptors else np.zeros((0, 128), np.float32),
                np.concatenate(owner) if owner else np.zeros(0, np.int32))

    @property
    def ref_descriptors(self) -> np.ndarray:
        """Every reference descriptor (RootSIFT), row for row with ``ref_points``. A warm matcher
        holds none: the stored inverted file has them, and they are read from the cache only when
        that file must be built again."""
        if self._descriptors is None:
            points, descriptors, owner = self._read_features()
            if not (np.array_equal(owner, self.ref_owner) and np.array_equal(points, self.ref_points)):
                raise RuntimeError("the cached reference keypoints no longer match their stack")
            self._descriptors = descriptors
        return self._descriptors

    @property
    def index(self) -> "faiss.IndexIVFScalarQuantizer | None":
        """The inverted file over every reference descriptor (waits while it is being made)."""
        if self._index is None:
            return None
        cache, keys, pid = self._index_source
        if pid != os.getpid() and not self._index.done():
            # A forked copy of a process that was still loading them: the loading thread did
            # not come along, so this process loads them itself.
            done: Future[faiss.IndexIVFScalarQuantizer] = Future()
            done.set_result(self._ivf_index(cache, keys))
            self._index, self._index_source = done, (cache, keys, os.getpid())
        return self._index.result()

    @staticmethod
    def _stack_paths(cache: "EmbeddingCache | None", keys: Sequence[str] | None) -> list[Path] | None:
        """Where every reference keypoint's point and owning reference are stored stacked, keyed
        by the references' keys in order.

        A warm start at 1,000 brands otherwise reads 5,000 keypoint entries (1.85 GB) to find
        them; the stack is 45 MB. The descriptors themselves are in the inverted file, which a
        warm worker memory-maps, so it reads no descriptor up front."""
        if cache is None or keys is None or cache.folder is None:
            return None
        key = cache.key("sift-stack", hashlib.sha256("\n".join(keys).encode()).hexdigest(), f"v2:min{MIN_MATCHES}")
        return [cache.entry(key, suffix) for suffix in STACK_SUFFIXES]  # type: ignore[misc]

    def reference_image(self, ref: int) -> np.ndarray:
        """The grey reference its keypoints are in the pixels of (on white, long side rescaled
        into ``MIN_REFERENCE_SIDE``-``MAX_REFERENCE_SIDE``), made the first time it is needed."""
        grey = self._images.get(ref)
        if grey is None:
            source = self._sources[ref]
            rgb, alpha = source.pixels() if isinstance(source, LogoFile) else source
            grey = grey_on_white(rgb, alpha)
            side = max(grey.shape)
            f = max(MIN_REFERENCE_SIDE / side, min(1.0, MAX_REFERENCE_SIDE / side))
            if f != 1.0:
                grey = cv2.resize(grey, None, fx=f, fy=f,
                                  interpolation=cv2.INTER_CUBIC if f > 1 else cv2.INTER_AREA)
            self._images[ref] = grey
        return grey

    def _corners(self, ref: int) -> np.ndarray:
        """The reference's 4 corners in its own pixels."""
        h, w = self.reference_image(ref).shape
        return np.float32([[0, 0], [w, 0], [w, h], [0, h]])

    def _index_file(self, cache: "EmbeddingCache | None", keys: Sequence[str] | None) -> Path | None:
        """Where the inverted file over these references is stored (None without a cache)."""
        if cache is None or keys is None:
            return None
        n = len(self.ref_owner)
        digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()
        recipe = f"ivf-{STORAGE_NAME}-{ivf_cells(n)}:faiss-{faiss.__version__}:by-reference-keys:{n}"
        return cache.blob_path(cache.key("sift-ivf", digest, recipe), ".faiss")

    def _ivf_index(self, cache: "EmbeddingCache | None", keys: Sequence[str] | None) -> "faiss.IndexIVFScalarQuantizer":
        """The inverted file over every reference descriptor, memory-mapped from ``cache`` when it
        was built before for the same references, else built and stored there.

        The stored file is keyed by the references' own cache keys in order (each the file's
        sha256 and the keypoint recipe, :func:`feature_key`), which decide every descriptor in
        it, and by the descriptor count and cell count. Hashing the descriptors themselves took
        6.0 s of a 35.5 s warm start at 1,000 brands (1.85 GB, BENCHMARKS.md)."""
        n = len(self.ref_owner)
        cells = ivf_cells(n)
        path = self._index_file(cache, keys)
        if path is not None and path.is_file():
            try:
                # Mapped, not read: the pages come in as the probes touch them, and are shared
                # by every process that maps the file.
                stored = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
                if (isinstance(stored, faiss.IndexIVFScalarQuantizer) and stored.ntotal == n and stored.nlist == cells
                        and stored.sq.qtype == STORAGE):
                    stored.nprobe = IVF_PROBES
                    return stored
            except RuntimeError:  # a torn or foreign file: build it again
                pass
        faiss.omp_set_num_threads(1)
        index = inverted_file(self.ref_descriptors, cells)
        if path is not None:
            cache.write_blob(path, lambda tmp: faiss.write_index(index, str(tmp)))
        return index

    def match(self, image: np.ndarray) -> list[GeometricMatch]:
        """Verified matches in an RGB photo, best per brand, most inliers first."""
        if self.index is None or image.ndim != 3 or min(image.shape[:2]) < 16:
            return []
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        f = min(self.max_side / max(grey.shape), max(1.0, self.min_side / max(grey.shape)))
        if f != 1.0:
            grey = cv2.resize(grey, None, fx=f, fy=f, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
        kps, desc = self.sift.detectAndCompute(grey, None)
        if desc is None or len(kps) < MIN_MATCHES:
            return []
        photo_points = np.float32([k.pt for k in kps])
        faiss.omp_set_num_threads(1)  # the search runs beside the network: one core each
        squared, neighbours = self.index.search(root_sift(desc), self.neighbours)
        distances = np.sqrt(np.maximum(squared, 0.0))  # faiss gives squared L2 distances
        h, w = grey.shape
        best: dict[str, GeometricMatch] = {}
        for ref, train, query in tentative_matches(neighbours, distances, self.ref_owner, self.ref_brand_id,
                                                   self.ratio):
            if len(train) < MIN_MATCHES:
                continue
            src = self.ref_points[train]
            dst = photo_points[query]
            found = self._verify(ref, src, dst, w, h)
            if found is None:
                continue
            inliers, quad, homography = found
            if inliers < self.min_inliers:
                continue
            worst, typical = self.appearance(grey, ref, homography, quad)
            x1, y1 = quad.min(axis=0) / f
            x2, y2 = quad.max(axis=0) / f
            brand = self.brands[ref]
            if brand not in best or inliers > best[brand].inliers:
                best[brand] = GeometricMatch(
                    brand, ref, inliers,
                    (int(max(0, x1)), int(max(0, y1)), int(min(w / f, x2)), int(min(h / f, y2))),
                    tuple((float(x) / f, float(y) / f) for x, y in quad), worst, typical)
        return sorted(best.values(), key=lambda m: -m.inliers)

    def _verify(self, ref: int, src: np.ndarray, dst: np.ndarray, w: int,
                h: int) -> tuple[int, np.ndarray, np.ndarray] | None:
        """RANSAC homography and the sanity checks that make its inlier count mean something."""
        reproj = max(3.0, 0.004 * max(w, h))
        homography, mask = cv2.findHomography(src, dst, cv2.RANSAC, reproj, maxIters=2000, confidence=0.995)
        if homography is None or mask is None:
            return None
        inlier = mask.ravel().astype(bool)
        # Distinct photo points: many reference points landing on one photo point is a collapse.
        photo_inliers = np.unique(np.round(dst[inlier]).astype(np.int32), axis=0)
        count = len(photo_inliers)
        if count < 4:
            return None
        ref_in = src[inlier]
        spread = np.ptp(ref_in[:, 0]) * np.ptp(ref_in[:, 1])
        corners = self._corners(ref)
        if spread < MIN_COVERAGE * float(corners[2, 0] * corners[2, 1]):
            return None
        quad = cv2.perspectiveTransform(corners[None], homography)[0]
        if not np.isfinite(quad).all() or not _convex(quad):
            return None
        area = cv2.contourArea(quad)
        if area < 144 or area > 1.05 * w * h:
            return None
        sides = np.linalg.norm(quad - np.roll(quad, -1, axis=0), axis=1)
        ref_sides = np.linalg.norm(corners - np.roll(corners, -1, axis=0), axis=1)
        stretch = sides / ref_sides
        if stretch.max() > MAX_ANISOTROPY * stretch.min():
            return None
        centre = quad.mean(axis=0)
        if not (-0.1 * w <= centre[0] <= 1.1 * w and -0.1 * h <= centre[1] <= 1.1 * h):
            return None
        return count, quad, homography

    def appearance(self, grey: np.ndarray, ref: int, homography: np.ndarray,
                   quad: np.ndarray) -> tuple[float, float]:
        """Worst and median cell correlation between the reference and the photo warped onto it
        (:func:`screener.logo.agreement.cell_agreement`)."""
        reference = self.reference_image(ref)
        h, w = reference.shape
        warped = cv2.warpPerspective(grey, homography, (w, h), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        valid = cv2.warpPerspective(np.full_like(grey, 255), homography, (w, h),
                                    flags=cv2.WARP_INVERSE_MAP | cv2.INTER_NEAREST) > 0
        scale = float(np.sqrt(max(cv2.contourArea(quad), 1.0) / (w * h)))
        return cell_agreement(soften_to(reference, scale), warped, valid)

    def inliers(self, image: np.ndarray) -> dict[str, int]:
        """Best verified inlier count per brand (brands without a verified fit are absent)."""
        return {m.brand: m.inliers for m in self.match(image)}
