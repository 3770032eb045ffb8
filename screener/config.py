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
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError


@dataclass(frozen=True)
class LimitsConfig:
    """What the loader accepts and how big an image the stages see."""

    max_file_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 100_000_000  # decoded width*height; checked before decoding (bombs)
    max_side: int = 30_000  # any one side, checked before decoding
    stage_max_side: int = 1600  # larger photos are downscaled for the stages; boxes mapped back
    photo_timeout_s: float = 120.0  # per-photo wall-clock limit in a scan worker


@dataclass(frozen=True)
class OcrConfig:
    """The OCR stage: which engine and how it reads."""

    engine: str = "rapidocr"  # "rapidocr", "tesseract" or "none"
    min_score: float = 0.7  # drop lines the engine itself doubts (0.7: +4.7 pt precision, -0.2 pt recall on ICDAR dev)
    languages: tuple[str, ...] = ("eng", "chi_sim")  # tesseract language packs
    upscale_small: bool = True  # the detector sees the photo enlarged 1.5x (short side 1104 px): small text
    # ... but the enlarged photo's long side at most this many pixels (0: no bound). Enlarging by
    # the short side blows a wide photo's text up past what the detector finds: a 500 x 150 px
    # banner went in at 3680 x 1104 and "unicef" filling its height was not read. FlickrLogos dev
    # (BENCHMARKS.md), text alone: 0.40 -> 0.43 (trained brands), 0.40 -> 0.42 (held-out), same
    # precision and false names. 2000 leaves ICDAR's 1280 x 720 photos (1963 px) and 3:2 listings
    # as they were; 1600 read more on FlickrLogos (0.45 / 0.43) but lost a borderline word on a
    # 1024 x 683 sample listing.
    max_detector_side: int = 2000
    # Where the enlarged detector input goes: "whole" (the whole photo, enlarged) or "small-text"
    # (a 1x pass first, then only the regions around the small lines it found, enlarged). ICDAR
    # dev report half (BENCHMARKS.md, "OCR throughput"): recall 0.564 -> 0.554, precision 0.616 ->
    # 0.643, OCR time 1.70 -> 0.81 s per photo (bare RapidOCR 0.82); sample verdicts unchanged.
    enlarge: str = "small-text"
    glyph_check: bool = True  # re-check exactly-read brand names for look-alike digits (0 for O)
    # Read again, closer, each word the name matcher takes for an altered brand name; a second
    # reading that is the name itself was a misreading (screener.ocr.reread). FlickrLogos genuine
    # photos: 5 of 12 misread words; sample listings: 0 of 20 altered names.
    second_reading: bool = True


