"""The tracer's own mass (full competition model) against the analytic equilibrium occupancy.

At equilibrium under a constant plasma input Cp, C_ND = (K1/k2) Cp and the bound tracer satisfies
k3 (1 - C_S/(SA B'max)) C_ND = k4 C_S; with B'max = BP_ND K_D,app the occupancy C_S/(SA B'max) is
c / (c + K_D,app), c = C_ND / SA the free-and-nonspecific molar concentration: the single-site
binding isotherm, here in terms of the plasma level x = Cp: x / (x + ED50), ED50 = SA K_D,app k2/K1.
"""

import math

import numpy as np
import pytest

from petsim.frames import FrameSchedule
from petsim.kinetics import PlasmaInput, load_tracer, simulate
from petsim.kinetics.plasma import ExpTerms


def _constant_input(cp_bq_ml):
    curve = ExpTerms((cp_bq_ml,), (0.0,), (0.0,), 0.0)
    return PlasmaInput(555.0, curve, curve, 1.0)


@pytest.mark.parametrize("cp_scale", [0.2, 1.0, 5.0])
def test_equilibrium_tracer_occupancy_is_the_binding_isotherm(cp_scale):
    tracer = load_tracer("carfentanil")
    region = "thalamus_medial"
    p = tracer.params(region)
    sa_bq_per_pmol = 1e3 * tracer.specific_activity_gbq_per_umol
    ed50 = sa_bq_per_pmol * tracer.kd_app_nm * p.k2 / p.K1  # plasma Bq/mL at 50 % occupancy
    cp = cp_scale * ed50
    frames = FrameSchedule.from_durations([60.0] * 12)  # 12 h: the slowest rate, ~k2/(1 + BP_ND), is 0.025/min
    res = simulate([region], tracer, _constant_input(cp), frames, model="competition_full", dt_min=0.05)
    occupancy = res.tracer_occupancy(region)[-1]
    assert occupancy == pytest.approx(cp / (cp + ed50), rel=1e-6)
    c_nd, _ = res.compartments(region, control=True)
    assert c_nd[-1] == pytest.approx(p.K1 / p.k2 * cp, rel=1e-6)  # V_ND Cp: the nondisplaceable part is free
    # the truth the table reports is BP_ND lowered by that occupancy
    row = res.truth_table((660.0, 720.0))[0]
    assert row["tracer_occupancy"] == pytest.approx(occupancy, rel=1e-6)
    assert row["bp_nd_control"] == pytest.approx(p.bp_nd * (1 - occupancy), rel=1e-6)


def test_without_mass_the_tracer_occupies_nothing():
    tracer = load_tracer("carfentanil")
    frames = FrameSchedule.from_durations([30.0] * 3)
    res = simulate(["amygdala_l"], tracer, PlasmaInput.bolus(555.0), frames, model="competition_fast")
    assert np.all(res.tracer_occupancy("amygdala_l") == 0.0)
    assert res.truth_table((30.0, 90.0))[0]["tracer_occupancy"] == 0.0


def test_default_scenario_has_the_mass_effect_and_a_few_percent_occupancy():
    from petsim.pipeline.scenario import resolve
    from petsim.pipeline.simulate import kinetics_model, regional_kinetics, scenario_tracer
    from petsim.pipeline.world import frame_schedule

    sc = resolve({})
    assert sc.tracer.mass_effect and kinetics_model(sc) == "competition_full"
    res = regional_kinetics(sc, ["thalamus_medial", "occipital_cortex"], frame_schedule(sc))
    peak = res.tracer_occupancy("thalamus_medial").max()
    assert 0.01 < peak < 0.2
    # a ten times higher molar activity: a tenth of the mass, about a tenth of the occupancy
    hot = resolve({"tracer": {"specific_activity_gbq_per_umol": 1110.0}})
    assert scenario_tracer(hot).injected_mass_ug(555.0) == pytest.approx(0.1 * scenario_tracer(sc).injected_mass_ug(555.0))
    res10 = regional_kinetics(hot, ["thalamus_medial", "occipital_cortex"], frame_schedule(hot))
    assert res10.tracer_occupancy("thalamus_medial").max() == pytest.approx(peak / 10, rel=0.15)


def test_a_mass_above_the_published_limit_is_warned_about():
    from petsim.pipeline.scenario import resolve
    from petsim.pipeline.world import validate

    with pytest.warns(UserWarning, match=r"0\.03 ug/kg.*Zubieta"):
        validate(resolve({"tracer": {"specific_activity_gbq_per_umol": 30.0}}))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate(resolve({}))  # the default dose is below the limit: no warning


def test_reference_binding_is_put_into_the_tables_reference_region():
    from petsim.pipeline.scenario import ScenarioError, resolve
    from petsim.pipeline.simulate import scenario_tracer

    sc = resolve({"tracer": {"reference_bp_nd": 0.1}})
    t = scenario_tracer(sc)
    for side in ("occipital_cortex_l", "occipital_cortex_r"):
        assert t.bp_nd(side) == pytest.approx(0.1)
        assert t.params(side).bmax_nm == pytest.approx(0.1 * t.kd_app_nm)
    assert t.bp_nd("frontal_cortex") == load_tracer("carfentanil").bp_nd("frontal_cortex")
    assert scenario_tracer(resolve({})).bp_nd("occipital_cortex") == 0.0
    with pytest.raises(ScenarioError, match="reference_bp_nd"):
        resolve({"tracer": {"reference_bp_nd": -0.1}})
    assert math.isinf(load_tracer("carfentanil").params("occipital_cortex").bmax_nm)


def test_the_true_delta_is_judged_against_the_control_like_the_estimate():
    # With the tracer's mass the control's own BP_ND falls between the windows; the true ΔBP_ND the
    # validation table reports is release minus control, as the estimate is, not the raw window difference.
    from petsim.core.scenario_types import Window
    from petsim.pipeline.analyse import compare_with_truth

    truth = [{"region": "a", "window": "base", "bp_nd_release": 3.0, "bp_nd_control": 3.0},
             {"region": "a", "window": "task", "bp_nd_release": 2.6, "bp_nd_control": 2.8}]
    est = [{"region": "a", "model": "m", "scan": s, "window": w, "BP_ND": v}
           for s, w, v in (("release", "base", 3.0), ("release", "task", 2.6), ("control", "base", 3.0),
                           ("control", "task", 2.8))]
    (row,) = compare_with_truth(est, truth, (Window("base", 0.0, 1.0), Window("task", 1.0, 2.0)))
    assert row["true_delta_BP_ND"] == pytest.approx(-0.2)
    assert row["true_percent_delta"] == pytest.approx(100 * -0.2 / 3.0)
    assert row["percent_delta"] == pytest.approx(row["true_percent_delta"])
