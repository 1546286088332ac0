"""TAC-mode noise measured region by region on image-mode reconstructions (petsim.study.noise_model)."""

import numpy as np
import pytest

from petsim.core.tsv import write_tsv
from petsim.modeling import write_tac_table
from petsim.pipeline.layout import RunLayout
from petsim.pipeline.scenario import resolve
from petsim.pipeline.world import frame_schedule
from petsim.study.noise_model import read_noise_table, tac_noise_scales
from petsim.study.tac_mode import add_tac_noise

LAMBDA = np.log(2) / 20.38  # C-11, 1/min


def _fake_run(tmp_path, scales, recovery, rng):
    """A run folder whose recon TACs are recovery x noise-free + the model's noise, scan by scan."""
    sc = resolve({})
    (tmp_path / "scenario_resolved.toml").write_text(sc.to_toml())
    lay = RunLayout(tmp_path, sc.subject)
    fs = frame_schedule(sc)
    mid, dt = fs.mid_min, fs.durations_min
    growth = np.exp(LAMBDA * mid) / dt
    nf = {r: 1e4 * (1 + i / 10) * (1 - np.exp(-mid / 5)) for i, r in enumerate(scales)}
    for scan in ("release", "control"):
        write_tac_table(lay.deriv("noisefree", "tacs", scan), fs.starts_min, fs.ends_min, nf)
        recon = {r: recovery * c + np.sqrt(scales[r] ** 2 * recovery * c * growth) * rng.standard_normal(c.size)
                 for r, c in nf.items()}
        write_tac_table(lay.deriv("recon", "tacs", scan), fs.starts_min, fs.ends_min, recon)
    return nf


def test_noise_scales_are_recovered_from_two_scans(tmp_path):
    rng = np.random.default_rng(4)
    truth = {f"region{i:02d}": s for i, s in enumerate(np.linspace(1.0, 8.0, 24))}
    _fake_run(tmp_path, truth, 0.8, rng)
    rows = {r["region"]: r for r in tac_noise_scales(tmp_path)}
    ratio = np.array([rows[r]["noise_scale"] / s for r, s in truth.items()])
    # 28 frame differences per region: S^2 has a relative SD of sqrt(2/28) = 0.27, S about 0.13
    assert abs(ratio.mean() - 1) < 0.06
    assert np.all(np.abs(ratio - 1) < 0.45)
    assert all(abs(rows[r]["recovery"] - 0.8) < 0.01 for r in truth)
    out = tmp_path / "noise.tsv"
    write_tsv(out, list(rows.values()))
    assert read_noise_table(out) == pytest.approx({r: rows[r]["noise_scale"] for r in truth})


def test_missing_control_scan_is_named(tmp_path):
    (tmp_path / "scenario_resolved.toml").write_text(resolve({}).to_toml())
    with pytest.raises(FileNotFoundError, match="matched control"):
        tac_noise_scales(tmp_path)


def test_per_region_scales_set_each_regions_variance():
    sc = resolve({})
    fs = frame_schedule(sc)
    tacs = {"small": np.full(fs.n_frames, 5000.0), "large": np.full(fs.n_frames, 5000.0)}
    scales = {"small": 6.0, "large": 1.0}
    rng = np.random.default_rng(0)
    draws = np.array([[add_tac_noise(tacs, fs, LAMBDA, 0.0, ["large"], rng, scales=scales)[r] for r in ("small", "large")]
                      for _ in range(4000)])
    growth = np.exp(LAMBDA * fs.mid_min) / fs.durations_min
    for k, r in enumerate(("small", "large")):
        expected = scales[r] ** 2 * 5000.0 * growth
        assert np.allclose(draws[:, k].var(axis=0) / expected, 1.0, atol=0.12)
    with pytest.raises(KeyError, match="no noise scale"):
        add_tac_noise({"other": tacs["small"]}, fs, LAMBDA, 0.0, ["other"], rng, scales=scales)
    # a structure's TAC (both sides together) has the mean of its sides' independent noise
    both = {"amy": np.full(fs.n_frames, 5000.0)}
    sides = {"amy_l": 2.0, "amy_r": 4.0}
    d = np.array([add_tac_noise(both, fs, LAMBDA, 0.0, ["amy"], rng, scales=sides)["amy"] for _ in range(4000)])
    assert np.allclose(d.var(axis=0) / ((4.0 + 16.0) / 4 * 5000.0 * growth), 1.0, atol=0.12)


def test_a_study_takes_a_noise_table(tmp_path):
    from petsim.study import load_study

    table = tmp_path / "noise.tsv"
    write_tsv(table, [{"region": r, "noise_scale": 2.0} for r in ("amygdala_l", "occipital_cortex")])
    study = load_study({"scenario": {}, "study": {"noise_table": "noise.tsv", "regions": ["amygdala_l"]}},
                       base_dir=tmp_path)
    assert study.noise_table == {"amygdala_l": 2.0, "occipital_cortex": 2.0}
    with pytest.raises(ValueError, match="give one"):
        load_study({"scenario": {}, "study": {"noise_table": "noise.tsv", "noise_cov": 0.03,
                                               "regions": ["amygdala_l"]}}, base_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="nowhere.tsv"):
        load_study({"scenario": {}, "study": {"noise_table": "nowhere.tsv", "regions": ["amygdala_l"]}},
                   base_dir=tmp_path)
