"""Stage 4: the validation report, figures as PNG and an HTML page that shows them.

The page answers the user's question first: can the release be seen, and with what uncertainty?
Then come what was simulated, the figures, the full tables (with units, below the figures) and the
provenance of the run. The report only reads the run's files (NIfTI, TSV, JSON); it fits nothing
and builds no phantom.
"""

from __future__ import annotations

import html
import json
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from petsim.io import read_nifti, read_tsv, write_text_atomic
from petsim.pipeline.layout import RunLayout

_EXPLANATION = """
<p>Bias has three sources, separated here. <b>Model bias</b>: the same models fitted to the
noise-free truth TACs (column <i>bias, noise-free TACs</i>); it comes from the blood volume
(vB), from a reference-tissue model applied to two-tissue-compartment regions, and from the
finite analysis window. <b>Imaging bias</b>: the difference between the two bias columns;
mostly the partial-volume effect: with a scanner resolution of about 4-5 mm FWHM small
structures (amygdala, nucleus accumbens, periaqueductal grey) lose activity to their
neighbours and gain from them, which pulls their BP_ND towards that of the surroundings.
Large regions (thalamus, putamen) are affected least. <b>Noise</b>: one noise realisation
here; use <code>petsim study</code> for bias and variance over many.</p>
<p>ΔBP_ND is the change of BP_ND from the baseline window to the task window. Within one
bolus-plus-infusion scan the two windows differ by a few percent even without any release,
so the estimate is judged against the matched no-release control scan:
ΔBP = ΔBP(release scan) − ΔBP(control scan), in percent of the control's baseline.</p>
"""

_STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:auto;padding:0 8px;line-height:1.4}"
          "table{border-collapse:collapse;font-size:13px;margin:6px 0}"
          "td,th{border:1px solid #bbb;padding:2px 6px;text-align:right;vertical-align:top}"
          "th{background:#f0f0f0;font-weight:600}td.t,th.t{text-align:left}"
          ".wide{overflow-x:auto}.note{color:#444;font-size:14px}.seen{color:#14632c}.unseen{color:#8a1c1c}"
          "img{max-width:100%}figure{margin:12px 0}figcaption{font-size:14px;color:#333}"
          "dl.prov{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dl.prov dd{margin:0}"
          "code{font-size:13px}")

#: The criterion of the verdict, in words (a single-realisation statement, not a test).
CRITERION = "the estimate has the sign and at least half the size of the true change"


# ---------------------------------------------------------------- numbers and tables

def fmt(value, kind: str = "sig") -> str:
    """A table cell: ``n/a`` for a missing or non-finite value, never ``-0.000``.

    ``kind``: ``pct`` (one decimal, for percentages), ``sig`` (3 significant digits, thousands
    separated), ``p`` (2 significant digits), ``min`` (minutes, up to 2 decimals), ``bool`` (yes/no),
    ``text``.
    """
    if value is None:
        return "n/a"
    if isinstance(value, bool) or kind == "bool":
        return "yes" if value else "no"
    if isinstance(value, str) and kind != "text":
        try:
            value = float(value)
        except ValueError:
            return html.escape(value)
    if kind == "text" or isinstance(value, str):
        return html.escape(str(value))
    if isinstance(value, (int, np.integer)) and kind != "pct":
        return f"{int(value):,}" if abs(int(value)) >= 10000 else str(int(value))
    v = float(value)
    if not math.isfinite(v):
        return "n/a"
    if kind == "pct":
        text = f"{v:.1f}"
    elif kind == "min":
        text = f"{v:.2f}".rstrip("0").rstrip(".")
    else:
        digits = 2 if kind == "p" else 3
        if v == 0.0:
            return "0"
        mag = math.floor(math.log10(abs(v)))
        if mag >= digits - 1:
            text = f"{v:,.0f}"
        else:
            text = f"{v:.{digits - 1 - mag}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0.0:
        text = text[1:]  # a value that rounds to zero has no sign
    return text


_UNITS = (("_percent", " (%)"), ("_bq_ml", " (Bq/mL)"), ("_min", " (min)"), ("_s", " (s)"), ("_mm", " (mm)"),
          ("_ml", " (mL)"))


def heading(key: str) -> str:
    """A readable column heading for a TSV column name: ``percent_error`` -> ``percent error``,
    ``true_bq_ml`` -> ``true (Bq/mL)``."""
    for suffix, unit in _UNITS:
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)].replace("_", " ") + unit
    return key.replace("_", " ")


def _kind_of(key: str) -> str:
    if "percent" in key or key.endswith("_pct"):
        return "pct"
    if key in ("p_value", "p"):
        return "p"
    return "sig"


