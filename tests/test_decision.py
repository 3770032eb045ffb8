"""The fitted logo decision (screener/decision.py) and its fitting (screener/train/fit_decision.py):
what the text on a logo's region says, the features, the NumPy evaluation against scikit-learn's,
and loading a model file only when it matches its manifest entry. All on hand-made evidence:
no photo is screened, so these run in about a second."""

from __future__ import annotations

import dataclasses
import json
import math
import random
from pathlib import Path

import numpy as np
import pytest

from screener.brands import Brand, BrandRegistry
from screener.config import Config
from screener.decision import (ALTERED_NAME, EXACT_NAME, FEATURES, INDICATORS, NO_TEXT, OTHER_BRAND, OTHER_TEXT,
                               OTHER_WORD, PIECE, RELATIONS, LogoDecision, Relation, decision_name, features,
                               load_decision, margin, ranks, relate, rivals)
from screener.errors import ModelError
from screener.logo.weights import MODELS_DIR, manifest_entry, read_manifest, sha256_file, update_manifest
from screener.policy import Policy
from screener.textmatch import BrandNameMatcher
from screener.train.fit_decision import choose_margin_floor, fit, main as fit_main, operating_point
from screener.types import LogoHit, ScreenResult, TextHit

BRANDS = [("Veltora", ("Veltora Paris",)), ("Novalux", ())]
MATCHER = BrandNameMatcher(BRANDS)
REGION = (300, 300, 500, 380)
SIZE = (1000, 800)
REFIT = "python -m screener.train.fit_decision"


def hit(brand: str = "Veltora", score: float = 0.9, **kw) -> LogoHit:
    return LogoHit(brand, kw.pop("box", REGION), score, f"logos/{brand.lower()}/logo.png", **kw)


def on_region(text: str, score: float = 0.87) -> TextHit:
    """A word read inside REGION."""
    return TextHit(text, (310, 320, 310 + 20 * len(text), 350), score)


def relation_of(texts: list[TextHit], logo: LogoHit | None = None) -> Relation:
    return relate(logo or hit(), texts, MATCHER(texts), MATCHER)


# --- what the text on the region says ---------------------------------------------------------------
@pytest.mark.parametrize("text, kind, decided_by", [
    ("VELTORA", EXACT_NAME, "VELTORA"),
    ("Veltora Paris", EXACT_NAME, "Veltora"),  # the alias (or its name part) is the brand's own name
    ("NOVALUX", OTHER_BRAND, "NOVALUX"),
    ("N0VALUX", OTHER_BRAND, "N0VALUX"),  # another brand's name altered is still that brand's
    ("VELT0RA", ALTERED_NAME, "VELT0RA"),  # a look-alike digit
    ("VELTOR", ALTERED_NAME, "VELTOR"),  # a dropped letter
    ("VELTO", PIECE, "VELTO"),  # a logo cut where its colour changes: a piece of the name
    ("TORA", PIECE, "TORA"),
    ("LEATHER", OTHER_WORD, "LEATHER"),
    ("Velvet", OTHER_WORD, "Velvet"),  # an ordinary word near the name never counts as it
    ("XQZW", OTHER_TEXT, "XQZW"),
    ("VEL", OTHER_TEXT, "VEL"),  # under half the name: not a piece
    ("12", NO_TEXT, ""),  # no letters
])
def test_the_text_on_a_logo_region_is_classified(text, kind, decided_by):
    relation = relation_of([on_region(text, 0.87)])
    assert (relation.kind, relation.text) == (kind, decided_by)
    assert relation.confidence == pytest.approx(0.87 if kind != NO_TEXT else 0.0)


def test_text_away_from_the_region_says_nothing_about_the_logo():
    far = TextHit("VELTORA", (20, 20, 160, 50), 0.99)
    assert relation_of([far]).kind == NO_TEXT
    assert relation_of([]).kind == NO_TEXT
    # ... while the same word on the region is the exact name
    assert relation_of([far, on_region("VELTORA")]).kind == EXACT_NAME


def test_the_relation_is_to_the_hits_own_brand():
    texts = [on_region("VELTORA")]
    assert relation_of(texts, hit("Veltora")).kind == EXACT_NAME
    assert relation_of(texts, hit("Novalux")).kind == OTHER_BRAND


