"""petsim.study: configuration, seeds, cohorts, the Dask runner, storage and the summary.

These tests drive the engine with small synthetic replicate functions whose
statistics are known exactly; tests/test_study_tac.py runs the real TAC mode.
"""

import json
import math
import sys
import threading

import numpy as np
import pytest
from scipy import stats

pytest.importorskip("dask.distributed")

from petsim.study import load_study, run_study, study_tasks, summarise, write_summary  # noqa: E402
from petsim.study import seeds, store  # noqa: E402
from petsim.study import tasks as tasks_mod  # noqa: E402
from petsim.study.cohort import draw_subject  # noqa: E402
from petsim.study.config import study_from_dict  # noqa: E402

SCENARIO = {"releases": [{"profile": "step", "regions": ["amygdala_r"], "onset_min": 45.0, "magnitude": 0.1}]}


def make_study(**study):
    base = {"n_replicates": 3, "n_subjects": 4, "seed": 11, "models": ["srtm"], "regions": ["amygdala_r"]}
    base.update(study)
    return load_study({"scenario": SCENARIO, "study": base})


# -- a synthetic replicate with known statistics: estimate = truth + BIAS + N(0, SD) -------------
BIAS, SD, TRUTH, DELTA = 0.1, 0.2, 2.0, 0.3


def synthetic_subject(study, task, subject_index):
    subject = draw_subject(study, subject_index, task.replicate, task.seed_arm)
    rows = []
    for c, condition in enumerate(study.conditions):
        rng = seeds.generator(study.seed, seeds.STREAM_NOISE, task.seed_arm, task.replicate, subject_index, c)
        truth = TRUTH - (0.0 if c == 0 or task.control else DELTA)
        rows.append({"condition": condition, "region": "amygdala_r", "model": "srtm",
                     "bp_nd": truth + BIAS + SD * float(rng.standard_normal()), "bp_nd_se": SD,
                     "converged": True, "truth_bp_nd": truth})
    return {"subject": subject.to_dict(), "rows": rows}


_attempts = {}
_lock = threading.Lock()


def flaky_subject(study, task, subject_index):
    """Fails on the first attempt of every task, and always for replicate 1 / subject 2."""
    with _lock:
        _attempts[task] = _attempts.get(task, 0) + 1
        n = _attempts[task]
    if task.replicate == 1 and subject_index == 2:
        raise RuntimeError("synthetic failure of r1 s2")
    if n == 1:
        raise RuntimeError("transient failure")
    return synthetic_subject(study, task, subject_index)


def _results(out_dir):
    return [(r["task"], r["status"], r["result"]) for r in store.read_records(out_dir)]


def _per_subject(out_dir):
    """(replicate, subject) -> that subject's result, whatever the split of subjects into tasks."""
    return {(r["task"]["replicate"], s["subject"]["index"]): s
            for r in store.read_records(out_dir) if r["status"] == "ok" for s in r["result"]["subjects"]}


# ---------------------------------------------------------------- seeds and cohorts
def test_seed_keys_match_numpy_spawn_tree():
    # seed_sequence(s, a, b) is the child that SeedSequence(s).spawn(...)[a].spawn(...)[b] gives.
    child = np.random.SeedSequence(7).spawn(4)[3].spawn(6)[5]
    mine = seeds.seed_sequence(7, 3, 5)
    assert np.array_equal(mine.generate_state(4), child.generate_state(4))
    a = seeds.generator(7, 1, 0, 2).standard_normal(3)
    assert np.array_equal(a, seeds.generator(7, 1, 0, 2).standard_normal(3))
    assert not np.array_equal(a, seeds.generator(7, 1, 0, 3).standard_normal(3))
    with pytest.raises(ValueError, match="must be >= 0"):
        seeds.seed_sequence(7, -1)


