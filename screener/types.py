"""Result types: small frozen dataclasses that round-trip the JSONL result line.

Every stage returns the same types whatever ran: empty tuples, never ``None`` for lists.
Boxes are pixel ``(x1, y1, x2, y2)`` in the EXIF-corrected image the caller passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

Box = tuple[int, int, int, int]

# Flag kinds (the `kind` field of a flag). Other tools read these strings: keep them stable.
BRAND_MARK = "brand_mark"
ALTERED_BRAND_NAME = "altered_brand_name"
IMITATION_LOGO = "imitation_logo"
COUNTERFEIT_CUE = "counterfeit_cue"
MIXED_MARKS = "mixed_marks"
FLAG_KINDS = (BRAND_MARK, ALTERED_BRAND_NAME, IMITATION_LOGO, COUNTERFEIT_CUE, MIXED_MARKS)

# Verdicts, from most to least severe.
SUSPECT = "suspect"
REVIEW = "review"
CLEAR = "clear"
ERROR = "error"
VERDICTS = (SUSPECT, REVIEW, CLEAR, ERROR)

# How a brand was matched.
EXACT = "exact"
NEAR = "near"


def _box(value: Any) -> Box | None:
    if value is None:
        return None
    x1, y1, x2, y2 = (int(round(float(v))) for v in value)
    return (x1, y1, x2, y2)


def _round(value: float) -> float:
    return round(float(value), 4)


@dataclass(frozen=True)
class TextHit:
    """One line or word read by the OCR stage."""

    text: str
    box: Box
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "box": list(self.box), "score": _round(self.score)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TextHit":
        return cls(text=str(data["text"]), box=_box(data["box"]), score=float(data["score"]))  # type: ignore[arg-type]


@dataclass(frozen=True)
class LogoHit:
    """A region the logo stage matched to a registered brand's reference logo."""

    brand: str
    box: Box
    score: float  # calibrated CNN similarity of the region to the brand's best reference
    reference: str  # the reference logo's path, relative to the registry folder
    inliers: int = 0  # SIFT matches agreeing on one homography with the reference (0: not verified)
    agreement: float = 0.0  # verified/aligned hits: worst cell correlation of region and reference (1 = same)
    alignment: float = 0.0  # ECC correlation of the reference aligned onto the region (0: not aligned)
    median_agreement: float = 0.0  # verified hits: median cell correlation (how much of the layout agrees)

    @property
    def source(self) -> str:
        """What found the region: "keypoints" (SIFT matches on one homography; ``inliers``,
        ``agreement`` and ``median_agreement`` are its measurements), "alignment" (the reference
        aligned onto it; ``alignment`` and ``agreement``) or "network" (the score alone). A region
        two found carries the stronger one's, keypoints first."""
        return "keypoints" if self.inliers > 0 else "alignment" if self.alignment > 0 else "network"

    def to_dict(self) -> dict[str, Any]:
        return {"brand": self.brand, "box": list(self.box), "score": _round(self.score),
                "reference": self.reference, "source": self.source, "inliers": self.inliers,
                "agreement": _round(self.agreement), "alignment": _round(self.alignment),
                "median_agreement": _round(self.median_agreement)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LogoHit":
        return cls(brand=str(data["brand"]), box=_box(data["box"]), score=float(data["score"]),  # type: ignore[arg-type]
                   reference=str(data.get("reference", "")), inliers=int(data.get("inliers", 0)),
                   agreement=float(data.get("agreement", 0.0)), alignment=float(data.get("alignment", 0.0)),
                   median_agreement=float(data.get("median_agreement", 0.0)))


@dataclass(frozen=True)
class BrandMark:
    """A registered brand whose mark, genuine (`exact`) or imitated (`near`), is in the photo."""

    brand: str
    score: float
    match: str  # EXACT or NEAR
    evidence: tuple[str, ...]  # "text" and/or "logo"

    def to_dict(self) -> dict[str, Any]:
        return {"brand": self.brand, "score": _round(self.score), "match": self.match,
                "evidence": list(self.evidence)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "BrandMark":
        return cls(brand=str(data["brand"]), score=float(data["score"]), match=str(data["match"]),
                   evidence=tuple(str(e) for e in data.get("evidence", ())))


@dataclass(frozen=True)
class Flag:
    """One reason a photo is suspect, with the evidence a reviewer needs."""

    kind: str  # one of FLAG_KINDS
    brand: str | None
    text: str | None
    score: float
    box: Box | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "brand": self.brand, "text": self.text,
                "score": _round(self.score), "box": list(self.box) if self.box else None,
                "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Flag":
        return cls(kind=str(data["kind"]), brand=data.get("brand"), text=data.get("text"),
                   score=float(data.get("score", 0.0)), box=_box(data.get("box")),
                   reason=str(data.get("reason", "")))


@dataclass(frozen=True)
class ScreenResult:
    """Everything the screener found in one photo; one JSONL line of a scan."""

    path: str
    sha256: str
    status: str  # "ok" or "error"
    error: str | None
    verdict: str  # one of VERDICTS
    risk: float
    texts: tuple[TextHit, ...] = ()
    logos: tuple[LogoHit, ...] = ()
    brands: tuple[BrandMark, ...] = ()
    flags: tuple[Flag, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # facts about the input worth knowing ("animated: first frame")
    size: tuple[int, int] | None = None  # (width, height) of the EXIF-corrected image

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def flags_of(self, kind: str) -> tuple[Flag, ...]:
        return tuple(f for f in self.flags if f.kind == kind)

    @classmethod
    def failed(cls, path: str, sha256: str, error: str, timings: Mapping[str, float] | None = None
               ) -> "ScreenResult":
        """The result row of a photo that could not be screened."""
        return cls(path=path, sha256=sha256, status="error", error=error, verdict=ERROR, risk=0.0,
                   timings=dict(timings or {}))

    def with_path(self, path: str) -> "ScreenResult":
        """The same result for another file with identical bytes (duplicates are screened once)."""
        from dataclasses import replace
        return replace(self, path=path)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "sha256": self.sha256, "status": self.status, "error": self.error,
            "verdict": self.verdict, "risk": _round(self.risk),
            "texts": [t.to_dict() for t in self.texts],
            "logos": [h.to_dict() for h in self.logos],
            "brands": [b.to_dict() for b in self.brands],
            "flags": [f.to_dict() for f in self.flags],
            "timings": {k: _round(v) for k, v in self.timings.items()},
            "notes": list(self.notes),
            "size": list(self.size) if self.size else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ScreenResult":
        size = data.get("size")
        return cls(
            path=str(data["path"]), sha256=str(data.get("sha256", "")),
            status=str(data.get("status", "ok")), error=data.get("error"),
            verdict=str(data["verdict"]), risk=float(data.get("risk", 0.0)),
            texts=tuple(TextHit.from_dict(t) for t in data.get("texts", ())),
            logos=tuple(LogoHit.from_dict(h) for h in data.get("logos", ())),
            brands=tuple(BrandMark.from_dict(b) for b in data.get("brands", ())),
            flags=tuple(Flag.from_dict(f) for f in data.get("flags", ())),
            timings={str(k): float(v) for k, v in (data.get("timings") or {}).items()},
            notes=tuple(str(n) for n in data.get("notes", ())),
            size=(int(size[0]), int(size[1])) if size else None,
        )
