"""What a training batch holds (kept apart from the data code so the CLI can read the defaults
without importing OpenCV)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BatchRecipe:
    """How many of each kind of item a training batch holds."""

    synthetic: int = 22  # synthetic identities (each with ``views`` views)
    imitations: int = 8  # of which this many also bring their imitation as its own identity
    real: int = 10  # real brands per batch (when real data is given)
    views: int = 4
    negatives: int = 16  # background crops (negatives only)
    # Background patches of real training photos, each its own identity (instance
    # discrimination): the network must tell real clutter apart from other real clutter
    # instead of lumping it together, where an unseen logo could land beside it.
    patches: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"synthetic": self.synthetic, "imitations": self.imitations, "real": self.real,
                "views": self.views, "negatives": self.negatives, "patches": self.patches}
