"""The fitted logo decision: P(genuine mark of this brand) for one (brand, region) logo hit.

Every logo hit becomes one feature vector (:func:`features`) of what the stages measured there:

- the logo network's calibrated score (as is, and as ``-log10(1 - score)``, which spreads the
  scores near 1 where genuine and chance matches differ);
- the other brands' hits on the photo: how many scored higher (:func:`ranks`), and the hit's
  margin over the best of them (:func:`margin`);
- the share of the photo the region covers (``log10``; :func:`screener.geometry.share`);
- keypoint verification: ``log(1 + SIFT inliers)``, the worst and the median cell agreement;
- direct alignment: whether the reference aligned, its correlation;
- how the OCR text read on the region relates to the brand (:func:`relate`): its exact name, a
  piece of it, an altered form, another brand's name, another ordinary word, other text, none;
  and the OCR engine's confidence in that text.

A logistic regression over the features (standardised, indicators left 0 / 1) gives the
probability; its coefficients, the standardisation and the operating point (the probability
chosen on the dev fitting half for at most one false brand mark per 100 street photos, raised
until the fitting half's logo photos are marked with precision 0.95) are stored in
``screener/models/`` as JSON with a manifest entry (``decision-<logo model>``), checked by
sha256. They are evaluated here with NumPy alone; fitting needs scikit-learn
(``python -m screener.train.fit_decision``, the ``train`` extra). The features depend on the
logo network's scores, so each network has its own fitted decision, refitted by that one
command.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import ModelError
from .geometry import along, inside, share
from .textmatch import BrandNameMatcher, NameMatch, fold
from .types import LogoHit, TextHit

# How the text read on a hit's region relates to the hit's brand, in the order they are tried.
EXACT_NAME = "exact"  # the brand's registered name or an alias
OTHER_BRAND = "other_brand"  # another registered brand's name, exact or altered
ALTERED_NAME = "altered"  # an altered form of the brand's name (the text matcher's rules)
PIECE = "piece"  # 3+ letters, at least half of the brand's name, inside it ("inte" of Intel)
OTHER_WORD = "other_word"  # plainly another word (BrandNameMatcher.other_word)
OTHER_TEXT = "other_text"  # some other text of 3+ letters
NO_TEXT = "none"
RELATIONS = (EXACT_NAME, OTHER_BRAND, ALTERED_NAME, PIECE, OTHER_WORD, OTHER_TEXT, NO_TEXT)

FEATURES = ("network", "network_log", "rank_log", "margin", "share_log", "inliers_log", "worst_cell", "median_cell",
            "aligned", "alignment", *(f"text_{r}" for r in RELATIONS), "text_confidence")
INDICATORS = frozenset({"aligned", *(f"text_{r}" for r in RELATIONS)})  # 0 / 1 features, fitted unscaled


@dataclass(frozen=True)
class Relation:
    """What the OCR text on a hit's region says about the hit's brand."""

    kind: str  # one of RELATIONS
    text: str  # the text that decided it ("" for NO_TEXT)
    confidence: float  # the OCR engine's confidence in that text (0 for NO_TEXT)


def _on_region(box: Sequence[int], region: Sequence[int]) -> bool:
    """Text lies on the region: mostly inside it, or the region lies along the text's line (a
    wordmark matched on a few letters of a longer word)."""
    return inside(box, region) >= 0.6 or along(region, box)


def is_piece(word: str, name: str) -> bool:
    """``word`` (folded) is a piece of ``name`` (folded): 3+ letters, at least half of it, not
    all of it ("inte" of Intel: a stylised wordmark read in part)."""
    return 3 <= len(word) < len(name) and 2 * len(word) >= len(name) and word.isalpha() and word in name


def relate(hit: LogoHit, texts: Sequence[TextHit], names: Sequence[NameMatch],
           matcher: BrandNameMatcher) -> Relation:
    """How the text read on ``hit``'s region relates to its brand (see :data:`RELATIONS`)."""
    on = [m for m in names if _on_region(m.box, hit.box)]
    for kind, pick in ((EXACT_NAME, lambda m: m.exact and m.brand == hit.brand),
                       (OTHER_BRAND, lambda m: m.brand != hit.brand),
                       (ALTERED_NAME, lambda m: not m.exact and m.brand == hit.brand)):
        found = [m for m in on if pick(m)]
        if found:
            best = max(found, key=lambda m: m.confidence)
            return Relation(kind, best.text, best.confidence)
    words = [t for t in texts if _on_region(t.box, hit.box)]
    own = [fold(n) for n in matcher.names_of(hit.brand)] or [fold(hit.brand)]
    pieces = [t for t in words if any(is_piece(fold(w), name) for w in t.text.split() for name in own)]
    if pieces:
        best = max(pieces, key=lambda t: t.score)
        return Relation(PIECE, best.text, best.score)
    others = [t for t in words if matcher.other_word(t.text, hit.brand)]
    if others:
        best = max(others, key=lambda t: t.score)
        return Relation(OTHER_WORD, best.text, best.score)
    lettered = [t for t in words if sum(ch.isalpha() for ch in t.text) >= 3]
    if lettered:
        best = max(lettered, key=lambda t: t.score)
        return Relation(OTHER_TEXT, best.text, best.score)
    return Relation(NO_TEXT, "", 0.0)


