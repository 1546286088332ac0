"""Projectors defined by explicit LOR end points."""

from __future__ import annotations

import numba
import numpy as np

from petsim.grid import Grid
from petsim.core.linear_operator import LinearOperator
from petsim.projectors import _kernels

#: Back projection accumulates into this many partial images (then summed in a fixed order),
#: so results are bit-identical for any number of threads up to this value.
BACK_PROJECTION_CHUNKS = 8


def chunk_buffers(n_lor: int, n_voxels: int, num_threads=None) -> np.ndarray:
    """Zeroed partial images for a race-free back projection: ``BACK_PROJECTION_CHUNKS`` of them
    (more if more threads were asked for), fewer for very short LOR lists."""
    n_chunks = max(BACK_PROJECTION_CHUNKS, num_threads or 0)
    n_chunks = int(min(n_chunks, max(1, n_lor // 256)))
    return np.zeros((n_chunks, n_voxels), dtype=np.float32)


def check_endpoints(start, end):
    """Validate LOR end points: real arrays of equal shape ``(..., 3)``, finite; returns float32 C arrays."""
    arrays = []
    for name, a in (("start", start), ("end", end)):
        arr = np.asarray(a)
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)) or arr.dtype == bool:
            raise TypeError(f"LOR {name} points must be a real numeric array, got dtype {arr.dtype}")
        if arr.ndim < 1 or arr.shape[-1] != 3:
            raise ValueError(f"LOR {name} points must have shape (..., 3) (x, y, z in mm), got {arr.shape}")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"LOR {name} points contain NaN or infinite values")
        arrays.append(arr)
    if arrays[0].shape != arrays[1].shape:
        raise ValueError(f"LOR start {arrays[0].shape} and end {arrays[1].shape} must have the same shape")
    return arrays[0], arrays[1]


def grid_arrays(grid: Grid):
    """(origin, voxel size, shape, strides) of a grid as the arrays the kernels take."""
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a petsim.Grid, got {type(grid).__name__}")
    shape = np.asarray(grid.shape, dtype=np.int64)
    strides = np.asarray([shape[1] * shape[2], shape[2], 1], dtype=np.int64)
    return (np.asarray(grid.origin_mm, dtype=np.float64), np.asarray(grid.voxel_size_mm, dtype=np.float64),
            shape, strides)



def check_values(values, shape, name: str) -> np.ndarray:
    """Sinogram-side input of a back projection as flat float32, after checking shape, dtype and finiteness."""
    vals = np.asarray(values)
    if vals.shape != tuple(shape):
        raise ValueError(f"{name} has shape {vals.shape}, expected {tuple(shape)}")
    if not (np.issubdtype(vals.dtype, np.floating) or np.issubdtype(vals.dtype, np.integer)) or vals.dtype == bool:
        raise TypeError(f"{name} must be a real numeric array, got dtype {vals.dtype}")
    vals = np.ascontiguousarray(vals, dtype=np.float32).ravel()
    if not np.all(np.isfinite(vals)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return vals

class _Threads:
    """Context manager that sets numba's thread count for one call and restores it."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        if self.n is not None:
            self.old = numba.get_num_threads()
            numba.set_num_threads(min(self.n, numba.config.NUMBA_NUM_THREADS))

    def __exit__(self, *exc):
        if self.n is not None:
            numba.set_num_threads(self.old)


def check_num_threads(num_threads):
    if num_threads is None:
        return None
    if isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)) or num_threads < 1:
        raise ValueError(f"num_threads must be a positive integer or None, got {num_threads!r}")
    return int(num_threads)


class RayProjector(LinearOperator):
    """Base of the LOR-list projectors: ``forward`` gives line integrals (image units x mm).

    Parameters
    ----------
    grid : petsim.Grid
        Image geometry.
    start, end : array_like, shape (..., 3)
        LOR end points in mm. The leading shape is the output shape.
        LORs that miss the image give 0; a zero-length LOR gives 0.
    num_threads : int, optional
        Threads for numba (default: numba's current setting).
    """

    _forward_kernel = None
    _back_kernel = None

    def __init__(self, grid: Grid, start, end, num_threads: int | None = None):
        self.grid = grid
        self._geom = grid_arrays(grid)
        self.start, self.end = check_endpoints(start, end)
        self.num_threads = check_num_threads(num_threads)
        self.in_shape = tuple(grid.shape)
        self.out_shape = tuple(self.start.shape[:-1])
        self._n_lor = int(np.prod(self.out_shape))

    def forward(self, image) -> np.ndarray:
        """Line integrals of ``image`` (shape ``grid.shape``) along the LORs, float32 of ``out_shape``."""
        img = self.grid.check_image(image)
        out = np.zeros(self._n_lor, dtype=np.float32)
        if self._n_lor:
            with _Threads(self.num_threads):
                type(self)._forward_kernel(img.ravel(), self.start.reshape(-1, 3), self.end.reshape(-1, 3),
                                           *self._geom, out)
        return out.reshape(self.out_shape)

    def adjoint(self, values) -> np.ndarray:
        """Exact matched back projection of ``values`` (shape ``out_shape``) into an image of ``grid.shape``."""
        vals = check_values(values, self.out_shape, f"{type(self).__name__}.adjoint input")
        out = np.zeros(self.grid.n_voxels, dtype=np.float32)
        if self._n_lor:
            bufs = chunk_buffers(self._n_lor, self.grid.n_voxels, self.num_threads)
            with _Threads(self.num_threads):
                type(self)._back_kernel(vals, self.start.reshape(-1, 3), self.end.reshape(-1, 3),
                                        *self._geom, bufs, out)
        return out.reshape(self.grid.shape)

    _forward = forward
    _adjoint = adjoint


class JosephProjector(RayProjector):
    """Joseph's projector: on each plane of the LOR's dominant axis, bilinear interpolation in the other two.

    Joseph PM, IEEE Trans Med Imaging 1982;1:192-196. Line integrals in
    (image units x mm); the adjoint is the exact transpose.

    Examples
    --------
    >>> import numpy as np
    >>> from petsim import Grid
    >>> g = Grid((4, 4, 1), 1.0)
    >>> P = JosephProjector(g, np.array([[-10.0, 0.0, 0.0]]), np.array([[10.0, 0.0, 0.0]]))
    >>> float(P.forward(np.ones(g.shape))[0])
    4.0
    """

    _forward_kernel = _kernels.joseph_forward
    _back_kernel = _kernels.joseph_back


class SiddonProjector(RayProjector):
    """Siddon's projector: exact intersection length of each LOR with each voxel (Siddon RL, Med Phys 1985;12:252)."""

    _forward_kernel = _kernels.siddon_forward
    _back_kernel = _kernels.siddon_back
