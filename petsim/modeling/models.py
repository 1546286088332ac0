"""The model registry: every kinetic model petsim fits, as an object with ``fit(...) -> FitResult``.

DIPY's Model -> Fit style: a model object knows what it needs (t*, the
reference efflux k2', how many frames) and ``model.fit(ct, cr, start, end)``
returns a :class:`~petsim.modeling.results.FitResult`. Everything that asks
which models exist or what they need (:func:`fit_models`, ``petsim fit``, the
scenario check, the pipeline, the studies and the report) asks :data:`MODELS`
or :func:`get_model`, so a new model is added here once.

:data:`MAPS` does the same for the voxelwise methods (parametric BP_ND maps).

Examples
--------
>>> import numpy as np
>>> from petsim.modeling import get_model
>>> srtm = get_model("srtm")
>>> srtm.needs_t_star, srtm.min_frames
(False, 4)
>>> start = np.arange(0.0, 60.0, 5.0); end = start + 5.0
>>> cr = 10 * np.exp(-0.05 * (start + end) / 2)
>>> fit = get_model("ratio").fit(2 * cr, cr, start, end, window_min=(30.0, 60.0))
>>> round(fit.bp_nd, 6)
1.0
"""

from __future__ import annotations

import types

import numpy as np

from ._frames import MIN_FRAMES, check_frames, fit_frames
from ._common import prepare
from .linear import fit_logan_ref, fit_mrtm, fit_mrtm2, fit_tissue_ratio, logan_bp_many, mrtm2_bp_many
from .lpntpet import N_PARAMS_LPNTPET, fit_lpntpet
from .parametric import bfsrtm_map, logan_ref_map, mrtm2_map
from .results import FitResult
from .srtm import fit_srtm, fit_srtm2, srtm2_bp_many, srtm_bp_many

__all__ = ["Model", "MapMethod", "MODELS", "MAPS", "get_model", "get_map"]


class Model:
    """A kinetic model of a target TAC against a reference TAC.

    Attributes
    ----------
    name : str
        Registry name (``"srtm"``), also the ``model`` column of result tables.
    title : str
        What it is, with its reference.
    n_params : int
        Parameters it fits.
    min_frames : int
        Frames it needs (after t* and inside the window where it uses them).
    needs_t_star : bool
        Fits only the frames whose mid-time is at or after t* (graphical and
        multilinear models); the others fit from injection on.
    requires_t_star : bool
        Cannot run without an explicit t* (Logan).
    needs_k2_ref : bool
        Two-step model with the reference efflux k2' fixed; :func:`fit_models`
        estimates k2' once per scan when it is not given.
    windowed : bool
        Fitted inside an analysis window; False: always over the whole scan.
    weighted : bool
        Uses the frame weights.
    detects_release : bool
        Tests for a transient release (its truth is a timing, not a bias).
    """

    name = ""
    title = ""
    n_params = 0
    min_frames = 1
    needs_t_star = False
    requires_t_star = False
    needs_k2_ref = False
    windowed = True
    weighted = True
    detects_release = False

    def fit(self, ct, cr, frame_start_min, frame_end_min, *, weights=None, t_star_min=None, k2_ref=None,
            window_min=None) -> FitResult:
        """Fit the target TAC ``ct`` against the reference ``cr`` (Bq/mL) at frames (min).

        Parameters
        ----------
        weights : array_like, optional
            Relative frame weights (see :func:`petsim.modeling.frame_weights`).
        t_star_min : float, optional
            t* (min) of the models with ``needs_t_star`` (default 0; Logan requires it).
        k2_ref : float, optional
            Reference efflux k2' (1/min); required by models with ``needs_k2_ref``,
            optional for Logan (the term is left out without it).
        window_min : (float, float), optional
            Fit window (min) of windowed models.
        """
        if self.requires_t_star and t_star_min is None:
            raise ValueError(f"{self.name} needs t_star_min (min): the start of the linear part of the Logan plot")
        if self.needs_k2_ref and k2_ref is None:
            raise ValueError(f"{self.name} needs k2_ref (1/min), the reference efflux; fit_models estimates it "
                             "from whole-scan MRTM when it is not given")
        return self._fit(frame_start_min, frame_end_min, ct, cr, weights, 0.0 if t_star_min is None else t_star_min,
                         k2_ref, window_min)

    def _fit(self, start, end, ct, cr, weights, t_star_min, k2_ref, window_min) -> FitResult:  # pragma: no cover
        raise NotImplementedError

    def bp_many(self, tacs, cr, frame_start_min, frame_end_min, *, weights=None, t_star_min=None, k2_ref=None,
                window_min=None) -> np.ndarray:
        """BP_ND of :meth:`fit` for each row of ``tacs`` (n_tacs, n_frames), NaN where a fit fails.

        ``k2_ref`` may be one value or one per TAC (the bootstrap's replicates of an estimated k2').
        A fit fails when it raises a ``ValueError`` (e.g. a Logan plot with C_T <= 0), does not
        converge or gives a non-finite BP_ND. The bootstrap refits through this; a model with a
        faster way to fit many TACs against one reference overrides it.
        """
        out = np.full(len(tacs), np.nan)
        per_tac = k2_ref is not None and np.ndim(k2_ref) > 0
        for k, ct in enumerate(tacs):
            try:
                f = self.fit(ct, cr, frame_start_min, frame_end_min, weights=weights, t_star_min=t_star_min,
                             k2_ref=float(k2_ref[k]) if per_tac else k2_ref, window_min=window_min)
            except (ValueError, np.linalg.LinAlgError, FloatingPointError):
                continue
            if f.converged and np.isfinite(f.bp_nd):
                out[k] = f.bp_nd
        return out

    def used_frames(self, frame_start_min, frame_end_min, *, t_star_min=None, window_min=None) -> np.ndarray:
        """Boolean mask of the frames :meth:`fit` fits, for the same ``t_star_min`` and ``window_min``.

        (The fitted TAC of some models covers every frame although only these were fitted.)
        """
        start, end = check_frames(frame_start_min, frame_end_min)
        t_star = float(t_star_min or 0.0) if self.needs_t_star else 0.0
        return fit_frames(start, end, t_star, window_min if self.windowed else None, min_frames=1, model=self.name)

    def __repr__(self):
        return f"<model {self.name}: {self.title}>"


