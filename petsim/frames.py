"""Frame schedules: explicit (start, end) pairs in minutes, frame averaging and decay.

Curves are sampled on a fine time grid and treated as piecewise linear
between samples; frame means and integrals are exact for that interpolant,
with or without the physical decay factor exp(-lambda t) (integrated in
closed form, not sampled).
"""

from __future__ import annotations

import numpy as np

from petsim.core.isotopes import Isotope, get_isotope

__all__ = ["FrameSchedule", "get_schedule", "SCHEDULES", "piecewise_linear_integral"]


def _phi1(z):
    """(e^z - 1)/z = int_0^1 e^{z s} ds, accurate for small |z|."""
    z = np.asarray(z, dtype=float)
    small = np.abs(z) < 0.5
    zs = np.where(small, z, 0.0)
    # series sum_k z^k/(k+1)!, Horner form, 16 terms (error < 1e-17 for |z|<0.5)
    series = np.zeros_like(zs)
    for k in range(16, -1, -1):
        series = 1.0 / _FACT[k + 1] + zs * series
    zl = np.where(small, 1.0, z)
    return np.where(small, series, np.expm1(zl) / zl)


def _psi(z):
    """int_0^1 s e^{z s} ds = (z e^z - e^z + 1)/z^2, accurate for small |z|."""
    z = np.asarray(z, dtype=float)
    small = np.abs(z) < 0.5
    zs = np.where(small, z, 0.0)
    # series sum_k z^k / (k! (k+2))
    series = np.zeros_like(zs)
    for k in range(16, -1, -1):
        series = 1.0 / (_FACT[k] * (k + 2)) + zs * series
    zl = np.where(small, 1.0, z)
    return np.where(small, series, (zl * np.exp(zl) - np.expm1(zl)) / zl**2)


_FACT = np.cumprod(np.concatenate(([1.0], np.arange(1.0, 20.0))))


def _check_grid(t_min, values):
    t = np.asarray(t_min, dtype=float)
    v = np.asarray(values, dtype=float)
    if t.ndim != 1 or t.size < 2:
        raise ValueError(f"t_min must be a 1D array of at least 2 times, got shape {t.shape}")
    if v.shape[-1] != t.size:
        raise ValueError(f"values must have last axis of length len(t_min)={t.size}, got shape {v.shape}")
    if not np.all(np.diff(t) > 0):
        raise ValueError("t_min must be strictly increasing")
    return t, v


def piecewise_linear_integral(t_min, values, a_min, b_min, decay_constant_per_min=0.0):
    """Integrals over [a, b] of the piecewise-linear curve through the samples.

    Parameters
    ----------
    t_min : (n_t,) array
        Strictly increasing sample times in min.
    values : (..., n_t) array
        Curve samples (any unit U).
    a_min, b_min : (m,) arrays
        Interval ends in min, inside ``[t_min[0], t_min[-1]]``.
    decay_constant_per_min : float
        If > 0, integrate ``values * exp(-lambda t)`` exactly instead.

    Returns
    -------
    (..., m) array in U x min.
    """
    t, v = _check_grid(t_min, values)
    a = np.atleast_1d(np.asarray(a_min, dtype=float))
    b = np.atleast_1d(np.asarray(b_min, dtype=float))
    tol = 1e-9 * max(1.0, abs(t[-1]))
    if np.any(a < t[0] - tol) or np.any(b > t[-1] + tol):
        raise ValueError(
            f"intervals [{a.min():g}, {b.max():g}] min reach outside the sampled curve "
            f"[{t[0]:g}, {t[-1]:g}] min"
        )
    lam = float(decay_constant_per_min)
    h = np.diff(t)
    slope = np.diff(v, axis=-1) / h

    def partial(i, u):
        # integral from t[i] to t[i] + u of the segment i
        v0 = v[..., i]
        g = slope[..., i]
        if lam == 0.0:
            return v0 * u + 0.5 * g * u * u
        z = -lam * u
        return np.exp(-lam * t[i]) * (v0 * u * _phi1(z) + g * u * u * _psi(z))

    seg_idx = np.arange(t.size - 1)
    full = partial(seg_idx, h)
    cum = np.concatenate([np.zeros(v.shape[:-1] + (1,)), np.cumsum(full, axis=-1)], axis=-1)

    def primitive(x):
        x = np.clip(x, t[0], t[-1])
        i = np.clip(np.searchsorted(t, x, side="right") - 1, 0, t.size - 2)
        return cum[..., i] + partial(i, x - t[i])

    return primitive(b) - primitive(a)


