"""Tests of petsim.rebin: SSRB and FORE, their model terms, and FORE + 2D OSEM against fully 3D OSEM."""

import numpy as np
import pytest
from scipy import ndimage

from petsim import Grid
from petsim.emission import EmissionData
from petsim.projectors import JosephProjector
from petsim.rebin import fore, rebin_plan, sinogram_geometry, ssrb
from petsim.recon import OSEMSetup, fbp_2d, osem, reconstruct_frames
from petsim.scanner import Scanner, get_scanner


@pytest.fixture(scope="module")
def toy():
    # 10 rings, max ring difference 7: oblique enough (tan theta up to 0.12) for SSRB to blur off axis.
    scanner = Scanner("toy", n_rings=10, n_crystals_per_ring=128, inner_radius_mm=120.0, doi_mm=0.0,
                      ring_spacing_mm=4.0, crystal_size_mm=(4.0, 4.0, 20.0))
    grid = Grid((56, 56, 19), (3.0, 3.0, 2.0))  # z planes = the 19 direct + cross planes
    return grid, scanner.layout_3d(span=3, max_ring_diff=7), scanner.layout_2d()


def fwhm(profile, spacing):
    """FWHM by linear interpolation of the half-maximum crossings around the peak."""
    p = np.asarray(profile, dtype=float)
    i = int(np.argmax(p))
    half = 0.5 * p[i]
    lo = i
    while p[lo] > half:
        lo -= 1
    hi = i
    while p[hi] > half:
        hi += 1
    left = lo + (half - p[lo]) / (p[lo + 1] - p[lo])
    right = hi - 1 + (p[hi - 1] - half) / (p[hi - 1] - p[hi])
    return (right - left) * spacing


def point_data(grid, l3, x_index):
    f = np.zeros(grid.shape, np.float32)
    f[x_index, 28, 9] = 1000.0
    y = JosephProjector(grid, *l3.lor_endpoints()).forward(f)
    return EmissionData(y, np.ones_like(y), np.zeros_like(y), 1.0)


def test_fore_keeps_axial_resolution_off_axis(toy):
    """Point source 60 mm off axis: SSRB spreads it axially, FORE keeps it (FBP'd rebinned data, measured FWHM)."""
    grid, l3, l2 = toy
    results = {}
    for name, x_index in (("centre", 28), ("off", 48)):  # x = 1.5 mm and 61.5 mm
        data = point_data(grid, l3, x_index)
        for method in (fore, ssrb):
            img = fbp_2d(method(data, l3, l2), l2, grid, filter_name="ramp")
            results[name, method.__name__] = fwhm(img[x_index, 28, :], grid.voxel_size_mm[2])
    assert results["centre", "ssrb"] < 2.6 and results["centre", "fore"] < 2.6  # ~ one plane (2 mm)
    assert results["off", "ssrb"] > 4.0  # ~ 61.5 mm x 0.12 blur
    assert results["off", "fore"] < 0.6 * results["off", "ssrb"], results
    assert results["off", "fore"] < 1.3 * results["centre", "fore"], results


def test_ssrb_carries_counts_and_model_terms(toy):
    grid, l3, l2 = toy
    rng = np.random.default_rng(0)
    m = rng.uniform(0.5, 1.0, l3.shape).astype(np.float32)
    a = rng.uniform(0.0, 2.0, l3.shape).astype(np.float32)
    p = rng.poisson(5.0, l3.shape).astype(np.float32)
    d3 = EmissionData(p, m, a, 3.0, frame_start_min=5.0, frame_duration_min=2.0, decay_correction_factor=1.3)
    d2 = ssrb(d3, l3, l2)
    assert d2.shape == l2.shape
    np.testing.assert_allclose(d2.prompts.sum(dtype=np.float64), p.sum(dtype=np.float64), rtol=1e-6)
    np.testing.assert_allclose(d2.additive.sum(dtype=np.float64), a.sum(dtype=np.float64), rtol=1e-6)
    # sum over the rebinned bins of m * sqrt(1 + tan^2 theta), theta from the layout's own dz
    tan = l3.sinogram_dz_mm[:, None] / (2 * np.sqrt(l3.scanner.ring_radius_mm**2 - l3.radial_mm[None] ** 2))
    np.testing.assert_allclose(d2.multiplicative.sum(dtype=np.float64),
                               (m * np.sqrt(1 + tan**2)[:, None, :]).sum(dtype=np.float64), rtol=1e-5)
    assert (d2.scale, d2.frame_start_min, d2.frame_duration_min, d2.decay_correction_factor) == (3.0, 5.0, 2.0, 1.3)
    # each 3D sinogram lands on the plane at its axial centre
    k = int(np.flatnonzero(l3.sinogram_segment == 1)[2])
    plane = int(np.argmin(np.abs(l2.sinogram_z_mm - l3.sinogram_z_mm[k])))
    assert rebin_plan(l3, l2).ssrb_matrix[plane, k] == 1.0