@dataclass(frozen=True)
class LogoConfig:
    """The CNN logo stage."""

    enabled: bool = True
    model: str = "logo-embed"  # a name in screener/models/manifest.toml
    # "onnxruntime" runs the model's ONNX export (1.7x faster than torch on one thread, and no
    # torch import in scan workers); "torch" runs the torch weights. Same embeddings to 1e-6.
    runtime: str = "onnxruntime"
    # Calibrated similarity (see screener.logo.matcher). Set by measurement on real photos
    # (benchmarks/logo_flickr.py, BENCHMARKS.md): the network alone is unsure of brands it never
    # trained on. On FlickrLogos with OCR and verification, network-only marks at 0.999 added
    # 0.03 recall on trained brands but cut held-out-brand precision from 1.0 to 0.85 and gave
    # 3 false marks per 100 street photos; at 0.9995 they add 0.02 and keep it near 0.94 (1 per
    # 100). Imitations score like genuine marks, so the network's imitation band is closed.
    genuine_threshold: float = 0.9995
    near_threshold: float = 0.9995  # [near, genuine) is the imitation band
    # A network-only mark on a region covering at least ``large_share`` of the photo needs only
    # ``large_threshold``; the region is the span of the brand's windows scoring that much that
    # overlap its best one (the hit's box). Why size matters: a photo gives the network a few
    # large windows and very many small ones, so clutter reaching a given similarity by chance
    # is a small-window event (on FlickrLogos the network's false hits at >= 0.99 cover a median
    # 3% of the photo, its right ones 25%). Measured on FlickrLogos dev (BENCHMARKS.md): 0.9985
    # and 0.999 with 0.15-0.25 of the photo all keep 0.7 false marks per 100 street photos;
    # 0.998 gives 1.7. > 1 turns it off.
    large_threshold: float = 0.9985
    large_share: float = 0.2
    # Candidate regions embedded per photo: 200 find as many marks as 400 at the shipped
    # threshold (FlickrLogos, 60 photos per group), with fewer false ones and 0.1 s less.
    max_candidates: int = 200
    use_text_hints: bool = True  # add regions around OCR text boxes as candidates
    # SIFT + RANSAC (screener.logo.sift): a reference found by a homography with at least
    # ``min_inliers`` consistent matches is a genuine mark whatever the CNN score. Measured on
    # FlickrLogos with OCR (BENCHMARKS.md): 5 inliers find 2 more trained-brand and 2 more
    # held-out-brand photos than 6 (screener recall 0.625 -> 0.638, 0.416 -> 0.432; precision
    # 0.941 -> 0.933, 0.963 -> 0.964), still 0.7 false marks per 100 logo-free street photos and
    # the same sample verdicts; 4 is the bare minimum of a homography.
    geometric_verification: bool = True
    min_inliers: int = 5
    # Also match each reference's tilted views (screener.logo.sift.AFFINE_VIEWS): marks seen at a
    # slant. Screener on FlickrLogos: recall 0.664 -> 0.671 (trained brands), 0.432 -> 0.464
    # (held-out), no false mark added, no time per photo; 6-8x the reference keypoints in memory
    # (48 MiB at 30 brands of 5 logos, 186 MiB at 100: BENCHMARKS.md).
    sift_affine_views: bool = True
    # A verified logo overrides odd letters read on it (OCR noise on a genuine mark) only when the
    # photo matches the reference everywhere: every cell correlates at least this well (genuine
    # sample wordmarks >= 0.94; a changed letter 0.07-0.72). Real photos rarely agree that well
    # (median 0.21 on FlickrLogos), so this gates only that override, not the genuine match.
    confirm_agreement: float = 0.85
    # An imitation wordmark: the reference's layout verified by SIFT with most of it agreeing
    # (median cell >= imitation_layout), a part that does not (worst cell < confirm_agreement),
    # and OCR reading an altered form of the brand's name there. Sample imitation wordmarks:
    # median 0.97-0.99 (one at 0.74); altered names merely set in the brand's typeface 0.32-0.65.
    imitation_layout: float = 0.9
    # Direct alignment (screener.logo.align) of references onto the network's best windows, for
    # flat marks SIFT cannot see. Genuine: ECC correlation >= align_genuine and worst cell >=
    # align_agreement, where the network scored the brand >= align_min_score there (simple
    # emblem shapes also align onto product outlines: on the samples the right brands scored
    # 0.83-0.98, the wrong ones 0.0-0.44; 0.7 or 0.6 change no sample verdict). Imitation:
    # correlation >= align_near with a cell under align_agreement (one part redrawn); with the
    # labelled boxes 3 of 5 sample imitation emblems show this, but in the pipeline the band at
    # 0.85 / 0.9 also flags emblems aligned onto product outlines on 3 clean listings
    # (imitation_logo precision 0.36 / 0.50, BENCHMARKS.md), so it is closed (> 1).
    alignment: bool = True
    align_genuine: float = 0.9
    # Every cell must agree at least this well for a genuine alignment: sample genuine emblems
    # 0.96-0.99; an imitation that adds two bars to a three-bar emblem aligns onto three of them
    # with its worst cell at 0.87-0.90 (tests/test_logo_align.py).
    align_agreement: float = 0.94
    align_min_score: float = 0.8
    align_near: float = 1.01
    cache_dir: str = ""  # reference-embedding cache; "" = <registry>/.cache

    def network_genuine(self, score: float, share: float) -> bool:
        """Whether the network's similarity alone makes a genuine mark, for a region covering
        ``share`` of the photo (0-1): ``genuine_threshold`` anywhere, ``large_threshold`` on a
        region of at least ``large_share``."""
        return score >= self.genuine_threshold or (share >= self.large_share and score >= self.large_threshold)

    def aligned_genuine(self, correlation: float, worst_cell: float) -> bool:
        """Whether a reference aligned onto a photo region (:mod:`screener.logo.align`) is the
        genuine mark: it correlates well overall and every part of it agrees."""
        return correlation > 0 and correlation >= self.align_genuine and worst_cell >= self.align_agreement


@dataclass(frozen=True)
class MatchConfig:
    """Brand-name matching on OCR text."""

    min_near_length: int = 4  # names shorter than this match exactly only
    max_edit_ratio: float = 0.25  # allowed edits per letter for a near match (after folding)
    max_edits: int = 2
    cue_words: tuple[str, ...] = (
        "replica", "replicas", "1:1", "aaa", "aaaa", "aaa+", "mirror quality",
        "mirror image quality", "super copy", "supercopy", "inspired by", "top copy",
        "high copy", "copy grade", "knockoff", "knock-off",
        "dupe", "dupes", "first copy", "master copy",
        "高仿", "复刻", "原单", "a货", "仿品", "1比1", "超a", "精仿", "顶级复刻", "莆田",
    )


@dataclass(frozen=True)
class PolicyConfig:
    """How evidence becomes flags, a risk score and a verdict."""

    suspect_risk: float = 0.7  # risk at or above this makes a photo suspect on its own
    # How a logo hit becomes a genuine mark: "fitted" (screener.decision: one logistic regression
    # over the hit's evidence, fitted on the dev fitting half, its operating point chosen for at
    # most 1 false brand mark per 100 street photos) or "rules" (the hand thresholds of [logo]).
    logo_decision: str = "rules"
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
            if section_name == "logo" and values.get("model", current.model) != current.model:
                # Another network scores on another scale: its measured operating point comes
                # with it, unless the same change sets those keys too.
                values = {**model_operating_point(str(values["model"])), **values}
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
        blob = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


_SECTIONS = {f.name: f.type for f in dataclasses.fields(Config)}


def model_operating_point(model: str) -> dict[str, Any]:
    """The ``logo`` keys measured for the logo network ``model``: its manifest entry's
    ``[model.operating_point]`` (thresholds on that network's scores, chosen on the dev fitting
    half; the entry says how), restricted to :class:`LogoConfig`'s keys. Empty for a model the
    manifest does not know: loading the stage reports that."""
    from .errors import ModelError
    from .logo.weights import manifest_entry

    try:
        point = manifest_entry(model).get("operating_point", {})
    except ModelError:
        return {}
    known = {f.name for f in dataclasses.fields(LogoConfig)}
    return {k: v for k, v in point.items() if k in known}


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
