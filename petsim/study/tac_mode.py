"""The fast TAC-level replicate: regional TACs with a count-statistics noise model.

This mode skips phantom, scanner and reconstruction. For each scan it

1. simulates noise-free, decay-corrected, frame-averaged regional TACs for the
   subject's parameters with the pipeline's own kinetics
   (:func:`petsim.pipeline.simulate.regional_kinetics`: the same plasma input,
   frames, releases and subject tracer as image mode, so both modes simulate
   the same subjects);
2. adds Gaussian noise with the TAC-level model used in kinetic-modelling
   simulation papers (see docs/kinetics reference):
   ``var_i = S^2 C(t_i) exp(lambda t_i) / dt_i`` (C decay-corrected, t_i the
   frame mid-time, dt_i its duration, lambda the C-11 decay constant), where
   the scale S is set once per scan so that the reference region's frames have
   an RMS coefficient of variation equal to ``noise_cov``;
3. fits the study's reference-tissue models with :func:`petsim.modeling.fit_windows` (both windows of a
   scan at once, with a joint bootstrap when the study asks for one), and again on the noise-free TACs
   (the attainable values).

It is a model of noise, not a simulation of it: it ignores region size,
partial volume, reconstruction bias and noise correlations between regions.
Use it for many replicates (false-positive rates, power curves); use the
"image" mode to validate it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from petsim.modeling.bootstrap import delta_replicates, replicate_interval
from petsim.pipeline.world import make_releases
from petsim.study import seeds
from petsim.study.cohort import Subject, draw_subject
from petsim.study.config import StudyConfig
from petsim.study.tasks import MATCHED_CONTROL, Task

# Noise-free simulations are cached per worker process: subjects without
# between-subject variability (and control scans) share them.
_CACHE_SIZE = 256
_noise_free_cache: OrderedDict = OrderedDict()
_setup_cache: dict = {}
_cache_lock = threading.Lock()  # workers may run several tasks in threads of one process


@dataclass(frozen=True)
class _Setup:
    """Per-process objects that depend only on the study, built from its scenario by the pipeline's builders."""

    tracer: object  # petsim.kinetics.Tracer (the population table)
    input: object  # petsim.kinetics.PlasmaInput
    frames: object  # petsim.frames.FrameSchedule
    ref_regions: list
    decay_per_min: float


def _setup(study: StudyConfig) -> _Setup:
    """Per-process objects that depend only on the study (input, frames, tracer)."""
    key = study.fingerprint()
    with _cache_lock:
        setup = _setup_cache.get(key)
    if setup is None:
        from petsim.core.isotopes import get_isotope
        from petsim.pipeline.simulate import scenario_tracer
        from petsim.pipeline.world import frame_schedule, plasma_input

        sc = study.scenario
        tracer = scenario_tracer(sc)
        setup = _Setup(tracer=tracer, input=plasma_input(sc), frames=frame_schedule(sc),
                       ref_regions=_ref_regions(study.ref, tracer),
                       decay_per_min=get_isotope(sc.tracer.isotope).decay_constant_per_min)
        with _cache_lock:
            if len(_setup_cache) >= 4:  # a worker rarely serves more than one study at a time
                _setup_cache.clear()
            _setup_cache[key] = setup
    return setup


def _ref_regions(ref, tracer) -> list:
    """Concrete region names for the reference: a name the table knows, or its _l/_r pair."""
    names = [ref] if isinstance(ref, str) else list(ref)
    out = []
    for name in names:
        try:
            tracer.params(name)
            out.append(name)
        except KeyError:
            pair = [f"{name}_l", f"{name}_r"]
            for side in pair:
                tracer.params(side)  # KeyError names the known regions
            out += pair
    return out


def _truth_window(study: StudyConfig, frames) -> tuple:
    if study.truth_window_min is not None:
        return study.truth_window_min
    if study.window_min is not None:
        return study.window_min
    end = float(np.asarray(frames.ends_min)[-1])
    onset = min((rel.onset_min for rel in study.scenario.releases), default=0.0)
    return (onset, end)


