"""Image-space resolution model: a (possibly anisotropic) Gaussian blur."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from petsim.grid import Grid
from petsim.core.linear_operator import LinearOperator

#: FWHM = FWHM_PER_SIGMA * sigma for a Gaussian (2 sqrt(2 ln 2)).
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


class GaussianPSF(LinearOperator):
    """Gaussian blur with a FWHM in mm per axis; self-adjoint.

    The kernel is truncated at ``truncate`` standard deviations and the image is
    zero-padded at its borders, so the operator matrix is exactly symmetric.

    Parameters
    ----------
    grid : petsim.Grid
    fwhm_mm : float or (float, float, float)
        Full width at half maximum along x, y, z in mm (0 = no blur on that axis).
    truncate : float
        Kernel half-width in standard deviations.

    Examples
    --------
    >>> from petsim import Grid
    >>> psf = GaussianPSF(Grid((32, 32, 8), 2.0), fwhm_mm=(4.0, 4.0, 5.0))
    >>> [round(s, 3) for s in psf.sigma_voxels]   # FWHM / 2.3548 / voxel size
    [0.849, 0.849, 1.062]
    """

    def __init__(self, grid: Grid, fwhm_mm, truncate: float = 4.0):
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be a petsim.Grid, got {type(grid).__name__}")
        fwhm = np.atleast_1d(np.asarray(fwhm_mm, dtype=float))
        if fwhm.size == 1:
            fwhm = np.repeat(fwhm, 3)
        if fwhm.shape != (3,) or not np.all(np.isfinite(fwhm)) or np.any(fwhm < 0):
            raise ValueError(f"fwhm_mm must be one or three non-negative finite FWHMs in mm, got {fwhm_mm!r}")
        if not (np.isfinite(truncate) and truncate > 0):
            raise ValueError(f"truncate must be positive, got {truncate!r}")
        self.grid = grid
        self.fwhm_mm = tuple(float(f) for f in fwhm)
        self.sigma_voxels = tuple(float(f / FWHM_PER_SIGMA / v) for f, v in zip(fwhm, grid.voxel_size_mm))
        self.truncate = float(truncate)
        self.in_shape = self.out_shape = tuple(grid.shape)

    def _forward(self, x):
        if not any(self.sigma_voxels):
            return x.copy()
        return ndimage.gaussian_filter(x, self.sigma_voxels, mode="constant", cval=0.0,
                                       truncate=self.truncate, output=np.float32)

    _adjoint = _forward
