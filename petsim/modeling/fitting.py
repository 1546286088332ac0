"""Fit several models to every region of a TAC table."""

from __future__ import annotations

import numpy as np

from .linear import fit_mrtm
from .models import MODELS, get_model
from .results import FitResult
from .tactable import TacTable, match_regions
from .weights import frame_weights

#: Frame weights a string may name: ``counts`` (the default) is the variance of a decay-corrected
#: frame mean from its counts, var_i ~ C(t_i) exp(lambda t_i) / dt_i, with the reference TAC as the
#: activity (smooth, and not the target's own noise: weights from a noisy target bias its fit).
WEIGHTS = ("counts", "decay", "duration", "none")


def estimate_k2_ref(frame_start_min, frame_end_min, tacs: dict, cr, weights=None) -> tuple[float, str]:
    """The reference efflux k2' (1/min) of one scan, estimated once from its whole acquisition.

    MRTM (three parameters, every frame from injection on) is fitted to each region, and k2' is the
    median k2/R1 over the converged fits of the regions whose BP_ND is at or above the median: the
    approach of Ichise et al. (JCBFM 2003;23:1096, MRTM2) and, with SRTM as the first pass, of Wu &
    Carson (JCBFM 2002;22:1440, SRTM2). Estimated inside a short late window instead, k2' is not
    identifiable (near steady state the reference TAC and the integrals are collinear).

    Returns
    -------
    (k2_ref, note) : float (1/min) and which regions it came from.
    """
    fits = {r: fit_mrtm(frame_start_min, frame_end_min, ct, cr, weights=weights) for r, ct in tacs.items()}
    good = {r: f for r, f in fits.items() if f.converged and np.isfinite(f.bp_nd) and f.params.get("k2_ref", 0) > 0}
    if not good:
        raise ValueError("no region's whole-scan MRTM fit converged, so k2' (1/min) cannot be estimated; "
                         "give k2_ref (petsim fit --k2-ref)")
    median_bp = np.median([f.bp_nd for f in good.values()])
    high = sorted(r for r, f in good.items() if f.bp_nd >= median_bp)
    k2 = float(np.median([good[r].params["k2_ref"] for r in high]))
    return k2, f"k2' = {k2:.4g}/min from whole-scan MRTM of {', '.join(high)}"


def _weights(kind, start, end, cr, half_life_min):
    if not isinstance(kind, str):
        return kind
    if kind not in WEIGHTS:
        raise ValueError(f"weights = {kind!r} is not known; choose one of {', '.join(WEIGHTS)} or give an array")
    kw = {} if half_life_min is None else {"half_life_min": half_life_min}
    if kind == "counts":
        return frame_weights(start, end, kind="decay", tac=cr, **kw)
    return frame_weights(start, end, kind=kind, **kw)


