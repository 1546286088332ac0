"""petsim.modeling: recovery of known BP_ND from independently generated TACs, I/O, errors, CLI."""


import numpy as np
import pytest
from test_modeling_truth import END, REF, START, reference, srtm_target, twotc_target
from scipy import ndimage

from petsim.grid import Grid
from petsim.modeling import (
    bfsrtm_map, extract_tacs, fit_logan_ref, fit_models, fit_mrtm, fit_mrtm2, fit_srtm, fit_srtm2,
    fit_tissue_ratio, frame_weights, logan_ref_map, mrtm2_map, read_tac_table, results_to_table, spherical_voi,
    write_results_tsv, write_tac_table,
)
from petsim.modeling._frames import FrameSampler, integral_to_mid

BPS = (0.5, 1.5, 3.0)


@pytest.fixture(scope="module")
def cr():
    return reference()


@pytest.fixture(scope="module")
def srtm_tacs():
    return {bp: srtm_target(bp) for bp in BPS}


@pytest.fixture(scope="module")
def twotc_tacs():
    return {bp: twotc_target(bp) for bp in BPS}


def test_conv_exp_matches_analytic():
    # Frame means of t (*) exp(-k t) are known in closed form.
    start, end = np.arange(0, 60.0, 2.0), np.arange(2.0, 62.0, 2.0)
    s = FrameSampler(start, end, step_min=0.01)
    k = 0.2
    # Input c(t) = t (exactly linear, so the interpolation is exact); conv = t/k - (1 - e^{-kt})/k^2.
    def prim(t):  # antiderivative of the convolution
        return t ** 2 / (2 * k) - t / k ** 2 - np.exp(-k * t) / k ** 3
    expected = (prim(end) - prim(start)) / (end - start)
    got = s.conv_exp(0.5 * (start + end), k)[0]
    # (the last half frame is held constant after the last mid-time, so it is left out)
    assert np.allclose(got[:-1], expected[:-1], rtol=5e-5)


def test_integral_to_mid_exact_for_linear():
    start, end = np.array([0.0, 1.0, 3.0, 7.0]), np.array([1.0, 3.0, 7.0, 15.0])
    c = 0.5 * (start + end) * 2.0  # frame means of c(t) = 2 t
    assert np.allclose(integral_to_mid(start, end, c), (0.5 * (start + end)) ** 2)


@pytest.mark.parametrize("bp", BPS)
def test_srtm_srtm2_bfsrtm_recover_bp(bp, cr, srtm_tacs):
    ct = srtm_tacs[bp]
    res = fit_srtm(START, END, ct, cr)
    assert res.converged and res.message == ""
    assert res.bp_nd == pytest.approx(bp, rel=5e-3)
    assert res.params["R1"] == pytest.approx(0.9, rel=1e-2)
    assert np.isfinite(res.se["BP_ND"])
    res2 = fit_srtm2(START, END, ct, cr, k2_ref=REF["k2"])
    assert res2.converged and res2.bp_nd == pytest.approx(bp, rel=5e-3)
    maps = bfsrtm_map(ct[None, None, None, :], cr, START, END, progress=False)
    assert maps["BP_ND"][0, 0, 0] == pytest.approx(bp, rel=5e-3)
    assert maps["R1"][0, 0, 0] == pytest.approx(0.9, rel=1e-2)


@pytest.mark.parametrize("bp", BPS)
def test_linear_methods_recover_bp_on_2tc_after_equilibrium(bp, cr, twotc_tacs):
    ct = twotc_tacs[bp]
    t_star = 30.0
    assert fit_mrtm2(START, END, ct, cr, k2_ref=REF["k2"], t_star_min=t_star).bp_nd == pytest.approx(bp, rel=1e-2)
    assert fit_mrtm(START, END, ct, cr, t_star_min=t_star).bp_nd == pytest.approx(bp, rel=1e-2)
    assert fit_logan_ref(START, END, ct, cr, t_star_min=t_star).bp_nd == pytest.approx(bp, rel=1e-2)
    assert fit_logan_ref(START, END, ct, cr, t_star_min=t_star, k2_ref=REF["k2"]).bp_nd == pytest.approx(bp, rel=1e-2)
    img = np.stack([ct, ct])[:, None, None, :]
    assert np.allclose(logan_ref_map(img, cr, START, END, t_star, progress=False)["BP_ND"], bp, rtol=1e-2)
    assert np.allclose(mrtm2_map(img, cr, START, END, k2_ref=REF["k2"], t_star_min=t_star, progress=False)["BP_ND"],
                       bp, rtol=1e-2)


