"""Linear reference-tissue estimators: MRTM, MRTM2 (Ichise et al., JCBFM 2003), Logan reference
graphical analysis (Logan et al., JCBFM 1996) and the equilibrium tissue ratio.

MRTM follows from SRTM's operational equation integrated once,
``C_T(t) = k2 int C_R + R1 C_R(t) - k2a int C_T``, so BP_ND = k2/k2a - 1 and
k2' = k2/R1. MRTM2 fixes k2' and keeps two parameters. With t* > 0 only the
frames after t* are fitted (Ichise's form derived from Logan's plot).
"""

from __future__ import annotations

import numpy as np

from ._common import prepare, ratio_se, wls
from ._frames import MIN_FRAMES, fit_frames, integral_to_mid
from .results import FitResult


#: Range of R1 = K1/K1' that a reference-tissue fit may end in (SRTM's bounds too); outside it the
#: fit, or the k2' it was given, does not describe the TACs.
R1_RANGE = (0.01, 10.0)


def _nan_fit(model, n, msg):
    return FitResult(model, float("nan"), {}, {}, False, msg, np.full(n, np.nan))


def fit_mrtm(frame_start_min, frame_end_min, ct, cr, weights=None, t_star_min=0.0, window_min=None) -> FitResult:
    """Fit MRTM (three linear parameters) by weighted linear least squares.

    Returns
    -------
    FitResult
        ``params``: R1, k2, k2a, k2_ref (1/min), t_star_min. ``se``: BP_ND, R1, k2, k2a.
    """
    start, end, ct, cr, w = prepare(frame_start_min, frame_end_min, ct, cr, weights)
    use = fit_frames(start, end, t_star_min, window_min, min_frames=MIN_FRAMES["mrtm"], model="MRTM")
    int_r = integral_to_mid(start, end, cr)
    int_t = integral_to_mid(start, end, ct)
    X = np.column_stack([int_r, cr, -int_t])
    coef, cov, rss, ok = wls(X[use], ct[use], w[use])
    k2, r1, k2a = coef
    fitted = np.where(use, X @ coef, np.nan)
    if not ok or k2a == 0 or r1 == 0:
        return _nan_fit("mrtm", ct.size, "singular design: the TACs do not determine MRTM's parameters")
    bp = k2 / k2a - 1.0
    se_bp = ratio_se(k2, k2a, cov[0, 0], cov[2, 2], cov[0, 2])
    sd = np.sqrt(np.abs(np.diag(cov)))
    ok = k2a > 0 and k2 > 0
    params = {"R1": float(r1), "k2": float(k2), "k2a": float(k2a), "k2_ref": float(k2 / r1), "t_star_min": float(t_star_min or 0)}
    return FitResult("mrtm", float(bp), params, {"BP_ND": se_bp, "R1": float(sd[1]), "k2": float(sd[0]), "k2a": float(sd[2])},
                     bool(ok), "" if ok else "non-physical estimate (k2 or k2a <= 0)", fitted)


def fit_mrtm2(frame_start_min, frame_end_min, ct, cr, k2_ref, weights=None, t_star_min=0.0, window_min=None) -> FitResult:
    """Fit MRTM2 (two linear parameters, reference efflux k2' fixed, 1/min).

    ``C_T = k2 (int C_R + C_R / k2') - k2a int C_T``; BP_ND = k2/k2a - 1, R1 = k2/k2'.
    """
    start, end, ct, cr, w = prepare(frame_start_min, frame_end_min, ct, cr, weights)
    if k2_ref is None or not (np.isfinite(k2_ref) and k2_ref > 0):
        raise ValueError(f"MRTM2 needs a positive k2_ref (1/min), got {k2_ref!r}")
    use = fit_frames(start, end, t_star_min, window_min, min_frames=MIN_FRAMES["mrtm2"], model="MRTM2")
    int_r = integral_to_mid(start, end, cr)
    int_t = integral_to_mid(start, end, ct)
    X = np.column_stack([int_r + cr / k2_ref, -int_t])
    coef, cov, rss, ok = wls(X[use], ct[use], w[use])
    k2, k2a = coef
    if not ok or k2a == 0:
        return _nan_fit("mrtm2", ct.size, "singular design: the TACs do not determine MRTM2's parameters")
    bp = k2 / k2a - 1.0
    se_bp = ratio_se(k2, k2a, cov[0, 0], cov[1, 1], cov[0, 1])
    sd = np.sqrt(np.abs(np.diag(cov)))
    r1 = k2 / k2_ref
    ok = k2a > 0 and k2 > 0 and R1_RANGE[0] <= r1 <= R1_RANGE[1]
    why = ("non-physical estimate (k2 or k2a <= 0)" if not (k2a > 0 and k2 > 0) else
           f"R1 = k2/k2' = {r1:.3g} outside [{R1_RANGE[0]}, {R1_RANGE[1]}]: k2' = {k2_ref:.3g}/min does not fit this TAC")
    params = {"R1": float(r1), "k2": float(k2), "k2a": float(k2a), "k2_ref": float(k2_ref),
              "t_star_min": float(t_star_min or 0)}
    return FitResult("mrtm2", float(bp), params, {"BP_ND": se_bp, "R1": float(sd[0] / k2_ref), "k2": float(sd[0]),
                                                   "k2a": float(sd[1])},
                     bool(ok), "" if ok else why, np.where(use, X @ coef, np.nan))


