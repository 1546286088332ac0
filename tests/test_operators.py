"""PSF, attenuation factors and the composed system model."""

import numpy as np
import pytest
from scipy import ndimage

from petsim import Grid
from petsim.core.linear_operator import Diagonal, adjoint_mismatch
from petsim.operators import GaussianPSF, SystemModel, attenuation_factors, system_model
from petsim.projectors import JosephProjector, LayoutJoseph
from petsim.scanner import Scanner, get_scanner


def test_psf_self_adjoint_and_width():
    grid = Grid((41, 40, 21), (2.0, 2.0, 2.5))
    psf = GaussianPSF(grid, (6.0, 4.0, 5.0))
    assert adjoint_mismatch(psf) < 1e-6
    point = grid.zeros()
    point[20, 20, 10] = 1.0
    blurred = psf.forward(point)
    assert blurred.sum() == pytest.approx(1.0, rel=1e-5)      # mass kept away from the edges
    for axis, fwhm in enumerate((6.0, 4.0, 5.0)):             # second moment gives sigma = FWHM / 2.3548
        profile = blurred.sum(axis=tuple(a for a in range(3) if a != axis))
        x = grid.axis_mm(axis) - grid.axis_mm(axis)[[20, 20, 10][axis]]
        sigma = np.sqrt((profile * x**2).sum() / profile.sum())
        assert sigma == pytest.approx(fwhm / (2 * np.sqrt(2 * np.log(2))), rel=0.02)


def test_psf_edges_and_errors():
    grid = Grid((8, 8, 8), 2.0)
    assert np.array_equal(GaussianPSF(grid, 0.0).forward(np.ones(grid.shape)), np.ones(grid.shape))
    with pytest.raises(ValueError, match="fwhm_mm"):
        GaussianPSF(grid, -1.0)
    with pytest.raises(ValueError, match="fwhm_mm"):
        GaussianPSF(grid, (1.0, 2.0))
    with pytest.raises(ValueError, match="fwhm_mm"):
        GaussianPSF(grid, np.nan)


def centred_cylinder_case():
    grid = Grid((64, 64, 9), (4.0, 4.0, 4.0))
    X, Y, _ = grid.coordinates_mm(sparse=False)
    offs = (np.arange(8) + 0.5) / 8 - 0.5
    frac = sum(((X + ox * 4) ** 2 + (Y + oy * 4) ** 2 <= 100.0**2) for ox in offs for oy in offs) / 64.0
    return grid, 0.096 * frac          # water at 511 keV, 0.096 /cm (Hubbell & Seltzer, NISTIR 5632)


def test_attenuation_of_water_cylinder():
    grid, mu = centred_cylinder_case()
    s = np.linspace(-90, 90, 19)
    start = np.stack([s, np.full_like(s, -200.0), np.zeros_like(s)], -1)
    end = np.stack([s, np.full_like(s, 200.0), np.zeros_like(s)], -1)
    factors = attenuation_factors(grid, mu, start, end, unit="1/cm")
    expected = np.exp(-0.0096 * 2 * np.sqrt(100.0**2 - s**2))    # analytic: exp(-mu x chord)
    np.testing.assert_allclose(factors, expected, rtol=0.01)
    assert factors.dtype == np.float32 and factors.shape == (19,)
    np.testing.assert_allclose(attenuation_factors(grid, mu / 10, start, end, unit="1/mm"), factors, rtol=1e-6)


def test_attenuation_unit_checks():
    grid, mu = centred_cylinder_case()
    start, end = np.array([[0.0, -200.0, 0.0]]), np.array([[0.0, 200.0, 0.0]])
    with pytest.raises(ValueError, match="1/mm"):        # water given as 0.096 /mm: 10x too much attenuation
        attenuation_factors(grid, mu, start, end, unit="1/mm")
    with pytest.raises(ValueError, match="1/cm"):        # above 2 /cm
        attenuation_factors(grid, mu * 30, start, end, unit="1/cm")
    with pytest.raises(ValueError, match="1/cm"):        # 1/mm values given as 1/cm
        attenuation_factors(grid, mu / 10, start, end, unit="1/cm")
    with pytest.raises(ValueError, match="negative"):
        attenuation_factors(grid, -mu, start, end)
    with pytest.raises(ValueError, match="unit"):
        attenuation_factors(grid, mu, start, end, unit="cm")
    assert attenuation_factors(grid, np.zeros(grid.shape), start, end)[0] == 1.0