def fit_models(table: TacTable, ref, models=("srtm",), regions=None, t_star_min=None, k2_ref=None, window_min=None,
               weights="counts", half_life_min=None, bootstrap: int = 0, seed: int = 0) -> list[FitResult]:
    """Fit each model to each region of ``table``.

    Parameters
    ----------
    table : TacTable
    ref : str or list of str
        Reference column, a prefix matching several columns, or a list (their mean).
    models : sequence of str
        Names in :data:`petsim.modeling.MODELS` (``srtm, srtm2, mrtm, mrtm2, logan_ref, ratio, lpntpet``).
    regions : list of str, optional
        Regions to fit (default all but the reference columns).
    t_star_min : float, optional
        t* (min) for MRTM/MRTM2/Logan (required by Logan).
    k2_ref : float, optional
        Reference efflux (1/min) for SRTM2, MRTM2 and Logan. Without it
        SRTM2 and MRTM2 take the median k2/R1 of a first SRTM (resp. MRTM)
        pass over the regions with above-median BP_ND; Logan leaves the term out.
    window_min : (float, float), optional
        Fit window (min). The tissue ratio uses the last third of the scan without it.
    weights : None, "duration", "decay", "none" or array
        Frame weights (see :func:`frame_weights`); a string picks the kind
        (decay with ``half_life_min``, carbon-11 by default).
    bootstrap : int
        Wild-bootstrap replicates per converged fit (0: none). With them the SE of BP_ND is the
        bootstrap's (:func:`petsim.modeling.bootstrap_bp`, not the regression's) and ``params`` gain
        ``BP_ND_ci_low``, ``BP_ND_ci_high`` (95 % percentile interval) and ``bootstrap_finite``.
    seed : int
        Seed of the bootstrap draws (each region and model has its own stream of it).

    Returns
    -------
    list of FitResult, with ``region`` set, in region-then-model order.
    """
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise ValueError(f"unknown model(s) {unknown}; choose from {tuple(MODELS)}")
    chosen = [get_model(m) for m in dict.fromkeys(models)]
    start, end = table.frame_start_min, table.frame_end_min
    ref_cols = match_regions(table.regions, ref)
    cr = table.reference(ref_cols)
    if regions is None:
        regions = [r for r in table.regions if r not in ref_cols]
    missing = [r for r in regions if r not in table.regions]
    if missing:
        raise KeyError(f"region(s) {missing} not in the table; columns are {table.names}")
    w = _weights(weights, start, end, cr, half_life_min)
    for model in chosen:
        if model.requires_t_star and t_star_min is None:
            raise ValueError(f"{model.name} needs t_star_min (min): the start of the linear part of the Logan plot")

    # k2' of the whole scan, once for the two-step models (SRTM2, MRTM2); when it cannot be estimated
    # these models give non-converged results that say why (rather than stopping every other model's fit)
    k2, k2_error = k2_ref, ""
    if k2 is None and any(model.needs_k2_ref for model in chosen):
        try:
            k2 = estimate_k2_ref(start, end, {r: table.regions[r] for r in regions}, cr, weights=w)[0]
        except ValueError as err:
            k2_error = str(err)
    if not (isinstance(bootstrap, (int, np.integer)) and not isinstance(bootstrap, bool) and bootstrap >= 0):
        raise ValueError(f"bootstrap must be a whole number of replicates >= 0, got {bootstrap!r}")
    streams = iter(np.random.SeedSequence(seed).spawn(len(chosen) * len(regions)))
    out: dict[str, dict[str, FitResult]] = {r: {} for r in regions}
    for model in chosen:
        for r in regions:
            stream = next(streams)
            if model.needs_k2_ref and k2 is None:
                out[r][model.name] = FitResult(model.name, float("nan"), {}, {}, False, k2_error, None).with_region(r)
                continue
            kw = dict(weights=w, t_star_min=t_star_min, k2_ref=k2 if model.needs_k2_ref else k2_ref,
                      window_min=window_min)
            fit = model.fit(table.regions[r], cr, start, end, **kw).with_region(r)
            if bootstrap and fit.converged and np.isfinite(fit.bp_nd):
                fit = _with_bootstrap(fit, model, table.regions[r], cr, start, end, bootstrap, stream, kw)
            out[r][model.name] = fit
    return [out[r][m] for r in regions for m in models]


def _with_bootstrap(fit: FitResult, model, ct, cr, start, end, n_boot: int, stream, kw: dict) -> FitResult:
    """``fit`` with the bootstrap's SE of BP_ND and its 95 % interval (a failed bootstrap says why)."""
    from dataclasses import replace

    from petsim.modeling.bootstrap import bootstrap_bp

    try:
        boot = bootstrap_bp(model.name, ct, cr, start, end, n_boot=n_boot, rng=np.random.default_rng(stream), **kw)
    except ValueError as err:
        return replace(fit, message=(fit.message + "; " if fit.message else "") + f"bootstrap failed: {err}")
    low, high = boot.interval
    params = {**fit.params, "BP_ND_ci_low": low, "BP_ND_ci_high": high, "bootstrap_finite": boot.n_finite}
    return replace(fit, params=params, se={**fit.se, "BP_ND": boot.se})
