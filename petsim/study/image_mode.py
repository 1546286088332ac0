"""The image-level ("full") replicate: the whole pipeline for every scan.

Each scan is ``petsim.pipeline.run_in_memory(scenario, seed, overrides)``:
phantom, kinetics, acquisition with Poisson noise, reconstruction and the
modelling of the reconstructed TACs. ``overrides`` holds scenario sections
that replace the scenario's, plus the subject:

- ``releases``: the scenario's release tables with the subject's magnitude
  (an empty list for a control scan);
- ``analysis``: ``models``, ``regions``, ``reference`` and ``windows`` (a list of
  ``{name, start_min, end_min}``, named after the study's conditions), with
  ``control = false`` (the study makes its own control scans);
- ``subject``: ``{"k1_scale": f, "bp_nd_scale": {region: g}}``, the subject's
  factors on K1 and k2 together (every region) and on k3 (hence BP_ND) per
  region (:func:`petsim.pipeline.simulate.subject_tracer`, which TAC mode
  uses too); sent only when the study has between-subject variability of K1
  or BP_ND.

From the result it reads ``truth`` rows (``region``, ``window``,
``bp_nd_release``) and ``estimates`` rows (``region``, ``model``, ``window``,
``BP_ND``, optional ``se_BP_ND``, ``converged``). The seed of each scan comes
from the study seed and (arm, replicate, subject, condition), as in the TAC mode.

In the two-window design with ``matched_control`` every subject has a second
scan without release (``releases = []``, the same windows and subject, the
seed of condition ``seeds.SCAN_MATCHED_CONTROL``); its rows carry
``scan = "matched_control"``.
"""

from __future__ import annotations

from petsim.study import seeds
from petsim.study.cohort import draw_subject
from petsim.study.config import StudyConfig
from petsim.study.tasks import MATCHED_CONTROL, Task


def _run_in_memory():
    try:
        from petsim.pipeline import run_in_memory
    except ImportError as err:
        raise ImportError("study mode 'image' needs petsim.pipeline.run_in_memory, which is not available "
                          f"in this installation ({err}); use mode = 'tac'") from err
    return run_in_memory


def _scan_end_min(study: StudyConfig) -> float:
    from petsim.pipeline.world import frame_schedule

    return float(frame_schedule(study.scenario).scan_end_min)


def release_overrides(study: StudyConfig, task: Task, release_scale: float, with_release: bool) -> list:
    """The scenario's release tables with this subject's magnitude (empty without release).

    The magnitude is the one TAC mode gives the same subject (:func:`petsim.pipeline.world.drawn_magnitude`).
    """
    from petsim.pipeline.world import drawn_magnitude

    if not with_release:
        return []
    out = []
    for rel in study.scenario.releases:
        rel = rel.to_dict()
        base = rel["magnitude"] if task.effect_size is None else task.effect_size
        rel["magnitude"] = drawn_magnitude(float(base), release_scale)
        out.append(rel)
    return out


def _window_of(row):
    for key in ("window", "window_name", "condition"):
        if key in row:
            return row[key]
    return None


def _rows(result: dict, window_name: str, condition: str, scan: str | None = None) -> list:
    truth = {r["region"]: r for r in result.get("truth", []) if _window_of(r) in (window_name, None)}
    rows = []
    for est in result.get("estimates", []):
        if _window_of(est) not in (window_name, None) or est["region"] not in truth:
            continue
        if est.get("scan", "release") == "control":  # the pipeline's own matched control, if it made one
            continue
        bp = est.get("BP_ND", est.get("bp_nd"))
        bp = float("nan") if bp is None else float(bp)
        se = est.get("se_BP_ND", est.get("BP_ND_se", est.get("bp_nd_se")))
        rows.append({"condition": condition, "region": est["region"], "model": est["model"], "bp_nd": bp,
                     "bp_nd_se": None if se is None else float(se),
                     "converged": bool(est.get("converged", True)) and bp == bp,
                     "truth_bp_nd": float(truth[est["region"]]["bp_nd_release"])})
        if est.get("BP_ND_ci_low") is not None and est.get("BP_ND_ci_high") is not None:
            rows[-1].update(bp_nd_ci_low=float(est["BP_ND_ci_low"]), bp_nd_ci_high=float(est["BP_ND_ci_high"]))
        if scan is not None:
            rows[-1]["scan"] = scan
    return rows


def run_image_subject(study: StudyConfig, task: Task, subject_index: int) -> dict:
    """Run the full pipeline for every condition of one subject in one replicate."""
    run_in_memory = _run_in_memory()
    subject = draw_subject(study, subject_index, task.replicate, task.seed_arm)
    c0, c1 = study.conditions
    analysis = {"models": list(study.models), "regions": list(study.regions),
                "reference": study.ref if isinstance(study.ref, str) else list(study.ref), "control": False,
                "bootstrap": study.bootstrap}
    if study.t_star_min is not None:
        analysis["t_star_min"] = study.t_star_min
    subject_over = {"k1_scale": subject.k1_scale, "bp_nd_scale": dict(subject.bp_scale)}

    def scan(condition_index, with_release, windows):
        overrides = {"releases": release_overrides(study, task, subject.release_scale, with_release),
                     "analysis": dict(analysis, windows=[{"name": n, "start_min": a, "end_min": b}
                                                         for n, (a, b) in windows])}
        if subject_over["k1_scale"] != 1.0 or any(v != 1.0 for v in subject_over["bp_nd_scale"].values()):
            overrides["subject"] = subject_over  # only sent when the subject differs from the population
        seed = seeds.integer_seed(study.seed, seeds.STREAM_NOISE, task.seed_arm, task.replicate, subject_index,
                                  condition_index)
        return run_in_memory(study.scenario, seed=seed, overrides=overrides)

    with_release = not task.control
    if study.design == "two_scans":
        window = study.window_min or (0.0, _scan_end_min(study))
        rows = _rows(scan(0, False, [(c0, window)]), c0, c0)
        rows += _rows(scan(1, with_release, [(c1, window)]), c1, c1)
    else:  # one scan, both windows fitted on the same noisy data
        windows = [(c0, study.baseline_window_min), (c1, study.release_window_min)]
        result = scan(0, with_release, windows)
        rows = _rows(result, c0, c0) + _rows(result, c1, c1)
        if study.matched_control:  # the same subject without release, with its own noise seed
            control = scan(seeds.SCAN_MATCHED_CONTROL, False, windows)
            rows += _rows(control, c0, c0, MATCHED_CONTROL) + _rows(control, c1, c1, MATCHED_CONTROL)
    return {"subject": subject.to_dict(), "rows": rows}
