"""Simplified reference tissue model (Lammertsma & Hume, NeuroImage 1996) and SRTM2 (Wu & Carson, JCBFM 2002).

SRTM:  C_T = R1 C_R + (k2 - R1 k2a) C_R (*) exp(-k2a t),  k2a = k2 / (1 + BP_ND).
SRTM2: C_T = R1 C_R + R1 (k2' - k2a) C_R (*) exp(-k2a t), BP_ND = R1 k2' / k2a - 1, k2' fixed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

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

    if initial is None:  # the global minimum (variable projection) when it lies inside the bounds, else MRTM's
        r1, k2, bp, inside = _srtm_global(sampler, start, end, ct[None, :], cr, w, use)
        initial = (r1[0], k2[0], bp[0]) if inside[0] else (1.0, 0.1, 1.0)
        if not inside[0]:
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
    k2_ref = _check_k2_ref(k2_ref)
    use = fit_frames(start, end, t_star_min, window_min, min_frames=MIN_FRAMES["srtm2"], model="SRTM2")
    sampler = FrameSampler(start, end)
    sw = np.sqrt(w)[use]
    lo, hi = SRTM2_BOUNDS

    def model(p):
        r1, k2a = p
        return r1 * cr + r1 * (k2_ref - k2a) * sampler.conv_exp(cr, k2a)[0]

    def resid(p):
        return (model(p) - ct)[use] * sw

    if initial is None:  # the global minimum (variable projection), polished below
        r1, k2a, _ = _srtm2_global(sampler, start, end, ct[None, :], cr, k2_ref, w, use)
        initial = (r1[0], k2a[0])
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


#: Basis rates k2a (1/min) of the global SRTM2 search: log-spaced over SRTM2's bounds, a step of 0.5 %.
_SRTM2_GRID = np.geomspace(SRTM2_BOUNDS[0][1], SRTM2_BOUNDS[1][1], 2000)
#: The grid's convolutions of the last few reference TACs: every region and window of a scan shares
#: its reference, and the convolutions are most of a fit's cost.
_GRID_CACHE: OrderedDict = OrderedDict()
_GRID_CACHE_LOCK = threading.Lock()


def _grid_conv(sampler, start, end, cr) -> np.ndarray:
    """``sampler.conv_exp(cr, _SRTM2_GRID)``, cached by the frames and the reference TAC."""
    key = (start.tobytes(), end.tobytes(), cr.tobytes())
    with _GRID_CACHE_LOCK:
        hit = _GRID_CACHE.get(key)
        if hit is not None:
            _GRID_CACHE.move_to_end(key)
            return hit
    conv = sampler.conv_exp(cr, _SRTM2_GRID)
    conv.setflags(write=False)
    with _GRID_CACHE_LOCK:
        _GRID_CACHE[key] = conv
        if len(_GRID_CACHE) > 8:
            _GRID_CACHE.popitem(last=False)
    return conv


def srtm2_bp_many(frame_start_min, frame_end_min, tacs, cr, k2_ref, weights=None, window_min=None) -> np.ndarray:
    """BP_ND of SRTM2 for many target TACs against one reference at once (the bootstrap's refits).

    The same weighted least-squares problem as :func:`fit_srtm2`, solved by variable projection
    (:func:`_srtm2_global`) without the final polish; compared with ``fit_srtm2`` in
    ``tests/test_modeling_bootstrap.py`` (BP_ND within 1e-4 relative). About ten to a hundred
    times faster per TAC than ``fit_srtm2``.

    Parameters
    ----------
    tacs : array_like, shape (n_tacs, n_frames)
        Target TACs (Bq/mL).
    cr : array_like, shape (n_frames,)
        Reference TAC (Bq/mL).
    k2_ref : float or array_like, shape (n_tacs,)
        Reference efflux k2' (1/min), one for all TACs or one per TAC.
    weights, window_min :
        As for :func:`fit_srtm2`.

    Returns
    -------
    ndarray, shape (n_tacs,)
        BP_ND; NaN where the best fit lies on a bound of R1 or k2a (``fit_srtm2`` reports those
        as not converged).
    """
    tacs = np.atleast_2d(np.asarray(tacs, dtype=float))
    start, end, _, cr, w = prepare(frame_start_min, frame_end_min, tacs[0], cr, weights)
    k2 = np.asarray(k2_ref, dtype=float)
    if k2.ndim == 0:
        k2 = np.full(tacs.shape[0], _check_k2_ref(k2_ref))
    elif k2.shape != (tacs.shape[0],) or not np.all(np.isfinite(k2) & (k2 > 0)):
        raise ValueError(f"k2_ref must be one positive k2' (1/min) or one per TAC ({tacs.shape[0]}), "
                         f"got shape {k2.shape}")
    use = fit_frames(start, end, 0.0, window_min, min_frames=MIN_FRAMES["srtm2"], model="SRTM2")
    r1, k2a, inside = _srtm2_global(FrameSampler(start, end), start, end, tacs, cr, k2, w, use)
    return np.where(inside, r1 * k2 / k2a - 1.0, np.nan)


def _srtm2_global(sampler, start, end, tacs, cr, k2_ref, w, use):
    """The global least-squares minimum of SRTM2 for each TAC: (R1, k2a, inside the bounds).

    Variable projection: R1 enters linearly, so at each k2a of a log-spaced grid (0.5 % steps over
    SRTM2's bounds) the best R1 (held inside its bounds) and the weighted residual sum of
    squares are closed-form for all TACs in a few matrix products. The minimum over the grid is
    refined by a parabola through its neighbours, and R1 recomputed at the refined k2a. A local
    optimiser started elsewhere (from MRTM) can end on the R1 bound with twice this residual in a
    late window, where the problem is nearly degenerate. ``k2_ref`` is one k2' (1/min) or one per
    TAC (the bootstrap's replicates of an estimated k2').

    With ``a = sqrt(w) C_R`` and ``c_j = sqrt(w) C_R (*) exp(-k2a_j t)`` on the fitted frames, the model
    is ``R1 (a + d c_j)``, ``d = k2' - k2a_j``, so its products with a TAC ``y`` and with itself are
    ``a.y + d c_j.y`` and ``a.a + 2 d a.c_j + d^2 c_j.c_j``.
    """
    sw = np.sqrt(w[use])
    k2_ref = np.broadcast_to(np.asarray(k2_ref, dtype=float), (tacs.shape[0],))
    a = cr[use] * sw
    c = _grid_conv(sampler, start, end, cr)[:, use] * sw
    y = tacs[:, use] * sw
    d = k2_ref[None, :] - _SRTM2_GRID[:, None]  # (n_grid, n_tacs)
    num = (y @ a)[None, :] + d * (c @ y.T)
    den = a @ a + 2.0 * d * (c @ a)[:, None] + d**2 * np.einsum("ij,ij->i", c, c)[:, None]
    (lo_r1, _), (hi_r1, _) = SRTM2_BOUNDS
    r1 = np.clip(num / den, lo_r1, hi_r1)  # the bounded best R1 at each k2a
    rss = np.einsum("ij,ij->i", y, y)[None, :] - 2.0 * r1 * num + r1**2 * den
    j = np.argmin(rss, axis=0)
    cols = np.arange(y.shape[0])
    free = (r1[j, cols] > lo_r1) & (r1[j, cols] < hi_r1)  # the grid's best R1 is not held at a bound
    k2a = _refine_on_grid(rss, j)
    bk = (cr[None, :] + (k2_ref - k2a)[:, None] * sampler.conv_exp(cr, k2a))[:, use] * sw
    r1 = np.einsum("ij,ij->i", bk, y) / np.einsum("ij,ij->i", bk, bk)
    inside = free & (j > 0) & (j < _SRTM2_GRID.size - 1) & (r1 > lo_r1) & (r1 < hi_r1)
    return r1, k2a, inside


def srtm_bp_many(frame_start_min, frame_end_min, tacs, cr, weights=None, window_min=None) -> np.ndarray:
    """BP_ND of SRTM for many target TACs against one reference at once (the bootstrap's refits).

    The weighted least-squares problem of :func:`fit_srtm`, solved globally by variable projection: for
    fixed k2a the model ``R1 C_R + b C_R (*) exp(-k2a t)`` (b = k2 - R1 k2a) is linear in (R1, b), so on
    the grid of k2a (:func:`_grid_conv`, 0.5 % steps) both and the residual are closed-form for all
    TACs; the minimum is refined by a parabola and solved exactly at the refined k2a. NaN where the
    minimum lies outside SRTM's bounds (``fit_srtm`` would end on one: not converged) or at the grid's
    end. Compared with ``fit_srtm`` in ``tests/test_modeling_bootstrap.py``.
    """
    tacs = np.atleast_2d(np.asarray(tacs, dtype=float))
    start, end, _, cr, w = prepare(frame_start_min, frame_end_min, tacs[0], cr, weights)
    use = fit_frames(start, end, 0.0, window_min, min_frames=MIN_FRAMES["srtm"], model="SRTM")
    r1, k2, bp, ok = _srtm_global(FrameSampler(start, end), start, end, tacs, cr, w, use)
    return np.where(ok, bp, np.nan)


def _srtm_global(sampler, start, end, tacs, cr, w, use):
    """The global least-squares minimum of SRTM for each TAC by variable projection (see
    :func:`srtm_bp_many`): (R1, k2, BP_ND, inside the bounds)."""
    sw = np.sqrt(w[use])
    a = cr[use] * sw
    y = tacs[:, use] * sw

    def solve(c, cy):
        """(R1, b, rss) of the 2x2 normal equations for basis ``c`` (k, m) and ``cy`` = c . y (k, n)."""
        aa, ac, cc = a @ a, c @ a, np.einsum("ij,ij->i", c, c)
        det = aa * cc - ac**2
        ay = y @ a
        with np.errstate(divide="ignore", invalid="ignore"):
            r1 = (cc[:, None] * ay[None, :] - ac[:, None] * cy) / det[:, None]
            b = (aa * cy - ac[:, None] * ay[None, :]) / det[:, None]
        rss = np.einsum("ij,ij->i", y, y)[None, :] - (r1 * ay[None, :] + b * cy)
        return r1, b, rss

    c = _grid_conv(sampler, start, end, cr)[:, use] * sw
    r1, b, rss = solve(c, c @ y.T)
    (lo_r1, lo_k2, lo_bp), (hi_r1, hi_k2, hi_bp) = SRTM_BOUNDS

    def feasible(r1, b, k2a):
        k2 = b + r1 * k2a
        with np.errstate(divide="ignore", invalid="ignore"):
            bp = k2 / k2a - 1.0
        return ((r1 > lo_r1) & (r1 < hi_r1) & (k2 > lo_k2) & (k2 < hi_k2) & (bp > lo_bp) & (bp < hi_bp)), bp

    rss = np.where(np.isfinite(rss), rss, np.inf)
    j = np.argmin(rss, axis=0)  # the unconstrained minimum: outside the bounds, fit_srtm ends on one
    cols = np.arange(y.shape[0])
    ok, _ = feasible(r1[j, cols], b[j, cols], _SRTM2_GRID[j])
    ok &= (j > 0) & (j < _SRTM2_GRID.size - 1)
    k2a = _refine_on_grid(rss, j)
    ck = sampler.conv_exp(cr, k2a)[:, use] * sw  # one basis per TAC: solve each at its own k2a
    r1k, bk, _ = solve(ck, ck @ y.T)
    r1k, bk = r1k[cols, cols], bk[cols, cols]
    inside, bp = feasible(r1k, bk, k2a)
    return r1k, bk + r1k * k2a, bp, ok & inside


def _refine_on_grid(rss: np.ndarray, j: np.ndarray) -> np.ndarray:
    """k2a (1/min) of each column's minimum ``j`` on the grid, refined by a parabola through the residuals at
    its two neighbours (in log k2a, within half a step; a minimum at the grid's end stays there)."""
    cols = np.arange(rss.shape[1])
    jj = np.clip(j, 1, _SRTM2_GRID.size - 2)
    r_lo, r_0, r_hi = rss[jj - 1, cols], rss[jj, cols], rss[jj + 1, cols]
    with np.errstate(invalid="ignore", divide="ignore"):
        curvature = r_lo - 2.0 * r_0 + r_hi
        shift = np.where(np.isfinite(curvature) & (curvature > 0), 0.5 * (r_lo - r_hi) / curvature, 0.0)
    step = np.log(_SRTM2_GRID[1] / _SRTM2_GRID[0])
    return _SRTM2_GRID[jj] * np.exp(np.clip(shift, -0.5, 0.5) * step)


def _check_k2_ref(k2_ref) -> float:
    if k2_ref is None or not (np.isfinite(k2_ref) and k2_ref > 0):
        raise ValueError(f"SRTM2 needs a positive k2_ref (1/min), got {k2_ref!r}")
    return float(k2_ref)
