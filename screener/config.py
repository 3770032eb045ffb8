"""One configuration object: defaults in code, overridable from a TOML file and from the CLI.

Sections mirror the pipeline (limits → ocr → logo → match → policy). A TOML file uses the same
names, e.g.::

    [ocr]
    engine = "tesseract"

    [policy]
    suspect_risk = 0.6

``Config.fingerprint()`` hashes every setting; the scan store uses it to decide which stored
results are still valid.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError
from .logo.operating_point import OperatingPoint


@dataclass(frozen=True)
class LimitsConfig:
    """What the loader accepts (bigger files and images are recorded as errors, not read)."""

    max_file_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 100_000_000  # decoded width*height; checked before decoding (bombs)
    photo_timeout_s: float = 120.0  # per-photo wall-clock limit in a scan worker


ENLARGE_MODES = ("small-text", "whole", "none")


@dataclass(frozen=True)
class OcrConfig:
    """The OCR stage: which engine and how it reads."""

    engine: str = "rapidocr"  # "rapidocr", "tesseract" or "none"
    min_score: float = 0.7  # drop lines the engine itself doubts (0.7: +4.7 pt precision, -0.2 pt recall on ICDAR dev)
    languages: tuple[str, ...] = ("eng", "chi_sim")  # tesseract language packs
    # Small print needs the detector to see the photo enlarged 1.5x (rapidocr). "small-text": a
    # pass at 1x, then only the regions around the small lines it found, enlarged; "whole": the
    # whole photo enlarged; "none": 1x only (fastest, loses small print). ICDAR dev report half
    # (BENCHMARKS.md, "OCR throughput"): "whole" -> "small-text" recall 0.564 -> 0.554,
    # precision 0.616 -> 0.643, OCR time 1.70 -> 0.81 s per photo; sample verdicts unchanged.
    enlarge: str = "small-text"
    # Look again at words a brand name is near: an exact name for look-alike glyphs (VELT0RA read
    # as VELTORA: screener.ocr.glyphs), an altered one read closer (a second reading that is the
    # name itself was a misreading: screener.ocr.reread; FlickrLogos genuine photos: 5 of 12
    # misread words; sample listings: 0 of 20 altered names).
    recheck_names: bool = True

    def __post_init__(self) -> None:
        if self.enlarge not in ENLARGE_MODES:
            raise ConfigError(f"ocr.enlarge must be one of {', '.join(ENLARGE_MODES)}, got {self.enlarge!r}")


VERIFIERS = ("keypoints", "tilted", "alignment")


@dataclass(frozen=True)
class LogoConfig:
    """The CNN logo stage."""

    enabled: bool = True
    # A name in screener/models/manifest.toml. logo-trunk-tuned (a pretrained trunk whose last two
    # blocks were trained here with a metric head) with its fitted decision found more photos than
    # the same trunk left frozen with the same head, on the dev fitting half, trained and held-out
    # brands, at the same street budget, from five reference crops, one crop or one logo file
    # (BENCHMARKS.md, "The two-block network shipped and made the default", "The 1,500-step
    # network shipped"; the frozen one was then deleted: "logo-trunk-metric deleted").
    model: str = "logo-trunk-tuned"
    # What checks the network's candidates against the reference pictures, besides its score
    # (BENCHMARKS.md, "Ablation with logo-trunk-metric": photos of the dev fitting half, 67
    # trained-brand and 64 held-out-brand): "keypoints" (SIFT + RANSAC, screener.logo.sift: +8 and
    # +7 photos), "tilted" (keypoints also on each reference's tilted views, marks seen at a
    # slant: +2 and +3; 6-8x the reference keypoints in memory), "alignment" (references warped
    # onto the network's best windows, screener.logo.align: +1 held-out photo, and the flat
    # emblems SIFT cannot see: 3 of the 5 sample mixed marks it finds). Fewer is faster and finds less.
    verifiers: tuple[str, ...] = VERIFIERS
    # Overrides of the model's measured thresholds (screener.logo.operating_point; the model's
    # manifest entry holds them and says how each was chosen), e.g. {genuine_threshold = 0.999}.
    # For refitting and experiments: the shipped values are the measured operating point.
    operating_point: Mapping[str, float] = field(default_factory=dict)
    cache_dir: str = ""  # reference caches (embeddings, keypoints); "" = <registry>/.cache

    def __post_init__(self) -> None:
        unknown = [v for v in self.verifiers if v not in VERIFIERS]
        if unknown:
            raise ConfigError(f"logo.verifiers: unknown {', '.join(map(repr, unknown))} "
                              f"(known: {', '.join(VERIFIERS)})")
        if "tilted" in self.verifiers and "keypoints" not in self.verifiers:
            raise ConfigError('logo.verifiers: "tilted" adds views to "keypoints", which is not on')
        self.point  # an unknown threshold name is an error now, not at the first photo

    @cached_property
    def point(self) -> OperatingPoint:
        """The model's operating point (its manifest entry) with ``operating_point`` on top."""
        return OperatingPoint.for_model(self.model, self.operating_point)


@dataclass(frozen=True)
class MatchConfig:
    """Brand-name matching on OCR text."""

    max_edit_ratio: float = 0.25  # allowed edits per letter for a near match (after folding)
    max_edits: int = 2
    cue_words: tuple[str, ...] = (
        "replica", "replicas", "1:1", "aaa", "aaaa", "aaa+", "mirror quality",
        "mirror image quality", "super copy", "supercopy", "inspired by", "inspired by designer",
        "top copy", "high copy", "copy grade", "knockoff", "knock-off",
        "dupe", "dupes", "first copy", "master copy",
        "高仿", "复刻", "原单", "a货", "仿品", "1比1", "超a", "精仿", "顶级复刻", "莆田",
    )


