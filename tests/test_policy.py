"""The policy on hand-made evidence: the stages' outputs are plain data, so no model is needed
to pin how evidence becomes flags, risk and a verdict."""

from __future__ import annotations

import dataclasses

import pytest

from screener.brands import Brand, BrandRegistry
from screener.config import Config
from screener.policy import Policy
from screener.types import LogoHit, TextHit


BANDS = dict(genuine_threshold=0.80, near_threshold=0.68, align_genuine=0.9, align_near=0.85)
# These tests pin the "rules" decision (the operating point's thresholds on every hit): it is
# still an option, and the fitted default judges keypoint and alignment hits by the same rules.
# The fitted decision's own tests are in tests/test_decision.py.
RULES = Config().replace(policy__logo_decision="rules")
LOGO_BANDS = RULES.replace(logo__operating_point=BANDS)


@pytest.fixture(scope="module")
def policy(tmp_path_factory) -> Policy:
    registry = BrandRegistry(tmp_path_factory.mktemp("reg"), [
        Brand("Veltora", aliases=("Veltora Paris",)), Brand("Novalux"), Brand("Kestrel")])
    # Fixed thresholds: these tests pin the policy's logic, not the shipped model's calibration.
    return Policy(registry, LOGO_BANDS)


def text(s: str, y: int = 10, score: float = 0.95) -> TextHit:
    return TextHit(s, (10, y, 10 + 20 * len(s), y + 30), score)


def logo(brand: str, score: float) -> LogoHit:
    return LogoHit(brand, (300, 300, 420, 380), score, f"logos/{brand.lower()}/logo.png")


@pytest.mark.parametrize("texts, logos, verdict, kinds", [
    ([], [], "clear", set()),
    ([text("Genuine leather tote")], [], "clear", set()),
    ([text("VELTORA")], [], "review", {"brand_mark"}),
    ([], [logo("Veltora", 0.93)], "review", {"brand_mark"}),
    ([text("VELT0RA")], [], "suspect", {"altered_brand_name"}),
    ([text("Novalux replica")], [], "suspect", {"brand_mark", "counterfeit_cue"}),
    ([text("高仿 包包")], [], "suspect", {"counterfeit_cue"}),
    # "inspired by" sells a dupe only of a brand: marketing copy otherwise
    ([text("Inspired by nature")], [], "clear", set()),
    ([text("Inspired by Veltora")], [], "suspect", {"brand_mark", "counterfeit_cue"}),
    ([text("Inspired by nature")], [logo("Veltora", 0.93)], "suspect", {"brand_mark", "counterfeit_cue"}),
    ([text("Inspired by designer perfume")], [], "suspect", {"counterfeit_cue"}),
    ([], [logo("Veltora", 0.72)], "suspect", {"imitation_logo"}),
    ([text("NOVALUX")], [logo("Veltora", 0.93)], "suspect", {"brand_mark", "mixed_marks"}),
    # OCR noise on a genuine mark that the logo stage confirms is not an altered name
    ([text("VELT0RA")], [logo("Veltora", 0.93)], "review", {"brand_mark"}),
    # under the near band: no evidence at all
    ([], [logo("Veltora", 0.30)], "clear", set()),
    # text the engine itself doubts is ignored
    ([text("replica", score=0.2)], [], "clear", set()),
    # the exact name read surely and a doubtful altered reading of a second print of it (a shoe
    # box showing the name twice): OCR misread the genuine name, the photo shows the brand
    ([text("VELTORA", score=0.99), text("VELT0RA", y=60, score=0.85)], [], "review", {"brand_mark"}),
    # ... but an alteration read as surely as the name beside it is a seller's spelling
    ([text("VELTORA", score=0.99), text("VELT0RA", y=60, score=0.97)], [], "suspect",
     {"brand_mark", "altered_brand_name"}),
    # ... and another brand's exact name excuses nothing
    ([text("NOVALUX", score=0.99), text("VELT0RA", y=60, score=0.85)], [], "suspect",
     {"brand_mark", "altered_brand_name"}),
])
def test_verdicts_and_flags(policy, texts, logos, verdict, kinds):
    decision = policy(texts, logos)
    assert decision.verdict == verdict
    assert {f.kind for f in decision.flags} == kinds
    assert 0.0 <= decision.risk <= 1.0
    assert all(f.reason for f in decision.flags)


def test_the_misread_margin_comes_from_config(tmp_path):
    registry = BrandRegistry(tmp_path, [Brand("Veltora")])
    texts = [text("VELTORA", score=0.99), text("VELT0RA", y=60, score=0.85)]
    off = Policy(registry, LOGO_BANDS.replace(policy__misread_margin=1.01))(texts)
    assert {f.kind for f in off.flags} == {"brand_mark", "altered_brand_name"}
    wide = Policy(registry, LOGO_BANDS.replace(policy__misread_margin=0.2))(texts)
    assert {f.kind for f in wide.flags} == {"brand_mark", "altered_brand_name"}


