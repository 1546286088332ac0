"""Test-retest variability of BP_ND in TAC mode, with image-derived noise, against Hirvonen et al. 2009.

Run:  python benchmarks/test_retest.py RUN_DIR [--subjects 8] [--replicates 25]

RUN_DIR is a reconstructed petsim run of the design with its matched control (for instance
``python benchmarks/pipeline.py demo --keep RUN_DIR``). The script

1. measures each region's TAC noise scale on it (``petsim.study.noise_model.tac_noise_scales``) and
   prints the late-frame coefficient of variation it implies;
2. runs a TAC-mode study of two scans per subject without any release (test and retest of the same
   subject; the scenario's kinetics, mass effect included), once with that noise table and once with
   the single ``noise_cov = 0.05`` of earlier studies;
3. prints, per region and model, the test-retest variability VAR = 100 |BP_1 - BP_2| / mean(BP_1, BP_2)
   (mean over subjects and replicates), next to Hirvonen et al., Eur J Nucl Med Mol Imaging
   2009;36:275: BP_ND VAR < 10 % in every region (ICC > 0.90), [11C]carfentanil, reference-tissue
   models, eight subjects scanned twice.

Not a test: prints the figures of docs/realism.md.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np


def _variability(out_dir) -> dict:
    from petsim.study import store

    by = {}
    for rec in store.read_records(out_dir):
        for subj in rec["result"]["subjects"]:
            bp = {}
            for row in subj["rows"]:
                bp.setdefault((row["region"], row["model"]), {})[row["condition"]] = row["bp_nd"]
            for key, pair in bp.items():
                a, b = pair.values()
                if np.isfinite(a) and np.isfinite(b) and a + b > 0:
                    by.setdefault(key, []).append(200.0 * abs(a - b) / (a + b))
    return {k: float(np.mean(v)) for k, v in by.items()}


def main():
    from petsim.core.tsv import write_tsv
    from petsim.study import load_study, run_study
    from petsim.study.noise_model import tac_noise_scales

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--subjects", type=int, default=8)
    ap.add_argument("--replicates", type=int, default=25)
    args = ap.parse_args()
    rows = tac_noise_scales(args.run_dir)
    work = Path(tempfile.mkdtemp(prefix="petsim-trt-"))
    table = work / "noise.tsv"
    write_tsv(table, rows)
    print("1. TAC noise measured on the image-mode run (late 10-min frame):")
    for r in rows:
        print(f"   {r['region']:32s} S {r['noise_scale']:6.2f}  CoV {100 * r['late_cov']:5.1f} %  recovery {r['recovery']:.2f}")
    regions = ["amygdala_l", "thalamus_medial_l", "nucleus_accumbens_l", "caudate_l", "putamen_l", "frontal_cortex_l"]
    scenario = str(Path(args.run_dir) / "scenario_resolved.toml")
    base = {"n_replicates": args.replicates, "n_subjects": args.subjects, "seed": 7, "mode": "tac",
            "design": "two_scans", "conditions": ["test", "retest"], "control_study": True,
            "models": ["srtm", "mrtm2", "logan_ref"], "regions": regions, "t_star_min": 10.0}
    results = {}
    for label, noise in (("image-derived", {"noise_table": str(table)}), ("noise_cov 0.05", {"noise_cov": 0.05})):
        study = load_study({"scenario": scenario, "study": {**base, **noise}}, base_dir=work)
        out = work / label.replace(" ", "_")
        run_study(study, out, workers=1, processes=False, progress=False)
        results[label] = _variability(out)
    print("2. test-retest VAR of BP_ND (%), mean over subjects x replicates; Hirvonen et al. 2009: < 10 %")
    labels = list(results)
    print(f"   {'region':22s} {'model':10s} " + " ".join(f"{x:>16s}" for x in labels))
    for key in sorted(results[labels[0]]):
        print(f"   {key[0]:22s} {key[1]:10s} " + " ".join(f"{results[x].get(key, float('nan')):16.1f}" for x in labels))


if __name__ == "__main__":
    main()
