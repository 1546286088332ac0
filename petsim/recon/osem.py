"""MLEM and OSEM in the ordinary-Poisson form, with sensitivities computed once per setup.

The model of the expected prompts of one frame is (see :mod:`petsim.emission`)::

    ybar = scale * m * (P f) + a

with ``m`` the multiplicative factors (normalisation x attenuation x live
fraction), ``a`` the additive randoms + scatter, both kept *inside* the model:
the prompts are never pre-corrected. The OSEM update of subset ``S`` is::

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

__all__ = ["OSEMSetup", "osem", "mlem", "poisson_loglik", "gaussian_post_filter"]

# Tolerance (relative to max(m)) within which a frame's multiplicative factors count as a
# scalar multiple of the setup's, so the cached sensitivities can be rescaled.
_SCALAR_TOL = 1e-4


def balanced_subset_views(n_views: int, n_subsets: int, subset: int) -> np.ndarray:
    """Views ``subset, subset + n_subsets, ...``: interleaved, so every subset spans 0..pi."""
    return np.arange(subset, n_views, n_subsets)


class OSEMSetup:
    """Per-subset system models and sensitivity images, built once and reused for every frame.

    Parameters
    ----------
    grid : Grid
        Reconstruction grid.
    layout : sinogram layout
        A ``petsim.scanner`` layout (``shape``, ``subset_views``); 2D layouts
        (direct + cross planes) give 2D OSEM plane by plane through the same code.
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
    projector : {"layout", "system_model"}
        ``"layout"`` (default): :class:`~petsim.projectors.layout_joseph.LayoutJoseph`, a
        Joseph projector that shares each transaxial ray walk between all
        sinograms (same line integrals as :class:`petsim.projectors.JosephProjector`,
        several times faster); ``"system_model"``: :func:`petsim.operators.system_model`.
    """

    def __init__(self, grid: Grid, layout, n_subsets: int, psf_fwhm_mm=None, multiplicative=None, operators=None,
                 projector: str = "layout"):
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
        if hasattr(layout, "subset_views"):
            self.subset_views = [np.asarray(layout.subset_views(self.n_subsets, s)) for s in range(self.n_subsets)]
        else:
            self.subset_views = [balanced_subset_views(n_views, self.n_subsets, s) for s in range(self.n_subsets)]
        if operators is None:
            operators = [self._subset_operator(v, projector) for v in self.subset_views]
        if len(operators) != self.n_subsets:
            raise ValueError(f"got {len(operators)} subset operators for {self.n_subsets} subsets")
        for s, (op, v) in enumerate(zip(operators, self.subset_views)):
            want = (shape[0], len(v), shape[2])
            if tuple(op.in_shape) != grid.shape or tuple(op.out_shape) != want:
                raise ValueError(
                    f"subset {s} operator maps {op.in_shape} -> {op.out_shape}, expected {grid.shape} -> {want}"
                )
        self.operators = list(operators)
        self.reference_multiplicative = None
        self.sensitivities = None
        if multiplicative is not None:
            self._set_reference(multiplicative)

    def _subset_operator(self, views, projector):
        if projector == "system_model":
            from petsim.operators import system_model

            return system_model(self.grid, self.layout, views=views, multiplicative=None, psf_fwhm_mm=self.psf_fwhm_mm)
        if projector != "layout":
            raise ValueError(f"projector must be 'layout' or 'system_model', got {projector!r}")
        from petsim.projectors.layout_joseph import LayoutJoseph

        op = LayoutJoseph(self.grid, self.layout, views=views)
        if self.psf_fwhm_mm is not None:
            from petsim.operators import GaussianPSF

            op = op @ GaussianPSF(self.grid, self.psf_fwhm_mm)
        return op

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
        return [op.adjoint(np.ascontiguousarray(m[:, v, :])) for op, v in zip(self.operators, self.subset_views)]

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
            stacklevel=3,
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


def poisson_loglik(prompts: np.ndarray, expected: np.ndarray) -> float:
    """Poisson log-likelihood ``sum(y log ybar - ybar)`` (the constant ``-log y!`` dropped), in float64."""
    y = prompts.astype(np.float64).ravel()
    yb = expected.astype(np.float64).ravel()
    pos = yb > 0
    if np.any((~pos) & (y > 0)):
        return -np.inf
    return float(np.dot(y[pos], np.log(yb[pos])) - yb.sum())


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
    scale = np.float32(data.scale)
    sens = setup.frame_sensitivities(data.multiplicative)
    total_sens = np.sum(sens, axis=0, dtype=np.float32)
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
    views = setup.subset_views
    y_s = [np.ascontiguousarray(data.prompts[:, v, :]) for v in views]
    m_s = [np.ascontiguousarray(data.multiplicative[:, v, :]) for v in views]
    a_s = [np.ascontiguousarray(data.additive[:, v, :]) for v in views]
    # Voxels outside every subset's support are fixed at zero.
    inv_sens = [np.where(s > 0, 1.0 / np.where(s > 0, s * scale, 1), 0).astype(np.float32) for s in sens]

    def expected(op, s, img):
        return scale * m_s[s] * op.forward(img) + a_s[s]

    def full_loglik(img):
        return sum(poisson_loglik(y_s[s], expected(op, s, img)) for s, op in enumerate(setup.operators))

    loglik = []
    one_subset = setup.n_subsets == 1
    if record_loglik and not one_subset:
        loglik.append(full_loglik(x))
    bar = _bar if _bar is not None else tqdm(total=n_iter, desc="OSEM", unit="it", disable=None if progress else True, leave=False)
    for _ in range(n_iter):
        for s, op in enumerate(setup.operators):
            ybar = expected(op, s, x)
            if record_loglik and one_subset:
                loglik.append(poisson_loglik(y_s[s], ybar))  # of the image before this update
            ratio = np.divide(y_s[s], ybar, out=np.zeros_like(ybar), where=ybar > 0)
            x *= op.adjoint(scale * m_s[s] * ratio) * inv_sens[s]
        if record_loglik and not one_subset:
            loglik.append(full_loglik(x))
        bar.update(1)
    if _bar is None:
        bar.close()
    if record_loglik and one_subset:
        loglik.append(full_loglik(x))
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
