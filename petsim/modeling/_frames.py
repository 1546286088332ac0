"""Frame-time checks, running integrals and the fine time grid used for convolutions.

Everything here works on plain arrays of frame start/end times in minutes, as
a scanner reports them; nothing knows how the data were made.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def check_frames(frame_start_min, frame_end_min) -> tuple[np.ndarray, np.ndarray]:
    """Return frame start and end times (min) as float64 arrays after checking them.

    Raises
    ------
    ValueError
        If the arrays differ in length, hold NaN, are negative, unsorted,
        overlapping, or a frame ends before it starts.
    """
    start = np.asarray(frame_start_min, dtype=float).ravel()
    end = np.asarray(frame_end_min, dtype=float).ravel()
    if start.size != end.size:
        raise ValueError(f"frame_start_min has {start.size} frames but frame_end_min has {end.size}")
    if start.size < 2:
        raise ValueError(f"need at least 2 frames, got {start.size}")
    if not (np.all(np.isfinite(start)) and np.all(np.isfinite(end))):
        raise ValueError("frame times contain NaN or infinite values")
    if start[0] < 0:
        raise ValueError(f"frame 0 starts at {start[0]} min; times are minutes from injection (>= 0)")
    bad = np.flatnonzero(end <= start)
    if bad.size:
        i = bad[0]
        raise ValueError(f"frame {i} ends ({end[i]} min) before or when it starts ({start[i]} min)")
    bad = np.flatnonzero(np.diff(start) <= 0)
    if bad.size:
        i = bad[0] + 1
        raise ValueError(f"frame times are not sorted: frame {i} starts at {start[i]} min, frame {i - 1} at {start[i - 1]} min")
    bad = np.flatnonzero(start[1:] < end[:-1] - 1e-9)
    if bad.size:
        i = bad[0] + 1
        raise ValueError(f"frame {i} starts ({start[i]} min) before frame {i - 1} ends ({end[i - 1]} min)")
    return start, end


def check_tac(values, n_frames: int, name: str = "TAC") -> np.ndarray:
    """Return a TAC (Bq/mL) as a float64 1D array of ``n_frames`` finite values."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1D (one value per frame), got shape {arr.shape}")
    if arr.size != n_frames:
        raise ValueError(f"{name} has {arr.size} values but there are {n_frames} frames")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values (frames {np.flatnonzero(~np.isfinite(arr)).tolist()})")
    return arr


def check_reference(values, n_frames: int, name: str = "reference TAC") -> np.ndarray:
    """As :func:`check_tac`, and refuse a reference that is zero everywhere or never positive."""
    arr = check_tac(values, n_frames, name)
    if not np.any(arr > 0):
        raise ValueError(f"{name} is zero (or negative) in every frame; a reference region must have activity")
    return arr


def check_weights(weights, n_frames: int) -> np.ndarray:
    """Frame weights (1/variance up to a constant); None means all ones."""
    if weights is None:
        return np.ones(n_frames)
    w = np.asarray(weights, dtype=float).ravel()
    if w.size != n_frames:
        raise ValueError(f"weights has {w.size} values but there are {n_frames} frames")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
        raise ValueError("weights must be finite, >= 0 and not all zero")
    return w


