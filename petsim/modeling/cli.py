"""``petsim fit``: reference-tissue models on a user's own TAC table (or a petsim output directory).

Outputs never land on a name another command writes: a table ``sub-01_desc-roiA_tacs.tsv`` gives
``sub-01_desc-roiAfit_bp.tsv`` and ``sub-01_region-<name>_desc-roiAfit_tac.png`` (a table without a
``desc`` entity gets ``desc-fit``), next to the table or in ``-o``; an existing output is replaced only
with ``--force``. A folder of petsim outputs without its scenario (``derivatives/petsim/sub-*/``) keeps
the pipeline's layout, ``<sub>_desc-estimates_bp.tsv``; a real run folder (with
``scenario_resolved.toml``) is fitted by the pipeline's own fit stage, see :mod:`petsim.pipeline.cli`.

Times on the command line are in minutes (as every kinetic time in petsim); ``1800s`` may be written
for seconds, the unit of the tables' ``frame_start``/``frame_end``.
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import re
import sys

import numpy as np

from .fitting import WEIGHTS, fit_models
from .models import MODELS
from .results import format_results, write_results_tsv
from .tactable import NON_REGION_COLUMNS, TacTable, did_you_mean, match_regions, read_reference_tac, read_tac_table
from .weights import C11_HALF_LIFE_MIN

RECON_TACS_GLOB = os.path.join("derivatives", "petsim", "sub-*", "sub-*_desc-recon_tacs.tsv")

#: Names the pipeline writes for a run's fits; ``fit TABLE`` never writes onto them.
PIPELINE_DESCS = ("estimates", "validation")


# ---------------------------------------------------------------- arguments


def time_min(text: str) -> float:
    """A time on the command line in minutes: ``30``, ``30min`` or ``1800s`` (-> 30.0); finite and >= 0."""
    m = re.fullmatch(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(s|sec|min)?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time: give minutes (30) or seconds with a unit (1800s)")
    value = float(m[1]) / (60.0 if m[2] in ("s", "sec") else 1.0)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a time must be finite and >= 0 (min from injection)")
    return value


def positive(text: str) -> float:
    """A finite number > 0 (a rate in 1/min or a half-life in min)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number > 0")
    return value


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "fit",
        # the pipeline adds its own --force help for run folders; the later definition wins
        conflict_handler="resolve",
        help="fit reference-tissue models (SRTM, Logan, MRTM2, lp-ntPET ...) to a TAC table",
        description=(
            "Fit reference-tissue models to a BIDS-PET derivative TAC table (frame_start, frame_end in s, one "
            "column per region in Bq/mL, units from its _tacs.json sidecar if any; comma- or semicolon-separated "
            "tables are read with a note). A table X_desc-D_tacs.tsv gives X_desc-Dfit_bp.tsv and "
            "X_region-R_desc-Dfit_tac.png (desc-fit without a desc entity) next to it or in -o; existing outputs "
            f"are replaced only with --force. PATH may also be a petsim output directory: every {RECON_TACS_GLOB} "
            "in it is fitted into <sub>_desc-estimates_bp.tsv. Times on the command line are in minutes "
            "(write e.g. 1800s for seconds)."
        ),
    )
    p.add_argument("path", metavar="PATH", help="TAC table (.tsv) or a petsim output directory")
    p.add_argument("--ref", default=None,
                   help="reference column, or a prefix matching several (their mean); required for a TAC table "
                        "unless --ref-file is given, taken from the scenario for a petsim run directory")
    p.add_argument("--ref-file", default=None, metavar="TABLE",
                   help="reference TAC in its own table (frame_start, frame_end in s and one region column, on the "
                        "same frames), e.g. PETPrep's *_label-<name>_desc-preproc_tacs.tsv; instead of --ref")
    p.add_argument("--model", action="append", choices=MODELS, help="model to fit (repeat for several; default srtm)")
    p.add_argument("--region", action="append", help="region to fit (repeat; default all but the reference)")
    p.add_argument("--t-star", type=time_min, default=None, metavar="MIN",
                   help="t* in minutes from injection (MRTM, MRTM2, Logan); 1800s for seconds")
    p.add_argument("--k2-ref", "--k2prime", type=positive, default=None, metavar="PER_MIN",
                   help="reference efflux k2' (1/min); default: estimated from the scan")
    p.add_argument("--window", type=time_min, nargs=2, default=None, metavar=("START_MIN", "END_MIN"),
                   help="fit window in minutes from injection (not seconds, although the table's frame times are "
                        "in s); write 30min or 1800s to be explicit")
    p.add_argument("--weights", choices=WEIGHTS, default=None,
                   help=f"frame weights (default {WEIGHTS[0]}: 1/variance of each frame from its duration, decay "
                        "and activity; none: unweighted)")
    p.add_argument("--half-life", type=positive, default=C11_HALF_LIFE_MIN, metavar="MIN",
                   help=f"isotope half-life in minutes for the frame weights (default carbon-11, {C11_HALF_LIFE_MIN} min)")
    p.add_argument("--bootstrap", type=int, default=0, metavar="N",
                   help="wild-bootstrap replicates per fit: the SE of BP_ND and a 95%% interval from the data's own "
                        "residuals instead of the regression's SE (default 0: none; 200 is a good start)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    p.add_argument("-o", "--out-dir", default=None, help="output folder (default: next to each input table)")
    p.add_argument("--force", action="store_true", help="replace outputs of an earlier fit")
    p.add_argument("--no-plots", action="store_true", help="do not write the PNG figures")
    p.set_defaults(func=run_fit)


def check_args(args) -> None:
    """Argument checks that need no table: reference given once and not empty, window ordered."""
    if args.ref is not None and args.ref_file is not None:
        raise ValueError("--ref and --ref-file both given; name the reference column (--ref) or its table "
                         "(--ref-file), not both")
    if args.ref is None and args.ref_file is None:
        raise ValueError("--ref is required: name the reference region column (or a prefix such as "
                         "occipital_cortex), or give its table with --ref-file")
    if args.ref is not None and not args.ref.strip():
        raise ValueError(f"--ref is empty ({args.ref!r}); name the reference region column")
    if args.bootstrap < 0:
        raise ValueError(f"--bootstrap {args.bootstrap}: the number of replicates must be 0 (none) or more")
    if args.window is not None and args.window[1] <= args.window[0]:
        raise ValueError(f"--window {args.window[0]:g} {args.window[1]:g} (min): the end must be after the start")
    for region in args.region or []:
        if not region.strip():
            raise ValueError(f"--region {region!r} is empty; name a region column")


def _check_times_in_table(args, table: TacTable) -> None:
    """--t-star and --window must fall inside the scan; say so in minutes, and hint at seconds given by mistake."""
    last = float(table.frame_end_min[-1])
    for name, value in (("--t-star", args.t_star), ("--window", None if args.window is None else args.window[0])):
        if value is not None and value >= last:
            hint = (f"; if you meant seconds, {value:g} s = {value / 60:g} min (write {value:g}s)"
                    if value / 60 < last else "")
            raise ValueError(f"{name} {value:g} min is at or after the end of the scan ({last:g} min = "
                             f"{last * 60:g} s); {name} is in minutes{hint}")


# ---------------------------------------------------------------- inputs


def find_tac_tables(path) -> list[str]:
    """The TAC tables a path names: the file itself, or ``derivatives/petsim/sub-*/sub-*_desc-recon_tacs.tsv`` in a folder."""
    if os.path.isdir(path):
        found = sorted(glob.glob(os.path.join(path, RECON_TACS_GLOB)))
        if not found:
            raise FileNotFoundError(f"no {RECON_TACS_GLOB} under {path}")
        return found
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} does not exist")
    return [path]


