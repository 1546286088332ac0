"""Projectors: adjoint identity, analytic chord lengths, Joseph vs Siddon, radon, bad input."""

import numpy as np
import pytest

from petsim import Grid
from petsim.core.linear_operator import adjoint_mismatch
from petsim.projectors import JosephProjector, LayoutProjector, SiddonProjector, get_projector
from petsim.scanner import Scanner

PROJECTORS = [JosephProjector, SiddonProjector]


def random_lors(n, centre_spread, half_length, rng, axis_aligned=True):
    """LORs with random directions (both senses) through random points; optionally add axis-aligned ones."""
    d = rng.normal(size=(n, 3))
    if axis_aligned:  # rays parallel to each axis and to each coordinate plane, entering from every side
        k = n // 8
        for i, ax in enumerate((0, 1, 2)):
            d[i * k:(i + 1) * k] = 0.0
            d[i * k:(i + 1) * k, ax] = rng.choice([-1.0, 1.0], k)
        d[3 * k:4 * k, 2] = 0.0
        d[4 * k:5 * k, 0] = 0.0
    d /= np.linalg.norm(d, axis=1)[:, None]
    c = rng.uniform(-centre_spread, centre_spread, (n, 3))
    return (c - half_length * d).astype(np.float32), (c + half_length * d).astype(np.float32)


def toy_scanner():
    return Scanner("toy", n_rings=6, n_crystals_per_ring=64, inner_radius_mm=60.0, doi_mm=0.0,
                   ring_spacing_mm=4.0, crystal_size_mm=(5.0, 4.0, 10.0), radial_bin_mm=2.0, n_radial=40)


# ---- adjoint identity --------------------------------------------------------------------------

@pytest.mark.parametrize("cls", PROJECTORS)
@pytest.mark.parametrize("shape, vox", [((16, 16, 8), (2.0, 2.0, 2.5)), ((17, 15, 9), (2.2, 1.9, 3.0))])
def test_adjoint_identity_random_lors(cls, shape, vox):
    grid = Grid(shape, vox)
    start, end = random_lors(3000, 12.0, 60.0, np.random.default_rng(1))
    assert adjoint_mismatch(cls(grid, start, end), rng=2) < 1e-5


@pytest.mark.parametrize("projector", ["joseph", "siddon"])
@pytest.mark.parametrize("kind", ["2d", "3d"])
def test_adjoint_identity_layouts(projector, kind):
    sc = toy_scanner()
    layout = sc.layout_2d() if kind == "2d" else sc.layout_3d(span=3, max_ring_diff=4)
    grid = Grid((21, 20, 2 * sc.n_rings - 1), (2.5, 2.5, 2.0))
    P = get_projector(projector)(grid, layout, views=layout.subset(1, 4))
    assert adjoint_mismatch(P, rng=3) < 1e-5
    cls = SiddonProjector if projector == "siddon" else JosephProjector
    Q = cls(grid, *layout.lor_endpoints(layout.subset_views(4, 1)))
    assert adjoint_mismatch(Q, rng=4) < 1e-5


def test_layout_joseph_matches_endpoint_projector():
    """petsim's layout Joseph gives the line integrals of the end-point Joseph projector of the same LORs."""
    sc = toy_scanner()
    layout = sc.layout_3d(span=3, max_ring_diff=5, view_mashing=2)
    grid = Grid((24, 24, 11), (2.5, 2.5, 2.0))
    # a smooth image: a ray along a voxel boundary may count either neighbour, which only matters for noise
    x, y, z = grid.coordinates_mm()
    img = (np.exp(-((x - 4.0) ** 2 + y**2) / 200.0 - z**2 / 50.0) + 0.5 * np.exp(-((x + 8.0) ** 2 + (y - 6.0) ** 2)
                                                                                / 60.0)).astype(np.float32)
    views = layout.subset_views(3, 2)
    ends = layout.lor_endpoints(views)
    # Joseph: one interpolation per plane of the dominant transaxial axis; the same integrals as the
    # ray-by-ray Joseph except where a view lies at exactly 45 degrees (either axis is then dominant)
    c = get_projector("joseph")(grid, layout, views).forward(img)
    d = JosephProjector(grid, *ends).forward(img)
    assert c.shape == d.shape == (layout.n_sinograms, len(views), layout.n_radial)
    angle = np.rad2deg(np.asarray(layout.view_angles_rad)[np.asarray(views)])
    tie = np.isclose(np.abs(np.cos(np.deg2rad(angle))), np.abs(np.sin(np.deg2rad(angle))))
    np.testing.assert_allclose(c[:, ~tie], d[:, ~tie], rtol=1e-4, atol=1e-4 * d.max())
    np.testing.assert_allclose(c[:, tie], d[:, tie], rtol=0.05, atol=0.01 * d.max())


