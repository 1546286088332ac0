"""The error budget (petsim budget): each estimated correction against the oracle, from the same noise."""

from pathlib import Path

import numpy as np
import pytest

from petsim.cli import main
from petsim.core.toml import load_toml
from petsim.io import read_tsv
from petsim.pipeline.budget import AS_SCENARIO, ORACLE, configurations, estimated_corrections
from petsim.pipeline.scenario import resolve

TINY = Path(__file__).parent / "data" / "tiny.toml"


def _coarse(**physics) -> dict:
    """tests/data/tiny.toml made smaller still (fewer frames and iterations, no oversampling)."""
    raw = load_toml(TINY)
    raw["frames"] = {"durations_min": [2.0, 3.0, 5.0, 5.0, 5.0, 5.0, 5.0, 10.0, 10.0, 10.0, 10.0, 20.0]}
    raw["recon"].update({"iterations": 2, "subsets": 4})
    raw["physics"] = {"sim_oversampling": 1, **physics}
    raw["analysis"].update({"maps": [], "bootstrap": 0, "regions": ["amygdala_l", "thalamus_medial", "caudate_l"]})
    return raw


def test_configurations_switch_one_estimated_correction_at_a_time():
    sc = resolve(_coarse(normalisation_correction="measured", attenuation_correction="misregistered",
                         mumap_shift_mm=[2.0, 0.0, 0.0]))
    assert estimated_corrections(sc) == ["normalisation", "attenuation", "randoms"]
    configs = configurations(sc)
    assert list(configs) == [ORACLE, "normalisation", "attenuation", "randoms", AS_SCENARIO]
    exact = {"normalisation_correction": "exact", "attenuation_correction": "exact", "randoms_correction": "exact"}
    assert configs[ORACLE] == exact
    assert configs["attenuation"] == {**exact, "attenuation_correction": "misregistered"}
    assert configs[AS_SCENARIO] == {}  # the scenario as it is
    # without noise the delayed-window randoms are exact; an effect that is off has no correction
    assert estimated_corrections(resolve(_coarse(noise=False, normalisation_correction="exact"))) == []
    assert estimated_corrections(resolve(_coarse())) == ["normalisation", "randoms"]  # the defaults: the site's
    assert estimated_corrections(resolve(_coarse(randoms=False, normalisation_correction="measured"))) == [
        "normalisation"]


def test_a_budget_needs_an_estimated_correction(tmp_path):
    from petsim.pipeline.budget import error_budget

    with pytest.raises(ValueError, match="takes every correction from the simulation"):
        error_budget(resolve(_coarse(randoms_correction="exact", normalisation_correction="exact")))


@pytest.mark.slow
def test_budget_of_a_run_reproduces_the_run_and_splits_its_error(tmp_path):
    """The configuration that is the scenario reproduces the run's own estimates (same seed, same noise);
    the oracle differs from it only by the correction."""
    scenario = tmp_path / "coarse.toml"
    scenario.write_text(resolve(_coarse(normalisation_correction="measured", normalisation_scan_counts=1e6,
                                        randoms_correction="exact")).to_toml())
    out = tmp_path / "run"
    assert main(["run", str(scenario), "-o", str(out), "-q"]) == 0
    assert main(["budget", str(out), "-q"]) == 0
    deriv = out / "derivatives" / "petsim" / "sub-01"
    rows = read_tsv(deriv / "sub-01_desc-budget_bp.tsv")
    assert {r["configuration"] for r in rows} == {ORACLE, "normalisation"}
    validation = {(r["region"], r["model"]): r for r in read_tsv(deriv / "sub-01_desc-validation_bp.tsv")}
    alone = [r for r in rows if r["configuration"] == "normalisation"]
    assert alone
    for r in alone:  # the scenario itself: the run's numbers, bit for bit
        v = validation[(r["region"], r["model"])]
        assert r["BP_ND"] == pytest.approx(v["BP_ND"], rel=1e-12)
        assert r["percent_delta"] == pytest.approx(v["percent_delta"], rel=1e-9, abs=1e-12)
    oracle = {(r["region"], r["model"]): r for r in rows if r["configuration"] == ORACLE}
    costs = [r["bias_percent_cost"] for r in alone]
    assert all(o["bias_percent_cost"] == 0 for o in oracle.values())
    # a 1e6-count normalisation scan is noisy: the measured correction moves every estimate
    assert np.all(np.abs(costs) > 0) and np.all(np.isfinite(costs))
    for r in alone:
        o = oracle[(r["region"], r["model"])]
        assert r["bias_percent_cost"] == pytest.approx(r["bias_percent"] - o["bias_percent"])
    report = (out / "derivatives" / "petsim" / "report" / "index.html").read_text(encoding="utf-8")
    assert "<section id='budget'>" in report and "normalisation: ΔBP_ND cost (points)" in report
    # a new fit makes the budget stale: it is removed, and the report no longer shows it
    assert main(["fit", str(out), "--force"]) == 0
    assert not (deriv / "sub-01_desc-budget_bp.tsv").exists()