def test_cohort_spread_and_trait_correlation():
    study = make_study(n_subjects=2, variability={"bp_nd_log_sd": 0.2, "k1_log_sd": 0.1, "release_log_sd": 0.3},
                       trait={"r": 0.6, "region": "amygdala_r"})
    subs = [draw_subject(study, s, r) for r in range(1000) for s in range(4)]
    log_rel = np.log([s.release_scale for s in subs])
    trait = np.array([s.trait for s in subs])
    log_bp = np.log([s.bp_scale["amygdala_r"] for s in subs])
    # Sample statistics of n = 4000 draws: SE of r about (1 - r^2)/sqrt(n) = 0.01, of an SD about 0.011 SD.
    assert abs(np.corrcoef(trait, log_rel)[0, 1] - 0.6) < 0.04
    assert abs(np.std(log_rel) - 0.3) < 0.015
    assert abs(np.std(log_bp) - 0.2) < 0.01
    assert abs(np.std(np.log([s.k1_scale for s in subs])) - 0.1) < 0.005
    assert abs(np.std(trait) - 1.0) < 0.04
    # A fixed cohort (no resampling) gives the same subject in every replicate.
    fixed = make_study(resample_subjects=False, variability={"k1_log_sd": 0.1})
    assert draw_subject(fixed, 2, 0) == draw_subject(fixed, 2, 5)
    assert draw_subject(study, 2, 0) != draw_subject(study, 2, 5)


def test_no_variability_gives_population_values():
    s = draw_subject(make_study(), 1, 1)
    assert s.k1_scale == 1.0 and s.release_scale == 1.0 and s.bp_scale == {"amygdala_r": 1.0}


# ---------------------------------------------------------------- configuration
@pytest.mark.parametrize("bad, match", [
    ({"mode": "voxel"}, "mode"),
    ({"alpha": 1.5}, "alpha"),
    ({"n_subjects": 0}, "n_subjects"),
    ({"n_replicates": 0}, "n_replicates"),
    ({"trait": {"r": 1.2}}, "r = 1.2"),
    ({"models": ["nonsense"]}, "models"),
    ({"design": "two_windows", "release_window_min": [50, 20]}, "release_window_min"),
    ({"window_min": [50, 40]}, "window_min"),
    ({"variability": {"bp_nd_log_sd": -0.1}}, "bp_nd_log_sd"),
    ({"variability": {"k1_sd": 0.1}}, "unknown keys"),
    ({"replicates": 3}, "unknown keys"),
    ({"conditions": ["a", "a"]}, "conditions"),
    ({"power": {"effect_sizes": [1.5], "n_subjects": [4], "n_replicates": 2}}, "effect_sizes"),
    ({"matched_control": True}, "matched_control = true needs design 'two_windows'"),
    ({"design": "two_windows", "baseline_window_min": [10, 45], "release_window_min": [50, 90],
      "matched_control": "yes"}, "matched_control = 'yes'"),
])
def test_bad_study_values_are_named(bad, match):
    with pytest.raises(ValueError, match=match):
        make_study(**bad)


def test_study_file_with_relative_scenario(tmp_path):
    (tmp_path / "scn").mkdir()
    (tmp_path / "scn" / "s.toml").write_text('[[releases]]\nprofile = "step"\nregions = ["amygdala_l"]\n'
                                             'onset_min = 45.0\nmagnitude = 0.1\n')
    (tmp_path / "study.toml").write_text('scenario = "scn/s.toml"\n[study]\nn_replicates = 2\nn_subjects = 3\n'
                                         'mode = "tac"\n')
    study = load_study(tmp_path / "study.toml")
    assert study.regions == ("amygdala_l",) and study.n_subjects == 3
    # round trip through the stored JSON form
    assert study_from_dict(json.loads(json.dumps(study.to_dict()))).fingerprint() == study.fingerprint()
    (tmp_path / "bad.toml").write_text('scenario = "missing.toml"\n[study]\nn_replicates = 2\n')
    with pytest.raises(FileNotFoundError, match="missing.toml"):
        load_study(tmp_path / "bad.toml")
    with pytest.raises(ValueError, match=r"\[study\]"):
        load_study({"scenario": SCENARIO})


def test_tasks_cover_main_and_power_arms():
    study = make_study(power={"effect_sizes": [0.0, 0.1], "n_subjects": [3, 5], "n_replicates": 2})
    tasks = study_tasks(study)
    main = [t for t in tasks if t.arm == "main"]
    assert len(main) == 3 and all(list(t.subjects) == [0, 1, 2, 3] for t in main)  # one task per replicate
    power = [t for t in tasks if t.arm != "main"]
    assert len(power) == 2 * 2 and {t.effect_size for t in power} == {0.0, 0.1}
    assert all(t.subject_stop == 5 for t in power)
    assert len({t.name for t in tasks}) == len(tasks)
    split = study_tasks(make_study(subjects_per_task=3))
    assert [(t.subject_start, t.subject_stop) for t in split if t.replicate == 0] == [(0, 3), (3, 4)]