def test_text_and_logo_of_one_brand_merge(policy):
    decision = policy([text("VELTORA")], [logo("Veltora", 0.91)])
    [mark] = decision.brands
    assert (mark.brand, mark.match, mark.evidence) == ("Veltora", "exact", ("text", "logo"))
    assert len([f for f in decision.flags if f.kind == "brand_mark"]) == 1


def test_risk_ranks_suspects_above_genuine_marks(policy):
    genuine = policy([text("VELTORA")], []).risk
    altered = policy([text("VELT0RA")], []).risk
    altered_and_cue = policy([text("VELT0RA"), text("1:1 replica", y=60)], []).risk
    assert genuine < altered < altered_and_cue


def test_many_genuine_marks_stay_a_review(policy):
    # A shop window or sponsor board shows several genuine brands: that is no counterfeit cue.
    # Before risk counted each kind of evidence once, three genuine marks (1 - 0.65^3 = 0.73)
    # crossed policy.suspect_risk and made the photo suspect.
    texts = [text("VELTORA", score=0.99), text("NOVALUX", y=60, score=0.99), text("KESTREL", y=110, score=0.99)]
    decision = policy(texts, [])
    assert {m.brand for m in decision.brands} == {"Veltora", "Novalux", "Kestrel"}
    assert decision.verdict == "review"
    assert decision.risk == policy([texts[0]], []).risk


def test_thresholds_come_from_config(tmp_path):
    registry = BrandRegistry(tmp_path, [Brand("Veltora")])
    strict = Policy(registry, LOGO_BANDS.replace(logo__operating_point={**BANDS, "genuine_threshold": 0.95}))
    assert {f.kind for f in strict([], [logo("Veltora", 0.93)]).flags} == {"imitation_logo"}


# --- geometric verification (LogoHit.inliers / agreement) ----------------------------------------
def verified(brand: str, inliers: int = 20, agreement: float = 0.2, score: float = 0.1,
             median: float = 0.4) -> LogoHit:
    """A logo the network scored low but SIFT fitted with ``inliers`` matches on one homography;
    ``agreement`` is its worst cell, ``median`` its typical one."""
    return LogoHit(brand, (300, 300, 420, 380), score, f"logos/{brand.lower()}/logo.png", inliers, agreement,
                   median_agreement=median)


def inside_logo(s: str) -> TextHit:
    return TextHit(s, (310, 320, 410, 360), 0.95)


@pytest.mark.parametrize("texts, logos, verdict, kinds", [
    # verified by geometry: a genuine mark whatever the network's score
    ([], [verified("Veltora")], "review", {"brand_mark"}),
    # too few inliers: no evidence
    ([], [verified("Veltora", inliers=3)], "clear", set()),
    # the region reads as the brand's name: kept
    ([inside_logo("VELTORA")], [verified("Veltora")], "review", {"brand_mark"}),
    # the region reads as a piece of the name: OCR misreads stylised genuine logos ("Cola" on
    # Coca-Cola, "Fed" + "EX"), and the homography is the stronger evidence
    ([inside_logo("NOVA")], [verified("Novalux")], "review", {"brand_mark"}),
    # plainly another word read with confidence across the mark ("CRANE" set in a brand's
    # typeface, SIFT matching the letters they share): not that brand's mark
    ([inside_logo("CRANE")], [verified("Kestrel")], "clear", set()),
    # the same word read doubtfully, or only on a small part of the mark: the homography stands
    ([TextHit("CRANE", (310, 320, 410, 360), 0.6)], [verified("Kestrel")], "review", {"brand_mark"}),
    ([TextHit("CRANE", (310, 320, 350, 340), 0.95)], [verified("Kestrel")], "review", {"brand_mark"}),
    # an altered name on a wordmark that fits the geometry but not the pixels: altered, no mark
    ([inside_logo("VELTURA")], [verified("Veltora")], "suspect", {"altered_brand_name"}),
    # the same, but the layout agrees except in one part: the wordmark copied with its name
    # changed, an imitation logo as well as an altered name
    ([inside_logo("VELTURA")], [verified("Veltora", agreement=0.4, median=0.98)], "suspect",
     {"altered_brand_name", "imitation_logo"}),
    # ... unless that altered reading is a doubtful one beside the name read surely elsewhere
    # in the photo: a misread print is no evidence of a copy either
    ([TextHit("VELTURA", (310, 320, 410, 360), 0.85), text("VELTORA", score=0.99)],
     [verified("Veltora", agreement=0.4, median=0.98)], "review", {"brand_mark"}),
    # a copied layout whose region reads the genuine name: no imitation; plainly another word:
    # not the brand's mark at all
    ([inside_logo("VELTORA")], [verified("Veltora", agreement=0.4, median=0.98)], "review", {"brand_mark"}),
    ([inside_logo("CRANE")], [verified("Veltora", agreement=0.4, median=0.98)], "clear", set()),
    # pixels agree everywhere: the odd letter is OCR noise on the genuine mark
    ([inside_logo("VELT0RA")], [verified("Veltora", agreement=0.97)], "review", {"brand_mark"}),
    ([inside_logo("VELT0RA")], [verified("Veltora", agreement=0.97, median=0.99)], "review", {"brand_mark"}),
    # a verified logo of one brand beside another brand's name
    ([text("NOVALUX")], [verified("Veltora")], "suspect", {"brand_mark", "mixed_marks"}),
    # a verified "logo" lying on another brand's altered name, narrower than the word: SIFT
    # fitted a few of its letters (sample listing 058: Kyrane's wordmark on "LURNEXA"); the word
    # is an altered name, not one brand's logo beside another's name
    ([TextHit("N0VALUX", (240, 320, 480, 360), 0.95)], [verified("Veltora")], "suspect", {"altered_brand_name"}),
])
def test_geometric_evidence(policy, texts, logos, verdict, kinds):
    decision = policy(texts, logos)
    assert decision.verdict == verdict
    assert {f.kind for f in decision.flags} == kinds


