"""Two-dimensional test objects: sums of uniform disks on one image plane (teaching examples, unit tests)."""

from __future__ import annotations

import numpy as np

__all__ = ["disk_image"]


def disk_image(grid, disks, supersample=4):
    """Rasterise a sum of uniform disks on the first plane of a grid, by sub-pixel averaging.

    Parameters
    ----------
    grid : petsim.grid.Grid
        Image grid ``(nx, ny, 1)``.
    disks : sequence of (float, float, float, float)
        ``(cx, cy, radius, value)`` in mm; the values of overlapping disks add.
    supersample : int
        Sub-pixels per pixel edge.

    Returns
    -------
    ndarray, shape grid.shape, float32
        Mean value of the disks over each pixel.
    """
    offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
    x = (grid.axis_mm(0)[:, None] + grid.voxel_size_mm[0] * offsets[None, :]).ravel()
    y = (grid.axis_mm(1)[:, None] + grid.voxel_size_mm[1] * offsets[None, :]).ravel()
    img = np.zeros((x.size, y.size))
    for cx, cy, r, value in disks:
        img += value * (((x[:, None] - cx) ** 2 + (y[None, :] - cy) ** 2) <= r * r)
    img = img.reshape(grid.shape[0], supersample, grid.shape[1], supersample).mean(axis=(1, 3))
    return img[:, :, None].astype(np.float32)
