"""Regional BP_ND measured the way the motivating site did it: 9-mm spheres, Logan reference, occipital reference.

Run:
    python benchmarks/site_pipeline_spheres.py RUN_DIR [--scan control|release] [--window START END]
        [--reference-voi region|sphere] [--fallback nearest|deepest] [--snap] [--weights KIND] [--out TABLE.tsv]
    python benchmarks/site_pipeline_spheres.py --run-demo /tmp/sphere_demo    # simulate + reconstruct the demo first

RUN_DIR is a run folder of the pipeline (``petsim simulate`` then ``petsim reconstruct``, or
``python benchmarks/pipeline.py demo --keep DIR``); with ``--run-demo DIR`` and no RUN_DIR, DIR is
used, and the demo's simulate and reconstruct stages are run there first unless it holds a reconstructed run.

What it measures
----------------
The [11C]carfentanil studies this project models (Zubieta et al., Science 2001;293:311; Hsu et al.,
Mol Psychiatry 2013;18:1211) scanned on an HR+ in 3D, rebinned with FORE, reconstructed with 2D OSEM
(4 iterations x 16 subsets), and measured BP_ND with the Logan reference-tissue graphical analysis
(Logan et al., JCBFM 1996;16:834), the occipital cortex as the reference, in 9-mm-diameter spherical
VOIs centred on each structure. The pipeline's own fit stage uses the whole labelled region instead.
This script takes the reconstructed 4D image of one scan of a run (the ``control`` scan, which has no
release, when there is one) and, for every region with specific binding:

1. centres a 9-mm sphere on the centroid of the region's voxels in the phantom's label image (scanner
   mm on the reconstruction grid). Where the centroid's voxel is not in the region (a curved or thin
   structure: the cortical ribbons, the caudate) the sphere is centred on the region voxel *nearest*
   to the centroid (``--fallback deepest``: on the voxel farthest from the region's boundary) -- see
   :func:`petsim.modeling.extraction.region_centre_mm`. ``--snap`` moves every centre to the nearest
   voxel centre, as a sphere drawn in an image viewer is; without it the number of voxels in a sphere
   depends on where the centroid falls between voxel centres (see the ``vox`` column);
2. takes the mean TAC of the voxels of the sphere (:func:`petsim.modeling.spherical_voi`,
   :func:`petsim.modeling.extract_tacs`);
3. fits the Logan reference model (:func:`petsim.modeling.fit_models`, ``logan_ref``) with t*, the
   frame weights and k2' of the resolved scenario, once over the analysis window (default: the
   scenario's last window; ``--window START END`` in min) and once over the whole scan after t*.

The reference TAC is, by default, the mean over the whole labelled occipital cortex (both sides): the
sites drew large occipital ROIs, not spheres, for the reference. ``--reference-voi sphere`` uses a
9-mm sphere on each occipital region (their voxels pooled) instead.

The table gives, per region: the sphere's voxels and the fraction of them labelled as the region, the
true BP_ND of the scan in the window (``bp_nd_control`` of the truth table for the control scan,
``bp_nd_release`` for the scan with release) and of the whole scan (``bp_nd_baseline``), the sphere's
Logan BP_ND in the window and over the whole scan with their ratios to the truth, and, for comparison,
the Logan BP_ND of the whole labelled region in the window. It ends with the medial/lateral thalamus
contrast (each side's BP_ND averaged over left and right) of the truth, the spheres and the regions.
Not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from petsim.core.toml import load_toml
from petsim.io import read_nifti, read_tsv, write_tsv
from petsim.modeling import TacTable, extract_tacs, fit_models, spherical_voi
from petsim.modeling.extraction import region_centre_mm
from petsim.modeling.tactable import match_regions
from petsim.pipeline.analyse import format_table
from petsim.pipeline.layout import RunLayout

#: Diameter (mm) of the spherical VOIs of the sites (Zubieta et al. 2001; Hsu et al. 2013).
SPHERE_MM = 9.0

#: A region "has specific binding" when its true baseline BP_ND exceeds this (as the pipeline's report).
MIN_BP_ND = 0.05


def run_demo(out_dir: Path) -> None:
    """Simulate and reconstruct the shipped ``demo`` scenario into ``out_dir``, unless it holds a run already.

    A folder with a reconstructed run (of any scenario, or of an older version of the demo) is left as it
    is; one with a simulated but unreconstructed demo is reconstructed.

    Parameters
    ----------
    out_dir : Path
        The run folder; created when missing.
    """
    from petsim.pipeline.layout import RunFolderError
    from petsim.pipeline.run import reconstruct_stage, simulate_stage

    if (out_dir / "scenario_resolved.toml").is_file() and (out_dir / ".petsim" / "reconstruct.done.json").is_file():
        print(f"{out_dir} holds a reconstructed run already: measuring it as it is")
        return
    print(f"simulating and reconstructing the demo in {out_dir} (a few minutes)", flush=True)
    try:
        simulate_stage("demo", out_dir, quiet=True)
        reconstruct_stage(out_dir, quiet=True)
    except RunFolderError as err:
        raise SystemExit(str(err)) from None


def load_run(run_dir: Path, scan: str | None) -> dict:
    """The scan, labels, truth and analysis settings of a run folder.

    Parameters
    ----------
    run_dir : Path
        A run folder with ``scenario_resolved.toml`` and a reconstructed scan.
    scan : str or None
        ``"control"`` or ``"release"``; None: the control scan when the run has one, else the release scan.

    Returns
    -------
    dict with keys ``scan``, ``image`` (x, y, z, frame), ``grid``, ``start``, ``end`` (frame times, min),
    ``labels`` (x, y, z), ``regions`` (rows of ``_dseg.tsv``), ``truth`` (rows of ``_desc-truth_bp.tsv``)
    and ``analysis`` (the ``[analysis]`` table of the resolved scenario).
    """
    scenario_path = run_dir / "scenario_resolved.toml"
    if not scenario_path.is_file():
        raise SystemExit(f"{run_dir} holds no petsim run (no {scenario_path.name}); make one with "
                         f"`python benchmarks/pipeline.py demo --keep {run_dir}` or use --run-demo")
    scenario = load_toml(scenario_path)  # the plain table: the resolved scenario holds every setting
    lay = RunLayout(run_dir, str(scenario.get("subject", "01")))
    if scan is None:
        scan = "control" if lay.pet("control").is_file() else "release"
    if not lay.pet(scan).is_file():
        raise SystemExit(f"{lay.pet(scan)} is missing: reconstruct the run first (`petsim reconstruct {run_dir}`)")
    image, grid = read_nifti(lay.pet(scan))
    side = json.loads(lay.pet(scan, ".json").read_text())
    start = np.asarray(side["FrameTimesStart"], float) / 60.0
    end = start + np.asarray(side["FrameDuration"], float) / 60.0
    labels, label_grid = read_nifti(lay.deriv_dir / f"{lay.sub}_dseg.nii.gz")
    if image.ndim != 4 or image.shape[3] != start.size:
        raise SystemExit(f"{lay.pet(scan).name} has shape {image.shape}, its sidecar {start.size} frames")
    if label_grid != grid:
        raise SystemExit(f"the labels' grid {label_grid} is not the reconstruction grid {grid}")
    return {"scan": scan, "image": np.asarray(image, np.float64), "grid": grid, "start": start, "end": end,
            "labels": np.asarray(labels).astype(np.int32), "regions": read_tsv(lay.deriv_dir / f"{lay.sub}_dseg.tsv"),
            "truth": read_tsv(lay.deriv("truth", "bp")), "analysis": scenario["analysis"]}


def sphere_masks(grid, labels, regions: dict, fallback: str, snap: bool) -> dict:
    """A 9-mm sphere on each region, centred as :func:`region_centre_mm` says.

    Parameters
    ----------
    grid : petsim.grid.Grid
    labels : ndarray of int (x, y, z)
    regions : dict name -> label id
    fallback : {"nearest", "deepest"}
        Where the centre goes when the centroid lies outside the region.
    snap : bool
        Move each centre to the nearest voxel centre.

    Returns
    -------
    dict name -> (mask (x, y, z) of bool, centre (mm), whether the centroid was inside the region)
    """
    out = {}
    origin, vox = np.asarray(grid.origin_mm), np.asarray(grid.voxel_size_mm)
    for name, rid in regions.items():
        centre, inside = region_centre_mm(grid, labels == rid, fallback=fallback)
        if snap:
            centre = origin + np.rint((centre - origin) / vox) * vox
        out[name] = (spherical_voi(grid, centre, SPHERE_MM), centre, inside)
    return out


def logan(tacs: dict, cr, start, end, analysis: dict, window, weights) -> dict:
    """Logan reference BP_ND of each TAC (NaN where the fit did not converge), via :func:`fit_models`.

    Parameters
    ----------
    tacs : dict name -> ndarray (frame,)
    cr : ndarray (frame,)
        Reference TAC.
    start, end : ndarray
        Frame times (min).
    analysis : dict
        The scenario's ``[analysis]`` table (``t_star_min``, ``k2_ref_per_min``).
    window : (float, float) or None
        Fit window (min); None: every frame after t*.
    weights : str
        Frame weights (see :data:`petsim.modeling.WEIGHTS`).

    Returns
    -------
    dict name -> BP_ND
    """
    table = TacTable(start, end, {**tacs, "reference": cr})
    fits = fit_models(table, ref="reference", models=("logan_ref",), regions=list(tacs),
                      t_star_min=analysis["t_star_min"], k2_ref=analysis.get("k2_ref_per_min"),
                      window_min=window, weights=weights)
    return {f.region: (f.bp_nd if f.converged else float("nan")) for f in fits}


def thalamus_contrast(values: dict, structure_of: dict) -> tuple[float, float]:
    """Medial and lateral thalamus BP_ND, each averaged over the sides present.

    Parameters
    ----------
    values : dict region -> BP_ND
    structure_of : dict region -> structure (the ``structure`` column of ``_dseg.tsv``)

    Returns
    -------
    (medial, lateral) : floats, NaN where the structure has no region.
    """
    def mean_of(structure):
        v = [values[r] for r in values if structure_of.get(r) == structure]
        return float(np.mean(v)) if v else float("nan")

    return mean_of("thalamus_medial"), mean_of("thalamus_lateral")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="?", type=Path, help="run folder (simulated and reconstructed)")
    ap.add_argument("--run-demo", type=Path, metavar="DIR",
                    help="simulate and reconstruct the demo in DIR first, unless DIR holds a reconstructed run")
    ap.add_argument("--scan", choices=("control", "release"), default=None,
                    help="scan to measure (default: control when the run has it)")
    ap.add_argument("--window", nargs=2, type=float, metavar=("START", "END"),
                    help="Logan fit window (min); default: the scenario's last analysis window")
    ap.add_argument("--reference-voi", choices=("region", "sphere"), default="region",
                    help="reference VOI: the whole labelled occipital cortex (default, as the sites' large "
                         "occipital ROIs) or a 9-mm sphere on each occipital region")
    ap.add_argument("--fallback", choices=("nearest", "deepest"), default="nearest",
                    help="sphere centre when a region's centroid lies outside it (default: nearest region voxel)")
    ap.add_argument("--snap", action="store_true", help="centre every sphere on a voxel centre")
    ap.add_argument("--weights", default=None, help="frame weights: counts, decay, duration or none "
                                                     "(default: the scenario's)")
    ap.add_argument("--out", type=Path, help="also write the table here (TSV)")
    args = ap.parse_args(argv)
    run_dir = args.run_dir or args.run_demo
    if run_dir is None:
        ap.error("give RUN_DIR or --run-demo DIR")
    if args.run_demo is not None:
        run_demo(args.run_demo)

    run = load_run(run_dir, args.scan)
    an, grid, labels, img = run["analysis"], run["grid"], run["labels"], run["image"]
    weights = args.weights or an.get("weights", "counts")
    windows = an["windows"]
    window = tuple(args.window) if args.window else (windows[-1]["start_min"], windows[-1]["end_min"])
    ids = {r["name"]: int(r["index"]) for r in run["regions"]}
    structure_of = {r["name"]: r["structure"] for r in run["regions"]}
    present = set(np.unique(labels).tolist())

    # truth of this scan in the fit window (a window of the scenario), and its baseline (the whole scan)
    column = "bp_nd_control" if run["scan"] == "control" else "bp_nd_release"
    named = [w["name"] for w in windows if (w["start_min"], w["end_min"]) == window]
    truth_rows = [t for t in run["truth"] if t["window"] == (named[0] if named else windows[-1]["name"])]
    truth_window = {t["region"]: (float(t[column]) if named else float("nan")) for t in truth_rows}
    truth_full = {t["region"]: float(t["bp_nd_baseline"]) for t in truth_rows}
    ref_spec = an["reference"]
    ref_names = match_regions(list(ids), ref_spec if isinstance(ref_spec, str) else list(ref_spec))
    targets = [r for r, bp in truth_full.items()
               if bp > MIN_BP_ND and r not in ref_names and ids.get(r) in present]

    spheres = sphere_masks(grid, labels, {r: ids[r] for r in targets + ref_names}, args.fallback, args.snap)
    # one extract_tacs call per region: spheres of neighbouring regions may overlap, so no single label image holds them
    sphere_tacs = {r: extract_tacs(img, spheres[r][0], {1: r})[r] for r in targets}
    region_tacs = extract_tacs(img, labels, {ids[r]: r for r in targets})
    if args.reference_voi == "region":
        ref_mask = np.isin(labels, [ids[r] for r in ref_names])
    else:
        ref_mask = np.logical_or.reduce([spheres[r][0] for r in ref_names])
    cr = extract_tacs(img, ref_mask, {1: "reference"})["reference"]

    fit_args = (cr, run["start"], run["end"], an)
    bp_window = logan(sphere_tacs, *fit_args, window, weights)
    bp_full = logan(sphere_tacs, *fit_args, None, weights)
    bp_region = logan(region_tacs, *fit_args, window, weights)

    w_tag = f"{window[0]:g}-{window[1]:g}min"
    rows = []
    for r in targets + ref_names:
        mask, centre, inside = spheres[r]
        row = {"region": r, "vox": int(mask.sum()), "in_region_pct": 100.0 * float(np.mean(labels[mask] == ids[r])),
               "centre": "centroid" if inside else args.fallback}
        if r in bp_window:
            tw, tf = truth_window.get(r, float("nan")), truth_full[r]
            row.update({f"true_{w_tag}": tw, f"sphere_{w_tag}": bp_window[r], "ratio": bp_window[r] / tw,
                        "true_full": tf, "sphere_full": bp_full[r], "ratio_full": bp_full[r] / tf,
                        f"region_{w_tag}": bp_region[r]})
        rows.append(row)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    print(f"{run_dir}: {run['scan']} scan, Logan reference (t* = {an['t_star_min']:g} min, weights {weights}), "
          f"{SPHERE_MM:g}-mm spheres{' on voxel centres' if args.snap else ''}; reference "
          f"{'+'.join(ref_names)} ({args.reference_voi}, {int(ref_mask.sum())} voxels); grid "
          f"{grid.shape} of {'x'.join(f'{v:g}' for v in grid.voxel_size_mm)} mm")
    if not named:
        print(f"note: the window {w_tag} is none of the scenario's, so its truth is n/a (true_full is the baseline)")
    print(format_table(rows, columns, "{:.3f}"))

    print(f"\nmedial vs lateral thalamus (sides averaged), window {w_tag}:")
    contrast = []
    for what, values in (("truth", truth_window), ("9-mm sphere", bp_window), ("whole region", bp_region)):
        med, lat = thalamus_contrast({r: values[r] for r in targets if r in values}, structure_of)
        contrast.append({"measure": what, "medial": med, "lateral": lat, "medial/lateral": med / lat,
                         "medial-lateral": med - lat})
    print(format_table(contrast, list(contrast[0]), "{:.3f}"))
    if args.out:
        write_tsv(args.out, rows)
        print(f"table written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
