"""Endogenous-opioid release profiles: extra receptor occupancy O(t) per region.

In the fast-competition limit the endogenous ligand lowers the tracer's
binding rate, ``k3(t) = k3 (1 - O(t))`` (Endres & Carson, JCBFM 1998;
Morris et al., ntPET, Mol Imaging 2005), so at equilibrium a sustained O
lowers BP_ND by the fraction O. ``magnitude`` is always the peak fractional
extra occupancy, 0 <= magnitude < 1.
"""

from __future__ import annotations

import math

import numpy as np

from petsim.core.curves import gamma_variate

__all__ = ["Release", "StepRelease", "GammaRelease", "FunctionRelease", "gamma_variate"]


def _as_regions(regions):
    if isinstance(regions, str):
        regions = (regions,)
    try:
        regions = tuple(regions)
    except TypeError:
        raise TypeError(f"regions must be a region name or a sequence of names, got {regions!r}") from None
    if not regions:
        raise ValueError("a release needs at least one region")
    for r in regions:
        if not isinstance(r, str):
            raise TypeError(f"region names must be str, got {r!r}")
    return regions


def _check_magnitude(m):
    if not (isinstance(m, (int, float, np.floating, np.integer)) and 0.0 <= m < 1.0):
        raise ValueError(f"release magnitude (peak extra occupancy) must be in [0, 1), got {m!r}")
    return float(m)


class Release:
    """Base class: a set of regions and an occupancy curve O(t) shared by them.

    Subclasses implement :meth:`occupancy`. ``onset_min`` is the first time
    at which O may be non-zero (checked against the scan end by ``simulate``).
    """

    regions: tuple
    onset_min: float

    def occupancy(self, t_min) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def scaled(self, factor: float) -> "Release":
        """The same release with its occupancy multiplied by ``factor`` (for voxel maps)."""
        return FunctionRelease(self.regions, lambda t: factor * self.occupancy(t), onset_min=self.onset_min)


class StepRelease(Release):
    """Sustained release: O(t) = magnitude for onset_min <= t < end_min, 0 otherwise."""

    def __init__(self, regions, onset_min, magnitude, end_min=None):
        self.regions = _as_regions(regions)
        self.onset_min = float(onset_min)
        if not (math.isfinite(self.onset_min) and self.onset_min >= 0):
            raise ValueError(f"onset_min must be >= 0 min, got {onset_min!r}")
        self.magnitude = _check_magnitude(magnitude)
        self.end_min = math.inf if end_min is None else float(end_min)
        if not self.end_min > self.onset_min:
            raise ValueError(f"end_min ({end_min} min) must be after onset_min ({onset_min} min)")

    def occupancy(self, t_min):
        t = np.asarray(t_min, dtype=float)
        return np.where((t >= self.onset_min) & (t < self.end_min), self.magnitude, 0.0)

    def __repr__(self):
        return f"StepRelease({list(self.regions)}, onset_min={self.onset_min}, magnitude={self.magnitude}, end_min={self.end_min})"


class GammaRelease(Release):
    """Gamma-variate release (lp-ntPET shape): O(t) = magnitude x h(t), peak at ``peak_min``.

    Parameters
    ----------
    regions : str or sequence of str
    onset_min : float, release start t_D (min).
    peak_min : float, time of peak occupancy t_P > t_D (min).
    alpha : float, sharpness (> 0; lp-ntPET uses 0.25, 1, 4).
    magnitude : float, peak extra occupancy in [0, 1).
    """

    def __init__(self, regions, onset_min, peak_min, alpha=1.0, magnitude=0.05):
        self.regions = _as_regions(regions)
        self.onset_min = float(onset_min)
        self.peak_min = float(peak_min)
        if not (math.isfinite(self.onset_min) and self.onset_min >= 0):
            raise ValueError(f"onset_min must be >= 0 min, got {onset_min!r}")
        if not self.peak_min > self.onset_min:
            raise ValueError(f"peak_min ({peak_min} min) must be after onset_min ({onset_min} min)")
        if not (math.isfinite(alpha) and alpha > 0):
            raise ValueError(f"alpha must be > 0, got {alpha!r}")
        self.alpha = float(alpha)
        self.magnitude = _check_magnitude(magnitude)

    def occupancy(self, t_min):
        return self.magnitude * gamma_variate(t_min, self.onset_min, self.peak_min, self.alpha)

    def __repr__(self):
        return (f"GammaRelease({list(self.regions)}, onset_min={self.onset_min}, peak_min={self.peak_min}, "
                f"alpha={self.alpha}, magnitude={self.magnitude})")


class FunctionRelease(Release):
    """User-defined occupancy ``func(t_min) -> O`` (vectorised over a numpy array of minutes).

    Values must lie in [0, 1); ``onset_min`` (default 0) is only used to check
    that the release starts within the scan.
    """

    def __init__(self, regions, func, onset_min=0.0):
        if not callable(func):
            raise TypeError(f"func must be callable O(t_min), got {type(func).__name__}")
        self.regions = _as_regions(regions)
        self.func = func
        self.onset_min = float(onset_min)

    def occupancy(self, t_min):
        t = np.asarray(t_min, dtype=float)
        o = np.broadcast_to(np.asarray(self.func(t), dtype=float), t.shape).copy()
        if not np.all(np.isfinite(o)) or o.min() < 0 or o.max() >= 1:
            raise ValueError(
                f"FunctionRelease for {list(self.regions)} gave occupancy outside [0, 1): "
                f"min {np.nanmin(o):g}, max {np.nanmax(o):g}"
            )
        return o

    def __repr__(self):
        return f"FunctionRelease({list(self.regions)}, {getattr(self.func, '__name__', 'func')})"
