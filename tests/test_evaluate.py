"""`screener eval`: metric arithmetic, gates and their exit codes, JUnit output, input errors.

The results here are hand-made ScreenResult lines: the arithmetic is checked against numbers
worked out by hand, independent of what the pipeline finds on any photo.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from screener.cli import main
from screener.evaluate import (Counts, EvaluationError, Label, check_gates, evaluate,
                               evaluate_files, load_labels, match_labels, parse_gate)
from screener.types import BrandMark, Flag, ScreenResult


def result(path: str, verdict: str, flags: tuple[str, ...] = (), brands: tuple[str, ...] = (),
           error: str | None = None) -> ScreenResult:
    return ScreenResult(
        path=path, sha256="0" * 64, status="error" if verdict == "error" else "ok", error=error,
        verdict=verdict, risk=0.5,
        brands=tuple(BrandMark(brand=b, score=0.9, match="exact", evidence=("text",)) for b in brands),
        flags=tuple(Flag(kind=k, brand=None, text=None, score=0.9, box=(0, 0, 1, 1), reason="test")
                    for k in flags))


def write_case(folder: Path, rows: list[tuple[str, str, str, str]], results: list[ScreenResult],
               results_prefix: str = "sample_images/") -> tuple[Path, Path]:
    """A labels CSV in folder/sample_images and a results JSONL whose paths carry the prefix."""
    labels_dir = folder / "sample_images"
    labels_dir.mkdir(parents=True, exist_ok=True)
    labels = labels_dir / "labels.csv"
    labels.write_text("path,verdict,brands,flags\n" + "".join(",".join(r) + "\n" for r in rows),
                      encoding="utf-8")
    out = folder / "results.jsonl"
    out.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in results), encoding="utf-8")
    return out, labels


# A small labelled set, worked out by hand:
#   a: suspect/altered (Veltora) -> found suspect/altered (Veltora)         right
#   b: review/brand_mark (Veltora) -> found suspect/brand_mark+cue (Veltora) wrong verdict+flags
#   c: clear -> found review/brand_mark (Orvane)                             wrong everything
#   d: suspect/cue -> found clear                                            wrong
#   e: clear -> found clear                                                  right
ROWS = [("listings/a.jpg", "suspect", "Veltora", "altered_brand_name"),
        ("listings/b.jpg", "review", "Veltora", "brand_mark"),
        ("listings/c.jpg", "clear", "", ""),
        ("listings/d.jpg", "suspect", "", "counterfeit_cue"),
        ("listings/e.jpg", "clear", "", "")]
RESULTS = [result("sample_images/listings/a.jpg", "suspect", ("altered_brand_name",), ("Veltora",)),
           result("sample_images/listings/b.jpg", "suspect", ("brand_mark", "counterfeit_cue"), ("veltora",)),
           result("sample_images/listings/c.jpg", "review", ("brand_mark",), ("Orvane",)),
           result("sample_images/listings/d.jpg", "clear"),
           result("sample_images/listings/e.jpg", "clear"),
           result("sample_images/listings/unlabelled.jpg", "clear")]


@pytest.fixture
def case(tmp_path: Path) -> tuple[Path, Path]:
    return write_case(tmp_path, ROWS, RESULTS)


def test_metrics_by_hand(case: tuple[Path, Path]) -> None:
    report = evaluate_files(*case)
    assert report.total == 5 and report.unlabelled == 1
    assert report.correct == 2 and report.accuracy == pytest.approx(0.4)
    assert report.confusion["suspect"] == {"suspect": 1, "review": 0, "clear": 1, "error": 0}
    assert report.confusion["review"]["suspect"] == 1
    assert report.confusion["clear"] == {"suspect": 0, "review": 1, "clear": 1, "error": 0}
    # suspect verdict: found on a, b (tp a, fp b); labelled on a, d (fn d)
    assert report.per_verdict["suspect"] == Counts(tp=1, fp=1, fn=1)
    # brand_mark: labelled b; found b, c
    bm = report.per_flag["brand_mark"]
    assert (bm.tp, bm.fp, bm.fn) == (1, 1, 0)
    assert bm.precision == pytest.approx(0.5) and bm.recall == 1.0
    assert bm.f1 == pytest.approx(2 * 0.5 * 1.0 / 1.5)
    cue = report.per_flag["counterfeit_cue"]  # labelled d, found b
    assert (cue.tp, cue.fp, cue.fn) == (0, 1, 1) and cue.precision == 0.0 and cue.recall == 0.0
    assert cue.f1 == 0.0
    assert report.per_flag["imitation_logo"].precision is None  # nothing found, nothing labelled
    # brands compare case-insensitively and keep the label's spelling
    assert report.per_brand["Veltora"] == Counts(tp=2, fp=0, fn=0)
    assert report.per_brand["Orvane"] == Counts(tp=0, fp=1, fn=0)
    wrong = {p.path: p.wrong for p in report.wrong}
    assert wrong == {"listings/b.jpg": ("verdict", "flags"),
                     "listings/c.jpg": ("verdict", "flags", "brands"),
                     "listings/d.jpg": ("verdict", "flags")}
    data = json.loads(json.dumps(report.to_dict()))
    assert data["accuracy"] == 0.4 and len(data["wrong"]) == 3
    assert data["wrong"][1]["expected"]["verdict"] == "clear"
    assert data["wrong"][1]["found"]["brands"] == ["Orvane"]


def test_empty_set() -> None:
    report = evaluate([])
    assert report.total == 0 and report.accuracy is None and report.wrong == ()
    assert all(c == Counts() for c in report.per_flag.values())
    assert report.per_brand == {}
    # A gate that cannot be measured must not pass silently.
    (gate,) = check_gates(report, [parse_gate("accuracy", "0.5")])
    assert not gate.passed and "undefined" in gate.message


def test_all_wrong() -> None:
    labels = [Label("x/1.jpg", "suspect", ("Veltora",), ("altered_brand_name",)),
              Label("x/2.jpg", "clear")]
    results = [result("x/1.jpg", "clear"),
               result("x/2.jpg", "suspect", ("mixed_marks",), ("Orvane",))]
    report = evaluate(match_labels(labels, results))
    assert report.accuracy == 0.0 and len(report.wrong) == 2
    assert report.per_flag["altered_brand_name"] == Counts(tp=0, fp=0, fn=1)
    assert report.per_flag["altered_brand_name"].recall == 0.0
    assert report.per_flag["mixed_marks"].precision == 0.0
    assert report.per_brand["Veltora"].recall == 0.0 and report.per_brand["Orvane"].precision == 0.0


def test_error_rows_count_as_found_nothing(tmp_path: Path) -> None:
    out, labels = write_case(tmp_path, [("listings/a.jpg", "suspect", "", "counterfeit_cue")],
                             [result("sample_images/listings/a.jpg", "error", error="a.jpg is empty")])
    report = evaluate_files(out, labels)
    assert report.confusion["suspect"]["error"] == 1
    assert report.wrong[0].error == "a.jpg is empty"


@pytest.mark.parametrize("argv, code, stderr_has", [
    ([], 0, ""),
    (["--min-accuracy", "0.4"], 0, ""),
    (["--min-accuracy", "0.5"], 1, "min-accuracy >= 0.5"),
    (["--min-precision", "brand_mark=0.5"], 0, ""),
    (["--min-precision", "brand_mark=0.6"], 1, "min-precision brand_mark >= 0.6"),
    (["--min-recall", "brand_mark=1.0", "--min-recall", "altered_brand_name=1"], 0, ""),
    (["--min-recall", "brand_mark=1.0", "--min-recall", "counterfeit_cue=0.1"], 1,
     "min-recall counterfeit_cue >= 0.1"),
    (["--min-precision", "suspect=0.5"], 0, ""),
    (["--min-recall", "brand:veltora=1"], 0, ""),
    (["--min-precision", "brand:Orvane=0.1"], 1, "brand:Orvane"),
    (["--min-precision", "imitation_logo=0.1"], 1, "undefined"),
    (["--min-precision", "nonsense=0.5"], 2, "not a flag kind"),
    (["--min-recall", "brand_mark"], 2, "KIND=X"),
    (["--min-accuracy", "1.5"], 2, "outside [0, 1]"),
    (["--min-accuracy", "high"], 2, "not a number"),
])
def test_gate_exit_codes(case: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
                         argv: list[str], code: int, stderr_has: str) -> None:
    out, labels = case
    assert main(["eval", str(out), "--labels", str(labels), *argv]) == code
    captured = capsys.readouterr()
    assert stderr_has in captured.err
    if code == 0:
        assert "verdict accuracy: 0.400 (2/5)" in captured.out


def test_json_output(case: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    out, labels = case
    assert main(["eval", str(out), "--labels", str(labels), "--json", "--min-accuracy", "0.9"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["accuracy"] == 0.4 and data["photos"] == 5
    assert data["gates"] == [{"gate": "min-accuracy >= 0.9", "metric": "accuracy", "target": "",
                              "threshold": 0.9, "value": 0.4, "passed": False,
                              "message": "min-accuracy >= 0.9: FAILED (0.400 < 0.9)"}]
    assert data["per_flag"]["brand_mark"] == {"tp": 1, "fp": 1, "fn": 0, "support": 1,
                                              "precision": 0.5, "recall": 1.0, "f1": 0.6667}


def test_junit_structure(case: tuple[Path, Path], tmp_path: Path) -> None:
    out, labels = case
    junit = tmp_path / "ci" / "eval.xml"
    code = main(["eval", str(out), "--labels", str(labels), "--min-accuracy", "0.3",
                 "--min-recall", "counterfeit_cue=0.5", "--junit", str(junit)])
    assert code == 1
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"screener.gates", "screener.photos"}
    gates = suites["screener.gates"].findall("testcase")
    assert [g.get("name") for g in gates] == ["min-accuracy >= 0.3", "min-recall counterfeit_cue >= 0.5"]
    assert gates[0].find("failure") is None and gates[1].find("failure") is not None
    assert suites["screener.gates"].get("tests") == "2" and suites["screener.gates"].get("failures") == "1"
    photos = suites["screener.photos"].findall("testcase")
    assert sorted(p.get("name") for p in photos) == [r[0] for r in ROWS]  # one per labelled photo
    failed = sorted(p.get("name") for p in photos if p.find("failure") is not None)
    assert failed == ["listings/b.jpg", "listings/c.jpg", "listings/d.jpg"]
    assert "expected: clear" in photos[2].find("failure").text
    assert root.get("tests") == "7" and root.get("failures") == "4"


def test_junit_escapes_odd_names(tmp_path: Path) -> None:
    name = 'listings/<img src=x onerror="alert(1)">&\x07.jpg'
    out, labels = write_case(tmp_path, [], [result("sample_images/" + name, "clear")])
    labels.write_text('path,verdict,brands,flags\n"' + name.replace('"', '""') + '",suspect,,\n',
                      encoding="utf-8")
    junit = tmp_path / "j.xml"
    assert main(["eval", str(out), "--labels", str(labels), "--junit", str(junit)]) == 0
    case = ET.parse(junit).getroot().find(".//testcase[@classname='screener.photos']")
    assert case.get("name").startswith('listings/<img src=x onerror="alert(1)">&')  # parsed back intact
    assert b"<img" not in junit.read_bytes()


def test_labels_naming_missing_photos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = ROWS + [("listings/gone.jpg", "clear", "", ""), ("other/lost.jpg", "suspect", "", "")]
    out, labels = write_case(tmp_path, rows, RESULTS)
    with pytest.raises(EvaluationError, match="2 labelled photo.*listings/gone.jpg, other/lost.jpg"):
        evaluate_files(out, labels)
    junit = tmp_path / "j.xml"
    assert main(["eval", str(out), "--labels", str(labels), "--junit", str(junit)]) == 2
    assert "listings/gone.jpg" in capsys.readouterr().err
    assert ET.parse(junit).getroot().find(".//error") is not None  # CI still shows why


@pytest.mark.parametrize("labels_text, results_text, message", [
    ("path,verdict\nlistings/a.jpg,maybe\n", "", "verdict 'maybe'"),
    ("path,verdict,brands,flags\nlistings/a.jpg,suspect,,altred_name\n", "", "unknown flag kind"),
    ("file,label\nx,y\n", "", "lacks the column"),
    ("path,verdict\nlistings/a.jpg,clear\nlistings/a.jpg,clear\n", "", "already labelled"),
    ("path,verdict\n", "{not json\n", "line 1 is not valid JSON"),
    ("path,verdict\n", '{"path": "a.jpg"}\n', "line 1 is not a screener result"),
    ("path,verdict\n", "[1, 2]\n", "not a screener result"),
])
def test_unreadable_inputs(tmp_path: Path, labels_text: str, results_text: str, message: str,
                           capsys: pytest.CaptureFixture[str]) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text(labels_text, encoding="utf-8")
    out = tmp_path / "results.jsonl"
    out.write_text(results_text, encoding="utf-8")
    assert main(["eval", str(out), "--labels", str(labels)]) == 2
    assert message in capsys.readouterr().err


def test_missing_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(tmp_path / "none.jsonl"), "--labels", str(tmp_path / "l.csv")]) == 2
    assert "cannot read results" in capsys.readouterr().err


def test_path_matching(tmp_path: Path) -> None:
    labels = [Label("listings/x.jpg", "clear")]
    # absolute result path of the very file the label names
    absolute = str((tmp_path / "listings" / "x.jpg").resolve())
    assert match_labels(labels, [result(absolute, "clear")], tmp_path)[0][1].path == absolute
    # a scan run elsewhere: matched by path suffix, not by bare file name
    assert match_labels(labels, [result("data/sample_images/listings/x.jpg", "clear")], tmp_path)
    with pytest.raises(EvaluationError, match="not in the results"):
        match_labels(labels, [result("elsewhere/x.jpg", "clear")], tmp_path)
    with pytest.raises(EvaluationError, match="not in the results"):
        match_labels(labels, [result("a/otherlistings/x.jpg", "clear")], tmp_path)
    with pytest.raises(EvaluationError, match="several results"):
        match_labels(labels, [result("a/listings/x.jpg", "clear"),
                              result("b/listings/x.jpg", "clear")], tmp_path)


def test_resumed_scan_keeps_last_line(tmp_path: Path) -> None:
    out, labels = write_case(tmp_path, [("listings/a.jpg", "clear", "", "")],
                             [result("sample_images/listings/a.jpg", "error", error="gone"),
                              result("sample_images/listings/a.jpg", "clear")])
    assert evaluate_files(out, labels).accuracy == 1.0


def test_labels_with_bom_and_spaces(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("\ufeffpath,verdict,brands,flags\n./listings/a.jpg, Suspect ,Veltora; Orvane ,"
                      "mixed_marks;counterfeit_cue\n", encoding="utf-8")
    (label,) = load_labels(labels)
    assert label == Label("listings/a.jpg", "suspect", ("Veltora", "Orvane"),
                          ("mixed_marks", "counterfeit_cue"))


def test_by_and_where(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Extra labels columns: accuracy per value (--by) and scoring a subset (--where)."""
    labels_dir = tmp_path / "sample_images"
    labels_dir.mkdir()
    labels = labels_dir / "labels.csv"
    labels.write_text("path,verdict,brands,flags,evidence\n"
                      "listings/a.jpg,suspect,Veltora,altered_brand_name,text\n"
                      "listings/b.jpg,review,Veltora,brand_mark,text;logo\n"
                      "listings/c.jpg,clear,,,\n"
                      "listings/d.jpg,suspect,,counterfeit_cue,text\n"
                      "listings/e.jpg,clear,,,\n", encoding="utf-8")
    out = tmp_path / "r.jsonl"
    out.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in RESULTS), encoding="utf-8")
    report = evaluate_files(out, labels, group_by=["evidence"])
    assert report.groups["evidence"] == {"(empty)": (1, 2), "logo": (0, 1), "text": (1, 3)}
    subset = evaluate_files(out, labels, where=["evidence=text"])
    assert subset.total == 3 and subset.correct == 1 and subset.selection == "evidence=text"
    assert evaluate_files(out, labels, where=["evidence=text", "verdict=suspect"]).total == 2
    assert main(["eval", str(out), "--labels", str(labels), "--where", "evidence=logo",
                 "--min-accuracy", "0.1"]) == 1  # b is wrong: 0/1
    assert "where evidence=logo" in capsys.readouterr().out
    assert main(["eval", str(out), "--labels", str(labels), "--by", "evidence"]) == 0
    assert "by evidence" in capsys.readouterr().out
    assert main(["eval", str(out), "--labels", str(labels), "--by", "nosuch"]) == 2
    assert main(["eval", str(out), "--labels", str(labels), "--where", "evidence"]) == 2
