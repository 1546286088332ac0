"""The closed loop: simulate -> reconstruct -> fit -> report, each stage reusable on its own.

A stage writes its outputs atomically and then a marker recording the
resolved scenario; a later call skips a stage whose marker matches (unless
``force``), so an interrupted run never leaves output that looks complete.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from petsim.io import read_tsv, write_nifti, write_text_atomic, write_tsv
from petsim.io.bids import pet_sidecar, write_dataset_description, write_sidecar
from petsim.pipeline.analyse import (compare_with_truth, estimate_rows, fit_scan, fitted_rows, format_table,
                                     percent_of, regions_to_report)
from petsim.pipeline.layout import RunFolderError, RunLayout, outputs_of, remove_outputs, run_lock
from petsim.core.toml import load_toml
from petsim.pipeline.scenario import Scenario, ScenarioError, load_scenario
from petsim.pipeline.world import World, validate, voi_labels


def _log(msg: str, quiet: bool = False):
    if not quiet:
        print(f"[petsim] {msg}", flush=True)


def open_run(out_dir, scenario=None) -> tuple[RunLayout, Scenario]:
    """The run layout and resolved scenario of ``out_dir`` (given, or read back from the directory)."""
    out = Path(out_dir)
    if scenario is None:
        path = out / "scenario_resolved.toml"
        if not path.is_file():
            raise FileNotFoundError(f"{out} holds no petsim run (no scenario_resolved.toml); run `petsim simulate SCENARIO -o {out}` first")
        scenario = load_scenario(path)
    scenario = load_scenario(scenario)
    return RunLayout(out, scenario.subject), scenario


def _claim_folder(lay: RunLayout, scenario: Scenario, force: bool) -> None:
    """Make ``lay.root`` the folder of ``scenario``: a folder holding another scenario's outputs is
    refused (petsim never mixes two runs: stale TACs of another design would be fitted silently), or,
    with ``force``, those outputs are removed first."""
    path = lay.scenario_path
    old_subject, what = None, None
    if path.is_file():
        try:
            old = load_scenario(path)
            if old == scenario:
                return
            old_subject, what = old.subject, f"scenario {old.name!r}"
            if old.name == scenario.name:
                what = (f"another version of scenario {old.name!r} (it differs in "
                        f"{', '.join(_differing_keys(old.to_dict(), scenario.to_dict())[:4])})")
        except (ScenarioError, OSError, ValueError):  # written by another petsim version, or damaged
            try:
                old_subject = str(load_toml(path).get("subject", lay.subject))
            except (ValueError, OSError):  # not TOML, not UTF-8 (a ValueError naming the file), unreadable
                old_subject = lay.subject
            what = f"a scenario this petsim cannot read ({path.name})"
    elif any(p.exists() for p in outputs_of(lay.root, lay.subject)):
        old_subject, what = lay.subject, "petsim outputs without their scenario_resolved.toml"
    else:
        return
    if not force:
        raise RunFolderError(f"{lay.root} holds the outputs of {what}, not of scenario {scenario.name!r}; "
                             "petsim does not mix two runs in one folder. Write to another folder (-o DIR), "
                             "or add --force to remove those outputs first")
    remove_outputs(lay.root, old_subject)


def _differing_keys(a, b, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two resolved scenarios (missing on one side included)."""
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return [] if a == b else [prefix or "(top level)"]
    out = []
    for key in sorted(set(a) | set(b), key=str):
        out += _differing_keys(a.get(key), b.get(key), f"{prefix}.{key}" if prefix else str(key))
    return out


def simulate_stage(scenario, out_dir, force: bool = False, quiet: bool = False) -> RunLayout:
    """Simulate the truth and the scans of ``scenario`` into ``out_dir`` (see :func:`_simulate`)."""
    scenario = load_scenario(scenario)
    validate(scenario)
    with run_lock(out_dir, "petsim simulate"):
        return _simulate(scenario, out_dir, force, quiet)