def with_reference(table: TacTable, args) -> tuple[TacTable, list[str]]:
    """The table to fit and the reference columns: --ref resolved, or the --ref-file TAC added as a column."""
    if args.ref_file is None:
        if args.ref in table.dropped:
            raise ValueError(f"{table.source}: the reference column {args.ref!r} is n/a in every frame")
        if args.ref in NON_REGION_COLUMNS:
            raise ValueError(f"{table.source}: --ref {args.ref!r} is a frame-time column, not a region")
        try:
            return table, match_regions(table.regions, args.ref)
        except KeyError as err:
            raise ValueError(f"{table.source}: --ref {args.ref!r}: {err}") from None
    if not os.path.isfile(args.ref_file):
        raise FileNotFoundError(f"--ref-file {args.ref_file} does not exist")
    ref = read_reference_tac(args.ref_file, table.frame_start_min, table.frame_end_min)
    (name, values), = ref.regions.items()
    if name in table.regions:
        raise ValueError(f"{ref.source}: its column {name!r} is also a column of {table.source}; use --ref {name} "
                         "instead, or rename one of them")
    regions = {**table.regions, name: values}
    merged = TacTable(table.frame_start_min, table.frame_end_min, regions, table.notes + ref.notes, table.dropped,
                      table.source)
    return merged, [name]


