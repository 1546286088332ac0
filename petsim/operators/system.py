"""The system model ``A = diag(multiplicative) . P . PSF`` for the bins of a sinogram layout."""

from __future__ import annotations

import numpy as np

from petsim.grid import Grid
from petsim.operators.base import Diagonal, LinearOperator
from petsim.operators.psf import GaussianPSF


def system_model(grid: Grid, layout, views=None, multiplicative=None, psf_fwhm_mm=None,
                 projector: str = "joseph", num_threads: int | None = None) -> LinearOperator:
    """Compose the system model for the given views of ``layout``.

    Parameters
    ----------
    grid : petsim.Grid
    layout : petsim.scanner.SinogramLayout
    views : array_like of int, optional
        View indices (a subset); all views if None.
    multiplicative : ndarray, shape (n_sinograms, len(views), n_radial), optional
        Per-bin factors (normalisation x attenuation ...), applied after projection.
    psf_fwhm_mm : float or (float, float, float), optional
        Image-space Gaussian resolution model; none if None.
    projector : {"joseph", "siddon"}

    Returns
    -------
    LinearOperator
        ``in_shape = grid.shape``, ``out_shape = (n_sinograms, len(views), n_radial)``.

    Examples
    --------
    >>> from petsim import Grid
    >>> from petsim.scanner import get_scanner
    >>> layout = get_scanner("hrplus").layout_2d(view_mashing=2)
    >>> A = system_model(Grid((128, 128, 63), (2.25, 2.25, 2.425)), layout, views=layout.subset_views(16, 0))
    >>> A.out_shape
    (63, 9, 288)
    """
    from petsim.projectors import LayoutProjector

    P = LayoutProjector(grid, layout, views=views, projector=projector, num_threads=num_threads)
    A = P
    if psf_fwhm_mm is not None:
        A = A @ GaussianPSF(grid, psf_fwhm_mm)
    if multiplicative is not None:
        mult = np.asarray(multiplicative)
        if mult.shape != P.out_shape:
            raise ValueError(f"multiplicative has shape {mult.shape}, expected the bins' shape {P.out_shape}")
        A = Diagonal(mult) @ A
    return A
