"""The CLI through `main([...])`: screen, exit codes, and the cost of start-up."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import render_listing
from screener.cli import main


def test_screen_shows_flags_with_boxes_and_reasons(text_registry, tmp_path, capsys):
    photo = tmp_path / "p.jpg"
    render_listing(["V3LTORA", "1:1 replica"], photo)
    code = main(["screen", str(photo), "--registry", str(text_registry), "--no-logo"])
    out = capsys.readouterr().out
    assert code == 0
    assert "SUSPECT" in out and "altered_brand_name" in out and "counterfeit_cue" in out
    assert "box=[" in out and "imitates 'Veltora'" in out


def test_screen_json_and_fail_on(text_registry, tmp_path, capsys):
    photo = tmp_path / "p.jpg"
    render_listing(["VELTORA bag"], photo)
    assert main(["screen", str(photo), "--registry", str(text_registry), "--json",
                 "--fail-on", "review"]) == 1
    line = json.loads(capsys.readouterr().out)
    assert line["verdict"] == "review" and line["brands"][0]["brand"] == "Veltora"
    assert main(["screen", str(photo), "--registry", str(text_registry), "--json",
                 "--fail-on", "suspect"]) == 0


@pytest.mark.parametrize("argv", [
    ["screen", "x.jpg", "--registry", "/nonexistent/registry"],
    ["screen", "x.jpg", "--registry", "REG", "--set", "policy.nope=1"],
    ["screen", "x.jpg", "--registry", "REG", "--set", "no-equals-sign"],
    ["nonsense-command"],
    [],
])
def test_bad_usage_exits_2(argv, text_registry, capsys):
    argv = [str(text_registry) if a == "REG" else a for a in argv]
    assert main(argv) == 2


def test_unreadable_photo_is_an_error_verdict_not_a_crash(text_registry, tmp_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    assert main(["screen", str(bad), "--registry", str(text_registry), "--json"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["status"] == "error" and line["verdict"] == "error" and line["error"]


@pytest.mark.parametrize("argv", [["--help"], ["brands", "list", "--registry", "REG"]])
def test_light_commands_do_not_import_torch_or_onnxruntime(argv, text_registry):
    argv = [str(text_registry) if a == "REG" else a for a in argv]
    code = ("import sys; from screener.cli import main; main(%r); "
            "print(sorted(m for m in ('torch', 'onnxruntime', 'cv2', 'rapidocr_onnxruntime') "
            "if m in sys.modules))" % (argv,))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