def logan_axes(start, end, ct, cr, k2_ref=None):
    """Logan reference plot axes: x = (int C_R + C_R/k2') / C_T, y = int C_T / C_T (min).

    ``ct`` may be 2D (voxels x frames). Frames where C_T <= 0 give NaN.
    """
    int_r = integral_to_mid(start, end, cr)
    if k2_ref is not None:
        int_r = int_r + cr / k2_ref
    int_t = integral_to_mid(start, end, ct)
    with np.errstate(divide="ignore", invalid="ignore"):
        safe = np.where(ct > 0, ct, np.nan)
        return int_r / safe, int_t / safe


def fit_logan_ref(frame_start_min, frame_end_min, ct, cr, t_star_min=None, k2_ref=None, window_min=None,
                  weights=None) -> FitResult:
    """Logan reference-tissue graphical analysis: slope of the plot after t* is DVR = BP_ND + 1.

    Parameters
    ----------
    t_star_min : float
        Start of the linear part (min from injection); required (use a time
        after target/reference equilibrium).
    k2_ref : float, optional
        Reference efflux k2' (1/min); without it the C_R/k2' term is left out
        (it folds into the intercept once C_R/C_T is constant).
    window_min : (float, float), optional
        Fit only frames whose mid-time lies in (start, end) min, e.g. a
        baseline window and a task window of the same bolus-plus-infusion scan.
        Integrals still run from injection.

    Returns
    -------
    FitResult
        ``params``: DVR, intercept (min), t_star_min, window. ``fitted`` is
        the TAC implied by the fitted line on the used frames (NaN elsewhere).
    """
    start, end, ct, cr, w = prepare(frame_start_min, frame_end_min, ct, cr, weights)
    if t_star_min is None:
        raise ValueError("Logan reference analysis needs t_star_min (min), the start of the linear part of the plot")
    if k2_ref is not None and not (np.isfinite(k2_ref) and k2_ref > 0):
        raise ValueError(f"k2_ref must be positive (1/min) or None, got {k2_ref!r}")
    use = fit_frames(start, end, t_star_min, window_min, min_frames=MIN_FRAMES["logan_ref"], model="Logan reference")
    if np.any(ct[use] <= 0):
        return _nan_fit("logan_ref", ct.size, "target TAC <= 0 in a fitted frame; the Logan plot is undefined")
    x, y = logan_axes(start, end, ct, cr, k2_ref)
    X = np.column_stack([x, np.ones_like(x)])
    coef, cov, rss, ok = wls(X[use], y[use], w[use])
    if not ok:
        return _nan_fit("logan_ref", ct.size, "singular Logan plot (all x equal)")
    dvr, icpt = coef
    # Fitted TAC implied by the line: int C_T = DVR * (int C_R + C_R/k2') + b C_T  -> solve for C_T.
    int_r = x * ct
    int_t_prev = integral_to_mid(start, end, ct) - 0.5 * ct * (end - start)
    with np.errstate(divide="ignore", invalid="ignore"):
        fitted = np.where(use, (dvr * int_r - int_t_prev) / (0.5 * (end - start) - icpt), np.nan)
    params = {"DVR": float(dvr), "intercept": float(icpt), "t_star_min": float(t_star_min)}
    if k2_ref is not None:
        params["k2_ref"] = float(k2_ref)
    if window_min is not None:
        params["window_start_min"], params["window_end_min"] = (float(v) for v in window_min)
    return FitResult("logan_ref", float(dvr - 1.0), params, {"BP_ND": float(np.sqrt(abs(cov[0, 0]))), "DVR": float(np.sqrt(abs(cov[0, 0])))},
                     True, "", fitted)


# ---------------------------------------------------------------- many TACs at once (the bootstrap's refits)

