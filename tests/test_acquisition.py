"""Tests of petsim.acquisition against analytic results, conservation laws and statistics."""

import numpy as np
import pytest

from petsim.acquisition import (AcquisitionModel, ScanPhysics, SinogramLowPass, count_summary,
                                default_simulation_grid, live_fraction, paralysable_tau_s, resolution_fwhm_mm,
                                simulate_frames)
from petsim.acquisition.normalisation import crystal_efficiencies
from petsim.frames import FrameSchedule
from petsim.grid import Grid
from petsim.scanner import Scanner

MU_WATER = 0.096  # 1/cm
CAL = (160.0, 40.0)  # calibration cylinder (diameter, length) mm for the small scanner
R_OBJ = 60.0  # mm, radius of the test object


@pytest.fixture(scope="module")
def scanner():
    return Scanner("toy", n_rings=6, n_crystals_per_ring=192, inner_radius_mm=150.0, doi_mm=0.0,
                   ring_spacing_mm=4.0, crystal_size_mm=(4.0, 4.0, 20.0))


@pytest.fixture(scope="module")
def layout(scanner):
    return scanner.layout_3d(span=3, max_ring_diff=5, view_mashing=2)


@pytest.fixture(scope="module")
def grid():
    return Grid((88, 88, 44), (2.0, 2.0, 1.0))


@pytest.fixture(scope="module")
def images(grid):
    x, y, z = grid.coordinates_mm()
    body = ((x**2 + y**2 <= R_OBJ**2) & (np.abs(z) <= 20.0)).astype(np.float32)
    hot = (((x - 25.0) ** 2 + y**2 <= 12.0**2) & (np.abs(z) <= 20.0)).astype(np.float32)
    return body, hot


@pytest.fixture(scope="module")
def model(scanner, layout, grid, images):
    phys = ScanPhysics(calibration_cylinder_mm=CAL, psf_fwhm_mm=4.0, seed=3)
    return AcquisitionModel(scanner, layout, grid, MU_WATER * images[0], phys, progress=False)


@pytest.fixture(scope="module")
def basis(model, images):
    return model.project_basis(list(images), progress=False)


FRAMES = FrameSchedule([0.0, 1.0, 3.0], [1.0, 3.0, 6.0])
INTEGRALS = np.array([[3000.0, 4000.0, 3000.0], [2000.0, 1500.0, 600.0]])  # Bq/mL x min


def analytic_path_mm(layout, radius_mm):
    """Chord of each LOR through a centred infinite cylinder (mm), from the layout's geometry alone."""
    s = np.asarray(layout.radial_mm, float)
    h = np.sqrt(layout.scanner.ring_radius_mm**2 - s**2)
    chord = 2 * np.sqrt(np.clip(radius_mm**2 - s**2, 0, None))
    obl = np.sqrt(1 + (np.asarray(layout.sinogram_dz_mm, float)[:, None] / (2 * h[None, :])) ** 2)
    return np.broadcast_to((chord[None, :] * obl)[:, None, :], layout.shape)


def test_calibration_matches_analytic_cylinder(model, layout):
    # sum over bins of s * pattern * exp(-mu L) L for the calibration cylinder must be the set sensitivity;
    # L from analytic chords (the cylinder is longer than every LOR's axial excursion here)
    path = analytic_path_mm(layout, CAL[0] / 2)
    total = np.sum(model.detector_pattern * np.exp(-0.1 * MU_WATER * path) * path, dtype=np.float64)
    assert model.sensitivity_cps_per_bq_ml_mm * total == pytest.approx(model.physics.sensitivity_cps_per_bq_ml,
                                                                       rel=0.01)