def test_fore_long_cylinder_matches_direct_projection(toy):
    """For an axially uniform object, oblique = direct data (x obliqueness): FORE must return the 2D projection."""
    grid, l3, l2 = toy
    X, Y, Z = grid.coordinates_mm()
    f = np.where((X - 20) ** 2 + Y**2 < 40**2, 1000.0, 0.0) + 0 * Z
    f = f.astype(np.float32)
    y3 = JosephProjector(grid, *l3.lor_endpoints()).forward(f)
    y2 = JosephProjector(grid, *l2.lor_endpoints()).forward(f)
    d2 = fore(EmissionData(y3, np.ones_like(y3), np.zeros_like(y3), 1.0), l3, l2)
    g2 = d2.prompts / d2.multiplicative
    central = slice(6, 13)  # planes every segment reaches
    err = np.abs(g2[central] - y2[central]).max() / y2.max()
    assert err < 0.02, err


def test_fore_then_2d_osem_agrees_with_3d_osem(toy):
    """Brain-like phantom with attenuation, normalisation and additive terms: regional means within 3%."""
    grid, l3, l2 = toy
    X, Y, Z = grid.coordinates_mm()
    head = (X / 70) ** 2 + (Y / 55) ** 2 + (Z / 60) ** 2 < 1
    grey = head & ((X / 40) ** 2 + (Y / 30) ** 2 > 1)
    hot = (X - 15) ** 2 + (Y + 5) ** 2 + Z**2 < 15**2
    f = np.where(head, 400.0, 0.0) + np.where(grey, 600.0, 0.0) + np.where(hot, 1000.0, 0.0)
    f = f.astype(np.float32)
    mu = np.where(head, 0.0096, 0.0).astype(np.float32)
    P = JosephProjector(grid, *l3.lor_endpoints())
    norm = np.random.default_rng(2).uniform(0.9, 1.1, l3.shape).astype(np.float32)
    m = (norm * np.exp(-P.forward(mu))).astype(np.float32)
    trues = 1e-3 * m * P.forward(f)
    additive = (ndimage.gaussian_filter(trues, (0, 0, 10)) * 0.5 + 0.2 * trues.mean()).astype(np.float32)
    d3 = EmissionData(trues + additive, m, additive, 1e-3)
    img3 = osem(d3, OSEMSetup(grid, l3, 4), 6, progress=False)
    img2 = reconstruct_frames([d3], OSEMSetup(grid, l2, 4), 6, rebin="fore", layout_3d=l3, progress=False)[..., 0]
    img_ssrb = reconstruct_frames([d3], OSEMSetup(grid, l2, 4), 6, rebin="ssrb", layout_3d=l3, progress=False)[..., 0]
    erode = lambda mask: ndimage.binary_erosion(mask, iterations=2)  # noqa: E731
    regions = {"white": erode(head & ~grey & ~hot), "grey": erode(grey & ~hot), "hot": erode(hot)}
    for name, mask in regions.items():
        mask = mask & (np.abs(Z) < 13) & (X + Y * 0 + Z * 0 > -1e9)
        r3, r2, rs = img3[mask].mean(), img2[mask].mean(), img_ssrb[mask].mean()
        assert abs(r2 / r3 - 1) < 0.03, (name, r2, r3)
        assert abs(rs / r3 - 1) < 0.05, (name, rs, r3)


def test_geometry_matches_layout_attributes():
    """Geometry read from the LOR end points equals the layout's documented attributes (HR+ 3D, span 9)."""
    sc = get_scanner("hrplus")
    lay = sc.layout_3d(span=9, max_ring_diff=22, view_mashing=8, n_radial=64)
    g = sinogram_geometry(lay)
    np.testing.assert_allclose(g.phi_rad, lay.view_angles_rad, atol=1e-5)
    np.testing.assert_allclose(g.z_mm, lay.sinogram_z_mm, atol=1e-3)
    h = np.sqrt(sc.ring_radius_mm**2 - lay.radial_mm[lay.n_radial // 2] ** 2)
    np.testing.assert_allclose(g.delta, lay.sinogram_dz_mm / (2 * h), atol=1e-5)
    assert np.all(g.obliqueness >= 1) and g.obliqueness.max() < 1.01


def test_bad_input(toy):
    grid, l3, l2 = toy
    d3 = point_data(grid, l3, 28)
    with pytest.raises(ValueError, match="views"):
        fore(d3, l3, l3.scanner.layout_2d(view_mashing=2))
    with pytest.raises(ValueError, match="2D layout"):
        ssrb(d3, l3, l3)
    d2 = EmissionData(np.ones(l2.shape), np.ones(l2.shape), np.zeros(l2.shape), 1.0)
    with pytest.raises(ValueError, match="shape"):
        fore(d2, l3, l2)
    with pytest.raises(TypeError, match="EmissionData"):
        ssrb(d3.prompts, l3, l2)
    with pytest.raises(ValueError, match="layout_3d"):
        reconstruct_frames([d3], OSEMSetup(grid, l2, 2), 1, rebin="fore", progress=False)
    with pytest.raises(ValueError, match="rebin"):
        reconstruct_frames([d3], OSEMSetup(grid, l2, 2), 1, rebin="msrb", layout_3d=l3, progress=False)
