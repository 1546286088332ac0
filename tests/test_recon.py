"""Tests of petsim.recon: OSEM/MLEM in the ordinary-Poisson form, FBP, dynamic reconstruction.

A small user-defined scanner keeps everything fast; the data are made in the
tests from the projector (E[y] = scale * m * P f + a), independently of
petsim.acquisition.
"""

import warnings

import numpy as np
import pytest
from scipy import ndimage

from petsim import Grid
from petsim.emission import EmissionData
from petsim.projectors import JosephProjector
from petsim.recon import OSEMSetup, fbp_2d, mlem, osem, reconstruct_frames
from petsim.recon.fbp import ramp_filter
from petsim.scanner import Scanner

MU_WATER_PER_MM = 0.0096  # 0.096 /cm, water at 511 keV


@pytest.fixture(scope="module")
def toy():
    scanner = Scanner("toy", n_rings=8, n_crystals_per_ring=128, inner_radius_mm=120.0, doi_mm=0.0,
                      ring_spacing_mm=4.0, crystal_size_mm=(4.0, 4.0, 20.0))
    grid = Grid((56, 56, 15), (3.0, 3.0, 2.0))  # z planes coincide with the 15 direct + cross planes
    return scanner, grid, scanner.layout_2d(), scanner.layout_3d(span=3, max_ring_diff=5)


def cylinder(grid, radius_mm, value=1.0):
    X, Y, Z = grid.coordinates_mm()
    return np.where((X**2 + Y**2 < radius_mm**2) & (Z + 0 * X < 1e9), value, 0.0).astype(np.float32)


def make_data(grid, layout, f, mu, scale=2e-3, rng=None, noise=False, decay=1.0, live=1.0, norm_spread=0.05):
    """Ordinary-Poisson data with attenuation, random-ish normalisation, smooth scatter and flat randoms."""
    P = JosephProjector(grid, *layout.lor_endpoints())
    gen = np.random.default_rng(1)
    norm = gen.uniform(1 - norm_spread, 1 + norm_spread, layout.shape).astype(np.float32)
    mult = (norm * np.exp(-P.forward(mu)) * live).astype(np.float32)
    trues = scale * mult * P.forward(f)
    scatter = ndimage.gaussian_filter(trues, (0, 0, 8)) * 0.5  # scatter fraction ~ 1/3 of prompts - randoms
    randoms = np.full_like(trues, 0.2 * trues.mean())
    additive = (scatter + randoms).astype(np.float32)
    expected = trues + additive
    prompts = rng.poisson(expected).astype(np.float32) if noise else expected
    return EmissionData(prompts, mult, additive, scale, decay_correction_factor=decay)


def test_uniform_cylinder_3d_quantitative(toy):
    """Noise-free cylinder with attenuation, scatter and randoms: true Bq/mL within 2% centrally."""
    _, grid, _, l3 = toy
    f = cylinder(grid, 60.0, 1000.0)
    data = make_data(grid, l3, f, cylinder(grid, 60.0, MU_WATER_PER_MM), decay=1.7)
    setup = OSEMSetup(grid, l3, 4, multiplicative=data.multiplicative)
    img = osem(data, setup, 10, progress=False)
    central = img[20:36, 20:36, 4:11]  # within 24 mm of the axis, away from the axial ends
    assert abs(central.mean() / (1000.0 * 1.7) - 1) < 0.02
    assert img.min() >= 0  # positivity kept