def subject_overrides(subject: Subject) -> dict:
    """A subject's factors as the pipeline takes them (:func:`petsim.pipeline.simulate.subject_tracer`):
    K1 and k2 scaled together by ``k1_scale``, k3 per region by ``bp_scale``."""
    return {"k1_scale": subject.k1_scale, "bp_nd_scale": dict(subject.bp_scale)}


def _noise_free(study, setup, subject: Subject, releases_key, releases, regions, windows):
    """Noise-free frame TACs with and without release, and truth rows per window; cached per process.

    Returns
    -------
    (tacs_release, tacs_control, truth) with tacs dict region -> (n_frames,)
    and truth dict window -> region -> truth row of ``KineticsResult.truth_table``.
    """
    key = (study.fingerprint(), subject.k1_scale, tuple(sorted(subject.bp_scale.items())), releases_key)
    with _cache_lock:
        hit = _noise_free_cache.get(key)
        if hit is not None:
            _noise_free_cache.move_to_end(key)
            return hit
    from petsim.pipeline.simulate import regional_kinetics

    res = regional_kinetics(study.scenario, list(regions), setup.frames, subject=subject_overrides(subject),
                            releases=tuple(releases), tracer=setup.tracer, inp=setup.input)
    rel = res.frame_means()
    ctrl = res.frame_means(control=True)
    tacs_release = {r: rel[i] for i, r in enumerate(res.region_names)}
    tacs_control = {r: ctrl[i] for i, r in enumerate(res.region_names)}
    truth = {w: {row["region"]: row for row in res.truth_table(window_min=w)} for w in windows}
    with _cache_lock:
        _noise_free_cache[key] = (tacs_release, tacs_control, truth)
        if len(_noise_free_cache) > _CACHE_SIZE:
            _noise_free_cache.popitem(last=False)
    return tacs_release, tacs_control, truth


def add_tac_noise(tacs: dict, frames, decay_per_min: float, noise_cov: float, ref_regions, rng,
                  scales: dict | None = None) -> dict:
    """Add TAC-level Gaussian noise ``var_i = S^2 C_i exp(lambda t_i) / dt_i``.

    Parameters
    ----------
    tacs : dict
        Region -> noise-free decay-corrected frame means (Bq/mL).
    frames : FrameSchedule
    decay_per_min : float
        Decay constant lambda (1/min).
    noise_cov : float
        Target RMS coefficient of variation of the reference region's frames
        (frames below 1 % of its peak are left out of the RMS).
    ref_regions : list of str
        The reference region(s); S is set from their mean TAC.
    rng : numpy.random.Generator
    scales : dict, optional
        Region -> its own S, measured on an image-mode run of the design
        (:func:`petsim.study.noise_model.tac_noise_scales`); replaces the one S of ``noise_cov``.

    Returns
    -------
    dict
        Region -> noisy TAC; regions drawn in sorted order so results do not
        depend on dict order.
    """
    if noise_cov == 0 and scales is None:
        return {r: v.copy() for r, v in tacs.items()}
    mid = np.asarray(frames.mid_min, dtype=float)
    dt = np.asarray(frames.durations_min, dtype=float)
    growth = np.exp(decay_per_min * mid) / dt  # exp(lambda t_i) / dt_i
    names = sorted(tacs)
    if scales is not None:
        s2 = {n: _noise_scale_squared(n, scales) for n in names}
    else:
        c_ref = np.mean([tacs[r] for r in ref_regions], axis=0)
        use = c_ref > 0.01 * c_ref.max()
        # RMS COV over frames: mean_i(S^2 growth_i / C_i) = cov^2.
        s2 = dict.fromkeys(names, noise_cov**2 / np.mean(growth[use] / c_ref[use]))
    z = rng.standard_normal((len(names), mid.size))
    return {name: tacs[name] + np.sqrt(s2[name] * np.clip(tacs[name], 0.0, None) * growth) * z[i]
            for i, name in enumerate(names)}


def _noise_scale_squared(region: str, scales: dict) -> float:
    """S^2 of ``region`` from a noise table; a structure without its side (a TAC of both sides, twice the
    volume) averages its two sides' independent noise: ``(S_l^2 + S_r^2) / 4``."""
    if region in scales:
        return float(scales[region]) ** 2
    if f"{region}_l" in scales and f"{region}_r" in scales:
        return (float(scales[f"{region}_l"]) ** 2 + float(scales[f"{region}_r"]) ** 2) / 4.0
    raise KeyError(f"the noise table has no noise scale for {region!r} (nor for both its sides); "
                   f"it has {sorted(scales)}")