def test_trues_rate_of_uniform_object_matches_analytic(model, layout, images):
    # activity 1 Bq/mL in the 60 mm cylinder (mu water): rate = s * sum pattern * exp(-mu L) * L (no PSF loss
    # in the totals since the PSF conserves activity, and the object is longer than the LORs' axial excursion)
    rate = model.trues_rate(images[0])
    path = analytic_path_mm(layout, R_OBJ)
    expect = model.sensitivity_cps_per_bq_ml_mm * np.sum(model.detector_pattern * np.exp(-0.1 * MU_WATER * path) * path)
    assert rate.sum(dtype=np.float64) == pytest.approx(expect, rel=0.02)


def test_trues_rate_is_the_system_model(model, images):
    """The acquisition's trues are the one system model: s * (normalisation x compression x attenuation) * P PSF f."""
    from petsim.operators import SystemModel

    A = model.system
    assert isinstance(A, SystemModel) and A.projection is model.projector and A.psf is model.psf
    assert A.scale == model.sensitivity_cps_per_bq_ml_mm and A.multiplicative is model.efficiency
    np.testing.assert_array_equal(model.efficiency, model.detector_pattern * model.attenuation)
    img = model.crop(images[1])
    want = model.projector.forward(model.psf.forward(img)) * model.efficiency
    want *= np.float32(model.sensitivity_cps_per_bq_ml_mm)
    np.testing.assert_array_equal(model.trues_rate(images[1]), want)


def test_region_basis_equals_direct_projection_and_contract(model, basis, images):
    frames = simulate_frames(model, basis, INTEGRALS, FRAMES, noise=False, progress=False)
    for f, fr in enumerate(frames):
        # the frame-mean physical activity image, projected directly with PSF and projector
        act = (INTEGRALS[0, f] * images[0] + INTEGRALS[1, f] * images[1]) / FRAMES.durations_min[f]
        direct = model.projector.forward(model.psf.forward(model.crop(act)))
        expected = fr.scale * fr.multiplicative * direct + fr.additive
        np.testing.assert_allclose(fr.prompts, expected, rtol=2e-5, atol=2e-5 * expected.max())
        assert fr.info["trues"] == pytest.approx(np.sum(fr.scale * fr.multiplicative * direct, dtype=np.float64),
                                                 rel=1e-5)


@pytest.fixture(scope="module")
def scatter_only(scanner, layout, grid, images):
    phys = ScanPhysics(calibration_cylinder_mm=CAL, psf_fwhm_mm=4.0, seed=3, randoms=False, dead_time=False)
    m = AcquisitionModel(scanner, layout, grid, MU_WATER * images[0], phys, progress=False)
    return m, m.project_basis(list(images), progress=False)


def test_scatter_fraction_tails_and_follows_activity(scatter_only, layout):
    m, b = scatter_only
    # hot off-centre source only: scatter must follow it around the views
    fr = simulate_frames(m, b, np.array([[0.0], [1000.0]]), ([0.0], [1.0]), noise=False, progress=False)[0]
    scatter = fr.additive
    trues = fr.prompts - scatter
    assert scatter.sum(dtype=np.float64) / fr.prompts.sum(dtype=np.float64) == pytest.approx(0.35, rel=1e-4)
    assert fr.info["scatter_fraction"] == pytest.approx(0.35, rel=1e-4)
    s = np.asarray(layout.radial_mm)
    # tails: outside the object (beyond 60 mm + PSF) there are no trues but there is scatter
    out = np.abs(s) > R_OBJ + 10
    assert trues[:, :, out].max() == 0
    assert scatter[:, :, out].sum() > 0.02 * scatter.sum()
    # radial centroid per view: a sinusoid for the trues; scatter must track it
    ct = (trues * s).sum(axis=(0, 2)) / trues.sum(axis=(0, 2))
    cs = (scatter * s).sum(axis=(0, 2)) / scatter.sum(axis=(0, 2))
    assert np.corrcoef(ct, cs)[0, 1] > 0.95
    # smooth once the crystal-efficiency pattern is divided out: much less radial variation than the trues
    sm, tr = scatter / m.detector_pattern, trues / m.detector_pattern
    assert np.abs(np.diff(sm, axis=2)).sum() / sm.sum() < 0.2 * np.abs(np.diff(tr, axis=2)).sum() / tr.sum()


