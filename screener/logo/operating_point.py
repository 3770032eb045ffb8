"""A logo network's operating point: the thresholds that turn its evidence into marks.

Each network scores on its own scale, so its thresholds are measured for it and shipped beside
it, in its ``screener/models/manifest.toml`` entry (``[model.operating_point]``, which says how
each was chosen). They are not user settings: ``logo.model`` picks a network and its measured
point with it; ``logo.operating_point`` overrides single values, for refitting and experiments.

The defaults below are the shipped ``logo-embed`` network's point; an entry that leaves a value
out keeps the default. How each was measured (BENCHMARKS.md has the tables and commands):

- ``genuine_threshold``: the calibrated similarity (:mod:`screener.logo.matcher`) at which the
  network alone makes a genuine mark ("rules"; the fitted decision judges network-only hits
  itself and uses this for what a network match confirms): the lowest at which the logo stage
  (with verification) gives at most 1 false brand mark per 100 street photos and a precision of
  0.95 on the logo photos of the dev fitting half (``benchmarks/logo_halves.py --min-precision
  0.95``): 0.9993, refitted when small photos began to be enlarged (0.9997 before, chosen when a
  large-region rule was still beside it; that rule is gone:
  BENCHMARKS.md, "The large-region rule deleted").
- ``near_threshold``: ``[near, genuine)`` is the network's imitation band. Imitations score like
  genuine marks, so for ``logo-embed`` it is closed (equal to ``genuine_threshold``).
- ``min_inliers``: SIFT matches on one homography that make a verified, genuine mark: the lowest
  count with at most 1 false brand per 100 street photos and a precision of 0.95 on the dev
  fitting half (``benchmarks/sift_variants.py --half fit base --min-inliers 4``): at 4, 3 of 145
  street photos and one wrong brand; at 5, none, and 52 of 131 logo photos (6: 50).
- ``confirm_agreement``: a verified logo overrides odd letters read on it (OCR noise on a genuine
  mark) only where every cell of it correlates with the reference at least this well.
- ``imitation_layout``: an imitation wordmark is laid out like the reference (median cell at
  least this) with a part that is not (worst cell under ``confirm_agreement``), and reads as an
  altered name.
- ``align_genuine`` / ``align_agreement`` / ``align_min_score``: a reference aligned
  (:mod:`screener.logo.align`) onto a window the network scored the brand ``align_min_score``
  on is genuine at correlation ``align_genuine`` with every cell at least ``align_agreement``.
- ``align_near``: an alignment this good with a part disagreeing is an imitation; closed (> 1):
  at 0.86, 2 of 145 real street photos of the fitting half get an imitation flag.

The last five were first read off the sample listings. ``python -m screener.train.fit_geometry``
fits them on listings of the generator's other seeds, bounded by real street and FlickrLogos
photos of the fitting half, never on the committed samples (BENCHMARKS.md, "Geometry's thresholds
fitted away from the samples"). ``align_genuine``, ``align_near``, ``confirm_agreement`` and
``imitation_layout`` lie inside the ranges it finds equally good; ``align_agreement`` does not (it
prefers 0.76-0.84: 4 more of 816 listings right). Its own point (0.84 / 0.80 / 0.98 / 0.85 / 0.74)
adds 3 false brand marks on the real reporting half, finds nothing more there and changes no
sample verdict, so the values above stay.

``align_min_score`` is on the network's own score scale, so it is fitted per network by the same
command (``--model``). For the frozen trunk of before it preferred 0.5-0.55 (22 more of 816 listings
right than at 0.8); the default ``logo-trunk-tuned`` keeps that 0.55 in its manifest entry: its own
fit, with an alignment that confirms nothing judged as the network's hit
(``Policy.unconfirmed_as_network``), finds 0.5-0.55 and every shared value above within its tie
(BENCHMARKS.md, "Unconfirmed alignments go to the fitted decision").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError, ModelError

# What a fitted point was chosen for (false brand marks per 100 street photos, precision on logo
# photos): recorded beside it in the manifest, read by people, not by the stage.
TARGETS = ("max_false_per_100_street", "min_precision")


@dataclass(frozen=True)
class OperatingPoint:
    """The thresholds of one logo network (see the module doc for what each decides)."""

    genuine_threshold: float = 0.9993
    near_threshold: float = 0.9993
    min_inliers: int = 5
    confirm_agreement: float = 0.85
    imitation_layout: float = 0.9
    align_genuine: float = 0.9
    align_agreement: float = 0.94
    align_min_score: float = 0.8
    align_near: float = 1.01

    @classmethod
    def for_model(cls, model: str, overrides: Mapping[str, Any] | None = None,
                  models_dir: str | Path | None = None) -> "OperatingPoint":
        """``model``'s point from its manifest entry, then ``overrides`` on top. A model the
        manifest does not know keeps the defaults: loading the stage reports that model."""
        from .weights import MANIFEST, MODELS_DIR

        folder = Path(models_dir or MODELS_DIR)
        try:
            stamp = (folder / MANIFEST).stat().st_mtime_ns
        except OSError:
            stamp = 0
        measured = _measured(model, str(folder), stamp)
        return cls.from_values({**measured, **(overrides or {})}, f"operating point of {model!r}")

    @classmethod
    def from_values(cls, values: Mapping[str, Any], where: str = "operating point") -> "OperatingPoint":
        """A point from ``{name: number}``; an unknown name is a :class:`ConfigError` naming it."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ConfigError(f"{where}: unknown threshold(s) {', '.join(unknown)} "
                              f"(known: {', '.join(fields)})")
        try:
            typed = {k: int(v) if fields[k].type == "int" else float(v) for k, v in values.items()}
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: thresholds must be numbers ({exc})") from None
        return cls(**typed)

    def aligned_genuine(self, correlation: float, worst_cell: float) -> bool:
        """Whether a reference aligned onto a photo region (:mod:`screener.logo.align`) is the
        genuine mark: it correlates well overall and every part of it agrees."""
        return correlation > 0 and correlation >= self.align_genuine and worst_cell >= self.align_agreement

    @property
    def report_floor(self) -> float:
        """The lowest network similarity the stage reports a hit from."""
        return self.near_threshold


@lru_cache(maxsize=32)
def _measured(model: str, folder: str, stamp: int) -> dict[str, Any]:
    """``model``'s measured thresholds from the manifest in ``folder`` as of ``stamp`` (its
    mtime): every config change builds a point, and parsing the manifest each time cost 4 ms."""
    from .weights import manifest_entry

    try:
        measured = manifest_entry(model, folder).get("operating_point", {})
    except ModelError:
        return {}
    return {k: v for k, v in measured.items() if k not in TARGETS}


__all__ = ["OperatingPoint"]
