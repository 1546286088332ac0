"""Where spherical VOIs are centred: petsim.modeling.extraction.region_centre_mm."""

import numpy as np
import pytest

from petsim.grid import Grid
from petsim.modeling.extraction import region_centre_mm, spherical_voi


def _index(grid, centre_mm):
    return tuple(np.rint((np.asarray(centre_mm) - grid.origin_mm) / grid.voxel_size_mm).astype(int))


def test_convex_region_is_centred_on_its_centroid():
    grid = Grid((20, 20, 10), (2.0, 2.0, 2.5))
    mask = np.zeros(grid.shape, bool)
    mask[4:9, 10:13, 2:6] = True
    centre, inside = region_centre_mm(grid, mask)
    X, Y, Z = grid.coordinates_mm(sparse=False)
    assert inside
    assert np.allclose(centre, [X[mask].mean(), Y[mask].mean(), Z[mask].mean()])
    assert spherical_voi(grid, centre, 9.0)[mask].sum() >= 7  # the sphere lies in the region


@pytest.mark.parametrize("fallback", ["nearest", "deepest"])
def test_curved_region_centre_moves_into_the_region(fallback):
    # a thick C-shaped shell: its centroid lies in the hollow, outside the region
    grid = Grid((41, 41, 5), 1.0)
    X, Y, _ = grid.coordinates_mm(sparse=False)
    r = np.hypot(X, Y)
    mask = (r >= 10) & (r <= 16) & (X <= 4)
    centre, inside = region_centre_mm(grid, mask, fallback=fallback)
    assert not inside and mask[_index(grid, centre)]
    if fallback == "nearest":  # the region voxel nearest to the centroid, on the inner edge
        centroid = np.array([X[mask].mean(), Y[mask].mean(), 0.0])
        d = np.sqrt(((np.stack([X[mask], Y[mask], np.zeros(mask.sum())], 1) - centroid) ** 2).sum(1))
        assert np.linalg.norm(centre - centroid) == pytest.approx(d.min())
    else:  # mid-shell on the middle slice: 3 mm from both edges of the 6-mm-thick shell
        assert 12.0 <= np.hypot(centre[0], centre[1]) <= 14.0 and centre[2] == 0.0


def test_bad_input_is_refused():
    grid = Grid((4, 4, 4), 1.0)
    with pytest.raises(ValueError, match="no voxels"):
        region_centre_mm(grid, np.zeros(grid.shape, bool))
    with pytest.raises(ValueError, match="shape"):
        region_centre_mm(grid, np.ones((4, 4, 3), bool))
    with pytest.raises(ValueError, match="fallback"):
        region_centre_mm(grid, np.ones(grid.shape, bool), fallback="middle")
