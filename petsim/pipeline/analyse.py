"""Stage 3: BP_ND estimation per scan, model and window, and its comparison with the truth.

ΔBP_ND is judged against the matched no-release control: within one
bolus-plus-infusion scan an early and a late window differ by a few percent
even without release, so the estimated change is
``ΔBP(release scan) - ΔBP(control scan)``. Its interval comes from the wild
bootstrap of each scan, its windows resampled together.
"""

from __future__ import annotations

import math


def fit_scan(tac_table, scenario, regions, skip_models=(), bootstrap: int = 0, seed=0):
    """Fit every model of the scenario (but ``skip_models``) to every region in every analysis window.

    k2' is estimated once for the scan, and with ``bootstrap`` replicates each region's TAC is
    resampled once for all windows (:func:`petsim.modeling.fit_windows`), so that the replicates
    of two windows pair for ΔBP_ND. Returns a list of (window name, FitResult).
    """
    from petsim.modeling import fit_windows

    an = scenario.analysis
    models = tuple(m for m in an.models if m not in skip_models)
    if not models:
        return []
    regions = [r for r in regions if r in tac_table.regions]  # regions without a VOI have no TAC
    ref = an.reference if isinstance(an.reference, str) else list(an.reference)
    per_window = fit_windows(tac_table, ref, [(w.start_min, w.end_min) for w in an.windows], models=models,
                             regions=regions, t_star_min=an.t_star_min, k2_ref=an.k2_ref_per_min, weights=an.weights,
                             bootstrap=bootstrap, seed=seed)
    return [(w.name, fit) for w, fits in zip(an.windows, per_window) for fit in fits]


def estimate_rows(scan: str, results) -> list[dict]:
    rows = []
    for window, fit in results:
        row = {"region": fit.region, "model": fit.model, "scan": scan, "window": window,
               "BP_ND": _f(fit.bp_nd), "converged": bool(fit.converged)}
        for k, v in (fit.params or {}).items():
            if k != "bp_nd":
                row[k] = _f(v)
        for k, v in (getattr(fit, "se", None) or {}).items():
            row[f"se_{k}"] = _f(v)
        rows.append(row)
    return rows


def fitted_rows(scan: str, results, tac_table) -> list[dict]:
    """The model curves of ``fit_scan``'s results, long format: one row per fitted frame.

    Columns: scan, window, model, region, frame_start and frame_end (s), fitted (Bq/mL); frames a
    fit did not use are left out. The report draws these; nothing is refitted.
    """
    import numpy as np

    start_s = 60.0 * np.asarray(tac_table.frame_start_min, float)
    end_s = 60.0 * np.asarray(tac_table.frame_end_min, float)
    rows = []
    for window, fit in results:
        curve = getattr(fit, "fitted", None)
        if curve is None:
            continue
        for i in np.flatnonzero(np.isfinite(np.asarray(curve, float))):
            rows.append({"scan": scan, "window": window, "model": fit.model, "region": fit.region,
                         "frame_start": float(start_s[i]), "frame_end": float(end_s[i]), "fitted": float(curve[i])})
    return rows


