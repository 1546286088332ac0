"""Frame weights for weighted least squares (relative 1/variance)."""

from __future__ import annotations

import numpy as np

from petsim.core.isotopes import get_isotope

from ._frames import check_frames, frame_mid

#: Half-life of carbon-11 in minutes (petsim.core.isotopes: 20.364 min, NNDC/ENSDF).
C11_HALF_LIFE_MIN = get_isotope("C-11").half_life_min


def frame_weights(frame_start_min, frame_end_min, kind="decay", tac=None, half_life_min=C11_HALF_LIFE_MIN,
                  weights=None) -> np.ndarray:
    """Relative frame weights (proportional to 1/variance), normalised to mean 1.

    Parameters
    ----------
    frame_start_min, frame_end_min : array_like
        Frame times in minutes.
    kind : {"duration", "decay", "none", "user"}
        ``"duration"``: w = dt. ``"decay"``: w = dt exp(-lambda t_mid) (counts
        of a decay-corrected image fall with decay). With ``tac`` given, both
        are divided by the TAC (Poisson variance grows with activity), the
        form used by Normandin et al. (NeuroImage 2012). ``"none"``: all 1.
        ``"user"``: ``weights`` as given.
    tac : array_like, optional
        Activity per frame (Bq/mL); non-positive values are clipped to a small
        fraction of its maximum.
    half_life_min : float
        Isotope half-life (min) for the decay factor; carbon-11 by default.
    """
    start, end = check_frames(frame_start_min, frame_end_min)
    dur = end - start
    if kind == "none":
        w = np.ones_like(dur)
    elif kind == "user":
        if weights is None:
            raise ValueError("kind='user' needs weights")
        w = np.asarray(weights, dtype=float).ravel()
        if w.size != dur.size or not np.all(np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
            raise ValueError(f"user weights must be {dur.size} finite values >= 0, not all zero")
    elif kind in ("duration", "decay"):
        w = dur.copy()
        if kind == "decay":
            if not (np.isfinite(half_life_min) and half_life_min > 0):
                raise ValueError(f"half_life_min must be positive, got {half_life_min!r}")
            w *= np.exp(-np.log(2.0) / half_life_min * frame_mid(start, end))
        if tac is not None:
            c = np.asarray(tac, dtype=float).ravel()
            if c.size != dur.size or not np.all(np.isfinite(c)):
                raise ValueError(f"tac must hold {dur.size} finite values")
            floor = 1e-3 * max(float(np.max(c)), 1e-12)
            w /= np.maximum(c, floor)
    else:
        raise ValueError(f"kind must be 'duration', 'decay', 'none' or 'user', got {kind!r}")
    return w / w.mean()
