"""End-to-end checks of the closed loop on a tiny scenario (HR+ geometry, 2D mode, coarse grid)."""

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from petsim.cli import main
from petsim.io import read_tsv
from petsim.pipeline.scenario import ScenarioError, load_scenario, resolve

TINY = Path(__file__).parent / "data" / "tiny.toml"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "run"
    assert main(["run", str(TINY), "-o", str(out), "-q"]) == 0
    return out


def _files(root: Path) -> dict:
    """Every output file's bytes, except the timing-bearing stage markers."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".petsim" not in p.parts}


@pytest.mark.slow
def test_outputs_follow_bids_and_agree_with_the_scenario(tiny_run):
    sc = load_scenario(TINY)
    sub = tiny_run / "sub-01"
    img = nib.load(str(sub / "pet" / "sub-01_pet.nii.gz"))
    assert img.shape == (48, 48, 63, 15)
    assert np.allclose(np.diag(img.affine)[:3], [4.5, 4.5, 2.425])
    assert np.allclose(img.affine[:3, 3], [-0.5 * 47 * 4.5, -0.5 * 47 * 4.5, -0.5 * 62 * 2.425])
    assert img.header.get_xyzt_units() == ("mm", "sec")
    side = json.loads((sub / "pet" / "sub-01_pet.json").read_text())
    durations = sc.frames.durations_min
    assert side["FrameDuration"] == pytest.approx([60.0 * d for d in durations])
    assert side["FrameTimesStart"] == pytest.approx(list(60.0 * np.concatenate([[0.0], np.cumsum(durations)[:-1]])))
    assert side["Units"] == "Bq/mL" and side["ImageDecayCorrected"] is True
    assert side["ModeOfAdministration"] == "bolus-infusion" and side["TracerRadionuclide"] == "C11"
    assert side["InjectedRadioactivity"] == 555.0
    assert all(f > 1.0 for f in side["DecayCorrectionFactor"])
    for key in ("ReconMethodName", "ReconMethodParameterLabels", "ReconMethodParameterValues", "ReconFilterType",
                "ReconFilterSize", "AttenuationCorrection", "TracerName"):
        assert key in side
    assert (sub / "pet" / "sub-01_task-control_pet.nii.gz").is_file()  # the matched no-release scan
    deriv = tiny_run / "derivatives" / "petsim" / "sub-01"
    truth = read_tsv(deriv / "sub-01_desc-truth_bp.tsv")
    amy = [r for r in truth if r["region"] == "amygdala_l" and r["window"] == "task"][0]
    assert amy["bp_nd_baseline"] == pytest.approx(2.7)
    # a sustained occupancy of 0.1 of B'max lowers BP_ND by 0.1 / (1 - the tracer's own occupancy): the
    # mass effect is on by default, and the release frees a little of what the tracer occupied
    assert 0.005 < amy["tracer_occupancy"] < 0.2
    assert -10.0 / (1.0 - amy["tracer_occupancy"]) < amy["percent_delta_bp_nd"] < -10.0
    assert side["InjectedMass"] == pytest.approx(555.0 / 1000.0 / side["MolarActivity"] * 394.5)
    assert side["InjectedMassPerWeight"] <= 0.03  # the limit of Zubieta et al. 2001 (see carfentanil.toml)
    for name in ("desc-noisefree_tacs", "desc-recon_tacs", "desc-estimates_bp", "desc-validation_bp"):
        assert (deriv / f"sub-01_{name}.tsv").stat().st_size > 100
    tacs = read_tsv(deriv / "sub-01_desc-recon_tacs.tsv")
    assert [r["frame_start"] for r in tacs] == pytest.approx(side["FrameTimesStart"])
    bp_map = nib.load(str(deriv / "sub-01_desc-bfsrtm_bp.nii.gz"))
    assert bp_map.shape == (48, 48, 63) and np.allclose(bp_map.affine, img.affine)
    assert np.isfinite(np.asarray(bp_map.dataobj)).all()
    for name in ("index.html", "phantom.png", "sinogram.png", "recon_vs_truth.png", "tacs.png", "logan.png", "bp_scatter.png",
                 "map_bfsrtm.png"):
        assert (tiny_run / "derivatives" / "petsim" / "report" / name).stat().st_size > 1000, name
    hs = sorted((deriv / "sinograms").glob("release_frame-00_prompts.hs"))
    assert hs and "!INTERFILE" in hs[0].read_text()
    resolved = load_scenario(tiny_run / "scenario_resolved.toml")
    assert resolved == sc and resolved.to_toml() == sc.to_toml()  # every default filled in, and the run can be repeated from it


@pytest.mark.slow
def test_same_scenario_and_seed_give_identical_outputs(tiny_run, tmp_path):
    again = tmp_path / "again"
    assert main(["run", str(TINY), "-o", str(again), "-q"]) == 0
    first, second = _files(tiny_run), _files(again)
    assert first.keys() == second.keys()
    differing = [k for k in first if first[k] != second[k] and not k.endswith((".nii.gz", ".png", ".html"))]
    assert differing == []
    for k in first:  # gzip and PNG headers may hold times: compare their content
        if k.endswith(".nii.gz"):
            assert np.array_equal(np.asarray(nib.load(str(tiny_run / k)).dataobj), np.asarray(nib.load(str(again / k)).dataobj)), k


@pytest.mark.slow
def test_finished_stages_are_reused(tiny_run, capsys):
    assert main(["run", str(TINY), "-o", str(tiny_run)]) == 0
    out = capsys.readouterr().out
    assert "simulate: reusing" in out and "reconstruct: reusing" in out


@pytest.mark.slow
def test_score_estimates_of_another_tool(tiny_run, tmp_path, capsys):
    truth = read_tsv(tiny_run / "derivatives" / "petsim" / "sub-01" / "sub-01_desc-truth_bp.tsv")
    rows = [r for r in truth if r["window"] == "baseline" and r["bp_nd_baseline"] > 0]
    est = tmp_path / "kinfitr_out.csv"
    est.write_text("roi,bp\n" + "".join(f"{r['region']},{1.1 * r['bp_nd_release']}\n" for r in rows))
    assert main(["score", str(est), str(tiny_run), "--region-column", "roi", "--bp-column", "bp"]) == 0
    scored = read_tsv(tiny_run / "derivatives" / "petsim" / "report" / "score_kinfitr_out.tsv")
    assert len(scored) == len(rows)
    assert all(r["percent_error"] == pytest.approx(10.0) for r in scored)
    assert main(["score", str(est), str(tiny_run)]) == 2  # no 'region' column: a clear error
    assert "no column 'region'" in capsys.readouterr().err


def _broken(tmp_path, **changes):
    raw = {"name": "broken", "frames": {"durations_min": [1.0] * 10 + [10.0] * 8}}
    raw.update(changes)
    return raw


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"releases": [{"regions": ["amygdala_x"], "magnitude": 0.05, "onset_min": 20.0}]}, "unknown region 'amygdala_x'"),
        ({"releases": [{"regions": ["amygdala_l"], "magnitude": 0.05, "onset_min": 200.0}]}, "releases[0].onset_min"),
        ({"analysis": {"windows": [{"name": "late", "start_min": 40.0, "end_min": 120.0}]}}, "after the scan end"),
        ({"phantom": {"name": "missing_labels.nii.gz", "table": "missing.tsv"}}, "no such file"),
        ({"scanner": {"name": "hrplus_xl"}}, "hrplus_xl"),
    ],
)
def test_broken_scenario_fails_before_long_work(tmp_path, changes, message, capsys):
    import tomllib  # noqa: F401 - the scenario is written as TOML like a user's

    from petsim.pipeline.scenario import dumps_toml

    path = tmp_path / "broken.toml"
    path.write_text(dumps_toml(_broken(tmp_path, **changes)))
    out = tmp_path / "out"
    assert main(["simulate", str(path), "-o", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not (out / "derivatives").exists()  # nothing simulated


def test_unknown_key_names_the_key(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text('[recon]\niterations = 4\nsubset = 16\n')
    assert main(["simulate", str(path), "-o", str(tmp_path / "o")]) == 2
    assert "recon.subset" in capsys.readouterr().err


@pytest.mark.slow
def test_interrupted_stage_is_not_taken_for_complete(tiny_run, tmp_path, monkeypatch):
    run = tmp_path / "copy"
    shutil.copytree(tiny_run, run)
    import petsim.pipeline.reconstruct as rec

    calls = {"n": 0}
    real = rec.reconstruct_scan

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("stopped by the user")
        return real(*args, **kwargs)

    monkeypatch.setattr(rec, "reconstruct_scan", failing)
    with pytest.raises(KeyboardInterrupt):
        main(["reconstruct", str(run), "--force", "-q"])
    assert not (run / ".petsim" / "reconstruct.done.json").exists()
    assert not list(run.rglob("*.part*"))  # no half-written file under any name
    assert main(["fit", str(run)]) == 2  # refuses to fit an incomplete reconstruction
    monkeypatch.setattr(rec, "reconstruct_scan", real)
    assert main(["run", str(TINY), "-o", str(run), "-q"]) == 0
    assert (run / ".petsim" / "reconstruct.done.json").exists()


@pytest.mark.slow
def test_noise_free_end_to_end_recovers_bp_in_large_regions(tmp_path):
    """No noise, no blood volume, no resolution mismatch (no PSF in the data), core VOIs on 2.25 mm pixels:
    the remaining bias is partial volume at the VOI edges, within 5% in the thalamus and putamen."""
    raw = load_scenario(TINY).to_dict()
    raw = {**raw, "name": "noisefree", "releases": []}
    raw["tracer"] = {**raw["tracer"], "blood_volume": False}
    raw["physics"] = {**raw["physics"], "noise": False, "psf_fwhm_mm": []}
    raw["scanner"] = {**raw["scanner"], "view_mashing": 4}
    raw["recon"] = {**raw["recon"], "iterations": 10, "shape": [96, 96, 63], "voxel_size_mm": [2.25, 2.25, 2.425]}
    raw["analysis"] = {**raw["analysis"], "voi": "core", "models": ["mrtm2"], "control": False}
    out = tmp_path / "nf"
    assert main(["run", str(_write(tmp_path, raw)), "-o", str(out), "-q"]) == 0
    rows = read_tsv(out / "derivatives" / "petsim" / "sub-01" / "sub-01_desc-validation_bp.tsv")
    for region in ("thalamus_lateral_l", "thalamus_lateral_r", "putamen_l", "putamen_r"):
        row = [r for r in rows if r["region"] == region][0]
        assert abs(row["bias_percent"]) < 5.0, row
    assert "partial-volume" in (out / "derivatives" / "petsim" / "report" / "index.html").read_text()


def _write(tmp_path, raw) -> Path:
    from petsim.pipeline.scenario import dumps_toml

    path = tmp_path / "scenario.toml"
    path.write_text(dumps_toml(raw))
    return path


@pytest.mark.slow
def test_static_teaching_scenario_shows_recovery_growing_with_sphere_size(tmp_path):
    teaching = Path(__file__).parents[1] / "examples" / "teaching_2d.toml"
    raw = load_scenario(teaching).to_dict()
    raw["recon"] = {**raw["recon"], "shape": [80, 80, 63], "voxel_size_mm": [4.0, 4.0, 2.425]}
    out = tmp_path / "teach"
    assert main(["run", str(_write(tmp_path, raw)), "-o", str(out), "-q"]) == 0
    rows = {r["region"]: r for r in read_tsv(out / "derivatives" / "petsim" / "sub-01" / "sub-01_desc-validation_activity.tsv")}
    recovery = [rows[f"sphere_{d}mm"]["recovery"] for d in (10, 13, 17, 22, 28, 37)]
    assert recovery[0] < recovery[2] < recovery[4] < recovery[5] <= 1.05
    assert abs(rows["background"]["bias_percent"]) < 5.0
    assert "Recovery" in (out / "derivatives" / "petsim" / "report" / "index.html").read_text()


@pytest.mark.parametrize("path", sorted(p for p in (Path(__file__).parents[1] / "examples").glob("*.toml")
                                        if not p.name.startswith("study_")), ids=lambda p: p.name)
def test_shipped_example_scenarios_are_valid(path):
    from petsim.pipeline.world import validate

    validate(load_scenario(path))


def test_demo_scenario_is_shipped_and_valid():
    from petsim.pipeline.scenario import shipped_scenarios
    from petsim.pipeline.world import validate

    assert "demo" in shipped_scenarios()
    validate(load_scenario("demo"))


@pytest.mark.slow
def test_in_memory_replicates_differ_by_their_noise_alone():
    from petsim.pipeline import run_in_memory

    raw = load_scenario(TINY).to_dict()
    over = {"analysis": {"models": ["logan_ref"], "regions": ["thalamus_medial", "putamen"], "control": False}}
    a, b, c = (run_in_memory(raw, seed=s, overrides=over) for s in (5, 5, 6))
    assert a == b  # same seed, bit-identical
    assert a["truth"] == c["truth"]  # the truth does not depend on the noise
    est = lambda r: [(e["region"], e["window"], e["BP_ND"]) for e in r["estimates"]]  # noqa: E731
    assert est(a) != est(c)
    assert {e["region"] for e in a["estimates"]} == {"thalamus_medial_l", "thalamus_medial_r", "putamen_l", "putamen_r"}


# ---- a run folder holds one scenario, written by one process ------------------------------------

def _tiny_variant(tmp_path, **analysis) -> Path:
    """The tiny scenario with other analysis settings (another scenario for the same folder)."""
    raw = load_scenario(TINY).to_dict()
    raw = {**raw, "name": "tiny-b", "analysis": {**raw["analysis"], **analysis}}
    return _write(tmp_path, raw)


@pytest.mark.slow
def test_a_run_of_another_scenario_never_mixes_with_the_folder(tiny_run, tmp_path, capsys):
    """`run A` then `run B` on one folder: B is refused before any work, A's outputs stay intact;
    with --force A's outputs are removed first, so B never fits A's stale control TACs."""
    run = tmp_path / "copy"
    shutil.copytree(tiny_run, run)
    before = _files(run)
    other = _tiny_variant(tmp_path, control=False)
    assert main(["run", str(other), "-o", str(run), "-q"]) == 2
    err = capsys.readouterr().err
    assert "holds the outputs of scenario 'tiny'" in err and "--force" in err
    assert _files(run) == before
    assert main(["run", str(other), "-o", str(run), "-q", "--force"]) == 0
    assert not list(run.rglob("*task-control_pet*")) and not list(run.rglob("*task-control_desc-recon*"))
    assert load_scenario(run / "scenario_resolved.toml").name == "tiny-b"
    scans = {r["scan"] for r in read_tsv(run / "derivatives" / "petsim" / "sub-01" / "sub-01_desc-estimates_bp.tsv")}
    assert not any(s.startswith("control") for s in scans)


def test_folder_with_another_scenario_is_refused_before_any_work(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "scenario_resolved.toml").write_text(load_scenario(TINY).to_toml())
    (run / "sub-01").mkdir()
    assert main(["simulate", str(_tiny_variant(tmp_path, control=False)), "-o", str(run)]) == 2
    assert "holds the outputs of scenario 'tiny'" in capsys.readouterr().err
    assert sorted(p.name for p in run.iterdir()) == [".petsim", "scenario_resolved.toml", "sub-01"]
    assert [p.name for p in (run / ".petsim").iterdir()] == ["lock"]  # nothing but the lock was written


def test_a_second_process_on_a_busy_folder_is_refused_with_its_name(tmp_path, capsys):
    import subprocess
    import sys

    run = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom petsim.pipeline.layout import run_lock\n"
         "with run_lock(sys.argv[1], 'petsim run held-by-test'):\n    print('locked', flush=True)\n"
         "    time.sleep(60)\n", str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(["run", str(TINY), "-o", str(run), "-q"]) == 2
        err = capsys.readouterr().err
        assert f"pid {holder.pid}" in err and "held-by-test" in err
    finally:
        holder.kill()
        holder.wait()
    from petsim.pipeline.layout import run_lock

    with run_lock(run):  # the lock died with its holder
        pass


@pytest.mark.slow
def test_score_refuses_a_folder_whose_truth_is_incomplete(tiny_run, tmp_path, capsys):
    run = tmp_path / "copy"
    shutil.copytree(tiny_run, run)
    (run / ".petsim" / "simulate.done.json").unlink()
    est = tmp_path / "est.tsv"
    est.write_text("region\tBP_ND\namygdala_l\t2.0\n")
    assert main(["score", str(est), str(run)]) == 2
    assert "simulate stage is incomplete" in capsys.readouterr().err


def test_an_edited_scenario_of_the_same_name_is_named_by_its_changed_keys(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "scenario_resolved.toml").write_text(load_scenario(TINY).to_toml())
    raw = load_scenario(TINY).to_dict()
    edited = _write(tmp_path, {**raw, "recon": {**raw["recon"], "iterations": 5}})
    assert main(["simulate", str(edited), "-o", str(run)]) == 2
    assert "another version of scenario 'tiny' (it differs in recon.iterations)" in capsys.readouterr().err


def test_a_run_too_large_for_the_machine_is_refused_naming_what_to_change():
    from petsim.pipeline.resources import check_resources

    demo = load_scenario("demo")
    est = check_resources(demo, ".", available=1e12, free_disk=1e13)
    assert 0.3e9 < est.memory_bytes < 2e9 and 0.2e9 < est.disk_bytes < 0.45e9  # measured: 0.76 GB, 0.30 GB
    with pytest.raises(ScenarioError, match=r"GB of memory is free.*reduce scanner.view_mashing.*--force"):
        check_resources(demo, ".", available=0.2e9, free_disk=1e13)
    with pytest.raises(ScenarioError, match=r"only 0.1 GB is free.*frames.durations_min.*--force"):
        check_resources(demo, ".", available=1e12, free_disk=0.1e9)
    assert check_resources(demo, ".", force=True, available=1.0, free_disk=1.0) == est


@pytest.mark.slow
def test_disk_estimate_matches_what_the_tiny_run_wrote(tiny_run):
    from petsim.pipeline.resources import estimate

    written = sum(p.stat().st_size for p in tiny_run.rglob("*") if p.is_file())
    assert 1 / 1.5 < estimate(load_scenario(TINY)).disk_bytes / written < 1.5


@pytest.mark.slow
def test_the_official_bids_validator_accepts_the_run(tiny_run):
    """bids-validator-deno (the test extra installs it) on the tiny run's raw dataset: no error. (With
    --recursive it also checks derivatives/petsim, whose truth, TAC and BP_ND files are not yet named in
    the BIDS specification.)"""
    import subprocess

    validator = shutil.which("bids-validator-deno")
    if validator is None:
        pytest.skip("the BIDS validator is not installed: pip install -e '.[test]'")
    done = subprocess.run([validator, str(tiny_run)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    sidecar = json.loads((tiny_run / "sub-01" / "pet" / "sub-01_pet.json").read_text())
    assert sidecar["ModeOfAdministration"] == "bolus-infusion"
    from petsim.kinetics import PlasmaInput

    k_bol = PlasmaInput.bolus_plus_infusion(555.0, infusion_min=90.0).k_bol_min  # derived for steady state
    assert 40.0 < k_bol < 50.0
    assert sidecar["InfusionRadioactivity"] == pytest.approx(555.0 * 90.0 / (k_bol + 90.0))
    assert sidecar["InjectedMass"] == pytest.approx(555.0 / 1000.0 / 111.0 * 394.5)
    blood = read_tsv(tiny_run / "sub-01" / "pet" / "sub-01_recording-manual_blood.tsv")
    times = [r["time"] for r in blood]
    assert times == sorted(times) and times[-1] == 90 * 60.0  # s, up to the scan end
    fractions = [r["metabolite_parent_fraction"] for r in blood]
    assert all(0 <= f <= 1 for f in fractions) and fractions[-1] < fractions[2]  # metabolism lowers it
    assert (tiny_run / "sub-01" / "pet" / "sub-01_task-control_recording-manual_blood.json").is_file()


@pytest.mark.slow
def test_validation_table_states_what_each_estimator_can_attain(tiny_run):
    """Next to the truth, the estimate on the noise-free TACs of the same scan (method bias) and the
    estimate against it (imaging bias): the two add up to the bias against the truth."""
    rows = read_tsv(tiny_run / "derivatives" / "petsim" / "sub-01" / "sub-01_desc-validation_bp.tsv")
    complete = [r for r in rows if None not in (r["BP_ND"], r["attainable_BP_ND"], r["true_BP_ND"])]
    assert complete
    for r in complete:
        total = (1 + r["bias_percent_noisefree_tacs"] / 100) * (1 + r["bias_percent_vs_attainable"] / 100)
        assert 100 * (total - 1) == pytest.approx(r["bias_percent"], abs=1e-6)


def test_scanner_presets_carry_their_own_physics_or_refuse_the_mode():
    from petsim.pipeline.scenario import ScenarioError, resolve
    from petsim.pipeline.simulate import physics_of
    from petsim.pipeline.world import validate

    for name in ("hrplus", "HR+", "ecat962"):  # aliases keep the HR+'s figures (Brix et al. 1997)
        assert physics_of(resolve({"scanner": {"name": name, "mode": "2d"}})).sensitivity_cps_per_bq_ml == 5.85
        assert physics_of(resolve({"scanner": {"name": name}})).dead_time_50pct_rate_cps == 500e3
    # a scenario value replaces the preset's
    assert physics_of(resolve({"physics": {"sensitivity_cps_per_bq_ml": 10.0}})).sensitivity_cps_per_bq_ml == 10.0
    # a preset without published figures is refused before any work, naming what to set
    dmi = {"scanner": {"name": "ge_discovery_mi", "view_mashing": 2, "n_radial": 317}}
    with pytest.raises(ScenarioError, match="no published count-rate figures.*physics.sensitivity_cps_per_bq_ml.*"
                                            "physics.dead_time_50pct_rate_cps.*physics.psf_fwhm_mm"):
        validate(resolve(dmi))
    figures = {"sensitivity_cps_per_bq_ml": 20.0, "scatter_fraction": 0.4, "dead_time_50pct_rate_cps": 1e6,
               "psf_fwhm_mm": [4.0, 4.0, 4.0]}
    phys = physics_of(resolve({**dmi, "physics": figures}))
    assert (phys.sensitivity_cps_per_bq_ml, phys.scatter_fraction, phys.psf_fwhm_mm) == (20.0, 0.4, (4.0, 4.0, 4.0))


def test_blood_samples_carry_the_scenarios_sampling_error(tmp_path):
    from petsim.pipeline.layout import RunLayout
    from petsim.pipeline.run import _write_blood
    from petsim.pipeline.world import World

    def samples(cov, out):
        raw = load_scenario(TINY).to_dict()
        world = World(load_scenario({**raw, "protocol": {**raw["protocol"], "blood_sample_cov": cov}}))
        lay = RunLayout(tmp_path / out)
        _write_blood(lay, world, ["release", "control"])
        return [np.array([[r[k] for k in ("plasma_radioactivity", "metabolite_parent_fraction")]
                          for r in read_tsv(lay.pet_dir / name)])
                for name in ("sub-01_recording-manual_blood.tsv", "sub-01_task-control_recording-manual_blood.tsv")]

    exact, exact_control = samples(0.0, "exact")
    assert np.array_equal(exact, exact_control)
    noisy, noisy_control = samples(0.05, "noisy")
    late = exact[:, 0] > 0
    error = noisy[late, 0] / exact[late, 0] - 1
    assert 0.02 < np.std(error) < 0.09 and not np.array_equal(noisy, noisy_control)
    assert np.all((0 <= noisy[:, 1]) & (noisy[:, 1] <= 1))


@pytest.mark.slow
def test_score_reads_freesurfer_names(tiny_run, tmp_path):
    """An aseg-based tool's table (Left-Amygdala, Right-Thalamus ...): a structure petsim splits is scored
    against the volume-weighted truth of its parts (the BP_ND of their union at equal V_ND)."""
    der = tiny_run / "derivatives" / "petsim" / "sub-01"
    truth = {r["region"]: r["bp_nd_release"] for r in read_tsv(der / "sub-01_desc-truth_bp.tsv")
             if r["window"] == "baseline"}
    volume = {r["name"]: r["volume_ml"] for r in read_tsv(der / "sub-01_dseg.tsv")}
    parts = ("thalamus_medial_r", "thalamus_lateral_r")
    thalamus = sum(volume[p] * truth[p] for p in parts) / sum(volume[p] for p in parts)
    est = tmp_path / "aseg_tool.tsv"
    est.write_text(f"region\tBP_ND\nLeft-Amygdala\t{1.1 * truth['amygdala_l']}\nRight-Thalamus\t{1.1 * thalamus}\n")
    assert main(["score", str(est), str(tiny_run)]) == 0
    scored = {r["region"]: r for r in read_tsv(der.parent / "report" / "score_aseg_tool.tsv")}
    assert scored["Right-Thalamus"]["true_BP_ND"] == pytest.approx(thalamus)
    assert all(r["percent_error"] == pytest.approx(10.0) for r in scored.values())


@pytest.mark.slow
def test_a_measured_normalisation_is_what_the_site_keeps(tmp_path):
    """physics.normalisation_correction = "measured": the stored normalisation is the estimate of a simulated
    normalisation scan, close to the true bin efficiencies within the error its counts allow."""
    from petsim.io.interfile import read_interfile_sinogram
    from petsim.pipeline.simulate import acquisition_model
    from petsim.pipeline.world import World

    raw = load_scenario(TINY).to_dict()
    raw["physics"] = {**raw["physics"], "normalisation_correction": "measured", "normalisation_scan_counts": 1e8}
    path = _write(tmp_path, raw)
    assert main(["simulate", str(path), "-o", str(tmp_path / "run"), "-q"]) == 0
    stored, _ = read_interfile_sinogram(tmp_path / "run" / "derivatives" / "petsim" / "sub-01" / "sinograms"
                                        / "normalisation.hs")
    world = World(load_scenario(path))
    model = acquisition_model(world, progress=False)
    true = model.detector_pattern
    seg = world.layout.sinogram_segment
    true = true[np.concatenate([np.flatnonzero(seg == s) for s in sorted(set(seg.tolist()))])]  # file order
    ratio = stored[true > 0] / true[true > 0]
    assert 0.001 < np.std(ratio / ratio.mean()) < 0.03  # 2D HR+ at 1e8 counts: about 1 %
    assert np.array_equal(np.sort(stored.ravel()), np.sort(model.site_pattern.ravel()))  # what the recon gets


def test_anatomy_for_registration_pipelines(tiny_run):
    """A synthetic T1w in anat/ and a FreeSurfer-style aseg in the derivatives, in the PET's scanner
    coordinates: a structure's centre is at the same place (mm) in the aseg as in the PET's labels."""
    import nibabel as nib

    sub = tiny_run / "sub-01"
    t1w = nib.load(sub / "anat" / "sub-01_T1w.nii.gz")
    aseg = nib.load(tiny_run / "derivatives" / "petsim" / "sub-01" / "anat" / "sub-01_desc-aseg_dseg.nii.gz")
    assert t1w.shape == aseg.shape and np.allclose(t1w.affine, aseg.affine)
    assert t1w.header.get_zooms() == pytest.approx((1.0, 1.0, 1.0))
    assert json.loads((sub / "anat" / "sub-01_T1w.json").read_text())["Modality"] == "MR"
    pet_labels = nib.load(tiny_run / "derivatives" / "petsim" / "sub-01" / "sub-01_dseg.nii.gz")
    ids = {r["name"]: r["index"] for r in read_tsv(tiny_run / "derivatives" / "petsim" / "sub-01" / "sub-01_dseg.tsv")}

    def centre_mm(img, value):
        ijk = np.argwhere(np.asarray(img.dataobj) == value).mean(axis=0)
        return img.affine[:3, :3] @ ijk + img.affine[:3, 3]

    for region, fs in (("amygdala_l", 18), ("amygdala_r", 54), ("caudate_l", 11)):
        assert np.linalg.norm(centre_mm(aseg, fs) - centre_mm(pet_labels, ids[region])) < 3.0  # mm, < a PET voxel
    rows = read_tsv(tiny_run / "derivatives" / "petsim" / "sub-01" / "anat" / "sub-01_desc-aseg_dseg.tsv")
    assert {"index": 18, "name": "Left-Amygdala"} in rows
    data = np.asarray(t1w.dataobj)
    white = data[np.asarray(aseg.dataobj) == 2].mean()
    assert 850 < white < 1100 and data[np.asarray(aseg.dataobj) == 3].mean() < 0.8 * white  # T1w contrast