def test_projector_registry():
    from petsim.projectors import LayoutJoseph, available_projectors

    sc = toy_scanner()
    layout = sc.layout_2d()
    grid = Grid((21, 20, 2 * sc.n_rings - 1), (2.5, 2.5, 2.0))
    img = np.random.default_rng(0).uniform(0, 1, grid.shape).astype(np.float32)
    sub = layout.subset(2, 4)
    assert available_projectors() == ("joseph", "siddon")  # one layout Joseph, and the Siddon reference
    a = get_projector("siddon")(grid, layout, sub).forward(img)
    np.testing.assert_array_equal(a, LayoutProjector(grid, layout, sub.views).forward(img))
    b = get_projector("joseph")(grid, layout, sub, num_threads=1).forward(img)
    np.testing.assert_array_equal(b, LayoutJoseph(grid, layout, sub.views).forward(img))
    with pytest.raises(ValueError, match="projector must be one of"):
        get_projector("fast")


def test_flat_and_sinogram_shapes_agree():
    grid = Grid((12, 12, 6), 2.0)
    start, end = random_lors(240, 6.0, 40.0, np.random.default_rng(5))
    img = np.random.default_rng(6).uniform(0, 1, grid.shape)
    flat = JosephProjector(grid, start, end).forward(img)
    shaped = JosephProjector(grid, start.reshape(4, 6, 10, 3), end.reshape(4, 6, 10, 3)).forward(img)
    np.testing.assert_array_equal(flat, shaped.ravel())


def test_results_independent_of_thread_count():
    grid = Grid((20, 20, 10), 2.0)
    start, end = random_lors(5000, 10.0, 50.0, np.random.default_rng(7))
    rng = np.random.default_rng(8)
    img, vals = rng.uniform(0, 1, grid.shape), rng.uniform(0, 1, 5000)
    one, two = (JosephProjector(grid, start, end, num_threads=n) for n in (1, 2))
    np.testing.assert_array_equal(one.forward(img), two.forward(img))
    np.testing.assert_array_equal(one.adjoint(vals), two.adjoint(vals))


# ---- analytic line integrals -------------------------------------------------------------------

def ellipsoid_fraction(grid, centre, axes, sub=4):
    """Partial-volume fraction of each voxel inside the ellipsoid (sub^3 point samples per voxel)."""
    frac = np.zeros(grid.shape, np.float64)
    X, Y, Z = grid.coordinates_mm()
    offsets = ((np.arange(sub) + 0.5) / sub - 0.5)
    vs = grid.voxel_size_mm
    for ox in offsets:
        for oy in offsets:
            for oz in offsets:
                frac += (((X + ox * vs[0] - centre[0]) / axes[0]) ** 2 + ((Y + oy * vs[1] - centre[1]) / axes[1]) ** 2
                         + ((Z + oz * vs[2] - centre[2]) / axes[2]) ** 2) <= 1.0
    return frac / sub**3


def ellipsoid_chords(start, end, centre, axes):
    """Analytic chord length (mm), the closest normalised approach depth, and the longest chord in that direction."""
    start, end = start.astype(float), end.astype(float)
    length = np.linalg.norm(end - start, axis=-1)
    p, q = (start - centre) / axes, (end - start) / axes
    a, b, c = (q * q).sum(-1), 2 * (p * q).sum(-1), (p * p).sum(-1) - 1
    disc = b * b - 4 * a * c
    chord = np.where(disc > 0, np.sqrt(np.clip(disc, 0, None)) / a * length, 0.0)
    rho = np.sqrt(np.clip(c + 1 - b * b / (4 * a), 0, None))   # 0 through the centre, 1 tangent
    return chord, rho, 2 * length / np.sqrt(a)


@pytest.fixture(scope="module")
def ellipsoid_case():
    grid = Grid((64, 64, 56), 1.5)
    centre, axes = np.array([3.0, -2.0, 1.5]), np.array([40.0, 32.0, 30.0])
    rng = np.random.default_rng(11)
    start, end = random_lors(3000, 35.0, 150.0, rng, axis_aligned=False)
    start += centre.astype(np.float32)
    end += centre.astype(np.float32)
    return grid, ellipsoid_fraction(grid, centre, axes), start, end, ellipsoid_chords(start, end, centre, axes)