def test_logan_windows_and_ratio(cr, twotc_tacs):
    ct = twotc_tacs[1.5]
    base = fit_logan_ref(START, END, ct, cr, t_star_min=30, window_min=(30, 60))
    task = fit_logan_ref(START, END, ct, cr, t_star_min=30, window_min=(60, 90))
    assert base.params["window_end_min"] == 60 and task.params["window_start_min"] == 60
    assert base.bp_nd == pytest.approx(1.5, rel=2e-2) and task.bp_nd == pytest.approx(1.5, rel=2e-2)
    # After a bolus only transient equilibrium is reached, where the tissue ratio overestimates BP_ND
    # (Carson et al. JCBFM 1993); check the direction and the arithmetic.
    ratio = fit_tissue_ratio(START, END, ct, cr, window_min=(60, 90))
    assert 1.5 < ratio.bp_nd < 2.0
    dur = (END - START)
    sel = (0.5 * (START + END) >= 60)
    assert ratio.bp_nd == pytest.approx(np.sum(ct[sel] * dur[sel]) / np.sum(cr[sel] * dur[sel]) - 1)


def test_mrtm2_map_estimates_k2_ref(cr, srtm_tacs):
    img = np.stack([srtm_tacs[bp] for bp in BPS] * 2)[:, None, None, :]
    maps = mrtm2_map(img, cr, START, END, progress=False)
    assert maps["k2_ref"] == pytest.approx(REF["k2"], rel=2e-2)
    assert np.allclose(maps["BP_ND"][:3, 0, 0], BPS, rtol=1e-2)


def test_bad_input_errors(cr, srtm_tacs):
    ct = srtm_tacs[1.5]
    with pytest.raises(ValueError, match="not sorted"):
        fit_srtm(START[::-1], END[::-1], ct, cr)
    with pytest.raises(ValueError, match="values but there are"):
        fit_srtm(START, END, ct[:-1], cr)
    bad = ct.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fit_mrtm(START, END, bad, cr)
    with pytest.raises(ValueError, match="zero"):
        fit_logan_ref(START, END, ct, np.zeros_like(cr), t_star_min=30)
    with pytest.raises(ValueError, match="beyond the last frame"):
        fit_logan_ref(START, END, ct, cr, t_star_min=95)
    with pytest.raises(ValueError, match="ends"):
        fit_srtm(START, START, ct, cr)
    with pytest.raises(ValueError, match="k2_ref"):
        fit_srtm2(START, END, ct, cr, k2_ref=-1)
    with pytest.raises(ValueError, match="kind"):
        frame_weights(START, END, kind="poisson")


def test_nonconvergence_is_reported(cr):
    # A target that is pure noise around zero cannot give a sensible SRTM fit: it must say so.
    ct = np.random.default_rng(3).normal(0, 1, cr.size)
    res = fit_srtm(START, END, ct, cr)
    assert not res.converged and res.message


def test_frame_weights():
    w = frame_weights(START, END, "duration")
    assert np.allclose(w / w[0], (END - START) / (END - START)[0])
    lam = np.log(2) / 20.364
    wd = frame_weights(START, END, "decay")
    mid = 0.5 * (START + END)
    assert np.allclose(wd / wd[-1], (END - START) * np.exp(-lam * mid) / ((END - START)[-1] * np.exp(-lam * mid[-1])))
    assert np.allclose(frame_weights(START, END, "none"), 1)


def test_extract_tacs_matches_scipy_and_voi():
    rng = np.random.default_rng(0)
    img = rng.random((8, 9, 5, 4))
    labels = rng.integers(0, 3, (8, 9, 5))
    tacs = extract_tacs(img, labels, {1: "a", 2: "b"})
    for rid, name in ((1, "a"), (2, "b")):
        expected = [ndimage.mean(img[..., f], labels, rid) for f in range(4)]
        assert np.allclose(tacs[name], expected)
    frac = rng.random((8, 9, 5))
    wt = extract_tacs(img, labels, {1: "a"}, fractions={"a": frac})["a"]
    assert np.allclose(wt, np.einsum("xyz,xyzt->t", frac, img) / frac.sum())
    grid = Grid((40, 40, 40), 1.0)
    voi = spherical_voi(grid, (0.5, 0.5, 0.5), diameter_mm=9.0)
    assert voi.sum() == pytest.approx(4 / 3 * np.pi * 4.5 ** 3, rel=0.1)
    with pytest.raises(ValueError):
        extract_tacs(img, labels[:-1], {1: "a"})