def test_an_imitation_wordmark_names_its_evidence(policy):
    decision = policy([inside_logo("VELTURA")], [verified("Veltora", inliers=24, agreement=0.4, median=0.98)])
    [flag] = [f for f in decision.flags if f.kind == "imitation_logo"]
    assert flag.brand == "Veltora" and flag.text == "VELTURA" and flag.box == (300, 300, 420, 380)
    assert "24 SIFT matches" in flag.reason and "VELTURA" in flag.reason
    assert [(b.brand, b.match) for b in decision.brands] == [("Veltora", "near")]


def test_a_verified_mark_says_so_in_its_reason(policy):
    [flag] = policy([], [verified("Veltora", inliers=17)]).flags
    assert "17 SIFT matches" in flag.reason
    assert flag.score >= 0.99


@pytest.mark.parametrize("texts, kinds", [
    # the network's hit on a shop sign that reads as another word is not a logo
    ([inside_logo("PHARMACY")], set()),
    # ... but on a look-alike of its own brand it may be OCR noise on the genuine mark
    ([inside_logo("VELT0RA")], {"brand_mark"}),
    ([inside_logo("VELTORA")], {"brand_mark"}),
])
def test_network_hits_on_text_regions(policy, texts, kinds):
    decision = policy(texts, [logo("Veltora", 0.95)])
    assert {f.kind for f in decision.flags} == kinds


def aligned(brand: str, alignment: float, agreement: float) -> LogoHit:
    """A reference aligned onto the region (ECC) with ``agreement`` in its worst part."""
    return LogoHit(brand, (300, 300, 420, 380), 0.1, f"logos/{brand.lower()}/emblem.png",
                   agreement=agreement, alignment=alignment)


@pytest.mark.parametrize("texts, logos, verdict, kinds", [
    # every part agrees: a genuine (flat) mark
    ([], [aligned("Veltora", 0.97, 0.95)], "review", {"brand_mark"}),
    # aligns well but one part differs: an imitation of the mark
    ([], [aligned("Veltora", 0.95, 0.40)], "suspect", {"imitation_logo"}),
    # aligns poorly: no evidence
    ([], [aligned("Veltora", 0.70, 0.40)], "clear", set()),
    # a low-resolution alignment does not vouch for the letters read on it
    ([inside_logo("VELT0RA")], [aligned("Veltora", 0.99, 0.97)], "suspect", {"altered_brand_name"}),
    # an aligned logo of one brand beside another brand's name
    ([text("NOVALUX")], [aligned("Veltora", 0.97, 0.95)], "suspect", {"brand_mark", "mixed_marks"}),
])
def test_aligned_evidence(policy, texts, logos, verdict, kinds):
    decision = policy(texts, logos)
    assert decision.verdict == verdict
    assert {f.kind for f in decision.flags} == kinds


def emblem_at(brand: str, box: tuple[int, int, int, int]) -> LogoHit:
    """A flat emblem aligned with every part agreeing, at ``box``."""
    return LogoHit(brand, box, 0.1, f"logos/{brand.lower()}/emblem.png", agreement=0.97, alignment=0.98)


def wordmark_on(brand: str, name: TextHit) -> LogoHit:
    """A brand's wordmark verified by SIFT on the very text of its name."""
    return LogoHit(brand, name.box, 0.1, f"logos/{brand.lower()}/logo.png", 20, 0.3, median_agreement=0.7)