def table_html(rows, columns) -> str:
    """An HTML table; ``columns`` are ``(key, heading, kind)`` triples, or plain keys (heading and
    format then follow from the key). The first column is text, left aligned."""
    spec = [c if isinstance(c, tuple) else (c, heading(c), _kind_of(c)) for c in columns]

    def cls(kind):
        return " class='t'" if kind == "text" else ""

    head = "".join(f"<th{cls(k)}>{html.escape(h)}</th>" for _, h, k in spec)
    body = "".join("<tr>" + "".join(f"<td{cls(k)}>{fmt(r.get(c), k)}</td>" for c, _, k in spec) + "</tr>"
                   for r in rows)
    return f"<div class='wide'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


# ---------------------------------------------------------------- the headline

def released_regions(scenario, region_names) -> list[str]:
    """The regions of the scenario's ``releases`` (a structure stands for both sides), in scenario order."""
    from petsim.pipeline.scenario import ScenarioError
    from petsim.pipeline.world import expand_regions

    out: list[str] = []
    for i, rel in enumerate(scenario.releases):
        try:
            names = expand_regions(rel.regions, list(region_names), f"releases[{i}].regions")
        except ScenarioError:
            names = list(rel.regions)
        out += [n for n in names if n not in out]
    return out


def seen(true, estimate) -> bool | None:
    """Whether ``estimate`` has the sign and at least half the size of ``true`` (None if either is missing)."""
    if true is None or estimate is None or not true or not math.isfinite(estimate):
        return None
    return estimate * true > 0 and abs(estimate) >= 0.5 * abs(true)


def verdict(true, estimate, attainable) -> str:
    """A plain sentence on one region and model (one noise realisation)."""
    if estimate is None:
        return "No estimate: a fit failed or did not converge, or no control scan was fitted."
    ok = seen(true, estimate)
    if ok is None:
        return "No true change here."
    if ok:
        text = "Seen in this realisation: " + CRITERION
        text += (", but it is more than twice too large." if abs(estimate) > 2 * abs(true) else ".")
    elif estimate * true > 0:
        text = "Not seen: the estimate has the right sign but less than half the size of the true change."
    else:
        text = "Not seen: the estimate has the wrong sign."
    a_ok = seen(true, attainable)
    if a_ok is False:
        text += (f" Even noise-free TACs give {fmt(attainable, 'pct')} %: the model and the analysis windows, "
                 "not the noise, limit what can be seen.")
    elif a_ok and not ok:
        text += f" Noise-free TACs give {fmt(attainable, 'pct')} %: noise and reconstruction hide the change here."
    return text


def estimated_delta(row: dict, control: bool) -> tuple:
    """The estimated %ΔBP_ND of a validation row, control-corrected; without a control scan the
    uncorrected value, with a note saying so."""
    est = row.get("percent_delta")
    if est is None and not control and row.get("percent_delta_uncorrected") is not None:
        return row["percent_delta_uncorrected"], " (no control scan: not control-corrected)"
    return est, ""


def headline_rows(lay: RunLayout, scenario) -> list[dict]:
    """One row per released region and model: true, estimated and attainable %ΔBP_ND, and the verdict."""
    validation = read_tsv(lay.deriv("validation", "bp"))
    truth = read_tsv(lay.deriv("truth", "bp"))
    names = list(dict.fromkeys([r["region"] for r in truth] + [r["region"] for r in validation]))
    task = scenario.analysis.windows[-1].name
    true_of = {r["region"]: r.get("percent_delta_bp_nd") for r in truth if r["window"] == task}
    models = list(dict.fromkeys(r["model"] for r in validation)) or list(scenario.analysis.models)
    by_key = {(r["region"], r["model"]): r for r in validation}
    control = scenario.analysis.control
    rows = []
    for region in released_regions(scenario, names):
        for model in models:
            v = by_key.get((region, model), {})
            true = v.get("true_percent_delta", true_of.get(region))
            est, note = estimated_delta(v, control)
            attainable = v.get("percent_delta_noisefree_tacs")
            detected = v.get("release_detected")
            rows.append({"region": region, "model": model, "true": true, "estimate": est, "attainable": attainable,
                         "ci": (v.get("percent_delta_ci_low"), v.get("percent_delta_ci_high")) if not note else
                         (None, None),
                         "detected": None if note or detected is None else str(detected).lower() == "true",
                         "seen": seen(true, est),
                         "verdict": ("Not analysed (not among the fitted regions)." if not v else
                                     verdict(true, est, attainable) + note)})
    return rows