def test_lowpass_kernel_width_and_flat_field(layout):
    lp = SinogramLowPass(layout, 60.0, 10.0, 30.0)
    flat = np.ones(layout.shape, np.float32)
    out = lp(flat)
    mid = layout.n_radial // 2
    np.testing.assert_allclose(out[:, :, mid - 5:mid + 5], 1.0, rtol=1e-3)
    # a radial line at the centre spreads with the set FWHM (measured at half maximum)
    line = np.zeros(layout.shape, np.float32)
    line[:, :, mid - 1:mid + 1] = 1.0
    prof = lp(line)[layout.n_sinograms // 2, 0]
    above = np.flatnonzero(prof >= 0.5 * prof.max())
    fwhm_mm = (above[-1] - above[0] + 1) * layout.radial_bin_mm
    assert fwhm_mm == pytest.approx(60.0, rel=0.15)


def test_randoms_from_singles_fraction_and_quadratic_scaling(model, basis):
    # one basis, the same distribution at activities 4 : 2 : 1 (frame means)
    frames = simulate_frames(model, basis[:1], np.array([[4000.0, 2000.0, 1000.0]]),
                             ([0, 1, 2], [1, 2, 3]), noise=False, progress=False)
    rf = [fr.info["random_fraction"] for fr in frames]
    assert rf[0] == pytest.approx(model.physics.randoms_fraction_peak, rel=1e-3)  # peak frame set to target
    assert rf[0] > rf[1] > rf[2]
    rate = [fr.info["randoms_cps"] for fr in frames]
    assert rate[0] / rate[1] == pytest.approx(4.0, rel=1e-6) and rate[1] / rate[2] == pytest.approx(4.0, rel=1e-6)
    # structure 2 tau S_i S_j w_ij, with singles proportional to the trues fan sum (computed here independently)
    ra, ca, rb, cb = model.layout.crystal_pairs()
    n = model.scanner.n_crystals_per_ring
    a, b = (ra * n + ca).ravel(), (rb * n + cb).ravel()
    t = basis[0].ravel().astype(np.float64)
    fan = np.bincount(a, t, minlength=model.scanner.n_rings * n) + np.bincount(b, t, minlength=model.scanner.n_rings * n)
    w = np.broadcast_to(np.asarray(model.layout.ring_pairs_per_sinogram)[:, None, None], model.shape).ravel()
    pattern = w * fan[a] * fan[b]
    fr = frames[0]
    randoms = fr.additive.ravel() - _scatter_of(model, fr).ravel()
    ok = pattern > 1e-3 * pattern.max()
    ratio = randoms[ok] / pattern[ok]
    assert ratio.std() / ratio.mean() < 1e-3


def _scatter_of(model, fr):
    from petsim.acquisition import scatter_sinogram
    trues = fr.prompts - fr.additive
    return scatter_sinogram(trues, model.detector_pattern, model.lowpass, model.physics.scatter_fraction)


def test_dead_time_paralysable_calibration(model, basis):
    tau = paralysable_tau_s(500e3)
    # 50 % losses when the observed rate is 500 kcps: input 1 Mcps (Brix et al. 1997, HR+ 3D)
    assert 1e6 * live_fraction(1e6, tau) == pytest.approx(500e3, rel=1e-12)
    assert live_fraction(1e6, tau) == pytest.approx(0.5, rel=1e-12)
    fr = simulate_frames(model, basis, INTEGRALS, FRAMES, noise=False, progress=False)
    for f in fr:
        n = f.info["trues_cps"] + f.info["scatter_cps"]
        assert f.info["live_fraction"] == pytest.approx(np.exp(-n * tau), rel=1e-9)
        np.testing.assert_allclose(f.multiplicative, model.efficiency * f.info["live_fraction"], rtol=1e-6)
        # trues counts = rate x duration x live fraction
        assert f.info["trues"] == pytest.approx(f.info["trues_cps"] * 60 * f.frame_duration_min
                                                * f.info["live_fraction"], rel=1e-5)


def test_delayed_randoms_estimate(model, basis):
    from petsim.acquisition import delayed_randoms_estimate
    fr = simulate_frames(model, basis, INTEGRALS, FRAMES, noise=False, progress=False)[0]
    randoms = fr.additive - _scatter_of(model, fr)
    # noise-free delayed counts: the fan-sum singles fit gives back the randoms
    est = delayed_randoms_estimate(model.pairs, randoms)
    np.testing.assert_allclose(est, randoms, rtol=2e-3, atol=1e-3 * randoms.max())
    # noisy delayed counts: estimate keeps the total and is far less noisy than the raw delayed counts
    rng = np.random.default_rng(5)
    delayed = rng.poisson(randoms).astype(np.float32)
    est = delayed_randoms_estimate(model.pairs, delayed)
    assert est.sum(dtype=np.float64) == pytest.approx(delayed.sum(dtype=np.float64), rel=1e-5)
    assert np.mean((est - randoms) ** 2) < 0.1 * np.mean((delayed - randoms) ** 2)
    assert abs(est.sum() / randoms.sum() - 1) < 5 / np.sqrt(randoms.sum())


def test_poisson_mean_and_variance_match_expected(model, basis):
    one = (INTEGRALS[:, :1] * 0.05, ([0.0], [1.0]))
    expected = simulate_frames(model, basis, one[0], one[1], noise=False, progress=False)[0].prompts.astype(np.float64)
    n_rep = 24
    draws = np.stack([simulate_frames(model, basis, one[0], one[1], rng=r, progress=False)[0].prompts
                      for r in range(n_rep)]).astype(np.float64)
    m, v = draws.mean(axis=0), draws.var(axis=0, ddof=1)
    sel = expected > 0.5
    assert sel.sum() > 10000
    # standardised mean difference ~ N(0, 1) per bin; variance / mean ~ 1
    z = (m[sel] - expected[sel]) / np.sqrt(expected[sel] / n_rep)
    assert abs(z.mean()) < 5 / np.sqrt(sel.sum())
    assert z.std() == pytest.approx(1.0, abs=0.03)
    assert v[sel].sum() / expected[sel].sum() == pytest.approx(1.0, abs=0.02)
    # the same statistic has power: a 5 % scale error is detected
    z_wrong = (m[sel] - 1.05 * expected[sel]) / np.sqrt(1.05 * expected[sel] / n_rep)
    assert abs(z_wrong.mean()) > 10 / np.sqrt(sel.sum())


def test_same_seed_bit_identical(model, basis):
    a = simulate_frames(model, basis, INTEGRALS, FRAMES, rng=42, progress=False)
    b = simulate_frames(model, basis, INTEGRALS, FRAMES, rng=np.random.default_rng(42), progress=False)
    c = simulate_frames(model, basis, INTEGRALS, FRAMES, rng=43, progress=False)
    for x, y, z in zip(a, b, c):
        assert np.array_equal(x.prompts, y.prompts) and np.array_equal(x.additive, y.additive)
        assert not np.array_equal(x.prompts, z.prompts)
    # crystal efficiencies come from the physics seed
    assert np.array_equal(crystal_efficiencies(4, 32, 0.05, 7), crystal_efficiencies(4, 32, 0.05, 7))


def test_crystal_efficiency_statistics():
    eff = crystal_efficiencies(32, 576, 0.05, 1)
    n = eff.size
    assert eff.min() > 0
    assert eff.mean() == pytest.approx(1.0, abs=4 * 0.05 / np.sqrt(n))
    assert eff.std() == pytest.approx(0.05, rel=4 / np.sqrt(2 * n))
    assert np.all(crystal_efficiencies(2, 8, 0.0, 1) == 1.0)


def test_frame_metadata_and_summary(model, basis):
    fr = simulate_frames(model, basis, INTEGRALS, FRAMES, noise=False, progress=False)
    lam = np.log(2) / 20.364  # C-11 half-life, min
    for f, (s, e) in zip(fr, zip(FRAMES.starts_min, FRAMES.ends_min)):
        # constant activity A: frame mean of A exp(-lam t) times the factor is A
        mean = (np.exp(-lam * s) - np.exp(-lam * e)) / (lam * (e - s))
        assert f.decay_correction_factor * mean == pytest.approx(1.0, rel=1e-10)
        assert f.scale == pytest.approx(model.sensitivity_cps_per_bq_ml_mm * 60 * (e - s))
        t, sc, r = f.info["trues"], f.info["scatter"], f.info["randoms"]
        assert f.info["nec"] == pytest.approx(t * t / (t + sc + r))
    table = count_summary(fr)
    assert "NEC" in table and len(table.splitlines()) == len(fr) + 2


def test_resolution_and_grids():
    fwhm = resolution_fwhm_mm((4.3, 4.3, 4.1), "C-11")
    assert fwhm[0] == pytest.approx(np.sqrt(4.3**2 - 0.102**2 + 0.188**2))
    assert ScanPhysics().psf_fwhm_mm == pytest.approx(fwhm)
    assert ScanPhysics(psf_fwhm_mm=None).psf_fwhm_mm is None
    recon = Grid((128, 128, 63), (2.25, 2.25, 2.425))
    fine = default_simulation_grid(recon)
    assert fine.shape == (256, 256, 126)
    np.testing.assert_allclose(fine.voxel_size_mm, (1.125, 1.125, 1.2125))
    np.testing.assert_allclose(fine.centre_mm, recon.centre_mm, atol=1e-9)
    np.testing.assert_allclose(fine.extent_mm, recon.extent_mm)


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"scatter_fraction": 1.2}, ValueError, "scatter_fraction"),
    ({"randoms_fraction_peak": -0.1}, ValueError, "randoms_fraction_peak"),
    ({"crystal_efficiency_sd": float("nan")}, ValueError, "crystal_efficiency_sd"),
    ({"psf_fwhm_mm": (1.0, 2.0)}, ValueError, "psf_fwhm_mm"),
    ({"psf_fwhm_mm": "wide"}, ValueError, "psf_fwhm_mm"),
    ({"dead_time_50pct_rate_cps": 0}, ValueError, "dead_time_50pct_rate_cps"),
    ({"noise": "yes"}, TypeError, "noise"),
])
def test_bad_physics(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ScanPhysics(**kwargs)


def test_bad_inputs(model, basis, scanner, layout, grid, images):
    with pytest.raises(ValueError, match="frame_integrals has shape"):
        simulate_frames(model, basis, INTEGRALS[:, :2], FRAMES, progress=False)
    with pytest.raises(ValueError, match="NaN"):
        simulate_frames(model, basis, np.where(INTEGRALS > 2500, np.nan, INTEGRALS), FRAMES, progress=False)
    with pytest.raises(ValueError, match="negative"):
        simulate_frames(model, basis, -INTEGRALS, FRAMES, progress=False)
    with pytest.raises(ValueError, match="basis_proj has shape"):
        simulate_frames(model, basis[:, :3], INTEGRALS, FRAMES, progress=False)
    with pytest.raises(ValueError, match="before it starts|end"):
        simulate_frames(model, basis, INTEGRALS, ([0, 2, 3], [1, 1, 4]), progress=False)
    with pytest.raises(TypeError, match="frames"):
        simulate_frames(model, basis, INTEGRALS, 3, progress=False)
    with pytest.raises(ValueError, match="NaN"):
        model.project_basis([np.full(grid.shape, np.nan)], progress=False)
    with pytest.raises(ValueError, match="shape"):
        model.project_basis([np.ones((4, 4, 4))], progress=False)
    with pytest.raises(ValueError, match="mu_per_cm"):
        AcquisitionModel(scanner, layout, grid, None, ScanPhysics(calibration_cylinder_mm=CAL), progress=False)
    with pytest.raises(ValueError, match="mu_per_cm must be >= 0"):
        AcquisitionModel(scanner, layout, grid, -images[0], ScanPhysics(calibration_cylinder_mm=CAL), progress=False)
    outside = np.zeros(grid.shape, np.float32)
    outside[0, 0, 0] = 1.0
    with pytest.raises(ValueError, match="outside the attenuation"):
        model.project_basis([outside], progress=False)
    with pytest.raises(ValueError, match="calibration cylinder"):
        AcquisitionModel(scanner, layout, grid, None, ScanPhysics(attenuation=False, calibration_cylinder_mm=(480, 40)),
                         progress=False)


def test_bit_identical_across_thread_counts(model, basis):
    import numba
    n0 = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        a = simulate_frames(model, basis, INTEGRALS, FRAMES, rng=9, progress=False)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        b = simulate_frames(model, basis, INTEGRALS, FRAMES, rng=9, progress=False)
    finally:
        numba.set_num_threads(n0)
    for x, y in zip(a, b):
        assert np.array_equal(x.prompts, y.prompts) and np.array_equal(x.additive, y.additive)


def test_cropped_projection_equals_full_grid(scanner, layout, grid, images, model):
    phys = ScanPhysics(calibration_cylinder_mm=CAL, psf_fwhm_mm=4.0, seed=3)
    full = AcquisitionModel(scanner, layout, grid, MU_WATER * images[0], phys, crop=False, progress=False)
    assert model.grid.n_voxels < 0.7 * full.grid.n_voxels
    np.testing.assert_allclose(model.attenuation, full.attenuation, rtol=1e-5)
    a, b = model.trues_rate(images[1]), full.trues_rate(images[1])
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * b.max())


