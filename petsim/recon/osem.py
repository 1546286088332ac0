"""MLEM and OSEM in the ordinary-Poisson form, with sensitivities computed once per setup.

The expected prompts ``ybar = scale * m * (A f) + a`` of one frame come from
:class:`petsim.recon.likelihood.PoissonLikelihood` (``A`` the system model of
:func:`petsim.operators.system_model`, ``m`` the multiplicative factors, ``a``
the additive randoms + scatter, both kept *inside* the model: the prompts are
never pre-corrected). The OSEM update of subset ``S`` is::

    f <- f / (scale * P_S^T m_S) * P_S^T (scale * m_S * y_S / ybar_S)

(Hudson & Larkin, IEEE TMI 1994;13:601), which keeps ``f >= 0``; one subset is MLEM
(Shepp & Vardi, IEEE TMI 1982;1:113), which never decreases the Poisson
log-likelihood.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import ndimage
from tqdm.auto import tqdm

from petsim.emission import EmissionData
from petsim.grid import Grid
from petsim.operators import system_model
from petsim.recon.likelihood import PoissonLikelihood, poisson_loglik
from petsim.scanner import interleaved_subsets

__all__ = ["OSEMSetup", "osem", "mlem", "poisson_loglik", "gaussian_post_filter"]

# Tolerance (relative to max(m)) within which a frame's multiplicative factors count as a
# scalar multiple of the setup's, so the cached sensitivities can be rescaled.
_SCALAR_TOL = 1e-4


class OSEMSetup:
    """Per-subset system models and sensitivity images, built once and reused for every frame.

    Parameters
    ----------
    grid : Grid
        Reconstruction grid.
    layout : sinogram layout
        A ``petsim.scanner`` layout, which hands out the subsets (``layout.subset(k, n)``);
        2D layouts (direct + cross planes) give 2D OSEM plane by plane through the same code.
        With ``operators`` given, a bare shape ``(n_sinograms, n_views, n_radial)`` will do
        (interleaved view subsets).
    n_subsets : int
        Number of subsets (balanced, by views); 1 gives MLEM.
    psf_fwhm_mm : float or tuple of 3 float, optional
        Image-space Gaussian resolution model inside the system model.
    multiplicative : ndarray, optional
        Reference multiplicative factors shaped like the layout (e.g.
        normalisation x attenuation). A frame whose factors differ from these
        only by a scalar (the live fraction) reuses the cached sensitivities,
        rescaled. If omitted, the first frame reconstructed sets the reference.
    operators : list of LinearOperator, optional
        Advanced: one geometric operator per subset (grid -> subset sinogram),
        used instead of building them from ``layout`` (e.g. a user's own projector).
    projector : str
        Name of the layout projector (:func:`petsim.projectors.get_projector`) the
        system model (:func:`petsim.operators.system_model`) is built with; default
        ``"joseph"``.
    num_threads : int, optional
        Threads of the projector (default: numba's setting).
    """

    def __init__(self, grid: Grid, layout, n_subsets: int, psf_fwhm_mm=None, multiplicative=None, operators=None,
                 projector: str = "joseph", num_threads: int | None = None):
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be a petsim.Grid, got {type(grid).__name__}")
        shape = tuple(layout.shape) if hasattr(layout, "shape") else tuple(layout)
        if len(shape) != 3:
            raise ValueError(f"layout shape must be (n_sinograms, n_views, n_radial), got {shape}")
        n_views = shape[1]
        if not isinstance(n_subsets, (int, np.integer)) or not 1 <= n_subsets <= n_views:
            raise ValueError(f"n_subsets must be an integer in 1..{n_views} (the number of views), got {n_subsets!r}")
        self.grid, self.layout, self.shape = grid, layout, shape
        self.n_subsets = int(n_subsets)
        self.psf_fwhm_mm = psf_fwhm_mm
        if hasattr(layout, "subsets"):
            self.subsets = list(layout.subsets(self.n_subsets))
        else:
            self.subsets = interleaved_subsets(shape, self.n_subsets)
        if operators is None:
            if not hasattr(layout, "lor_parameters"):
                raise TypeError("layout must be a petsim.scanner.SinogramLayout unless operators are given")
            operators = [system_model(grid, layout, views=sub, psf_fwhm_mm=psf_fwhm_mm, projector=projector,
                                      num_threads=num_threads) for sub in self.subsets]
        if len(operators) != self.n_subsets:
            raise ValueError(f"got {len(operators)} subset operators for {self.n_subsets} subsets")
        for s, (op, sub) in enumerate(zip(operators, self.subsets)):
            want = tuple(sub.shape)
            if tuple(op.in_shape) != grid.shape or tuple(op.out_shape) != want:
                raise ValueError(
                    f"subset {s} operator maps {op.in_shape} -> {op.out_shape}, expected {grid.shape} -> {want}"
                )
        self.operators = list(operators)
        self.reference_multiplicative = None
        self.sensitivities = None
        if multiplicative is not None:
            self._set_reference(multiplicative)

    @property
    def subset_views(self) -> list:
        """View indices of each subset."""
        return [sub.views for sub in self.subsets]

    def likelihood(self, data: EmissionData, dtype=np.float32) -> PoissonLikelihood:
        """The Poisson likelihood of frame ``data`` under this setup's system model (sensitivities cached)."""
        return PoissonLikelihood(self.operators, self.subsets, data, self.frame_sensitivities(data.multiplicative),
                                 dtype=dtype)

    def _set_reference(self, multiplicative):
        m = np.ascontiguousarray(multiplicative, dtype=np.float32)
        if m.shape != self.shape:
            raise ValueError(f"multiplicative has shape {m.shape}, expected the layout shape {self.shape}")
        if not np.all(np.isfinite(m)) or np.any(m < 0):
            raise ValueError("multiplicative factors must be finite and >= 0")
        self.reference_multiplicative = m
        self.sensitivities = self._sensitivities(m)

    def _sensitivities(self, m) -> list:
        """``P_S^T m_S`` per subset (without the frame's scalar ``scale``)."""
        return [op.adjoint(sub.take(m)) for op, sub in zip(self.operators, self.subsets)]

    def frame_sensitivities(self, multiplicative) -> list:
        """Sensitivity images for a frame: cached and rescaled if ``multiplicative`` is a
        scalar multiple of the reference, recomputed (with a warning) otherwise."""
        if self.reference_multiplicative is None:
            self._set_reference(multiplicative)
            return self.sensitivities
        ref = self.reference_multiplicative
        ref64 = ref.astype(np.float64).ravel()
        c = float(np.dot(multiplicative.astype(np.float64).ravel(), ref64) / max(np.dot(ref64, ref64), 1e-300))
        if np.max(np.abs(multiplicative - np.float32(c) * ref)) <= _SCALAR_TOL * max(float(ref.max()), 1e-30):
            if c == 1.0:
                return self.sensitivities
            return [np.float32(c) * s for s in self.sensitivities]
        warnings.warn(
            "frame multiplicative factors are not a scalar multiple of the setup's reference; "
            "recomputing the sensitivity images for this frame",
            stacklevel=4,
        )
        return self._sensitivities(multiplicative)


def _check_data(data: EmissionData, setup: OSEMSetup):
    if not isinstance(data, EmissionData):
        raise TypeError(f"data must be a petsim.emission.EmissionData, got {type(data).__name__}")
    if not isinstance(setup, OSEMSetup):
        raise TypeError(f"setup must be an OSEMSetup, got {type(setup).__name__}")
    if data.shape != setup.shape:
        raise ValueError(f"data has sinogram shape {data.shape}, but the setup's layout has shape {setup.shape}")
    # EmissionData already refused NaN and negative values; prompts the model cannot explain are
    # a data/model mismatch that would make the log-likelihood -inf.
    orphan = (data.prompts > 0) & (data.multiplicative == 0) & (data.additive == 0)
    if np.any(orphan):
        raise ValueError(
            f"{int(orphan.sum())} sinogram bins have prompts but zero multiplicative and additive factors "
            "(zero sensitivity where there is activity); fix the normalisation/attenuation "
            "or set an additive term there"
        )


def gaussian_post_filter(image: np.ndarray, grid: Grid, fwhm_mm) -> np.ndarray:
    """Isotropic or per-axis Gaussian filter of ``fwhm_mm`` (mm, scalar or (x, y, z))."""
    fwhm = np.broadcast_to(np.asarray(fwhm_mm, dtype=float), (3,))
    if not np.all(np.isfinite(fwhm)) or np.any(fwhm < 0):
        raise ValueError(f"post_filter_fwhm_mm must be >= 0 mm, got {fwhm_mm!r}")
    sigma_vox = fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0))) / np.asarray(grid.voxel_size_mm)
    return ndimage.gaussian_filter(image.astype(np.float32), sigma_vox, mode="constant").astype(np.float32)