def test_an_exact_name_outranks_other_readings_on_the_region():
    # The exact name and an altered second reading on one region: the exact one decides.
    texts = [on_region("VELTORA", 0.80), TextHit("VELT0RA", (310, 352, 450, 378), 0.95)]
    relation = relation_of(texts)
    assert (relation.kind, relation.text) == (EXACT_NAME, "VELTORA")
    assert relation.confidence == pytest.approx(0.80)


# --- the features ------------------------------------------------------------------------------------
def col(name: str) -> int:
    return FEATURES.index(name)


@pytest.mark.parametrize("kind", RELATIONS)
def test_the_relation_is_one_hot_with_its_confidence(kind):
    x = features(hit(), Relation(kind, "x", 0.7), SIZE)
    assert x.shape == (len(FEATURES),)
    onehot = {r: x[col(f"text_{r}")] for r in RELATIONS}
    assert onehot == {r: (1.0 if r == kind else 0.0) for r in RELATIONS}
    assert x[col("text_confidence")] == pytest.approx(0.7)


def test_features_measure_what_the_stages_measured():
    # 200x80 on 1000x800: 2% of the photo; score 0.99 is -log10(0.01) = 2 on the spread scale
    x = features(hit(score=0.99, inliers=19, agreement=0.6, median_agreement=0.8, alignment=0.93),
                 Relation(EXACT_NAME, "VELTORA", 0.9), SIZE, rank=3, margin=-0.05)
    assert x[col("network")] == pytest.approx(0.99)
    assert x[col("network_log")] == pytest.approx(2.0)
    assert x[col("rank_log")] == pytest.approx(math.log(4))
    assert x[col("margin")] == pytest.approx(-0.05)
    assert x[col("share_log")] == pytest.approx(math.log10(0.02))
    assert x[col("inliers_log")] == pytest.approx(math.log(20))
    assert (x[col("worst_cell")], x[col("median_cell")]) == pytest.approx((0.6, 0.8))
    assert (x[col("aligned")], x[col("alignment")]) == pytest.approx((1.0, 0.93))


def test_fields_a_stage_did_not_fill_are_zero_and_extremes_stay_finite():
    # agreement without inliers is not a verification: its cells count 0
    x = features(hit(score=1.0, agreement=0.7, median_agreement=0.9), Relation(NO_TEXT, "", 0.0), None)
    assert np.isfinite(x).all()
    assert x[col("network_log")] == pytest.approx(5.0)  # capped, not infinite
    assert x[col("share_log")] == pytest.approx(-4.0)  # no size: the floor
    assert (x[col("worst_cell")], x[col("median_cell")], x[col("aligned")], x[col("inliers_log")]) == (0, 0, 0, 0)


def test_rank_counts_other_brands_scored_higher():
    logos = [hit("Veltora", 0.9), hit("Novalux", 0.95), hit("Novalux", 0.5), hit("Veltora", 0.99)]
    assert ranks(logos) == [1, 1, 2, 0]


def test_the_margin_is_over_the_best_other_brand_counted_from_the_floor():
    logos = [hit("Veltora", 0.9), hit("Novalux", 0.7), hit("Novalux", 0.5), hit("Kyrane", 0.3)]
    assert rivals(logos) == [0.7, 0.9, 0.9, 0.9]
    assert rivals([hit("Veltora", 0.9)]) == [-1.0]  # no other brand: nothing to be mistaken for
    assert margin(0.9, 0.7, floor=0.5) == pytest.approx(0.2)
    assert margin(0.5, 0.9, floor=0.5) == pytest.approx(-0.4)  # a brand scored under another's
    # rivals under the floor count as the floor, so a stage that reports from the floor (screening)
    # gives the same margin as one that reports every brand (the evidence fitted on)
    assert margin(0.9, 0.3, floor=0.6) == margin(0.9, -1.0, floor=0.6) == pytest.approx(0.3)


