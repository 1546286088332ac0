"""lp-ntPET: linear parametric neurotransmitter PET (Normandin, Schiffer & Morris, NeuroImage 2012;59:2689).

Model: ``C_T = R1 C_R + k2 int C_R - k2a int C_T - gamma int (C_T h)`` with a
gamma-variate response ``h(t) = ((t - t_D)/(t_P - t_D))^a exp(a (1 - (t - t_D)/(t_P - t_D)))``
for t > t_D (h(t_P) = 1). Each (t_D, t_P, a) of a basis library gives a
linear fit; the best one (gamma >= 0) is compared with MRTM (gamma = 0) by an
F-test.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy import stats

from petsim.core.curves import gamma_variate

from ._common import prepare, ratio_se, wls
from ._frames import fit_frames, frame_mid, integral_matrix, integral_to_mid
from .results import FitResult

#: Shape exponents of the basis library (Normandin et al. 2012 used alpha in {0.25, 1, 4}).
DEFAULT_ALPHAS = (0.25, 1.0, 4.0)
#: Parameters of lp-ntPET (R1, k2, k2a, gamma, t_D, t_P, alpha) and of MRTM (R1, k2, k2a) for the F-test.
N_PARAMS_LPNTPET = 7
N_PARAMS_MRTM = 3


def basis_library(frame_start_min, frame_end_min, t_d_range_min=None, step_min=1.0, max_rise_min=30.0,
                  alphas=DEFAULT_ALPHAS) -> np.ndarray:
    """Basis parameters (t_D, t_P, alpha) on a ``step_min`` grid; array (n_basis, 3).

    t_D runs over ``t_d_range_min`` (default: 10 min to 5 min before the last
    frame ends) and t_P from t_D + step to t_D + ``max_rise_min`` (and before
    the last frame ends).
    """
    end = float(np.max(frame_end_min))
    lo, hi = t_d_range_min if t_d_range_min is not None else (min(10.0, end / 4), end - 5.0)
    if not hi > lo:
        raise ValueError(f"t_d_range_min must be (start, end) with end > start, got {(lo, hi)!r}")
    rows = []
    for td in np.arange(lo, hi + 1e-9, step_min):
        for tp in np.arange(td + step_min, min(td + max_rise_min, end) + 1e-9, step_min):
            for a in alphas:
                rows.append((td, tp, a))
    if not rows:
        raise ValueError("the lp-ntPET basis library is empty; widen t_d_range_min or shorten step_min")
    return np.asarray(rows)


@njit(cache=True)
def _scan_kernel(start, end, mid, y, td, tp, al, use_idx, sw, q, y_perp):
    """For each basis: |Z_perp|^2 and Z_perp . y_perp, with Z = -int_0^{t_mid} (C_T h) (weighted, used frames).

    The running integral mirrors ``integral_to_mid`` (whole frames exact, half
    frame with the neighbour-slope correction, gaps bridged linearly).
    """
    nb = td.size
    nf = y.size
    nu = use_idx.size
    zz = np.empty(nb)
    zy = np.empty(nb)
    for b in range(nb):  # serial: calls are per TAC and short, thread start-up would dominate
        v = np.empty(nf)
        span = tp[b] - td[b]
        for j in range(nf):
            u = (mid[j] - td[b]) / span
            v[j] = y[j] * (u ** al[b] * np.exp(al[b] * (1.0 - u))) if u > 0 else 0.0
        z = np.empty(nf)
        before = 0.0
        prev = 0.0
        for i in range(nf):
            gap = start[i] - (end[i - 1] if i > 0 else 0.0)
            before += 0.5 * gap * (prev + v[i])
            if nf == 1:
                slope = 0.0
            elif i == 0:
                slope = (v[1] - v[0]) / (mid[1] - mid[0])
            elif i == nf - 1:
                slope = (v[i] - v[i - 1]) / (mid[i] - mid[i - 1])
            else:
                hd = mid[i] - mid[i - 1]
                hs = mid[i + 1] - mid[i]
                slope = (hd * hd * v[i + 1] - hs * hs * v[i - 1] + (hs * hs - hd * hd) * v[i]) / (hs * hd * (hd + hs))
            dur = end[i] - start[i]
            z[i] = before + 0.5 * dur * (v[i] - 0.25 * slope * dur)
            before += v[i] * dur
            prev = v[i]
        s2 = 0.0
        sy = 0.0
        s0 = 0.0
        s1 = 0.0
        s3 = 0.0
        for k in range(nu):
            zk = -z[use_idx[k]] * sw[k]
            s2 += zk * zk
            sy += zk * y_perp[k]
            s0 += zk * q[k, 0]
            s1 += zk * q[k, 1]
            s3 += zk * q[k, 2]
        zz[b] = s2 - s0 * s0 - s1 * s1 - s3 * s3
        zy[b] = sy
    return zz, zy


def lpntpet_scan(start, end, ct, cr, w, use, basis):
    """Best basis for many TACs at once (Frisch-Waugh: residualise on the MRTM columns).

    ``ct`` (n_tac, n_frames). Returns (rss_mrtm, rss_best, best index, gamma_best), each (n_tac,).
    """
    ct = np.atleast_2d(ct)
    mid = frame_mid(start, end)
    sw = np.sqrt(w[use])
    use_idx = np.flatnonzero(use)
    int_r = integral_to_mid(start, end, cr)
    int_t = integral_to_mid(start, end, ct)
    td, tp, al = (np.ascontiguousarray(basis[:, k], dtype=float) for k in range(3))
    out_rss0, out_rss1, out_best, out_gamma = [], [], [], []
    for y, iy in zip(ct, int_t):
        A = np.column_stack([cr, int_r, -iy])[use] * sw[:, None]
        q, _ = np.linalg.qr(A)
        yw = y[use] * sw
        y_perp = yw - q @ (q.T @ yw)
        zz, zy = _scan_kernel(start, end, mid, np.ascontiguousarray(y), td, tp, al, use_idx, sw,
                              np.ascontiguousarray(q), y_perp)
        with np.errstate(divide="ignore", invalid="ignore"):
            gamma = zy / zz
            gain = np.where((zz > 1e-10 * np.max(np.abs(zz))) & (gamma >= 0), zy * zy / zz, -np.inf)
        b = int(np.argmax(gain))
        rss0 = float(y_perp @ y_perp)
        out_rss0.append(rss0)
        out_rss1.append(rss0 - gain[b] if np.isfinite(gain[b]) else rss0)
        out_best.append(b if np.isfinite(gain[b]) else -1)
        out_gamma.append(float(gamma[b]) if np.isfinite(gain[b]) else 0.0)
    return np.array(out_rss0), np.array(out_rss1), np.array(out_best), np.array(out_gamma)


def f_test(rss_mrtm, rss_lp, n_frames, p_mrtm=N_PARAMS_MRTM, p_lp=N_PARAMS_LPNTPET):
    """F statistic and p-value of lp-ntPET against MRTM (nested models)."""
    rss_mrtm = np.asarray(rss_mrtm, dtype=float)
    rss_lp = np.asarray(rss_lp, dtype=float)
    dof = n_frames - p_lp
    if dof <= 0:
        raise ValueError(f"the F-test needs more than {p_lp} fitted frames, got {n_frames}")
    with np.errstate(divide="ignore", invalid="ignore"):
        F = ((rss_mrtm - rss_lp) / (p_lp - p_mrtm)) / (rss_lp / dof)
    F = np.where(np.isfinite(F), np.maximum(F, 0.0), 0.0)
    return F, stats.f.sf(F, p_lp - p_mrtm, dof)


def null_f_statistics(start, end, fitted_null, cr, w, use, basis, sigma2, n_sim=100, seed=0) -> np.ndarray:
    """F statistics of lp-ntPET vs MRTM on TACs simulated under the null (no release).

    The best of thousands of bases is a maximum, so the nominal F
    distribution is anti-conservative; these simulated values (MRTM fit plus
    Gaussian noise of variance ``sigma2 / w`` per frame) give its actual null
    distribution for this design.
    """
    rng = np.random.default_rng(seed)
    sd = np.sqrt(sigma2 / np.where(w > 0, w, np.inf))
    sims = fitted_null[None, :] + sd[None, :] * rng.standard_normal((int(n_sim), fitted_null.size))
    rss0, rss1, _, _ = lpntpet_scan(start, end, sims, cr, w, use, basis)
    return f_test(rss0, rss1, int(use.sum()))[0]


def fit_lpntpet(frame_start_min, frame_end_min, ct, cr, weights=None, t_d_range_min=None, step_min=1.0,
                max_rise_min=30.0, alphas=DEFAULT_ALPHAS, alpha_level=0.05, t_star_min=0.0, n_null=100,
                seed=0) -> FitResult:
    """Fit lp-ntPET over a basis library and test it against MRTM.

    Parameters
    ----------
    weights : array_like, optional
        Relative frame weights; Normandin et al. used dt / (C_T e^{lambda t}),
        i.e. ``frame_weights(start, end, "decay", tac=ct)``.
    t_d_range_min, step_min, max_rise_min, alphas :
        Basis library (see :func:`basis_library`).
    alpha_level : float
        Significance level (release detected when p < alpha_level).
    n_null, seed : int
        Monte Carlo size and seed of the null calibration: the F statistic's
        p-value is taken from ``n_null`` TACs simulated from the MRTM fit with
        its residual variance (``p_value``), because the nominal F-test
        (``p_value_ftest``, p = 7 vs 3 parameters) fires too often when the
        best of many bases is chosen. ``n_null=0`` uses the nominal F-test.

    Returns
    -------
    FitResult
        ``bp_nd`` is the baseline BP_ND = k2/k2a - 1 of the best lp-ntPET fit.
        ``params``: R1, k2, k2a, gamma (1/min), t_D, t_P (min, peak of the
        response), alpha, F, p_value, p_value_ftest, release_detected, BP_ND_mrtm.
    """
    start, end, ct, cr, w = prepare(frame_start_min, frame_end_min, ct, cr, weights)
    use = fit_frames(start, end, t_star_min, None, min_frames=N_PARAMS_LPNTPET + 2, model="lp-ntPET")
    if not 0 < alpha_level < 1:
        raise ValueError(f"alpha_level must be in (0, 1), got {alpha_level!r}")
    basis = basis_library(start, end, t_d_range_min, step_min, max_rise_min, alphas)
    rss0, rss1, best, _ = lpntpet_scan(start, end, ct[None, :], cr, w, use, basis)
    F, p = f_test(rss0, rss1, int(use.sum()))
    L = integral_matrix(start, end)
    cols = [cr, L @ cr, -(L @ ct)]
    mrtm_coef, _, _, _ = wls(np.column_stack(cols)[use], ct[use], w[use])
    bp_mrtm = mrtm_coef[1] / mrtm_coef[2] - 1.0 if mrtm_coef[2] != 0 else float("nan")
    mrtm_fit = np.column_stack(cols) @ mrtm_coef
    p_mc = float(p[0])
    if n_null and n_null > 0:
        sigma2 = float(rss0[0]) / (int(use.sum()) - N_PARAMS_MRTM)
        f_null = null_f_statistics(start, end, mrtm_fit, cr, w, use, basis, sigma2, n_null, seed)
        p_mc = float((1 + np.sum(f_null >= F[0])) / (1 + f_null.size))
    b = int(best[0])
    if b < 0:
        fitted = np.column_stack(cols) @ mrtm_coef
        params = {"R1": float(mrtm_coef[0]), "k2": float(mrtm_coef[1]), "k2a": float(mrtm_coef[2]), "gamma": 0.0,
                  "t_D": float("nan"), "t_P": float("nan"), "alpha": float("nan"), "F": 0.0, "p_value": 1.0, "p_value_ftest": 1.0,
                  "release_detected": False, "BP_ND_mrtm": float(bp_mrtm)}
        return FitResult("lpntpet", float(bp_mrtm), params, {}, True, "no basis with gamma >= 0 improved on MRTM", fitted)
    td, tp, a = basis[b]
    h = gamma_variate(frame_mid(start, end), td, tp, a)
    X = np.column_stack(cols + [-(L @ (ct * h))])
    coef, cov, rss, ok = wls(X[use], ct[use], w[use])
    r1, k2, k2a, gamma = coef
    bp = k2 / k2a - 1.0
    detected = bool(p_mc < alpha_level)
    params = {"R1": float(r1), "k2": float(k2), "k2a": float(k2a), "gamma": float(gamma), "t_D": float(td),
              "t_P": float(tp), "alpha": float(a), "F": float(F[0]), "p_value": p_mc, "p_value_ftest": float(p[0]),
              "release_detected": detected, "BP_ND_mrtm": float(bp_mrtm)}
    se = {"BP_ND": ratio_se(k2, k2a, cov[1, 1], cov[2, 2], cov[1, 2]), "gamma": float(np.sqrt(abs(cov[3, 3])))}
    ok = ok and k2a > 0
    return FitResult("lpntpet", float(bp), params, se, bool(ok), "" if ok else "non-physical estimate (k2a <= 0)",
                     np.where(use, X @ coef, np.nan))