def osem(
    data: EmissionData,
    setup: OSEMSetup,
    n_iter: int,
    post_filter_fwhm_mm=None,
    x0=None,
    record_loglik: bool = False,
    progress: bool = True,
    _bar=None,
):
    """Ordered-subsets EM reconstruction of one frame (ordinary Poisson).

    Parameters
    ----------
    data : EmissionData
        Prompts and model terms of the frame, shaped like ``setup.layout``.
    setup : OSEMSetup
        Subset system models and cached sensitivity images.
    n_iter : int
        Full iterations (each one pass over all subsets).
    post_filter_fwhm_mm : float or tuple, optional
        Gaussian post-filter FWHM in mm.
    x0 : ndarray, optional
        Initial physical activity (Bq/mL, not decay-corrected), >= 0. Default: a
        uniform image whose expected counts match the measured trues.
    record_loglik : bool
        Also return the Poisson log-likelihood of the initial image and after
        each iteration (``n_iter + 1`` values; costs one extra projection per
        iteration unless there is one subset).
    progress : bool
        Show a tqdm bar over iterations.

    Returns
    -------
    image : ndarray (x, y, z), float32
        Activity in Bq/mL, decay-corrected to injection time, i.e. the frame-mean
        physical activity times ``data.decay_correction_factor``.
    loglik : list of float
        Only if ``record_loglik``.
    """
    _check_data(data, setup)
    if not isinstance(n_iter, (int, np.integer)) or n_iter < 0:
        raise ValueError(f"n_iter must be a non-negative integer, got {n_iter!r}")
    lik = setup.likelihood(data)
    scale = np.float32(data.scale)
    sens = lik.sensitivities
    total_sens = lik.total_sensitivity()
    support = total_sens > 0
    if x0 is None:
        trues = float(data.prompts.sum(dtype=np.float64) - data.additive.sum(dtype=np.float64))
        denom = float(scale) * float(total_sens.sum(dtype=np.float64))
        level = trues / denom if (trues > 0 and denom > 0) else 1.0
        x = np.where(support, np.float32(level), np.float32(0.0)).astype(np.float32)
    else:
        x = setup.grid.check_image(x0, "x0").copy()
        if np.any(x < 0):
            raise ValueError(f"x0 must be >= 0 (positivity), min is {x.min():g}")
        if np.any((x > 0) & ~support):
            raise ValueError(
                f"x0 has activity in {int(np.sum((x > 0) & ~support))} voxels with zero sensitivity "
                "(seen by no line of response); those voxels cannot be reconstructed"
            )
    # Voxels outside every subset's support are fixed at zero.
    inv_sens = [np.where(s > 0, 1.0 / np.where(s > 0, s * scale, 1), 0).astype(np.float32) for s in sens]

    loglik = []
    one_subset = setup.n_subsets == 1
    if record_loglik and not one_subset:
        loglik.append(lik(x))
    bar = _bar if _bar is not None else tqdm(total=n_iter, desc="OSEM", unit="it", disable=None if progress else True, leave=False)
    for _ in range(n_iter):
        for s in range(lik.n_subsets):
            ybar = lik.expected(s, x)
            if record_loglik and one_subset:
                loglik.append(lik.loglik(s, ybar))  # of the image before this update
            x *= lik.ratio_backprojection(s, ybar) * inv_sens[s]
        if record_loglik and not one_subset:
            loglik.append(lik(x))
        bar.update(1)
    if _bar is None:
        bar.close()
    if record_loglik and one_subset:
        loglik.append(lik(x))
    if post_filter_fwhm_mm is not None:
        x = gaussian_post_filter(x, setup.grid, post_filter_fwhm_mm)
    x = (x * np.float32(data.decay_correction_factor)).astype(np.float32)
    return (x, loglik) if record_loglik else x


def mlem(data: EmissionData, setup: OSEMSetup, n_iter: int, **kwargs):
    """MLEM: :func:`osem` with a one-subset setup (``setup.n_subsets`` must be 1)."""
    if not isinstance(setup, OSEMSetup):
        raise TypeError(f"setup must be an OSEMSetup, got {type(setup).__name__}")
    if setup.n_subsets != 1:
        raise ValueError(f"mlem needs an OSEMSetup with n_subsets=1, got {setup.n_subsets}")
    return osem(data, setup, n_iter, **kwargs)