class SRTM(Model):
    name, title, n_params, min_frames = "srtm", "simplified reference tissue model (Lammertsma & Hume 1996)", 3, MIN_FRAMES["srtm"]

    def _fit(self, start, end, ct, cr, weights, t_star_min, k2_ref, window_min):
        return fit_srtm(start, end, ct, cr, weights=weights, window_min=window_min)

    def bp_many(self, tacs, cr, frame_start_min, frame_end_min, *, weights=None, t_star_min=None, k2_ref=None,
                window_min=None) -> np.ndarray:
        """All TACs at once by variable projection (:func:`petsim.modeling.srtm.srtm_bp_many`)."""
        return srtm_bp_many(frame_start_min, frame_end_min, tacs, cr, weights=weights, window_min=window_min)


class SRTM2(Model):
    name, title, n_params, min_frames = "srtm2", "SRTM with k2' fixed (Wu & Carson 2002)", 2, MIN_FRAMES["srtm2"]
    needs_k2_ref = True

    def _fit(self, start, end, ct, cr, weights, t_star_min, k2_ref, window_min):
        return fit_srtm2(start, end, ct, cr, k2_ref, weights=weights, window_min=window_min)

    def bp_many(self, tacs, cr, frame_start_min, frame_end_min, *, weights=None, t_star_min=None, k2_ref=None,
                window_min=None) -> np.ndarray:
        """All TACs at once by variable projection (:func:`petsim.modeling.srtm.srtm2_bp_many`)."""
        if k2_ref is None:
            raise ValueError("srtm2 needs k2_ref (1/min), the reference efflux")
        return srtm2_bp_many(frame_start_min, frame_end_min, tacs, cr, k2_ref, weights=weights, window_min=window_min)


class MRTM(Model):
    name, title, n_params, min_frames = "mrtm", "multilinear reference tissue model (Ichise et al. 2003)", 3, MIN_FRAMES["mrtm"]
    needs_t_star = True

    def _fit(self, start, end, ct, cr, weights, t_star_min, k2_ref, window_min):
        return fit_mrtm(start, end, ct, cr, weights=weights, t_star_min=t_star_min, window_min=window_min)


class MRTM2(Model):
    name, title, n_params, min_frames = "mrtm2", "MRTM with k2' fixed (Ichise et al. 2003)", 2, MIN_FRAMES["mrtm2"]
    needs_t_star = needs_k2_ref = True

    def _fit(self, start, end, ct, cr, weights, t_star_min, k2_ref, window_min):
        return fit_mrtm2(start, end, ct, cr, k2_ref, weights=weights, t_star_min=t_star_min, window_min=window_min)

    def bp_many(self, tacs, cr, frame_start_min, frame_end_min, *, weights=None, t_star_min=None, k2_ref=None,
                window_min=None) -> np.ndarray:
        """All TACs at once (one batched weighted least squares; :func:`petsim.modeling.linear.mrtm2_bp_many`)."""
        start, end, tacs, cr, w, use = _many(self, tacs, cr, frame_start_min, frame_end_min, weights, t_star_min,
                                             window_min)
        if k2_ref is None or not np.all(np.isfinite(k2_ref) & (np.asarray(k2_ref) > 0)):
            raise ValueError(f"mrtm2 needs positive k2_ref (1/min), got {k2_ref!r}")
        return mrtm2_bp_many(start, end, tacs, cr, k2_ref, w, use)


