import numpy as np
import pytest

from petsim import Grid


def test_default_grid_is_centred_on_isocentre():
    for shape in [(128, 128, 63), (5, 6, 7)]:
        g = Grid(shape, (2.25, 2.25, 2.425))
        assert np.allclose(g.centre_mm, 0.0)
        # the mean voxel-centre coordinate is the centre
        for axis in range(3):
            assert abs(g.axis_mm(axis).mean()) < 1e-9


def test_affine_round_trip_and_maps_index_to_mm():
    g = Grid((10, 12, 8), (2.0, 2.5, 3.0), origin_mm=(-9.0, -13.75, 1.0))
    aff = g.affine()
    ijk = np.array([3, 4, 5, 1.0])
    assert np.allclose(aff @ ijk, [g.axis_mm(0)[3], g.axis_mm(1)[4], g.axis_mm(2)[5], 1.0])
    assert Grid.from_affine(g.shape, aff) == g


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(shape=(10, 10, 0), voxel_size_mm=2.0),
        dict(shape=(10, 10), voxel_size_mm=2.0),
        dict(shape=(10, 10, 10), voxel_size_mm=-2.0),
        dict(shape=(10, 10, 10), voxel_size_mm=float("nan")),
        dict(shape=(10.5, 10, 10), voxel_size_mm=2.0),
    ],
)
def test_bad_grid_is_a_clear_error(kwargs):
    with pytest.raises(ValueError):
        Grid(**kwargs)


def test_rotated_affine_rejected():
    aff = np.array([[0, 2.0, 0, 0], [2.0, 0, 0, 0], [0, 0, 2.0, 0], [0, 0, 0, 1]])
    with pytest.raises(ValueError, match="axis-aligned"):
        Grid.from_affine((4, 4, 4), aff)


def test_check_image_rejects_nan_and_wrong_shape():
    g = Grid((4, 4, 4), 1.0)
    with pytest.raises(ValueError, match="shape"):
        g.check_image(np.zeros((4, 4, 5)))
    bad = np.zeros((4, 4, 4))
    bad[1, 1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        g.check_image(bad)