def regions_to_fit(table: TacTable, args, ref_cols: list[str]) -> list[str]:
    """--region names checked against the table; without --region, every column but the reference."""
    if not args.region:
        fitted = [r for r in table.regions if r not in ref_cols]
        if not fitted:
            raise ValueError(f"{table.source}: no region left to fit: the reference ({', '.join(ref_cols)}) takes "
                             "every column")
        return fitted
    regions = list(dict.fromkeys(args.region))
    for r in regions:
        if r in table.dropped:
            raise ValueError(f"{table.source}: --region {r!r} is n/a in every frame")
        if r not in table.regions:
            raise ValueError(f"{table.source}: --region {r!r} is not a column{did_you_mean(r, table.regions)}")
    return regions


# ---------------------------------------------------------------- outputs


def output_stem(table_path: str) -> str:
    """``sub-01_desc-recon_tacs.tsv`` -> ``sub-01``; other names lose ``.tsv`` (and a ``_tacs`` suffix)."""
    name = os.path.basename(table_path)
    stem = name[:-4] if name.endswith(".tsv") else name
    if "_desc-" in stem:
        return stem.split("_desc-")[0]
    return stem[:-5] if stem.endswith("_tacs") else stem


def fit_names(table_path: str) -> tuple[str, str]:
    """Entities and ``desc`` of a table's fit outputs.

    ``sub-01_desc-roiA_tacs.tsv`` -> ``("sub-01", "roiAfit")``;
    ``sub-01_ses-1_seg-gtm_tacs.tsv`` -> ``("sub-01_ses-1_seg-gtm", "fit")``: the other entities are
    kept, the suffix (``tacs``) goes and ``fit`` is appended to the description, so the name can
    never be one the pipeline writes (``desc-estimates``, ``desc-validation``).
    """
    stem = re.sub(r"\.(tsv|csv|txt)$", "", os.path.basename(table_path), flags=re.IGNORECASE)
    parts = stem.split("_")
    if len(parts) > 1 and "-" not in parts[-1]:
        parts = parts[:-1]  # the BIDS suffix
    desc = [p[5:] for p in parts if p.startswith("desc-")]
    entities = "_".join(p for p in parts if not p.startswith("desc-"))
    return entities or "tacs", (desc[0] if desc else "") + "fit"