class LoganRef(Model):
    name, title, n_params, min_frames = "logan_ref", "Logan reference-tissue graphical analysis (Logan et al. 1996)", 2, MIN_FRAMES["logan_ref"]
    needs_t_star = requires_t_star = True

    def _fit(self, start, end, ct, cr, weights, t_star_min, k2_ref, window_min):
        return fit_logan_ref(start, end, ct, cr, t_star_min=t_star_min, k2_ref=k2_ref, window_min=window_min,
                             weights=weights)

    def bp_many(self, tacs, cr, frame_start_min, frame_end_min, *, weights=None, t_star_min=None, k2_ref=None,
                window_min=None) -> np.ndarray:
        """All TACs at once (one batched weighted least squares; :func:`petsim.modeling.linear.logan_bp_many`)."""
        if t_star_min is None:
            raise ValueError("logan_ref needs t_star_min (min): the start of the linear part of the Logan plot")
        start, end, tacs, cr, w, use = _many(self, tacs, cr, frame_start_min, frame_end_min, weights, t_star_min,
                                             window_min)
        return logan_bp_many(start, end, tacs, cr, k2_ref, w, use)


class TissueRatio(Model):
    name, title, n_params, min_frames = "ratio", "equilibrium tissue ratio (default window: the last third of the scan)", 1, 1
    weighted = False

    def _fit(self, start, end, ct, cr, weights, t_star_min, k2_ref, window_min):
        if window_min is None:
            window_min = self._default_window(start, end)
        return fit_tissue_ratio(start, end, ct, cr, window_min)

    @staticmethod
    def _default_window(start, end):
        return (end[-1] - (end[-1] - start[0]) / 3.0, end[-1])

    def used_frames(self, frame_start_min, frame_end_min, *, t_star_min=None, window_min=None):
        start, end = check_frames(frame_start_min, frame_end_min)
        return super().used_frames(start, end, window_min=self._default_window(start, end) if window_min is None
                                   else window_min)


class LpNtPET(Model):
    name, title = "lpntpet", "linear parametric neurotransmitter PET (Normandin et al. 2012)"
    n_params, min_frames = N_PARAMS_LPNTPET, N_PARAMS_LPNTPET + 2
    windowed = False  # the whole scan: the baseline before the release
    detects_release = True

    def _fit(self, start, end, ct, cr, weights, t_star_min, k2_ref, window_min):
        return fit_lpntpet(start, end, ct, cr, weights=weights)


def _many(model, tacs, cr, frame_start_min, frame_end_min, weights, t_star_min, window_min):
    """Checked inputs of a batched ``bp_many``: (start, end, tacs (n, frames), cr, w, fitted frames)."""
    tacs = np.atleast_2d(np.asarray(tacs, dtype=float))
    start, end, _, cr, w = prepare(frame_start_min, frame_end_min, tacs[0], cr, weights)
    if tacs.shape[1] != start.size or not np.all(np.isfinite(tacs)):
        raise ValueError(f"tacs must be finite, one row of {start.size} frames per TAC, got shape {tacs.shape}")
    use = fit_frames(start, end, float(t_star_min or 0.0), window_min, min_frames=model.min_frames, model=model.name)
    return start, end, tacs, cr, w, use


def _registry(*objects):
    return types.MappingProxyType({o.name: o for o in objects})


#: The models by name (a read-only mapping, in the order petsim lists them).
MODELS = _registry(SRTM(), SRTM2(), MRTM(), MRTM2(), LoganRef(), TissueRatio(), LpNtPET())


def get_model(name) -> Model:
    """The model called ``name`` (a :class:`Model` is returned as it is)."""
    if isinstance(name, Model):
        return name
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}") from None


class MapMethod:
    """A voxelwise method: BP_ND (and other parameter) maps of a 4D image against a reference TAC.

    Attributes
    ----------
    name : str
    model : str
        The regional model it is the voxelwise form of.
    needs_t_star, min_frames :
        As for :class:`Model` (the maps use the whole scan).
    """

    def __init__(self, name, model, function, needs_t_star=False):
        self.name = name
        self.model = model
        self.function = function
        self.needs_t_star = needs_t_star
        self.min_frames = MODELS[model].min_frames

    def compute(self, image4d, ref_tac, frame_start_min, frame_end_min, *, mask=None, t_star_min=0.0,
                progress=True) -> dict:
        """Parameter maps (dict of arrays, ``"BP_ND"`` among them) of ``image4d`` (x, y, z, frame)."""
        if self.needs_t_star:
            return self.function(image4d, ref_tac, frame_start_min, frame_end_min, mask=mask, t_star_min=t_star_min,
                                 progress=progress)
        return self.function(image4d, ref_tac, frame_start_min, frame_end_min, mask=mask, progress=progress)

    def __repr__(self):
        return f"<map method {self.name} (voxelwise {self.model})>"


#: The voxelwise methods by name.
MAPS = _registry(MapMethod("bfsrtm", "srtm", bfsrtm_map), MapMethod("mrtm2", "mrtm2", mrtm2_map, needs_t_star=True),
                 MapMethod("logan_ref", "logan_ref", logan_ref_map, needs_t_star=True))


def get_map(name) -> MapMethod:
    """The voxelwise method called ``name``."""
    try:
        return MAPS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown map method {name!r}; choose from {', '.join(MAPS)}") from None