def _simulate(scenario: Scenario, out_dir, force: bool, quiet: bool) -> RunLayout:
    from petsim.phantom.mri import has_brain
    from petsim.pipeline import static
    from petsim.pipeline.simulate import late_weights, simulate_kinetics, simulate_scans, truth_image, truth_of

    lay, _ = open_run(out_dir, scenario)
    _claim_folder(lay, scenario, force)
    key = scenario.to_json()
    if not force and lay.stage_done("simulate", key):
        _log(f"simulate: reusing {lay.root} (use --force to redo)", quiet)
        return lay
    from petsim.pipeline.resources import check_resources

    _log(f"this run needs {check_resources(scenario, lay.root, force).describe()}", quiet)
    lay.invalidate_from("simulate")
    lay.root.mkdir(parents=True, exist_ok=True)
    write_text_atomic(lay.scenario_path, scenario.to_toml())
    _write_bids_dataset(lay, scenario)
    world = World(scenario)
    t0 = time.perf_counter()
    _log(f"phantom {scenario.phantom.name} on the reconstruction grid {world.recon_grid.shape} and the simulation grid {world.sim_grid.shape}", quiet)
    ph = world.phantom_recon
    if scenario.kind == "static":
        res, groups = None, static.basis_groups(world)
        rows = static.truth_rows(world)
        write_tsv(lay.deriv("truth", "activity"), rows)
        _write_labels(lay, ph)
        levels = {r["region"]: r["activity_bq_ml"] for r in rows}
    else:
        res, groups = simulate_kinetics(world), None
        truth = truth_of(world, res)
        _write_truth(lay, world, truth)
        weights = late_weights(world.frames.starts_min, world.frames.ends_min)
        levels = {r: float(np.dot(weights, tac)) for r, tac in truth.noisefree["release"].items()}
    # the truth the report sets beside the reconstruction: the late frames' activity through the partial volumes
    write_nifti(lay.deriv("truthlate", "pet", ext=".nii.gz"), truth_image(ph, levels), ph.grid)
    if scenario.phantom.t1w and has_brain(ph.region_names):  # a cylinder or a NEMA phantom has no anatomy to image
        _write_anatomy(lay, world)
    _log(f"truth written ({time.perf_counter() - t0:.1f} s); simulating the scan", quiet)
    from petsim.pipeline.simulate import acquisition_model
    from petsim.pipeline.sinostore import ScanWriter, write_scan_factors

    model = acquisition_model(world, progress=not quiet)
    write_scan_factors(lay.sino_dir, world.scanner, world.layout, model)
    writers, shown = {}, {}
    mid = world.frames.n_frames // 2  # the frame drawn in the report

    def sink(scan, frame):
        if scan not in writers:
            writers[scan] = ScanWriter(lay.sino_dir, scan, world.scanner, world.layout, model.physics,
                                       isotope=world.isotope.name)
        if scan == "release" and len(writers[scan].meta) == mid:
            shown["prompts"] = frame.prompts
        writers[scan].add(frame)

    scans = simulate_scans(world, res, seed=scenario.seed, sink=sink, progress=not quiet, groups=groups, model=model)
    if scenario.kind == "dynamic":
        _write_blood(lay, world, scans)
    for scan in scans:
        meta = writers[scan].close()
        if not quiet:
            _log(f"counts of the {scan} scan:")
            print(_count_table(meta))
    from petsim.plot import plot_sinogram

    plot_sinogram(lay.report_dir / "sinogram.png", shown["prompts"], title=f"prompts, frame {mid}")
    names = ph.region_names
    centre = "amygdala_l" if "amygdala_l" in names else max(ph.regions, key=lambda r: r.volume_ml).name
    ph.plot(lay.report_dir / "phantom.png", centre_region=centre)
    lay.mark_done("simulate", key, seconds=time.perf_counter() - t0, scans=list(scans))
    _log(f"simulate: done in {time.perf_counter() - t0:.1f} s -> {lay.root}", quiet)
    return lay