@pytest.mark.parametrize("cls", PROJECTORS)
def test_ellipsoid_chord_lengths(cls, ellipsoid_case):
    """Uniform ellipsoid (voxelised with partial-volume fractions) against the analytic chord.

    For LORs through the inner half (closest approach below half the
    normalised radius, chords > 25 voxels) the error relative to the chord is
    below 1% for Joseph and 1.5% for Siddon (whose piecewise-constant model sees
    the staircase of the voxelised surface). Grazing LORs are dominated by the
    voxelisation of the object itself, not by the projector: every LOR with a
    chord longer than four voxels is still within 5% of the object's extent.
    """
    grid, image, start, end, (chord, rho, extent) = ellipsoid_case
    values = cls(grid, start, end).forward(image)
    long = chord > 4 * 1.5
    assert long.sum() > 1500
    assert np.max(np.abs(values[long] - chord[long]) / extent[long]) < 0.05
    inner = long & (rho < 0.5)
    tol = 0.01 if cls is JosephProjector else 0.015
    assert np.max(np.abs(values[inner] - chord[inner]) / chord[inner]) < tol


@pytest.mark.parametrize("cls", PROJECTORS)
def test_cylinder_chord_lengths(cls):
    """Uniform cylinder along z (radius 30 mm, caps on voxel boundaries): oblique LORs through its side."""
    grid = Grid((48, 48, 32), (1.5, 1.5, 2.0))
    radius, half_len = 30.0, 24.0
    X, Y, Z = grid.coordinates_mm()
    sub = 8
    offs = ((np.arange(sub) + 0.5) / sub - 0.5) * 1.5
    area = sum(((X + ox) ** 2 + (Y + oy) ** 2 <= radius**2).astype(float) for ox in offs for oy in offs) / sub**2
    image = area * (np.abs(Z) < half_len)
    rng = np.random.default_rng(12)
    n = 2000
    phi = rng.uniform(0, 2 * np.pi, n)
    tilt = rng.uniform(-0.25, 0.25, n)                   # polar tilt: oblique 3D LORs
    d = np.stack([np.cos(phi), np.sin(phi), np.tan(tilt)], -1)
    d /= np.linalg.norm(d, axis=1)[:, None]
    s = rng.uniform(-25, 25, n)
    mid = np.stack([-s * np.sin(phi), s * np.cos(phi), rng.uniform(-8, 8, n)], -1)
    start, end = mid - 100 * d, mid + 100 * d
    # analytic: chord with the infinite cylinder, then clipped by the caps
    a = d[:, 0] ** 2 + d[:, 1] ** 2
    b = 2 * (start[:, 0] * d[:, 0] + start[:, 1] * d[:, 1])
    c = start[:, 0] ** 2 + start[:, 1] ** 2 - radius**2
    disc = np.sqrt(np.clip(b * b - 4 * a * c, 0, None))
    t0, t1 = (-b - disc) / (2 * a), (-b + disc) / (2 * a)
    z0, z1 = start[:, 2] + t0 * d[:, 2], start[:, 2] + t1 * d[:, 2]
    assert np.all(np.abs(z0) < half_len) and np.all(np.abs(z1) < half_len)
    chord = t1 - t0
    values = cls(grid, start.astype(np.float32), end.astype(np.float32)).forward(image)
    long = chord > 4 * 1.5
    assert np.max(np.abs(values[long] - chord[long]) / (2 * radius)) < 0.05
    inner = np.abs(s) < 0.5 * radius
    tol = 0.01 if cls is JosephProjector else 0.015
    assert np.max(np.abs(values[inner] - chord[inner]) / chord[inner]) < tol


def test_box_chords_siddon_exact():
    """A uniform image is a box: Siddon's line integral equals the exact slab-intersection length."""
    grid = Grid((13, 10, 7), (2.0, 3.0, 1.5))
    start, end = random_lors(2000, 15.0, 60.0, np.random.default_rng(13))
    lo = np.array(grid.origin_mm) - 0.5 * np.array(grid.voxel_size_mm)
    hi = lo + np.array(grid.extent_mm)
    d = end.astype(float) - start.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ta, tb = (lo - start) / d, (hi - start) / d
    tmin = np.nanmax(np.where(d != 0, np.minimum(ta, tb), -np.inf), axis=1).clip(0, 1)
    tmax = np.nanmin(np.where(d != 0, np.maximum(ta, tb), np.inf), axis=1).clip(0, 1)
    inside = np.all((d != 0) | ((start > lo) & (start < hi)), axis=1)
    exact = np.where(inside, np.clip(tmax - tmin, 0, None), 0) * np.linalg.norm(d, axis=1)
    values = SiddonProjector(grid, start, end).forward(np.ones(grid.shape))
    np.testing.assert_allclose(values, exact, rtol=1e-4, atol=1e-3)