class _FailedFit:
    """Stands in for a FitResult when a model raised: a non-converged fit that says why."""

    def __init__(self, region, model, error):
        self.region, self.model, self.bp_nd, self.se, self.converged = region, model, float("nan"), {}, False
        self.message, self.params, self.replicates = error, {}, None


def _fit(study: StudyConfig, frames, tacs, ref_regions, windows, bootstrap: int = 0, seed=0) -> list:
    """Fit each model in each window (one list of fits per window), each model separately, so that one
    model's failure costs only its own rows. With ``bootstrap`` the windows are resampled together."""
    from petsim.modeling import TacTable, fit_windows

    table = TacTable(np.asarray(frames.starts_min, float), np.asarray(frames.ends_min, float), tacs)
    an = study.scenario.analysis
    kwargs = {"ref": ref_regions if len(ref_regions) > 1 else ref_regions[0], "regions": list(study.regions),
              "windows": list(windows), "weights": an.weights, "k2_ref": an.k2_ref_per_min,
              "bootstrap": bootstrap}
    if study.t_star_min is not None:
        kwargs["t_star_min"] = study.t_star_min
    per_window = [[] for _ in windows]
    for index, model in enumerate(study.models):
        try:
            fits = fit_windows(table, models=(model,), seed=[*np.atleast_1d(seed).tolist(), index], **kwargs)
        except (ValueError, RuntimeError, ArithmeticError, np.linalg.LinAlgError) as err:
            fits = [[_FailedFit(region, model, f"{type(err).__name__}: {err}") for region in study.regions]
                    for _ in windows]
        for i, window_fits in enumerate(fits):
            per_window[i] += window_fits
    return per_window


def _se_of_bp(fit):
    se = getattr(fit, "se", None) or {}
    for key in ("bp_nd", "BP_ND", "bp"):
        if key in se and se[key] is not None and np.isfinite(se[key]):
            return float(se[key])
    return None


def _percentiles(values, level: float):
    """(low, high) percentile interval of the finite replicates, or (None, None) with fewer than 10."""
    _, lo, hi = replicate_interval(values, level)
    return (lo, hi) if np.isfinite(lo) else (None, None)