def test_attenuation_matches_analytic_chords(model, layout):
    # central slab of the 60 mm water cylinder (|z| <= 20 mm): exp(-mu L) with L the analytic chord
    path = analytic_path_mm(layout, R_OBJ)
    direct = np.asarray(layout.sinogram_dz_mm) == 0
    inner = np.abs(np.asarray(layout.radial_mm)) < R_OBJ - 4
    expect = np.exp(-0.1 * MU_WATER * path)[direct][:, :, inner]
    ratio = model.attenuation[direct][:, :, inner] / expect
    # a voxelised (binary, 2 mm) cylinder: small chord errors per LOR, none on average
    assert abs(ratio.mean() - 1) < 0.003 and np.abs(ratio - 1).max() < 0.03


def test_singles_scale_reuse_for_a_subset_of_frames(model, basis):
    whole = simulate_frames(model, basis, INTEGRALS, FRAMES, noise=False, progress=False)
    scale = whole[0].info["singles_scale"]
    late = simulate_frames(model, basis, INTEGRALS[:, 2:], ([3.0], [6.0]), noise=False, progress=False,
                           singles_scale=scale)
    assert late[0].info["randoms"] == pytest.approx(whole[2].info["randoms"], rel=1e-6)
    alone = simulate_frames(model, basis, INTEGRALS[:, 2:], ([3.0], [6.0]), noise=False, progress=False)
    assert alone[0].info["random_fraction"] == pytest.approx(model.physics.randoms_fraction_peak, rel=1e-3)


