"""Shared input checks and weighted linear least squares."""

from __future__ import annotations

import numpy as np

from ._frames import check_frames, check_reference, check_tac, check_weights


def prepare(frame_start_min, frame_end_min, ct, cr, weights=None):
    """Checked (start, end, ct, cr, w) as float64 arrays."""
    start, end = check_frames(frame_start_min, frame_end_min)
    n = start.size
    ct = check_tac(ct, n, "target TAC")
    cr = check_reference(cr, n)
    w = check_weights(weights, n)
    return start, end, ct, cr, w


def wls(X: np.ndarray, y: np.ndarray, w: np.ndarray):
    """Weighted least squares: coefficients, their covariance, weighted RSS.

    The covariance is scaled by the residual variance (weights taken as
    relative); it is NaN when the design is singular or no degrees of freedom remain.
    """
    sw = np.sqrt(w)
    A = X * sw[:, None]
    b = y * sw
    coef, _, rank, _ = np.linalg.lstsq(A, b, rcond=None)
    rss = float(np.sum((b - A @ coef) ** 2))
    dof = A.shape[0] - A.shape[1]
    cov = np.full((A.shape[1], A.shape[1]), np.nan)
    if rank == A.shape[1] and dof > 0:
        cov = np.linalg.inv(A.T @ A) * (rss / dof)
    return coef, cov, rss, rank == A.shape[1]


def ratio_se(num, den, var_num, var_den, cov_nd):
    """Delta-method SE of num/den."""
    g = np.array([1.0 / den, -num / den ** 2])
    c = np.array([[var_num, cov_nd], [cov_nd, var_den]])
    v = float(g @ c @ g)
    return float(np.sqrt(v)) if np.isfinite(v) and v >= 0 else float("nan")