def test_system_model_composition():
    sc = Scanner("toy", n_rings=4, n_crystals_per_ring=96, inner_radius_mm=90.0, doi_mm=0.0,
                 ring_spacing_mm=4.0, crystal_size_mm=(4.0, 4.0, 10.0), radial_bin_mm=2.0, n_radial=60)
    layout = sc.layout_3d(span=3, max_ring_diff=3, view_mashing=2)
    grid = Grid((32, 32, 7), (2.0, 2.0, 2.0))
    views = layout.subset_views(4, 1)
    rng = np.random.default_rng(0)
    mult = rng.uniform(0.5, 1.0, (layout.n_sinograms, len(views), layout.n_radial))
    A = system_model(grid, layout, views=views, multiplicative=mult, psf_fwhm_mm=(4.0, 4.0, 3.0))
    assert A.in_shape == grid.shape and A.out_shape == mult.shape
    assert adjoint_mismatch(A) < 1e-5
    x = rng.uniform(0, 1, grid.shape).astype(np.float32)
    P = JosephProjector(grid, *layout.lor_endpoints(views))
    blurred = ndimage.gaussian_filter(x, np.array([4.0, 4.0, 3.0]) / 2.3548 / 2.0, mode="constant", truncate=4.0)
    manual = mult.astype(np.float32) * P.forward(blurred)
    np.testing.assert_allclose(A.forward(x), manual, rtol=1e-3, atol=1e-4 * manual.max())
    plain = system_model(grid, layout)
    assert isinstance(plain, SystemModel) and isinstance(plain.projection, LayoutJoseph)
    assert plain.out_shape == layout.shape and plain.geometric is plain.projection
    with pytest.raises(ValueError, match="multiplicative"):
        system_model(grid, layout, views=views, multiplicative=np.ones(layout.shape))
    with pytest.raises(ValueError, match="projector"):
        system_model(grid, layout, projector="fast")
    composed = Diagonal(mult) @ LayoutJoseph(grid, layout, views) @ GaussianPSF(grid, (4.0, 4.0, 3.0))
    np.testing.assert_array_equal(composed.forward(x), A.forward(x))
    # factors multiply in the order normalisation * attenuation * multiplicative, the scale last
    norm = rng.uniform(0.8, 1.2, mult.shape).astype(np.float32)
    attn = rng.uniform(0.1, 1.0, mult.shape).astype(np.float32)
    B = system_model(grid, layout, views=layout.subset(1, 4), psf_fwhm_mm=(4.0, 4.0, 3.0), normalisation=norm,
                     attenuation=attn, scale=2.5)
    want = A.geometric.forward(x) * (norm * attn)
    want *= np.float32(2.5)
    np.testing.assert_array_equal(B.forward(x), want)
    assert adjoint_mismatch(B) < 1e-5
    # a model of the whole layout cut to a subset: the same operator as one built on the subset
    full = system_model(grid, layout, psf_fwhm_mm=(4.0, 4.0, 3.0), normalisation=rng.uniform(0.5, 1, layout.shape))
    sub = layout.subset(1, 4)
    C = full.subset(sub)
    D = system_model(grid, layout, views=sub, psf_fwhm_mm=(4.0, 4.0, 3.0), normalisation=sub.take(full.multiplicative))
    np.testing.assert_array_equal(C.forward(x), D.forward(x))


def test_hrplus_system_model_subset_shapes():
    layout = get_scanner("hrplus").layout_2d(view_mashing=2, n_radial=288)
    grid = Grid((128, 128, 63), (2.25, 2.25, 2.425))
    A = system_model(grid, layout, views=layout.subset_views(16, 0))
    assert A.out_shape == (63, 9, 288)
    # a uniform cylinder of radius 100 mm: the central bin of each view sees its diameter
    X, Y, _ = grid.coordinates_mm(sparse=False)
    img = (X**2 + Y**2 <= 100.0**2).astype(np.float32)
    sino = A.forward(img)
    centre = sino[:, :, 143:145].mean(axis=2)          # bins at +-1.125 mm
    np.testing.assert_allclose(centre, 2 * np.sqrt(100.0**2 - 1.125**2), rtol=0.02)


def test_layout_attenuation_factors_match_endpoint_version():
    from petsim.operators import layout_attenuation_factors

    sc = Scanner("toy", n_rings=4, n_crystals_per_ring=96, inner_radius_mm=150.0, doi_mm=0.0,
                 ring_spacing_mm=4.0, crystal_size_mm=(4.0, 4.0, 10.0), radial_bin_mm=4.0, n_radial=60)
    layout = sc.layout_3d(span=3, max_ring_diff=3, view_mashing=4)
    grid, mu = centred_cylinder_case()
    views = layout.subset_views(3, 1)
    a = layout_attenuation_factors(grid, mu, layout, views=views)
    b = attenuation_factors(grid, mu, *layout.lor_endpoints(views))
    assert a.shape == (layout.n_sinograms, len(views), layout.n_radial)
    np.testing.assert_allclose(a, b, rtol=1e-4)
    assert a.min() < 0.2 and a.max() == 1.0
