"""Score a scan's results against a labelled set of photos, and check quality gates.

Teams run the screener in CI on their own labelled photos so that a change to the registry, the
thresholds or the models cannot silently lower quality. This module reads

- the results JSONL a scan wrote (one :class:`~screener.types.ScreenResult` per line), and
- a labels CSV with the columns ``path``, ``verdict``, ``brands`` and ``flags`` (the last two
  ``;``-separated), ``path`` relative to the labels file's folder,

and computes verdict accuracy, the verdict confusion matrix, precision / recall / F1 per flag kind,
per verdict and per brand, and the list of photos it got wrong. :func:`check_gates` turns the
report into pass/fail decisions for ``--min-accuracy`` / ``--min-precision`` / ``--min-recall``.

Counting is per photo: a photo either carries a flag kind (or brand) or not, however many boxes
raised it. That is what a reviewer acts on, and it keeps one busy photo from outweighing others.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Mapping, Sequence

from .errors import ScreenerError
from .types import FLAG_KINDS, VERDICTS, ScreenResult

LABEL_COLUMNS = ("path", "verdict", "brands", "flags")


class EvaluationError(ScreenerError):
    """The results or labels cannot be read or matched (the CLI exits 2)."""


# --- inputs -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Label:
    """What a person says one photo should get."""

    path: str  # as written in the labels file, relative to its folder
    verdict: str
    brands: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()  # flag kinds
    extra: Mapping[str, str] = field(default_factory=dict)  # other columns (kind, evidence, ...)

    def has(self, column: str, value: str) -> bool:
        """True when ``value`` is one of the ``;``-separated items of the column's cell."""
        return value.casefold() in {v.casefold() for v in _split(self.extra.get(column, ""))}