@dataclass(frozen=True)
class PolicyConfig:
    """How evidence becomes flags, a risk score and a verdict."""

    suspect_risk: float = 0.7  # risk at or above this makes a photo suspect on its own
    # How a logo hit becomes a genuine mark: "fitted" (network-only hits by one logistic regression
    # over the hit's evidence, screener.decision, fitted on the dev fitting half with its operating
    # point chosen for at most 1 false brand mark per 100 street photos; hits found by keypoints or
    # alignment by geometry's thresholds) or "rules" (the operating point's thresholds for all).
    # BENCHMARKS.md, "Per source": fitted is as good or better on every number of both dev halves
    # (fit-half street false marks 1.38 -> 0.69 per 100), and the samples are unchanged.
    logo_decision: str = "fitted"
    # An altered form of a brand's name that the OCR engine reads with at least this much less
    # confidence than it reads the exact name elsewhere in the same photo is the engine
    # misreading another print of the genuine name ("odidas" at 0.76 beside "adidas" at 0.99 on
    # a shoe box), not a seller's spelling: a printed alteration reads as surely as the name
    # (sample listings 0.91-0.99). The photo keeps its brand_mark for the exact name. > 1 turns
    # this off. FlickrLogos dev: the misreads sat 0.08-0.24 below their photo's exact reading.
    misread_margin: float = 0.05
    weights: Mapping[str, float] = field(default_factory=lambda: {
        "brand_mark": 0.35, "altered_brand_name": 0.85, "imitation_logo": 0.75,
        "counterfeit_cue": 0.8, "mixed_marks": 0.9,
    })


@dataclass(frozen=True)
class Config:
    """Every setting of the screener. Immutable: derive changed copies with :meth:`replace`."""

    limits: LimitsConfig = field(default_factory=LimitsConfig)
    ocr: OcrConfig = field(default_factory=OcrConfig)
    logo: LogoConfig = field(default_factory=LogoConfig)
    match: MatchConfig = field(default_factory=MatchConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)

    # --- building -------------------------------------------------------------------------
    @classmethod
    def from_toml(cls, path: str | Path) -> "Config":
        """Defaults overridden by a TOML file; unknown keys are an error that names them."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        return cls().merged(data, source=str(path))

    def merged(self, overrides: Mapping[str, Any], source: str = "overrides") -> "Config":
        """A copy with ``{"section": {"key": value}}`` overrides applied and type-checked."""
        sections: dict[str, Any] = {}
        for section_name, values in overrides.items():
            if section_name not in _SECTIONS:
                raise ConfigError(f"{source}: unknown config section [{section_name}] "
                                  f"(known: {', '.join(_SECTIONS)})")
            if not isinstance(values, Mapping):
                raise ConfigError(f"{source}: [{section_name}] must be a table")
            current = getattr(self, section_name)
            sections[section_name] = _replace_checked(current, values, f"{source}: [{section_name}]")
        return dataclasses.replace(self, **sections)

    def replace(self, **dotted: Any) -> "Config":
        """A copy with ``section__key=value`` or ``{"section.key": value}``-style changes."""
        nested: dict[str, dict[str, Any]] = {}
        for key, value in dotted.items():
            section, _, name = key.replace("__", ".").partition(".")
            nested.setdefault(section, {})[name] = value
        return self.merged(nested)

    def with_dotted(self, pairs: Mapping[str, Any]) -> "Config":
        """Apply CLI-style ``section.key`` overrides (values already parsed)."""
        return self.replace(**{k.replace(".", "__"): v for k, v in pairs.items()})

    # --- reading --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))

    def fingerprint(self) -> str:
        """A short stable hash of every setting (part of the scan store's key)."""
        # The logo model's measured thresholds decide results too, though they live in its
        # manifest entry: a refitted point invalidates stored results.
        settings = {**self.to_dict(), "logo_point": dataclasses.asdict(self.logo.point)}
        blob = json.dumps(settings, sort_keys=True, ensure_ascii=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


_SECTIONS = {f.name: f.type for f in dataclasses.fields(Config)}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _replace_checked(current: Any, values: Mapping[str, Any], where: str) -> Any:
    known = {f.name: f for f in dataclasses.fields(current)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(known)})")
        default = getattr(current, key)
        changes[key] = _coerce(value, default, f"{where} {key}")
    return dataclasses.replace(current, **changes)


def _coerce(value: Any, default: Any, where: str) -> Any:
    """Coerce a TOML/CLI value to the type of the default, or raise a ConfigError."""
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered in ("1", "true", "yes", "on"):
                    return True
                if lowered in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            if isinstance(value, bool):
                return value
            raise ValueError(value)
        if isinstance(default, int):
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if isinstance(default, float):
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if isinstance(default, str):
            if not isinstance(value, str):
                raise ValueError(value)
            return value
        if isinstance(default, tuple):
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            return tuple(str(v) for v in value)
        if isinstance(default, Mapping):
            if not isinstance(value, Mapping):
                raise ValueError(value)
            merged = dict(default)
            merged.update({str(k): float(v) for k, v in value.items()})
            return merged
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected {type(default).__name__}, got {value!r}") from None
    return value


def parse_cli_value(text: str) -> Any:
    """Parse the value of a ``--set section.key=value`` option: TOML literal, else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
