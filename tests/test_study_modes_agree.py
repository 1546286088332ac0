"""Image mode and TAC mode of one study file simulate the same subjects (issue 12, first "must show").

Both modes read the study's scenario once (the pipeline's strict resolver) and build the subject's
kinetics with the same functions: the plasma input, the frames, the releases with the subject's drawn
magnitude, and the subject's tracer (K1 and k2 scaled together, k3 per region). So the noise-free TACs
that image mode's kinetics make for a scan (``petsim.pipeline.simulate.simulate_kinetics`` on the
scenario image mode sends to the pipeline) equal TAC mode's, region by region. A region named by its
structure in the study (``thalamus_medial``) stands for both sides of the phantom.
"""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("petsim.kinetics")
pytest.importorskip("petsim.modeling")

from petsim.study import load_study, study_tasks  # noqa: E402
from petsim.study import image_mode, tac_mode  # noqa: E402
from petsim.study.cohort import draw_subject  # noqa: E402

TINY = Path(__file__).parent / "data" / "tiny.toml"

STUDY = """\
scenario = "{scenario}"

[study]
n_replicates = 1
n_subjects = 3
seed = 4
mode = "{mode}"
design = "two_scans"
models = ["logan_ref"]
regions = ["amygdala_l", "thalamus_medial"]
t_star_min = 10.0
noise_cov = 0.0

[study.variability]
bp_nd_log_sd = 0.2
k1_log_sd = 0.2
release_log_sd = 0.3
"""


def _study(tmp_path, mode):
    path = tmp_path / f"study_{mode}.toml"
    path.write_text(STUDY.format(scenario=TINY.as_posix(), mode=mode))
    return load_study(path)


def _image_mode_tacs(study, task, subject_index, monkeypatch):
    """Noise-free TACs of each scan image mode runs: (releases sent, {region: TAC}) in call order."""
    from petsim.pipeline.memory import apply_overrides
    from petsim.pipeline.scenario import resolve
    from petsim.pipeline.simulate import simulate_kinetics
    from petsim.pipeline.world import World

    scans = []

    def kinetics_of_the_scan(scenario, seed, overrides=None):
        # what run_in_memory does before the acquisition: the scan's scenario, then its kinetics
        raw = scenario if isinstance(scenario, dict) else scenario.to_dict()
        raw, subject = apply_overrides(raw, overrides)
        res = simulate_kinetics(World(resolve(raw)), subject)
        scans.append((overrides["releases"], {r: res.frame_mean(r) for r in res.region_names}))
        return {"truth": [], "estimates": []}

    monkeypatch.setattr(image_mode, "_run_in_memory", lambda: kinetics_of_the_scan)
    image_mode.run_image_subject(study, task, subject_index)
    return scans


def _tac_mode_tacs(study, task, subject_index, monkeypatch):
    """Noise-free TACs TAC mode hands to its noise model, in call order (control scan, release scan)."""
    scans = []
    real = tac_mode.add_tac_noise

    def capture(tacs, *args, **kwargs):
        scans.append({r: np.array(v, copy=True) for r, v in tacs.items()})
        return real(tacs, *args, **kwargs)

    monkeypatch.setattr(tac_mode, "add_tac_noise", capture)
    tac_mode.run_tac_subject(study, task, subject_index)
    return scans


