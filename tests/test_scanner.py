"""Scanner presets and sinogram layouts (counts checked against STIR's conventions, geometry against formulas)."""

import numpy as np
import pytest

from petsim import Grid
from petsim.scanner import Scanner, SinogramLayout, available_scanners, get_scanner


def test_hrplus_preset():
    sc = get_scanner("hrplus")
    # STIR Scanner.cxx (E962); Brix et al., J Nucl Med 1997;38:1614
    assert (sc.n_rings, sc.n_crystals_per_ring) == (32, 576)
    assert sc.ring_radius_mm == pytest.approx(419.0)
    assert sc.ring_spacing_mm == pytest.approx(4.85)
    assert sc.crystal_size_mm == (4.05, 4.39, 30.0)
    assert 2 * sc.inner_radius_mm == pytest.approx(824.0)          # ~82.4 cm ring diameter
    assert sc.axial_fov_mm == pytest.approx(155.2)                 # 15.5 cm axial FOV
    z = sc.ring_z_mm
    assert z.shape == (32,) and z.mean() == pytest.approx(0.0) and np.allclose(np.diff(z), 4.85)
    assert get_scanner("HR+") == sc
    assert "ge_discovery_mi" in available_scanners()
    dmi = get_scanner("ge_discovery_mi")
    assert dmi.ring_radius_mm == pytest.approx(380.5) and dmi.n_rings == 36


def test_unknown_scanner_and_bad_parameters():
    with pytest.raises(ValueError, match="unknown scanner"):
        get_scanner("nope")
    with pytest.raises(ValueError, match="n_crystals_per_ring"):
        Scanner("x", n_rings=2, n_crystals_per_ring=63, inner_radius_mm=100.0, doi_mm=0.0,
                ring_spacing_mm=4.0, crystal_size_mm=4.0)
    with pytest.raises(ValueError, match="ring_spacing_mm"):
        Scanner("x", n_rings=2, n_crystals_per_ring=64, inner_radius_mm=100.0, doi_mm=0.0,
                ring_spacing_mm=-4.0, crystal_size_mm=4.0)
    with pytest.raises(ValueError, match="n_radial"):
        Scanner("x", n_rings=2, n_crystals_per_ring=64, inner_radius_mm=100.0, doi_mm=0.0,
                ring_spacing_mm=4.0, crystal_size_mm=4.0, radial_bin_mm=2.0, n_radial=200)


def test_user_cylinder_defaults():
    sc = Scanner("mine", n_rings=10, n_crystals_per_ring=400, inner_radius_mm=300.0, doi_mm=5.0,
                 ring_spacing_mm=4.0, crystal_size_mm=(4.0, 4.0, 20.0))
    assert sc.radial_bin_mm == pytest.approx(np.pi * 305.0 / 400)
    assert sc.n_radial * sc.radial_bin_mm < 2 * sc.ring_radius_mm
    layout = sc.layout_3d(span=3)
    assert layout.n_sinograms == sum(s.n_axial for s in layout.segments)


