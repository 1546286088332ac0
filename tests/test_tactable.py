"""TAC tables of other tools (PETPrep-style) and where ``petsim fit TABLE`` writes its results.

The TACs come from an ODE solver (scipy's solve_ivp) of one-tissue compartment models with a
plasma input, independent of petsim's own convolution code: the reference region has K1', k2';
each target region has the same K1/k2 (same nondisplaceable volume) and an apparent efflux
k2a = k2 / (1 + BP_ND), for which SRTM is exact, so BP_ND = (K1 / k2a) / (K1' / k2') - 1.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from petsim.cli import main
from petsim.modeling import read_tac_table, write_tac_table
from petsim.modeling.cli import fit_names

# frame schedule (s): 6 x 30 s, 4 x 60 s, 4 x 120 s, 14 x 300 s = 90 min
DURATIONS_S = np.array([30.0] * 6 + [60.0] * 4 + [120.0] * 4 + [300.0] * 14)
END_S = np.cumsum(DURATIONS_S)
START_S = END_S - DURATIONS_S

K1_REF, K2_REF = 0.3, 0.15  # 1/min
TRUTH = {"Left-Putamen": (1.1, 2.5), "Left-Caudate": (0.9, 1.2), "Right-Thalamus": (1.0, 0.6)}  # R1, BP_ND


def plasma_kbq_ml(t_min):
    """A bolus input (kBq/mL): fast peak at ~0.3 min and a slow washout."""
    return 400.0 * t_min * np.exp(-t_min / 0.3) + 12.0 * np.exp(-0.03 * t_min) * (1 - np.exp(-5.0 * t_min))


def one_tissue_frame_means(rates) -> np.ndarray:
    """Frame means (kBq/mL) of one-tissue TACs dC/dt = K1 Cp - k2 C, for each (K1, k2) in ``rates``."""
    k1 = np.array([r[0] for r in rates])
    k2 = np.array([r[1] for r in rates])
    t = np.linspace(0.0, END_S[-1] / 60.0, 90 * 200 + 1)
    sol = solve_ivp(lambda tt, c: k1 * plasma_kbq_ml(tt) - k2 * c, (0.0, t[-1]), np.zeros(len(rates)),
                    t_eval=t, method="LSODA", rtol=1e-10, atol=1e-12, max_step=0.01)
    cum = np.concatenate([np.zeros((len(rates), 1)),
                          np.cumsum(0.5 * (sol.y[:, 1:] + sol.y[:, :-1]) * np.diff(t), axis=1)], axis=1)
    at = lambda s: np.array([np.interp(s / 60.0, t, c) for c in cum])  # noqa: E731
    return (at(END_S) - at(START_S)) / (DURATIONS_S / 60.0)


@pytest.fixture(scope="module")
def tacs_kbq():
    rates = [(K1_REF, K2_REF)] + [(r1 * K1_REF, r1 * K2_REF / (1 + bp)) for r1, bp in TRUTH.values()]
    means = one_tissue_frame_means(rates)
    return means[0], dict(zip(TRUTH, means[1:]))


def write_petprep_tables(folder, ref_kbq, targets_kbq):
    """A PETPrep-style GTM table (kBq/mL, with absent structures as n/a) and a separate reference table (Bq/mL)."""
    pet = folder / "sub-01" / "ses-baseline" / "pet"
    pet.mkdir(parents=True)
    table = pet / "sub-01_ses-baseline_seg-gtm_desc-preproc_tacs.tsv"
    names = ["Left-Putamen", "Left-vessel", "Left-Caudate", "Right-Thalamus", "Optic-Chiasm"]
    lines = ["\t".join(["frame_start", "frame_end", *names])]
    for i in range(START_S.size):
        cells = [repr(float(targets_kbq[n][i])) if n in targets_kbq else "n/a" for n in names]
        lines.append("\t".join([f"{START_S[i]:g}", f"{END_S[i]:g}", *cells]))
    table.write_text("\n".join(lines) + "\n")
    (pet / "sub-01_ses-baseline_seg-gtm_desc-preproc_tacs.json").write_text(json.dumps({
        "FrameTimesStart": START_S.tolist(), "FrameDuration": DURATIONS_S.tolist(),
        "Units": "kBq/mL", "SpatialReference": "PET"}))
    ref = pet / "sub-01_ses-baseline_label-cerebellum_desc-preproc_tacs.tsv"
    ref.write_text("frame_start\tframe_end\tcerebellum\n"
                   + "".join(f"{START_S[i]:g}\t{END_S[i]:g}\t{float(ref_kbq[i]) * 1000.0!r}\n"
                             for i in range(START_S.size)))
    (pet / "sub-01_ses-baseline_label-cerebellum_desc-preproc_tacs.json").write_text(json.dumps({
        "frame_start": {"Units": "s"}, "frame_end": {"Units": "s"}, "cerebellum": {"Units": "Bq/mL"}}))
    return table, ref


def read_bp(path) -> dict:
    rows = [ln.split("\t") for ln in path.read_text().splitlines()]
    head = rows[0]
    return {(r[head.index("region")], r[head.index("model")]): {c: r[j] for j, c in enumerate(head)} for r in rows[1:]}


def test_fit_petprep_tables_with_na_columns_ref_file_and_units(tmp_path, tacs_kbq, capsys):
    ref_kbq, targets = tacs_kbq
    table, ref = write_petprep_tables(tmp_path, ref_kbq, targets)
    tt = read_tac_table(table)
    assert set(tt.dropped) == {"Left-vessel", "Optic-Chiasm"} and set(tt.regions) == set(TRUTH)
    assert np.allclose(tt.regions["Left-Putamen"], targets["Left-Putamen"] * 1000.0)  # kBq/mL -> Bq/mL
    assert np.allclose(tt.frame_end_min * 60.0, END_S)

    assert main(["fit", str(table), "--ref-file", str(ref), "--no-plots"]) == 0
    err = capsys.readouterr().err
    assert "Left-vessel" in err and "kBq/mL" in err and "Traceback" not in err
    out = table.parent / "sub-01_ses-baseline_seg-gtm_desc-preprocfit_bp.tsv"
    bp = read_bp(out)
    for region, (r1, truth) in TRUTH.items():
        row = bp[(region, "srtm")]
        assert float(row["BP_ND"]) == pytest.approx(truth, rel=0.01), region
        assert float(row["R1"]) == pytest.approx(r1, rel=0.01), region  # right only if both units were honoured
    assert {r for r, _ in bp} == set(TRUTH)


def test_written_tables_have_a_sidecar_and_read_back(tmp_path, tacs_kbq):
    ref_kbq, targets = tacs_kbq
    path = tmp_path / "sub-01_desc-roiA_tacs.tsv"
    write_tac_table(path, START_S / 60, END_S / 60, {"cerebellum": ref_kbq, **targets})
    meta = json.loads((tmp_path / "sub-01_desc-roiA_tacs.json").read_text())
    assert meta["frame_start"]["Units"] == "s" and meta["frame_end"]["Units"] == "s"
    assert meta["Left-Putamen"]["Units"] == "Bq/mL" and meta["Units"] == "Bq/mL"
    assert (path.stat().st_mode & 0o044) == 0o044 and (tmp_path / "sub-01_desc-roiA_tacs.json").stat().st_mode & 0o044
    tt = read_tac_table(path)
    assert tt.notes == () and np.allclose(tt.regions["Left-Caudate"], targets["Left-Caudate"])


@pytest.mark.parametrize("name, expected", [
    ("sub-01_desc-roiA_tacs.tsv", ("sub-01", "roiAfit")),
    ("sub-01_ses-1_seg-gtm_desc-preproc_tacs.tsv", ("sub-01_ses-1_seg-gtm", "preprocfit")),
    ("sub-01_ses-1_seg-gtm_tacs.tsv", ("sub-01_ses-1_seg-gtm", "fit")),
    ("sub-01_desc-estimates_tacs.tsv", ("sub-01", "estimatesfit")),
    ("my_tacs.csv", ("my", "fit")),
    ("tacs.tsv", ("tacs", "fit")),
])
def test_fit_output_names_keep_entities_and_never_hit_pipeline_names(name, expected):
    assert fit_names(name) == expected
    assert expected[1] not in ("estimates", "validation")


def test_fit_leaves_the_pipeline_outputs_and_other_tables_alone(tmp_path, tacs_kbq, capsys):
    ref_kbq, targets = tacs_kbq
    sub = tmp_path / "derivatives" / "petsim" / "sub-01"
    sub.mkdir(parents=True)
    estimates = sub / "sub-01_desc-estimates_bp.tsv"
    estimates.write_text("region\tmodel\tBP_ND\npipeline\tsrtm\t1.0\n")
    before = estimates.read_bytes()
    tables = {}
    for roi, region in (("roiA", "Left-Putamen"), ("roiB", "Left-Caudate")):
        tables[roi] = sub / f"sub-01_desc-{roi}_tacs.tsv"
        write_tac_table(tables[roi], START_S / 60, END_S / 60, {"cerebellum": ref_kbq, region: targets[region]})
    write_tac_table(sub / "sub-01_desc-noisefree_tacs.tsv", START_S / 60, END_S / 60,
                    {"cerebellum": ref_kbq, **targets})
    for name in ("sub-01_desc-noisefree_tacs.tsv", tables["roiA"].name, tables["roiB"].name):
        assert main(["fit", str(sub / name), "--ref", "cerebellum"]) == 0
    assert estimates.read_bytes() == before
    a, b = read_bp(sub / "sub-01_desc-roiAfit_bp.tsv"), read_bp(sub / "sub-01_desc-roiBfit_bp.tsv")
    assert set(a) == {("Left-Putamen", "srtm")} and set(b) == {("Left-Caudate", "srtm")}
    assert (sub / "sub-01_desc-noisefreefit_bp.tsv").exists()
    assert (sub / "sub-01_region-Left-Putamen_desc-roiAfit_tac.png").exists()
    assert (sub / "sub-01_region-Left-Caudate_desc-roiBfit_tac.png").exists()
    capsys.readouterr()

    # a second fit refuses to replace the first without --force, before any work, naming the file
    stamp = (sub / "sub-01_desc-roiAfit_bp.tsv").read_bytes()
    assert main(["fit", str(tables["roiA"]), "--ref", "cerebellum", "--model", "logan_ref", "--t-star", "20"]) == 2
    err = capsys.readouterr().err
    assert "sub-01_desc-roiAfit_bp.tsv exists" in err and "--force" in err and "Traceback" not in err
    assert (sub / "sub-01_desc-roiAfit_bp.tsv").read_bytes() == stamp
    assert main(["fit", str(tables["roiA"]), "--ref", "cerebellum", "--model", "logan_ref", "--t-star", "20",
                 "--force", "--no-plots"]) == 0
    assert set(read_bp(sub / "sub-01_desc-roiAfit_bp.tsv")) == {("Left-Putamen", "logan_ref")}
    # -o writes the same names elsewhere
    assert main(["fit", str(tables["roiB"]), "--ref", "cerebellum", "-o", str(tmp_path / "o"), "--no-plots"]) == 0
    assert (tmp_path / "o" / "sub-01_desc-roiBfit_bp.tsv").exists()
    assert estimates.read_bytes() == before


def test_separators_encodings_and_window_units(tmp_path, tacs_kbq, capsys):
    ref_kbq, targets = tacs_kbq
    rows = [(START_S[i], END_S[i], ref_kbq[i], targets["Left-Putamen"][i]) for i in range(START_S.size)]
    for name, sep, bom in (("comma.csv", ",", b""), ("semi.tsv", ";", b""), ("bom.tsv", "\t", b"\xef\xbb\xbf")):
        text = sep.join(["frame_start", "frame_end", "cerebellum", "putamen"]) + "\n"
        text += "".join(sep.join(repr(float(v)) for v in r) + "\n" for r in rows)
        (tmp_path / name).write_bytes(bom + text.encode())
        tt = read_tac_table(tmp_path / name)
        assert np.allclose(tt.regions["putamen"], targets["Left-Putamen"]) and tt.notes
    assert any("comma-separated" in n for n in read_tac_table(tmp_path / "comma.csv").notes)
    # --window is in minutes; a window given in seconds by mistake is refused with the conversion
    assert main(["fit", str(tmp_path / "bom.tsv"), "--ref", "cerebellum", "--window", "1800", "5400"]) == 2
    err = capsys.readouterr().err
    assert "--window 1800 min" in err and "1800s" in err
    assert main(["fit", str(tmp_path / "bom.tsv"), "--ref", "cerebellum", "--window", "0", "5400s",
                 "--no-plots"]) == 0
    bp = read_bp(tmp_path / "bom_desc-fit_bp.tsv")[("putamen", "srtm")]["BP_ND"]
    assert float(bp) == pytest.approx(2.5, rel=0.01)
