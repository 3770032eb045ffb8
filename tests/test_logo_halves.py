"""``benchmarks/logo_halves.py --screener A --versus B``: two screeners compared photo by photo,
with the sign test that says whether the photos one names and the other misses could be chance
(a rebuild at another seed moves up to five per group: BENCHMARKS.md, "Two more training seeds")."""

from __future__ import annotations

import json
import sys

import pytest

from helpers import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import logo_halves  # noqa: E402


def test_the_sign_test_is_exact_and_two_sided():
    assert logo_halves.sign_test(0, 0) == 1.0
    assert logo_halves.sign_test(4, 4) == 1.0
    assert logo_halves.sign_test(0, 5) == pytest.approx(2 / 32)  # 5 coins all one way
    assert logo_halves.sign_test(7, 1) == logo_halves.sign_test(1, 7) == pytest.approx(2 * (1 + 8) / 256)


def _run(path, combined):
    truth = {"a.jpg": ["Alpha"], "b.jpg": ["Alpha"], "c.jpg": ["Gamma"], "icdar/s.jpg": []}
    path.write_text(json.dumps({"combined": combined, "truth": truth, "report": {"heldout_brands": ["Gamma"]}}))
    return path


def test_two_screeners_are_compared_photo_by_photo(tmp_path, capsys, monkeypatch):
    """Worked by hand, every photo in one half: A names a and c right, B names a and b right and
    marks Beta on the street photo. Trained group: both a, A only none, B only b; held-out: A only c."""
    monkeypatch.setattr(logo_halves, "evaluation_half", lambda photo: "fit")  # one half: isolates the counting
    a = _run(tmp_path / "a.json", {"a.jpg": ["Alpha"], "b.jpg": [], "c.jpg": ["Gamma"], "icdar/s.jpg": []})
    b = _run(tmp_path / "b.json", {"a.jpg": ["Alpha"], "b.jpg": ["Alpha", "Beta"], "c.jpg": [],
                                   "icdar/s.jpg": ["Beta"]})
    assert logo_halves.main(["--screener", str(a), "--versus", str(b)]) == 0
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines() if line.startswith("| fit")]
    assert [r[1:4] for r in rows] == [["trained", "2", "1 / 0 / 1"], ["held-out", "1", "0 / 1 / 0"],
                                      ["street", "1", "-"]]
    assert rows[0][5] == "0 / 1 |" and rows[2][5] == "0 / 1 |"  # B's Beta on photo b, and on the street


def test_versus_needs_screener_runs(tmp_path):
    run = tmp_path / "r.json"
    run.write_text(json.dumps({"scores": {}, "truth": {}, "report": {"heldout_brands": []}}))
    with pytest.raises(SystemExit):
        logo_halves.main([str(run), "--versus", str(run)])
    with pytest.raises(SystemExit, match="not a logo_flickr.py --ocr run"):
        logo_halves.main(["--screener", str(run), "--versus", str(run)])
    with pytest.raises(SystemExit, match="cannot read"):
        logo_halves.main(["--screener", str(tmp_path / "missing.json"), "--versus", str(run)])
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SystemExit, match="cannot read"):
        logo_halves.main(["--screener", str(tmp_path / "bad.json"), "--versus", str(run)])
