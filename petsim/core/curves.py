"""Curve shapes shared by the simulation (release profiles) and the estimation (lp-ntPET bases)."""

from __future__ import annotations

import numpy as np

__all__ = ["gamma_variate"]


def gamma_variate(t_min, t_d_min, t_p_min, alpha) -> np.ndarray:
    """The lp-ntPET response ``h(t) = u^alpha exp(alpha (1 - u))``, ``u = (t - t_D) / (t_P - t_D)``.

    Zero up to the onset t_D, exactly 1 at the peak t_P (Normandin, Schiffer &
    Morris, NeuroImage 2012;59:2689); ``alpha`` > 0 sets the sharpness. Unitless;
    broadcasts over times and parameters.

    Examples
    --------
    >>> float(gamma_variate(47.5, 40.0, 47.5, 1.0))
    1.0
    >>> gamma_variate([30.0, 40.0], 40.0, 47.5, 1.0).tolist()
    [0.0, 0.0]
    """
    t = np.asarray(t_min, dtype=float)
    span = np.asarray(t_p_min, dtype=float) - np.asarray(t_d_min, dtype=float)
    u = (t - t_d_min) / span
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        h = np.where(u > 0, np.power(np.maximum(u, 0.0), alpha) * np.exp(alpha * (1.0 - u)), 0.0)
    return np.nan_to_num(h)