def _write_bids_dataset(lay: RunLayout, scenario: Scenario) -> None:
    """The run folder as a BIDS dataset: raw PET in sub-XX/, petsim's derivative dataset (truth, TACs,
    estimates, sinograms, report) in derivatives/petsim/, and the resolved scenario beside them,
    listed in .bidsignore (a file of petsim's, not of BIDS)."""
    from petsim import __version__

    write_dataset_description(lay.root, f"petsim simulation: {scenario.name}")
    write_dataset_description(lay.derivatives_root, f"petsim derivatives: {scenario.name}", derivative=True)
    write_text_atomic(lay.root / ".bidsignore", f"{lay.scenario_path.name}\n")
    write_text_atomic(lay.root / "README", (
        f"Simulated dynamic PET made by petsim {__version__} from the scenario '{scenario.name}' "
        f"({lay.scenario_path.name}: every setting, so the run can be repeated exactly).\n\n"
        f"{lay.sub}/pet/{lay.sub}_pet.nii.gz is the scan with the simulated release; "
        f"{lay.pet('control').name}, when present, is the matched scan without release (same subject, "
        "independent noise).\nderivatives/petsim/ holds the truth (BP_ND per region and window, truth maps), "
        "the noise-free and reconstructed TACs, BP_ND estimates, their validation against the truth, the "
        "sinograms and the report.\n"))


def _count_table(meta: list) -> str:
    """Counts per frame (and the whole scan) as the scanner would report them."""
    rows = []
    for i, m in enumerate(meta):
        info = m["info"]
        rows.append({"frame": i, "start_min": m["frame_start_min"], "dur_min": m["frame_duration_min"],
                     **{k: info.get(k) for k in ("trues", "scatter", "randoms", "prompts", "nec", "dead_time_fraction")}})
    keys = ("trues", "scatter", "randoms", "prompts", "nec")
    rows.append({"frame": "all", "start_min": meta[0]["frame_start_min"],
                 "dur_min": sum(m["frame_duration_min"] for m in meta),
                 **{k: sum(float(m["info"].get(k) or 0.0) for m in meta) for k in keys}})
    return format_table(rows, list(rows[0]), "{:.4g}")


#: Manual arterial sampling times (min): every 15 s over the first 2 min, then at widening intervals, the
#: usual shape of a manual schedule for an 11C study (a planning choice, not one site's protocol).
BLOOD_SAMPLES_MIN = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0, 20.0, 25.0,
                     30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 105.0, 120.0)


def _write_blood(lay: RunLayout, world: World, scans: list[str]) -> None:
    """The arterial input as a site records it: ``_recording-manual_blood.tsv`` (+ .json) beside each scan,
    sampled from the true input at :data:`BLOOD_SAMPLES_MIN` up to the scan end, with a relative error of
    ``protocol.blood_sample_cov`` per measurement (Gaussian, its own seed stream; 0: noise-free)."""
    from petsim.io.bids import blood_sidecar
    from petsim.pipeline.world import plasma_input

    scenario = world.scenario
    end = float(world.frames.ends_min[-1])
    t = np.array([x for x in BLOOD_SAMPLES_MIN if x <= end])
    inp = plasma_input(scenario)
    total, blood = inp.total(t), inp.whole_blood(t)
    with np.errstate(invalid="ignore", divide="ignore"):
        parent_fraction = np.where(total > 0, inp.parent(t) / total, 1.0)
    cov = scenario.protocol.blood_sample_cov
    # a seed sequence of its own from the scenario seed, independent of the scans' noise; one stream per scan
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence([scenario.seed, 2]).spawn(len(scans))]
    for scan, rng in zip(scans, rngs):
        noisy = [np.clip(x * (1.0 + cov * rng.standard_normal(x.size)), 0.0, None) for x in (total, blood)]
        fraction = np.clip(parent_fraction * (1.0 + cov * rng.standard_normal(t.size)), 0.0, 1.0)
        rows = [{"time": 60.0 * ti, "plasma_radioactivity": float(p), "metabolite_parent_fraction": float(f),
                 "whole_blood_radioactivity": float(b)} for ti, p, f, b in zip(t, noisy[0], fraction, noisy[1])]
        stem = lay.pet(scan, "").name.replace("_pet", "_recording-manual_blood")
        write_tsv(lay.pet_dir / f"{stem}.tsv", rows)
        how = ("noise-free samples" if cov == 0 else f"samples with a {100 * cov:g}% relative error")
        write_sidecar(lay.pet_dir / f"{stem}.json", blood_sidecar(f"{how} of the simulated arterial input (petsim)"))