def uncertainty_note(scenario) -> str:
    """How the intervals were made (or that there are none)."""
    n_boot = scenario.analysis.bootstrap
    study = ("For detection power and false-positive rate over many realisations, run <code>petsim study</code>.")
    if not n_boot:
        return ("<p class='note'><b>Uncertainty:</b> no interval was computed (<code>analysis.bootstrap = 0</code>); "
                f"this is one noise realisation. {study}</p>")
    return ("<p class='note'><b>Uncertainty:</b> 95% intervals are percentile intervals of a wild bootstrap of "
            f"each scan's reconstructed TACs ({n_boot} replicates; the two windows of a scan are resampled "
            "together, the release and the control scan independently; docs/modeling.md). They hold the noise of "
            "this realisation's TACs; the interval covers the attainable value, not the truth when the model is "
            "biased. \"Detected\" means the interval of ΔBP_ND excludes 0. " + study + "</p>")


def _release_text(scenario) -> str:
    """The scenario's releases in words: where, how much, when."""
    parts = []
    for rel in scenario.releases:
        regions = ", ".join(html.escape(r) for r in rel.regions)
        if rel.profile == "step":
            end = f" to {rel.end_min:g} min" if rel.end_min is not None else " to the end of the scan"
            parts.append(f"{regions}: {rel.magnitude:g} extra receptor occupancy, a step from {rel.onset_min:g} min{end}")
        else:
            parts.append(f"{regions}: {rel.magnitude:g} extra receptor occupancy at the peak of a gamma-variate "
                         f"response from {rel.onset_min:g} min peaking at {rel.peak_min:g} min")
    return "; ".join(parts)


def headline_section(lay: RunLayout, scenario) -> list[str]:
    """The answer first: can the release be seen (or, without release, is there a false positive)?"""
    if scenario.kind == "static":
        return _recovery_section(lay, scenario, first=True)
    windows = scenario.analysis.windows
    compare = (f"ΔBP_ND is the change of BP_ND from the {html.escape(windows[0].name)} window "
               f"({windows[0].start_min:g}-{windows[0].end_min:g} min) to the {html.escape(windows[-1].name)} window "
               f"({windows[-1].start_min:g}-{windows[-1].end_min:g} min), in % of the baseline"
               + ("; the estimate is corrected by the matched no-release control scan." if scenario.analysis.control
                  else "; no control scan was simulated, so the estimate is not control-corrected."))
    if not scenario.releases:
        rows = [{**r, "percent_delta": estimated_delta(r, scenario.analysis.control)[0]}
                for r in read_tsv(lay.deriv("validation", "bp"))]
        rows = sorted((r for r in rows if r["percent_delta"] is not None), key=lambda r: -abs(r["percent_delta"]))
        cols = [("region", "region", "text"), ("model", "model", "text"),
                ("percent_delta", "estimated ΔBP_ND (%)", "pct"),
                ("percent_delta_noisefree_tacs", "on noise-free TACs (%)", "pct")]
        return ["<section id='headline'><h2>Is there a false release?</h2>",
                "<p>This scenario has no release: any estimated ΔBP_ND away from zero is a false change (noise, "
                "model bias or a drift between the windows). "
                f"{compare} The largest estimated changes:</p>", table_html(rows[:5], cols),
                uncertainty_note(scenario), "</section>"]
    rows = headline_rows(lay, scenario)
    judged = [r for r in rows if r["seen"] is not None]
    n_seen = sum(bool(r["seen"]) for r in judged)
    tested = [r for r in judged if r["detected"] is not None]
    n_detected = sum(r["detected"] for r in tested)
    trues = sorted({round(r["true"], 1) for r in rows if r["true"] is not None})
    true_text = " and ".join(f"{fmt(t, 'pct')} %" for t in trues) or "n/a"
    detected_text = (f" Its 95% interval excludes zero (detected) in {n_detected} of {len(tested)}." if tested else "")
    summary = (f"<p><b>In this single noise realisation the release is seen in {n_seen} of {len(judged)} "
               f"region-and-model pairs</b> (true ΔBP_ND {true_text}).{detected_text} \"Seen\" means {CRITERION}; "
               f"it is a statement about one realisation. {compare}</p>")
    cells = []
    for r in rows:
        mark = "t" if r["seen"] is None else ("t seen" if r["seen"] else "t unseen")
        lo, hi = r["ci"]
        interval = f"{fmt(lo, 'pct')} to {fmt(hi, 'pct')}" if lo is not None and hi is not None else "n/a"
        detected = "n/a" if r["detected"] is None else ("yes" if r["detected"] else "no")
        cells.append(f"<tr><td class='t'>{html.escape(r['region'])}</td><td class='t'>{html.escape(r['model'])}</td>"
                     f"<td>{fmt(r['true'], 'pct')}</td><td>{fmt(r['estimate'], 'pct')}</td><td>{interval}</td>"
                     f"<td>{detected}</td><td>{fmt(r['attainable'], 'pct')}</td>"
                     f"<td class='{mark}'>{html.escape(r['verdict'])}</td></tr>")
    head = ("<tr><th class='t'>region</th><th class='t'>model</th><th>true ΔBP_ND (%)</th>"
            "<th>estimated ΔBP_ND (%)</th><th>95% interval (%)</th><th>detected</th>"
            "<th>attainable: noise-free TACs (%)</th><th class='t'>verdict</th></tr>")
    return ["<section id='headline'><h2>Can the release be seen?</h2>",
            f"<p>Release: {_release_text(scenario)}.</p>", summary,
            f"<div class='wide'><table id='headline-table'><thead>{head}</thead><tbody>{''.join(cells)}</tbody></table></div>",
            "<p class='note'>The attainable value is what the same model gives on the noise-free TACs of the same "
            "scans: the change this estimator can reach without noise and reconstruction.</p>",
            uncertainty_note(scenario), "</section>"]