def _f(v):
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def compare_with_truth(estimates: list[dict], truth_rows: list[dict], windows, replicates=None,
                       level: float = 0.95) -> list[dict]:
    """One row per region and model: true and estimated BP_ND per window, bias, and ΔBP recovery.

    ``windows`` are the scenario's (``scenario.analysis.windows``): the first is the baseline and the
    last the task window. ``replicates`` maps (region, model, scan, window) to the bootstrap
    replicates of that fit (:func:`fit_scan` with ``bootstrap``); with them each row gains the
    percentile intervals (at ``level``) of BP_ND, of the corrected ΔBP_ND and of its percentage, from
    the paired replicates (the windows of one scan share their resampled TACs; the release and the
    control scan are independent), and ``release_detected``: the interval of ΔBP_ND excludes 0.
    """
    base_w, task_w = windows[0].name, windows[-1].name
    truth = {(r["region"], r["window"]): r for r in truth_rows}
    # A fit that did not converge gives no estimate (its number is not to be trusted).
    est = {(r["region"], r["model"], r["scan"], r["window"]): (r.get("BP_ND") if r.get("converged", True) else None)
           for r in estimates}
    keys = sorted({(r["region"], r["model"]) for r in estimates})
    rows = []
    for region, model in keys:
        tb, tt = truth.get((region, base_w)), truth.get((region, task_w))
        if tb is None or tt is None:
            continue
        true_base = float(tb["bp_nd_release"])
        true_task = float(tt["bp_nd_release"])
        # the truth judged as the estimate is, against the matched control: with the tracer's own mass the
        # control's BP_ND itself changes between the windows (its occupancy grows during the infusion)
        ctl_base, ctl_task = float(tb["bp_nd_control"]), float(tt["bp_nd_control"])
        true_delta = (true_task - true_base) - (ctl_task - ctl_base)
        eb = est.get((region, model, "release", base_w))
        et = est.get((region, model, "release", task_w))
        cb = est.get((region, model, "control", base_w))
        ct = est.get((region, model, "control", task_w))
        row = {
            "region": region, "model": model,
            "true_BP_ND": true_base, "BP_ND": eb,
            "bias_percent": percent_of(eb, true_base),
            "true_delta_BP_ND": true_delta,
            "true_percent_delta": 100.0 * true_delta / ctl_base if ctl_base else None,
        }
        if eb is not None and et is not None:
            row["delta_BP_ND_uncorrected"] = et - eb
            row["percent_delta_uncorrected"] = 100.0 * (et - eb) / eb if eb else None
        if None not in (eb, et, cb, ct):
            d = (et - eb) - (ct - cb)
            row["delta_BP_ND"] = d
            row["percent_delta"] = 100.0 * d / cb if cb else None
        if replicates:
            row.update(_intervals(replicates, region, model, base_w, task_w, level))
        rows.append(row)
    return rows


def _intervals(replicates: dict, region, model, base_w, task_w, level) -> dict:
    """Bootstrap SE and percentile intervals of BP_ND (release scan, baseline), corrected ΔBP_ND and %ΔBP_ND."""
    import numpy as np

    from petsim.modeling.bootstrap import delta_replicates, replicate_interval

    def reps(scan, window):
        r = replicates.get((region, model, scan, window))
        return None if r is None else np.asarray(r, dtype=float)

    def summary(name, values):
        se, lo, hi = (math.nan,) * 3 if values is None else replicate_interval(values, level)
        if not math.isfinite(lo):
            return {}
        return {f"{name}_se": se, f"{name}_ci_low": lo, f"{name}_ci_high": hi}

    eb, et, cb, ct = reps("release", base_w), reps("release", task_w), reps("control", base_w), reps("control", task_w)
    out = summary("BP_ND", eb)
    if all(v is not None for v in (eb, et, cb, ct)):
        delta, percent = delta_replicates(eb, et, cb, ct)
        out.update(summary("delta_BP_ND", delta))
        out.update(summary("percent_delta", percent))
        if "delta_BP_ND_ci_low" in out:
            out["release_detected"] = not (out["delta_BP_ND_ci_low"] <= 0.0 <= out["delta_BP_ND_ci_high"])
    return out


def percent_of(value, reference):
    """100 (value - reference) / reference; None where either is missing or the reference is 0."""
    if value is None or not reference:
        return None
    return 100.0 * (value - reference) / reference


def format_table(rows: list[dict], columns: list[str], floatfmt: str = "{:.3f}") -> str:
    """A plain text table for the terminal."""
    def cell(v):
        if v is None:
            return "n/a"
        if isinstance(v, float):
            return floatfmt.format(v)
        return str(v)

    body = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(b[i]) for b in body)) if body else len(c) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(b, widths))) for b in body]
    return "\n".join(out)


def regions_to_report(scenario, truth_rows) -> list[str]:
    """The scenario's list, or every region with specific binding (and released regions first)."""
    if scenario.analysis.regions:
        from petsim.pipeline.world import expand_regions

        names = {r["region"] for r in truth_rows}
        return expand_regions(scenario.analysis.regions, names, "analysis.regions")
    seen = []
    for r in truth_rows:
        if r["region"] not in seen and (r.get("bp_nd_baseline") or 0) > 0.05:
            seen.append(r["region"])
    released = [r for r in seen if any(t["region"] == r and abs(t.get("delta_bp_nd") or 0) > 0 for t in truth_rows)]
    return released + [r for r in seen if r not in released]

