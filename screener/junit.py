"""JUnit XML for ``screener eval --junit FILE``, so CI systems show gate and photo failures natively.

Two test suites: ``screener.gates`` (one test case per gate) and ``screener.photos`` (one per
labelled photo: a failure when its verdict, flags or brands differ from the label, an error when
the scan could not read it). The XML is built with ElementTree, which escapes text and
attributes; characters XML 1.0 cannot carry at all (control bytes in odd file names) are replaced.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Sequence

from .evaluate import EvalReport, GateResult, PhotoOutcome

# Characters XML 1.0 forbids even when escaped; lone surrogates come from non-UTF-8 file names.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _x(text: object) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def junit_xml(report: EvalReport, gates: Sequence[GateResult]) -> bytes:
    """The JUnit document as UTF-8 bytes."""
    root = ET.Element("testsuites", name="screener eval")
    gate_suite = _suite(root, "screener.gates")
    for g in gates:
        case = ET.SubElement(gate_suite, "testcase", classname="screener.gates", name=_x(g.gate.name))
        if not g.passed:
            ET.SubElement(case, "failure", message=_x(g.message), type="GateFailed").text = _x(g.message)
    photo_suite = _suite(root, "screener.photos")
    for p in report.photos:
        case = ET.SubElement(photo_suite, "testcase", classname="screener.photos", name=_x(p.path))
        if p.found_verdict == "error" and p.expected_verdict != "error":
            ET.SubElement(case, "error", message=_x(f"could not be screened: {p.error or 'unknown error'}"),
                          type="InputError").text = _x(_detail(p))
        elif p.wrong:
            message = f"wrong {', '.join(p.wrong)}: expected {p.expected_verdict}, found {p.found_verdict}"
            ET.SubElement(case, "failure", message=_x(message), type="WrongResult").text = _x(_detail(p))
    for suite in (gate_suite, photo_suite):
        cases = suite.findall("testcase")
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
        suite.set("skipped", "0")
    for attr in ("tests", "failures", "errors"):
        root.set(attr, str(sum(int(s.get(attr, "0")) for s in root)))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(path: str | Path, report: EvalReport, gates: Sequence[GateResult]) -> None:
    """Write the JUnit file (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(report, gates))


def _suite(root: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(root, "testsuite", name=name)


def _detail(p: PhotoOutcome) -> str:
    return (f"photo: {p.result_path}\n"
            f"expected: {p.expected_verdict}; flags: {', '.join(p.expected_flags) or '-'}; "
            f"brands: {', '.join(p.expected_brands) or '-'}\n"
            f"found:    {p.found_verdict}; flags: {', '.join(p.found_flags) or '-'}; "
            f"brands: {', '.join(p.found_brands) or '-'}"
            + (f"\nerror: {p.error}" if p.error else ""))
