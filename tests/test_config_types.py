"""Config loading/overrides and the result line's round trip."""

from __future__ import annotations

import json

import pytest

from screener.config import Config, parse_cli_value
from screener.errors import ConfigError
from screener.types import BrandMark, Flag, LogoHit, ScreenResult, TextHit


def test_toml_overrides_and_fingerprint(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[ocr]\nengine = "tesseract"\n[policy]\nsuspect_risk = 0.5\n')
    config = Config.from_toml(path)
    assert config.ocr.engine == "tesseract" and config.policy.suspect_risk == 0.5
    assert config.fingerprint() != Config().fingerprint()
    assert Config().fingerprint() == Config().fingerprint()


@pytest.mark.parametrize("text, message", [
    ("[nope]\na = 1\n", "unknown config section"),
    ("[ocr]\nengin = 'x'\n", "unknown key 'engin'"),
    ("[policy]\nsuspect_risk = 'high'\n", "expected float"),
    ("[ocr\n", "not valid TOML"),
])
def test_bad_config_files_name_the_problem(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        Config.from_toml(path)


def test_cli_style_overrides():
    config = Config().with_dotted({"logo.enabled": parse_cli_value("false"),
                                   "limits.max_pixels": parse_cli_value("1000")})
    assert config.logo.enabled is False and config.limits.max_pixels == 1000
    assert parse_cli_value("tesseract") == "tesseract"


def test_the_logo_thresholds_are_the_networks_measured_operating_point():
    """The thresholds are not config defaults: they are read from the logo network's manifest
    entry, so the shipped network screens at the point measured for it."""
    from screener.logo.weights import manifest_entry

    from screener.logo.operating_point import OperatingPoint

    fields = set(OperatingPoint.__dataclass_fields__)
    for name in (Config().logo.model, "logo-embed"):
        # (an entry may also record how its point was chosen: max_false_per_100_street, ...)
        measured = {k: v for k, v in manifest_entry(name)["operating_point"].items() if k in fields}
        point = Config().replace(logo__model=name).logo.point
        assert {key: getattr(point, key) for key in measured} == measured
    # and the defaults another network's entry falls back on are logo-embed's, in full
    assert point == OperatingPoint() and set(measured) == fields


def test_switching_the_logo_network_brings_its_operating_point(tmp_path):
    """Each network scores on its own scale (logo-embed's calibrated similarity sits near 1, the
    default trunk network's near 0.7), so --set logo.model=... alone must not keep the old
    thresholds; logo.operating_point overrides single values on top of the network's own."""
    from screener.logo.weights import manifest_entry

    assert Config().logo.model != "logo-embed"
    other = manifest_entry("logo-embed")["operating_point"]
    config = Config().with_dotted({"logo.model": "logo-embed"})
    assert config.logo.point.genuine_threshold == other["genuine_threshold"] > 0.9 > Config().logo.point.genuine_threshold
    set_too = Config().with_dotted({"logo.model": "logo-embed", "logo.operating_point": {"genuine_threshold": 0.5}})
    assert set_too.logo.point.genuine_threshold == 0.5
    assert set_too.logo.point.near_threshold == other["near_threshold"]
    path = tmp_path / "c.toml"
    path.write_text('[logo]\nmodel = "logo-embed"\noperating_point = { genuine_threshold = 0.42 }\n')
    assert Config.from_toml(path).logo.point.genuine_threshold == 0.42
    back = config.with_dotted({"logo.model": Config().logo.model})
    assert back.logo == Config().logo and back.logo.point == Config().logo.point  # the defaults, exactly
    assert back.fingerprint() == Config().fingerprint() != config.fingerprint()


def test_a_mistyped_threshold_or_verifier_is_an_error_that_names_it():
    with pytest.raises(ConfigError, match="genuine_treshold"):
        Config().with_dotted({"logo.operating_point": {"genuine_treshold": 0.5}})
    with pytest.raises(ConfigError, match="'sift'"):
        Config().with_dotted({"logo.verifiers": ["sift"]})
    with pytest.raises(ConfigError, match="tilted"):
        Config().with_dotted({"logo.verifiers": ["tilted"]})
    with pytest.raises(ConfigError, match="ocr.enlarge"):
        Config().with_dotted({"ocr.enlarge": "twice"})


def test_result_line_round_trips():
    result = ScreenResult(
        path="a/b.jpg", sha256="ab" * 32, status="ok", error=None, verdict="suspect", risk=0.93,
        texts=(TextHit("GUCCl", (1, 2, 30, 12), 0.91),),
        logos=(LogoHit("Veltora", (5, 6, 50, 40), 0.82, "logos/veltora/a.png"),),
        brands=(BrandMark("Veltora", 0.93, "exact", ("text", "logo")),),
        flags=(Flag("altered_brand_name", "Gucci", "GUCCl", 0.9, (1, 2, 30, 12), "look-alike"),),
        timings={"decode": 0.004, "ocr": 0.31}, notes=("n",), size=(640, 480))
    line = json.dumps(result.to_dict())
    assert ScreenResult.from_dict(json.loads(line)) == result
    for key in ("path", "sha256", "status", "error", "verdict", "risk", "texts", "logos",
                "brands", "flags", "timings"):
        assert key in json.loads(line)


@pytest.mark.parametrize("hit, source", [
    (LogoHit("Veltora", (5, 6, 50, 40), 0.82, "a.png"), "network"),
    (LogoHit("Veltora", (5, 6, 50, 40), 0.82, "a.png", alignment=0.93, agreement=0.96), "alignment"),
    (LogoHit("Veltora", (5, 6, 50, 40), 0.82, "a.png", inliers=14, agreement=0.9, median_agreement=0.97), "keypoints"),
])
def test_a_logo_line_says_what_found_the_region(hit, source):
    """An analyst reading a result line sees which mechanism's evidence the hit carries, so the
    meaning of ``agreement`` (SIFT cells or the aligned reference's) is never guessed."""
    line = json.loads(json.dumps(hit.to_dict()))
    assert line["source"] == source
    assert LogoHit.from_dict(line) == hit
