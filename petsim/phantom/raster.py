"""Rasterise a component table on a grid: labels at voxel centres, supersampling at boundaries.

Memory: one label-index byte (or two) per voxel, plus ``supersample**3`` label
indices for each boundary voxel (voxels whose 26 neighbours do not all share
their label). Interior voxels are pure: their fraction of their own region is 1.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from petsim.grid import Grid
from petsim.phantom import shapes


def _index_range(axis_mm: np.ndarray, lo: float, hi: float, voxel: float) -> slice:
    """Voxels whose extent touches [lo, hi] (one voxel of margin for the boundary test)."""
    start = int(np.searchsorted(axis_mm, lo - 1.5 * voxel))
    stop = int(np.searchsorted(axis_mm, hi + 1.5 * voxel, side="right"))
    return slice(start, stop)


def rasterise(table: np.ndarray, grid: Grid, n_labels: int, supersample: int, chunk: int = 262144):
    """Label a grid with the first-match rule of ``table``.

    Parameters
    ----------
    table : ndarray (n_components, shapes.N_COLS)
        Component table in precedence order.
    grid : Grid
    n_labels : int
        Number of regions (label indices run 0..n_labels, 0 = outside).
    supersample : int
        Points per axis sampled inside each boundary voxel (``supersample**3`` in all).

    Returns
    -------
    centre : ndarray (nx, ny, nz) of uint8/uint16
        Label index at each voxel centre.
    boundary_index : ndarray (nb,) of int64
        Flat (C-order) indices of the boundary voxels.
    boundary_labels : ndarray (nb, supersample**3)
        Label index at each sub-sample of those voxels.
    """
    if not isinstance(supersample, (int, np.integer)) or isinstance(supersample, bool) or supersample < 1:
        raise ValueError(f"supersample must be a positive integer, got {supersample!r}")
    dtype = np.uint8 if n_labels < 255 else np.uint16
    centre = np.zeros(grid.shape, dtype=dtype)
    if len(table):
        bbox = table[:, shapes.C_BBOX:shapes.C_BBOX + 6]
        lo, hi = bbox[:, 0::2].min(axis=0), bbox[:, 1::2].max(axis=0)
        sl = tuple(_index_range(grid.axis_mm(a), lo[a], hi[a], grid.voxel_size_mm[a]) for a in range(3))
        block = np.zeros(tuple(s.stop - s.start for s in sl), dtype=np.int32)
        if block.size:
            shapes.label_centres(table, *(np.ascontiguousarray(grid.axis_mm(a)[sl[a]]) for a in range(3)), block)
            centre[sl] = block.astype(dtype)
    is_boundary = np.zeros(grid.shape, dtype=np.bool_)
    shapes.boundary_mask(centre, is_boundary)
    boundary_index = np.flatnonzero(is_boundary).astype(np.int64)
    del is_boundary
    m = supersample ** 3
    boundary_labels = np.empty((boundary_index.size, m), dtype=dtype)
    buf = np.empty((min(chunk, max(boundary_index.size, 1)), m), dtype=np.int32)
    origin = np.asarray(grid.origin_mm, dtype=float)
    voxel = np.asarray(grid.voxel_size_mm, dtype=float)
    shape = np.asarray(grid.shape, dtype=np.int64)
    starts = range(0, boundary_index.size, chunk)
    for start in tqdm(starts, desc="supersampling boundary voxels", unit="chunk", disable=None, leave=False):
        idx = boundary_index[start:start + chunk]
        out = buf[:idx.size]
        shapes.label_subsamples(table, idx, shape, origin, voxel, int(supersample), out)
        boundary_labels[start:start + idx.size] = out.astype(dtype)
    return centre, boundary_index, boundary_labels
