"""simulate(): equilibrium laws, release truth, bit-for-bit control, errors."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.special import gamma as gamma_fn
from scipy.special import gammainc

from petsim.frames import FrameSchedule, get_schedule
from petsim.kinetics import (FunctionRelease, GammaRelease, KineticParams, PlasmaInput, StepRelease,
                             Tracer, load_tracer, simulate)
from petsim.kinetics.plasma import ExpTerms

sys.path.insert(0, str(Path(__file__).parent))
from test_kinetics_solver import analytic_2tcm  # noqa: E402

HSU = get_schedule("hsu2013")


def constant_infusion(level=1000.0):
    """Plasma held at a constant level from t = 0 (a true-equilibrium infusion)."""
    c = ExpTerms((level,), (0.0,), (0.0,), 0.0)
    return PlasmaInput(555.0, c, c)


def toy_tracer(vB=0.0):
    rows = {"target": KineticParams(0.15, 0.3, 0.45, 0.15, vB), "ref": KineticParams(0.15, 0.3, 0.0, 0.15, vB)}
    return Tracer("toy", "C-11", rows, "ref")


@pytest.fixture(scope="module")
def carf():
    return load_tracer("carfentanil")


@pytest.fixture(scope="module")
def bolus():
    return PlasmaInput.bolus(555.0)


def test_simulate_matches_analytic_2tcm_with_blood(carf, bolus):
    res = simulate(["thalamus_medial", "occipital_cortex"], carf, bolus, HSU, dt_min=0.01)
    for r in res.region_names:
        p = carf.params(r)
        ref = analytic_2tcm(res.t_min, bolus.parent_plasma, p.K1, p.k2, max(p.k3, 1e-12), p.k4)
        ref = (1 - p.vB) * ref + p.vB * bolus.whole_blood(res.t_min)
        assert np.abs(res.tissue(r) - ref).max() < 1e-4 * ref.max()


def test_infusion_equilibrium_ratio_equals_bp():
    frames = FrameSchedule([590.0], [600.0])
    res = simulate(["target", "ref"], toy_tracer(), constant_infusion(), frames, dt_min=0.05)
    ct, cr = res.tissue("target")[-1], res.tissue("ref")[-1]
    assert (ct - cr) / cr == pytest.approx(3.0, rel=1e-8)
    # frame-mean TACs give the same ratio
    ft, fr = res.frame_mean("target")[0], res.frame_mean("ref")[0]
    assert (ft - fr) / fr == pytest.approx(3.0, rel=1e-8)


@pytest.mark.parametrize("occ", [0.1, 0.35])
def test_sustained_release_lowers_equilibrium_bp_by_fraction(occ):
    frames = FrameSchedule([590.0], [600.0])
    rel = StepRelease(["target"], onset_min=100.0, magnitude=occ)
    res = simulate(["target", "ref"], toy_tracer(), constant_infusion(), frames, [rel], dt_min=0.05)
    ct, cr = res.tissue("target")[-1], res.tissue("ref")[-1]
    assert (ct - cr) / cr == pytest.approx(3.0 * (1 - occ), rel=1e-8)
    row = {r["region"]: r for r in res.truth_table((200.0, 600.0))}["target"]
    assert row["percent_delta_bp_nd"] == pytest.approx(-100 * occ, rel=1e-9)
    assert row["bp_nd_release"] == pytest.approx(3.0 * (1 - occ), rel=1e-9)
    assert row["bp_nd_baseline"] == 3.0


@pytest.mark.parametrize("make", [
    lambda: GammaRelease(["amygdala_r", "caudate_l"], 45.0, 50.0, 1.0, 0.0),
    lambda: StepRelease(["amygdala_r"], 30.0, 0.0, end_min=60.0),
    lambda: FunctionRelease(["amygdala_r"], lambda t: 0.0 * t, onset_min=40.0),
])
def test_release_zero_reproduces_control_bit_for_bit(carf, bolus, make):
    regions = ["amygdala_r", "caudate_l", "occipital_cortex_l"]
    res = simulate(regions, carf, bolus, HSU, [make()])
    plain = simulate(regions, carf, bolus, HSU)
    for r in regions:
        assert np.array_equal(res.tissue(r), res.tissue_control(r))
        assert np.array_equal(res.tissue(r), plain.tissue(r))
        assert np.array_equal(res.frame_mean(r), plain.frame_mean(r))
    scaled = res.tissue_release_scaled("amygdala_r", [0.0, 1.0])
    assert np.array_equal(scaled[0], plain.tissue("amygdala_r"))


def test_gamma_release_truth_against_closed_form(carf, bolus):
    td, tp, a, mag = 40.0, 47.0, 1.0, 0.2
    rel = GammaRelease(["amygdala_r"], td, tp, a, mag)
    res = simulate(["amygdala_r", "occipital_cortex_l"], carf, bolus, HSU, [rel], dt_min=0.01)
    occ = res.occupancy("amygdala_r")
    assert occ.max() == pytest.approx(mag, rel=1e-6)
    assert res.t_min[np.argmax(occ)] == pytest.approx(tp, abs=0.01)
    # window mean of m h(t) in closed form: int u^a e^{a(1-u)} du via the incomplete gamma
    w0, w1 = 45.0, 90.0
    T = tp - td
    u0, u1 = (w0 - td) / T, (w1 - td) / T
    integral = T * math.e**a * a ** (-(a + 1)) * gamma_fn(a + 1) * (gammainc(a + 1, a * u1) - gammainc(a + 1, a * u0))
    mean_o = mag * integral / (w1 - w0)
    row = {r["region"]: r for r in res.truth_table((w0, w1))}["amygdala_r"]
    assert row["mean_occupancy"] == pytest.approx(mean_o, rel=1e-5)
    assert row["bp_nd_release"] == pytest.approx(2.9 * (1 - mean_o), rel=1e-5)
    assert row["percent_delta_bp_nd"] == pytest.approx(-100 * mean_o, rel=1e-5)
    np.testing.assert_allclose(res.bp_nd_timecourse("amygdala_r"), 2.9 * (1 - occ), rtol=1e-12)
    ref_row = {r["region"]: r for r in res.truth_table((w0, w1))}["occipital_cortex_l"]
    assert ref_row["bp_nd_baseline"] == 0 and math.isnan(ref_row["percent_delta_bp_nd"])
    # release lowers the target TAC late, leaves the reference untouched
    assert np.all(res.tissue("amygdala_r") <= res.tissue_control("amygdala_r") + 1e-9)
    assert np.array_equal(res.tissue("occipital_cortex_l"), res.tissue_control("occipital_cortex_l"))
    assert "window" in res.truth_definition


def test_frame_quantities_consistent(carf, bolus):
    res = simulate(["putamen_l"], carf, bolus, HSU)
    integ = res.frame_integral_physical("putamen_l")
    decayed = res.frame_mean("putamen_l", decayed=True)
    np.testing.assert_allclose(integ, decayed * HSU.durations_min, rtol=1e-13)
    dc = res.frame_mean("putamen_l")
    np.testing.assert_allclose(dc, decayed * HSU.decay_correction_factors("C-11"), rtol=1e-13)
    # decay-corrected frame means track the decay-corrected curve (late frames are smooth)
    curve_mean = HSU.average(res.t_min, res.tissue("putamen_l"))
    np.testing.assert_allclose(dc[-5:], curve_mean[-5:], rtol=1e-2)
    assert res.frame_means().shape == (1, HSU.n_frames)
    # decayed frame integral equals integral of tissue x exp(-lambda t) by brute force
    t = res.t_min
    phys = res.tissue("putamen_l") * np.exp(-math.log(2) / 20.364 * t)
    k = HSU.n_frames - 1
    sel = (t >= HSU.starts_min[k]) & (t <= HSU.ends_min[k])
    assert integ[k] == pytest.approx(np.trapezoid(phys[sel], t[sel]), rel=1e-6)


def test_truth_maps_through_labels(carf, bolus):
    rel = StepRelease(["caudate_l"], 40.0, 0.2)
    res = simulate(["caudate_l", "occipital_cortex_l"], carf, bolus, HSU, [rel])
    labels = np.array([[[0, 1], [2, 3]]])
    maps = res.truth_maps(labels, {1: "caudate_l", 2: "occipital_cortex_l"}, (45, 90))
    assert maps["bp_nd_baseline"][0, 0, 1] == pytest.approx(2.0)
    assert maps["percent_delta_bp_nd"][0, 0, 1] == pytest.approx(-20.0, rel=1e-9)
    assert np.isnan(maps["delta_bp_nd"][0, 0, 0]) and np.isnan(maps["delta_bp_nd"][0, 1, 1])


def test_full_competition_mass_effect(carf, bolus):
    regions = ["thalamus_medial", "occipital_cortex"]
    fast = simulate(regions, carf, bolus, HSU)
    full = simulate(regions, carf, bolus, HSU, model="competition_full")
    huge_sa = simulate(regions, carf, bolus, HSU, model="competition_full", specific_activity_gbq_per_umol=1e12)
    row = {r["region"]: r for r in full.truth_table()}["thalamus_medial"]
    assert row["bp_nd_control"] < carf.bp_nd("thalamus_medial")  # tracer mass occupies some receptors
    assert np.abs(huge_sa.tissue("thalamus_medial") - fast.tissue("thalamus_medial")).max() < 1e-6 * fast.tissue("thalamus_medial").max()
    assert np.array_equal(full.tissue("occipital_cortex"), fast.tissue("occipital_cortex"))


def test_errors_name_the_value(carf, bolus):
    with pytest.raises(ValueError, match="hippocampus_l"):
        simulate(["amygdala_r"], carf, bolus, HSU, [StepRelease(["hippocampus_l"], 40, 0.1)])
    with pytest.raises(ValueError, match="95"):
        simulate(["amygdala_r"], carf, bolus, HSU, [StepRelease(["amygdala_r"], 95, 0.1)])
    with pytest.raises(KeyError, match="nowhere.*known"):
        simulate(["nowhere"], carf, bolus, HSU)
    with pytest.raises(ValueError, match="magnitude.*1.2"):
        GammaRelease(["amygdala_r"], 40, 45, 1.0, 1.2)
    with pytest.raises(ValueError, match="peak_min"):
        GammaRelease(["amygdala_r"], 40, 35, 1.0, 0.1)
    with pytest.raises(ValueError, match="amygdala_r.*below 1"):
        simulate(["amygdala_r"], carf, bolus, HSU,
                 [StepRelease(["amygdala_r"], 40, 0.6), StepRelease(["amygdala_r"], 50, 0.6)])
    with pytest.raises(ValueError, match="occupancy outside"):
        simulate(["amygdala_r"], carf, bolus, HSU, [FunctionRelease(["amygdala_r"], lambda t: -0.1 + 0 * t)])
    with pytest.raises(ValueError, match="model"):
        simulate(["amygdala_r"], carf, bolus, HSU, model="srtm")
    res = simulate(["amygdala_r"], carf, bolus, HSU)
    with pytest.raises(ValueError, match="window"):
        res.truth_table((60, 120))
    with pytest.raises(KeyError, match="caudate_l"):
        res.tissue("caudate_l")


def test_example_figure_is_written(tmp_path):
    import importlib.util

    path = Path(__file__).parents[1] / "examples" / "plot_kinetics.py"
    spec = importlib.util.spec_from_file_location("plot_kinetics", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "kinetics.png"
    mod.main(str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_release_levels_for_voxel_maps(carf, bolus):
    rel = GammaRelease(["caudate_l"], 40.0, 46.0, 1.0, 0.3)
    res = simulate(["caudate_l"], carf, bolus, HSU, [rel])
    lv = res.tissue_release_scaled("caudate_l", [0.0, 0.5, 1.0])
    assert np.array_equal(lv[0], res.tissue_control("caudate_l"))
    assert np.array_equal(lv[2], res.tissue("caudate_l"))
    half = simulate(["caudate_l"], carf, bolus, HSU, [GammaRelease(["caudate_l"], 40.0, 46.0, 1.0, 0.15)])
    np.testing.assert_allclose(lv[1], half.tissue("caudate_l"), rtol=1e-12)
    # the curve is nearly linear in the release level: midpoint interpolation error is tiny
    assert np.abs(0.5 * (lv[0] + lv[2]) - lv[1]).max() < 2e-3 * lv[1].max()
    with pytest.raises(ValueError, match="reaches 1"):
        res.tissue_release_scaled("caudate_l", [4.0])


def test_voxel_frame_means_are_fraction_weighted(carf, bolus):
    res = simulate(["caudate_l", "white_matter"], carf, bolus, HSU)
    f1 = np.array([[[0.3, 1.0]]])
    f2 = np.array([[[0.7, 0.0]]])
    vox = res.voxel_frame_means({"caudate_l": f1, "white_matter": f2})
    assert vox.shape == (1, 1, 2, HSU.n_frames)
    np.testing.assert_allclose(vox[0, 0, 0], 0.3 * res.frame_mean("caudate_l") + 0.7 * res.frame_mean("white_matter"))
    np.testing.assert_allclose(vox[0, 0, 1], res.frame_mean("caudate_l"))
