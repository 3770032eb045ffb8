"""The policy: fuse OCR and logo evidence into brand marks, flags, a risk score and a verdict.

Rules (DESIGN.md, "What counts as suspect"; the thresholds named are the logo model's operating
point, :mod:`screener.logo.operating_point`):
- an alignment that geometry neither confirms (``align_genuine``) nor flags (``align_near``) is no
  evidence of its own: the hit stands on the network's score, as a network-only hit;
- one region carries one brand's mark, and geometry outranks appearance: a logo found by keypoints
  drops another brand's logo on the same region, an alignment agreeing everywhere another brand's
  network-only logo, and of two brands' network-only logos (or alignments) on one region the
  stronger stands (the logo stage reports them all; this is the one place that chooses);
- a registered name or alias in the text, or a logo at or over ``genuine_threshold`` ("rules";
  with "fitted", a network-only logo the fitted decision accepts, :mod:`screener.decision`) or
  verified by ``min_inliers`` SIFT matches on one homography → one ``brand_mark`` flag per
  brand, text and logo evidence merged; a verified or aligned logo whose region OCR reads as an
  altered form of the brand's name is dropped (the letters matched, the word did not), and so
  is a network or aligned logo on a region that reads as another word;
- a look-alike of a name → ``altered_brand_name``, unless the logo stage confirms the genuine
  logo of that brand (then the odd letters are OCR noise on a genuine mark; a verified logo
  confirms only when its pixels agree with the reference everywhere, ``confirm_agreement``),
  or OCR reads the exact name in the same photo surer by ``policy.misread_margin`` (a misread
  second print of the genuine name);
- a logo aligned onto a reference with every part agreeing (``align_genuine``) is genuine;
- a logo in the near band ``[near_threshold, genuine_threshold)``, or aligned onto a reference
  (``align_near``) with a part that disagrees → ``imitation_logo``; so is a verified logo
  laid out like the reference (``imitation_layout``) whose region reads as an altered form
  of the brand's name (the wordmark copied, its name changed);
- a cue word → ``counterfeit_cue`` ("inspired by" only beside a brand mark: ``CUES_NEEDING_A_BRAND``);
- the genuine logo of brand A beside the name of brand B → ``mixed_marks``, unless B's own logo is
  in view away from its name (a second brand; B's wordmark matched on the name itself is still
  only its name; an imitation logo is flagged as such, pairing it with names would double-count);
- a verified logo is dropped when OCR reads plainly another word across it with confidence (an
  ordinary word, not a piece of the brand's name nor within its edit budget).

Risk is a noisy-OR over the kinds of flag, each kind at its strongest weighted score:
``1 - prod_kind(1 - max(weight * score))``, so many genuine marks stay a review. Verdict:
``suspect`` when any flag other than ``brand_mark`` fires or risk reaches ``policy.suspect_risk``;
``review`` when only genuine marks are present; ``clear`` otherwise.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

from .brands import BrandRegistry
from .config import Config
from .errors import ConfigError
from .decision import (ALTERED_NAME, OTHER_BRAND, LogoDecision, Relation, features, load_decision, margin, ranks,
                       relate, rivals)
from .geometry import SAME_REGION, along, inside, iou, overlaps
from .textmatch import CUES_NEEDING_A_BRAND, BrandNameMatcher, CueMatcher, NameMatch
from .types import (ALTERED_BRAND_NAME, BRAND_MARK, CLEAR, COUNTERFEIT_CUE, EXACT, IMITATION_LOGO,
                    MIXED_MARKS, NEAR, REVIEW, SUSPECT, BrandMark, Flag, LogoHit, TextHit)


# OCR confidence at which a word read across a verified logo overrules it as another word ("CRANE"
# set in Kyrane's typeface); a doubtful read of a stylised mark should not. Measured away from the
# committed samples (synthetic listings of generator seeds 1-8, re-decided as fit_geometry does):
# any value from 0.5 to 0.9 gives the same 673 of 816 listings right, 0.98 670, the rule off 665;
# no FlickrLogos or ICDAR dev photo changes. 0.9 is the top of that range: a word OCR is sure of.
OTHER_WORD_CONFIDENCE = 0.9


@dataclass(frozen=True)
class Decision:
    """What the policy concluded about one photo."""

    brands: tuple[BrandMark, ...]
    flags: tuple[Flag, ...]
    risk: float
    verdict: str
    logos: tuple[LogoHit, ...] = ()  # the logo hits it counted (genuine marks, imitations), in input order


class Policy:
    """Turns the stages' evidence into a :class:`Decision`. Settings go to ``__init__``."""

    def __init__(self, registry: BrandRegistry, config: Config = Config(), decision: LogoDecision | None = None):
        """``decision``: the fitted logo decision to use; by default the shipped one for
        ``logo.model`` when ``policy.logo_decision`` is "fitted" (none for "rules")."""
        self.config = config
        self.names = BrandNameMatcher(registry, config.match)
        self.cues = CueMatcher(config.match.cue_words)
        if config.policy.logo_decision not in ("fitted", "rules"):
            raise ConfigError(f"policy.logo_decision must be \"fitted\" or \"rules\", not "
                              f"{config.policy.logo_decision!r}")
        if decision is None and config.policy.logo_decision == "fitted":
            decision = load_decision(config.logo.model)
        self.decision = decision

    def __call__(self, texts: Sequence[TextHit], logos: Sequence[LogoHit] = (),
                 size: tuple[int, int] | None = None) -> Decision:
        """Decide one photo from its OCR words and logo hits. ``size``: the photo's (width,
        height), the frame the boxes are in (the fitted decision weighs the share of the photo a
        region covers; without it, that share is unknown)."""
        # Words the engine doubts are no evidence: the bundled engines drop them already
        # (ocr.min_score); the same bound holds for words from any other engine.
        readable = [t for t in texts if t.score >= self.config.ocr.min_score]
        name_matches = self.names(readable)
        # Altered readings that are evidence of an alteration: not misread prints of a name the
        # photo also reads right (policy.misread_margin).
        altered = _alterations(name_matches, self.config.policy.misread_margin)
        candidates = self.unconfirmed_as_network(logos)
        logos = self.one_brand_per_region(candidates)
        copies = [(h, m) for h in logos for m in [self._altered_name_on(h, altered)] if m is not None]
        if self.decision is not None:
            genuine_logos, near_logos, genuine_logo_brands = self._fitted(logos, readable, name_matches, size)
        else:
            logos = [h for h in logos if not _contradicted_by_text(h, readable, name_matches, self.names, self.config)]
            genuine_logos = [h for h in logos if self._genuine(h)]
            near_logos = [h for h in logos if not self._genuine(h)
                          and (self.config.logo.point.near_threshold <= h.score
                               or h.alignment >= self.config.logo.point.align_near)]
            genuine_logo_brands = {h.brand for h in genuine_logos if self._confirms(h)}

        flags: list[Flag] = []
        flags += self._brand_mark_flags(name_matches, genuine_logos)
        flags += self._altered_flags(altered, genuine_logo_brands)
        flags += [self._imitation_flag(h) for h in near_logos]
        flags += [self._copy_flag(h, m) for h, m in copies]
        branded = bool(name_matches or genuine_logos or near_logos or copies)
        flags += [Flag(COUNTERFEIT_CUE, None, c.text, c.score, c.box,
                       f"counterfeit cue {c.cue!r} in '{c.text}'") for c in self.cues(readable)
                  if branded or c.cue not in CUES_NEEDING_A_BRAND]
        flags += self._mixed_flags(name_matches, genuine_logos)

        brands = _brand_marks(name_matches, genuine_logos, near_logos + [h for h, _ in copies])
        risk = self._risk(flags)
        verdict = self._verdict(flags, risk)
        used = {id(h) for h in [*genuine_logos, *near_logos, *(h for h, _ in copies)]}
        return Decision(brands=brands, flags=tuple(flags), risk=risk, verdict=verdict,
                        logos=tuple(h for h in candidates if id(h) in used))

    def judge(self, logos: Sequence[LogoHit], texts: Sequence[TextHit], names: Sequence[NameMatch],
              size: tuple[int, int] | None) -> list[tuple[Relation, float]]:
        """For each hit, how the text on its region relates to its brand, and the fitted
        decision's P(genuine mark of the brand); 0 where a rule of meaning settles it (see
        :meth:`_fitted`)."""
        assert self.decision is not None
        judged = []
        floor = self.decision.margin_floor
        for hit, rank, rival in zip(logos, ranks(logos), rivals(logos)):
            relation = relate(hit, texts, names, self.names)
            p = 0.0 if _meaning_rules_out(hit, relation, self.config) else \
                float(self.decision.probability(features(hit, relation, size, rank, margin(hit.score, rival, floor))))
            judged.append((relation, p))
        return judged

    def _fitted(self, logos: Sequence[LogoHit], texts: Sequence[TextHit], names: Sequence[NameMatch],
                size: tuple[int, int] | None) -> tuple[list[LogoHit], list[LogoHit], set[str]]:
        """Genuine logos, imitation logos and the brands whose genuine logo confirms odd letters
        read on the brand: network-only hits by the fitted decision (:mod:`screener.decision`),
        hits found by keypoints or alignment by geometry's own thresholds, as with "rules".

        Why per source: the dev photos hold thousands of network-only hits to fit on, but too few
        found by geometry (none by alignment) for a fit to learn what they are worth; fitted on
        all hits the decision gave alignment no weight and lost the sample listings' mixed marks
        (BENCHMARKS.md, "The fitted decision again").

        A network-only hit is genuine when P(genuine) reaches the decision's operating point;
        rules of meaning come first (:func:`_meaning_rules_out`: a region that reads as another
        brand's name is that brand's wordmark). It confirms the brand (odd letters read on it are
        OCR noise), as a network hit at the genuine threshold does with "rules"."""
        assert self.decision is not None
        point = self.config.logo.point
        genuine, near, confirmed = [], [], set()
        for hit, (_, p) in zip(logos, self.judge(logos, texts, names, size)):
            if hit.source == "network":
                if p >= self.decision.threshold:
                    genuine.append(hit)
                    confirmed.add(hit.brand)
            elif self.geometry_genuine(hit, texts, names):
                genuine.append(hit)
                if self._confirms(hit):
                    confirmed.add(hit.brand)
            elif hit.alignment >= point.align_near and not _contradicted_by_text(hit, texts, names, self.names,
                                                                                 self.config):
                near.append(hit)
        return genuine, near, confirmed

    def geometry_genuine(self, hit: LogoHit, texts: Sequence[TextHit], names: Sequence[NameMatch]) -> bool:
        """Whether a hit found by keypoints or alignment is a genuine mark under the fitted
        decision: geometry's thresholds decide it, whatever the decision's operating point, unless
        the text on its region contradicts it (:func:`_contradicted_by_text`)."""
        return (hit.source != "network" and not _contradicted_by_text(hit, texts, names, self.names, self.config)
                and self._genuine(hit))

    def unconfirmed_as_network(self, logos: Sequence[LogoHit]) -> tuple[LogoHit, ...]:
        """The hits with each alignment that geometry neither confirms (``align_genuine`` with
        ``align_agreement``) nor flags as an imitation (``align_near``) turned back into the
        network-only hit it came from (its alignment and agreement cleared), which the fitted
        decision (or, with "rules", ``genuine_threshold``) judges.

        Why: the logo stage reports an alignment in place of its brand's network hit, and such an
        alignment confirms nothing; judged by geometry alone it was dropped, taking with it a
        region the network had found. A looser ``align_genuine`` reports more of them, so
        geometry's fit rewarded withdrawing network marks (BENCHMARKS.md, "logo-trunk-metric
        deleted, geometry fitted for the default": HP on a FlickrLogos photo lost at 0.66).

        The hit keeps the alignment's box and score: the network's score on the window it was
        aligned on, which may be a box fitted to a printed mark and embedded as a crop (the stage
        keeps those out of network-only hits otherwise). On the dev photos that finds a held-out
        photo the pooled windows miss; where it moves the decision's street point is measured in
        BENCHMARKS.md ("align_genuine at the fit's own value")."""
        point = self.config.logo.point
        return tuple(dataclasses.replace(h, alignment=0.0, agreement=0.0)
                     if h.source == "alignment" and not _aligned_genuine(h, self.config)
                     and h.alignment < point.align_near else h for h in logos)

    def seen(self, logos: Sequence[LogoHit]) -> list[LogoHit]:
        """The hits the policy weighs, as it weighs them: unconfirmed alignments as network hits
        (:meth:`unconfirmed_as_network`), then one brand per region (:meth:`one_brand_per_region`).
        What the decision's fit and its street count see (:mod:`screener.train.fit_decision`)."""
        return self.one_brand_per_region(self.unconfirmed_as_network(logos))

    def one_brand_per_region(self, logos: Sequence[LogoHit]) -> list[LogoHit]:
        """One region carries one brand's mark, and geometry outranks appearance: a hit found by
        keypoints drops another brand's hit found by alignment or by the network alone on the same
        region, an alignment agreeing everywhere (``align_genuine``) drops another brand's
        network-only hit there, and of two brands' network-only hits, or two brands' alignments,
        on one region the weaker is dropped. The logo stage reports all of them; this is where
        they meet."""
        keypoints = [h for h in logos if h.source == "keypoints"]
        aligned = [h for h in logos if h.source == "alignment" and _aligned_genuine(h, self.config)]
        network = [h for h in logos if h.source == "network"]
        alignments = [h for h in logos if h.source == "alignment"]

        def overruled(hit: LogoHit) -> bool:
            if hit.source == "keypoints":
                return False
            rivals = keypoints + aligned if hit.source == "network" else keypoints
            if hit.source == "network":  # between network guesses, the stronger one
                rivals = rivals + [r for r in network if r.score > hit.score]
            else:  # between alignments, the better-aligned one
                rivals = rivals + [r for r in alignments if r.alignment > hit.alignment]
            return any(r.brand != hit.brand and iou(r.box, hit.box) > SAME_REGION for r in rivals)

        return [h for h in logos if not overruled(h)]

    def _genuine(self, hit: LogoHit) -> bool:
        """A genuine logo by the operating point: similar enough to a reference
        (``genuine_threshold``), or verified by geometry (``min_inliers``; an alignment agreeing
        everywhere), which is strong evidence even where the network is unsure."""
        logo = self.config.logo.point
        return (hit.score >= logo.genuine_threshold
                or (logo.min_inliers > 0 and hit.inliers >= logo.min_inliers)
                or _aligned_genuine(hit, self.config))

    def _imitation_flag(self, hit: LogoHit) -> Flag:
        logo = self.config.logo.point
        if hit.alignment >= logo.align_near:
            return Flag(IMITATION_LOGO, hit.brand, None, hit.alignment, hit.box,
                        f"logo aligns with {hit.brand!r}'s reference (correlation {hit.alignment:.2f}) but a "
                        f"part of it differs (worst part {hit.agreement:.2f}, genuine marks reach "
                        f"{logo.align_agreement:.2f}): an imitation of the mark")
        return Flag(IMITATION_LOGO, hit.brand, None, hit.score, hit.box,
                    f"logo resembles {hit.brand!r} (similarity {hit.score:.2f}, under the genuine "
                    f"threshold {logo.genuine_threshold:.2f}): an imitation of the mark")

    def _altered_name_on(self, hit: LogoHit, names: Sequence[NameMatch]) -> NameMatch | None:
        """The altered form of the hit's brand name read on a verified logo whose layout agrees
        with the reference except in a part (``imitation_layout``): the brand's wordmark
        copied with its name changed ("Pcllano" set exactly like Pellano's logo). None if not."""
        logo = self.config.logo.point
        if not (hit.inliers >= max(1, logo.min_inliers) and hit.median_agreement >= logo.imitation_layout
                and hit.agreement < logo.confirm_agreement):
            return None
        return next((m for m in names if not m.exact and m.brand == hit.brand and inside(m.box, hit.box) >= 0.6),
                    None)

    def _copy_flag(self, hit: LogoHit, name: NameMatch) -> Flag:
        return Flag(IMITATION_LOGO, hit.brand, name.text, hit.median_agreement, hit.box,
                    f"logo laid out like {hit.brand!r}'s reference ({hit.inliers} SIFT matches, typical part "
                    f"agreeing {hit.median_agreement:.2f}) with a part changed (worst {hit.agreement:.2f}) "
                    f"and the name altered to '{name.text}': an imitation of the mark")

    def _confirms(self, hit: LogoHit) -> bool:
        """Whether a genuine logo hit is sure enough to call odd letters read on the same brand
        OCR noise: a network match at the genuine threshold, or a SIFT-verified one whose pixels
        agree with the reference everywhere (geometry alone also fits a wordmark with a changed
        letter; an alignment works at too low a resolution to vouch for single letters)."""
        logo = self.config.logo.point
        return hit.score >= logo.genuine_threshold or (
            hit.inliers >= max(1, logo.min_inliers) and hit.agreement >= logo.confirm_agreement)

    def _brand_mark_flags(self, names: Sequence[NameMatch], logos: Sequence[LogoHit]) -> list[Flag]:
        flags = []
        for brand in sorted({m.brand for m in names if m.exact} | {h.brand for h in logos}):
            texts = sorted((m for m in names if m.exact and m.brand == brand), key=lambda m: -m.score)
            hits = sorted((h for h in logos if h.brand == brand), key=lambda h: -h.score)
            parts = []
            if texts:
                parts.append(f"name read as '{texts[0].text}'")
            if hits:
                verified = (f", {hits[0].inliers} SIFT matches on one homography" if hits[0].inliers else
                            f", aligned with correlation {hits[0].alignment:.2f}" if hits[0].alignment else "")
                parts.append(f"logo matched (similarity {hits[0].score:.2f}{verified})")
            box = hits[0].box if hits else texts[0].box
            score = max([m.score for m in texts] + [_strength(h) for h in hits])
            flags.append(Flag(BRAND_MARK, brand, texts[0].text if texts else None, score, box,
                              f"registered brand {brand!r}: " + " and ".join(parts)))
        return flags

    def _altered_flags(self, altered: Sequence[NameMatch], genuine_logo_brands: set[str]) -> list[Flag]:
        return [Flag(ALTERED_BRAND_NAME, m.brand, m.text, m.score, m.box, m.reason)
                for m in altered if m.brand not in genuine_logo_brands]

    def _mixed_flags(self, names: Sequence[NameMatch], logos: Sequence[LogoHit]) -> list[Flag]:
        """A logo of one brand with another brand's name. A brand whose own logo is also in the
        photo, away from its name, is simply a second brand in view (a shop window, a sponsor
        board); its wordmark found on the very text of its name is still only its name."""
        flags = []
        for hit in logos:
            for match in names:
                if match.brand == hit.brand or any(
                        other.brand == match.brand and not overlaps(other.box, match.box) for other in logos):
                    continue
                flags.append(Flag(MIXED_MARKS, hit.brand, match.text, min(_strength(hit), match.score) ** 0.5,
                                  hit.box, f"logo of {hit.brand!r} beside the name of "
                                  f"{match.brand!r} ('{match.text}')"))
        return _unique(flags)

    def _risk(self, flags: Sequence[Flag]) -> float:
        """Noisy-OR across kinds of evidence, each kind counted once at its strongest flag:
        several flags of one kind are one finding seen several times, not independent evidence
        (a shop window with three genuine brands is no likelier a fake than one brand)."""
        weights = self.config.policy.weights
        strongest: dict[str, float] = {}
        for flag in flags:
            value = min(1.0, weights.get(flag.kind, 0.5) * max(0.0, min(1.0, flag.score)))
            strongest[flag.kind] = max(strongest.get(flag.kind, 0.0), value)
        keep = 1.0
        for value in strongest.values():
            keep *= 1.0 - value
        return round(1.0 - keep, 4)

    def _verdict(self, flags: Sequence[Flag], risk: float) -> str:
        if any(f.kind != BRAND_MARK for f in flags) or risk >= self.config.policy.suspect_risk:
            return SUSPECT
        if flags:
            return REVIEW
        return CLEAR