# ---------------------------------------------------------------- runner on Dask
def test_two_workers_equal_one_worker_and_resume(tmp_path):
    study = make_study(n_replicates=4, n_subjects=5, subjects_per_task=1)
    run1 = run_study(study, tmp_path / "w1", workers=1, processes=False, subject_fn=synthetic_subject,
                     progress=False)
    run2 = run_study(study, tmp_path / "w2", workers=2, processes=False, subject_fn=synthetic_subject,
                     progress=False)
    assert run1.n_ok == run2.n_ok == 20 and run1.n_failed == 0
    assert _results(tmp_path / "w1") == _results(tmp_path / "w2")
    # The split of subjects into tasks changes nothing either (here: one task per replicate).
    whole = make_study(n_replicates=4, n_subjects=5)
    assert run_study(whole, tmp_path / "w0", workers=2, processes=False, subject_fn=synthetic_subject,
                     progress=False).n_ok == 4
    assert _per_subject(tmp_path / "w0") == _per_subject(tmp_path / "w1")

    # Stop a study half way (the client dies), start it again: it skips what is done and loses nothing.
    class Stop(Exception):
        pass

    def stop_after_7(n, client):
        if n == 7:
            raise Stop

    with pytest.raises(Stop):
        run_study(study, tmp_path / "w3", workers=2, processes=False, subject_fn=synthetic_subject,
                  progress=False, on_stored=stop_after_7)
    assert len(store.read_records(tmp_path / "w3")) == 7
    again = run_study(study, tmp_path / "w3", workers=2, processes=False, subject_fn=synthetic_subject,
                      progress=False)
    assert (again.n_skipped, again.n_ok) == (7, 13)
    assert _results(tmp_path / "w3") == _results(tmp_path / "w1")
    # No temporary files are left behind, and a finished study has nothing to do.
    assert not list((tmp_path / "w3").rglob("*.tmp"))
    assert run_study(study, tmp_path / "w3", subject_fn=synthetic_subject, progress=False).n_ok == 0
    # The folder refuses a different study.
    with pytest.raises(ValueError, match="different study"):
        run_study(make_study(seed=12), tmp_path / "w3", subject_fn=synthetic_subject, progress=False)


def test_failures_are_retried_then_recorded(tmp_path):
    _attempts.clear()
    study = make_study(n_replicates=2, n_subjects=3, retries=2, subjects_per_task=1)
    report = run_study(study, tmp_path, workers=2, processes=False, subject_fn=flaky_subject, progress=False)
    assert (report.n_ok, report.n_failed) == (5, 1)
    recs = {(r["task"]["replicate"], r["task"]["subject_start"]): r for r in store.read_records(tmp_path)}
    assert recs[(1, 2)]["status"] == "error" and "synthetic failure of r1 s2" in recs[(1, 2)]["error"]
    # every other task failed once and succeeded on its retry; the failing one was tried 1 + retries times
    assert all(recs[k]["status"] == "ok" for k in recs if k != (1, 2))
    assert _attempts[next(t for t in _attempts if (t.replicate, t.subject_start) == (1, 2))] == 3
    # the summary leaves the failed replicate out and says so
    assert summarise(tmp_path)["n_failed"] == 1


