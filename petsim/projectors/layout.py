"""Siddon's ray-by-ray projector over the bins of a sinogram layout, LOR end points made on the fly.

It traces each LOR on its own, exactly as :class:`~petsim.projectors.SiddonProjector` does on
explicit end points: the reference (``"siddon"`` in :func:`petsim.projectors.get_projector`) that
petsim's projector, :class:`~petsim.projectors.LayoutJoseph` (``"joseph"``), is tested against.
"""

from __future__ import annotations

import numpy as np

from petsim.grid import Grid
from petsim.core.linear_operator import LinearOperator
from petsim.projectors import _kernels
from petsim.projectors.rays import _Threads, check_num_threads, check_values, chunk_buffers, grid_arrays



class LayoutProjector(LinearOperator):
    """Siddon's ray-by-ray projector for the views ``views`` of a :class:`~petsim.scanner.SinogramLayout`.

    Gives the same line integrals as ``SiddonProjector(grid, *layout.lor_endpoints(views))``
    (up to float32 rounding of the end points) but never stores end points:
    memory is the image and the sinogram only.

    Parameters
    ----------
    grid : petsim.Grid
    layout : petsim.scanner.SinogramLayout
    views : array_like of int or LayoutSubset, optional
        View indices (e.g. ``layout.subset(k, n_subsets)``); all views if None.
    num_threads : int, optional
    """

    def __init__(self, grid: Grid, layout, views=None, num_threads: int | None = None):
        if not hasattr(layout, "lor_parameters"):
            raise TypeError(f"layout must be a petsim.scanner.SinogramLayout, got {type(layout).__name__}")
        self.grid = grid
        self.layout = layout
        self._geom = grid_arrays(grid)
        self.views = layout._views(getattr(views, "views", views))
        c, s, radial, z, dz, radius = layout.lor_parameters(self.views)
        self._params = (np.ascontiguousarray(c, dtype=np.float64), np.ascontiguousarray(s, dtype=np.float64),
                        np.ascontiguousarray(radial, dtype=np.float64), np.ascontiguousarray(z, dtype=np.float64),
                        np.ascontiguousarray(dz, dtype=np.float64), float(radius))
        self.num_threads = check_num_threads(num_threads)
        self.in_shape = tuple(grid.shape)
        self.out_shape = (layout.n_sinograms, len(self.views), layout.n_radial)
        self._n_lor = int(np.prod(self.out_shape))

    def forward(self, image) -> np.ndarray:
        """Line integrals (image units x mm), float32 of shape ``out_shape``."""
        img = self.grid.check_image(image)
        out = np.zeros(self._n_lor, dtype=np.float32)
        if self._n_lor:
            with _Threads(self.num_threads):
                _kernels.siddon_forward_layout(img.ravel(), *self._params, *self._geom, out)
        return out.reshape(self.out_shape)

    def adjoint(self, values) -> np.ndarray:
        """Exact matched back projection into an image of ``grid.shape``."""
        vals = check_values(values, self.out_shape, "LayoutProjector.adjoint input")
        out = np.zeros(self.grid.n_voxels, dtype=np.float32)
        if self._n_lor:
            bufs = chunk_buffers(self._n_lor, self.grid.n_voxels, self.num_threads)
            with _Threads(self.num_threads):
                _kernels.siddon_back_layout(vals, *self._params, *self._geom, bufs, out)
        return out.reshape(self.grid.shape)

    _forward = forward
    _adjoint = adjoint
