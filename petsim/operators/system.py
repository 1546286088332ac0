"""The one builder of the system model: ``A = scale * diag(multiplicative) . P . PSF`` on a sinogram layout.

The acquisition model (simulation) and every reconstruction (OSEM, MLEM, MAP)
build their operators here; the projector is found by name through
:func:`petsim.projectors.get_projector`, so no caller holds a concrete projector.

- ``P``: line integrals (image units x mm) along the bins of the layout, or of
  one subset of its views (``layout.subset(k, n_subsets)``);
- ``PSF``: an image-space Gaussian resolution model (optional);
- ``multiplicative``: per-bin factors applied after projection, the product
  ``normalisation * attenuation * multiplicative`` of those given (in that
  order); attenuation may be given as a mu-map, projected with ``P`` itself;
- ``scale``: a scalar (sensitivity x live time ...), applied last.

Additive terms (randoms, scatter) are not linear in the image: they belong to
the likelihood (:class:`petsim.recon.PoissonLikelihood`) or to the expected
counts of the simulation.
"""

from __future__ import annotations

import numpy as np

from petsim.core.linear_operator import LinearOperator
from petsim.grid import Grid
from petsim.operators.attenuation import attenuation_from_line_integrals
from petsim.operators.psf import GaussianPSF

__all__ = ["SystemModel", "system_model"]


