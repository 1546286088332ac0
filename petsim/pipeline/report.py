"""Stage 4: the validation report, figures as PNG and an HTML page that shows them."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from petsim.io import read_nifti, read_tsv, write_text_atomic
from petsim.pipeline.layout import RunLayout

_EXPLANATION = """
<p>Bias has three sources, separated here. <b>Model bias</b>: the same models fitted to the
noise-free truth TACs (column <i>bias % (noise-free TACs)</i>); it comes from the blood volume
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


def _table_html(rows, columns) -> str:
    def cell(v):
        if v is None:
            return "n/a"
        if isinstance(v, float):
            return f"{v:.3f}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def make_figures(lay: RunLayout, scenario) -> list[tuple[str, Path]]:
    from petsim.modeling import read_tac_table
    from petsim.pipeline.simulate import late_weights
    from petsim.plot import plot_bp_scatter, plot_logan, plot_recon_vs_truth, plot_tacs

    figs = []
    rd = lay.report_dir
    an = scenario.analysis
    ref_name = an.reference if isinstance(an.reference, str) else list(an.reference)
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
    cols = ["region", "scan", "release_detected", "p_value", "t_D", "t_P", "true_onset_min", "true_peak_min"]
    text = ("<p>lp-ntPET (Normandin, Schiffer &amp; Morris, NeuroImage 2012) fitted to every region's TAC; a release "
            "is detected when its Monte Carlo p-value against MRTM is below 0.05. On the control scan any detection "
            "is a false positive. t_D and t_P are the estimated start and peak of the response (min).</p>")
    return ["<h2>Transient release detection (lp-ntPET)</h2>", text, _table_html(out, cols)]


def _iterations_text(rec) -> str:
    """`` 4 iterations x 16 subsets`` (OSEM, MAP), `` 30 iterations`` (MLEM, or one subset), nothing for FBP."""
    if rec.algorithm == "fbp":
        return ""
    if rec.effective_subsets == 1:
        return f" {rec.iterations} iterations"
    return f" {rec.iterations} iterations x {rec.effective_subsets} subsets"


def write_report(lay: RunLayout, scenario) -> Path:
    figs = make_figures(lay, scenario)
    sc = scenario
    if sc.kind == "static":
        heading = "Recovery: reconstructed against true activity concentration"
        validation = read_tsv(lay.deriv("validation", "activity"))
        cols = ["region", "true_bq_ml", "recon_bq_ml", "recovery", "bias_percent"]
        explanation = ("<p>The recovery coefficient is the reconstructed mean over the true concentration of each "
                       "region. Small objects recover less (partial volume); more iterations raise recovery and noise.</p>")
    else:
        heading = "True against estimated BP_ND and ΔBP_ND"
        validation = read_tsv(lay.deriv("validation", "bp"))
        cols = ["region", "model", "true_BP_ND", "BP_ND", "bias_percent", "bias_percent_noisefree_tacs",
                "bias_percent_no_blood", "true_percent_delta", "percent_delta", "percent_delta_uncorrected",
                "percent_delta_noisefree_tacs"]
        explanation = _EXPLANATION
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>petsim report: "
        + html.escape(sc.name) + "</title><style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #bbb;padding:2px 6px;text-align:right}"
        "td:first-child,td:nth-child(2){text-align:left}img{max-width:100%}</style></head><body>",
        f"<h1>petsim validation report: {html.escape(sc.name)}</h1>",
        (f"<p>Static scan of {sc.static.duration_min:g} min; scanner " if sc.kind == "static" else
         f"<p>Tracer {html.escape(sc.tracer.name)} ({html.escape(sc.tracer.isotope)}), "
         f"{sc.protocol.dose_mbq:g} MBq {html.escape(sc.protocol.input.replace('_', ' '))}; scanner ")
        + f"{html.escape(sc.scanner.name)} ({sc.scanner.mode}); reconstruction {html.escape(sc.recon.algorithm)}"
        + _iterations_text(sc.recon)
        + f"{' after ' + sc.recon.rebin.upper() if sc.scanner.mode == '3d' and sc.recon.rebin != 'none' else ''}.</p>",
        f"<h2>{heading}</h2>",
        _table_html(validation, cols),
        explanation,
    ]
    parts += _lpntpet_section(lay, scenario)
    for score in sorted(lay.report_dir.glob("score_*.tsv")):  # estimates of other tools (petsim score)
        rows = read_tsv(score)
        parts.append(f"<h2>Scored estimates: {html.escape(score.stem[len('score_'):])}</h2>")
        parts.append(_table_html(rows, list(rows[0]) if rows else []))
        if score.with_suffix(".png").is_file():
            parts.append(f"<img src='{html.escape(score.with_suffix('.png').name)}' alt='scored estimates'>")
    for title, path in figs:
        parts.append(f"<h2>{html.escape(title)}</h2><img src='{html.escape(path.name)}' alt='{html.escape(title)}'>")
    parts.append("<p>Files: the resolved scenario <code>scenario_resolved.toml</code>; images under <code>sub-*/pet/</code>; "
                 "truth, TACs and estimates under <code>derivatives/petsim/</code>.</p></body></html>")
    return write_text_atomic(lay.report_dir / "index.html", "\n".join(parts))
