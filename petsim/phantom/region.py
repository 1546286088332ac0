"""The region record shared by every phantom (analytic, test object or user anatomy)."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

TISSUES = ("grey", "white", "csf", "bone", "soft_tissue")
HEMISPHERES = ("left", "right", "midline")


@dataclass(frozen=True)
class Region:
    """One labelled structure of a phantom.

    Parameters
    ----------
    id : int
        Label value in ``Phantom.labels`` (> 0; 0 is air/background).
    name : str
        Unique name, ``f"{structure}_l"``/``"_r"`` for paired structures, else ``structure``.
    structure : str
        Anatomical structure shared by the left and right parts (the key of tracer tables).
    hemisphere : {"left", "right", "midline"}
    tissue : {"grey", "white", "csf", "bone", "soft_tissue"}
    volume_ml : float
        Volume on the rasterised grid (sum of partial-volume fractions), mL.
    """

    id: int
    name: str
    structure: str
    hemisphere: str
    tissue: str
    volume_ml: float = 0.0

    def __post_init__(self):
        if isinstance(self.id, bool) or not isinstance(self.id, numbers.Integral) or self.id < 1:
            raise ValueError(f"region id must be a positive integer (0 is background), got {self.id!r} for {self.name!r}")
        object.__setattr__(self, "id", int(self.id))
        object.__setattr__(self, "volume_ml", float(self.volume_ml))
        if not isinstance(self.name, str) or not self.name or any(c.isspace() for c in self.name):
            raise ValueError(f"region name must be a non-empty string without spaces, got {self.name!r}")
        if self.hemisphere not in HEMISPHERES:
            raise ValueError(f"region {self.name!r}: hemisphere {self.hemisphere!r} not in {HEMISPHERES}")
        if self.tissue not in TISSUES:
            raise ValueError(f"region {self.name!r}: tissue {self.tissue!r} not in {TISSUES}")


def check_regions(regions) -> tuple:
    """Validate a region list: unique ids and names. Returns it as a tuple sorted by id."""
    regions = tuple(regions)
    ids = [r.id for r in regions]
    names = [r.name for r in regions]
    dup_ids = sorted({i for i in ids if ids.count(i) > 1})
    if dup_ids:
        raise ValueError(f"region table has duplicate ids {dup_ids}; every id must be unique")
    dup_names = sorted({n for n in names if names.count(n) > 1})
    if dup_names:
        raise ValueError(f"region table has duplicate names {dup_names}; every name must be unique")
    return tuple(sorted(regions, key=lambda r: r.id))