#: Descriptions of the columns of ``_dseg.tsv`` beyond BIDS's index and name (its ``_dseg.json``).
DSEG_COLUMNS = {
    "index": {"Description": "label value in the _dseg.nii.gz image"},
    "name": {"Description": "region name (structure, then _l or _r for the side)"},
    "structure": {"Description": "anatomical structure the region belongs to (both sides share it)"},
    "hemisphere": {"Description": "side of the region: left, right or midline"},
    "tissue": {"Description": "tissue class of the region (grey, white, csf, bone, soft, ...)"},
    "volume_ml": {"Description": "volume of the region in the phantom", "Units": "mL"},
}


def _write_labels(lay: RunLayout, ph) -> None:
    write_nifti(lay.deriv_dir / f"{lay.sub}_dseg.nii.gz", ph.labels.astype(np.int16), ph.grid, dtype=np.int16)
    write_tsv(lay.deriv_dir / f"{lay.sub}_dseg.tsv",
              [{"index": r.id, "name": r.name, "structure": r.structure, "hemisphere": r.hemisphere, "tissue": r.tissue,
                "volume_ml": r.volume_ml} for r in ph.regions])
    write_sidecar(lay.deriv_dir / f"{lay.sub}_dseg.json", DSEG_COLUMNS)


def anatomy_grid(world: World):
    """The T1w image's grid: ``phantom.t1w_voxel_mm`` voxels over the head's bounding box on the
    reconstruction grid (with a 10 mm margin), in the same scanner coordinates as the PET."""
    from petsim.grid import Grid

    ph, g = world.phantom_recon, world.recon_grid
    inside = np.argwhere(ph.labels > 0)
    lo = np.array([g.axis_mm(a)[i] for a, i in enumerate(inside.min(axis=0))]) - np.array(g.voxel_size_mm) / 2 - 10.0
    hi = np.array([g.axis_mm(a)[i] for a, i in enumerate(inside.max(axis=0))]) + np.array(g.voxel_size_mm) / 2 + 10.0
    vs = world.scenario.phantom.t1w_voxel_mm
    shape = tuple(int(n) for n in np.ceil((hi - lo) / vs))
    return Grid(shape, (vs,) * 3, origin_mm=tuple(float(x) for x in lo + vs / 2))


def _write_anatomy(lay: RunLayout, world: World) -> None:
    """``anat/sub-XX_T1w.nii.gz`` (a synthetic T1-weighted MRI of the phantom) and, in the derivatives,
    ``anat/sub-XX_desc-aseg_dseg.nii.gz`` (its labels in FreeSurfer's aseg indices and names)."""
    from petsim.phantom.mri import ASEG_BIAS_RANGE, ASEG_NOISE, aseg_labels, synthetic_t1w

    from petsim.pipeline.world import load_phantom

    grid = anatomy_grid(world)
    # 2 x 2 x 2 sub-voxels give 1 mm voxels their partial volumes (the default 3 x 3 x 3 takes 3 x longer)
    ph = (load_phantom(world.scenario, grid, supersample=2) if world.phantom_loader is load_phantom
          else world.phantom_loader(world.scenario, grid))
    rng = np.random.default_rng(np.random.SeedSequence([world.scenario.seed, 3]))  # its own stream
    anat = lay.root / lay.sub / "anat"
    write_nifti(anat / f"{lay.sub}_T1w.nii.gz", synthetic_t1w(ph, rng), grid, dtype=np.int16)
    write_sidecar(anat / f"{lay.sub}_T1w.json", {
        "Modality": "MR", "Manufacturer": "petsim (simulation)", "MRAcquisitionType": "3D",
        "SeriesDescription": (f"synthetic T1-weighted image of phantom {world.scenario.phantom.name}: tissue signals "
                              f"mixed by partial volume, bias field {ASEG_BIAS_RANGE[0]:g}-{ASEG_BIAS_RANGE[1]:g}, "
                              f"Rician noise {100 * ASEG_NOISE:g}% of white matter (BrainWeb levels); same scanner "
                              "coordinates as the PET images")})
    labels, rows = aseg_labels(ph)
    deriv = lay.deriv_dir / "anat"
    write_nifti(deriv / f"{lay.sub}_desc-aseg_dseg.nii.gz", labels, grid, dtype=np.int16)
    write_tsv(deriv / f"{lay.sub}_desc-aseg_dseg.tsv", rows)