def test_joseph_against_siddon_smooth_image():
    """Two independent projectors agree within 1% on an image that varies slowly at the voxel scale.

    (Siddon sees a piecewise-constant image, Joseph a bilinear one: they differ to first
    order in voxel size x gradient, so the image must be smooth on the voxel scale.)
    """
    grid = Grid((40, 40, 24), (2.0, 2.0, 2.5))
    X, Y, Z = grid.coordinates_mm()

    def window(u, half, taper=10.0):   # 1 inside, smooth fall to 0 at the grid faces (no box-edge effects)
        return np.sin(0.5 * np.pi * np.clip((half - np.abs(u)) / taper, 0, 1)) ** 2

    image = (1 + 0.5 * np.exp(-((X - 5) ** 2 + (Y + 3) ** 2 + Z**2) / (2 * 15.0**2)))
    image = (image * window(X, 40) * window(Y, 40) * window(Z, 30)).astype(np.float32)
    start, end = random_lors(3000, 15.0, 100.0, np.random.default_rng(14), axis_aligned=False)
    j = JosephProjector(grid, start, end).forward(image)
    s = SiddonProjector(grid, start, end).forward(image)
    big = s > 0.2 * s.max()        # leave out LORs that only clip a corner of the grid
    assert big.sum() > 2500
    assert np.max(np.abs(j[big] - s[big]) / s[big]) < 0.01


def test_radon_shepp_logan():
    """2D parallel beam against skimage.transform.radon on the Shepp-Logan phantom."""
    from skimage.data import shepp_logan_phantom
    from skimage.transform import radon, rescale

    img = np.pad(rescale(shepp_logan_phantom(), 0.25, anti_aliasing=True), ((0, 1), (0, 1)))  # 101 x 101: odd
    n = img.shape[0]
    theta = np.arange(0.0, 180.0, 2.0)
    ref = radon(img, theta=theta, circle=True)            # (radial, angle)
    grid = Grid((n, n, 1), 1.0)
    volume = img.T[:, ::-1, None]                         # skimage (row, col) -> (x = col, y = -row)
    s = np.arange(n) - (n - 1) / 2
    phi = np.deg2rad(theta)[:, None]
    c, sn, zero = np.cos(phi), np.sin(phi), np.zeros((len(theta), n))
    start = np.stack([s * c + 200 * sn, s * sn - 200 * c, zero], -1)
    end = np.stack([s * c - 200 * sn, s * sn + 200 * c, zero], -1)
    ours = JosephProjector(grid, start, end).forward(volume).T
    assert np.corrcoef(ours.ravel(), ref.ravel())[0, 1] > 0.999


# ---- bad input ---------------------------------------------------------------------------------

def test_bad_inputs():
    grid = Grid((8, 8, 4), 2.0)
    start, end = random_lors(10, 2.0, 30.0, np.random.default_rng(0))
    P = JosephProjector(grid, start, end)
    with pytest.raises(ValueError, match="shape"):
        P.forward(np.ones((8, 8, 5)))
    with pytest.raises(ValueError, match="NaN"):
        P.forward(np.full(grid.shape, np.nan))
    with pytest.raises(TypeError, match="dtype"):
        P.forward(np.ones(grid.shape, dtype=complex))
    with pytest.raises(ValueError, match="shape"):
        P.adjoint(np.ones(11))
    with pytest.raises(ValueError, match="NaN"):
        P.adjoint(np.full(10, np.inf))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        JosephProjector(grid, start[:, :2], end[:, :2])
    with pytest.raises(ValueError, match="same shape"):
        JosephProjector(grid, start, end[:5])
    bad = start.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SiddonProjector(grid, bad, end)
    with pytest.raises(TypeError, match="dtype"):
        JosephProjector(grid, start.astype(complex), end)
    with pytest.raises(TypeError, match="Grid"):
        JosephProjector((8, 8, 4), start, end)
    with pytest.raises(ValueError, match="num_threads"):
        JosephProjector(grid, start, end, num_threads=0)
    with pytest.raises(ValueError, match="voxel_size_mm"):
        Grid((8, 8, 4), -2.0)