def load_results(path: str | Path) -> list[ScreenResult]:
    """Read a results JSONL; a photo listed twice (a resumed scan) keeps its last line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EvaluationError(f"cannot read results {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise EvaluationError(f"results {path} is not UTF-8 text (expected JSON lines)") from None
    by_path: dict[str, ScreenResult] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            result = ScreenResult.from_dict(data)
        except json.JSONDecodeError as exc:
            raise EvaluationError(f"{path} line {number} is not valid JSON: {exc.msg}") from None
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise EvaluationError(f"{path} line {number} is not a screener result "
                                  f"({type(exc).__name__}: {exc})") from None
        by_path[result.path] = result
    return list(by_path.values())


def load_labels(path: str | Path) -> list[Label]:
    """Read a labels CSV, checking every verdict and flag kind so typos do not pass silently."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            missing = [c for c in ("path", "verdict") if c not in columns]
            if missing:
                raise EvaluationError(
                    f"labels {path} lacks the column(s) {', '.join(missing)} "
                    f"(expected a header with {', '.join(LABEL_COLUMNS)})")
            rows = [({(k or "").strip(): (v or "") for k, v in row.items()}, reader.line_num)
                    for row in reader]
    except OSError as exc:
        raise EvaluationError(f"cannot read labels {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise EvaluationError(f"labels {path} is not a UTF-8 CSV file: {exc}") from None

    labels: list[Label] = []
    seen: dict[str, int] = {}
    for row, line in rows:
        where = f"{path} line {line}"
        photo = _normal_path(row.get("path", ""))
        if not photo:
            raise EvaluationError(f"{where}: empty path")
        if photo in seen:
            raise EvaluationError(f"{where}: {photo} is already labelled on line {seen[photo]}")
        seen[photo] = line
        verdict = row.get("verdict", "").strip().lower()
        if verdict not in VERDICTS:
            raise EvaluationError(f"{where}: verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
        flags = _split(row.get("flags", ""))
        unknown = [f for f in flags if f not in FLAG_KINDS]
        if unknown:
            raise EvaluationError(f"{where}: unknown flag kind(s) {', '.join(unknown)} "
                                  f"(known: {', '.join(FLAG_KINDS)})")
        extra = {k: v for k, v in row.items() if k and k not in LABEL_COLUMNS}
        labels.append(Label(path=photo, verdict=verdict, brands=_split(row.get("brands", "")),
                            flags=flags, extra=extra))
    return labels


def match_labels(labels: Sequence[Label], results: Sequence[ScreenResult],
                 labels_root: str | Path = ".") -> list[tuple[Label, ScreenResult]]:
    """Pair each label with its result; a label whose photo is not in the results is an error.

    Results hold the path as it was scanned (``sample_images/listings/x.jpg``, or absolute);
    labels hold it relative to their own folder (``listings/x.jpg``). A label matches the result
    whose path is the same file, else the one result whose path ends with the label's path.
    """
    root = Path(labels_root)
    by_abspath: dict[str, ScreenResult] = {}
    by_name: dict[str, list[ScreenResult]] = {}
    for result in results:
        by_abspath.setdefault(os.path.normpath(os.path.abspath(result.path)), result)
        parts = _parts(result.path)
        if parts:
            by_name.setdefault(parts[-1], []).append(result)

    pairs: list[tuple[Label, ScreenResult]] = []
    missing: list[str] = []
    ambiguous: list[str] = []
    for label in labels:
        found = by_abspath.get(os.path.normpath(os.path.abspath(root / label.path)))
        if found is None:
            want = _parts(label.path)
            candidates = [r for r in by_name.get(want[-1], []) if _parts(r.path)[-len(want):] == want]
            if len(candidates) > 1:
                ambiguous.append(f"{label.path} ({', '.join(r.path for r in candidates[:3])})")
                continue
            found = candidates[0] if candidates else None
        if found is None:
            missing.append(label.path)
            continue
        pairs.append((label, found))
    if ambiguous:
        raise EvaluationError("several results match the label(s): " + "; ".join(ambiguous[:10]))
    if missing:
        shown = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
        raise EvaluationError(f"{len(missing)} labelled photo(s) are not in the results: {shown}")
    return pairs


# --- metrics ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Counts:
    """Per-photo true/false positives and false negatives of one class; None where undefined."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def support(self) -> int:
        """Photos labelled with this class."""
        return self.tp + self.fn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "support": self.support,
                "precision": _r(self.precision), "recall": _r(self.recall), "f1": _r(self.f1)}


@dataclass(frozen=True)
class PhotoOutcome:
    """One labelled photo: what was expected and what the scan found."""

    path: str  # the label's path
    result_path: str
    expected_verdict: str
    found_verdict: str
    expected_flags: tuple[str, ...]
    found_flags: tuple[str, ...]
    expected_brands: tuple[str, ...]
    found_brands: tuple[str, ...]
    error: str | None = None  # the scan's error message for an error row

    @property
    def wrong(self) -> tuple[str, ...]:
        """Which of verdict / flags / brands differ (empty when the photo is right)."""
        out = []
        if self.expected_verdict != self.found_verdict:
            out.append("verdict")
        if set(self.expected_flags) != set(self.found_flags):
            out.append("flags")
        if _fold(self.expected_brands) != _fold(self.found_brands):
            out.append("brands")
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "result_path": self.result_path,
                "expected": {"verdict": self.expected_verdict, "flags": list(self.expected_flags),
                             "brands": list(self.expected_brands)},
                "found": {"verdict": self.found_verdict, "flags": list(self.found_flags),
                          "brands": list(self.found_brands)},
                "error": self.error, "wrong": list(self.wrong)}


@dataclass(frozen=True)
class EvalReport:
    """Everything ``screener eval`` reports; ``to_dict()`` is the ``--json`` output."""

    photos: tuple[PhotoOutcome, ...]
    confusion: Mapping[str, Mapping[str, int]]  # expected verdict -> found verdict -> photos
    per_verdict: Mapping[str, Counts]
    per_flag: Mapping[str, Counts]
    per_brand: Mapping[str, Counts]
    unlabelled: int = 0  # results with no label (ignored)
    # Verdict accuracy per value of the labels columns asked for (``--by evidence``):
    # column -> value -> (correct, photos). A photo counts under each of its ``;``-items.
    groups: Mapping[str, Mapping[str, tuple[int, int]]] = field(default_factory=dict)
    selection: str = ""  # the --where filter that chose the photos, "" for all

    @property
    def total(self) -> int:
        return len(self.photos)

    @property
    def correct(self) -> int:
        return sum(1 for p in self.photos if p.expected_verdict == p.found_verdict)

    @property
    def accuracy(self) -> float | None:
        """Share of labelled photos with the labelled verdict; None when there are none."""
        return self.correct / self.total if self.total else None

    @property
    def wrong(self) -> tuple[PhotoOutcome, ...]:
        return tuple(p for p in self.photos if p.wrong)

    def to_dict(self) -> dict[str, Any]:
        return {
            "photos": self.total, "unlabelled_results": self.unlabelled,
            "accuracy": _r(self.accuracy), "correct": self.correct,
            "confusion": {k: dict(v) for k, v in self.confusion.items()},
            "per_verdict": {k: c.to_dict() for k, c in self.per_verdict.items()},
            "per_flag": {k: c.to_dict() for k, c in self.per_flag.items()},
            "per_brand": {k: c.to_dict() for k, c in self.per_brand.items()},
            "wrong": [p.to_dict() for p in self.wrong],
            "groups": {c: {v: {"correct": n, "photos": t, "accuracy": _r(n / t if t else None)}
                           for v, (n, t) in g.items()} for c, g in self.groups.items()},
            "selection": self.selection,
        }


def evaluate(pairs: Iterable[tuple[Label, ScreenResult]], unlabelled: int = 0,
             group_by: Sequence[str] = (), selection: str = "") -> EvalReport:
    """Score labelled (label, result) pairs; ``group_by`` names labels columns to break down by."""
    pairs = list(pairs)
    groups: dict[str, dict[str, tuple[int, int]]] = {}
    for column in group_by:
        table: dict[str, tuple[int, int]] = {}
        for label, result in pairs:
            for value in _split(label.extra.get(column, "")) or ("(empty)",):
                right, total = table.get(value, (0, 0))
                table[value] = (right + (label.verdict == result.verdict), total + 1)
        groups[column] = dict(sorted(table.items()))
    photos: list[PhotoOutcome] = []
    for label, result in pairs:
        found_brands: list[str] = []
        for mark in result.brands:
            if mark.brand.casefold() not in _fold(found_brands):
                found_brands.append(mark.brand)
        photos.append(PhotoOutcome(
            path=label.path, result_path=result.path,
            expected_verdict=label.verdict, found_verdict=result.verdict,
            expected_flags=tuple(sorted(set(label.flags))),
            found_flags=tuple(sorted({f.kind for f in result.flags})),
            expected_brands=label.brands, found_brands=tuple(found_brands),
            error=result.error))

    verdicts = list(VERDICTS) + sorted({p.found_verdict for p in photos} - set(VERDICTS))
    confusion = {e: {f: 0 for f in verdicts} for e in verdicts}
    for p in photos:
        confusion[p.expected_verdict][p.found_verdict] += 1

    per_verdict = {v: _counts(photos, lambda p, v=v: {p.expected_verdict} & {v},
                              lambda p, v=v: {p.found_verdict} & {v}, v) for v in verdicts}
    kinds = list(FLAG_KINDS) + sorted({k for p in photos for k in p.found_flags} - set(FLAG_KINDS))
    per_flag = {k: _counts(photos, lambda p: set(p.expected_flags), lambda p: set(p.found_flags), k)
                for k in kinds}
    # Brands are compared case-insensitively; the report uses the label's spelling when there is one.
    spelling: dict[str, str] = {}
    for p in photos:
        for name in p.found_brands:
            spelling.setdefault(name.casefold(), name)
    for p in photos:
        for name in p.expected_brands:
            spelling[name.casefold()] = name
    per_brand = {spelling[key]: _counts(photos, lambda p: _fold(p.expected_brands),
                                        lambda p: _fold(p.found_brands), key)
                 for key in sorted(spelling, key=str.casefold)}
    return EvalReport(photos=tuple(photos), confusion=confusion, per_verdict=per_verdict,
                      per_flag=per_flag, per_brand=per_brand, unlabelled=unlabelled,
                      groups=groups, selection=selection)


def evaluate_files(results_path: str | Path, labels_path: str | Path, group_by: Sequence[str] = (),
                   where: Sequence[str] = ()) -> EvalReport:
    """Read, match and score; raises :class:`EvaluationError` for unreadable or unmatched input.

    ``where`` holds ``COLUMN=VALUE`` filters (all must hold): only labelled photos whose column
    has VALUE among its ``;``-separated items are scored, e.g. ``evidence=text``.
    """
    results = load_results(results_path)
    labels = load_labels(labels_path)
    columns = set(LABEL_COLUMNS) | {k for label in labels for k in label.extra}
    for column in group_by:
        if column not in columns:
            raise EvaluationError(f"--by {column}: the labels have no such column "
                                  f"(columns: {', '.join(sorted(columns))})")
    for condition in where:
        column, sep, value = condition.partition("=")
        column, value = column.strip(), value.strip()
        if not sep or not column or not value:
            raise EvaluationError(f"--where expects COLUMN=VALUE, got {condition!r}")
        if column not in columns:
            raise EvaluationError(f"--where {column}: the labels have no such column "
                                  f"(columns: {', '.join(sorted(columns))})")
        labels = [lb for lb in labels if _cell_has(lb, column, value)]
    pairs = match_labels(labels, results, Path(labels_path).parent)
    matched = {id(r) for _, r in pairs}
    return evaluate(pairs, unlabelled=sum(1 for r in results if id(r) not in matched),
                    group_by=group_by, selection=" and ".join(where))


def _cell_has(label: Label, column: str, value: str) -> bool:
    if column in ("verdict",):
        return label.verdict == value.lower()
    if column in ("brands", "flags"):
        items = label.brands if column == "brands" else label.flags
        return value.casefold() in {i.casefold() for i in items}
    if column == "path":
        return label.path == _normal_path(value)
    return label.has(column, value)


# --- gates --------------------------------------------------------------------------------------
METRICS = ("accuracy", "precision", "recall")


@dataclass(frozen=True)
class Gate:
    """A minimum on one metric: accuracy, or precision/recall of a flag kind, verdict or brand."""

    metric: str  # one of METRICS
    threshold: float
    target: str = ""  # flag kind, verdict, or "brand:<name>"; "" for accuracy

    @property
    def name(self) -> str:
        what = f" {self.target}" if self.target else ""
        return f"min-{self.metric}{what} >= {self.threshold:g}"


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    value: float | None
    passed: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"gate": self.gate.name, "metric": self.gate.metric, "target": self.gate.target,
                "threshold": self.gate.threshold, "value": _r(self.value), "passed": self.passed,
                "message": self.message}


def parse_gate(metric: str, spec: str) -> Gate:
    """``parse_gate("precision", "altered_brand_name=0.8")``; accuracy takes a bare number.

    Targets: a flag kind (``mixed_marks``), a verdict (``suspect``) or ``brand:<name>``.
    """
    if metric not in METRICS:
        raise EvaluationError(f"unknown gate metric {metric!r}")
    target, value = "", spec
    if metric != "accuracy":
        target, sep, value = spec.rpartition("=")
        target = target.strip()
        if not sep or not target:
            raise EvaluationError(f"--min-{metric} expects KIND=X (e.g. altered_brand_name=0.8), "
                                  f"got {spec!r}")
        if target not in FLAG_KINDS and target not in VERDICTS and not (
                target.startswith("brand:") and target[6:].strip()):
            raise EvaluationError(f"--min-{metric}: {target!r} is not a flag kind "
                                  f"({', '.join(FLAG_KINDS)}), a verdict ({', '.join(VERDICTS)}) "
                                  "or brand:<name>")
    try:
        threshold = float(value)
    except ValueError:
        raise EvaluationError(f"--min-{metric}: {value!r} is not a number") from None
    if not 0.0 <= threshold <= 1.0:
        raise EvaluationError(f"--min-{metric}: {threshold:g} is outside [0, 1]")
    return Gate(metric=metric, threshold=threshold, target=target)


def check_gates(report: EvalReport, gates: Iterable[Gate]) -> tuple[GateResult, ...]:
    """Decide each gate. A metric that is undefined (nothing labelled or found) fails its gate:
    a gate that cannot be checked must not pass silently."""
    out = []
    for gate in gates:
        if gate.metric == "accuracy":
            value = report.accuracy
            why = "no labelled photos"
        else:
            counts = _target_counts(report, gate.target)
            value = counts.precision if gate.metric == "precision" else counts.recall
            why = (f"no photo was found with {gate.target}" if gate.metric == "precision"
                   else f"no photo is labelled with {gate.target}")
        if value is None:
            out.append(GateResult(gate, None, False, f"{gate.name}: FAILED, undefined ({why})"))
        elif value + 1e-12 >= gate.threshold:
            out.append(GateResult(gate, value, True, f"{gate.name}: passed ({value:.3f})"))
        else:
            out.append(GateResult(gate, value, False,
                                  f"{gate.name}: FAILED ({value:.3f} < {gate.threshold:g})"))
    return tuple(out)


def _target_counts(report: EvalReport, target: str) -> Counts:
    if target.startswith("brand:"):
        wanted = target[6:].strip().casefold()
        for name, counts in report.per_brand.items():
            if name.casefold() == wanted:
                return counts
        return Counts()
    if target in report.per_flag:
        return report.per_flag[target]
    return report.per_verdict.get(target, Counts())


# --- text output --------------------------------------------------------------------------------
def format_report(report: EvalReport, gates: Sequence[GateResult] = ()) -> str:
    """The readable table ``screener eval`` prints by default."""
    lines = [f"labelled photos: {report.total}"
             + (f" where {report.selection}" if report.selection else "")
             + (f" ({report.unlabelled} results without a label ignored)" if report.unlabelled else "")]
    acc = report.accuracy
    lines.append(f"verdict accuracy: {_fmt(acc)} ({report.correct}/{report.total})")
    for column, table in report.groups.items():
        lines.append("")
        lines.append(_table([f"by {column}", "photos", "correct", "accuracy"],
                            [[v, str(t), str(n), _fmt(n / t if t else None)]
                             for v, (n, t) in table.items()]))
    lines.append("")
    verdicts = list(report.confusion)
    lines.append("confusion matrix (rows: expected verdict, columns: found)")
    lines.append(_table(["expected \\ found", *verdicts],
                        [[e, *(str(report.confusion[e][f]) for f in verdicts)] for e in verdicts]))
    for title, table in (("verdict", report.per_verdict), ("flag kind", report.per_flag),
                         ("brand", report.per_brand)):
        lines.append("")
        rows = [[name, str(c.support), str(c.tp), str(c.fp), str(c.fn), _fmt(c.precision),
                 _fmt(c.recall), _fmt(c.f1)] for name, c in table.items()]
        lines.append(_table([title, "labelled", "tp", "fp", "fn", "precision", "recall", "f1"], rows)
                     if rows else f"{title}: none")
    wrong = report.wrong
    lines.append("")
    lines.append(f"wrong photos: {len(wrong)}")
    for p in wrong:
        lines.append(f"  {p.path}  [{', '.join(p.wrong)}]")
        lines.append(f"    expected: {_describe(p.expected_verdict, p.expected_flags, p.expected_brands)}")
        found = _describe(p.found_verdict, p.found_flags, p.found_brands)
        lines.append(f"    found:    {found}" + (f"  error: {p.error}" if p.error else ""))
    if gates:
        lines.append("")
        lines.append("gates:")
        lines.extend(f"  {'PASS' if g.passed else 'FAIL'}  {g.message}" for g in gates)
    return "\n".join(lines)


def _describe(verdict: str, flags: Sequence[str], brands: Sequence[str]) -> str:
    return (f"{verdict}; flags: {', '.join(flags) or '-'}; brands: {', '.join(brands) or '-'}")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    def fmt(row: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths))).rstrip()
    return "\n".join([fmt(header)] + [fmt(r) for r in rows])


# --- helpers ------------------------------------------------------------------------------------
def _counts(photos: Sequence[PhotoOutcome], expected: Any, found: Any, key: str) -> Counts:
    tp = fp = fn = 0
    for p in photos:
        e, f = key in expected(p), key in found(p)
        tp += e and f
        fp += f and not e
        fn += e and not f
    return Counts(tp=tp, fp=fp, fn=fn)


def _split(cell: str) -> tuple[str, ...]:
    out: list[str] = []
    for part in cell.split(";"):
        part = " ".join(part.split())
        if part and part not in out:
            out.append(part)
    return tuple(out)


def _fold(names: Iterable[str]) -> set[str]:
    return {n.casefold() for n in names}


def _normal_path(text: str) -> str:
    text = text.strip().replace("\\", "/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    return ("/" if text.startswith("/") else "") + "/".join(parts)


def _parts(path: str) -> tuple[str, ...]:
    return tuple(p for p in PurePosixPath(path.replace("\\", "/")).parts if p not in ("/", "."))


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