def _write_truth(lay: RunLayout, world: World, truth) -> None:
    from petsim.modeling import write_tac_table

    fr = world.frames
    write_tsv(lay.deriv("truth", "bp"), truth.rows)
    for scan, tacs in truth.noisefree.items():
        scan, _, variant = scan.partition("-")
        write_tac_table(lay.deriv("noisefree" + variant, "tacs", scan), fr.starts_min, fr.ends_min, tacs)
    ph = world.phantom_recon
    _write_labels(lay, ph)
    # Truth maps through the labels: baseline BP_ND and its change in the task window.
    by = {}
    for row in truth.rows:
        by.setdefault(row["window"], {})[row["region"]] = row
    task = by.get(world.scenario.analysis.windows[-1].name, {})
    bp = np.zeros(ph.grid.shape, np.float32)
    dbp = np.zeros(ph.grid.shape, np.float32)
    for r in ph.regions:
        row = task.get(r.name)
        if row is None:
            continue
        mask = ph.labels == r.id
        bp[mask] = row["bp_nd_baseline"]
        dbp[mask] = row["delta_bp_nd"]
    write_nifti(lay.deriv("truthbaseline", "bp", ext=".nii.gz"), bp, ph.grid)
    write_nifti(lay.deriv("truthdelta", "bp", ext=".nii.gz"), dbp, ph.grid)


def _begin_stage(out_dir, stage: str, force: bool, quiet: bool):
    """Open a run for ``stage``: the stage before must be complete; a complete ``stage`` is reused
    unless ``force``. Returns (layout, scenario, scenario key, whether the stage must run)."""
    from petsim.pipeline.layout import STAGES

    lay, scenario = open_run(out_dir)
    key = scenario.to_json()
    before = STAGES[STAGES.index(stage) - 1]
    if not lay.stage_done(before, key):
        how = f"petsim simulate SCENARIO -o {lay.root}" if before == "simulate" else f"petsim {before} {lay.root}"
        raise FileNotFoundError(f"{lay.root}: the {before} stage is missing or incomplete; run `{how}` first")
    if not force and lay.stage_done(stage, key):
        _log(f"{stage}: reusing the earlier results (use --force to redo)", quiet)
        return lay, scenario, key, False
    lay.invalidate_from(stage)
    return lay, scenario, key, True


def reconstruct_stage(out_dir, force: bool = False, quiet: bool = False) -> RunLayout:
    """Reconstruct the simulated scans of ``out_dir``: 4D NIfTI + sidecar per scan, regional TACs."""
    with run_lock(out_dir, "petsim reconstruct"):
        return _reconstruct(out_dir, force, quiet)


def _reconstruct(out_dir, force: bool, quiet: bool) -> RunLayout:
    from petsim.core.isotopes import get_isotope
    from petsim.modeling import extract_tacs, write_tac_table
    from petsim.pipeline.reconstruct import reconstruct_scan
    from petsim.pipeline.sinostore import StoredScan

    lay, scenario, key, todo = _begin_stage(out_dir, "reconstruct", force, quiet)
    if not todo:
        return lay
    world = World(scenario)
    t0 = time.perf_counter()
    scans = lay.scans()
    ph = world.phantom_recon
    names_by_id = {r.id: r.name for r in ph.regions}
    sc = scenario
    iso = get_isotope(sc.tracer.isotope)
    for scan in scans:
        frames = StoredScan(lay.sino_dir, scan, world.scanner, world.layout)
        _log(f"reconstructing the {scan} scan: {len(frames)} frames, {sc.recon.algorithm} "
             f"({sc.recon.rebin if sc.scanner.mode == '3d' else '2d'})", quiet)
        img = reconstruct_scan(world, frames, progress=not quiet)
        dcf = [m["decay_correction_factor"] for m in frames.meta]
        starts = [m["frame_start_min"] for m in frames.meta]
        ends = [m["frame_start_min"] + m["frame_duration_min"] for m in frames.meta]
        write_nifti(lay.pet(scan), img, world.recon_grid, frame_duration_s=60.0 * frames.meta[0]["frame_duration_min"])
        write_sidecar(lay.pet(scan, ".json"), _sidecar(sc, starts, ends, dcf, iso))
        vois = voi_labels(ph, sc.analysis.voi)
        present = set(np.unique(vois).tolist())  # a "core" VOI can be empty for a thin structure
        tacs = extract_tacs(img, vois, {i: n for i, n in names_by_id.items() if i in present})
        if len(frames) > 1:
            write_tac_table(lay.deriv("recon", "tacs", scan), np.array(starts), np.array(ends), tacs)
        else:  # a static scan: one row of the same BIDS-PET derivative table
            write_tsv(lay.deriv("recon", "tacs", scan), [{"frame_start": 60.0 * starts[0], "frame_end": 60.0 * ends[0],
                                                          **{k: float(v[0]) for k, v in tacs.items()}}])
    lay.mark_done("reconstruct", key, seconds=time.perf_counter() - t0)
    _log(f"reconstruct: done in {time.perf_counter() - t0:.1f} s", quiet)
    return lay