def _wls_many(X: np.ndarray, y: np.ndarray, w: np.ndarray):
    """Weighted least squares of many problems at once: ``X`` (n, m, p), ``y`` (n, m), weights ``w`` (m,).

    The same solution as :func:`petsim.modeling._common.wls` per problem, by the normal equations of
    unit-norm columns (their conditioning is then that of the correlations between the regressors).
    Returns (coef (n, p), ok (n,)); ``ok`` is False (and coef NaN) where the design is singular.
    """
    sw = np.sqrt(w)
    a = X * sw[None, :, None]
    b = y * sw[None, :]
    norm = np.linalg.norm(a, axis=1)  # (n, p)
    ok = np.all(norm > 0, axis=1) & np.all(np.isfinite(a), axis=(1, 2)) & np.all(np.isfinite(b), axis=1)
    a = a / np.where(norm > 0, norm, 1.0)[:, None, :]
    gram = np.einsum("nmp,nmq->npq", a, a)
    rhs = np.einsum("nmp,nm->np", a, b)
    eye = np.eye(gram.shape[-1])
    gram = np.where(np.isfinite(gram), gram, 0.0)
    ok &= np.linalg.cond(np.where(ok[:, None, None], gram, eye)) < 1e12
    gram[~ok] = eye
    rhs[~ok] = 0.0
    coef = np.linalg.solve(gram, rhs[..., None])[..., 0] / np.where(norm > 0, norm, 1.0)
    coef[~ok] = np.nan
    return coef, ok


def mrtm_many(start, end, tacs, cr, w, use) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`fit_mrtm` of many TACs (n, frames) on the frames ``use``: (BP_ND, k2' = k2/R1, converged)."""
    int_r = integral_to_mid(start, end, cr)
    int_t = integral_to_mid(start, end, tacs)
    X = np.stack([np.broadcast_to(int_r, tacs.shape), np.broadcast_to(cr, tacs.shape), -int_t], axis=-1)
    coef, ok = _wls_many(X[:, use], tacs[:, use], w[use])
    k2, r1, k2a = coef.T
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = k2 / k2a - 1.0
        k2_ref = k2 / r1
    good = ok & (k2a > 0) & (k2 > 0) & (r1 != 0)
    return np.where(good, bp, np.nan), np.where(good, k2_ref, np.nan), good


def mrtm2_bp_many(start, end, tacs, cr, k2_ref, w, use) -> np.ndarray:
    """BP_ND of :func:`fit_mrtm2` for many TACs (n, frames), ``k2_ref`` one value or one per TAC; NaN where
    ``fit_mrtm2`` would not converge (singular, k2 or k2a <= 0, R1 outside its range)."""
    k2_ref = np.broadcast_to(np.asarray(k2_ref, dtype=float), (tacs.shape[0],))
    int_r = integral_to_mid(start, end, cr)
    int_t = integral_to_mid(start, end, tacs)
    X = np.stack([int_r[None, :] + cr[None, :] / k2_ref[:, None], -int_t], axis=-1)
    coef, ok = _wls_many(X[:, use], tacs[:, use], w[use])
    k2, k2a = coef.T
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = k2 / k2a - 1.0
        r1 = k2 / k2_ref
    good = ok & (k2a > 0) & (k2 > 0) & (r1 >= R1_RANGE[0]) & (r1 <= R1_RANGE[1])
    return np.where(good, bp, np.nan)


def logan_bp_many(start, end, tacs, cr, k2_ref, w, use) -> np.ndarray:
    """BP_ND of :func:`fit_logan_ref` for many TACs (n, frames); NaN where C_T <= 0 in a fitted frame or the
    plot is singular."""
    x, y = logan_axes(start, end, tacs, cr, k2_ref)
    positive = np.all(tacs[:, use] > 0, axis=1)
    X = np.stack([x, np.ones_like(x)], axis=-1)
    coef, ok = _wls_many(np.where(positive[:, None, None], X, 1.0)[:, use],
                         np.where(positive[:, None], y, 0.0)[:, use], w[use])
    return np.where(ok & positive, coef[:, 0] - 1.0, np.nan)


def fit_tissue_ratio(frame_start_min, frame_end_min, ct, cr, window_min, weights=None) -> FitResult:
    """Equilibrium BP_ND = (duration-weighted mean C_T) / (mean C_R) - 1 over a window (min).

    Valid at (transient or true) equilibrium, e.g. the late part of a
    bolus-plus-infusion scan. ``se`` gives the SE of the frame-wise ratios' mean.
    """
    start, end, ct, cr, _ = prepare(frame_start_min, frame_end_min, ct, cr, weights)
    if window_min is None:
        raise ValueError("the tissue-ratio method needs window_min=(start, end) in min")
    use = fit_frames(start, end, 0.0, window_min, min_frames=1, model="tissue ratio")
    dur = (end - start)[use]
    ref = float(np.sum(cr[use] * dur))
    if ref <= 0:
        return _nan_fit("ratio", ct.size, "reference activity <= 0 in the window")
    ratio = float(np.sum(ct[use] * dur)) / ref
    se = float("nan")
    if use.sum() > 1 and np.all(cr[use] > 0):
        r = ct[use] / cr[use]
        se = float(np.std(r, ddof=1) / np.sqrt(r.size))
    fitted = np.where(use, ratio * cr, np.nan)
    params = {"ratio": ratio, "window_start_min": float(window_min[0]), "window_end_min": float(window_min[1])}
    return FitResult("ratio", ratio - 1.0, params, {"BP_ND": se}, True, "", fitted)