def test_hot_spheres_recovery_trend(toy):
    """Recovery of hot spheres grows with iterations and with sphere size."""
    _, grid, l2, _ = toy
    X, Y, Z = grid.coordinates_mm()
    f = cylinder(grid, 70.0, 100.0)
    spheres = [((-35.0, 0.0), 6.0), ((0.0, 35.0), 10.0), ((30.0, -25.0), 16.0)]  # (centre xy, radius) mm
    masks = []
    for (cx, cy), r in spheres:
        m = (X - cx) ** 2 + (Y - cy) ** 2 + Z**2 < r**2
        f[m] = 400.0
        masks.append(((X - cx) ** 2 + (Y - cy) ** 2 + Z**2 < (0.5 * r) ** 2) & (Z**2 < 1))
    # The data carry a 7 mm FWHM resolution loss the reconstruction does not model, as a scanner's do.
    sigma_vox = 7.0 / 2.3548 / np.asarray(grid.voxel_size_mm)
    data = make_data(grid, l2, ndimage.gaussian_filter(f, sigma_vox), cylinder(grid, 70.0, MU_WATER_PER_MM))
    setup = OSEMSetup(grid, l2, 4)
    rc = []
    x = None
    for n in (1, 1, 2, 4):  # 1, 2, 4, 8 iterations, continuing from the previous image
        x = osem(data, setup, n, x0=x, progress=False)
        rc.append([x[m].mean() / 400.0 for m in masks])
    rc = np.array(rc)  # (iterations, spheres)
    assert np.all(np.diff(rc, axis=0) > 0), rc  # more iterations -> more recovery
    assert np.all(np.diff(rc[-1]) > 0), rc  # bigger sphere -> more recovery
    assert 0.8 < rc[-1, -1] < 1.05 and rc[-1, 0] < 0.9


def naive_mlem(P, y, m, a, scale, n_iter, x0):
    """Textbook MLEM written out in float64, independently of petsim.recon."""
    x = x0.astype(np.float64)
    sens = scale * P.adjoint(m).astype(np.float64)
    for _ in range(n_iter):
        ybar = scale * m * P.forward(x.astype(np.float32)).astype(np.float64) + a
        x = x * scale * P.adjoint((m * y / ybar).astype(np.float32)) / np.where(sens > 0, sens, 1)
    return x


def test_mlem_monotone_and_osem_one_subset_is_mlem(toy):
    _, grid, l2, _ = toy
    f = cylinder(grid, 60.0, 500.0)
    f[20:26, 20:30, :] = 1500.0
    data = make_data(grid, l2, f, cylinder(grid, 60.0, MU_WATER_PER_MM), rng=np.random.default_rng(7), noise=True)
    setup = OSEMSetup(grid, l2, 1)
    img, ll = mlem(data, setup, 12, record_loglik=True, progress=False)
    assert len(ll) == 13
    assert np.all(np.diff(ll) >= -1e-9 * abs(ll[-1])), np.diff(ll)
    img_osem = osem(data, setup, 12, progress=False)
    np.testing.assert_array_equal(img, img_osem)
    P = JosephProjector(grid, *l2.lor_endpoints())
    x0 = osem(data, setup, 0, progress=False)  # the default start image
    ref = naive_mlem(P, data.prompts.astype(np.float64), data.multiplicative.astype(np.float64),
                     data.additive.astype(np.float64), data.scale, 12, x0)
    inside = ref > 0.05 * ref.max()
    np.testing.assert_allclose(img[inside], ref[inside], rtol=2e-3)


def test_osem_loglik_recorded_and_increasing_early(toy):
    _, grid, l2, _ = toy
    data = make_data(grid, l2, cylinder(grid, 50.0, 800.0), cylinder(grid, 50.0, MU_WATER_PER_MM))
    _, ll = osem(data, OSEMSetup(grid, l2, 8), 3, record_loglik=True, progress=False)
    assert len(ll) == 4 and ll[1] > ll[0] and ll[2] > ll[1]


def test_sensitivities_reused_for_scaled_multiplicative(toy):
    """A frame whose factors differ by a live fraction reuses the cached sensitivities, rescaled."""
    _, grid, l2, _ = toy
    f, mu = cylinder(grid, 50.0, 800.0), cylinder(grid, 50.0, MU_WATER_PER_MM)
    ref = make_data(grid, l2, f, mu)
    frame = make_data(grid, l2, f, mu, live=0.8)
    shared = OSEMSetup(grid, l2, 4, multiplicative=ref.multiplicative)
    cached = shared.sensitivities
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no recomputation warning
        img_shared = osem(frame, shared, 3, progress=False)
    assert shared.sensitivities is cached
    img_fresh = osem(frame, OSEMSetup(grid, l2, 4), 3, progress=False)  # setup made from this frame itself
    np.testing.assert_allclose(img_shared, img_fresh, rtol=1e-4, atol=1e-3)
    other = make_data(grid, l2, f, mu, norm_spread=0.2)
    with pytest.warns(UserWarning, match="recomputing"):
        osem(other, shared, 1, progress=False)


