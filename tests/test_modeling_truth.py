"""Independent TAC generator for the modeling tests (no tests here): compartment ODEs solved by scipy's solve_ivp.

Written here (not imported from petsim.kinetics) so that the estimators are
checked against code that shares nothing with them.
"""

import numpy as np
from scipy.integrate import solve_ivp

# Feng et al. 1993 (Int J Biomed Comput 32:95) plasma input, t in min (values as in kinetics-reference.md).
A1, A2, A3 = 851.1225, 21.8798, 20.8113
L1, L2, L3 = -4.1339, -0.1191, -0.01043
TAU = 0.735

# 28 frames over 90 min (min): 4x0.25, 4x0.5, 4x1, 4x2.5, 12x6.25
DUR = np.array([0.25] * 4 + [0.5] * 4 + [1.0] * 4 + [2.5] * 4 + [6.25] * 12)
END = np.cumsum(DUR)
START = END - DUR


def feng(t):
    s = np.asarray(t, dtype=float) - TAU
    v = (A1 * s - A2 - A3) * np.exp(L1 * s) + A2 * np.exp(L2 * s) + A3 * np.exp(L3 * s)
    return np.where(s > 0, v, 0.0)


def frame_means(rhs, n_states, combine, start=START, end=END, occupancy=None):
    """Solve the ODE from the input's start and return frame means of combine(states)."""
    # The last state is the running integral of the measured combination: frame mean = difference / duration.
    def f(t, y):
        d = rhs(t, y[:n_states])
        return np.append(d, combine(y[:n_states]))

    sol = solve_ivp(f, (TAU, float(end[-1])), np.zeros(n_states + 1), method="LSODA", rtol=1e-10, atol=1e-10,
                    dense_output=True, max_step=0.05)
    def cum(t):
        return np.where(t <= TAU, 0.0, sol.sol(np.maximum(t, TAU))[-1])
    return (cum(end) - cum(start)) / (end - start)


def one_tc(K1, k2, start=START, end=END):
    return frame_means(lambda t, y: np.array([K1 * feng(t) - k2 * y[0]]), 1, lambda y: y[0], start, end)


def two_tc(K1, k2, k3, k4, start=START, end=END, occupancy=None):
    """2TCM target; ``occupancy(t)`` lowers k3 as k3 (1 - O(t)) (competition, fast-equilibrium limit)."""
    occ = occupancy or (lambda t: 0.0)

    def rhs(t, y):
        k3t = k3 * (1.0 - occ(t))
        return np.array([K1 * feng(t) - (k2 + k3t) * y[0] + k4 * y[1], k3t * y[0] - k4 * y[1]])

    return frame_means(rhs, 2, lambda y: y[0] + y[1], start, end)


REF = dict(K1=0.15, k2=0.30)  # "fast" planning set of kinetics-reference.md (not published constants)


def reference():
    return one_tc(**REF)


def srtm_target(bp, r1=0.9, start=START, end=END):
    """A 1TC target with the reference's V_ND scaled: it obeys SRTM exactly."""
    k2 = r1 * REF["k2"]
    return one_tc(r1 * REF["K1"], k2 / (1.0 + bp), start, end)


def twotc_target(bp, start=START, end=END, occupancy=None):
    return two_tc(0.15, 0.30, bp * 0.15, 0.15, start, end, occupancy)


def lpntpet_target(r1, k2, k2a, gamma, response, start=START, end=END):
    """Target obeying the lp-ntPET model (Normandin et al. 2012) with the 1TC reference REF:
    dC_T/dt = R1 dC_R/dt + k2 C_R - (k2a + gamma h(t)) C_T, solved as an ODE."""
    K1r, k2r = REF["K1"], REF["k2"]

    def rhs(t, y):
        cp = feng(t)
        dcr = K1r * cp - k2r * y[0]
        return np.array([dcr, r1 * dcr + k2 * y[0] - (k2a + gamma * response(t)) * y[1]])

    return frame_means(rhs, 2, lambda y: y[1], start, end)
