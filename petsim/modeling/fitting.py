"""Fit several models to every region of a TAC table."""

from __future__ import annotations

import numpy as np

from .linear import fit_mrtm, mrtm_many
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
    names = sorted(good)
    k2, high = _k2_of_high_binding(np.array([good[r].bp_nd for r in names]),
                                   np.array([good[r].params["k2_ref"] for r in names]))
    return k2, f"k2' = {k2:.4g}/min from whole-scan MRTM of {', '.join(r for r, h in zip(names, high) if h)}"


def _k2_of_high_binding(bp: np.ndarray, k2: np.ndarray) -> tuple[float, np.ndarray]:
    """The scan's k2': the median k2/R1 over the regions whose BP_ND is at or above the median BP_ND of
    the regions with a usable fit (finite ``bp``). Returns (k2', mask of the regions used); NaN, and an
    empty mask, when no region has one."""
    ok = np.isfinite(bp)
    if not ok.any():
        return float("nan"), ok
    high = ok & (bp >= np.median(bp[ok]))
    return float(np.median(k2[high])), high


def k2_ref_replicates(frame_start_min, frame_end_min, tacs: dict, cr, weights, n_boot: int, rng) -> np.ndarray:
    """Bootstrap replicates of the scan's k2' (1/min): :func:`estimate_k2_ref` on resampled TACs.

    Each region's TAC is resampled around the TAC its whole-scan MRTM fit implies, with its own
    Rademacher signs (the wild bootstrap of :func:`petsim.modeling.bootstrap_windows`), and k2' is
    estimated from the resampled regions as from the measured ones (the same regions' median).
    NaN where a replicate's estimate fails. The window fits' bootstrap refits replicate k with
    k2'_k, so an interval of BP_ND from SRTM2 or MRTM2 carries the noise of the estimated k2'.
    (A region's signs here are drawn apart from those of its own window refits, so the
    correlation between a target's noise and the k2' it helped to estimate is left out.)
    """
    from petsim.modeling.bootstrap import implied_tac

    start, end = np.asarray(frame_start_min, float), np.asarray(frame_end_min, float)
    cr = np.asarray(cr, dtype=float)
    everything = np.ones(start.size, bool)
    centres, resids = {}, {}
    for region, ct in tacs.items():
        ct = np.asarray(ct, dtype=float)
        fit = fit_mrtm(start, end, ct, cr, weights=weights)
        if not (fit.converged and np.isfinite(fit.bp_nd)):
            centres[region], resids[region] = ct, np.zeros_like(ct)  # held at the measured TAC
            continue
        centre = implied_tac(fit, ct, cr, start, end, everything)
        centres[region] = centre
        resids[region] = (ct - centre) * np.sqrt(ct.size / (ct.size - 3))  # HC1, MRTM's 3 parameters
    signs = 2.0 * rng.integers(0, 2, size=(len(tacs), int(n_boot), start.size)) - 1.0
    # whole-scan MRTM of every replicate of every region, batched (mrtm_many is fit_mrtm's estimate)
    bp, k2 = np.empty((len(tacs), int(n_boot))), np.empty((len(tacs), int(n_boot)))
    w = np.ones(start.size) if weights is None else np.asarray(weights, dtype=float)
    for i, r in enumerate(tacs):
        bp[i], k2[i], good = mrtm_many(start, end, centres[r][None, :] + resids[r][None, :] * signs[i], cr, w,
                                       everything)
        bp[i][~good | ~(k2[i] > 0)] = np.nan
    # estimate_k2_ref's median of the high-binding regions, per replicate
    return np.array([_k2_of_high_binding(bp[:, k], k2[:, k])[0] for k in range(int(n_boot))])


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
               weights="counts", half_life_min=None, bootstrap: int = 0, seed=0) -> list[FitResult]:
    """Fit each model to each region of ``table``, in one window (or the whole scan).

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
        Reference efflux (1/min) for SRTM2, MRTM2 and Logan. Without it SRTM2 and MRTM2 take the
        scan's k2' from :func:`estimate_k2_ref` (whole-scan MRTM); Logan leaves the term out.
    window_min : (float, float), optional
        Fit window (min). The tissue ratio uses the last third of the scan without it.
    weights : None, "counts", "decay", "duration", "none" or array
        Frame weights (see :func:`frame_weights`); a string picks the kind
        (decay with ``half_life_min``, carbon-11 by default).
    bootstrap : int
        Wild-bootstrap replicates per converged fit (0: none). With them the SE of BP_ND is the
        bootstrap's (:func:`petsim.modeling.bootstrap_bp`, not the regression's), ``params`` gain
        ``BP_ND_ci_low``, ``BP_ND_ci_high`` (95 % percentile interval) and ``bootstrap_finite``,
        and ``replicates`` holds the replicates. A k2' estimated here is estimated again in every
        replicate (:func:`k2_ref_replicates`), so its noise is in SRTM2's and MRTM2's intervals.
    seed : int or sequence of int
        Seed of the bootstrap draws (each region and model has its own stream of it).

    Returns
    -------
    list of FitResult, with ``region`` set, in region-then-model order.
    """
    return fit_windows(table, ref, [window_min], models, regions, t_star_min, k2_ref, weights, half_life_min,
                       bootstrap, seed)[0]