def test_reconstruct_frames_bit_identical_and_decay_corrected(toy):
    _, grid, l2, _ = toy
    f, mu = cylinder(grid, 50.0, 800.0), cylinder(grid, 50.0, MU_WATER_PER_MM)
    rng = np.random.default_rng(3)
    frames = [make_data(grid, l2, f * s, mu, rng=rng, noise=True, decay=d) for s, d in ((1.0, 1.1), (0.5, 2.0))]
    setup = OSEMSetup(grid, l2, 4)
    a = reconstruct_frames(frames, setup, 2, post_filter_fwhm_mm=5.0, progress=False)
    b = reconstruct_frames(frames, setup, 2, post_filter_fwhm_mm=5.0, progress=False)
    assert a.shape == grid.shape + (2,) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    single = osem(frames[1], setup, 2, post_filter_fwhm_mm=5.0, progress=False)
    np.testing.assert_array_equal(a[..., 1], single)
    c = a[20:36, 20:36, 4:11].mean(axis=(0, 1, 2))
    np.testing.assert_allclose(c, [800 * 1.1, 400 * 2.0], rtol=0.05)


def test_fbp_analytic_cylinder(toy):
    """FBP of the analytic projections of a uniform cylinder (chord length x value) gives the value."""
    _, grid, l2, _ = toy
    radius, value = 60.0, 1000.0
    s = l2.radial_mm
    chord = 2 * np.sqrt(np.clip(radius**2 - s**2, 0, None))
    sino = np.broadcast_to(value * chord, l2.shape).astype(np.float32)
    img = fbp_2d(sino, l2, grid, filter_name="ramp")
    central = img[18:38, 18:38, :]
    assert abs(central.mean() / value - 1) < 0.01
    assert np.abs(img[51:53, 27:29]).max() < 0.02 * value  # 74 mm from the axis: outside the object ~ 0
    smooth = fbp_2d(sino, l2, grid, filter_name="hann", cutoff=0.5, post_filter_fwhm_mm=4.0)
    assert abs(smooth[18:38, 18:38, 3:-3].mean() / value - 1) < 0.02  # away from the grid's axial ends


def test_fbp_of_emission_data_precorrects(toy):
    _, grid, l2, _ = toy
    data = make_data(grid, l2, cylinder(grid, 60.0, 1000.0), cylinder(grid, 60.0, MU_WATER_PER_MM), decay=1.5)
    img = fbp_2d(data, l2, grid, filter_name="ramp")
    assert abs(img[20:36, 20:36, :].mean() / 1500.0 - 1) < 0.02


def test_ramp_filter_shape():
    h = ramp_filter(64, 2.0)
    nu = np.abs(np.fft.fftfreq(h.size, 2.0))
    mid = (nu > 0.02) & (nu < 0.2)
    np.testing.assert_allclose(h[mid], nu[mid], rtol=0.05)  # ~ |nu| away from DC and Nyquist
    assert h[0] > 0  # band-limited kernel: small positive DC, not 0
    with pytest.raises(ValueError, match="filter_name"):
        ramp_filter(64, 2.0, "butterworth")
    with pytest.raises(ValueError, match="cutoff"):
        ramp_filter(64, 2.0, "hann", cutoff=0)


