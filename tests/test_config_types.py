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