def test_image_and_tac_mode_simulate_the_same_subjects(tmp_path, monkeypatch):
    tac_study, image_study = _study(tmp_path, "tac"), _study(tmp_path, "image")
    task = study_tasks(tac_study)[0]
    assert not task.control
    compared = 0
    for s in task.subjects:
        subject = draw_subject(tac_study, s, task.replicate, task.seed_arm)
        assert subject == draw_subject(image_study, s, task.replicate, task.seed_arm)
        # between-subject variability in every factor, so K1/k2, k3 and the release all differ from the scenario
        assert subject.k1_scale != 1.0 and subject.release_scale != 1.0
        assert all(g != 1.0 for g in subject.bp_scale.values())

        image_scans = _image_mode_tacs(image_study, task, s, monkeypatch)
        tac_scans = _tac_mode_tacs(tac_study, task, s, monkeypatch)
        assert [bool(rel) for rel, _ in image_scans] == [False, True]  # control scan, then the release scan
        assert len(tac_scans) == 2
        for (_, image), tac in zip(image_scans, tac_scans):
            assert {"amygdala_l", "thalamus_medial"} <= set(tac)
            for region, curve in tac.items():
                # a structure name in the study stands for both sides of the phantom
                sides = [region] if region in image else [f"{region}_l", f"{region}_r"]
                for side in sides:
                    np.testing.assert_allclose(curve, image[side], rtol=1e-12, atol=0,
                                               err_msg=f"subject {s}: {region} (TAC mode) vs {side} (image mode)")
                    compared += 1
    assert compared >= 3 * 2 * 5  # subjects x scans x (amygdala_l, thalamus_medial_l/_r, occipital_cortex_l/_r)


# ---------------------------------------------------------------- one resolver for the study's scenario
GOOD_RELEASE = {"profile": "step", "regions": ["amygdala_l"], "onset_min": 45.0, "magnitude": 0.1}


@pytest.mark.parametrize("mode", ["tac", "image"])
@pytest.mark.parametrize("release, key", [
    ({"shape": "gamma", "regions": ["amygdala_l"]}, "releases[0].shape"),  # an alias TAC mode used to accept
    ({"regions": ["amygdala_l"], "delay_min": 30.0}, "releases[0].delay_min"),
    ({**GOOD_RELEASE, "magnitude": 1.0}, "releases[0].magnitude"),  # refused, not clamped
    ({**GOOD_RELEASE, "regions": ["amygdala_x"]}, "releases[0].regions"),  # checked against the phantom
    ({**GOOD_RELEASE, "onset_min": 95.0}, "releases[0].onset_min"),  # after the scan end
])
def test_a_study_refuses_what_the_pipeline_refuses(mode, release, key):
    from petsim.pipeline.scenario import ScenarioError

    study = {"mode": mode, "n_replicates": 1, "n_subjects": 2, "regions": ["amygdala_l"]}
    with pytest.raises(ScenarioError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_study({"scenario": {"releases": [release]}, "study": study})


def test_a_bad_scenario_file_of_a_study_names_its_key(tmp_path):
    from petsim.pipeline.scenario import ScenarioError

    (tmp_path / "scn.toml").write_text('[protocol]\nkind = "bolus"\n')  # an alias of protocol.input
    (tmp_path / "study.toml").write_text('scenario = "scn.toml"\n[study]\nregions = ["amygdala_l"]\n')
    with pytest.raises(ScenarioError, match=r"protocol\.kind.*did you mean|unknown key protocol\.kind"):
        load_study(tmp_path / "study.toml")


def test_only_a_drawn_release_magnitude_is_clamped():
    from petsim.pipeline.world import MAX_DRAWN_MAGNITUDE, drawn_magnitude

    assert drawn_magnitude(0.995) == 0.995  # the scenario's own value (the resolver refuses >= 1)
    assert drawn_magnitude(0.6, 2.0) == MAX_DRAWN_MAGNITUDE == 0.99  # a log-normal draw past full occupancy
    assert drawn_magnitude(0.1, 1.5) == pytest.approx(0.15)


def test_the_study_scenario_is_the_typed_resolved_scenario(tmp_path):
    from petsim.pipeline.scenario import load_scenario
    from petsim.study.config import study_from_dict

    study = _study(tmp_path, "tac")
    assert study.scenario == load_scenario(TINY)
    assert study.to_dict()["scenario"] == load_scenario(TINY).to_dict()  # study.json holds the resolved table
    again = study_from_dict(study.to_dict())
    assert again.scenario == study.scenario and again.fingerprint() == study.fingerprint()