def test_tac_table_roundtrip_and_fit_models(tmp_path, cr, srtm_tacs):
    path = tmp_path / "sub-01_desc-recon_tacs.tsv"
    regions = {"thalamus_l": srtm_tacs[3.0], "caudate_r": srtm_tacs[1.5],
               "occipital_cortex_l": cr * 1.02, "occipital_cortex_r": cr * 0.98}
    write_tac_table(path, START, END, regions)
    header = path.read_text().splitlines()[0].split("\t")
    assert header[:2] == ["frame_start", "frame_end"]
    assert float(path.read_text().splitlines()[-1].split("\t")[1]) == pytest.approx(END[-1] * 60)
    tt = read_tac_table(path)
    assert np.allclose(tt.frame_end_min, END) and np.allclose(tt.regions["caudate_r"], srtm_tacs[1.5])
    res = fit_models(tt, "occipital_cortex", models=("srtm", "srtm2", "mrtm2", "logan_ref"), t_star_min=30)
    assert [r.region for r in res].count("thalamus_l") == 4
    by = {(r.region, r.model): r for r in res}
    for model in ("srtm", "srtm2"):
        assert by[("thalamus_l", model)].bp_nd == pytest.approx(3.0, rel=5e-3)
    assert by[("caudate_r", "logan_ref")].bp_nd == pytest.approx(1.5, rel=1e-2)
    out = write_results_tsv(tmp_path / "est.tsv", res)
    cols, rows = results_to_table(res)
    lines = open(out).read().splitlines()
    assert lines[0].split("\t") == cols and len(lines) == len(res) + 1
    assert {"region", "model", "BP_ND", "converged", "R1"} <= set(cols)
    with pytest.raises(KeyError):
        fit_models(tt, "cerebellum")


def test_cli_fit_file_and_directory(tmp_path, cr, srtm_tacs, capsys):
    from petsim.cli import main

    sub = tmp_path / "derivatives" / "petsim" / "sub-01"
    sub.mkdir(parents=True)
    write_tac_table(sub / "sub-01_desc-recon_tacs.tsv", START, END,
                    {"amygdala_l": srtm_tacs[1.5], "occipital_cortex_l": cr, "occipital_cortex_r": cr})
    rc = main(["fit", str(tmp_path), "--ref", "occipital_cortex", "--model", "srtm", "--model", "logan_ref",
               "--t-star", "30"])
    assert rc == 0
    out = sub / "sub-01_desc-estimates_bp.tsv"
    assert out.exists()
    assert "amygdala_l" in capsys.readouterr().out
    assert (sub / "sub-01_region-amygdala_l_desc-fit_tac.png").exists()
    rows = [ln.split("\t") for ln in out.read_text().splitlines()]
    bp = {r[1]: float(r[rows[0].index("BP_ND")]) for r in rows[1:]}
    assert bp["srtm"] == pytest.approx(1.5, rel=5e-3)
    odir = tmp_path / "o"
    rc = main(["fit", str(sub / "sub-01_desc-recon_tacs.tsv"), "--ref", "occipital_cortex_l", "-o", str(odir),
               "--no-plots", "--weights", "none"])
    assert rc == 0 and (odir / "sub-01_desc-reconfit_bp.tsv").exists()
    assert main(["fit", str(tmp_path / "missing.tsv"), "--ref", "x"]) == 2


def test_maps_respect_mask_and_shape(cr, srtm_tacs):
    img = np.broadcast_to(srtm_tacs[1.5], (3, 4, 2, START.size)).copy()
    mask = np.zeros((3, 4, 2), bool)
    mask[1:, :2] = True
    for maps in (bfsrtm_map(img, cr, START, END, mask=mask, progress=False),
                 logan_ref_map(img, cr, START, END, 30.0, mask=mask, progress=False)):
        assert maps["BP_ND"].shape == (3, 4, 2)
        assert np.all(np.isnan(maps["BP_ND"][~mask])) and np.allclose(maps["BP_ND"][mask], 1.5, rtol=1e-2)
    with pytest.raises(ValueError, match="frames"):
        bfsrtm_map(img[..., :-1], cr, START, END)


def test_modeling_does_not_import_the_simulation():
    import ast
    import pathlib

    import petsim.modeling

    forbidden = ("petsim.kinetics", "petsim.phantom", "petsim.acquisition", "petsim.frames")
    for path in pathlib.Path(petsim.modeling.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                assert not name.startswith(forbidden), f"{path.name} imports {name}"
                assert not name.startswith(("..kinetics", "..phantom", "..acquisition", "..frames")), path.name