def _label(region: str) -> str:
    """A region name made safe for a file name (no path separators, no dots)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "", region) or "region"


def planned_outputs(table_path: str, regions, args, directory_mode: bool) -> tuple[str, dict]:
    """The results table and one figure per region (region -> path) a fit of ``table_path`` writes."""
    out_dir = args.out_dir or os.path.dirname(os.path.abspath(table_path))
    if directory_mode:  # a petsim output folder keeps the pipeline's layout
        entities, tsv_desc, fig_desc = output_stem(table_path), "estimates", "fit"
    else:
        entities, tsv_desc = fit_names(table_path)
        fig_desc = tsv_desc
    tsv = os.path.join(out_dir, f"{entities}_desc-{tsv_desc}_bp.tsv")
    figures, seen = {}, set()
    for region in [] if args.no_plots else regions:
        label = _label(region)
        while label in seen:  # two names that differ only in dropped characters
            label += "x"
        seen.add(label)
        figures[region] = os.path.join(out_dir, f"{entities}_region-{label}_desc-{fig_desc}_tac.png")
    return tsv, figures


def check_outputs(paths, inputs, force: bool) -> None:
    """Refuse to replace an existing output without --force, and to ever replace an input."""
    real_inputs = {os.path.realpath(p) for p in inputs if p}
    for path in paths:
        if os.path.realpath(path) in real_inputs:
            raise ValueError(f"output {path} would replace an input table; give -o DIR")
        if os.path.isdir(path):
            raise ValueError(f"output {path} is a folder")
        if os.path.exists(path) and not force:
            raise ValueError(f"{path} exists (from an earlier fit); pass --force to replace it, or -o DIR to write "
                             "elsewhere")


def _make_out_dir(path: str) -> None:
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"-o {path} is a file, not a folder")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise ValueError(f"-o {path}: cannot create the output folder ({err.strerror or err})") from None


def plot_fits(path, table, ref_tac, region, results) -> None:
    """One PNG (written atomically): the region's TAC, the reference and each model's fitted curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from petsim.core.atomic import atomic_path

    mid = 0.5 * (table.frame_start_min + table.frame_end_min)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(mid, table.regions[region], "ko", ms=3, label=region)
    ax.plot(mid, ref_tac, "s", color="0.6", ms=3, label="reference")
    for r in results:
        if r.fitted is not None and np.any(np.isfinite(r.fitted)):
            ax.plot(mid, r.fitted, "-", label=f"{r.model}: BP_ND {r.bp_nd:.3g}" + ("" if r.converged else " (not converged)"))
    ax.set_title(region)
    ax.set_xlabel("time (min)")
    ax.set_ylabel("activity (Bq/mL)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


# ---------------------------------------------------------------- the command


def _note(text: str) -> None:
    print(f"petsim fit: note: {text}", file=sys.stderr)


def _fit_kwargs(args, models) -> dict:
    kw = dict(models=models, t_star_min=args.t_star, k2_ref=args.k2_ref, window_min=args.window,
              half_life_min=args.half_life, bootstrap=args.bootstrap, seed=args.seed)
    if args.weights is not None:
        kw["weights"] = args.weights
    return kw


def fit_one(table_path: str, args, models, directory_mode: bool) -> None:
    """Read, check, fit and write one table; every error names ``table_path``."""
    table = read_tac_table(table_path)
    for note in table.notes:
        _note(note)
    read_notes = len(table.notes)
    table, ref_cols = with_reference(table, args)
    for note in table.notes[read_notes:]:  # the --ref-file's own
        _note(note)
    _check_times_in_table(args, table)
    regions = regions_to_fit(table, args, ref_cols)
    tsv, figures = planned_outputs(table_path, regions, args, directory_mode)
    check_outputs([tsv, *figures.values()], [table_path, args.ref_file], args.force)
    _make_out_dir(os.path.dirname(tsv))
    try:
        results = fit_models(table, ref_cols, regions=regions, **_fit_kwargs(args, models))
    except (ValueError, KeyError) as err:
        raise ValueError(f"{table_path}: {err.args[0] if err.args else err}") from None
    out = write_results_tsv(tsv, results)
    print(f"# {table_path} (reference: {', '.join(ref_cols)})")
    print(format_results(results))
    print(f"# wrote {out}")
    ref_tac = table.reference(ref_cols)
    for region, path in figures.items():
        plot_fits(path, table, ref_tac, region, [r for r in results if r.region == region])


def run_fit(args) -> int:
    check_args(args)
    models = tuple(dict.fromkeys(args.model or ["srtm"]))
    directory_mode = os.path.isdir(args.path)
    for table_path in find_tac_tables(args.path):
        fit_one(table_path, args, models, directory_mode)
    return 0