def _sidecar(sc: Scenario, starts, ends, dcf, iso) -> dict:
    from petsim.pipeline.simulate import scenario_tracer
    from petsim.pipeline.world import plasma_input

    rec = sc.recon
    algo = rec.algorithm.upper()
    rebin = rec.rebin.upper() if sc.scanner.mode == "3d" and rec.rebin != "none" else ("2D" if sc.scanner.mode == "2d" else "3D")
    labels, units, values = [], [], []
    if algo in ("OSEM", "MAP", "MLEM"):
        labels, units, values = ["subsets", "iterations"], ["none", "none"], [rec.effective_subsets, rec.iterations]
    if algo == "MAP":
        labels.append("beta"); units.append("none"); values.append(rec.beta)
    prot = sc.protocol
    mode = {"bolus": "bolus", "bolus_plus_infusion": "bolus-infusion"}[prot.input]
    # Carson et al. (JCBFM 1993): K_bol min worth of infusion as the bolus, the rest infused over infusion_min
    infused = prot.dose_mbq * (1.0 - plasma_input(sc).bolus_fraction) if mode == "bolus-infusion" else None
    tracer = scenario_tracer(sc) if sc.kind == "dynamic" else None
    mass = tracer.injected_mass_ug(prot.dose_mbq) if tracer else math.nan
    sa = tracer.specific_activity_gbq_per_umol if tracer else math.inf
    post = rec.post_filter_fwhm_mm
    return pet_sidecar(
        tracer_name=sc.tracer.name, radionuclide=iso.name.replace("-", ""), injected_mbq=prot.dose_mbq,
        mode_of_administration=mode, frame_starts_min=starts, frame_ends_min=ends, decay_correction_factors=dcf,
        recon_method=f"{rebin} {algo}", recon_parameter_labels=labels, recon_parameter_units=units,
        recon_parameter_values=values, recon_filter_type="Gaussian" if post else "none", recon_filter_size_mm=post or 0.0,
        attenuation_correction=_attenuation_text(sc.physics),
        model_name=sc.scanner.name, injected_volume_ml=prot.injected_volume_ml,
        infusion_mbq=infused, infusion_min=prot.infusion_min,
        molar_activity_gbq_per_umol=sa if math.isfinite(sa) else None,
        injected_mass_ug=mass if math.isfinite(mass) else None,
        extra={"petsimScenario": sc.name, "BodyWeight": prot.body_mass_kg,
               **({"InjectedMassPerWeight": mass / prot.body_mass_kg, "InjectedMassPerWeightUnits": "ug/kg"}
                  if math.isfinite(mass) else {}),
               **({"TracerMolecularWeight": tracer.molecular_weight_g_per_mol, "TracerMolecularWeightUnits": "g/mol"}
                  if tracer and math.isfinite(tracer.molecular_weight_g_per_mol) else {})},
    )


def _attenuation_text(p) -> str:
    """BIDS AttenuationCorrection: which mu-map the reconstruction was given."""
    if not p.attenuation:
        return "none"
    if p.attenuation_correction == "misregistered":
        return (f"simulated mu-map moved by {list(p.mumap_shift_mm)} mm and rotated by {list(p.mumap_rotation_deg)} "
                "degrees (misregistered)")
    return "simulated mu-map (known exactly)"


def fit_stage(out_dir, force: bool = False, quiet: bool = False) -> RunLayout:
    """Fit the scenario's models to the TACs of ``out_dir`` and compare them with the truth."""
    with run_lock(out_dir, "petsim fit"):
        return _fit(out_dir, force, quiet)