def _alterations(names: Sequence[NameMatch], misread_margin: float) -> list[NameMatch]:
    """The altered readings among ``names`` that OCR is not ``misread_margin`` less sure of than
    its surest exact reading of the same brand's name in the photo: a shoe box shows its name on
    every side, and one print misread ("odidas" 0.76) beside another read right ("adidas" 0.99)
    is the genuine name, while a printed alteration reads as surely as the name."""
    surest: dict[str, float] = {}
    for m in names:
        if m.exact:
            surest[m.brand] = max(surest.get(m.brand, 0.0), m.confidence)
    return [m for m in names if not m.exact
            and not (m.brand in surest and m.confidence <= surest[m.brand] - misread_margin)]


def _brand_marks(names: Sequence[NameMatch], genuine: Sequence[LogoHit],
                 near: Sequence[LogoHit]) -> tuple[BrandMark, ...]:
    """Every brand whose mark, genuine or imitated, is in the photo; genuine evidence wins."""
    marks: dict[str, dict] = {}

    def add(brand: str, match: str, source: str, score: float) -> None:
        entry = marks.setdefault(brand, {"exact": False, "evidence": set(), "score": 0.0})
        entry["exact"] = entry["exact"] or match == EXACT
        entry["evidence"].add(source)
        entry["score"] = max(entry["score"], score)

    for m in names:
        add(m.brand, EXACT if m.exact else NEAR, "text", m.score)
    for h in genuine:
        add(h.brand, EXACT, "logo", _strength(h))
    for h in near:
        add(h.brand, NEAR, "logo", h.score)
    return tuple(BrandMark(brand, e["score"], EXACT if e["exact"] else NEAR,
                           tuple(sorted(e["evidence"], key=("text", "logo").index)))
                 for brand, e in sorted(marks.items()))