def _budget_section(lay: RunLayout, scenario) -> list[str]:
    """The error budget of ``petsim budget`` (when it was made for this run): what each estimated correction
    costs the released regions' %ΔBP_ND and BP_ND, against the oracle."""
    from petsim.pipeline.budget import AS_SCENARIO, CORRECTIONS, ORACLE

    path = lay.deriv("budget", "bp")
    if not path.is_file():
        return []
    rows = read_tsv(path)
    configs = list(dict.fromkeys(r["configuration"] for r in rows))
    released = released_regions(scenario, list(dict.fromkeys(r["region"] for r in rows)))
    by = {(r["region"], r["model"], r["configuration"]): r for r in rows}
    keys = [k for k in dict.fromkeys((r["region"], r["model"]) for r in rows) if k[0] in released]
    columns = [("region", "region", "text"), ("model", "model", "text"),
               ("oracle_error", "%ΔBP_ND error, oracle (points)", "pct")]
    columns += [(f"cost_{c}", f"{c}: ΔBP_ND cost (points)", "pct") for c in configs if c != ORACLE]
    columns += [(f"bias_{c}", f"{c}: BP_ND bias cost (%)", "pct") for c in configs if c != ORACLE]
    table = []
    for region, model in keys:
        row = {"region": region, "model": model,
               "oracle_error": by.get((region, model, ORACLE), {}).get("percent_delta_error")}
        for c in configs[1:]:
            r = by.get((region, model, c), {})
            row[f"cost_{c}"], row[f"bias_{c}"] = r.get("percent_delta_cost"), r.get("bias_percent_cost")
        table.append(row)
    what = {name: text for name, _, _, text in CORRECTIONS}
    listed = "; ".join(f"<b>{html.escape(c)}</b>: {html.escape(what.get(c, 'all the estimated corrections together'))}"
                       for c in configs[1:])
    return ["<section id='budget'><h2>Error budget: what each estimated correction costs</h2>",
            "<p>The scenario run again in memory from the same noise seed, with every correction the site "
            "estimates replaced by the simulation's exact one (the oracle), then with each estimated "
            f"correction alone ({listed}){'' if AS_SCENARIO not in configs else ', and with all of them'}. "
            "A cost is the change from the oracle: in percentage points of %ΔBP_ND (control-corrected) and "
            "in percent of BP_ND's bias (baseline window). Costs need not add up: corrections interact. "
            f"All rows: <a href='{html.escape(Path('..', lay.sub, path.name).as_posix())}'><code>"
            f"derivatives/petsim/{lay.sub}/{html.escape(path.name)}</code></a>.</p>",
            table_html(table, columns), "</section>"]


def _recovery_section(lay: RunLayout, scenario, first: bool = False) -> list[str]:
    rows = read_tsv(lay.deriv("validation", "activity"))
    cols = [("region", "region", "text"), ("true_bq_ml", "true (Bq/mL)", "sig"),
            ("recon_bq_ml", "reconstructed (Bq/mL)", "sig"), ("recovery", "recovery", "sig"),
            ("bias_percent", "bias (%)", "pct")]
    return [f"<section id='{'headline' if first else 'recovery'}'>"
            "<h2>Recovery: reconstructed against true activity concentration</h2>",
            "<p>The recovery coefficient is the reconstructed mean over the true concentration of each region. "
            "Small objects recover less (partial volume); more iterations raise recovery and noise. One noise "
            "realisation; no confidence interval is given (run <code>petsim study</code> for many).</p>",
            table_html(rows, cols), "</section>"]