def fit_windows(table: TacTable, ref, windows, models=("srtm",), regions=None, t_star_min=None, k2_ref=None,
                weights="counts", half_life_min=None, bootstrap: int = 0, seed=0) -> list[list[FitResult]]:
    """Fit each model to each region of ``table`` in each of several windows of the one scan.

    As :func:`fit_models` (same parameters), with ``windows`` a list of fit windows (min, or None
    for the whole scan). k2' is estimated once for the scan, and a bootstrap resamples each region's
    TAC once for all windows (:func:`petsim.modeling.bootstrap_windows`), so that replicate k of
    two windows' fits pair: ΔBP_ND's interval is the percentile interval of the paired
    differences.

    Returns
    -------
    list (one per window) of lists of FitResult in region-then-model order.
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
    if not (isinstance(bootstrap, (int, np.integer)) and not isinstance(bootstrap, bool) and bootstrap >= 0):
        raise ValueError(f"bootstrap must be a whole number of replicates >= 0, got {bootstrap!r}")
    windows = list(windows)

    # k2' of the whole scan, once for the two-step models (SRTM2, MRTM2); when it cannot be estimated
    # these models give non-converged results that say why (rather than stopping every other model's fit)
    k2, k2_error = k2_ref, ""
    if k2 is None and any(model.needs_k2_ref for model in chosen):
        try:
            k2 = estimate_k2_ref(start, end, {r: table.regions[r] for r in regions}, cr, weights=w)[0]
        except ValueError as err:
            k2_error = str(err)
    children = np.random.SeedSequence(seed).spawn(len(chosen) * len(regions) + 1)
    streams = iter(children[:-1])
    k2_reps = None
    if bootstrap and k2_ref is None and k2 is not None and any(model.needs_k2_ref for model in chosen):
        # k2' was estimated from these TACs: its noise goes into the two-step models' intervals
        k2_reps = k2_ref_replicates(start, end, {r: table.regions[r] for r in regions}, cr, w, bootstrap,
                                    np.random.default_rng(children[-1]))
    out: dict[tuple, FitResult] = {}
    for model in chosen:
        for r in regions:
            stream = next(streams)
            if model.needs_k2_ref and k2 is None:
                for i in range(len(windows)):
                    out[i, r, model.name] = FitResult(model.name, float("nan"), {}, {}, False, k2_error,
                                                      None).with_region(r)
                continue
            kw = dict(weights=w, t_star_min=t_star_min, k2_ref=k2 if model.needs_k2_ref else k2_ref)
            fits = [model.fit(table.regions[r], cr, start, end, window_min=win, **kw).with_region(r)
                    for win in windows]
            if bootstrap and not model.detects_release:  # a release test's truth is a timing, not an interval
                fits = _with_bootstrap(fits, model, table.regions[r], cr, start, end, windows, bootstrap, stream, kw,
                                       k2_reps if model.needs_k2_ref else None)
            for i, fit in enumerate(fits):
                out[i, r, model.name] = fit
    return [[out[i, r, m] for r in regions for m in models] for i in range(len(windows))]


def _with_bootstrap(fits, model, ct, cr, start, end, windows, n_boot: int, stream, kw: dict,
                    k2_reps=None) -> list[FitResult]:
    """``fits`` with the bootstrap's SE of BP_ND, its 95 % interval and replicates (a failure says why)."""
    from dataclasses import replace

    from petsim.modeling.bootstrap import bootstrap_windows

    good = [i for i, f in enumerate(fits) if f.converged and np.isfinite(f.bp_nd)]
    if not good:
        return fits
    try:
        boots = bootstrap_windows(model.name, ct, cr, start, end, [windows[i] for i in good], n_boot=n_boot,
                                  rng=np.random.default_rng(stream), k2_ref_replicates=k2_reps, **kw)
    except ValueError as err:
        note = f"bootstrap failed: {err}"
        return [replace(f, message=(f.message + "; " if f.message else "") + note) if i in good else f
                for i, f in enumerate(fits)]
    out = list(fits)
    for i, boot in zip(good, boots):
        if boot is None:
            continue
        fit = fits[i]
        low, high = boot.interval
        params = {**fit.params, "BP_ND_ci_low": low, "BP_ND_ci_high": high, "bootstrap_finite": boot.n_finite}
        out[i] = replace(fit, params=params, se={**fit.se, "BP_ND": boot.se}, replicates=boot.replicates)
    return out