def _factor(values, shape, name) -> np.ndarray:
    f = np.ascontiguousarray(values, dtype=np.float32)
    if f.shape != tuple(shape):
        raise ValueError(f"{name} has shape {f.shape}, expected the bins' shape {tuple(shape)}")
    if not np.all(np.isfinite(f)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return f


class SystemModel(LinearOperator):
    """``A x = scale * multiplicative * P(PSF x)`` for the bins of a layout (all views or a subset).

    Build it with :func:`system_model`. Attributes: ``projection`` (``P``),
    ``psf`` (GaussianPSF or None), ``geometric`` (``P . PSF``), ``multiplicative``
    (float32 array or None), ``attenuation`` (float32 array or None), ``scale``
    (float), ``layout``, ``views`` (the subset's views, None for all).
    """

    def __init__(self, grid: Grid, layout, views=None, *, projector: str = "joseph", psf_fwhm_mm=None,
                 normalisation=None, attenuation=None, mu_per_cm=None, multiplicative=None, scale: float = 1.0,
                 num_threads: int | None = None, _parts=None):
        from petsim.projectors import get_projector

        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be a petsim.Grid, got {type(grid).__name__}")
        self.grid, self.layout, self.views = grid, layout, views
        self.projector_name, self.num_threads = projector, num_threads
        if _parts is None:
            P = get_projector(projector)(grid, layout, views, num_threads=num_threads)
            psf = GaussianPSF(grid, psf_fwhm_mm) if psf_fwhm_mm is not None else None
        else:  # a subset of an existing model: same PSF object, new projection
            P, psf = _parts
        self.projection, self.psf = P, psf
        self.psf_fwhm_mm = None if psf is None else psf.fwhm_mm
        self.geometric = P if psf is None else P @ psf
        self.in_shape, self.out_shape = tuple(grid.shape), tuple(P.out_shape)
        if mu_per_cm is not None:
            if attenuation is not None:
                raise ValueError("give attenuation (factors) or mu_per_cm (a mu-map), not both")
            attenuation = self.attenuation_factors(mu_per_cm)
        factors = [_factor(f, self.out_shape, name) for f, name in
                   ((normalisation, "normalisation"), (attenuation, "attenuation"),
                    (multiplicative, "multiplicative")) if f is not None]
        self.attenuation = None if attenuation is None else _factor(attenuation, self.out_shape, "attenuation")
        mult = None
        for f in factors:
            mult = f if mult is None else mult * f
        self.multiplicative = mult
        scale = float(scale)
        if not (np.isfinite(scale) and scale >= 0):
            raise ValueError(f"scale must be a finite number >= 0, got {scale!r}")
        self.scale = scale

    def attenuation_factors(self, mu_per_cm) -> np.ndarray:
        """``exp(-0.1 * P mu)``: attenuation factors of the model's bins for a mu-map in 1/cm on its grid,
        projected with the model's own projector (as the emission)."""
        mu = self.grid.check_image(mu_per_cm, "mu_per_cm")
        return attenuation_from_line_integrals(self.projection.forward(mu), 0.1)

    def _forward(self, x):
        y = self.geometric.forward(x)
        if self.multiplicative is not None:
            y *= self.multiplicative
        if self.scale != 1.0:
            y *= np.float32(self.scale)
        return y

    def _adjoint(self, y):
        if self.scale != 1.0:
            y = np.float32(self.scale) * y
        if self.multiplicative is not None:
            y = y * self.multiplicative
        return self.geometric.adjoint(y)

    def subset(self, subset) -> "SystemModel":
        """The same model on one subset of the layout's views (``layout.subset(k, n)``, or view indices).

        Per-bin factors are cut to the subset; the PSF is shared.
        """
        if self.views is not None:
            raise ValueError("subset() needs a model of the whole layout")
        if not hasattr(subset, "take"):
            from petsim.scanner import LayoutSubset

            views = self.layout._views(subset)
            subset = LayoutSubset(-1, -1, views, (self.out_shape[0], len(views), self.out_shape[2]))
        P = _projector_like(self, subset)
        take = (lambda f: None if f is None else subset.take(f))
        sub = SystemModel(self.grid, self.layout, subset, projector=self.projector_name,
                          multiplicative=take(self.multiplicative), scale=self.scale, num_threads=self.num_threads,
                          _parts=(P, self.psf))
        sub.attenuation = take(self.attenuation)
        return sub

    def __repr__(self):
        return (f"SystemModel({self.projector_name}, in_shape={self.in_shape}, out_shape={self.out_shape}, "
                f"psf={self.psf_fwhm_mm}, multiplicative={self.multiplicative is not None}, scale={self.scale:g})")


def _projector_like(model, views):
    from petsim.projectors import get_projector

    return get_projector(model.projector_name)(model.grid, model.layout, views, num_threads=model.num_threads)


def system_model(grid: Grid, layout, views=None, multiplicative=None, psf_fwhm_mm=None, projector: str = "joseph",
                 num_threads: int | None = None, *, normalisation=None, attenuation=None, mu_per_cm=None,
                 scale: float = 1.0) -> SystemModel:
    """Build the system model for the given views of ``layout``.

    Parameters
    ----------
    grid : petsim.Grid
    layout : petsim.scanner.SinogramLayout
    views : array_like of int or LayoutSubset, optional
        A subset of the views (``layout.subset(k, n_subsets)``); all views if None.
    multiplicative : ndarray, shape (n_sinograms, len(views), n_radial), optional
        Per-bin factors applied after projection (after ``normalisation`` and ``attenuation``).
    psf_fwhm_mm : float or (float, float, float), optional
        Image-space Gaussian resolution model; none if None.
    projector : str
        A name of :func:`petsim.projectors.get_projector` (``"joseph"``, ``"siddon"``).
    num_threads : int, optional
        Threads of the projector (default: numba's setting).
    normalisation, attenuation : ndarray, optional
        Per-bin factors (detector efficiencies; ``exp(-line integral of mu)``).
    mu_per_cm : ndarray, optional
        Instead of ``attenuation``: a mu-map (1/cm) on ``grid``, projected with the model's projector.
    scale : float
        Scalar applied last (sensitivity x live time x frame duration ...).

    Returns
    -------
    SystemModel
        ``in_shape = grid.shape``, ``out_shape = (n_sinograms, len(views), n_radial)``.

    Examples
    --------
    >>> from petsim import Grid
    >>> from petsim.scanner import get_scanner
    >>> layout = get_scanner("hrplus").layout_2d(view_mashing=2)
    >>> A = system_model(Grid((128, 128, 63), (2.25, 2.25, 2.425)), layout, views=layout.subset(0, 16))
    >>> A.out_shape
    (63, 9, 288)
    """
    return SystemModel(grid, layout, views, projector=projector, psf_fwhm_mm=psf_fwhm_mm,
                       normalisation=normalisation, attenuation=attenuation, mu_per_cm=mu_per_cm,
                       multiplicative=multiplicative, scale=scale, num_threads=num_threads)