# ---------------------------------------------------------------- summary statistics
def test_summary_recovers_known_bias_sd_coverage_and_detection(tmp_path):
    study = make_study(n_replicates=150, n_subjects=8, alternative="decrease")
    run_study(study, tmp_path, workers=2, processes=False, subject_fn=synthetic_subject, progress=False)
    res = write_summary(tmp_path)
    acc = {a["quantity"]: a for a in res["accuracy"]}
    n = 150 * 8
    bp = acc["BP_ND[control]"]
    assert bp["n"] == n
    assert abs(bp["bias"] - BIAS) < 4 * SD / math.sqrt(n)
    assert abs(bp["sd"] - SD) < 4 * SD / math.sqrt(2 * n)
    assert math.isclose(bp["rmse"], math.sqrt(bp["bias"] ** 2 + bp["sd"] ** 2 * (n - 1) / n), rel_tol=1e-9)
    # The interval +-1.96 SE around an estimate biased by BIAS = 0.5 SE covers the truth with
    # probability Phi(1.96 - 0.5) - Phi(-1.96 - 0.5) = 0.921.
    expected = stats.norm.cdf(1.96 - BIAS / SD) - stats.norm.cdf(-1.96 - BIAS / SD)
    assert abs(bp["ci_coverage"] - expected) < 4 * math.sqrt(expected * (1 - expected) / n)
    d = acc["delta_BP_ND"]
    assert abs(d["truth_mean"] + DELTA) < 1e-12
    assert abs(acc["percent_delta_BP_ND"]["truth_mean"] + 100 * DELTA / TRUTH) < 1e-9
    assert abs(d["bias"]) < 4 * SD * math.sqrt(2 / n)
    # Power of the one-sided paired t-test, from the noncentral t distribution (independent of the code):
    # differences ~ N(DELTA, 2 SD^2), 8 subjects.
    ncp = DELTA / (SD * math.sqrt(2)) * math.sqrt(8)
    power = 1 - stats.nct.cdf(stats.t.ppf(0.95, 7), 7, ncp)
    det = res["detection"][0]
    assert det["kind"] == "detection_rate" and det["n_replicates"] == 150
    assert abs(det["rate"] - power) < 4 * math.sqrt(power * (1 - power) / 150)
    assert det["ci_low"] <= det["rate"] <= det["ci_high"]
    for name in ("summary.tsv", "detection.tsv", "estimates.tsv", "figures/accuracy.png", "figures/trait.png"):
        assert (tmp_path / name).is_file(), name
    header = (tmp_path / "summary.tsv").read_text().splitlines()[0].split("\t")
    assert header[:3] == ["region", "model", "quantity"] and "rmse" in header


def test_power_arms_use_nested_cohorts(tmp_path):
    study = make_study(n_replicates=2, power={"effect_sizes": [0.1], "n_subjects": [3, 6], "n_replicates": 60},
                       alternative="decrease")
    run_study(study, tmp_path, workers=2, processes=False, subject_fn=synthetic_subject, progress=False)
    res = summarise(tmp_path)
    pw = {p["n_subjects"]: p for p in res["power"]}
    assert set(pw) == {3, 6} and pw[3]["n_replicates"] == 60
    for n in (3, 6):
        ncp = DELTA / (SD * math.sqrt(2)) * math.sqrt(n)
        expect = 1 - stats.nct.cdf(stats.t.ppf(0.95, n - 1), n - 1, ncp)
        assert abs(pw[n]["power"] - expect) < 4 * math.sqrt(expect * (1 - expect) / 60) + 0.02
    assert pw[6]["power"] >= pw[3]["power"] - 0.1


