"""2TCM solver against the analytic convolution solution and scipy's solve_ivp."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from petsim.kinetics import GammaRelease, PlasmaInput, solve_two_tissue
from petsim.kinetics.release import gamma_variate


def analytic_2tcm(t, terms, K1, k2, k3, k4):
    """C_ND + C_S for a sum-of-(a + b s) e^{l s} input: closed-form convolution with the
    bi-exponential impulse response K1/(a2-a1) [(k3+k4-a1) e^{-a1 t} + (a2-k3-k4) e^{-a2 t}]."""
    s_ = k2 + k3 + k4
    D = np.sqrt(s_**2 - 4 * k2 * k4)
    a1, a2 = (s_ - D) / 2, (s_ + D) / 2
    coefs = [K1 * (k3 + k4 - a1) / (a2 - a1), K1 * (a2 - k3 - k4) / (a2 - a1)]
    s = np.maximum(t - terms.tau_min, 0.0)
    out = np.zeros_like(t)
    for al, cf in zip((a1, a2), coefs):
        for a, b, l in zip(terms.a, terms.b, terms.l):
            c = l + al
            i0 = np.expm1(c * s) / c
            i1 = np.exp(c * s) * (s / c - 1 / c**2) + 1 / c**2
            out += cf * np.exp(-al * s) * (a * i0 + b * i1)
    return out


@pytest.fixture(scope="module")
def bolus():
    return PlasmaInput.bolus(555.0, parent_fraction_plateau=0.2)


@pytest.mark.parametrize("K1,k2,k3,k4", [(0.15, 0.30, 0.45, 0.15), (0.12, 0.10, 0.20, 0.10),
                                         (0.075, 0.3, 0.0225, 0.15), (0.5, 1.2, 0.6, 0.05)])
def test_two_tissue_matches_analytic_convolution(bolus, K1, k2, k3, k4):
    dt = 0.01
    t = np.arange(0, 90 + dt / 2, dt)
    c_nd, c_s = solve_two_tissue(t, bolus.parent(t), [K1], [k2], [k3], [k4], cp_mid=bolus.parent(t[:-1] + dt / 2))
    ref = analytic_2tcm(t, bolus.parent_plasma, K1, k2, k3, k4)
    assert np.abs(c_nd[0] + c_s[0] - ref).max() < 1e-4 * ref.max()


def test_one_tissue_and_degenerate_eigenvalues(bolus):
    """k3 = 0 (1TCM) with k2 = k4 (coinciding eigenvalues) against K1 e^{-k2 t} * Cp."""
    t = np.arange(0, 60.005, 0.01)
    c_nd, c_s = solve_two_tissue(t, bolus.parent(t), [0.15], [0.15], [0.0], [0.15])
    ref = analytic_2tcm(t, bolus.parent_plasma, 0.15, 0.15, 1e-12, 0.15)
    assert np.all(c_s == 0)
    assert np.abs(c_nd[0] - ref).max() < 1e-4 * ref.max()


def _rhs_factory(t, cp, K1, k2, k3, k4, occ, inv_cap=0.0):
    def rhs(tt, x):
        c = np.interp(tt, t, cp)
        k3t = k3 * max(0.0, 1.0 - occ(tt) - x[1] * inv_cap)
        return [K1 * c - (k2 + k3t) * x[0] + k4 * x[1], k3t * x[0] - k4 * x[1]]
    return rhs


def test_time_varying_k3_matches_solve_ivp(bolus):
    dt = 0.01
    t = np.arange(0, 90 + dt / 2, dt)
    cp = bolus.parent(t)
    rel = GammaRelease("x", onset_min=30.0, peak_min=38.0, alpha=1.0, magnitude=0.4)
    occ_mid = rel.occupancy(0.5 * (t[1:] + t[:-1]))[None, :]
    c_nd, c_s = solve_two_tissue(t, cp, [0.15], [0.3], [0.45], [0.15], occupancy_mid=occ_mid)
    sol = solve_ivp(_rhs_factory(t, cp, 0.15, 0.3, 0.45, 0.15, lambda tt: float(rel.occupancy(tt))),
                    (0, 90), [0.0, 0.0], method="DOP853", rtol=1e-10, atol=1e-8, t_eval=t[::100],
                    max_step=0.05)
    ours = (c_nd[0] + c_s[0])[::100]
    ref = sol.y.sum(axis=0)
    assert np.abs(ours - ref).max() < 1e-4 * ref.max()
    # and the release visibly lowers binding
    ctrl_nd, ctrl_s = solve_two_tissue(t, cp, [0.15], [0.3], [0.45], [0.15])
    assert (ctrl_s[0] - c_s[0]).max() > 0.05 * ctrl_s[0].max()


def test_full_competition_matches_solve_ivp(bolus):
    dt = 0.01
    t = np.arange(0, 60 + dt / 2, dt)
    cp = bolus.parent(t)
    inv_cap = 1.0 / 20000.0  # receptors 50 % filled by C_S = 10 kBq/mL: strong mass effect
    rel = GammaRelease("x", onset_min=20.0, peak_min=25.0, alpha=4.0, magnitude=0.3)
    occ_mid = rel.occupancy(0.5 * (t[1:] + t[:-1]))[None, :]
    c_nd, c_s = solve_two_tissue(t, cp, [0.15], [0.3], [0.45], [0.15], occ_mid, [inv_cap])
    sol = solve_ivp(_rhs_factory(t, cp, 0.15, 0.3, 0.45, 0.15, lambda tt: float(rel.occupancy(tt)), inv_cap),
                    (0, 60), [0.0, 0.0], method="DOP853", rtol=1e-10, atol=1e-8, t_eval=t[::100],
                    max_step=0.05)
    ref = sol.y.sum(axis=0)
    assert np.abs((c_nd[0] + c_s[0])[::100] - ref).max() < 1e-4 * ref.max()
    # mass effect is real: less binding than without it
    _, c_s_lin = solve_two_tissue(t, cp, [0.15], [0.3], [0.45], [0.15], occ_mid)
    assert c_s[0].max() < 0.8 * c_s_lin[0].max()


def test_gamma_variate_peaks_at_one_at_peak_time():
    t = np.linspace(0, 90, 90001)
    for alpha in (0.25, 1.0, 4.0):
        h = gamma_variate(t, 40.0, 47.5, alpha)
        assert gamma_variate(47.5, 40.0, 47.5, alpha) == pytest.approx(1.0, abs=1e-15)
        assert t[np.argmax(h)] == pytest.approx(47.5, abs=1e-3)
        assert h.max() == pytest.approx(1.0, abs=1e-12)
        assert np.all(h[t <= 40.0] == 0)


def test_solver_rejects_bad_rates():
    t = np.linspace(0, 1, 11)
    with pytest.raises(ValueError, match="k3"):
        solve_two_tissue(t, np.ones(11), [0.1], [0.1], [-0.1], [0.1])
    with pytest.raises(ValueError, match="k2"):
        solve_two_tissue(t, np.ones(11), [0.1], [0.0], [0.1], [0.1])
    with pytest.raises(ValueError, match="strictly increasing"):
        solve_two_tissue(t[::-1], np.ones(11), [0.1], [0.1], [0.1], [0.1])
