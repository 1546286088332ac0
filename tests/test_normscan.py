"""Tests of petsim.acquisition.normscan: normalisation from a simulated normalisation scan.

References are independent of the module: the projector's line integrals of a
rasterised cylinder, the true efficiencies, the Poisson statistics of repeated
draws and the Cramer-Rao bound computed densely here.
"""

import numpy as np
import pytest

from petsim.acquisition.model import cylinder_fraction
from petsim.acquisition.normalisation import crystal_efficiencies
from petsim.acquisition.normscan import (estimate_crystal_efficiencies, estimated_bin_efficiency, fit_fan_sums,
                                         identifiable_efficiencies, norm_scan_mask, norm_scan_model,
                                         predicted_efficiency_sd, simulate_norm_scan)
from petsim.acquisition.randoms import crystal_pairs_of
from petsim.grid import Grid
from petsim.scanner import Scanner

DIAM = 120.0  # mm: fills most of the toy's 160 mm radial FOV, as a 20 cm cylinder does on a clinical scanner


@pytest.fixture(scope="module")
def scanner():
    return Scanner("toy", n_rings=4, n_crystals_per_ring=96, inner_radius_mm=100.0, doi_mm=0.0,
                   ring_spacing_mm=4.0, crystal_size_mm=(4.0, 4.0, 20.0))


@pytest.fixture(scope="module")
def layout(scanner):
    return scanner.layout_3d(span=3, max_ring_diff=3, view_mashing=1)


@pytest.fixture(scope="module")
def pairs(scanner, layout):
    return crystal_pairs_of(scanner, layout)


@pytest.fixture(scope="module")
def eff(scanner):
    return crystal_efficiencies(scanner.n_rings, scanner.n_crystals_per_ring, 0.05, 7)


def _truth(eff):
    e = np.asarray(eff, float).ravel()
    return e / e.mean()


def test_model_matches_projected_cylinder(layout):
    # analytic chords (x attenuation x compression) against the Joseph projector's line integrals of a
    # rasterised cylinder: a short one (10 mm, shorter than the 16 mm axial FOV, so oblique chords are
    # clipped) and one longer than the FOV (60 mm; the grid's 40 mm holds every LOR's axial reach)
    from petsim.operators import system_model

    for length in (10.0, 60.0):
        grid = Grid((68, 68, 40), (2.0, 2.0, 1.0))
        cyl = cylinder_fraction(grid, DIAM, length, supersample=8)
        path = system_model(grid, layout).forward(cyl).astype(np.float64)
        g = norm_scan_model(layout, DIAM, length, mu_per_cm=0.0).astype(np.float64)
        w = layout.ring_pairs_per_sinogram[:, None, None]
        inside = g / w > 20.0  # chords well inside the cylinder (edges are voxelised)
        assert np.median(np.abs(path[inside] / (g / w)[inside] - 1)) < 0.01
        assert np.sum(path) == pytest.approx(np.sum(g / w), rel=0.01)
    # attenuation: exp(-mu L) with water mu 0.096 /cm
    g0 = norm_scan_model(layout, DIAM, mu_per_cm=0.0).astype(np.float64)
    g1 = norm_scan_model(layout, DIAM).astype(np.float64)
    ok = g0 > 0
    w = layout.ring_pairs_per_sinogram[:, None, None] * np.ones(layout.shape)
    np.testing.assert_allclose(g1[ok], g0[ok] * np.exp(-0.0096 * g0[ok] / w[ok]), rtol=1e-5)


def test_simulate_norm_scan_totals_and_reproducible(scanner, layout, pairs, eff):
    a = simulate_norm_scan(scanner, layout, eff, counts=2e6, rng=3, diameter_mm=DIAM)
    b = simulate_norm_scan(scanner, layout, eff, counts=2e6, rng=3, diameter_mm=DIAM)
    assert a.expected.shape == layout.shape and a.measured.dtype == np.float32
    assert float(a.expected.sum(dtype=np.float64)) == pytest.approx(2e6, rel=1e-5)
    np.testing.assert_array_equal(a.measured, b.measured)
    assert np.all(a.measured == np.round(a.measured))
    assert abs(a.measured.sum() - 2e6) < 5 * np.sqrt(2e6)
    # expected = c * model * eps_a eps_b
    e = np.asarray(eff, float).ravel()
    ok = a.model.ravel() > 0
    ratio = a.expected.ravel()[ok] / (a.model.ravel() * e[pairs.a] * e[pairs.b])[ok]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-5)
    assert np.all(a.expected.ravel()[~ok] == 0)