def ranks(logos: Sequence[LogoHit]) -> list[int]:
    """For each hit, how many hits of other brands in the photo the network scored higher: a
    network that scores many brands high on one photo is looking at clutter, not at a mark. Only
    higher-scoring hits count, so the rank does not depend on how low the stage reports."""
    return [sum(1 for o in logos if o.brand != h.brand and o.score > h.score) for h in logos]


def rivals(logos: Sequence[LogoHit]) -> list[float]:
    """For each hit, the best score of another brand's hit in the photo (-1 where there is none)."""
    return [max((o.score for o in logos if o.brand != h.brand), default=-1.0) for h in logos]


def margin(score: float, rival: float, floor: float) -> float:
    """A hit's score minus its best rival's (:func:`rivals`), rivals under ``floor`` counted as
    ``floor``: a network that has found one brand's mark scores it clearly over every other
    brand, one that scores several brands alike is guessing which.

    The floor makes the feature the same whatever the stage reports: the evidence a decision is
    fitted on holds every brand's best region, screening only those from the stage's report floor,
    which is held at or under the decision's ``margin_floor`` (:attr:`LogoDecision.report_floor`).
    Measured on the dev fitting half (BENCHMARKS.md, "The margin over the best other brand")."""
    return float(score) - max(float(floor), float(rival))


def features(hit: LogoHit, relation: Relation, size: tuple[int, int] | None, rank: int = 0,
             margin: float = 0.0) -> np.ndarray:
    """The feature vector of one logo hit, in the order of :data:`FEATURES` (``rank``: see
    :func:`ranks`; ``margin``: :func:`margin`). Fields a network or stage does not fill (0
    inliers, no alignment) are simply 0: the model learns what each absence means."""
    score = float(min(max(hit.score, -1.0), 1.0))
    values = [score, -math.log10(max(1e-5, 1.0 - min(score, 0.99999))), math.log1p(rank), float(margin),
              math.log10(max(share(hit.box, size), 1e-4)), math.log1p(max(0, hit.inliers)),
              float(hit.agreement) if hit.inliers else 0.0, float(hit.median_agreement) if hit.inliers else 0.0,
              1.0 if hit.alignment > 0 else 0.0, float(hit.alignment)]
    values += [1.0 if relation.kind == r else 0.0 for r in RELATIONS]
    values.append(float(relation.confidence))
    return np.asarray(values, dtype=np.float64)


@dataclass(frozen=True)
class LogoDecision:
    """A fitted logistic regression over :data:`FEATURES`, and its operating point."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float  # P(genuine) at or over which a hit is the genuine mark
    network: str = ""  # the logo model (manifest name) whose scores it was fitted on
    min_score: float = 0.0  # the lowest network score it accepted on the fitting half
    margin_floor: float = 0.0  # rivals' scores under it count as it (:func:`margin`)

    @property
    def report_floor(self) -> float:
        """The lowest network score the logo stage must report for this decision: the hits it
        may accept, and the rivals its margin counts."""
        return min(self.min_score, self.margin_floor)

    def probability(self, x: np.ndarray) -> np.ndarray | float:
        """P(genuine) for one feature vector (a float) or for rows of them (an array)."""
        z = ((np.asarray(x, dtype=np.float64) - self.mean) / self.scale) @ self.coef + self.intercept
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
        return float(p) if np.ndim(p) == 0 else p

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept, "threshold": self.threshold,
                "network": self.network, "min_score": self.min_score, "margin_floor": self.margin_floor}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LogoDecision":
        names = tuple(str(f) for f in data["features"])
        if names != FEATURES:
            raise ModelError(f"the fitted decision's features {names} are not this version's {FEATURES}: "
                             "refit it with `python -m screener.train.fit_decision`")
        arrays = [np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "coef")]
        if any(a.shape != (len(FEATURES),) for a in arrays):
            raise ModelError("the fitted decision's mean, scale and coef must each hold one value per feature")
        return cls(names, *arrays, intercept=float(data["intercept"]), threshold=float(data["threshold"]),
                   network=str(data.get("network", "")), min_score=float(data.get("min_score", 0.0)),
                   margin_floor=float(data["margin_floor"]))


def decision_name(network: str) -> str:
    """The manifest name of the decision fitted on ``network``'s scores."""
    return f"decision-{network}"


def load_decision(network: str, models_dir: str | Path | None = None) -> LogoDecision:
    """The shipped decision for the logo model ``network``, its file checked against the manifest's
    sha256; a :class:`ModelError` that says how to fit one when there is none."""
    from .logo.weights import MODELS_DIR, checked_path, read_manifest

    folder = Path(models_dir) if models_dir is not None else MODELS_DIR
    name = decision_name(network)
    entry = next((e for e in read_manifest(folder) if e.get("name") == name), None)
    if entry is None:
        raise ModelError(f"no fitted logo decision for the logo model {network!r} ({name!r} is not in "
                         f"{folder / 'manifest.toml'}): fit one with `python -m screener.train.fit_decision "
                         f"--set logo.model={network} ...`, or set policy.logo_decision = \"rules\"")
    path, _ = checked_path(entry, "file", folder, remake="python -m screener.train.fit_decision")
    try:
        return LogoDecision.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"fitted decision {path} cannot be read: {exc}") from exc