def _meaning_rules_out(hit: LogoHit, relation: Relation, config: Config) -> bool:
    """The rules of meaning the fitted decision does not overrule: a hit on a region that reads
    as another brand's name, or (verified or aligned) as an altered form of its own brand's name,
    is not the brand's genuine mark; kept is a verified hit whose pixels agree with the reference
    everywhere (``confirm_agreement``: the odd letters are OCR noise on the genuine mark)."""
    if hit.inliers and hit.agreement >= config.logo.point.confirm_agreement:
        return False
    return relation.kind == OTHER_BRAND or (relation.kind == ALTERED_NAME and hit.source != "network")


def _contradicted_by_text(hit: LogoHit, texts: Sequence[TextHit], names: Sequence[NameMatch],
                          matcher: BrandNameMatcher, config: Config) -> bool:
    """A logo hit on a region where OCR reads something other than the brand's name.

    SIFT on a wordmark matches letter shapes, so the brand's name with a letter changed fits a
    homography as well as the genuine mark; the network scores shop signs and captions like
    wordmarks. What the text says decides (see the comments below); kept always are verified
    hits whose pixels agree with the reference everywhere (``confirm_agreement``: OCR noise
    on the genuine mark)."""
    if hit.inliers and hit.agreement >= config.logo.point.confirm_agreement:
        return False
    # Names read on the region first (their boxes are the words themselves): a name inside the
    # hit, or a hit that lies along a longer name (SIFT can fit a few letters of a word: Kyrane's
    # wordmark on four letters of "LURNEXA", the hit 0.57 of the word's width).
    for m in names:
        if (inside(m.box, hit.box) < 0.6 and not along(hit.box, m.box)) or m.exact and m.brand == hit.brand:
            continue
        if m.brand != hit.brand:
            return True  # another brand's name, or an altered one: that brand's wordmark
        # The brand's letters, changed. Geometry fits an altered wordmark as well as the genuine
        # one (and an alignment at 160 px cannot see one letter), so those hits do not stand;
        # the network's may be looking at OCR noise on the genuine mark.
        if hit.source != "network":
            return True
    if hit.inliers:
        # Text that names no brand. OCR misreads stylised genuine logos often (FlickrLogos:
        # "Fond" on Ford, "Cola", "Fed" + "EX"), and a homography over many keypoints is the
        # stronger evidence, so a SIFT-verified hit stands, unless the text is plainly another
        # word read with confidence across the mark (BrandNameMatcher.other_word): "CRANE" set
        # in the typeface of Kyrane's wordmark, where SIFT matches the letters they share.
        width = max(1, hit.box[2] - hit.box[0])
        return any(inside(t.box, hit.box) >= 0.6 and t.score >= OTHER_WORD_CONFIDENCE
                   and t.box[2] - t.box[0] >= 0.5 * width and matcher.other_word(t.text, hit.brand)
                   for t in texts)
    x1, y1, x2, y2 = hit.box
    for text in texts:
        tx1, ty1, tx2, ty2 = text.box
        area = max(1, (tx2 - tx1) * (ty2 - ty1))
        letters = sum(ch.isalpha() for ch in text.text)
        if inside(text.box, hit.box) < 0.6 or letters < 3 or area < 0.15 * max(1, (x2 - x1) * (y2 - y1)):
            continue
        if not any(m.brand == hit.brand and overlaps(m.box, text.box) for m in names):
            return True  # a network or aligned hit on a sign or caption that reads as another word
    return False


def _aligned_genuine(hit: LogoHit, config: Config) -> bool:
    """The reference aligned onto the region and every part of it agrees."""
    return config.logo.point.aligned_genuine(hit.alignment, hit.agreement)


def _strength(hit: LogoHit) -> float:
    """How sure a genuine logo hit is: one verified by geometry or alignment counts as 0.99
    however low the network scored it (pixels matching the reference are the stronger evidence)."""
    return max(hit.score, 0.99) if hit.source != "network" else hit.score


def _unique(flags: list[Flag]) -> list[Flag]:
    seen, kept = set(), []
    for flag in flags:
        key = (flag.kind, flag.brand, flag.text)
        if key not in seen:
            seen.add(key)
            kept.append(flag)
    return kept