def test_invalid_inputs(scanner, layout, pairs, eff):
    with pytest.raises(ValueError, match="source"):
        simulate_norm_scan(scanner, layout, eff, 1e6, 0, source="rod")
    with pytest.raises(ValueError, match="counts"):
        simulate_norm_scan(scanner, layout, eff, 0, 0)
    with pytest.raises(ValueError, match="values"):
        simulate_norm_scan(scanner, layout, eff[:2], 1e6, 0)
    with pytest.raises(ValueError, match="radial field of view"):
        norm_scan_model(layout, diameter_mm=500.0)
    scan = simulate_norm_scan(scanner, layout, eff, counts=1e2, rng=0, diameter_mm=DIAM)
    with pytest.raises(ValueError, match="too few counts"):
        estimate_crystal_efficiencies(scan.measured, scan.model, pairs)
    with pytest.raises(ValueError, match="bins"):
        estimate_crystal_efficiencies(scan.measured[:2], scan.model, pairs)


@pytest.mark.parametrize("mashing", [1, 2])
def test_noise_free_recovers_efficiencies(scanner, eff, mashing):
    # mashing 2: each bin's representative pair has a + b = 0 mod 4, so the odd crystals form a bipartite
    # graph (1 mod 4 <-> 3 mod 4) whose A*c, B/c mode no sinogram can see; compare in the balanced gauge,
    # and the bin efficiencies (what the reconstruction uses) with no gauge at all
    layout = scanner.layout_3d(span=3, max_ring_diff=3, view_mashing=mashing)
    pairs = crystal_pairs_of(scanner, layout)
    scan = simulate_norm_scan(scanner, layout, eff, counts=1e7, rng=0, diameter_mm=DIAM)
    est = estimate_crystal_efficiencies(scan.expected, scan.model, pairs)
    assert est.mean() == pytest.approx(1.0, abs=1e-12)
    mask = norm_scan_mask(scan.model)
    truth = identifiable_efficiencies(eff, pairs, mask)
    assert np.max(np.abs(est / truth - 1)) < 1e-6
    if mashing == 1:
        assert np.max(np.abs(est / _truth(eff) - 1)) < 1e-6
    bins = estimated_bin_efficiency(est, pairs).astype(np.float64)
    true_bins = estimated_bin_efficiency(_truth(eff), pairs).astype(np.float64)
    r = bins / true_bins
    assert np.max(np.abs(r / r.mean() - 1)) < 1e-4  # all bins, not only the masked ones
    # estimated_bin_efficiency is the model's detector pattern: crystal product x compression weight
    e = _truth(eff)
    np.testing.assert_allclose(true_bins, (e[pairs.a] * e[pairs.b] * pairs.w).reshape(layout.shape), rtol=1e-6)


def _errors(scanner, layout, pairs, eff, counts, n_draws, seed0=100):
    truth = _truth(eff)
    out = []
    for k in range(n_draws):
        scan = simulate_norm_scan(scanner, layout, eff, counts=counts, rng=seed0 + k, diameter_mm=DIAM)
        out.append(estimate_crystal_efficiencies(scan.measured, scan.model, pairs) / truth - 1)
    return np.array(out), scan