@pytest.mark.slow
def test_end_to_end_noise_free_cylinder_reconstructs_to_truth(scanner, layout):
    # fine-grid data with attenuation, scatter, randoms, normalisation and dead time, reconstructed by
    # OSEM on a 2x coarser grid: the central region must come back in Bq/mL at injection time (2 %)
    recon = pytest.importorskip("petsim.recon.osem")
    rg = Grid((44, 44, 11), (4.0, 4.0, 2.0))
    g = default_simulation_grid(rg)
    x, y, z = g.coordinates_mm()
    cyl = ((x**2 + y**2 <= R_OBJ**2) & (np.abs(z) <= 11)).astype(np.float32)
    m = AcquisitionModel(scanner, layout, g, MU_WATER * cyl,
                         ScanPhysics(calibration_cylinder_mm=CAL, psf_fwhm_mm=None), progress=False)
    fr = simulate_frames(m, m.project_basis([cyl], progress=False), np.array([[2000.0]]), ([10.0], [12.0]),
                         noise=False, progress=False)[0]
    assert fr.info["random_fraction"] > 0.3 and fr.info["dead_time_fraction"] > 0.01
    img = recon.osem(fr, recon.OSEMSetup(rg, layout, 4), 20, progress=False)
    xr, yr, zr = rg.coordinates_mm()
    centre = np.broadcast_to((xr**2 + yr**2 < 40**2) & (np.abs(zr) < 4), rg.shape)
    truth = 1000.0 * fr.decay_correction_factor   # frame-mean physical 1000 Bq/mL, decay-corrected
    assert img[centre].mean() == pytest.approx(truth, rel=0.02)