def test_hrplus_span9_segments():
    """Span 9, MRD 22: segments 0, -1, +1, -2, +2 with 63, 53, 53, 35, 35 axial positions (STIR convention)."""
    layout = get_scanner("hrplus").layout_3d(span=9, max_ring_diff=22, view_mashing=2, n_radial=288)
    assert layout.shape == (239, 144, 288) and layout.n_bins == 239 * 144 * 288
    segs = [(s.number, s.min_ring_diff, s.max_ring_diff, s.n_axial) for s in layout.segments]
    assert segs == [(0, -4, 4, 63), (-1, -13, -5, 53), (1, 5, 13, 53), (-2, -22, -14, 35), (2, 14, 22, 35)]
    # every ring pair with |d| <= 22 lands in exactly one sinogram: 32^2 - 2 * (1 + ... + 9) = 934
    assert layout.ring_pairs_per_sinogram.sum() == 934
    assert (layout.ring_pair_sinogram >= 0).sum() == 934
    counts = np.bincount(layout.ring_pair_sinogram[layout.ring_pair_sinogram >= 0], minlength=239)
    np.testing.assert_array_equal(counts, layout.ring_pairs_per_sinogram)
    # segment 0 of span 9 combines 5 ring pairs on even ring sums, 4 on odd ones (away from the ends)
    assert list(layout.ring_pairs_per_sinogram[28:32]) == [5, 4, 5, 4]
    seg1 = layout.segments[2]
    assert np.allclose(layout.sinogram_dz_mm[seg1.sinograms], 9 * 4.85)
    assert np.allclose(layout.sinogram_dz_mm[layout.segments[1].sinograms], -9 * 4.85)
    z = layout.sinogram_z_mm[seg1.sinograms]
    assert np.allclose(np.diff(z), 4.85 / 2)
    assert z[0] == pytest.approx(layout.scanner.ring_z_mm[0] + 5 * 4.85 / 2)
    assert layout.radial_bin_mm == 2.25 and layout.radial_mm.mean() == pytest.approx(0.0)
    assert np.all(np.diff(layout.view_angles_rad) > 0) and 0 <= layout.view_angles_rad.min()
    assert layout.view_angles_rad.max() < np.pi


def test_2d_layouts_match_recon_grid():
    sc = get_scanner("hrplus")
    layout = sc.layout_2d(view_mashing=2, n_radial=288, cross_planes=True)
    assert layout.shape == (63, 144, 288)
    grid = Grid((128, 128, 63), (2.25, 2.25, 2.425))
    np.testing.assert_allclose(layout.sinogram_z_mm, grid.axis_mm(2), atol=1e-9)
    assert np.all(layout.sinogram_dz_mm == 0)
    assert list(layout.ring_pairs_per_sinogram[:4]) == [1, 2, 1, 2]
    direct = sc.layout_2d(view_mashing=2, n_radial=288, cross_planes=False)
    assert direct.shape == (32, 144, 288)
    np.testing.assert_allclose(direct.sinogram_z_mm, sc.ring_z_mm)


@pytest.mark.parametrize("kind", ["2d", "3d"])
def test_lor_endpoints_geometry(kind):
    sc = get_scanner("hrplus")
    layout = sc.layout_2d(view_mashing=4) if kind == "2d" else sc.layout_3d(span=9, max_ring_diff=22, view_mashing=4)
    views = layout.subset_views(8, 3)
    start, end = layout.lor_endpoints(views)
    assert start.dtype == np.float32 and start.shape == (layout.n_sinograms, len(views), layout.n_radial, 3)
    # on the detector cylinder
    np.testing.assert_allclose(np.hypot(start[..., 0], start[..., 1]), sc.ring_radius_mm, rtol=1e-5)
    np.testing.assert_allclose(np.hypot(end[..., 0], end[..., 1]), sc.ring_radius_mm, rtol=1e-5)
    # signed distance of the LOR from the axis along (cos phi, sin phi) is the radial offset
    phi = layout.view_angles_rad[views]
    mid = 0.5 * (start + end)
    s = mid[..., 0] * np.cos(phi)[:, None] + mid[..., 1] * np.sin(phi)[:, None]
    np.testing.assert_allclose(s, np.broadcast_to(layout.radial_mm, s.shape), atol=1e-3)
    # LOR direction is perpendicular to the view's normal
    d = end - start
    dot = d[..., 0] * np.cos(phi)[:, None] + d[..., 1] * np.sin(phi)[:, None]
    assert np.abs(dot).max() < 1e-2
    np.testing.assert_allclose(mid[..., 2], layout.sinogram_z_mm[:, None, None] * np.ones(s.shape), atol=1e-4)
    np.testing.assert_allclose(d[..., 2], layout.sinogram_dz_mm[:, None, None] * np.ones(s.shape), atol=1e-4)
    # all views at once equals the views stacked
    full_start, _ = layout.lor_endpoints()
    np.testing.assert_array_equal(full_start[:, views], start)