@pytest.mark.parametrize("cls", PROJECTORS)
def test_missing_and_degenerate_lors_give_zero(cls):
    grid = Grid((8, 8, 4), 2.0)
    start = np.array([[100.0, 100.0, 0.0], [-50.0, 0.0, 0.0], [1.0, 1.0, 1.0], [-50, 9.0, 0.0]], np.float32)
    end = np.array([[120.0, -100.0, 0.0], [50.0, 0.0, 50.0], [1.0, 1.0, 1.0], [50, 9.0, 0.0]], np.float32)
    P = cls(grid, start, end)
    values = P.forward(np.ones(grid.shape))
    assert values[0] == 0 and values[2] == 0 and values[3] == 0   # misses, zero length, outside edge
    assert np.all(P.adjoint(np.ones(4))[:, :, :] >= 0)
    empty = cls(grid, np.zeros((0, 3)), np.zeros((0, 3)))
    assert empty.forward(np.ones(grid.shape)).shape == (0,)
    assert empty.adjoint(np.zeros(0)).sum() == 0


@pytest.mark.parametrize("cls", PROJECTORS)
def test_thin_grids_and_lors_on_voxel_boundaries(cls):
    """Grids one voxel thick, LORs starting inside the image or lying on voxel faces: matched and in bounds."""
    rng = np.random.default_rng(21)
    for shape in [(1, 5, 4), (6, 1, 1), (3, 4, 1), (1, 1, 1), (7, 2, 5)]:
        grid = Grid(shape, (1.5, 2.0, 0.7))
        extent = np.array(grid.extent_mm)
        half = np.array(grid.voxel_size_mm) / 2
        start = rng.uniform(-1, 1, (300, 3)) * extent
        end = rng.uniform(-1, 1, (300, 3)) * extent
        snap = rng.random((300, 3)) < 0.4            # on voxel faces / centres, and axis-parallel LORs
        start = np.where(snap, np.round(start / half) * half, start)
        end = np.where(snap, start, end)
        P = cls(grid, start, end)
        values = P.forward(np.ones(shape))
        assert np.all(np.isfinite(values)) and values.min() >= 0
        assert np.all(values <= np.linalg.norm(end - start, axis=1) + grid.voxel_size_mm[0])
        if values.sum() > 0:
            assert adjoint_mismatch(P, rng=22) < 1e-5


@pytest.mark.parametrize("kernel", ["joseph_forward", "siddon_forward"])
def test_non_negative_image_gives_non_negative_projections(kernel):
    """A non-negative activity has non-negative line integrals, whatever the rounding: rays nearly
    parallel to a coordinate plane through points on voxel centres and faces (float64 end points, as
    the layout projector computes them), through an image whose values span the float32 range. The
    Joseph kernel's interpolation used to give integrals of -1e-12 here (negative expected counts)."""
    from petsim.projectors import _kernels
    from petsim.projectors.rays import grid_arrays

    rng = np.random.default_rng(1)
    grid = Grid((17, 19, 13), (2.25, 2.25, 2.425))
    shape, vox = np.array(grid.shape), np.array(grid.voxel_size_mm)
    origin = np.array(grid.origin_mm)
    spread = (10.0 ** rng.uniform(-38, 0, grid.shape)).astype(np.float32)
    spread[rng.random(grid.shape) < 0.5] = 0.0
    sparse = np.zeros(grid.shape, np.float32)
    sparse.ravel()[rng.integers(0, sparse.size, 50)] = 1.0
    n = 1_000_000
    points = rng.uniform(-0.5, 0.5, (n, 3)) * shape * vox
    points = origin + np.round((points - origin) / vox * 2) / 2 * vox  # on voxel centres and faces
    d = rng.normal(size=(n, 3))
    d[np.arange(n), rng.integers(0, 3, n)] *= 1e-9                     # nearly in a coordinate plane
    d /= np.linalg.norm(d, axis=1)[:, None]
    start, end = points - 200.0 * d, points + 200.0 * d
    for image in (spread, sparse):
        line_integrals = np.empty(n)
        getattr(_kernels, kernel)(image.ravel(), start, end, *grid_arrays(grid), line_integrals)
        assert line_integrals.min() >= 0.0, np.sort(line_integrals)[:3]
        assert line_integrals.max() > 0.0