def _fit(out_dir, force: bool, quiet: bool) -> RunLayout:
    from petsim.modeling import get_model, read_tac_table

    lay, scenario, key, todo = _begin_stage(out_dir, "fit", force, quiet)
    if not todo:
        return lay
    if scenario.kind == "static":
        from petsim.pipeline.static import recovery_rows

        recon = read_tsv(lay.deriv("recon", "tacs"))[0]
        rows = recovery_rows(read_tsv(lay.deriv("truth", "activity")), {k: [v] for k, v in recon.items()})
        write_tsv(lay.deriv("validation", "activity"), rows)
        lay.mark_done("fit", key)
        if not quiet:
            print(format_table(rows, ["region", "true_bq_ml", "recon_bq_ml", "recovery", "bias_percent"], "{:.3f}"))
        return lay
    truth_rows = read_tsv(lay.deriv("truth", "bp"))
    regions = regions_to_report(scenario, truth_rows)
    rows, curves, replicates = [], [], {}
    # The same models on three sets of TACs of each scan: the reconstruction (what a study sees), the
    # noise-free truth (bias of the model alone), and the noise-free truth without blood volume.
    sources = (("recon", ""), ("noisefree", "-noisefree"), ("noisefreenovb", "-noisefree-novb"))
    for index, scan in enumerate(lay.scans()):  # the scans this run simulated, never a stale file of another run
        for desc, tag in sources:
            path = lay.deriv(desc, "tacs", scan)
            if path.is_file():
                # a release test (lp-ntPET) is slow and its truth is a timing, not a bias: fitted to the scans only
                skip = tuple(m for m in scenario.analysis.models if get_model(m).detects_release) if tag else ()
                table = read_tac_table(path)
                # the bootstrap's intervals are of the reconstructed TACs; its own seed stream per scan
                boot = 0 if tag else scenario.analysis.bootstrap
                results = fit_scan(table, scenario, regions, skip, bootstrap=boot,
                                   seed=[scenario.seed, 4, index])
                rows += estimate_rows(scan + tag, results)
                if not tag:
                    curves += fitted_rows(scan, results, table)
                    replicates.update({(f.region, f.model, scan, w): f.replicates for w, f in results
                                       if f.replicates is not None})
    write_tsv(lay.deriv("estimates", "bp"), rows)
    write_tsv(lay.deriv("fitted", "tacs"), curves)
    for stale in (lay.deriv("budget", "bp"), lay.deriv("budget", "bp", ext=".json")):
        stale.unlink(missing_ok=True)  # an error budget describes the fit it was made with
    windows = scenario.analysis.windows

    def compare(tag):
        chosen = [{**r, "scan": r["scan"][: len(r["scan"]) - len(tag)] if tag else r["scan"]} for r in rows
                  if (r["scan"].endswith(tag) if tag else r["scan"] in ("release", "control"))]
        return {(c["region"], c["model"]): c
                for c in compare_with_truth(chosen, truth_rows, windows, None if tag else replicates)}

    order = {r: i for i, r in enumerate(regions)}
    comparison = sorted(compare("").values(), key=lambda r: (order.get(r["region"], len(order)), r["model"]))
    noisefree, novb = compare("-noisefree"), compare("-noisefree-novb")
    for row in comparison:
        rm = (row["region"], row["model"])
        attainable = noisefree.get(rm, {})
        # what the model gives on the noise-free TACs of the same scans: the truth this estimator can attain
        row["attainable_BP_ND"] = attainable.get("BP_ND")
        row["bias_percent_vs_attainable"] = percent_of(row["BP_ND"], row["attainable_BP_ND"])
        row["bias_percent_noisefree_tacs"] = attainable.get("bias_percent")
        row["bias_percent_no_blood"] = novb[rm]["bias_percent"] if rm in novb else None
        row["percent_delta_noisefree_tacs"] = attainable.get("percent_delta")
    write_tsv(lay.deriv("validation", "bp"), comparison)
    _parametric_maps(lay, scenario, quiet)
    lay.mark_done("fit", key)
    if not quiet:
        print(summary_table(comparison))
    return lay


