"""One scan end to end in memory, for studies that run many replicates (petsim.study).

Nothing is written to disk. The phantoms and the acquisition model's set-up
(attenuation, normalisation, calibration) are cached per process, so a
further replicate costs its basis projections, noise and reconstruction.
"""

from __future__ import annotations

import copy
from functools import lru_cache

import numpy as np

from petsim.pipeline.scenario import Scenario, resolve


def apply_overrides(raw: dict, overrides: dict | None) -> tuple[dict, dict | None]:
    """Scenario sections replaced (lists) or updated (tables) by ``overrides``; returns (raw, subject)."""
    raw = copy.deepcopy(raw)
    overrides = dict(overrides or {})
    subject = overrides.pop("subject", None)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = copy.deepcopy(value)
    return raw, subject


_MODELS: dict = {}


def _cached_model(world):
    """One acquisition model per scanner set-up (the scanner's normalisation stays fixed across noise replicates)."""
    from petsim.pipeline.simulate import acquisition_model

    sc = world.scenario
    key = (sc.phantom, sc.scanner, sc.physics, sc.recon, sc.tracer.isotope, sc.seed)
    if key not in _MODELS:
        _MODELS.clear()  # keep one: a model holds several sinograms' worth of memory
        _MODELS[key] = acquisition_model(world, progress=False)
    return _MODELS[key]


@lru_cache(maxsize=4)
def _cached_phantom(scenario_phantom, grid):
    from petsim.phantom import load

    return load(name=scenario_phantom.name, grid=grid)


def _phantom(scenario, grid):
    """The scenario's phantom on ``grid``, cached per process for shipped phantoms (a label image is read each time)."""
    from petsim.pipeline.world import is_label_image, load_phantom

    if is_label_image(scenario.phantom.name):
        return load_phantom(scenario, grid)
    return _cached_phantom(scenario.phantom, grid)


def run_in_memory(scenario, seed: int, overrides: dict | None = None) -> dict:
    """Simulate, reconstruct and fit one scan of ``scenario`` with noise seed ``seed``.

    Parameters
    ----------
    scenario : Scenario or dict
        A scenario (raw or resolved).
    seed : int
        Seed of this scan's noise. The scanner (its normalisation draw) comes from the
        scenario's own seed, so replicates differ by their noise alone.
    overrides : dict, optional
        Scenario sections to replace (``releases``) or update (``analysis`` ...),
        and ``subject = {"k1_scale": f, "bp_nd_scale": {region: g}}``.

    Returns
    -------
    dict with ``truth`` (rows: region, window, bp_nd_baseline, bp_nd_release, ...)
    and ``estimates`` (rows: region, model, window, BP_ND, converged, ...).
    """
    from petsim.modeling import TacTable, extract_tacs
    from petsim.pipeline.analyse import estimate_rows, fit_scan, regions_to_report
    from petsim.pipeline.reconstruct import reconstruct_scan
    from petsim.pipeline.simulate import simulate_kinetics, simulate_scans, truth_of
    from petsim.pipeline.world import World, validate, voi_labels

    raw = scenario.to_dict() if isinstance(scenario, Scenario) else scenario
    raw, subject = apply_overrides(raw, overrides)
    sc = resolve(raw)
    validate(sc)
    world = World(sc, phantom_loader=_phantom)
    res = simulate_kinetics(world, subject)
    truth = truth_of(world, res, with_blood_free=False)
    frames: dict = {}
    simulate_scans(world, res, seed=int(seed), sink=lambda scan, fr: frames.setdefault(scan, []).append(fr),
                   progress=False, model=_cached_model(world))
    ph = world.phantom_recon
    names_by_id = {r.id: r.name for r in ph.regions}
    regions = regions_to_report(sc, truth.rows)
    estimates = []
    for scan, scan_frames in frames.items():
        img = reconstruct_scan(world, scan_frames, progress=False)
        vois = voi_labels(ph, sc.analysis.voi)
        present = set(np.unique(vois).tolist())  # a "core" VOI can be empty for a thin structure
        tacs = extract_tacs(img, vois, {i: n for i, n in names_by_id.items() if i in present})
        starts = np.array([f.frame_start_min for f in scan_frames])
        ends = starts + np.array([f.frame_duration_min for f in scan_frames])
        estimates += estimate_rows(scan, fit_scan(TacTable(starts, ends, tacs), sc, regions,
                                                  bootstrap=sc.analysis.bootstrap, seed=[int(seed), 4]))
    return {"truth": truth.rows, "estimates": estimates}