def run_tac_subject(study: StudyConfig, task: Task, subject_index: int) -> dict:
    """Simulate and fit every condition of one subject in one replicate.

    Returns
    -------
    dict
        ``subject`` (its parameters and trait) and ``rows``: one per condition,
        region and model with ``bp_nd`` (estimate), ``bp_nd_se`` (or None),
        ``converged`` and ``truth_bp_nd``; the matched control scan's rows
        (two-window design with ``matched_control``) also have ``scan =
        "matched_control"``, and their truth is the no-release ``bp_nd_control``.
    """
    setup = _setup(study)
    frames = setup.frames
    ref_regions = setup.ref_regions
    release_regions = [r for rel in study.scenario.releases for r in rel.regions]
    # Release regions must be simulated too (kinetics checks it), even if not analysed.
    regions = list(dict.fromkeys(list(study.regions) + ref_regions + release_regions))
    subject = draw_subject(study, subject_index, task.replicate, task.seed_arm)
    with_release = not task.control
    rel_key = (with_release, subject.release_scale if with_release else 0.0, task.effect_size)
    releases = make_releases(study.scenario, regions, subject.release_scale, task.effect_size) if with_release else []
    c0, c1 = study.conditions
    rows = []

    def noisy(scan_index, tacs):
        rng = seeds.generator(study.seed, seeds.STREAM_NOISE, task.seed_arm, task.replicate, subject_index,
                              scan_index)
        return add_tac_noise(tacs, frames, setup.decay_per_min, study.noise_cov, ref_regions, rng,
                             scales=study.noise_table)

    def fit(scan_index, tacs, windows):
        """Fits of the noisy TACs (bootstrapped) and of the noise-free ones (the attainable values)."""
        seed = [study.seed, seeds.STREAM_NOISE, task.seed_arm, task.replicate, subject_index, scan_index, 1]
        fits = _fit(study, frames, noisy(scan_index, tacs), ref_regions, windows, study.bootstrap, seed)
        attainable = _fit(study, frames, tacs, ref_regions, windows)
        return fits, attainable

    def collect(condition, fits, attainable, truth_rows, truth_key, scan=None) -> list:
        """Append one row per fit (with its attainable value and interval); returns the new rows."""
        reached = {(f.region, f.model): f for f in attainable}
        first = len(rows)
        for fit in fits:
            bp = float(fit.bp_nd) if fit.bp_nd is not None else float("nan")
            a = reached.get((fit.region, fit.model))
            rows.append({"condition": condition, "region": fit.region, "model": fit.model, "bp_nd": bp,
                         "bp_nd_se": _se_of_bp(fit), "converged": bool(fit.converged) and bool(np.isfinite(bp)),
                         "truth_bp_nd": float(truth_rows[fit.region][truth_key]),
                         "attainable_bp_nd": float(a.bp_nd) if a is not None and a.converged else None})
            lo, hi = _percentiles(fit.replicates, study.ci_level) if fit.replicates is not None else (None, None)
            if lo is not None:
                rows[-1].update(bp_nd_ci_low=lo, bp_nd_ci_high=hi)
            if scan is not None:
                rows[-1]["scan"] = scan
            if not rows[-1]["converged"] and getattr(fit, "message", ""):
                rows[-1]["message"] = str(fit.message)
        return rows[first:]

    def delta_intervals(target_rows, first, second, control=None):
        """The ΔBP_ND and %ΔBP_ND intervals from the paired replicates of the fits, put on ``target_rows``
        (the second condition's); with ``control`` (its two windows' fits) corrected by its difference."""
        reps = {}
        for name, fits in (("a", first), ("b", second)) + ((("ca", control[0]), ("cb", control[1])) if control else ()):
            for f in fits:
                reps[name, f.region, f.model] = f.replicates
        for row in target_rows:
            key = (row["region"], row["model"])
            parts = [reps.get((n, *key)) for n in (("a", "b", "ca", "cb") if control else ("a", "b"))]
            if any(p is None for p in parts):
                continue
            delta, percent = delta_replicates(*parts)
            for name, values in (("delta", delta), ("percent_delta", percent)):
                lo, hi = _percentiles(values, study.ci_level)
                if lo is not None:
                    row[f"{name}_ci_low"], row[f"{name}_ci_high"] = lo, hi

    if study.design == "two_scans":
        # The control scan is the same subject without release (kinetics gives both from one solve).
        window = _truth_window(study, frames)
        tacs1, tacs0, truth = _noise_free(study, setup, subject, rel_key, releases, regions, (window,))
        (f0,), (a0,) = fit(0, tacs0, [study.window_min])
        (f1,), (a1,) = fit(1, tacs1, [study.window_min])
        collect(c0, f0, a0, truth[window], "bp_nd_control")
        delta_intervals(collect(c1, f1, a1, truth[window], "bp_nd_release"), f0, f1)  # two independent scans
    else:  # two_windows: one scan, a baseline window and a release window
        windows = (study.baseline_window_min, study.release_window_min)
        tacs, tacs_control, truth = _noise_free(study, setup, subject, rel_key, releases, regions, windows)
        (f0, f1), (a0, a1) = fit(0, tacs, windows)
        control = None
        if study.matched_control:
            # The same subject without release (same solve), with its own noise: the windows' difference
            # in this scan is the window bias that the release scan's difference also carries.
            control, control_attainable = fit(seeds.SCAN_MATCHED_CONTROL, tacs_control, windows)
            for condition, window, fits, att in zip((c0, c1), windows, control, control_attainable):
                collect(condition, fits, att, truth[window], "bp_nd_control", scan=MATCHED_CONTROL)
        collect(c0, f0, a0, truth[windows[0]], "bp_nd_release")
        # the windows' replicates pair (resampled together)
        delta_intervals(collect(c1, f1, a1, truth[windows[1]], "bp_nd_release"), f0, f1, control)
    return {"subject": subject.to_dict(), "rows": rows}
