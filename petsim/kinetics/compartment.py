"""Compartment-model solver: exact exponential integrator on a fine time grid.

The two-tissue model

    dC_ND/dt = K1 Cp(t) - (k2 + k3(t)) C_ND + k4 C_S
    dC_S/dt  = k3(t) C_ND - k4 C_S

is integrated step by step with k3 held constant over each step (its value
at the step midpoint) and Cp, within each step, the quadratic through its
values at the step start, midpoint and end (linear if no midpoint values are
given), Cp(t_n + s h) = u0 + c1 s + c2 s^2. For that problem each step is exact:

    x_{n+1} = e^{A h} x_n + (F1 u0 + F2 c1 + F3 c2) b,
    F_j = h int_0^1 (1 - s)^(j-1) e^{A h s} ds,

with b = (K1, 0). The 2x2 exponential is closed-form (A has real
eigenvalues m +/- d because k3 k4 >= 0: e^{A t} = e^{m t}[cosh(d t) I +
t sinhc(d t)(A - m I)], robust when the eigenvalues coincide) and the two
integrals use 8-point Gauss-Legendre, exact to rounding for |A| h < 1. The
one-tissue model is the k3 = 0 case.

For the full competition model (mass effects) the binding rate falls as the
tracer itself fills the receptors, ``k3(t) = k3 (1 - O(t) - C_S(t) / (SA B'max))``;
that step uses a predictor-corrector (second order).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["solve_two_tissue"]

_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)
_GL_X = 0.5 * (_GL_X + 1.0)  # nodes on [0, 1]
_GL_W = 0.5 * _GL_W


@njit(cache=True)
def _sinhc(x):
    if abs(x) < 1e-3:
        x2 = x * x
        return 1.0 + x2 / 6.0 + x2 * x2 / 120.0
    return math.sinh(x) / x


@njit(cache=True)
def _expm_col(a11, a12, a21, a22, m, d, tau, out):
    """Write e^{A tau} (row-major 2x2) into out[0:4]."""
    em = math.exp(m * tau)
    ch = math.cosh(d * tau)
    sh = tau * _sinhc(d * tau)
    out[0] = em * (ch + sh * (a11 - m))
    out[1] = em * (sh * a12)
    out[2] = em * (sh * a21)
    out[3] = em * (ch + sh * (a22 - m))


@njit(cache=True)
def _step_matrices(k2, k3, k4, h, glx, glw, E, F1, F2, F3, tmp):
    """E = e^{A h} (2x2), F1, F2, F3 first columns (length 2) of the input integrals."""
    a11 = -(k2 + k3)
    a12 = k4
    a21 = k3
    a22 = -k4
    m = 0.5 * (a11 + a22)
    half = 0.5 * (a11 - a22)
    d = math.sqrt(half * half + a12 * a21)
    _expm_col(a11, a12, a21, a22, m, d, h, E)
    F1[0] = 0.0
    F1[1] = 0.0
    F2[0] = 0.0
    F2[1] = 0.0
    F3[0] = 0.0
    F3[1] = 0.0
    for j in range(glx.size):
        _expm_col(a11, a12, a21, a22, m, d, glx[j] * h, tmp)
        w = glw[j] * h
        F1[0] += w * tmp[0]
        F1[1] += w * tmp[2]
        w2 = w * (1.0 - glx[j])
        F2[0] += w2 * tmp[0]
        F2[1] += w2 * tmp[2]
        w3 = w2 * (1.0 - glx[j])
        F3[0] += w3 * tmp[0]
        F3[1] += w3 * tmp[2]


@njit(cache=True)
def _advance(x0, x1, E, F1, F2, F3, K1, u0, c1, c2, out):
    out[0] = E[0] * x0 + E[1] * x1 + K1 * (F1[0] * u0 + F2[0] * c1 + F3[0] * c2)
    out[1] = E[2] * x0 + E[3] * x1 + K1 * (F1[1] * u0 + F2[1] * c1 + F3[1] * c2)


@njit(cache=True, parallel=True)
def _solve(t, cp, cp_mid, use_mid, K1, k2, k3, k4, occ_mid, inv_cap, glx, glw, c_nd, c_s):
    n_r = K1.size
    n_t = t.size
    for r in prange(n_r):
        E = np.empty(4)
        F1 = np.empty(2)
        F2 = np.empty(2)
        F3 = np.empty(2)
        tmp = np.empty(4)
        xn = np.empty(2)
        xp = np.empty(2)
        c_nd[r, 0] = 0.0
        c_s[r, 0] = 0.0
        last_k3 = -1.0
        last_h = -1.0
        for n in range(n_t - 1):
            h = t[n + 1] - t[n]
            u0 = cp[n]
            u1 = cp[n + 1]
            if use_mid:
                um = cp_mid[n]
                c1 = 4.0 * um - 3.0 * u0 - u1
                c2 = 2.0 * (u0 + u1) - 4.0 * um
            else:
                c1 = u1 - u0
                c2 = 0.0
            x0 = c_nd[r, n]
            x1 = c_s[r, n]
            if inv_cap[r] == 0.0:
                k3e = k3[r] * (1.0 - occ_mid[r, n])
                if k3e != last_k3 or h != last_h:
                    _step_matrices(k2[r], k3e, k4[r], h, glx, glw, E, F1, F2, F3, tmp)
                    last_k3 = k3e
                    last_h = h
                _advance(x0, x1, E, F1, F2, F3, K1[r], u0, c1, c2, xn)
            else:
                # predictor: binding rate from the bound state at the step start
                k3e = k3[r] * max(0.0, 1.0 - occ_mid[r, n] - x1 * inv_cap[r])
                _step_matrices(k2[r], k3e, k4[r], h, glx, glw, E, F1, F2, F3, tmp)
                _advance(x0, x1, E, F1, F2, F3, K1[r], u0, c1, c2, xp)
                # corrector: rate from the mean bound state over the step
                k3e = k3[r] * max(0.0, 1.0 - occ_mid[r, n] - 0.5 * (x1 + xp[1]) * inv_cap[r])
                _step_matrices(k2[r], k3e, k4[r], h, glx, glw, E, F1, F2, F3, tmp)
                _advance(x0, x1, E, F1, F2, F3, K1[r], u0, c1, c2, xn)
            c_nd[r, n + 1] = xn[0]
            c_s[r, n + 1] = xn[1]


def solve_two_tissue(t_min, cp, K1, k2, k3, k4, occupancy_mid=None, inv_capacity=None, cp_mid=None):
    """Free+nonspecific and specifically bound concentrations of the 2TCM.

    Parameters
    ----------
    t_min : (n_t,) array
        Strictly increasing times (min), starting at injection (state 0).
    cp : (n_t,) array
        Plasma parent input on ``t_min`` (Bq/mL), linear between samples.
    K1, k2, k3, k4 : (n_r,) arrays
        Rate constants per row (mL/cm^3/min, 1/min); k3 is the baseline value.
    occupancy_mid : (n_r, n_t - 1) array, optional
        Extra occupancy O at the step midpoints; k3(t) = k3 (1 - O).
    inv_capacity : (n_r,) array, optional
        1 / (specific activity x B'max) in mL/Bq (0: no mass effect).
    cp_mid : (n_t - 1,) array, optional
        Cp at the step midpoints; with it the input is quadratic within each
        step (error O(h^4) instead of O(h^2) for a smooth input).

    Returns
    -------
    c_nd, c_s : (n_r, n_t) arrays in Bq/mL (tissue concentrations, no blood term).
    """
    t = np.ascontiguousarray(t_min, dtype=float)
    cp = np.ascontiguousarray(cp, dtype=float)
    if t.ndim != 1 or cp.shape != t.shape:
        raise ValueError(f"t_min and cp must be 1D of equal length, got {t.shape} and {cp.shape}")
    if not np.all(np.diff(t) > 0):
        raise ValueError("t_min must be strictly increasing")
    K1, k2, k3, k4 = (np.ascontiguousarray(np.atleast_1d(v), dtype=float) for v in (K1, k2, k3, k4))
    n_r = K1.size
    for name, v in (("K1", K1), ("k2", k2), ("k3", k3), ("k4", k4)):
        if v.shape != (n_r,):
            raise ValueError(f"{name} must have one value per row ({n_r}), got shape {v.shape}")
        if np.any(~np.isfinite(v)) or np.any(v < 0):
            raise ValueError(f"rate constants must be finite and >= 0; {name} = {v}")
    if np.any(k2 <= 0) or np.any(k4 <= 0):
        raise ValueError(f"k2 and k4 must be > 0, got k2 = {k2}, k4 = {k4}")
    occ = np.zeros((n_r, t.size - 1)) if occupancy_mid is None else np.ascontiguousarray(occupancy_mid, dtype=float)
    if occ.shape != (n_r, t.size - 1):
        raise ValueError(f"occupancy_mid must have shape {(n_r, t.size - 1)}, got {occ.shape}")
    inv = np.zeros(n_r) if inv_capacity is None else np.ascontiguousarray(np.broadcast_to(inv_capacity, (n_r,)), dtype=float)
    if cp_mid is None:
        mid, use_mid = np.zeros(t.size - 1), False
    else:
        mid, use_mid = np.ascontiguousarray(cp_mid, dtype=float), True
        if mid.shape != (t.size - 1,):
            raise ValueError(f"cp_mid must have shape {(t.size - 1,)}, got {mid.shape}")
    c_nd = np.empty((n_r, t.size))
    c_s = np.empty((n_r, t.size))
    _solve(t, cp, mid, use_mid, K1, k2, k3, k4, occ, inv, _GL_X, _GL_W, c_nd, c_s)
    return c_nd, c_s
