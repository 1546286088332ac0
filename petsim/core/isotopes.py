"""Positron-emitting isotopes: half-lives, positron branching and decay factors.

Half-lives and positron (beta+) emission fractions are the recommended values
of the Decay Data Evaluation Project (DDEP / LNHB, "Table de Radionucleides",
http://www.lnhb.fr/nuclear-data/); the C-11 half-life 20.364 min is the
ENSDF/NNDC value (NuDat 3, 20.364(14) min) that the project uses throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Isotope", "get_isotope", "ISOTOPES"]


@dataclass(frozen=True)
class Isotope:
    """A positron emitter.

    Parameters
    ----------
    name : str
        Symbol, e.g. ``"C-11"``.
    half_life_min : float
        Physical half-life in minutes (> 0).
    positron_fraction : float
        Positrons emitted per decay (beta+ branching ratio, 0 < f <= 1).

    Examples
    --------
    >>> c11 = get_isotope("C-11")
    >>> round(float(c11.decay_factor(20.364)), 6)
    0.5
    """

    name: str
    half_life_min: float
    positron_fraction: float

    def __post_init__(self):
        if not (math.isfinite(self.half_life_min) and self.half_life_min > 0):
            raise ValueError(f"half_life_min of {self.name} must be > 0, got {self.half_life_min!r}")
        if not (0.0 < self.positron_fraction <= 1.0):
            raise ValueError(
                f"positron_fraction of {self.name} must be in (0, 1], got {self.positron_fraction!r}"
            )

    @property
    def decay_constant_per_min(self) -> float:
        """Decay constant lambda = ln 2 / T_half in 1/min."""
        return math.log(2.0) / self.half_life_min

    def decay_factor(self, t_min):
        """Fraction of activity left after ``t_min`` minutes, exp(-lambda t)."""
        return np.exp(-self.decay_constant_per_min * np.asarray(t_min, dtype=float))


# DDEP recommended values (LNHB). Half-life C-11: ENSDF/NNDC 20.364 min.
ISOTOPES = {
    "C-11": Isotope("C-11", 20.364, 0.9975),  # beta+ 99.75 % (DDEP)
    "F-18": Isotope("F-18", 109.77, 0.9686),  # T1/2 109.77 min, beta+ 96.86 % (DDEP)
    "O-15": Isotope("O-15", 122.24 / 60.0, 0.9990),  # T1/2 122.24 s, beta+ 99.90 % (DDEP)
}


def get_isotope(name) -> Isotope:
    """Return the :class:`Isotope` called ``name`` ("C-11", "F-18" or "O-15").

    An :class:`Isotope` instance is returned unchanged. Case and the hyphen are
    ignored ("c11", "11C" are not accepted: use "C-11").
    """
    if isinstance(name, Isotope):
        return name
    if not isinstance(name, str):
        raise TypeError(f"isotope must be a name or an Isotope, got {type(name).__name__}")
    key = name.strip().upper().replace("_", "-")
    if "-" not in key and len(key) > 1:
        key = key[0] + "-" + key[1:] if key[1].isdigit() else key
    if key not in ISOTOPES:
        raise KeyError(f"unknown isotope {name!r}; known: {sorted(ISOTOPES)}")
    return ISOTOPES[key]
