"""Geometric verification (SIFT + RANSAC) on real sample photos: the registered wordmark is found
where it is, a logo-free listing stays empty, and an altered wordmark that fits the geometry is
told apart from the genuine one by its pixels. Runs the real OpenCV matcher, no model needed."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest
from PIL import Image

from helpers import SAMPLES
from screener.brands import BrandRegistry
from screener.config import Config
from screener.logo.matcher import read_logo
from screener.logo.sift import SiftMatcher, tentative_matches

pytestmark = pytest.mark.skipif(not (SAMPLES / "labels.csv").exists(), reason="sample_images not generated")


@pytest.fixture(scope="module")
def matcher() -> SiftMatcher:
    registry = BrandRegistry.load(SAMPLES / "brands")
    return SiftMatcher([(brand, *read_logo(path.read_bytes())) for brand, _, path in registry.logo_files()],
                       min_inliers=Config().logo.point.min_inliers)


def _labels() -> dict[str, dict]:
    with open(SAMPLES / "labels.csv", newline="", encoding="utf-8") as handle:
        return {row["path"]: row for row in csv.DictReader(handle)}


def _photo(path: str) -> np.ndarray:
    return np.asarray(Image.open(SAMPLES / path).convert("RGB"))


def _logo_box(row: dict) -> list[int]:
    return next(m["box"] for m in json.loads(row["marks"]) if m["kind"] == "logo")


def test_registered_wordmarks_are_found_over_their_true_place(matcher):
    labels = _labels()
    rows = [r for r in labels.values() if r["kind"] == "genuine-logo"]
    placed = 0
    for row in rows:
        found = {m.brand: m for m in matcher.match(_photo(row["path"]))}
        hit = found.get(row["brands"])
        if hit is None:
            continue
        x1, y1, x2, y2 = _logo_box(row)
        bx1, by1, bx2, by2 = hit.box
        inter = max(0, min(x2, bx2) - max(x1, bx1)) * max(0, min(y2, by2) - max(y1, by1))
        placed += inter / ((bx2 - bx1) * (by2 - by1)) > 0.5 and hit.worst_cell > 0.85
        assert set(found) <= {row["brands"]}, f"{row['path']}: another brand verified: {sorted(found)}"
    # Measured 6 of 8 (two wordmarks are too small and soft for enough keypoints).
    assert placed >= 5, f"only {placed} of {len(rows)} genuine wordmarks verified in place"


def test_logo_free_listings_verify_nothing(matcher):
    rows = [r for r in _labels().values() if r["kind"] in ("clean", "unregistered-logo")]
    assert rows
    for row in rows:
        assert matcher.match(_photo(row["path"])) == [], row["path"]


def test_an_altered_wordmark_does_not_agree_with_the_reference_everywhere(matcher):
    """'Pcllano' and 'Veltura' keep enough letters for a homography, but a cell disagrees."""
    confirm = Config().logo.point.confirm_agreement
    rows = [r for r in _labels().values() if r["kind"] == "imitation-logo"]
    assert rows
    for row in rows:
        for hit in matcher.match(_photo(row["path"])):
            assert hit.worst_cell < confirm, (row["path"], hit)


def test_a_warped_reference_is_verified_and_a_blank_one_is_not(matcher):
    """The matcher's own geometry on a hand-made photo: the Brundell wordmark under a
    perspective warp on a textured background is found with a box around it."""
    registry = BrandRegistry.load(SAMPLES / "brands")
    path = registry.logo_path(registry.get("Brundell").logos[0], "Brundell")
    rgb, alpha = read_logo(path.read_bytes())
    if alpha is not None:
        a = alpha[..., None] / 255.0
        rgb = (rgb * a + 255 * (1 - a)).astype(np.uint8)
    rgb = cv2.resize(rgb, (400, int(400 * rgb.shape[0] / rgb.shape[1])), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    scene = cv2.GaussianBlur(rng.integers(90, 200, (600, 800, 3), dtype=np.uint8), (0, 0), 3)
    h, w = rgb.shape[:2]
    target = np.float32([[220, 180], [220 + 1.3 * w, 200], [210 + 1.3 * w, 200 + 1.2 * h], [230, 180 + 1.25 * h]])
    homography = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), target)
    warped = cv2.warpPerspective(rgb, homography, (800, 600))
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), homography, (800, 600)) > 0
    scene[mask] = warped[mask]
    found = matcher.match(scene)
    assert [m.brand for m in found] == ["Brundell"]
    x1, y1, x2, y2 = found[0].box
    tx1, ty1 = target.min(axis=0)
    tx2, ty2 = target.max(axis=0)
    assert abs(x1 - tx1) < 15 and abs(y1 - ty1) < 15 and abs(x2 - tx2) < 15 and abs(y2 - ty2) < 15
    assert found[0].worst_cell > 0.85
    assert matcher.match(cv2.GaussianBlur(rng.integers(0, 255, (600, 800, 3), dtype=np.uint8), (0, 0), 2)) == []


# --- through the whole Screener (real OCR, network and verification) ------------------------------
@pytest.fixture(scope="module")
def screener():
    from screener import Screener

    return Screener.from_registry(SAMPLES / "brands", Config())


def test_a_verified_genuine_logo_is_a_brand_mark_with_its_evidence(screener):
    row = _labels()["listings/036-genuine-logo.jpg"]
    result = screener.screen_file(SAMPLES / row["path"])
    assert result.verdict == "review"
    [mark] = result.brands
    assert (mark.brand, mark.match, "logo" in mark.evidence) == ("Lumexa", "exact", True)
    hit = next(h for h in result.logos if h.brand == "Lumexa")
    assert hit.inliers >= Config().logo.point.min_inliers and hit.agreement > 0.85
    x1, y1, x2, y2 = _logo_box(row)
    assert hit.box[0] < x2 and x1 < hit.box[2] and hit.box[1] < y2 and y1 < hit.box[3]
    assert hit.to_dict()["inliers"] == hit.inliers  # in the JSONL line


@pytest.mark.parametrize("name, verdict, kinds", [
    # "Veltura" and "Pcllano" drawn as Veltora's and Pellano's wordmarks: SIFT fits them (20-31
    # inliers), but they are altered names, not the genuine marks: the layout copied with the
    # name changed is an imitation logo
    ("093-imitation-logo.jpg", "suspect", {"altered_brand_name", "imitation_logo"}),
    ("094-imitation-logo.jpg", "suspect", {"altered_brand_name", "imitation_logo"}),
])
def test_geometry_does_not_vouch_for_altered_names(screener, name, verdict, kinds):
    result = screener.screen_file(SAMPLES / "listings" / name)
    assert result.verdict == verdict
    assert {f.kind for f in result.flags} == kinds
    assert all(mark.match == "near" for mark in result.brands)  # never the genuine mark


def test_sift_beside_the_network_gives_the_same_hits_as_inline(tmp_path):
    """With two threads the stage runs SIFT in a thread beside the network; pinned to one (a scan
    worker per core) it runs it inline. Only the timing may differ, never the hits."""
    from screener.logo.matcher import build_logo_stage

    registry = BrandRegistry.load(SAMPLES / "brands")
    config = Config().replace(logo__cache_dir=str(tmp_path))
    inline = build_logo_stage(registry, config, threads=1)
    beside = build_logo_stage(registry, config, threads=2)
    assert not inline.parallel_sift and beside.parallel_sift
    for name in ("listings/036-genuine-logo.jpg", "listings/051-genuine-emblem.jpg", "listings/000-clean.jpg"):
        photo = _photo(name)
        # (the network itself runs with 1 and 2 threads here: scores may differ in the last bits)
        a, b = inline(photo), beside(photo)
        assert [(h.brand, h.box, h.inliers) for h in a] == [(h.brand, h.box, h.inliers) for h in b], name
        assert np.allclose([h.score for h in a], [h.score for h in b], atol=1e-4)
    assert beside.last_timings["sift"] > 0


def _seen_at_a_slant(photo: np.ndarray, squeeze: float = 0.5, axis_degrees: float = 30.0) -> np.ndarray:
    """The photo foreshortened by ``squeeze`` along an axis ``axis_degrees`` off horizontal, as a
    flat print looks from 60 degrees off its axis (an affine view of it)."""
    h, w = photo.shape[:2]
    turn = np.vstack([cv2.getRotationMatrix2D((w / 2, h / 2), axis_degrees, 1.0), [0, 0, 1]])
    squash = np.array([[squeeze, 0, w * (1 - squeeze) / 2], [0, 1, 0], [0, 0, 1]])
    return cv2.warpAffine(photo, (np.linalg.inv(turn) @ squash @ turn)[:2], (w, h), borderValue=(255, 255, 255))


def test_a_wordmark_seen_at_a_slant_is_verified_through_the_tilted_reference_views(matcher):
    registry = BrandRegistry.load(SAMPLES / "brands")
    plain = SiftMatcher([(brand, *read_logo(path.read_bytes())) for brand, _, path in registry.logo_files()],
                        min_inliers=Config().logo.point.min_inliers, views=())
    assert matcher.views and not plain.views
    rows = [r for r in _labels().values() if r["kind"] == "genuine-logo"]
    with_views = without = 0
    for row in rows:
        slanted = _seen_at_a_slant(_photo(row["path"]))
        found = {m.brand for m in matcher.match(slanted)}
        assert found <= {row["brands"]}, f"{row['path']}: another brand verified: {sorted(found)}"
        with_views += row["brands"] in found
        without += row["brands"] in {m.brand for m in plain.match(slanted)}
    # Measured: 6 of 8 with the views (the two wordmarks too small for SIFT upright stay
    # unfound), 1 of 8 without.
    assert with_views >= 5 and without <= 2, (with_views, without)


def test_the_inverted_file_is_stored_once_and_a_second_matcher_maps_it_with_the_same_matches(tmp_path, matcher):
    """Building the inverted file over every reference descriptor is most of a warm worker start
    at many brands: it is stored beside the cached keypoints and memory-mapped by the next
    matcher, which must then match exactly as one that built it (and a torn file is built again,
    not trusted)."""
    import hashlib

    from screener.logo.cache import EmbeddingCache
    from screener.logo.sift import feature_key

    registry = BrandRegistry.load(SAMPLES / "brands")
    files = list(registry.logo_files())
    refs = [(brand, *read_logo(path.read_bytes())) for brand, _, path in files]
    cache = EmbeddingCache(tmp_path)
    keys = [feature_key(cache, hashlib.sha256(path.read_bytes()).hexdigest()) for _, _, path in files]
    min_inliers = Config().logo.point.min_inliers
    first = SiftMatcher(refs, min_inliers=min_inliers, cache=cache, keys=keys)
    assert first.index is not None  # (built in a thread of its own: wait for it)
    stored = list(tmp_path.glob("*.faiss"))
    assert len(stored) == 1
    written = stored[0].stat().st_mtime_ns
    second = SiftMatcher(refs, min_inliers=min_inliers, cache=cache, keys=keys)
    assert second.index is not None
    assert stored[0].stat().st_mtime_ns == written  # loaded, not rebuilt
    torn = stored[0].read_bytes()[:100]
    stored[0].unlink()  # (a new file: ``second`` maps the old one, as the cache's writers do it)
    stored[0].write_bytes(torn)
    third = SiftMatcher(refs, min_inliers=min_inliers, cache=cache, keys=keys)
    for name in ("listings/036-genuine-logo.jpg", "listings/051-genuine-emblem.jpg", "listings/000-clean.jpg"):
        photo = _photo(name)
        expected = [(m.brand, m.box, m.inliers) for m in matcher.match(photo)]  # no cache at all
        for other in (first, second, third):
            assert [(m.brand, m.box, m.inliers) for m in other.match(photo)] == expected, name
    assert any(matcher.match(_photo("listings/036-genuine-logo.jpg")))


def test_an_edited_reference_file_gets_its_own_inverted_file_and_matches_as_without_a_cache(tmp_path, matcher):
    """The stored inverted file is keyed by the references' cache keys (their files' sha256), not by
    hashing every descriptor at start-up: an edited file is a new key, so a new index is built
    over the new descriptors and nothing stale is loaded."""
    import hashlib
    import shutil

    from screener.logo.cache import EmbeddingCache
    from screener.logo.sift import feature_key

    registry = BrandRegistry.load(SAMPLES / "brands")
    files = []
    for k, (brand, _, path) in enumerate(registry.logo_files()):
        copy = tmp_path / f"ref{k}{path.suffix}"
        shutil.copyfile(path, copy)
        files.append((brand, copy))
    cache = EmbeddingCache(tmp_path / "cache")
    min_inliers = Config().logo.point.min_inliers

    def build() -> SiftMatcher:
        refs = [(brand, *read_logo(path.read_bytes())) for brand, path in files]
        keys = [feature_key(cache, hashlib.sha256(path.read_bytes()).hexdigest()) for _, path in files]
        return SiftMatcher(refs, min_inliers=min_inliers, cache=cache, keys=keys)

    assert build().index is not None
    assert len(list((tmp_path / "cache").glob("*.faiss"))) == 1
    edited = files[0][1]
    Image.open(edited).rotate(90, expand=True).save(edited)
    cached = build()
    assert cached.index is not None
    assert len(list((tmp_path / "cache").glob("*.faiss"))) == 2  # a new index for the new keys
    uncached = SiftMatcher([(brand, *read_logo(path.read_bytes())) for brand, path in files], min_inliers=min_inliers)
    assert np.array_equal(cached.ref_descriptors, uncached.ref_descriptors)
    for name in ("listings/036-genuine-logo.jpg", "listings/051-genuine-emblem.jpg", "listings/000-clean.jpg"):
        photo = _photo(name)
        assert ([(m.brand, m.box, m.inliers) for m in cached.match(photo)]
                == [(m.brand, m.box, m.inliers) for m in uncached.match(photo)]), name


def test_a_warm_matcher_reads_no_descriptor_and_a_torn_stack_is_read_again(tmp_path, matcher):
    """Every reference keypoint's point and owner are also stored stacked, keyed by the
    references' keys, and the descriptors live in the stored inverted file: a warm matcher reads
    the small stack, maps the inverted file, reads no descriptor and decodes no logo file, and
    matches as one without a cache. A torn stack is not trusted: the per-reference entries are
    read again and the stack rewritten."""
    from screener.logo.cache import EmbeddingCache
    from screener.logo.pixels import LogoFile
    from screener.logo.sift import feature_key

    registry = BrandRegistry.load(SAMPLES / "brands")
    files = [(brand, LogoFile(path.read_bytes(), brand, rel)) for brand, rel, path in registry.logo_files()]
    cache = EmbeddingCache(tmp_path)
    keys = [feature_key(cache, file.sha256) for _, file in files]
    min_inliers = Config().logo.point.min_inliers
    first = SiftMatcher(files, min_inliers=min_inliers, cache=cache, keys=keys)
    assert first.index is not None  # (stored by its own thread: wait for it)
    stack = sorted(tmp_path.glob("*.points.npy"))
    assert len(stack) == 1 and not list(tmp_path.glob("*.descriptors.npy"))
    second = SiftMatcher(files, min_inliers=min_inliers, cache=cache, keys=keys)
    assert second.index is not None and second.index.ntotal == len(first.ref_owner)
    assert second._descriptors is None and second._images == {}  # nothing read but the stack
    for name in ("ref_points", "ref_owner"):
        assert np.array_equal(getattr(first, name), getattr(second, name)), name
    size = stack[0].stat().st_size
    torn = stack[0].read_bytes()[:100]
    stack[0].unlink()  # (a new file, as the cache's writers make them)
    stack[0].write_bytes(torn)
    third = SiftMatcher(files, min_inliers=min_inliers, cache=cache, keys=keys)
    assert third._descriptors is not None and stack[0].stat().st_size == size
    assert np.array_equal(first.ref_descriptors, third.ref_descriptors)
    for name in ("listings/036-genuine-logo.jpg", "listings/047-genuine-emblem.jpg", "listings/000-clean.jpg"):
        photo = _photo(name)
        expected = [(m.brand, m.box, m.inliers, m.worst_cell) for m in matcher.match(photo)]  # no cache at all
        for other in (first, second, third):
            assert [(m.brand, m.box, m.inliers, m.worst_cell) for m in other.match(photo)] == expected, name
    assert 0 < len(second._images) < len(files)  # decoded only what the photos' matches needed
    assert second._descriptors is None
    assert np.array_equal(second.ref_descriptors, first.ref_descriptors)  # read when asked for


def test_the_inverted_file_finds_most_photo_descriptors_exact_nearest_reference(matcher):
    """The inverted file is approximate: a photo descriptor is compared only with the references
    in its nearest cells. It must still find the exact nearest reference descriptor for most of a
    listing's descriptors (measured: 98-100% on sample listings, with 8,425 reference descriptors in
    216 cells; 84% on FlickrLogos' 105,000, where the kd-trees it replaced found 45%), and its
    distances must be the true ones: it stores the descriptors as 16-bit floats, and the squared
    distances it gives are within 1e-4 of the 32-bit ones (measured 1.7e-5)."""
    import cv2

    from screener.logo.sift import IVF_PROBES, ivf_cells, root_sift

    grey = cv2.cvtColor(_photo("listings/036-genuine-logo.jpg"), cv2.COLOR_RGB2GRAY)
    _, desc = matcher.sift.detectAndCompute(grey, None)
    queries = root_sift(desc)
    references = np.asarray(matcher.ref_descriptors)
    assert matcher.index.nlist == ivf_cells(len(references)) > 1 and matcher.index.nprobe == IVF_PROBES
    squared, found = matcher.index.search(queries, 8)
    exact = ((queries ** 2).sum(1)[:, None] - 2 * queries @ references.T + (references ** 2).sum(1)[None]).argmin(1)
    assert np.mean(found[:, 0] == exact) >= 0.9
    listed = found[:, 0] >= 0
    true = ((queries[listed] - references[found[listed, 0]]) ** 2).sum(1)
    assert np.allclose(squared[listed, 0], true, atol=1e-4)


def _ratio_test_loop(neighbours, distances, owner, brand_of, ratio):
    """The ratio test written descriptor by descriptor, as the matcher ran it until it was done
    on whole arrays: the readable statement of what ``tentative_matches`` must give."""
    tentative: dict[int, list[tuple[int, int, float]]] = {}
    for query, (row, dists) in enumerate(zip(neighbours, distances)):
        found = [(int(t), float(d)) for t, d in zip(row, dists) if t >= 0]
        if not found:
            continue
        brand = brand_of[owner[found[0][0]]]
        other = next((d for t, d in found[1:] if brand_of[owner[t]] != brand), found[-1][1])
        taken: set[int] = set()
        for train, distance in found:
            ref = int(owner[train])
            if brand_of[ref] != brand or distance >= ratio * other:
                break
            if ref not in taken:
                taken.add(ref)
                tentative.setdefault(ref, []).append((train, query, distance))
    out = []
    for ref, matches in tentative.items():
        matches.sort(key=lambda m: m[2])
        seen: set[int] = set()
        unique = [m for m in matches if not (m[0] in seen or seen.add(m[0]))]
        out.append((ref, [m[0] for m in unique], [m[1] for m in unique]))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_the_ratio_test_on_whole_arrays_gives_what_the_loop_gave(seed):
    # A fake neighbour list, not an index: what is under test is the bookkeeping of the ratio
    # test (other-brand denominators, one match per reference, ties, descriptors with fewer
    # neighbours found), which real photos exercise only partly.
    rng = np.random.default_rng(seed)
    references, per_reference, queries, k = 12, 40, 400, 16
    owner = np.repeat(np.arange(references), per_reference).astype(np.int32)
    brand_of = (np.arange(references) // 3).astype(np.int32)  # 3 references per brand: shared descriptors
    neighbours = rng.integers(0, len(owner), (queries, k)).astype(np.int64)
    neighbours[rng.random(queries) < 0.3] = rng.integers(0, 2 * per_reference, k)  # crowd one brand
    distances = np.sort(rng.choice(np.linspace(0.2, 1.0, 40), (queries, k)), axis=1).astype(np.float32)  # ties
    for q in np.nonzero(rng.random(queries) < 0.1)[0]:  # fewer than k found: -1 after the last
        cut = int(rng.integers(0, k))
        neighbours[q, cut:], distances[q, cut:] = -1, np.float32(np.finfo(np.float32).max)
    got = [(ref, train.tolist(), query.tolist())
           for ref, train, query in tentative_matches(neighbours, distances, owner, brand_of, 0.85)]
    assert got == _ratio_test_loop(neighbours, distances, owner, brand_of, 0.85)
    assert sum(len(t) for _, t, _ in got) > 50  # the case is not vacuous