# ---------------------------------------------------------------- figures

def make_figures(lay: RunLayout, scenario) -> list[tuple[str, Path]]:
    """Every figure of the report as (title, PNG path), in the order shown: the question's figures first."""
    from petsim.modeling import read_tac_table
    from petsim.pipeline.simulate import late_weights
    from petsim.plot import plot_bp_scatter, plot_logan, plot_recon_vs_truth, plot_tacs

    figs = []
    rd = lay.report_dir
    an = scenario.analysis
    ref_name = an.reference if isinstance(an.reference, str) else list(an.reference)
    if scenario.kind != "static":
        figs += _delta_bp_figure(lay, scenario)
        figs += _input_figure(lay)
    figs += _count_rate_figure(lay)
    for name, title in (("phantom.png", "Phantom labels"), ("sinogram.png", "A simulated sinogram (prompts)")):
        if (rd / name).is_file():
            figs.append((title, rd / name))
    img, grid = read_nifti(lay.pet("release"))
    truth_img, _ = read_nifti(lay.deriv("truthlate", "pet", ext=".nii.gz"))  # written by the simulate stage
    if scenario.kind == "static":  # one frame: a one-row table (no TAC to fit)
        row = read_tsv(lay.deriv("recon", "tacs"))[0]
        starts, ends = np.array([row["frame_start"] / 60.0]), np.array([row["frame_end"] / 60.0])
    else:
        recon_tacs = read_tac_table(lay.deriv("recon", "tacs"))
        starts, ends = recon_tacs.frame_start_min, recon_tacs.frame_end_min
    weights = late_weights(starts, ends)
    late = weights > 0
    recon_late = np.tensordot(img, weights.astype(np.float32), axes=([3], [0]))
    centre = _centre_of(lay, "amygdala_l")
    when = f"{starts[late][0]:g}-{ends[-1]:g} min"
    figs.append((f"Reconstruction next to the truth ({when})",
                 plot_recon_vs_truth(rd / "recon_vs_truth.png", truth_img, recon_late, centre=centre,
                                     voxel_size_mm=grid.voxel_size_mm,
                                     title=f"{when}: truth (top) and reconstruction (bottom)"
                                           + (", through the left amygdala" if centre else ""))))
    if scenario.kind == "static":
        return figs
    from petsim.pipeline.analyse import regions_to_report

    regions = [r for r in regions_to_report(scenario, read_tsv(lay.deriv("truth", "bp"))) if r in recon_tacs.regions][:6]
    regions += [r for r in recon_tacs.regions
                if (r in ref_name if isinstance(ref_name, list) else r == ref_name or r.startswith(ref_name + "_"))][:1]
    start, end = recon_tacs.frame_start_min, recon_tacs.frame_end_min
    mid = 0.5 * (start + end)
    model = an.models[0]
    fits = _fitted_curves(lay, model, start)
    figs.append((f"Regional TACs of the reconstruction with the {model} fit of each window",
                 plot_tacs(rd / "tacs.png", mid, {r: recon_tacs.regions[r] for r in regions}, fits,
                           title=f"reconstructed TACs and {model} fits (one per analysis window)")))
    ref = recon_tacs.reference(ref_name)
    figs.append(("Logan reference plots",
                 plot_logan(rd / "logan.png", start, end, {r: recon_tacs.regions[r] for r in regions}, ref, an.t_star_min)))
    for method in an.maps:
        est_path = lay.deriv_dir / f"{lay.sub}_desc-{method.replace('_', '')}_bp.nii.gz"
        truth_path = lay.deriv_dir / f"{lay.sub}_desc-truthbaseline_bp.nii.gz"
        if est_path.is_file() and truth_path.is_file():
            est, g = read_nifti(est_path)
            truth_bp, _ = read_nifti(truth_path)
            figs.append((f"Voxelwise BP_ND ({method}) next to the true baseline BP_ND map",
                         plot_recon_vs_truth(rd / f"map_{method}.png", truth_bp, est, centre=centre,
                                             voxel_size_mm=g.voxel_size_mm, units="BP_ND",
                                             row_labels=("true BP_ND", f"{method} BP_ND"),
                                             title=f"BP_ND: truth (top) and {method} of the whole scan (bottom)")))
    rows = [r for r in read_tsv(lay.deriv("validation", "bp")) if r.get("BP_ND") is not None]
    figs.append(("Estimated against true BP_ND",
                 plot_bp_scatter(rd / "bp_scatter.png", [r["true_BP_ND"] for r in rows], [r["BP_ND"] for r in rows],
                                 [r["model"] for r in rows])))
    return figs


