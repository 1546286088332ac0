"""Rigid motion of images (petsim.core.rigid) and a misregistered mu-map given to the reconstruction."""

import numpy as np
import pytest

from petsim.core.rigid import rigid_transform, rotation_matrix
from petsim.grid import Grid


def test_a_point_goes_where_the_formula_says():
    grid = Grid((41, 41, 21), (2.0, 2.0, 3.0))
    img = np.zeros(grid.shape, np.float32)
    img[30, 20, 10] = 1.0  # x = +20 mm, y = 0, z = 0 (the centre is voxel 20, 20, 10)
    moved = rigid_transform(img, grid, translation_mm=(0.0, 4.0, 3.0), rotation_deg=(0.0, 0.0, 90.0))
    # R about z by 90 deg: (20, 0, 0) -> (0, 20, 0); then + (0, 4, 3) -> (0, 24, 3) mm = voxel (20, 32, 11)
    assert np.unravel_index(np.argmax(moved), grid.shape) == (20, 32, 11)
    assert moved.sum() == pytest.approx(1.0, abs=1e-6)
    assert np.array_equal(rigid_transform(img, grid), img)
    np.testing.assert_allclose(rotation_matrix((0, 0, 90)) @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    # translations by whole voxels are exact shifts
    shifted = rigid_transform(img, grid, translation_mm=(-4.0, 0.0, 0.0))
    assert shifted[28, 20, 10] == pytest.approx(1.0)


def test_misregistered_mu_map_gives_the_attenuation_of_the_moved_object():
    from petsim.acquisition import AcquisitionModel, ScanPhysics
    from petsim.scanner import Scanner

    scanner = Scanner("toy", n_rings=4, n_crystals_per_ring=192, inner_radius_mm=150.0, doi_mm=0.0,
                      ring_spacing_mm=4.0, crystal_size_mm=(4.0, 4.0, 20.0))
    layout = scanner.layout_3d(span=3, max_ring_diff=3, view_mashing=2)
    grid = Grid((80, 80, 28), (2.0, 2.0, 1.0))
    x, y, z = grid.coordinates_mm()

    def cylinder(cx):
        return 0.096 * (((x - cx) ** 2 + y**2 <= 50.0**2) & (np.abs(z) <= 12.0)).astype(np.float32)

    model = AcquisitionModel(scanner, layout, grid, cylinder(0.0),
                             ScanPhysics(calibration_cylinder_mm=(140.0, 20.0), psf_fwhm_mm=None), progress=False,
                             crop=False)
    exact = model.attenuation.copy()
    model.use_site_attenuation(cylinder(0.0))
    assert np.array_equal(model.site_attenuation, exact)  # the same map: the same factors
    model.use_site_attenuation(rigid_transform(cylinder(0.0), grid, translation_mm=(6.0, 0.0, 0.0)))
    moved = AcquisitionModel(scanner, layout, grid, cylinder(6.0),
                             ScanPhysics(calibration_cylinder_mm=(140.0, 20.0), psf_fwhm_mm=None), progress=False)
    np.testing.assert_allclose(model.site_attenuation, moved.attenuation, atol=2e-3)
    assert np.abs(model.site_attenuation - exact).max() > 0.05  # and it differs from the exact factors
    np.testing.assert_array_equal(model.site_efficiency, model.site_pattern * model.site_attenuation)
    # a cropped model refuses a map that left its box instead of cutting it silently
    cropped = AcquisitionModel(scanner, layout, grid, cylinder(0.0),
                               ScanPhysics(calibration_cylinder_mm=(140.0, 20.0), psf_fwhm_mm=None), progress=False)
    with pytest.raises(ValueError, match="crop=False"):
        cropped.use_site_attenuation(cylinder(6.0))


def test_scenario_keys_of_the_misregistration():
    from petsim.pipeline.scenario import ScenarioError, resolve

    sc = resolve({"physics": {"attenuation_correction": "misregistered", "mumap_shift_mm": [0, 5, 0]}})
    assert sc.physics.mumap_shift_mm == (0, 5, 0) and sc.physics.mumap_rotation_deg == (0.0, 0.0, 0.0)
    with pytest.raises(ScenarioError, match="mumap_shift_mm must be 3"):
        resolve({"physics": {"mumap_shift_mm": [1, 2]}})
    with pytest.raises(ScenarioError, match="out of range"):
        resolve({"physics": {"mumap_rotation_deg": [0, 0, 90]}})


def test_the_pipeline_gives_the_site_the_moved_mu_map():
    from pathlib import Path

    from petsim.core.toml import load_toml
    from petsim.pipeline.scenario import resolve
    from petsim.pipeline.simulate import acquisition_model
    from petsim.pipeline.world import World

    raw = load_toml(Path(__file__).parent / "data" / "tiny.toml")
    raw["physics"] = {**raw.get("physics", {}), "sim_oversampling": 1, "attenuation_correction": "misregistered",
                      "mumap_shift_mm": [0.0, 5.0, 0.0]}
    model = acquisition_model(World(resolve(raw)), progress=False)
    assert not np.array_equal(model.site_attenuation, model.attenuation)
    raw["physics"]["mumap_shift_mm"] = [0.0, 0.0, 0.0]
    same = acquisition_model(World(resolve(raw)), progress=False)
    assert np.array_equal(same.site_attenuation, same.attenuation)
