"""Score BP_ND estimates made by any tool against the truth of a simulation.

The table needs a region column and a BP_ND column (names can be given, as
PETPAL, NiftyPAD, kinfitr or a user's script would write them); optional model
and window columns. With estimates for the baseline and the task window the
change ΔBP_ND is scored too.

Regions are petsim's names or FreeSurfer ``aseg`` names (``Left-Amygdala``,
``Right-Thalamus`` ...; ``petsim/data/freesurfer_names.tsv``), as tools built
on a FreeSurfer segmentation write them. A FreeSurfer structure that petsim
splits (the thalamus: medial and lateral) is scored against the
volume-weighted mean BP_ND of its parts, which is the BP_ND of their union
when the parts share V_ND (as they do in petsim's tracer tables): the union's
distribution volume ratio is the volume-weighted mean of the parts'.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from petsim.io import read_tsv, write_tsv


def _read_table(path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such estimates table: {path}")
    text = path.read_text(encoding="utf-8")
    if "\t" not in text.splitlines()[0] and "," in text.splitlines()[0]:
        return read_tsv(path, delimiter=",")  # a CSV table (other tools write those)
    return read_tsv(path)


#: FreeSurfer 6 and earlier called the thalamus "Thalamus-Proper" (FreeSurfer 7: "Thalamus").
_OLD_FREESURFER_NAMES = {"Left-Thalamus-Proper": "Left-Thalamus", "Right-Thalamus-Proper": "Right-Thalamus"}


def freesurfer_names() -> dict[str, list[str]]:
    """FreeSurfer aseg structure name -> the petsim regions it covers.

    From the one table that also paints petsim's ``aseg`` (``petsim/data/aseg_labels.tsv``). A midline
    region that the aseg splits by side is listed by its side there (``hypothalamus_l``); see
    :func:`_in_phantom` for how such a name is matched.
    """
    from petsim.phantom.mri import aseg_table

    names: dict[str, list[str]] = {}
    for row in aseg_table():
        names.setdefault(row["freesurfer_name"], []).append(row["petsim_region"])
    for old, new in _OLD_FREESURFER_NAMES.items():
        names[old] = names[new]
    return names


def _in_phantom(parts: list[str], known) -> list[str]:
    """``parts`` as regions of the phantom: a side of a midline region (``hypothalamus_l``) is the region
    (its truth is the same on both sides); [] when any part is not in the phantom."""
    out = []
    for p in parts:
        name = p if p in known else p[:-2] if p.endswith(("_l", "_r")) and p[:-2] in known else None
        if name is None:
            return []
        if name not in out:
            out.append(name)
    return out


def _union_truth(parts: list[str], truth: dict, volumes: dict, window: str) -> float:
    """Volume-weighted mean true BP_ND (scan with release) of ``parts`` in ``window``."""
    if len(parts) == 1:
        return float(truth[(parts[0], window)]["bp_nd_release"])
    weights = np.array([volumes[p] for p in parts], dtype=float)
    values = np.array([float(truth[(p, window)]["bp_nd_release"]) for p in parts])
    return float(weights @ values / weights.sum())


def score_estimates(estimates_path, run_dir, region_column="region", bp_column="BP_ND", model_column="model",
                    window_column="window", window: str | None = None) -> tuple[list[dict], Path]:
    """Compare an estimates table with the truth of ``run_dir``; write the score table and a figure.

    Returns the score rows and the path of the written table.
    """
    from petsim.pipeline.layout import RunFolderError
    from petsim.pipeline.run import open_run
    from petsim.plot import plot_bp_scatter

    lay, scenario = open_run(run_dir)
    if not lay.stage_done("simulate", scenario.to_json()):
        raise RunFolderError(f"{lay.root}: its simulate stage is incomplete or was made from another scenario "
                             f"than its scenario_resolved.toml; its truth cannot be trusted. Rerun "
                             f"`petsim simulate {lay.scenario_path} -o {lay.root} --force`")
    rows = _read_table(estimates_path)
    if not rows:
        raise ValueError(f"{estimates_path}: the table has no rows")
    for col in (region_column, bp_column):
        if col not in rows[0]:
            raise KeyError(f"{estimates_path}: no column {col!r}; columns are {', '.join(rows[0])} (name them with --region-column/--bp-column)")
    truth_rows = read_tsv(lay.deriv("truth", "bp"))
    windows = [w.name for w in scenario.analysis.windows]
    base_w = window or windows[0]
    if base_w not in windows:
        raise ValueError(f"window {base_w!r} is not one of the scenario's windows {windows}")
    truth = {(t["region"], t["window"]): t for t in truth_rows}
    known = {t["region"] for t in truth_rows}
    aliases = {name: _in_phantom(parts, known) for name, parts in freesurfer_names().items()}
    aliases = {name: parts for name, parts in aliases.items() if parts}
    volumes = {r["name"]: float(r["volume_ml"]) for r in read_tsv(lay.deriv_dir / f"{lay.sub}_dseg.tsv")}

    def true_bp_of(region: str, w: str) -> float:
        return _union_truth(aliases.get(region, [region]), truth, volumes, w)

    has_window = window_column in rows[0]
    est = {}
    for r in rows:
        region = r[region_column]
        if region not in known and region not in aliases:
            raise ValueError(f"{estimates_path}: region {region!r} is not in the simulation; known regions: "
                             f"{', '.join(sorted(known))}, or the FreeSurfer names {', '.join(sorted(aliases))}")
        model = r.get(model_column, "estimate") if model_column in r else "estimate"
        w = r[window_column] if has_window else base_w
        est[(region, model, w)] = None if r[bp_column] is None else float(r[bp_column])
    out = []
    for (region, model, w), bp in sorted(est.items()):
        if w != base_w:
            continue
        true_bp = true_bp_of(region, base_w)
        row = {"region": region, "model": model, "window": w, "true_BP_ND": true_bp, "BP_ND": bp,
               "bias": None if bp is None else bp - true_bp,
               "percent_error": None if bp is None or not true_bp else 100.0 * (bp - true_bp) / true_bp}
        task = windows[-1]
        if has_window and (region, model, task) in est and task != base_w:
            tt = true_bp_of(region, task)
            et = est[(region, model, task)]
            row["true_percent_delta"] = 100.0 * (tt - true_bp) / true_bp if true_bp else None
            row["percent_delta"] = None if (et is None or bp is None or not bp) else 100.0 * (et - bp) / bp
        out.append(row)
    name = Path(estimates_path).name.split(".")[0]
    table = write_tsv(lay.report_dir / f"score_{name}.tsv", out)
    ok = [r for r in out if r["BP_ND"] is not None]
    plot_bp_scatter(lay.report_dir / f"score_{name}.png", [r["true_BP_ND"] for r in ok], [r["BP_ND"] for r in ok],
                    [r["model"] for r in ok], title=f"{name}: estimated against true BP_ND")
    return out, table


def summarise(rows) -> str:
    from petsim.pipeline.analyse import format_table

    cols = ["region", "model", "true_BP_ND", "BP_ND", "percent_error"]
    if any("percent_delta" in r for r in rows):
        cols += ["true_percent_delta", "percent_delta"]
    errs = [abs(r["percent_error"]) for r in rows if r.get("percent_error") is not None]
    tail = f"\nmean |error| {np.mean(errs):.2f}% over {len(errs)} estimates" if errs else ""
    return format_table(rows, cols, "{:.2f}") + tail
