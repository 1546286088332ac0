"""The stored scan keeps what a scanner writes and gives back the simulation's frames bit for bit."""

import numpy as np
import pytest

from petsim.acquisition import AcquisitionModel, ScanPhysics, simulate_frames
from petsim.frames import FrameSchedule
from petsim.grid import Grid
from petsim.io.interfile import read_interfile_sinogram
from petsim.pipeline.sinostore import ScanWriter, StoredScan, write_scan_factors
from petsim.scanner import Scanner


@pytest.fixture(scope="module")
def setup():
    scanner = Scanner("toy", n_rings=6, n_crystals_per_ring=192, inner_radius_mm=150.0, doi_mm=0.0,
                      ring_spacing_mm=4.0, crystal_size_mm=(4.0, 4.0, 20.0))
    layout = scanner.layout_3d(span=3, max_ring_diff=5, view_mashing=2)
    grid = Grid((88, 88, 44), (2.0, 2.0, 1.0))
    x, y, z = grid.coordinates_mm()
    body = ((x**2 + y**2 <= 60.0**2) & (np.abs(z) <= 20.0)).astype(np.float32)
    hot = (((x - 25.0) ** 2 + y**2 <= 12.0**2) & (np.abs(z) <= 20.0)).astype(np.float32)
    model = AcquisitionModel(scanner, layout, grid, 0.096 * body, ScanPhysics(calibration_cylinder_mm=(160.0, 40.0),
                             psf_fwhm_mm=4.0, seed=3), progress=False)
    basis = model.project_basis([body, hot], progress=False)
    return scanner, layout, model, basis


FRAMES = FrameSchedule([0.0, 1.0, 3.0, 6.0], [1.0, 3.0, 6.0, 16.0])
INTEGRALS = np.array([[0.0, 4000.0, 3000.0, 9000.0], [0.0, 1500.0, 600.0, 900.0]])  # Bq/mL x min


@pytest.mark.parametrize("noise", [True, False])
def test_stored_frames_equal_the_simulated_ones_bit_for_bit(setup, tmp_path, noise):
    scanner, layout, model, basis = setup
    frames = simulate_frames(model, basis, INTEGRALS, FRAMES, rng=7, noise=noise, progress=False)
    write_scan_factors(tmp_path, scanner, layout, model)
    writer = ScanWriter(tmp_path, "release", scanner, layout, model.physics)
    for fr in frames:
        writer.add(fr)
    writer.close()
    stored = StoredScan(tmp_path, "release", scanner, layout)
    assert len(stored) == len(frames)
    for a, b in zip(frames, stored):
        for name in ("prompts", "multiplicative", "additive"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert (a.scale, a.frame_start_min, a.frame_duration_min, a.decay_correction_factor) == \
               (b.scale, b.frame_start_min, b.frame_duration_min, b.decay_correction_factor)
    # what is on disk: one factor file each per session, the prompts per frame, no per-frame model sinograms
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "normalisation.hs" in names and "attenuation.hs" in names
    assert not [n for n in names if n.endswith("_model.npz")]
    terms_bytes = (tmp_path / "release_additive.npz").stat().st_size
    # a small toy sinogram: its coarse scatter grid is relatively large; on the HR+ it is about 5 % of a frame
    assert terms_bytes < 0.3 * len(frames) * frames[0].prompts.size * 4
    if noise:  # counts: the smallest integer type that holds them
        for f, fr in enumerate(frames):
            n_bytes = 1 if fr.prompts.max() < 256 else 2
            assert (tmp_path / f"release_frame-{f:02d}_prompts.s").stat().st_size == n_bytes * fr.prompts.size


def test_counts_below_256_are_stored_in_one_byte_and_read_back_exactly(tmp_path):
    from petsim.io.interfile import write_interfile_sinogram

    rng = np.random.default_rng(0)
    for top, n_bytes in ((255, 1), (256, 2), (65535, 2)):
        sino = rng.integers(0, top + 1, size=(3, 4, 5)).astype(np.float32)
        sino.flat[0] = top
        path = write_interfile_sinogram(tmp_path / f"s{top}.hs", sino, np.zeros(3, int), {0: (0, 0)},
                                        n_rings=3, n_detectors_per_ring=8, ring_radius_mm=100.0,
                                        ring_spacing_mm=4.0, radial_bin_mm=2.0)
        back, _ = read_interfile_sinogram(path)
        assert np.array_equal(back, sino)
        assert path.with_suffix(".s").stat().st_size == n_bytes * sino.size
        assert f"!number of bytes per pixel := {n_bytes}" in path.read_text()


def test_a_measured_normalisation_reaches_the_reconstruction_and_the_store(setup, tmp_path):
    """With a site's normalisation, the data keep the true efficiencies and the terms carry the site's."""
    from petsim.acquisition.normscan import estimate_crystal_efficiencies, estimated_bin_efficiency, simulate_norm_scan

    scanner, layout, _, _ = setup
    grid = Grid((88, 88, 44), (2.0, 2.0, 1.0))
    x, y, z = grid.coordinates_mm()
    body = ((x**2 + y**2 <= 60.0**2) & (np.abs(z) <= 20.0)).astype(np.float32)
    model = AcquisitionModel(scanner, layout, grid, 0.096 * body, ScanPhysics(calibration_cylinder_mm=(160.0, 40.0),
                             psf_fwhm_mm=4.0, seed=3), progress=False)
    basis = model.project_basis([body], progress=False)
    exact = simulate_frames(model, basis, INTEGRALS[:1], FRAMES, rng=7, progress=False)
    scan = simulate_norm_scan(scanner, layout, model.crystal_efficiency, 1e7, np.random.default_rng(1), diameter_mm=160.0)
    site = estimated_bin_efficiency(estimate_crystal_efficiencies(scan.measured, scan.model, model.pairs), model.pairs)
    model.use_site_normalisation(site)
    measured = simulate_frames(model, basis, INTEGRALS[:1], FRAMES, rng=7, progress=False)
    err = site[model.detector_pattern > 0] / model.detector_pattern[model.detector_pattern > 0]
    assert 1e-4 < np.std(err) < 0.05  # an estimate: close, not exact
    for a, b in zip(exact, measured):
        assert np.array_equal(a.prompts, b.prompts)  # the data are made with the true efficiencies
        assert np.array_equal(b.multiplicative, model.site_efficiency * np.float32(b.info["live_fraction"]))
    write_scan_factors(tmp_path, scanner, layout, model)
    writer = ScanWriter(tmp_path, "release", scanner, layout, model.physics)
    for fr in measured:
        writer.add(fr)
    writer.close()
    for a, b in zip(measured, StoredScan(tmp_path, "release", scanner, layout)):
        for name in ("prompts", "multiplicative", "additive"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