def _parametric_maps(lay: RunLayout, scenario, quiet: bool) -> None:
    """Voxelwise BP_ND of the scan with release (whole scan), inside the brain, next to the truth map."""
    from petsim.io import read_nifti
    from petsim.modeling import get_map, read_tac_table

    methods = scenario.analysis.maps
    if not methods:
        return
    img, grid = read_nifti(lay.pet("release"))
    labels, _ = read_nifti(lay.deriv_dir / f"{lay.sub}_dseg.nii.gz")
    tissue = {r["index"]: r["tissue"] for r in read_tsv(lay.deriv_dir / f"{lay.sub}_dseg.tsv")}
    mask = np.isin(labels, [i for i, t in tissue.items() if t in ("grey", "white")])
    table = read_tac_table(lay.deriv("recon", "tacs"))
    an = scenario.analysis
    ref = table.reference(an.reference if isinstance(an.reference, str) else list(an.reference))
    start, end = table.frame_start_min, table.frame_end_min
    for method in methods:
        maps = get_map(method).compute(img, ref, start, end, mask=mask, t_star_min=an.t_star_min, progress=not quiet)
        bp = np.where(mask, np.nan_to_num(maps["BP_ND"], nan=0.0), 0.0).astype(np.float32)
        write_nifti(lay.deriv_dir / f"{lay.sub}_desc-{method.replace('_', '')}_bp.nii.gz", bp, grid)


def summary_table(comparison: list[dict]) -> str:
    cols = ["region", "model", "true_BP_ND", "BP_ND", "bias_percent", "bias_percent_noisefree_tacs",
            "bias_percent_no_blood", "true_percent_delta", "percent_delta", "percent_delta_uncorrected"]
    return format_table(comparison, cols, "{:.2f}")


def budget_stage(out_dir, seed: int | None = None, quiet: bool = False) -> Path:
    """Split the error of the run in ``out_dir`` by correction (:mod:`petsim.pipeline.budget`), then redo its report.

    Writes ``_desc-budget_bp.tsv`` (and a JSON sidecar with the scenario's SHA-256 and the seed) next to the
    validation table; a later fit stage removes it (its numbers would describe another run).
    """
    import json

    from petsim.pipeline.budget import configurations, error_budget
    from petsim.pipeline.layout import scenario_sha256

    with run_lock(out_dir, "petsim budget"):
        lay, scenario = open_run(out_dir)
        key = scenario.to_json()
        if not lay.stage_done("fit", key):
            raise FileNotFoundError(f"{lay.root}: the fit stage is missing or incomplete; run `petsim run` first")
        configs = configurations(scenario)
        _log(f"budget: {len(configs)} in-memory runs ({', '.join(configs)})", quiet)
        rows = error_budget(scenario, seed=seed, progress=None if quiet else print)
        path = lay.deriv("budget", "bp")
        write_tsv(path, rows)
        write_text_atomic(path.with_suffix(".json"), json.dumps(
            {"Description": "error budget: each estimated correction switched on alone against the oracle "
                            "(petsim budget; docs/acquisition.md)",
             "ScenarioSHA256": scenario_sha256(key), "Seed": scenario.seed if seed is None else int(seed),
             "Configurations": {name: physics for name, physics in configs.items()}}, indent=2) + "\n")
    report_stage(out_dir, quiet=quiet)
    return path


def report_stage(out_dir, force: bool = False, quiet: bool = False) -> Path:
    """Write the validation report of ``out_dir`` (always redone: it is cheap)."""
    from petsim.pipeline.report import write_report

    with run_lock(out_dir, "petsim report"):
        lay, scenario, key, _ = _begin_stage(out_dir, "report", force=True, quiet=quiet)
        index = write_report(lay, scenario)
        lay.mark_done("report", key)
    _log(f"report: {index}", quiet)
    return index


def run_all(scenario, out_dir, force: bool = False, quiet: bool = False) -> Path:
    """Every stage of ``scenario`` into ``out_dir``, holding the folder's lock throughout."""
    with run_lock(out_dir, "petsim run"):
        simulate_stage(scenario, out_dir, force=force, quiet=quiet)
        reconstruct_stage(out_dir, force=force, quiet=quiet)
        fit_stage(out_dir, force=force, quiet=quiet)
        return report_stage(out_dir, force=force, quiet=quiet)
