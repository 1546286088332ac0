"""``petsim fit``: reference-tissue models on a user's own TAC table (or a petsim output directory)."""

from __future__ import annotations

import glob
import os

import numpy as np

from .fitting import MODELS, fit_models
from .results import format_results, write_results_tsv
from .tactable import match_regions, read_tac_table
from .weights import C11_HALF_LIFE_MIN

RECON_TACS_GLOB = os.path.join("derivatives", "petsim", "sub-*", "sub-*_desc-recon_tacs.tsv")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "fit",
        help="fit reference-tissue models (SRTM, Logan, MRTM2, lp-ntPET ...) to a TAC table",
        description=(
            "Fit reference-tissue models to a BIDS-PET derivative TAC table (frame_start, frame_end in s, one "
            "column per region in Bq/mL). PATH may also be a petsim output directory: every "
            f"{RECON_TACS_GLOB} in it is fitted. Writes <stem>_desc-estimates_bp.tsv and a PNG per region."
        ),
    )
    p.add_argument("path", metavar="PATH", help="TAC table (.tsv) or a petsim output directory")
    p.add_argument("--ref", default=None,
                   help="reference column, or a prefix matching several (their mean); required for a TAC table, "
                        "taken from the scenario for a petsim run directory")
    p.add_argument("--model", action="append", choices=MODELS, help="model to fit (repeat for several; default srtm)")
    p.add_argument("--region", action="append", help="region to fit (repeat; default all but the reference)")
    p.add_argument("--t-star", type=float, default=None, metavar="MIN", help="t* in min (MRTM, MRTM2, Logan)")
    p.add_argument("--k2-ref", type=float, default=None, metavar="PER_MIN",
                   help="reference efflux k2' (1/min); default: estimated by a first SRTM/MRTM pass")
    p.add_argument("--window", type=float, nargs=2, default=None, metavar=("START", "END"), help="fit window in min")
    p.add_argument("--weights", choices=("duration", "decay", "none"), default="decay", help="frame weights")
    p.add_argument("--half-life", type=float, default=C11_HALF_LIFE_MIN, metavar="MIN",
                   help="isotope half-life for decay weights (default carbon-11)")
    p.add_argument("-o", "--out-dir", default=None, help="output folder (default: next to each input table)")
    p.add_argument("--no-plots", action="store_true", help="do not write the PNG figures")
    p.set_defaults(func=run_fit)


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


def output_stem(table_path: str) -> str:
    """``sub-01_desc-recon_tacs.tsv`` -> ``sub-01``; other names lose ``.tsv`` (and a ``_tacs`` suffix)."""
    name = os.path.basename(table_path)
    stem = name[:-4] if name.endswith(".tsv") else name
    if "_desc-" in stem:
        return stem.split("_desc-")[0]
    return stem[:-5] if stem.endswith("_tacs") else stem


def plot_fits(path, table, ref_tac, region, results) -> None:
    """One PNG: the region's TAC, the reference and each model's fitted curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def run_fit(args) -> int:
    if args.ref is None:
        raise ValueError("--ref is required: name the reference region column (or a prefix such as occipital_cortex)")
    models = tuple(dict.fromkeys(args.model or ["srtm"]))
    for table_path in find_tac_tables(args.path):
        table = read_tac_table(table_path)
        out_dir = args.out_dir or os.path.dirname(os.path.abspath(table_path))
        os.makedirs(out_dir, exist_ok=True)
        results = fit_models(table, args.ref, models=models, regions=args.region, t_star_min=args.t_star,
                             k2_ref=args.k2_ref, window_min=args.window, weights=args.weights,
                             half_life_min=args.half_life)
        stem = output_stem(table_path)
        out = write_results_tsv(os.path.join(out_dir, f"{stem}_desc-estimates_bp.tsv"), results)
        print(f"# {table_path} (reference: {', '.join(match_regions(table.regions, args.ref))})")
        print(format_results(results))
        print(f"# wrote {out}")
        if not args.no_plots:
            ref_tac = table.reference(args.ref)
            for region in dict.fromkeys(r.region for r in results):
                plot_fits(os.path.join(out_dir, f"{stem}_region-{region}_desc-fit_tac.png"), table, ref_tac, region,
                          [r for r in results if r.region == region])
    return 0
