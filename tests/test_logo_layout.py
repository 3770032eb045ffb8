"""The layout score: reference cells correlated in place with a photo's trunk cells."""

from __future__ import annotations

import cv2
import numpy as np

from screener.logo.layout import LayoutScorer, correlate, reference_image, template
from screener.logo.pixels import LogoFile
from screener.logo.trunk import PooledRegions, load_trunk

TRUNK = "trunk-effnet-lite0"


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_correlate_is_the_best_placement_of_the_template_by_brute_force():
    rng = np.random.default_rng(0)
    cells = _unit(rng.normal(size=(7, 9, 5)).astype(np.float32))
    templ = _unit(rng.normal(size=(3, 4, 5)).astype(np.float32))
    brute = max(float(np.mean(np.sum(cells[y:y + 3, x:x + 4] * templ, axis=2)))
                for y in range(7 - 3 + 1) for x in range(9 - 4 + 1))
    assert abs(correlate(cells, templ) - brute) < 1e-5
    # Placed into the photo's cells, the template scores 1 there.
    cells[2:5, 4:8] = templ
    assert abs(correlate(cells, templ) - 1.0) < 1e-5
    # A template wider than the photo's map does not fit anywhere.
    assert correlate(cells[:, :3], templ) == -1.0


def _emblem(colour: tuple[int, int, int]) -> np.ndarray:
    mark = np.full((120, 200, 3), 255, np.uint8)
    cv2.circle(mark, (55, 60), 42, colour, -1)
    cv2.rectangle(mark, (110, 30), (190, 50), colour, -1)
    cv2.rectangle(mark, (110, 70), (160, 90), colour, -1)
    return mark


def _word(text: str) -> np.ndarray:
    mark = np.full((120, 200, 3), 255, np.uint8)
    cv2.putText(mark, text, (8, 84), cv2.FONT_HERSHEY_SIMPLEX, 2.2, (0, 0, 0), 6)
    return mark


def _png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))[1].tobytes()


def test_a_printed_mark_scores_its_own_layout_over_other_marks_at_any_of_the_stages_scales():
    """Real trunk: a registered emblem printed into a noisy photo at two sizes is laid out like
    its own reference, more than like two other marks; the scorer reads the photo's maps the
    stage has already computed (``PooledRegions.cell_maps``)."""
    trunk = load_trunk(TRUNK, threads=1)
    files = [LogoFile(_png(_emblem((20, 60, 200))), "Orbis", "orbis.png"),
             LogoFile(_png(_word("ZQX")), "Zeqa", "zeqa.png"),
             LogoFile(_png(_emblem((20, 60, 200))[:, ::-1]), "Mirro", "mirro.png")]  # the same parts, mirrored
    scorer = LayoutScorer(trunk, files, [0, 1, 2])
    rng = np.random.default_rng(3)
    for size in ((150, 250), (300, 500)):  # pooled at different scales of the stage
        photo = rng.integers(90, 170, (480, 640, 3), dtype=np.uint8)
        photo[100:100 + size[0], 60:60 + size[1]] = cv2.resize(_emblem((20, 60, 200)), size[::-1])
        regions = PooledRegions(trunk, photo, (1.0, 0.5, 0.25), 128.0)
        scores = scorer.scores(regions.cell_maps(), [0, 1, 2])
        assert scores[0] > scores[1] + 0.1, (size, scores)
        assert scores[0] > scores[2] + 0.1, (size, scores)  # where the parts are counts, not only which


def test_a_transparent_reference_is_trimmed_to_its_mark_on_white():
    rgb = np.zeros((100, 160, 3), np.uint8)
    alpha = np.zeros((100, 160), np.uint8)
    alpha[20:60, 30:130] = 255
    rgb[20:60, 30:130] = (200, 0, 0)
    out = reference_image(rgb, alpha)
    assert out.shape == (40, 100, 3) and (out == (200, 0, 0)).all()
    trunk = load_trunk(TRUNK, threads=1)
    cells = template(trunk, out)
    assert cells.shape[:2] == (4, 10)  # 160 px long side, 16 px cells, the aspect kept
    assert np.allclose(np.linalg.norm(cells, axis=2), 1.0, atol=1e-4)


def test_the_default_stage_adds_its_best_brands_layout_scores_to_theirs(tmp_path):
    """The shipped network (``layout_weight`` 1, the best brand) in the real logo stage: the
    printed mark's brand carries its layout score, and its score is the window score plus that; the
    stage's fingerprint says so, so stored scan results made without it are not reused."""
    from screener.brands import BrandRegistry
    from screener.config import Config
    from screener.logo.matcher import build_logo_stage

    registry = BrandRegistry(tmp_path / "brands")
    for name, logo in (("Orbis", _emblem((20, 60, 200))), ("Zeqa", _word("ZQX"))):
        path = tmp_path / f"{name}.png"
        cv2.imwrite(str(path), cv2.cvtColor(logo, cv2.COLOR_RGB2BGR))
        registry.add(name, logos=[path])
    registry.save()
    photo = np.random.default_rng(5).integers(90, 170, (480, 640, 3), dtype=np.uint8)
    photo[150:330, 200:500] = cv2.resize(_emblem((20, 60, 200)), (300, 180))
    config = Config().replace(logo__verifiers=(), logo__operating_point={"near_threshold": 0.0})
    stage = build_logo_stage(BrandRegistry.load(registry.root), config, threads=1)
    assert stage.layout_weight == 1.0 and stage.layout_brands == 1 and ":layout1.0x1" in stage.fingerprint
    laid = {h.brand: h for h in stage(photo)}
    stage.layout_weight = 0.0  # the same stage without the layout term
    pooled = {h.brand: h for h in stage(photo)}
    assert laid["Orbis"].layout > 0.3 and ("Zeqa" not in laid or laid["Zeqa"].layout == 0.0)  # the best brand only
    assert abs(laid["Orbis"].score - (pooled["Orbis"].score + laid["Orbis"].layout)) < 1e-5
    assert laid["Orbis"].box == pooled["Orbis"].box and pooled["Orbis"].layout == 0.0
