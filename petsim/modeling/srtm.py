"""Simplified reference tissue model (Lammertsma & Hume, NeuroImage 1996) and SRTM2 (Wu & Carson, JCBFM 2002).

SRTM:  C_T = R1 C_R + (k2 - R1 k2a) C_R (*) exp(-k2a t),  k2a = k2 / (1 + BP_ND).
SRTM2: C_T = R1 C_R + R1 (k2' - k2a) C_R (*) exp(-k2a t), BP_ND = R1 k2' / k2a - 1, k2' fixed.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares

from ._common import prepare
from ._frames import MIN_FRAMES, FrameSampler, fit_frames
from .linear import R1_RANGE, fit_mrtm
from .results import FitResult

#: Bounds (R1, k2 [1/min], BP_ND) for SRTM; generous, so that a fit ending on one is suspect.
SRTM_BOUNDS = ((R1_RANGE[0], 1e-4, -0.9), (R1_RANGE[1], 5.0, 50.0))
#: Bounds (R1, k2a [1/min]) for SRTM2.
SRTM2_BOUNDS = ((R1_RANGE[0], 1e-4), (R1_RANGE[1], 5.0))


def _bound_message(x, lo, hi, names):
    hit = [n for n, v, a, b in zip(names, x, lo, hi) if v <= a + 1e-6 * (b - a) or v >= b - 1e-6 * (b - a)]
    return f"parameter(s) {', '.join(hit)} at a bound" if hit else ""


def _inside(x, lo, hi):
    """Starting point moved just inside the bounds (least_squares needs a strictly feasible one)."""
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    x = np.asarray(x, dtype=float)
    x = np.where(np.isfinite(x), x, 0.5 * (lo + hi))
    return np.clip(x, lo + 1e-3 * (hi - lo), hi - 1e-3 * (hi - lo))


def _se_from_jac(jac, resid, n_params):
    dof = resid.size - n_params
    nan = (np.full(n_params, np.nan), np.full((n_params, n_params), np.nan))
    if dof <= 0:
        return nan
    try:
        cov = np.linalg.inv(jac.T @ jac) * (float(resid @ resid) / dof)
    except np.linalg.LinAlgError:
        return nan
    d = np.diag(cov)
    return np.where(d >= 0, np.sqrt(np.abs(d)), np.nan), cov


def fit_srtm(frame_start_min, frame_end_min, ct, cr, weights=None, t_star_min=0.0, window_min=None,
             initial=None) -> FitResult:
    """Fit SRTM by bounded nonlinear least squares.

    Parameters
    ----------
    frame_start_min, frame_end_min : array_like
        Frame times (min from injection).
    ct, cr : array_like
        Target and reference frame-mean TACs (Bq/mL).
    weights : array_like, optional
        Relative frame weights (1/variance), e.g. :func:`frame_weights`.
    t_star_min, window_min :
        Fit only frames with mid-time >= t* and inside (start, end) min.
    initial : tuple (R1, k2, BP_ND), optional
        Starting point; by default taken from MRTM.

    Returns
    -------
    FitResult
        ``params``: R1, k2, k2a (1/min), k2_ref (= k2/R1). ``se``: BP_ND, R1, k2.

    Examples
    --------
    >>> res = fit_srtm(start, end, ct, cr)   # doctest: +SKIP
    >>> res.bp_nd, res.se["BP_ND"], res.converged   # doctest: +SKIP
    """
    start, end, ct, cr, w = prepare(frame_start_min, frame_end_min, ct, cr, weights)
    use = fit_frames(start, end, t_star_min, window_min, min_frames=MIN_FRAMES["srtm"], model="SRTM")
    sampler = FrameSampler(start, end)
    sw = np.sqrt(w)[use]
    lo, hi = SRTM_BOUNDS

    def model(p):
        r1, k2, bp = p
        k2a = k2 / (1.0 + bp)
        return r1 * cr + (k2 - r1 * k2a) * sampler.conv_exp(cr, k2a)[0]

    def resid(p):
        return (model(p) - ct)[use] * sw

    if initial is None:
        initial = (1.0, 0.1, 1.0)
        try:
            m = fit_mrtm(start, end, ct, cr, weights=w)
            if np.isfinite(m.bp_nd) and m.params["k2"] > 0:
                initial = (m.params["R1"], m.params["k2"], m.bp_nd)
        except (ValueError, np.linalg.LinAlgError):
            pass
    x0 = _inside(initial, lo, hi)
    names = ("R1", "k2", "BP_ND")
    try:
        res = least_squares(resid, x0, bounds=(lo, hi), x_scale="jac", xtol=1e-12, ftol=1e-12, gtol=1e-12,
                            max_nfev=2000)
    except (ValueError, FloatingPointError) as err:
        return FitResult("srtm", float("nan"), {}, {}, False, f"fit failed: {err}", np.full(ct.size, np.nan))
    r1, k2, bp = res.x
    se, _ = _se_from_jac(res.jac, res.fun, 3)
    msg = _bound_message(res.x, lo, hi, names)
    converged = bool(res.success) and not msg
    if not res.success:
        msg = f"did not converge: {res.message}"
    params = {"R1": float(r1), "k2": float(k2), "k2a": float(k2 / (1 + bp)), "k2_ref": float(k2 / r1)}
    return FitResult("srtm", float(bp), params, {"BP_ND": float(se[2]), "R1": float(se[0]), "k2": float(se[1])},
                     converged, msg, model(res.x))


def fit_srtm2(frame_start_min, frame_end_min, ct, cr, k2_ref, weights=None, t_star_min=0.0, window_min=None,
              initial=None) -> FitResult:
    """Fit SRTM2 (two parameters, reference efflux k2' fixed; Wu & Carson, JCBFM 2002).

    Parameters
    ----------
    k2_ref : float
        Reference-region efflux k2' (1/min), e.g. the median k2/R1 of a first
        SRTM pass over high-binding regions.

    Returns
    -------
    FitResult
        ``params``: R1, k2a, k2 (= R1 k2'), k2_ref. ``se``: BP_ND, R1, k2a.
    """
    start, end, ct, cr, w = prepare(frame_start_min, frame_end_min, ct, cr, weights)
    if k2_ref is None or not (np.isfinite(k2_ref) and k2_ref > 0):
        raise ValueError(f"SRTM2 needs a positive k2_ref (1/min), got {k2_ref!r}")
    k2_ref = float(k2_ref)
    use = fit_frames(start, end, t_star_min, window_min, min_frames=MIN_FRAMES["srtm2"], model="SRTM2")
    sampler = FrameSampler(start, end)
    sw = np.sqrt(w)[use]
    lo, hi = SRTM2_BOUNDS

    def model(p):
        r1, k2a = p
        return r1 * cr + r1 * (k2_ref - k2a) * sampler.conv_exp(cr, k2a)[0]

    def resid(p):
        return (model(p) - ct)[use] * sw

    if initial is None:
        initial = (1.0, k2_ref / 2.0)
        try:
            m = fit_mrtm(start, end, ct, cr, weights=w)
            if np.isfinite(m.bp_nd) and m.params["k2a"] > 0:
                initial = (m.params["R1"], m.params["k2a"])
        except (ValueError, np.linalg.LinAlgError):
            pass
    x0 = _inside(initial, lo, hi)
    try:
        res = least_squares(resid, x0, bounds=(lo, hi), x_scale="jac", xtol=1e-12, ftol=1e-12, gtol=1e-12,
                            max_nfev=2000)
    except (ValueError, FloatingPointError) as err:
        return FitResult("srtm2", float("nan"), {}, {}, False, f"fit failed: {err}", np.full(ct.size, np.nan))
    r1, k2a = res.x
    bp = r1 * k2_ref / k2a - 1.0
    se, cov = _se_from_jac(res.jac, res.fun, 2)
    g = np.array([k2_ref / k2a, -r1 * k2_ref / k2a ** 2])
    se_bp = float(np.sqrt(g @ cov @ g)) if np.all(np.isfinite(se)) else float("nan")
    msg = _bound_message(res.x, lo, hi, ("R1", "k2a"))
    converged = bool(res.success) and not msg
    if not res.success:
        msg = f"did not converge: {res.message}"
    params = {"R1": float(r1), "k2": float(r1 * k2_ref), "k2a": float(k2a), "k2_ref": k2_ref}
    return FitResult("srtm2", float(bp), params, {"BP_ND": se_bp, "R1": float(se[0]), "k2a": float(se[1])},
                     converged, msg, model(res.x))