def test_bad_input(toy):
    _, grid, l2, l3 = toy
    data = make_data(grid, l2, cylinder(grid, 50.0, 800.0), cylinder(grid, 50.0, MU_WATER_PER_MM))
    setup = OSEMSetup(grid, l2, 4)
    p = data.prompts.copy()
    p[0, 0, 0] = -1
    with pytest.raises(ValueError, match="negative"):
        EmissionData(p, data.multiplicative, data.additive, data.scale)
    p[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        EmissionData(p, data.multiplicative, data.additive, data.scale)
    with pytest.raises(ValueError, match="shape"):
        osem(data, OSEMSetup(grid, l3, 4), 1, progress=False)
    # zero sensitivity where there is activity: prompts in bins the model gives zero
    m = data.multiplicative.copy()
    a = data.additive.copy()
    m[3, :, 30:34] = 0
    a[3, :, 30:34] = 0
    with pytest.raises(ValueError, match="zero sensitivity"):
        osem(EmissionData(data.prompts, m, a, data.scale), setup, 1, progress=False)
    big = Grid((10, 10, 15), (30.0, 30.0, 2.0))  # its corners lie outside the detector ring
    big_setup = OSEMSetup(big, l2, 2)
    big_data = EmissionData(np.ones(l2.shape), np.ones(l2.shape), np.zeros(l2.shape), 1.0)
    with pytest.raises(ValueError, match="zero sensitivity"):
        osem(big_data, big_setup, 1, x0=np.ones(big.shape), progress=False)
    with pytest.raises(ValueError, match="x0"):
        osem(data, setup, 1, x0=-cylinder(grid, 10.0), progress=False)
    with pytest.raises(ValueError, match="n_subsets"):
        OSEMSetup(grid, l2, 0)
    with pytest.raises(ValueError, match="n_subsets=1"):
        mlem(data, setup, 1)
    with pytest.raises(ValueError, match="n_iter"):
        osem(data, setup, -1)
    with pytest.raises(TypeError, match="EmissionData"):
        osem(data.prompts, setup, 1)
    with pytest.raises(ValueError, match="post_filter"):
        osem(data, setup, 1, post_filter_fwhm_mm=-2.0, progress=False)
    with pytest.raises(ValueError, match="2D layout"):
        fbp_2d(np.zeros(l3.shape), l3, grid)


def test_poisson_likelihood_is_the_one_model_of_osem_and_map(toy):
    """PoissonLikelihood: ybar = scale * m * (A x) + a per subset, log-likelihood, EM numerator and gradient."""
    from petsim.recon import PoissonLikelihood, poisson_loglik

    _, grid, l2, _ = toy
    f = cylinder(grid, 60.0, 100.0)
    data = make_data(grid, l2, f, cylinder(grid, 60.0, MU_WATER_PER_MM), rng=np.random.default_rng(3), noise=True)
    setup = OSEMSetup(grid, l2, 4)
    lik = setup.likelihood(data)
    assert isinstance(lik, PoissonLikelihood) and lik.n_subsets == 4 and lik.scale == data.scale
    x = (0.9 * f).astype(np.float32)
    total = 0.0
    for s, (op, sub) in enumerate(zip(setup.operators, setup.subsets)):
        m, a, y = sub.take(data.multiplicative), sub.take(data.additive), sub.take(data.prompts)
        want = np.float32(data.scale) * m * op.forward(x) + a
        ybar = lik.expected(s, x)
        np.testing.assert_array_equal(ybar, want)
        total += poisson_loglik(y, want)
        ratio = np.divide(y, want, out=np.zeros_like(want), where=want > 0)
        np.testing.assert_array_equal(lik.ratio_backprojection(s, ybar),
                                      op.adjoint(np.float32(data.scale) * m * ratio))
    assert lik(x) == total
    # the gradient (float64 likelihood, as MAP uses) against a finite difference along a direction
    lik64 = setup.likelihood(data, dtype=np.float64)
    x64 = x.astype(np.float64)
    grad = lik64.gradient([lik64.expected(s, x64) for s in range(4)])
    direction = np.where(f > 0, 1.0, 0.0)
    h = 1e-2
    fd = (lik64(x64 + h * direction) - lik64(x64 - h * direction)) / (2 * h)
    assert np.sum(grad * direction) == pytest.approx(fd, rel=1e-3)