def test_an_emblem_beside_another_brands_wordmark_is_mixed(policy):
    """The other brand's name is read *and* its wordmark is matched on that same text: it is
    still only that brand's name beside the emblem, so the marks are mixed."""
    name = text("NOVALUX", y=400)
    decision = policy([name], [emblem_at("Veltora", (300, 300, 380, 380)), wordmark_on("Novalux", name)])
    assert {f.kind for f in decision.flags} == {"brand_mark", "mixed_marks"}
    mixed = next(f for f in decision.flags if f.kind == "mixed_marks")
    assert mixed.brand == "Veltora" and "Novalux" in mixed.reason


def test_two_brands_each_with_its_own_logo_are_not_mixed(policy):
    """A second brand whose logo is in view apart from its name (a shop window, a sponsor board)
    is a second brand, not a mixed mark."""
    name = text("NOVALUX", y=400)
    decision = policy([name], [emblem_at("Veltora", (300, 300, 380, 380)), emblem_at("Novalux", (600, 100, 680, 180))])
    assert {f.kind for f in decision.flags} == {"brand_mark"}
    assert {m.brand for m in decision.brands} == {"Veltora", "Novalux"}


@pytest.fixture(scope="module")
def shipped_policy(tmp_path_factory) -> Policy:
    """logo-embed's shipped thresholds, by the rules: the network alone counts only at 0.9993."""
    registry = BrandRegistry(tmp_path_factory.mktemp("reg2"), [Brand("Veltora"), Brand("Novalux")])
    return Policy(registry, RULES.replace(logo__model="logo-embed"))


def test_a_piece_the_text_rules_call_altered_stays_altered(shipped_policy):
    """"VELTOR" is both a piece of the name and one letter off it: the altered-name rule decides
    that word; the network scoring the brand there under its genuine threshold does not turn it
    into the genuine mark."""
    weak = LogoHit("Veltora", (310, 320, 410, 360), 0.995, "logos/veltora/logo.png")
    decision = shipped_policy([inside_logo("VELTOR")], [weak])
    assert decision.verdict == "suspect"
    assert {f.kind for f in decision.flags} == {"altered_brand_name"}


@pytest.mark.parametrize("rival, overruled", [
    # keypoints on the region: another brand's network-only guess there is dropped ...
    (LogoHit("Novalux", (300, 300, 420, 380), 0.6, "n.png", inliers=12, agreement=0.9), True),
    # ... as it is by an alignment agreeing everywhere
    (LogoHit("Novalux", (300, 300, 420, 380), 0.6, "n.png", agreement=0.97, alignment=0.95), True),
    # an alignment with a part disagreeing is no proof of which brand the region carries
    (LogoHit("Novalux", (300, 300, 420, 380), 0.6, "n.png", agreement=0.5, alignment=0.95), False),
    # of two brands' network-only guesses on one region the stronger stands
    (LogoHit("Novalux", (305, 300, 425, 380), 0.95, "n.png"), True),
    (LogoHit("Novalux", (305, 300, 425, 380), 0.90, "n.png"), False),
    # keypoints elsewhere in the photo overrule nothing here
    (LogoHit("Novalux", (20, 20, 120, 90), 0.6, "n.png", inliers=12, agreement=0.9), False),
])
def test_one_region_carries_one_brand_and_geometry_outranks_the_network(policy, rival, overruled):
    network = logo("Veltora", 0.93)  # genuine by the network alone
    decision = policy([], [network, rival], size=(800, 600))
    marked = {m.brand for m in decision.brands}
    assert ("Veltora" not in marked) is overruled
    assert network in decision.logos or overruled


def test_keypoints_outrank_another_brands_alignment_on_the_same_region(policy):
    aligned = LogoHit("Veltora", (300, 300, 420, 380), 0.9, "v.png", agreement=0.97, alignment=0.95)
    verified = LogoHit("Novalux", (305, 300, 425, 380), 0.5, "n.png", inliers=12, agreement=0.9)
    decision = policy([], [aligned, verified], size=(800, 600))
    assert {m.brand for m in decision.brands} == {"Novalux"}
    # ... and the stage's results may list both: the policy alone decided
    assert decision.logos == (verified,)


def test_of_two_brands_aligned_onto_one_region_the_better_alignment_stands(policy):
    better = LogoHit("Novalux", (300, 300, 420, 380), 0.85, "n.png", agreement=0.97, alignment=0.97)
    worse = LogoHit("Veltora", (302, 300, 422, 380), 0.90, "v.png", agreement=0.96, alignment=0.93)
    elsewhere = dataclasses.replace(worse, box=(20, 20, 140, 100))
    assert {m.brand for m in policy([], [worse, better], size=(800, 600)).brands} == {"Novalux"}
    assert {m.brand for m in policy([], [elsewhere, better], size=(800, 600)).brands} == {"Novalux", "Veltora"}