def test_noisy_error_matches_count_statistics(scanner, layout, pairs, eff):
    # Prediction: F_a (expected fan sum of crystal a over the source bins) is Poisson and proportional to
    # eps_a, so the relative SD of eps_a is 1/sqrt(F_a) (NOT 1/(2 sqrt F_a)). Exactly: the CRLB from the
    # Fisher matrix of log eps, diag(F) + C (C_ab expected counts of the bins joining a and b), projected
    # to mean 1 -- computed here densely, independently of the module's predictor.
    n_draws = 40
    err, scan = _errors(scanner, layout, pairs, eff, 1e6, n_draws)
    simple = predicted_efficiency_sd(scan.expected, pairs, model=scan.model)
    mask = norm_scan_mask(scan.model).ravel()
    yb = np.where(mask, scan.expected.ravel().astype(np.float64), 0.0)
    n = pairs.n_crystals
    fan = np.bincount(pairs.a, yb, minlength=n) + np.bincount(pairs.b, yb, minlength=n)
    np.testing.assert_allclose(simple, 1 / np.sqrt(fan), rtol=1e-6)
    fisher = np.diag(fan)
    np.add.at(fisher, (pairs.a, pairs.b), yb)
    np.add.at(fisher, (pairs.b, pairs.a), yb)
    p = np.eye(n) - 1.0 / n
    crlb = np.sqrt(np.diag(p @ np.linalg.inv(fisher) @ p.T))
    np.testing.assert_allclose(predicted_efficiency_sd(scan.expected, pairs, model=scan.model, exact=True),
                               crlb, rtol=1e-6)
    measured_sd = np.sqrt(np.mean(err**2))
    for pred in (np.sqrt(np.mean(simple**2)), np.sqrt(np.mean(crlb**2))):
        assert measured_sd == pytest.approx(pred, rel=0.2)
    # per crystal, too (pooled over crystals, ratio of SDs): within 10 %
    assert np.sqrt(np.mean(err.var(axis=0) / crlb**2)) == pytest.approx(1.0, rel=0.1)
    # no bias: each crystal's mean error over the draws is within its standard error
    z = err.mean(axis=0) / (crlb / np.sqrt(n_draws))
    assert np.sqrt(np.mean(z**2)) < 1.2
    assert np.max(np.abs(z)) < 5.0
    # the estimate beats the bin by bin normalisation (each bin's counts / model) by far
    assert measured_sd < 0.1 * np.median(1 / np.sqrt(scan.expected.ravel()[mask]))


def test_error_falls_as_inverse_sqrt_counts(scanner, layout, pairs, eff):
    low, _ = _errors(scanner, layout, pairs, eff, 1e6, 8, seed0=500)
    high, _ = _errors(scanner, layout, pairs, eff, 1e8, 8, seed0=600)
    ratio = np.sqrt(np.mean(low**2)) / np.sqrt(np.mean(high**2))
    assert ratio == pytest.approx(10.0, rel=0.1)


def test_fit_fan_sums_generalises_singles_from_fan_sums(pairs):
    # with G = the compression-weight matrix, the fan-sum fit is the randoms' singles fit
    s_true = np.random.default_rng(4).gamma(50.0, 1 / 50.0, size=pairs.n_crystals)
    d = pairs.fan_sum(pairs.pair_product(s_true))
    s_fit = fit_fan_sums(d, pairs.matrix)
    s_old = pairs.singles_from_fan_sums(d, n_iter=200)
    np.testing.assert_allclose(s_fit, s_true, rtol=1e-5)
    np.testing.assert_allclose(s_fit, s_old, rtol=1e-4)


def test_model_mismatch_of_a_projected_source_is_small(scanner, layout, pairs, eff):
    # data from the projector's line integrals of a rasterised cylinder, estimate with the analytic model:
    # a site's drawing of its source is never exact; the error floor stays far below 1 %
    scan = simulate_norm_scan(scanner, layout, eff, counts=1e7, rng=0, diameter_mm=DIAM, line_integrals="projector")
    est = estimate_crystal_efficiencies(scan.expected, scan.model, pairs)
    err = est / _truth(eff) - 1
    assert np.sqrt(np.mean(err**2)) < 2e-3
    assert 1e-5 < np.sqrt(np.mean(err**2))  # it is a different model, not the analytic one again
    with pytest.raises(ValueError, match="line_integrals"):
        simulate_norm_scan(scanner, layout, eff, 1e6, 0, line_integrals="exact")