def test_subsets_partition_views():
    layout = get_scanner("hrplus").layout_2d(view_mashing=2)
    subsets = [layout.subset_views(16, k) for k in range(16)]
    assert all(len(v) == 9 for v in subsets)
    np.testing.assert_array_equal(np.sort(np.concatenate(subsets)), np.arange(144))
    with pytest.raises(ValueError, match="subset"):
        layout.subset_views(16, 16)
    with pytest.raises(ValueError, match="n_subsets"):
        layout.subset_views(0, 0)
    with pytest.raises(ValueError, match="views"):
        layout.lor_endpoints([144])


def test_layout_hands_out_subsets_and_owns_its_geometry():
    from petsim.scanner import interleaved_subsets
    from petsim.scanner.sinogram_geometry import derive_sinogram_geometry, sinogram_geometry

    layout = get_scanner("hrplus").layout_2d(view_mashing=2)
    subs = layout.subsets(16)
    assert [s.index for s in subs] == list(range(16)) and all(s.shape == (63, 9, 288) for s in subs)
    for s in subs:
        np.testing.assert_array_equal(s.views, layout.subset_views(16, s.index))
    sino = np.random.default_rng(0).uniform(size=layout.shape).astype(np.float32)
    part = subs[3].take(sino)
    assert part.flags.c_contiguous and part.shape == subs[3].shape
    np.testing.assert_array_equal(part, sino[:, subs[3].views, :])
    # a subset stands in for its views wherever views are taken
    np.testing.assert_array_equal(layout.lor_endpoints(subs[3])[0], layout.lor_endpoints(subs[3].views)[0])
    generic = interleaved_subsets(layout.shape, 16)
    assert all(np.array_equal(g.views, s.views) and g.shape == s.shape for g, s in zip(generic, subs))
    with pytest.raises(ValueError, match="subset"):
        layout.subset(16, 16)
    # the geometry is the layout's own, computed once, the same as derived from its end points
    g = layout.geometry
    assert layout.geometry is g and sinogram_geometry(layout) is g
    d = derive_sinogram_geometry(layout)
    for name in ("phi_rad", "radial_mm", "z_mm", "delta", "obliqueness"):
        np.testing.assert_array_equal(getattr(g, name), getattr(d, name))
    np.testing.assert_allclose(g.phi_rad, layout.view_angles_rad, atol=1e-7)
    np.testing.assert_allclose(g.z_mm, layout.sinogram_z_mm, atol=1e-4)


def test_crystal_pairs_are_nearest_crystals():
    sc = get_scanner("hrplus")
    layout = sc.layout_3d(span=9, max_ring_diff=22, view_mashing=2)
    views = np.array([0, 37, 100])
    ring_a, crystal_a, ring_b, crystal_b = layout.crystal_pairs(views)
    start, end = layout.lor_endpoints(views)
    pitch = 2 * np.pi / sc.n_crystals_per_ring
    for crystal, pts in ((crystal_a, start), (crystal_b, end)):
        ang = np.arctan2(pts[..., 1], pts[..., 0])
        diff = np.angle(np.exp(1j * (ang - sc.crystal_angles_rad[crystal])))
        assert np.abs(diff).max() <= 0.5 * pitch + 1e-6
    # ring pairs belong to the bin's sinogram
    np.testing.assert_array_equal(layout.ring_pair_sinogram[ring_a, ring_b],
                                  np.broadcast_to(np.arange(layout.n_sinograms)[:, None, None], ring_a.shape))


def test_layout_bad_parameters():
    sc = get_scanner("hrplus")
    with pytest.raises(ValueError, match="span"):
        sc.layout_3d(span=4)
    with pytest.raises(ValueError, match="max_ring_diff"):
        sc.layout_3d(span=9, max_ring_diff=40)
    with pytest.raises(ValueError, match="view_mashing"):
        sc.layout_3d(view_mashing=5)
    with pytest.raises(ValueError, match="radial bins"):
        sc.layout_2d(n_radial=2000)
    assert isinstance(sc.layout_3d(span=1, max_ring_diff=0), SinogramLayout)
    assert sc.layout_3d(span=1, max_ring_diff=0).n_sinograms == 32
    assert sc.layout_3d(span=1).n_sinograms == 32 * 32