def frame_mid(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    return 0.5 * (start + end)


#: Fewest frames each reference-tissue model fits (the parameters it estimates, plus one); the
#: scenario checks (petsim.pipeline.world) use the same numbers before any simulation.
MIN_FRAMES = {"srtm": 4, "srtm2": 3, "mrtm": 4, "mrtm2": 3, "logan_ref": 3}


def fit_frames(start, end, t_star_min=0.0, window_min=None, min_frames=3, model="model") -> np.ndarray:
    """Boolean mask of the frames a fit uses: mid-time >= t* and inside the window (min)."""
    mid = frame_mid(start, end)
    t_star = float(t_star_min or 0.0)
    if not np.isfinite(t_star) or t_star < 0:
        raise ValueError(f"t_star_min must be >= 0, got {t_star_min!r}")
    if t_star >= end[-1]:
        raise ValueError(f"t_star_min = {t_star} min is beyond the last frame (which ends at {end[-1]} min)")
    use = mid >= t_star
    if window_min is not None:
        lo, hi = (float(v) for v in window_min)
        if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
            raise ValueError(f"window_min must be (start, end) with end > start, got {window_min!r}")
        if lo >= end[-1]:
            raise ValueError(f"window_min starts at {lo} min, after the last frame ends ({end[-1]} min)")
        use &= (mid >= lo) & (mid <= hi)
    if use.sum() < min_frames:
        raise ValueError(
            f"{model} needs at least {min_frames} frames after t* = {t_star} min"
            + (f" inside the window {tuple(window_min)} min" if window_min is not None else "")
            + f", only {int(use.sum())} remain"
        )
    return use


def integral_to_mid(start: np.ndarray, end: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Running integral of frame-mean values from injection to each frame's mid-time (Bq/mL x min).

    Exact over whole frames (mean x duration); the first half of the current
    frame adds ``dt/2 (mean - slope dt/4)``, with the slope from neighbouring
    frame means, which is exact for a linear TAC. Gaps between frames and
    before the first frame are bridged linearly (from 0 at injection). Works
    on the last axis.
    """
    v = np.asarray(values, dtype=float)
    dur = end - start
    gaps = np.empty_like(start)
    gaps[0] = start[0]
    gaps[1:] = start[1:] - end[:-1]
    prev = np.concatenate([np.zeros(v.shape[:-1] + (1,)), v[..., :-1]], axis=-1)
    gap_area = 0.5 * gaps * (prev + v)
    before = np.cumsum(gap_area + np.concatenate([np.zeros(v.shape[:-1] + (1,)), (v * dur)[..., :-1]], axis=-1), axis=-1)
    slope = np.gradient(v, frame_mid(start, end), axis=-1, edge_order=1)
    return before + 0.5 * dur * (v - 0.25 * slope * dur)


def integral_matrix(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Matrix ``L`` (frames x frames) with ``L @ values == integral_to_mid(start, end, values)``."""
    return integral_to_mid(start, end, np.eye(start.size)).T


@njit(cache=True)
def _conv_exp_kernel(t, c, rates, out):
    """Exact convolution of a piecewise-linear input c(t) with exp(-rate t), for each rate."""
    nt = t.size
    for r in range(rates.size):
        k = rates[r]
        y = 0.0
        out[r, 0] = 0.0
        for j in range(nt - 1):
            h = t[j + 1] - t[j]
            one_m_e = -np.expm1(-k * h)
            e = 1.0 - one_m_e
            slope_term = h / k - one_m_e / (k * k)
            y = y * e + c[j] * one_m_e / k + (c[j + 1] - c[j]) / h * slope_term
            out[r, j + 1] = y


class FrameSampler:
    """A fine time grid (min) over the frames, to convolve a frame-mean TAC with exponentials.

    The TAC is taken as piecewise linear through (0, 0) and its frame
    mid-times (held constant after the last one); the convolution is exact
    for that input and is averaged back over each frame by the trapezoid rule.

    Parameters
    ----------
    start, end : ndarray
        Checked frame times in minutes.
    step_min : float
        Largest fine-grid step (min).
    """

    def __init__(self, start: np.ndarray, end: np.ndarray, step_min: float = 0.05):
        bounds = np.unique(np.concatenate([[0.0], start, end]))
        pieces = []
        for a, b in zip(bounds[:-1], bounds[1:]):
            n = max(1, int(np.ceil((b - a) / step_min)))
            pieces.append(np.linspace(a, b, n + 1)[:-1])
        self.t = np.concatenate(pieces + [bounds[-1:]])
        self.mid = frame_mid(start, end)
        avg = np.zeros((start.size, self.t.size))
        for i, (a, b) in enumerate(zip(start, end)):
            i0 = int(np.searchsorted(self.t, a - 1e-12))
            i1 = int(np.searchsorted(self.t, b - 1e-12))
            dt = np.diff(self.t[i0:i1 + 1])
            avg[i, i0:i1] += 0.5 * dt
            avg[i, i0 + 1:i1 + 1] += 0.5 * dt
            avg[i] /= b - a
        self.average = avg

    def fine(self, values: np.ndarray) -> np.ndarray:
        """Piecewise-linear interpolation of frame means onto the fine grid."""
        return np.interp(self.t, np.concatenate([[0.0], self.mid]), np.concatenate([[0.0], values]))

    def conv_exp(self, values: np.ndarray, rates) -> np.ndarray:
        """Frame means of ``values (*) exp(-rate t)`` for each rate (1/min): shape (n_rates, n_frames)."""
        rates = np.atleast_1d(np.asarray(rates, dtype=float))
        if np.any(rates <= 0):
            raise ValueError(f"exponential rates must be > 0 per min, got min {rates.min()}")
        out = np.empty((rates.size, self.t.size))
        _conv_exp_kernel(self.t, self.fine(np.asarray(values, dtype=float)), rates, out)
        return out @ self.average.T