def test_out_of_field_singles_raise_the_randoms_of_later_frames(model, basis, scanner, layout, grid, images):
    # In-field activity 4 : 2 : 1 while the body outside the field of view fills up 1 : 2 : 4 (an infusion).
    import dataclasses

    phi = 0.4
    body = np.array([1.0, 2.0, 4.0])
    frames_in = np.array([[4000.0, 2000.0, 1000.0]])
    sched = ([0, 1, 2], [1, 2, 3])
    plain = simulate_frames(model, basis[:1], frames_in, sched, noise=False, progress=False)
    with pytest.raises(ValueError, match="out_of_field"):
        simulate_frames(AcquisitionModel(scanner, layout, grid, MU_WATER * images[0],
                                         dataclasses.replace(model.physics, out_of_field_singles_fraction=phi),
                                         progress=False), basis[:1], frames_in, sched, noise=False, progress=False)
    out_model = AcquisitionModel(scanner, layout, grid, MU_WATER * images[0],
                                 dataclasses.replace(model.physics, out_of_field_singles_fraction=phi), progress=False)
    out = simulate_frames(out_model, basis[:1], frames_in, sched, noise=False, progress=False, out_of_field=body)
    # the peak frame keeps the published random fraction; phi of its singles come from outside the field
    assert out[0].info["random_fraction"] == pytest.approx(model.physics.randoms_fraction_peak, rel=1e-3)
    a = np.array([1.0, 0.5, 0.25])  # in-field singles relative to the peak frame
    extra = phi / (1 - phi) * body / body[0]
    for f in range(3):
        assert out[f].info["out_of_field_singles_fraction"] == pytest.approx(extra[f] / (extra[f] + a[f]), rel=1e-6)
    # later frames: more randoms than without the body, and the randoms are 2 tau (s_a + o)(s_b + o) w
    assert out[2].info["randoms_cps"] > 2 * plain[2].info["randoms_cps"]
    ra, ca, rb, cb = layout.crystal_pairs()
    n = scanner.n_crystals_per_ring
    ia, ib = (ra * n + ca).ravel(), (rb * n + cb).ravel()
    t = basis[0].ravel().astype(np.float64)
    fan = np.bincount(ia, t, minlength=scanner.n_rings * n) + np.bincount(ib, t, minlength=scanner.n_rings * n)
    w = np.broadcast_to(np.asarray(layout.ring_pairs_per_sinogram)[:, None, None], model.shape).ravel()
    fan2 = fan * a[2]
    o2 = phi / (1 - phi) * fan.sum() / fan.size * body[2] / body[0]
    pattern = w * (fan2[ia] + o2) * (fan2[ib] + o2)
    randoms = out[2].additive.ravel() - _scatter_of(out_model, out[2]).ravel()
    ok = pattern > 1e-3 * pattern.max()
    ratio = randoms[ok] / pattern[ok]
    assert ratio.std() / ratio.mean() < 1e-3