# --- fitting, and evaluating with NumPy ----------------------------------------------------------------
def examples(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows of hand-made hits, real text read on some of them: genuine marks score higher,
    read their name and verify more often than chance hits (with overlap, so the fit is not
    separable)."""
    rng = random.Random(seed)
    words = {1: ["VELTORA", "VELTO", "VELT0RA", ""], 0: ["LEATHER", "NOVALUX", "", ""]}  # never other text
    xs, ys = [], []
    for i in range(n):
        y = i % 2
        score = min(0.999, max(0.05, rng.gauss(0.85 if y else 0.6, 0.12)))
        inliers = rng.choice([0, 0, 12, 30]) if y else rng.choice([0, 0, 0, 9])
        h = hit(score=score, inliers=inliers, agreement=rng.uniform(0.3, 0.9), median_agreement=rng.uniform(0.5, 1),
                box=(300, 300, 300 + rng.randint(40, 400), 300 + rng.randint(30, 300)))
        word = rng.choice(words[y])
        texts = [on_region(word, rng.uniform(0.6, 1.0))] if word else []
        xs.append(features(h, relate(h, texts, MATCHER(texts), MATCHER), SIZE, rng.choice([0, 0, 1, 4])))
        ys.append(y)
    return np.asarray(xs), np.asarray(ys)


@pytest.fixture(scope="module")
def fitted() -> tuple[LogoDecision, np.ndarray, np.ndarray]:
    x, y = examples(80, seed=1)
    return fit(x, y), x, y


def test_numpy_evaluation_equals_scikit_learns(fitted):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    decision, x, y = fitted
    # scikit-learn's own standardise-then-regress, with the fitting's settings, on the same rows:
    # measured features standardised, the 0 / 1 indicators (the text relations) passed as they are
    indicator = [col(name) for name in INDICATORS]
    assert all(set(np.unique(x[:, j])) <= {0.0, 1.0} for j in indicator)
    columns = ColumnTransformer([("indicators", "passthrough", indicator)], remainder=StandardScaler())
    reference = make_pipeline(columns, LogisticRegression(C=1.0, max_iter=5000, random_state=0)).fit(x, y)
    unseen, _ = examples(30, seed=2)
    for rows in (x, unseen):
        np.testing.assert_allclose(decision.probability(rows), reference.predict_proba(rows)[:, 1], atol=1e-6)
    # one vector gives one float, the same as its row
    assert isinstance(decision.probability(unseen[0]), float)
    assert decision.probability(unseen[0]) == pytest.approx(decision.probability(unseen)[0])


def test_the_fit_learns_genuine_from_chance_hits(fitted):
    decision, x, y = fitted
    p = decision.probability(x)
    assert p[y == 1].mean() > p[y == 0].mean() + 0.3
    assert decision.coef[col("network")] > 0 and decision.coef[col("text_other_brand")] < 0


def test_a_text_relation_met_once_cannot_outweigh_the_network():
    """One genuine hit among 400 whose text read as an altered name (an OCR misread on a real
    logo) must not teach the decision that an altered name makes a mark genuine: fitted 0 / 1,
    the relation's weight stays small, so another weak network hit with an altered name read on
    it stays far under P = 0.5. Standardised, that one row made the relation a 20-sigma feature
    whose weight the penalty barely sees (on the dev photos: +10 logits, and the sample
    listings' altered names passed as genuine marks; BENCHMARKS.md, "The margin over the best
    other brand")."""
    x, y = examples(400, seed=4)
    x[:, col("text_altered")] = 0.0
    lone = int(np.nonzero(y == 1)[0][0])  # a genuine mark the network scored low, its name misread
    x[lone] = features(hit(score=0.3), Relation(ALTERED_NAME, "VELT0RA", 0.9), SIZE)
    decision = fit(x, y)
    assert decision.scale[col("text_altered")] == 1.0 and decision.mean[col("text_altered")] == 0.0
    assert abs(decision.coef[col("text_altered")]) < 1.5  # logits (standardised: 6.2 here)
    altered = features(hit(score=0.35), Relation(ALTERED_NAME, "VELT0RA", 0.85), SIZE)
    assert decision.probability(altered) < 0.3  # (standardised: 0.99)


def test_a_feature_that_never_varies_does_not_break_the_fit(fitted):
    decision, x, _ = fitted
    constant = col("text_other_text")  # no example reads other text
    assert np.ptp(x[:, constant]) == 0
    assert decision.scale[constant] == 1.0 and np.isfinite(decision.coef).all()


def test_the_decision_round_trips_through_json(fitted):
    decision, x, _ = fitted
    again = LogoDecision.from_dict(json.loads(json.dumps(decision.to_dict())))
    np.testing.assert_array_equal(again.probability(x), decision.probability(x))
    assert (again.threshold, again.network, again.min_score, again.margin_floor) == (
        decision.threshold, decision.network, decision.min_score, decision.margin_floor)


# --- loading: the file must match its manifest entry -------------------------------------------------
def ship(folder: Path, decision: LogoDecision, network: str = "logo-embed") -> Path:
    """Write a decision and its manifest entry the way the fitting command does."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{decision_name(network)}.json"
    path.write_text(json.dumps(decision.to_dict()), encoding="utf-8")
    update_manifest(folder / "manifest.toml", {"name": decision_name(network), "kind": "logo-decision",
                                               "file": path.name, "sha256": sha256_file(path)})
    return path


def test_a_shipped_decision_loads(tmp_path, fitted):
    decision, x, _ = fitted
    ship(tmp_path, decision)
    loaded = load_decision("logo-embed", tmp_path)
    np.testing.assert_array_equal(loaded.probability(x), decision.probability(x))


def test_a_changed_model_file_is_refused_naming_it(tmp_path, fitted):
    decision, _, _ = fitted
    path = ship(tmp_path, decision)
    data = json.loads(path.read_text())
    data["intercept"] += 3.0  # a plausible edit: still a valid decision, just not the fitted one
    path.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="does not match its manifest") as info:
        load_decision("logo-embed", tmp_path)
    assert str(path) in str(info.value) and REFIT in str(info.value)


def test_a_missing_model_file_is_refused_naming_it(tmp_path, fitted):
    path = ship(tmp_path, fitted[0])
    path.unlink()
    with pytest.raises(ModelError, match="missing") as info:
        load_decision("logo-embed", tmp_path)
    assert str(path) in str(info.value)


def test_no_decision_for_the_network_says_how_to_fit_one(tmp_path, fitted):
    ship(tmp_path, fitted[0], network="logo-embed")
    with pytest.raises(ModelError, match="'logo-trunk-head'") as info:
        load_decision("logo-trunk-head", tmp_path)
    assert REFIT in str(info.value) and 'policy.logo_decision = "rules"' in str(info.value)


@pytest.mark.parametrize("damage, message", [
    (lambda d: {**d, "features": d["features"][:-1]}, "refit it with `python -m screener.train.fit_decision`"),
    (lambda d: {**d, "coef": d["coef"][:-1]}, "one value per feature"),
    (lambda d: {k: v for k, v in d.items() if k != "threshold"}, "cannot be read"),
    (lambda d: {k: v for k, v in d.items() if k != "margin_floor"}, "cannot be read"),
])
def test_a_file_that_matches_its_manifest_but_not_this_version_is_refused(tmp_path, fitted, damage, message):
    decision, _, _ = fitted
    path = ship(tmp_path, decision)
    path.write_text(json.dumps(damage(decision.to_dict())))
    update_manifest(tmp_path / "manifest.toml", {"name": decision_name("logo-embed"), "kind": "logo-decision",
                                                 "file": path.name, "sha256": sha256_file(path)})
    with pytest.raises(ModelError, match=message):
        load_decision("logo-embed", tmp_path)


# --- the policy with policy.logo_decision = "fitted" ---------------------------------------------------
@pytest.fixture()
def models_without_decisions(tmp_path, monkeypatch) -> Path:
    """The shipped manifest without any fitted decision, as the package folder. The folder is
    redirected (MODELS_DIR is where load_decision looks by default) so this pins "none shipped"
    whether or not a decision is shipped later; screener/models/ is only read."""
    folder = tmp_path / "models"
    folder.mkdir()
    kept = [e for e in read_manifest(MODELS_DIR) if e.get("kind") != "logo-decision"]
    update_manifest(folder / "manifest.toml", kept[0])
    for entry in kept[1:]:
        update_manifest(folder / "manifest.toml", entry)
    monkeypatch.setattr("screener.logo.weights.MODELS_DIR", folder)
    return folder


# The decision mechanism with logo-embed (the network these tests ship a decision for by name).
EMBED = Config().replace(logo__model="logo-embed")
FITTED = EMBED.replace(policy__logo_decision="fitted")


def test_fitted_without_a_shipped_decision_is_a_clear_error(tmp_path, models_without_decisions):
    registry = BrandRegistry(tmp_path / "reg", [Brand("Veltora")])
    with pytest.raises(ModelError) as info:
        Policy(registry, FITTED)
    message = str(info.value)
    assert "'logo-embed'" in message and REFIT in message and "\n" not in message


def test_fitted_uses_the_shipped_decision(tmp_path, models_without_decisions):
    # A hand-made decision on the network score alone: P = 0.5 at score 0.7, operating point 0.5.
    coef = np.zeros(len(FEATURES))
    coef[col("network")] = 20.0
    decision = LogoDecision(FEATURES, np.zeros(len(FEATURES)), np.ones(len(FEATURES)), coef, -14.0, 0.5)
    ship(models_without_decisions, decision)
    policy = Policy(BrandRegistry(tmp_path / "reg", [Brand("Veltora"), Brand("Novalux")]), FITTED)
    assert policy.decision is not None and policy.decision.threshold == 0.5
    assert [m.brand for m in policy([], [hit(score=0.75)], SIZE).brands] == ["Veltora"]
    assert policy([], [hit(score=0.65)], SIZE).brands == ()
    # a rule of meaning comes first: a region reading another brand's name is not this brand's mark
    assert "Veltora" not in {m.brand for m in policy([on_region("NOVALUX")], [hit(score=0.99)], SIZE).brands}


def test_a_fitted_decision_has_the_logo_stage_report_hits_from_its_own_floor(tmp_path):
    """The decision was fitted on hits from ``min_score`` up (the evidence's stage reported every
    brand's best region); screening with it, the stage must report them too, not only from the
    rules' near_threshold (0.9993), or the decision never sees the hits it would accept."""
    from helpers import REPO
    from screener.pipeline import Screener

    registry = BrandRegistry.load(REPO / "sample_images" / "brands")
    decision = LogoDecision(FEATURES, np.zeros(len(FEATURES)), np.ones(len(FEATURES)), np.zeros(len(FEATURES)),
                            0.0, threshold=0.5, min_score=0.6, margin_floor=0.7)
    config = FITTED.replace(ocr__engine="none", logo__cache_dir=str(tmp_path))
    fitted = Screener(registry, config, policy=Policy(registry, config, decision=decision))
    assert fitted.logo.point.near_threshold == 0.6
    # rivals are counted from the margin floor: under the lowest accepted score, it is the floor
    counting = dataclasses.replace(decision, margin_floor=0.5)
    screener = Screener(registry, config, policy=Policy(registry, config, decision=counting))
    assert screener.logo.point.near_threshold == 0.5
    rules = Screener(registry, EMBED.replace(ocr__engine="none", logo__cache_dir=str(tmp_path),
                                             policy__logo_decision="rules"))
    assert rules.logo.point.near_threshold == EMBED.logo.point.near_threshold > 0.99


def test_the_fitted_decision_judges_network_hits_and_geometry_judges_its_own(tmp_path):
    """Per source: a decision that accepts nothing still leaves a keypoint-verified mark and an
    alignment agreeing everywhere genuine (geometry's thresholds), while a network-only hit at
    any score is the decision's to accept. The dev photos hold too few geometry hits to fit
    on (none by alignment)."""
    registry = BrandRegistry(tmp_path / "reg", [Brand("Veltora"), Brand("Novalux")])
    never = LogoDecision(FEATURES, np.zeros(len(FEATURES)), np.ones(len(FEATURES)), np.zeros(len(FEATURES)),
                         -20.0, threshold=0.5)
    policy = Policy(registry, FITTED, decision=never)
    point = EMBED.logo.point
    verified = hit(score=0.3, inliers=point.min_inliers + 10, agreement=0.95, median_agreement=0.97)
    aligned = hit(score=0.85, alignment=point.align_genuine + 0.05, agreement=point.align_agreement + 0.03)
    assert verified.source == "keypoints" and aligned.source == "alignment"
    for geometry in (verified, aligned):
        assert [m.brand for m in policy([], [geometry], SIZE).brands] == ["Veltora"]
    assert policy([], [hit(score=0.99999)], SIZE).brands == ()
    always = dataclasses.replace(never, intercept=20.0)
    assert [m.brand for m in Policy(registry, FITTED, decision=always)([], [hit(score=0.7)], SIZE).brands] == ["Veltora"]



def test_an_alignment_that_confirms_nothing_leaves_the_region_to_the_decision(tmp_path):
    """The stage reports an alignment in place of its brand's network hit. One that geometry
    neither confirms (a part disagrees) nor flags (under ``align_near``) is no evidence of its
    own: the fitted decision judges the hit on the network's score, as if it had not been
    aligned. Before, geometry judged it alone and dropped it, and the network's mark was lost."""
    registry = BrandRegistry(tmp_path / "reg", [Brand("Veltora"), Brand("Novalux")])
    coef = np.zeros(len(FEATURES))
    coef[FEATURES.index("network")] = 10.0  # P(genuine) rises with the network's score alone
    decision = LogoDecision(FEATURES, np.zeros(len(FEATURES)), np.ones(len(FEATURES)), coef, -5.0, threshold=0.5)
    policy = Policy(registry, FITTED, decision=decision)
    point = EMBED.logo.point
    assert point.align_near > 1.0  # the imitation band is closed: an alignment either confirms or not
    unconfirmed = hit(score=0.9, alignment=point.align_genuine + 0.05, agreement=point.align_agreement - 0.3)
    assert unconfirmed.source == "alignment" and not policy.geometry_genuine(unconfirmed, [], [])
    decided = policy([], [unconfirmed], SIZE)
    assert [m.brand for m in decided.brands] == ["Veltora"]
    # the result lists it as what it was judged as: the network's hit, no alignment claimed
    [listed] = decided.logos
    assert listed.source == "network" and listed.box == unconfirmed.box and listed.score == 0.9
    # judged by the network's score, a weak one is not a mark ...
    assert policy([], [dataclasses.replace(unconfirmed, score=0.3)], SIZE).brands == ()
    # ... and the decision's fit and street count see it as a network hit too
    assert [h.source for h in policy.seen([unconfirmed])] == ["network"]

def test_the_street_budget_counts_a_geometry_mark_at_every_threshold(tmp_path):
    """A keypoint-verified hit on a street photo is a false mark whatever the decision's
    threshold (geometry's thresholds mark it), so it spends the budget before any network-only
    hit may: with 1 false mark per 100 photos allowed, the point rises above every network hit.
    Judged by its own weak network score instead, it would leave room for the surest network
    hit."""
    registry = BrandRegistry(tmp_path / "reg", [Brand("Veltora"), Brand("Novalux")])
    coef = np.zeros(len(FEATURES))
    coef[FEATURES.index("network")] = 10.0  # P(genuine) rises with the network's score alone
    decision = LogoDecision(FEATURES, np.zeros(len(FEATURES)), np.ones(len(FEATURES)), coef, -5.0, threshold=0.5)
    policy = Policy(registry, FITTED, decision=decision)

    def street(i: int, logos: list[LogoHit]) -> dict:
        result = ScreenResult(path=f"icdar/{i}.jpg", sha256="0" * 64, status="ok", error=None, verdict="clear",
                              risk=0.0, texts=(), logos=tuple(logos), size=SIZE)
        return {"photo": result.path, "group": "street", "result": result}

    verified = hit("Veltora", 0.3, inliers=EMBED.logo.point.min_inliers + 10)
    assert policy.geometry_genuine(verified, [], [])
    lines = [street(0, [verified])]
    lines += [street(i, [hit("Novalux", 0.5 + 0.08 * i)]) for i in range(1, 6)]
    lines += [street(i, []) for i in range(6, 100)]
    surest = decision.probability(features(hit("Novalux", 0.5 + 0.08 * 5), Relation(NO_TEXT, "", 0.0), SIZE))
    assert operating_point(lines, policy, max_false=1.0) > surest


# --- the refit command, end to end on gathered evidence ------------------------------------------------
def evidence_line(photo: str, group: str, half: str, truth: list[str], logos: list[LogoHit],
                  texts: tuple[TextHit, ...] = ()) -> dict:
    result = ScreenResult(path=photo, sha256="0" * 64, status="ok", error=None, verdict="clear", risk=0.0,
                          texts=tuple(texts), logos=tuple(logos), size=SIZE)
    return {"photo": photo, "group": group, "half": half, "truth": truth, "result": result.to_dict()}


def test_the_refit_command_writes_a_decision_that_loads(tmp_path, capsys):
    rng = random.Random(3)
    lines = []
    for half in ("fit", "report"):
        for i in range(24):  # brand photos: the brand's logo scored high, another brand's low
            lines.append(evidence_line(f"{half}/brand{i}.jpg", "trained", half, ["Veltora"], [
                hit("Veltora", rng.uniform(0.7, 0.99), inliers=rng.choice([0, 15])),
                hit("Novalux", rng.uniform(0.2, 0.75), box=(40, 40, 200, 120))]))
        for i in range(20):  # logo-free street photos: chance hits
            lines.append(evidence_line(f"icdar/{half}{i}.jpg", "street", half, [],
                                       [hit(rng.choice(["Veltora", "Novalux"]), rng.uniform(0.2, 0.8))],
                                       [on_region("LEATHER")] if i % 3 == 0 else []))
    cache, models = tmp_path / "cache", tmp_path / "models"
    cache.mkdir()
    (cache / "evidence-logo-embed.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))

    assert fit_main(["--flickr", str(tmp_path / "unused"), "--fit-only", "--cache", str(cache),
                     "--models", str(models), "--set", "logo.model=logo-embed"]) == 0
    report = json.loads(capsys.readouterr().out)
    loaded = load_decision("logo-embed", models)  # the manifest entry written matches the file
    assert loaded.network == "logo-embed" and 0.0 < loaded.threshold <= 1.0
    # one row per network-only hit of the fitting half: keypoint hits are geometry's to judge
    network_only = sum(1 for line in lines if line["half"] == "fit" for h in line["result"]["logos"]
                       if not h["inliers"] and not h["alignment"])
    assert 24 + 20 <= network_only < 24 * 2 + 20  # some of the brand photos' hits were verified
    assert loaded.threshold == report["threshold"] and report["hits"]["fit"] == network_only
    # the operating point's promise: at most --max-false (1) false marks per 100 fitting street photos
    assert report["fit"]["fitted"]["street"]["false_marks_per_100"] <= 1.0
    assert report["fit"]["fitted"]["trained"]["recall"] > 0.5
    # the manifest records the whole screener's numbers on the reporting half beside the decision
    metrics = manifest_entry("decision-logo-embed", models)["metrics"]
    assert metrics["report_heldout_recall"] == report["report"]["fitted"]["heldout"]["recall"]
    assert metrics["report_trained_precision"] == report["report"]["fitted"]["trained"]["precision"]
    # the report compares the two decisions on the reporting half at the rules' false-mark rate
    equal = report["report_at_equal_false_marks"]
    assert (equal["fitted"]["street"]["false_marks_per_100"]
            <= equal["rules"]["street"]["false_marks_per_100"])


def test_the_margin_floor_is_fitted_under_the_rivals_that_tell_marks_from_guesses():
    """Genuine marks and chance hits score alike (0.6-0.8); a genuine mark's rivals score low
    (0.1-0.4), a chance hit has another brand scored nearly as high. A floor over the rivals
    (the top deciles of the hits' scores) counts none of them and loses what tells the two apart;
    the fit picks a floor under them, and with it the decision separates the two."""
    rng = random.Random(7)
    info, y = [], []
    for i in range(200):
        genuine = i % 2
        score = rng.uniform(0.6, 0.8)
        rival = rng.uniform(0.1, 0.4) if genuine else score - rng.uniform(0.0, 0.05)
        info.append({"photo": f"p{i}", "score": score, "rival": rival})
        y.append(genuine)
    y = np.asarray(y)
    x = np.asarray([features(hit(score=i["score"]), Relation(NO_TEXT, "", 0.0), SIZE) for i in info])
    floor, losses = choose_margin_floor(x, y, info)
    assert losses[floor] == min(losses.values()) and floor < 0.6
    assert losses[floor] < 0.5 * losses[max(losses)]  # a floor over every rival: no margin to learn from
    from screener.train.fit_decision import with_margin_floor

    decision = fit(with_margin_floor(x, info, floor), y, margin_floor=floor)
    p = decision.probability(with_margin_floor(x, info, floor))
    assert decision.margin_floor == floor and p[y == 1].min() > p[y == 0].max()


def test_out_of_fold_probabilities_come_from_models_that_never_saw_the_photo():
    """The operating point is chosen on probabilities a photo gets from a model fitted without
    it: each photo's policy is one of the fold models, and a photo's fold model differs from the
    one fitted on everything."""
    from screener.train.fit_decision import out_of_fold_policies

    x, y = examples(80, seed=5)
    info = [{"photo": f"p{i // 2}"} for i in range(len(y))]  # two hits per photo
    lines = [{"photo": f"p{k}"} for k in range(40)]
    policies = out_of_fold_policies(lines, x, y, info, ["Veltora", "Novalux"], Config(), c=1.0, folds=4)
    assert set(policies) == {f"p{k}" for k in range(40)}
    assert len({id(p) for p in policies.values()}) == 4
    everything = fit(x, y)
    rows = [i for i, row in enumerate(info) if row["photo"] == "p0"]
    own = policies["p0"].decision
    assert not np.allclose(own.probability(x[rows]), everything.probability(x[rows]))


def test_a_result_lists_the_logo_hits_the_decision_counted(tmp_path):
    """With the fitted decision the stage reports every brand's hits from 0.65; a result line
    (JSONL, CSV, report boxes) lists only the hits that became a mark, unless the caller asks for
    all (fitting and benchmarks). The logo stage here is a fixed list of hits (a stand-in, so the
    test is about what the Screener keeps, not about what a network finds)."""
    from helpers import REPO
    from screener.pipeline import Screener

    registry = BrandRegistry(tmp_path / "reg", [Brand("Veltora"), Brand("Novalux")])
    counted = hit("Veltora", score=0.9, inliers=30, agreement=0.95, median_agreement=0.97)
    rejected = hit("Novalux", score=0.66, box=(10, 10, 60, 60))

    def stage(pixels, texts=()):  # noqa: ANN001, ANN202
        return (counted, rejected)

    config = Config().replace(ocr__engine="none")
    photo = REPO / "sample_images" / "listings" / "000-clean.jpg"
    result = Screener(registry, config, logo=stage).screen_file(photo)
    assert [h.brand for h in result.logos] == ["Veltora"] and [m.brand for m in result.brands] == ["Veltora"]
    everything = Screener(registry, config, logo=stage, all_logos=True).screen_file(photo)
    assert [h.brand for h in everything.logos] == ["Veltora", "Novalux"]
    assert everything.brands == result.brands


def test_a_minimum_precision_raises_the_operating_point_past_wrong_brands_on_logo_photos(tmp_path, capsys):
    """The street rule counts logo-free photos only. A network that takes a logo photo's
    background for another brand (here: on a third of the brand photos the real mark is missed
    and another brand scores as high as real marks often do, while street photos only draw low
    chance scores) names wrong brands the street rule never sees; ``--min-precision`` raises the
    point until the fitting half's brand photos are marked right that often."""
    rng = random.Random(5)
    lines = []
    for half in ("fit", "report"):
        for i in range(30):
            logos = [hit("Veltora", rng.uniform(0.6, 0.99)) if i % 3 else  # or the background taken
                     hit("Novalux", rng.uniform(0.5, 0.7))]                 # for another brand
            lines.append(evidence_line(f"{half}/brand{i}.jpg", "trained", half, ["Veltora"], logos))
        for i in range(20):
            lines.append(evidence_line(f"icdar/{half}{i}.jpg", "street", half, [],
                                       [hit(rng.choice(["Veltora", "Novalux"]), rng.uniform(0.2, 0.5))]))
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "evidence-logo-embed.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))

    def refit(*extra: str) -> dict:
        assert fit_main(["--flickr", str(tmp_path / "unused"), "--fit-only", "--cache", str(cache),
                         "--models", str(tmp_path / "models"), "--set", "logo.model=logo-embed", *extra]) == 0
        return json.loads(capsys.readouterr().out)

    streets_only = refit()
    precise = refit("--min-precision", "0.95")
    assert streets_only["fit"]["fitted"]["trained"]["precision"] < 0.95  # the case exists here
    assert precise["threshold"] > streets_only["threshold"]
    assert precise["fit"]["fitted"]["trained"]["precision"] >= 0.95
    # not bought by naming nothing: most of the right marks stay (measured 0.50 -> 0.37)
    assert precise["fit"]["fitted"]["trained"]["recall"] > 0.5 * streets_only["fit"]["fitted"]["trained"]["recall"]
    assert "precision >= 0.95" in load_manifest_rule(tmp_path / "models")


def load_manifest_rule(models) -> str:
    from screener.logo.weights import manifest_entry

    return manifest_entry("decision-logo-embed", models)["operating_point_rule"]