class FrameSchedule:
    """Dynamic-scan frames as explicit ``(start, end)`` pairs in minutes.

    Frames must be sorted, each must end after it starts, and frames must not
    overlap (gaps are allowed). Instances are immutable.

    Parameters
    ----------
    starts_min, ends_min : sequence of float
        Frame start and end times in minutes after injection.

    Examples
    --------
    >>> fs = FrameSchedule.from_durations([0.5] * 4 + [1.0] * 2)
    >>> fs.n_frames, float(fs.ends_min[-1])
    (6, 4.0)
    """

    __slots__ = ("_starts", "_ends")

    def __init__(self, starts_min, ends_min):
        s = np.array(starts_min, dtype=float).reshape(-1)
        e = np.array(ends_min, dtype=float).reshape(-1)
        if s.size != e.size:
            raise ValueError(f"got {s.size} frame starts but {e.size} frame ends")
        if s.size == 0:
            raise ValueError("a frame schedule needs at least one frame")
        if not (np.all(np.isfinite(s)) and np.all(np.isfinite(e))):
            raise ValueError("frame times must be finite numbers")
        if s[0] < 0:
            raise ValueError(f"frame 0 starts at {s[0]} min, before injection (t=0)")
        for i in range(s.size):
            if not e[i] > s[i]:
                raise ValueError(f"frame {i} ends ({e[i]} min) before or when it starts ({s[i]} min)")
        for i in range(1, s.size):
            if s[i] < s[i - 1]:
                raise ValueError(
                    f"frames out of order: frame {i} starts at {s[i]} min, before frame {i-1} ({s[i-1]} min)"
                )
            if s[i] < e[i - 1] - 1e-9:
                raise ValueError(
                    f"frame {i} (start {s[i]} min) overlaps frame {i-1} (end {e[i-1]} min)"
                )
        s.setflags(write=False)
        e.setflags(write=False)
        object.__setattr__(self, "_starts", s)
        object.__setattr__(self, "_ends", e)

    def __setattr__(self, name, value):
        raise AttributeError("FrameSchedule is immutable")

    def __reduce__(self):  # pickles (Dask workers) through the validating constructor
        return (FrameSchedule, (self._starts.copy(), self._ends.copy()))

    @classmethod
    def from_durations(cls, durations_min, start_min=0.0):
        """Contiguous frames of the given durations (min) starting at ``start_min``."""
        d = np.array(durations_min, dtype=float).reshape(-1)
        if np.any(~np.isfinite(d)) or np.any(d <= 0):
            bad = int(np.flatnonzero(~(d > 0))[0]) if np.any(~(d > 0)) else 0
            raise ValueError(f"frame {bad} has duration {d[bad]} min; durations must be > 0")
        ends = float(start_min) + np.cumsum(d)
        starts = np.concatenate([[float(start_min)], ends[:-1]])
        return cls(starts, ends)

    # --- properties -----------------------------------------------------
    @property
    def starts_min(self) -> np.ndarray:
        return self._starts

    @property
    def ends_min(self) -> np.ndarray:
        return self._ends

    @property
    def n_frames(self) -> int:
        return int(self._starts.size)

    @property
    def durations_min(self) -> np.ndarray:
        return self._ends - self._starts

    @property
    def mid_min(self) -> np.ndarray:
        """Frame mid-times (min), the arithmetic middle of each frame."""
        return 0.5 * (self._starts + self._ends)

    @property
    def scan_end_min(self) -> float:
        return float(self._ends[-1])

    def __len__(self):
        return self.n_frames

    def __eq__(self, other):
        return (
            isinstance(other, FrameSchedule)
            and np.array_equal(self._starts, other._starts)
            and np.array_equal(self._ends, other._ends)
        )

    def __hash__(self):
        return hash((self._starts.tobytes(), self._ends.tobytes()))

    def __repr__(self):
        return f"FrameSchedule(n_frames={self.n_frames}, {self._starts[0]:g}-{self._ends[-1]:g} min)"

    # --- averaging ------------------------------------------------------
    def integrate(self, t_min, values, isotope=None):
        """Frame integrals (value x min) of a curve sampled at ``t_min``.

        Exact for the piecewise-linear curve through the samples. With an
        ``isotope`` the integrand is the decayed curve ``values * exp(-lambda t)``.

        Parameters
        ----------
        t_min : (n_t,) array, strictly increasing, covering every frame.
        values : (..., n_t) array.
        isotope : str or Isotope, optional.

        Returns
        -------
        (..., n_frames) array.
        """
        lam = 0.0 if isotope is None else get_isotope(isotope).decay_constant_per_min
        return piecewise_linear_integral(t_min, values, self._starts, self._ends, lam)

    def average(self, t_min, values, isotope=None):
        """Frame means of a curve (see :meth:`integrate`); same unit as ``values``."""
        return self.integrate(t_min, values, isotope) / self.durations_min

    def decay_correction_factors(self, isotope) -> np.ndarray:
        """Per-frame factors turning the frame-mean physical activity into activity at t=0.

        ``f_i = lambda D_i / (exp(-lambda s_i) - exp(-lambda e_i))`` (s, e, D: frame
        start, end, duration): for a constant decay-corrected activity A the
        frame mean of ``A exp(-lambda t)`` times ``f_i`` is exactly A.
        """
        lam = get_isotope(isotope).decay_constant_per_min
        d = self.durations_min
        return lam * d * np.exp(lam * self._starts) / (-np.expm1(-lam * d))

    def to_bids(self) -> dict:
        """BIDS-PET frame fields in seconds: FrameTimesStart, FrameDuration."""
        return {
            "FrameTimesStart": (self._starts * 60.0).tolist(),
            "FrameDuration": (self.durations_min * 60.0).tolist(),
        }


# Planning schedule for the motivating study (Hsu et al., Mol Psychiatry 2013,
# [11C]carfentanil, HR+): the paper states 28 frames over 90 min, of increasing
# duration from 30 s up to 10 min, but not the individual durations. These
# durations are a planning choice that satisfies exactly those three facts:
# 4 x 0.5 + 4 x 1 + 4 x 2 + 4 x 2.5 + 9 x 4 + 3 x 10 = 90 min, 28 frames.
_HSU2013_DURATIONS = [0.5] * 4 + [1.0] * 4 + [2.0] * 4 + [2.5] * 4 + [4.0] * 9 + [10.0] * 3

SCHEDULES = {
    "hsu2013": _HSU2013_DURATIONS,
    # 90 min of 1-min frames, handy for teaching and for lp-ntPET basis checks
    "uniform1min90": [1.0] * 90,
}


def get_schedule(name: str) -> FrameSchedule:
    """Preset frame schedule by name ("hsu2013": 28 frames, 90 min, planning durations)."""
    if name not in SCHEDULES:
        raise KeyError(f"unknown frame schedule {name!r}; known: {sorted(SCHEDULES)}")
    return FrameSchedule.from_durations(SCHEDULES[name])
