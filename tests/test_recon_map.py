"""MAP with the relative difference prior: prior gradient, monotone objective, ML limit, smoothing."""

import numpy as np
import pytest
from scipy import ndimage

from petsim import Grid
from petsim.emission import EmissionData
from petsim.projectors import JosephProjector
from petsim.recon import OSEMSetup, map_rdp, mlem, osem, rdp_gradient, rdp_value
from petsim.scanner import Scanner


@pytest.fixture(scope="module")
def toy():
    scanner = Scanner("toy", n_rings=4, n_crystals_per_ring=96, inner_radius_mm=100.0, doi_mm=0.0,
                      ring_spacing_mm=4.0, crystal_size_mm=(4.0, 4.0, 20.0))
    grid = Grid((40, 40, 7), (3.5, 3.5, 2.0))
    layout = scanner.layout_2d()
    X, Y, Z = grid.coordinates_mm()
    f = np.where(X**2 + Y**2 < 50**2, 200.0, 0.0) + 0 * Z
    f = f.astype(np.float32)
    P = JosephProjector(grid, *layout.lor_endpoints())
    m = np.exp(-P.forward(np.where(f > 0, 0.0096, 0.0))).astype(np.float32)
    trues = 0.05 * m * P.forward(f)
    add = np.full_like(trues, 0.3 * trues.mean())
    y = np.random.default_rng(5).poisson(trues + add).astype(np.float32)
    return grid, layout, EmissionData(y, m, add, 0.05), f


def test_rdp_gradient_matches_finite_differences():
    grid = Grid((6, 5, 4), (2.0, 2.0, 3.0))
    x = np.random.default_rng(0).uniform(1, 5, grid.shape)
    g = rdp_gradient(x, grid, gamma=2.0, eps=0.1)
    for idx in [(0, 0, 0), (2, 3, 1), (5, 4, 3), (3, 2, 2)]:
        h = 1e-6
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        fd = (rdp_value(xp, grid, 2.0, 0.1) - rdp_value(xm, grid, 2.0, 0.1)) / (2 * h)
        assert abs(fd - g[idx]) < 1e-5 * max(1.0, abs(fd))
    assert rdp_value(np.full(grid.shape, 3.0), grid) == 0.0


def test_map_objective_monotone_and_smoother(toy):
    grid, layout, data, f = toy
    setup = OSEMSetup(grid, layout, 4)
    x0 = osem(data, setup, 3, progress=False)  # MAP started from a short OSEM, as usual
    img0, phi0 = map_rdp(data, setup, 6, beta=0.0, x0=x0, record_objective=True, progress=False)
    img, phi = map_rdp(data, setup, 6, beta=1.0, x0=x0, record_objective=True, progress=False)
    assert np.all(np.diff(phi) >= 0) and np.all(np.diff(phi0) >= 0)
    core = ndimage.binary_erosion(f > 0, iterations=3)
    core[:, :, [0, -1]] = False
    assert img[core].std() < 0.5 * img0[core].std()
    assert abs(img[core].mean() / 200.0 - 1) < 0.03


def test_map_beta_zero_is_mlem(toy):
    """With beta = 0 the preconditioned step is exactly the MLEM step (full step always accepted)."""
    grid, layout, data, _ = toy
    ref = mlem(data, OSEMSetup(grid, layout, 1), 5, progress=False)
    img = map_rdp(data, OSEMSetup(grid, layout, 1), 5, beta=0.0, progress=False)
    inside = ref > 0.05 * ref.max()
    np.testing.assert_allclose(img[inside], ref[inside], rtol=1e-3)


def test_map_bad_input(toy):
    grid, layout, data, _ = toy
    setup = OSEMSetup(grid, layout, 2)
    with pytest.raises(ValueError, match="beta"):
        map_rdp(data, setup, 1, beta=-1.0)
    with pytest.raises(ValueError, match="gamma"):
        map_rdp(data, setup, 1, beta=1.0, gamma=np.nan)