def test_cli_summary_and_errors(tmp_path, capsys):
    from petsim.cli import main

    study = make_study(n_replicates=2, n_subjects=3)
    run_study(study, tmp_path, workers=1, processes=False, subject_fn=synthetic_subject, progress=False)
    assert main(["study", "summary", str(tmp_path), "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert "delta_BP_ND" in out and "detection_rate" in out
    assert main(["study", "summary", str(tmp_path / "nowhere")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["study", "run", str(tmp_path / "missing.toml"), "-o", str(tmp_path / "o")]) == 2


def test_dask_missing_error_names_the_extra(monkeypatch):
    from petsim.study import _deps

    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(ImportError, match=r"pip install petsim\[study\]"):
        _deps.import_distributed()


# ---------------------------------------------------------------- image mode contract (fake pipeline)
def test_image_mode_passes_subject_release_and_seed_to_the_pipeline(tmp_path, monkeypatch):
    from petsim.study import image_mode

    calls = []

    def fake_run_in_memory(scenario, seed, overrides=None):
        calls.append((seed, overrides))
        rng = np.random.default_rng(seed)
        mag = sum(r["magnitude"] for r in overrides["releases"])
        truth, estimates = [], []
        for w in overrides["analysis"]["windows"]:
            for region in overrides["analysis"]["regions"]:
                bp = 2.0 * overrides.get("subject", {"bp_nd_scale": {region: 1.0}})["bp_nd_scale"][region] * (1 - mag)
                truth.append({"region": region, "window": w["name"], "bp_nd_release": bp})
                for model in overrides["analysis"]["models"]:
                    estimates.append({"region": region, "model": model, "window": w["name"],
                                      "BP_ND": bp + 0.01 * rng.standard_normal(), "converged": True})
        return {"truth": truth, "estimates": estimates}

    monkeypatch.setattr(image_mode, "_run_in_memory", lambda: fake_run_in_memory)
    study = make_study(mode="image", n_replicates=2, n_subjects=3, window_min=[0.0, 90.0],
                       variability={"bp_nd_log_sd": 0.2, "release_log_sd": 0.3})
    run_study(study, tmp_path / "a", workers=2, processes=False, progress=False)
    assert len(calls) == 2 * 3 * 2  # replicates x subjects x conditions
    assert len({seed for seed, _ in calls}) == len(calls)  # every scan has its own seed
    for _, over in calls:
        assert [w["name"] for w in over["analysis"]["windows"]] in (["control"], ["release"])
        if over["analysis"]["windows"][0]["name"] == "control":
            assert over["releases"] == []
        else:
            (rel,) = over["releases"]
            assert rel["regions"] == ["amygdala_r"] and 0 < rel["magnitude"] < 0.99
    rows = summarise(tmp_path / "a")
    delta = next(a for a in rows["accuracy"] if a["quantity"] == "delta_BP_ND")
    assert delta["n"] == 6 and abs(delta["bias"]) < 0.05 and delta["truth_mean"] < 0
    calls.clear()
    run_study(study, tmp_path / "b", workers=1, processes=False, progress=False)
    assert _results(tmp_path / "a") == _results(tmp_path / "b")


def test_runs_on_a_scheduler_given_by_its_address(tmp_path):
    from dask.distributed import LocalCluster

    study = make_study(n_replicates=2, n_subjects=3)
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        report = run_study(study, tmp_path / "remote", scheduler=cluster.scheduler_address,
                           subject_fn=synthetic_subject, progress=False)
    assert (report.n_ok, report.n_subject_replicates) == (2, 6)
    run_study(study, tmp_path / "local", workers=1, processes=False, subject_fn=synthetic_subject, progress=False)
    assert _results(tmp_path / "remote") == _results(tmp_path / "local")


def proportional_subject(study, task, subject_index):
    """Release effect proportional to the subject's release magnitude, measured almost without noise."""
    subject = draw_subject(study, subject_index, task.replicate, task.seed_arm)
    rng = seeds.generator(study.seed, seeds.STREAM_NOISE, task.seed_arm, task.replicate, subject_index, 0)
    rows = []
    for c, condition in enumerate(study.conditions):
        truth = TRUTH - (DELTA * subject.release_scale if c else 0.0)
        rows.append({"condition": condition, "region": "amygdala_r", "model": "srtm",
                     "bp_nd": truth + 1e-4 * float(rng.standard_normal()), "bp_nd_se": None,
                     "converged": True, "truth_bp_nd": truth})
    return {"subject": subject.to_dict(), "rows": rows}


def test_trait_correlation_is_recovered(tmp_path):
    sd, r = 0.3, 0.6
    study = make_study(n_replicates=100, n_subjects=12, trait={"r": r, "region": "amygdala_r"},
                       variability={"release_log_sd": sd})
    run_study(study, tmp_path, workers=2, processes=False, subject_fn=proportional_subject, progress=False)
    det = summarise(tmp_path)["detection"][0]
    # trait = r z + ..., effect = exp(sd z): corr = r sd / sqrt(exp(sd^2) - 1) (log-normal moments)
    expected = r * sd / math.sqrt(math.expm1(sd**2))
    assert abs(det["trait_r_truth"] - expected) < 0.05
    assert abs(det["trait_r_recovered"] - det["trait_r_truth"]) < 0.01
    assert det["trait_r_pooled_ci_low"] < expected < det["trait_r_pooled_ci_high"]
    # a single study of 12 subjects has a wide interval: z_crit / sqrt(9) on Fisher's z scale
    assert math.isclose(math.atanh(det["trait_r_ci_high"]) - math.atanh(det["trait_r_recovered"]),
                        stats.norm.ppf(0.975) / 3, rel_tol=1e-9)
    assert math.isnan(summarise(tmp_path)["accuracy"][0]["ci_coverage"])  # no SEs given


def test_noise_replicates_of_one_subject(tmp_path):
    study = make_study(n_replicates=40, n_subjects=1, resample_subjects=False)
    run_study(study, tmp_path, workers=1, processes=False, subject_fn=synthetic_subject, progress=False)
    res = summarise(tmp_path)
    bp = next(a for a in res["accuracy"] if a["quantity"] == "BP_ND[control]")
    assert bp["n"] == 40 and abs(bp["bias"] - BIAS) < 4 * SD / math.sqrt(40)
    det = res["detection"][0]
    assert det["n_replicates"] == 0 and math.isnan(det["rate"])  # no paired test with one subject


def test_image_mode_sends_no_subject_key_without_variability(tmp_path, monkeypatch):
    from petsim.study import image_mode

    seen = []

    def fake(scenario, seed, overrides=None):
        seen.append(overrides)
        return {"truth": [], "estimates": []}

    monkeypatch.setattr(image_mode, "_run_in_memory", lambda: fake)
    study = make_study(mode="image", n_replicates=1, n_subjects=2, window_min=[0.0, 90.0],
                       variability={"release_log_sd": 0.3})
    run_study(study, tmp_path, workers=1, processes=False, progress=False)
    assert len(seen) == 4 and all("subject" not in o for o in seen)


# ---------------------------------------------------------------- two windows with a matched control
WINDOW_BIAS = 0.3  # BP_ND of the release window minus the baseline window's without any release


def window_bias_subject(study, task, subject_index):
    """One scan with a release and a matched control scan; both carry the same window bias, SD noise each fit."""
    subject = draw_subject(study, subject_index, task.replicate, task.seed_arm)
    c0, c1 = study.conditions
    rows = []
    for scan, key in (("release", 0), (tasks_mod.MATCHED_CONTROL, seeds.SCAN_MATCHED_CONTROL)):
        rng = seeds.generator(study.seed, seeds.STREAM_NOISE, task.seed_arm, task.replicate, subject_index, key)
        z0, z1 = rng.standard_normal(2)
        drop = DELTA if scan == "release" and not task.control else 0.0
        for condition, truth, est in ((c0, TRUTH, TRUTH + BIAS + SD * z0),
                                      (c1, TRUTH - drop, TRUTH - drop + BIAS + WINDOW_BIAS + SD * z1)):
            row = {"condition": condition, "region": "amygdala_r", "model": "srtm", "bp_nd": float(est),
                   "bp_nd_se": SD, "converged": True, "truth_bp_nd": truth}
            if scan != "release":
                row["scan"] = scan
            rows.append(row)
    return {"subject": subject.to_dict(), "rows": rows}


def test_matched_control_config_defaults():
    windows = {"baseline_window_min": [10, 45], "release_window_min": [50, 90]}
    assert make_study(design="two_windows", **windows).matched_control is True
    assert make_study(design="two_windows", matched_control=False, **windows).matched_control is False
    assert make_study().matched_control is False
    # a study without the key keeps its fingerprint: older folders of the two-scan design still resume
    two_scans = make_study()
    assert "matched_control" in two_scans.to_dict()
    assert study_from_dict(two_scans.to_dict()).fingerprint() == two_scans.fingerprint()


def test_summary_corrects_the_window_bias_with_the_matched_control(tmp_path):
    study = make_study(n_replicates=150, n_subjects=8, alternative="decrease", design="two_windows",
                       baseline_window_min=[10, 45], release_window_min=[50, 90],
                       power={"effect_sizes": [0.1], "n_subjects": [4, 8], "n_replicates": 80})
    run_study(study, tmp_path, workers=2, processes=False, subject_fn=window_bias_subject, progress=False)
    res = write_summary(tmp_path)
    acc = {a["quantity"]: a for a in res["accuracy"]}
    n = 150 * 8
    # corrected: (release-scan difference) - (control-scan difference) = -DELTA + four independent N(0, SD^2)
    d = acc["delta_BP_ND"]
    assert d["n"] == n and abs(d["truth_mean"] + DELTA) < 1e-12
    assert abs(d["bias"]) < 4 * 2 * SD / math.sqrt(n)
    assert abs(d["sd"] - 2 * SD) < 4 * 2 * SD / math.sqrt(2 * n)
    assert abs(d["ci_coverage"] - 0.95) < 4 * math.sqrt(0.95 * 0.05 / n)  # SE = sqrt(4 SD^2), no bias
    pct = acc["percent_delta_BP_ND"]
    assert abs(pct["truth_mean"] + 100 * DELTA / TRUTH) < 1e-9
    # uncorrected: the window bias stays in
    u = acc["delta_BP_ND_uncorrected"]
    assert abs(u["bias"] - WINDOW_BIAS) < 4 * SD * math.sqrt(2 / n)
    w = acc["matched_control_delta_BP_ND"]
    assert w["truth_mean"] == 0.0 and abs(w["bias"] - WINDOW_BIAS) < 4 * SD * math.sqrt(2 / n)
    assert {"BP_ND[baseline]", "matched_control_BP_ND[release]"} <= set(acc)
    # detection: one-sided one-sample t-test of the corrected ΔBP_ND ~ N(-DELTA, 4 SD^2), 8 subjects;
    # uncorrected, WINDOW_BIAS = DELTA hides the release entirely: the paired test sees a zero mean.
    det = res["detection"][0]
    assert det["test"] == "matched_control_one_sample_t" and det["kind"] == "detection_rate"

    def t_power(n_sub, mean_over_sd):
        return 1 - stats.nct.cdf(stats.t.ppf(0.95, n_sub - 1), n_sub - 1, mean_over_sd * math.sqrt(n_sub))

    power = t_power(8, DELTA / (2 * SD))
    assert abs(det["rate"] - power) < 4 * math.sqrt(power * (1 - power) / 150)
    assert abs(det["rate_uncorrected"] - 0.05) < 4 * math.sqrt(0.05 * 0.95 / 150)
    for p in res["power"]:
        expect = t_power(p["n_subjects"], DELTA / (2 * SD))
        assert p["n_replicates"] == 80 and abs(p["power"] - expect) < 4 * math.sqrt(expect * (1 - expect) / 80)
        assert abs(p["true_delta_bp_nd"] + DELTA) < 1e-12
        assert p["power_uncorrected"] < 0.2
    assert (tmp_path / "figures" / "accuracy.png").is_file()


def test_image_mode_two_windows_runs_a_matched_control_scan(tmp_path, monkeypatch):
    from petsim.study import image_mode

    calls = []

    def fake(scenario, seed, overrides=None):
        calls.append((seed, overrides))
        mag = sum(r["magnitude"] for r in overrides["releases"])
        truth, estimates = [], []
        for k, w in enumerate(overrides["analysis"]["windows"]):
            bp = 2.0 * (1 - mag * k)  # the release lowers the second window only
            truth.append({"region": "amygdala_r", "window": w["name"], "bp_nd_release": bp})
            estimates.append({"region": "amygdala_r", "model": "srtm", "window": w["name"],
                              "BP_ND": bp + 0.1 * k, "converged": True})  # + a window bias of 0.1
        return {"truth": truth, "estimates": estimates}

    monkeypatch.setattr(image_mode, "_run_in_memory", lambda: fake)
    study = make_study(mode="image", n_replicates=1, n_subjects=2, design="two_windows",
                       baseline_window_min=[10, 45], release_window_min=[50, 90])
    run_study(study, tmp_path, workers=1, processes=False, progress=False)
    assert len(calls) == 2 * 2 and len({seed for seed, _ in calls}) == 4  # release + control scan per subject
    assert sorted(len(o["releases"]) for _, o in calls) == [0, 0, 1, 1]
    assert all([w["name"] for w in o["analysis"]["windows"]] == ["baseline", "release"] for _, o in calls)
    acc = {a["quantity"]: a for a in summarise(tmp_path)["accuracy"]}
    assert math.isclose(acc["delta_BP_ND"]["bias"], 0.0, abs_tol=1e-12)  # the window bias is removed
    assert math.isclose(acc["delta_BP_ND_uncorrected"]["bias"], 0.1, rel_tol=1e-9)
    assert math.isclose(acc["delta_BP_ND"]["truth_mean"], -0.2, rel_tol=1e-9)