def _delta_bp_figure(lay: RunLayout, scenario) -> list[tuple[str, Path]]:
    from petsim.plot.figures import plot_delta_bp

    rows = headline_rows(lay, scenario) if scenario.releases else []
    if not rows:
        return []
    regions = list(dict.fromkeys(r["region"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    true = {r["region"]: r["true"] for r in rows}
    est = {(r["region"], r["model"]): r["estimate"] for r in rows}
    att = {(r["region"], r["model"]): r["attainable"] for r in rows}
    ci = {(r["region"], r["model"]): r["ci"] for r in rows}
    return [("ΔBP_ND per released region: true, estimated (with its 95% interval) and attainable",
             plot_delta_bp(lay.report_dir / "delta_bp.png", regions, models, true, est, att, intervals=ci,
                           title="ΔBP_ND: truth (black), estimate (filled, 95% bar), noise-free TACs (open)"))]


def _input_figure(lay: RunLayout) -> list[tuple[str, Path]]:
    from petsim.plot.figures import plot_input_function

    path = lay.pet_dir / f"{lay.sub}_recording-manual_blood.tsv"
    if not path.is_file():
        return []
    rows = read_tsv(path)
    if not rows:
        return []

    def col(key):
        return None if key not in rows[0] else np.array([np.nan if r[key] is None else float(r[key]) for r in rows])

    t = col("time")
    plasma = col("plasma_radioactivity")
    if t is None or plasma is None:
        return []
    return [("Arterial input function (the blood samples of the scan with release)",
             plot_input_function(lay.report_dir / "input_function.png", t / 60.0, plasma,
                                 col("whole_blood_radioactivity"), col("metabolite_parent_fraction"),
                                 title=f"blood samples ({path.name})"))]


def _count_rate_figure(lay: RunLayout) -> list[tuple[str, Path]]:
    from petsim.plot.figures import plot_count_rates

    path = lay.sino_dir / "release_frames.json"
    if not path.is_file():
        return []
    frames = json.loads(path.read_text()).get("frames", [])
    if len(frames) < 2:  # a static scan: one frame is no curve
        return []
    info = [f.get("info", {}) for f in frames]

    def series(key):
        return np.array([np.nan if i.get(key) is None else float(i[key]) for i in info])

    counts = {name: series(key) for name, key in (("prompts", "prompts"), ("trues", "trues"), ("scatter", "scatter"),
                                                  ("randoms", "randoms"), ("NEC", "nec")) if key in info[0]}
    fractions = {name: series(key) for name, key in (("random fraction", "random_fraction"),
                                                     ("scatter fraction", "scatter_fraction"),
                                                     ("dead-time fraction", "dead_time_fraction")) if key in info[0]}
    return [("Count rates and noise-equivalent count rate (NEC) per frame, scan with release",
             plot_count_rates(lay.report_dir / "count_rates.png", [f["frame_start_min"] for f in frames],
                              [f["frame_duration_min"] for f in frames], counts, fractions,
                              title="recorded counts per frame over its duration"))]


def _fitted_curves(lay: RunLayout, model: str, frame_start_min) -> dict:
    """Region -> the release scan's fitted TAC of ``model`` (NaN where no window's fit used the frame), from the fit stage."""
    path = lay.deriv("fitted", "tacs")
    if not path.is_file():
        return {}
    index = {round(60.0 * float(t), 3): i for i, t in enumerate(frame_start_min)}
    curves: dict = {}
    for r in read_tsv(path):
        if r["scan"] == "release" and r["model"] == model and r["fitted"] is not None:
            curve = curves.setdefault(r["region"], np.full(len(index), np.nan))
            i = index.get(round(float(r["frame_start"]), 3))
            if i is not None:
                curve[i] = r["fitted"]
    return curves


def _centre_of(lay: RunLayout, name: str):
    """Voxel (x, y, z) at the centre of region ``name`` in the run's label image, or None."""
    index = {r["name"]: r["index"] for r in read_tsv(lay.deriv_dir / f"{lay.sub}_dseg.tsv")}
    if name not in index:
        return None
    labels, _ = read_nifti(lay.deriv_dir / f"{lay.sub}_dseg.nii.gz")
    mask = labels == index[name]
    if not mask.any():
        return None
    return tuple(int(round(c)) for c in np.argwhere(mask).mean(axis=0))


# ---------------------------------------------------------------- other sections

def _lpntpet_section(lay: RunLayout, scenario) -> list[str]:
    """Detection of a transient release by lp-ntPET, next to the true timing (release and control scans)."""
    if scenario.kind == "static":
        return []
    from petsim.modeling import get_model

    detectors = [m for m in scenario.analysis.models if get_model(m).detects_release]  # lp-ntPET
    if not detectors:
        return []
    from petsim.pipeline.world import expand_regions

    rows = [r for r in read_tsv(lay.deriv("estimates", "bp")) if r["model"] in detectors and r["scan"] in ("release", "control")]
    names = sorted({r["region"] for r in rows})
    timing = {}
    for i, rel in enumerate(scenario.releases):
        for region in expand_regions(rel.regions, names + list(rel.regions), f"releases[{i}].regions"):
            timing[region] = (rel.onset_min, rel.peak_min if rel.profile == "gamma" else None)
    out = []
    for r in rows:
        onset, peak = timing.get(r["region"], (None, None)) if r["scan"] == "release" else (None, None)
        out.append({"region": r["region"], "scan": r["scan"], "release_detected": bool(r.get("release_detected")),
                    "p_value": r.get("p_value"), "t_D": r.get("t_D"), "t_P": r.get("t_P"),
                    "true_onset_min": onset, "true_peak_min": peak})
    out.sort(key=lambda r: (r["true_onset_min"] is None, r["region"], r["scan"]))
    cols = [("region", "region", "text"), ("scan", "scan", "text"), ("release_detected", "release detected", "bool"),
            ("p_value", "p-value", "p"), ("t_D", "t_D, estimated start (min)", "min"),
            ("t_P", "t_P, estimated peak (min)", "min"), ("true_onset_min", "true onset (min)", "min"),
            ("true_peak_min", "true peak (min)", "min")]
    text = ("<p>lp-ntPET (Normandin, Schiffer &amp; Morris, NeuroImage 2012) fitted to every region's TAC; a release "
            "is detected when its Monte Carlo p-value against MRTM is below 0.05. On the control scan any detection "
            "is a false positive. t_D and t_P are the estimated start and peak of the response (min).</p>")
    return ["<section id='lpntpet'><h2>Transient release detection (lp-ntPET)</h2>", text, table_html(out, cols), "</section>"]


#: The columns of the validation table, with headings and units.
VALIDATION_COLUMNS = [
    ("region", "region", "text"), ("model", "model", "text"),
    ("true_BP_ND", "BP_ND true", "sig"), ("BP_ND", "BP_ND estimated", "sig"),
    ("bias_percent", "bias (%)", "pct"), ("bias_percent_noisefree_tacs", "bias, noise-free TACs (%)", "pct"),
    ("bias_percent_no_blood", "bias, noise-free TACs without blood (%)", "pct"),
    ("true_percent_delta", "ΔBP_ND true (%)", "pct"), ("percent_delta", "ΔBP_ND estimated (%)", "pct"),
    ("percent_delta_uncorrected", "ΔBP_ND without control correction (%)", "pct"),
    ("percent_delta_noisefree_tacs", "ΔBP_ND, noise-free TACs (%)", "pct"),
]


def _validation_section(lay: RunLayout, scenario) -> list[str]:
    """Every region: the long table, below the figures, with a link to its TSV."""
    if scenario.kind == "static":
        return []
    path = lay.deriv("validation", "bp")
    rows = read_tsv(path)
    link = html.escape(Path("..", lay.sub, path.name).as_posix())
    return ["<section id='validation'><h2>Every region: true against estimated BP_ND and ΔBP_ND</h2>",
            f"<p>{len(rows)} rows (regions x models); BP_ND of the baseline window. The same table as a file: "
            f"<a href='{link}'><code>derivatives/petsim/{lay.sub}/{html.escape(path.name)}</code></a>.</p>",
            _EXPLANATION, "<details open><summary>the table</summary>", table_html(rows, VALIDATION_COLUMNS),
            "</details></section>"]


def _iterations_text(rec) -> str:
    """`` 4 iterations x 16 subsets`` (OSEM, MAP), `` 30 iterations`` (MLEM, or one subset), nothing for FBP."""
    if rec.algorithm == "fbp":
        return ""
    if rec.effective_subsets == 1:
        return f" {rec.iterations} iterations"
    return f" {rec.iterations} iterations x {rec.effective_subsets} subsets"


def _scenario_text(sc) -> str:
    from petsim.pipeline.world import frame_schedule  # the schedule only (a preset or explicit durations)

    frames = frame_schedule(sc)
    return ((f"<p>Static scan of {sc.static.duration_min:g} min; scanner " if sc.kind == "static" else
             f"<p>Tracer {html.escape(sc.tracer.name)} ({html.escape(sc.tracer.isotope)}), "
             f"{sc.protocol.dose_mbq:g} MBq {html.escape(sc.protocol.input.replace('_', ' '))}, "
             f"{frames.n_frames} frames over "
             f"{float(frames.ends_min[-1]):g} min; models {', '.join(html.escape(m) for m in sc.analysis.models)} "
             f"(reference region {html.escape(str(sc.analysis.reference))}); scanner ")
            + f"{html.escape(sc.scanner.name)} ({sc.scanner.mode}); reconstruction {html.escape(sc.recon.algorithm)}"
            + _iterations_text(sc.recon)
            + f"{' after ' + sc.recon.rebin.upper() if sc.scanner.mode == '3d' and sc.recon.rebin != 'none' else ''}.</p>")


def provenance(lay: RunLayout, scenario) -> dict:
    """What made this report: petsim version, seed, scenario SHA-256 (as the stage markers record it),
    the resolved scenario file and the time the report was written (UTC)."""
    from importlib.metadata import PackageNotFoundError, version

    from petsim.pipeline.layout import scenario_sha256

    try:
        petsim_version = version("petsim")
    except PackageNotFoundError:  # pragma: no cover - a source tree that is not installed
        petsim_version = "unknown (not installed)"
    sha = scenario_sha256(scenario.to_json())
    marker = lay.marker("simulate")
    if marker.is_file():
        try:
            sha = json.loads(marker.read_text()).get("scenario_sha256") or sha
        except (json.JSONDecodeError, OSError):
            pass
    return {"petsim version": petsim_version, "scenario": scenario.name, "seed": scenario.seed,
            "scenario SHA-256": sha, "resolved scenario file": lay.scenario_path.name,
            "report written": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")}


def _provenance_section(lay: RunLayout, scenario) -> list[str]:
    prov = provenance(lay, scenario)
    link = html.escape(Path("..", "..", "..", lay.scenario_path.name).as_posix())
    items = []
    for k, v in prov.items():
        value = html.escape(str(v))
        if k == "resolved scenario file":
            value = f"<a href='{link}'><code>{value}</code></a> (rerun with <code>petsim run {value}</code>)"
        elif k == "scenario SHA-256":
            value = f"<code>{value}</code> (canonical JSON of the resolved scenario, as in the stage markers)"
        items.append(f"<dt>{html.escape(k)}</dt><dd>{value}</dd>")
    return ["<section id='provenance'><h2>Provenance</h2>", f"<dl class='prov'>{''.join(items)}</dl>",
            "<p>Files: the resolved scenario <code>scenario_resolved.toml</code>; images under <code>sub-*/pet/</code>; "
            "truth, TACs and estimates under <code>derivatives/petsim/</code>.</p></section>"]


def write_report(lay: RunLayout, scenario) -> Path:
    """Write ``derivatives/petsim/report/index.html`` (and its PNG figures) from the run's files.

    Order: the headline (can the release be seen, with what uncertainty; for a static scan the recovery
    table), what was simulated, the figures, lp-ntPET, scored estimates, every region's table, provenance.
    """
    sc = scenario
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>petsim report: "
        + html.escape(sc.name) + f"</title><style>{_STYLE}</style></head><body>",
        f"<h1>petsim validation report: {html.escape(sc.name)}</h1>",
    ]
    parts += headline_section(lay, sc)
    figs = make_figures(lay, sc)
    parts += ["<section id='scenario'><h2>What was simulated</h2>", _scenario_text(sc), "</section>"]
    parts.append("<section id='figures'><h2>Figures</h2>")
    for title, path in figs:
        parts.append(f"<figure><img src='{html.escape(path.name)}' alt='{html.escape(title)}'>"
                     f"<figcaption>{html.escape(title)}</figcaption></figure>")
    parts.append("</section>")
    parts += _budget_section(lay, sc)
    parts += _lpntpet_section(lay, sc)
    for score in sorted(lay.report_dir.glob("score_*.tsv")):  # estimates of other tools (petsim score)
        rows = read_tsv(score)
        parts.append(f"<section class='score'><h2>Scored estimates: {html.escape(score.stem[len('score_'):])}</h2>")
        parts.append(table_html(rows, list(rows[0]) if rows else []))
        if score.with_suffix(".png").is_file():
            parts.append(f"<img src='{html.escape(score.with_suffix('.png').name)}' alt='scored estimates'>")
        parts.append("</section>")
    parts += _validation_section(lay, sc)
    parts += _provenance_section(lay, sc)
    parts.append("</body></html>")
    return write_text_atomic(lay.report_dir / "index.html", "\n".join(parts))
