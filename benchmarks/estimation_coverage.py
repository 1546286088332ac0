"""How well SRTM2, MRTM2 and Logan estimate BP_ND and ΔBP_ND on the demo design, and whether their
95% intervals hold what they should: the table of docs/modeling.md (issue 15).

Run:  python benchmarks/estimation_coverage.py [RUN_DIR] [--replicates 500] [--bootstrap 200] [--workers 2]

RUN_DIR is a reconstructed petsim run of the demo with its matched control (``python
benchmarks/pipeline.py demo --keep RUN_DIR``); each region's TAC noise is measured on it
(``petsim.study.noise_model.tac_noise_scales``). Without it, the study's single ``noise_cov = 0.05``.

A TAC-mode study of the demo (``petsim demo``'s scenario: bolus plus infusion, a 6 % step release
from 45 min in four regions, baseline window 10-45 min and rejection window 50-90 min, each subject
also scanned without release) with one subject per replicate, so every replicate is an independent
noise realisation, run twice:

- ``regression SE``: intervals estimate +- 1.96 SE with each fit's own (regression) SE, ΔBP_ND's SE
  the root sum of squares (what petsim reported before issue 15);
- ``bootstrap``: the wild bootstrap's percentile intervals, the two windows of a scan resampled
  together, the release and the control scan independently.

Both use the scan's k2' (whole-scan MRTM) and counts weights. Per region and model it prints the
fraction of windowed fits with a finite BP_ND, the mean corrected %ΔBP_ND next to the attainable one
(the same model on the noise-free TACs) and the truth, and the coverage of the attainable value by
the 95% intervals of BP_ND (baseline window) and of the corrected ΔBP_ND. Not a test: it prints the
figures of docs/modeling.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

REGIONS = ["amygdala_l", "nucleus_accumbens", "thalamus_medial", "periaqueductal_grey"]
MODELS = ["srtm2", "mrtm2", "logan_ref"]


def _study_dict(args, noise: dict, bootstrap: int) -> dict:
    from importlib.resources import files

    return {"scenario": str(files("petsim.data") / "scenarios" / "demo.toml"),
            "study": {"n_replicates": args.replicates, "n_subjects": 1, "seed": 15, "mode": "tac",
                      "design": "two_windows", "conditions": ["baseline", "rejection"], "matched_control": True,
                      "baseline_window_min": [10.0, 45.0], "release_window_min": [50.0, 90.0],
                      "models": MODELS, "regions": REGIONS, "t_star_min": 10.0, "bootstrap": bootstrap,
                      "variability": {"bp_nd_log_sd": 0.0, "k1_log_sd": 0.0, "release_log_sd": 0.0},
                      **noise}}


def _finite_fraction(out_dir) -> dict:
    """Per (region, model): the fraction of windowed fits (both windows, both scans) with a finite BP_ND."""
    from petsim.study import store

    n, ok = {}, {}
    for rec in store.read_records(out_dir):
        for subj in rec["result"]["subjects"]:
            for row in subj["rows"]:
                key = (row["region"], row["model"])
                n[key] = n.get(key, 0) + 1
                ok[key] = ok.get(key, 0) + bool(row["converged"])
    return {k: ok[k] / n[k] for k in n}


def main():
    from petsim.core.tsv import write_tsv
    from petsim.study import load_study, run_study, summarise
    from petsim.study.noise_model import tac_noise_scales

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="?", help="a petsim run of the demo, for the image-derived TAC noise")
    ap.add_argument("--replicates", type=int, default=500)
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="petsim-coverage-"))
    noise = {"noise_cov": 0.05}
    if args.run_dir:
        table = work / "noise.tsv"
        write_tsv(table, tac_noise_scales(args.run_dir))
        noise = {"noise_table": str(table)}
    print(f"demo design, TAC mode, {args.replicates} replicates x 1 subject, noise "
          f"{'measured on ' + args.run_dir if args.run_dir else 'noise_cov 0.05'}")
    results = {}
    for label, n_boot in (("regression SE", 0), ("bootstrap", args.bootstrap)):
        study = load_study(_study_dict(args, noise, n_boot), base_dir=work)
        out = work / label.replace(" ", "_")
        t0 = time.perf_counter()
        run_study(study, out, workers=args.workers, progress=False)
        acc = {(a["region"], a["model"], a["quantity"]): a for a in summarise(out, study)["accuracy"]}
        results[label] = (acc, _finite_fraction(out))
        print(f"  {label}: {time.perf_counter() - t0:.0f} s")
    labels = list(results)
    head = ("| region | model | finite BP_ND | %ΔBP_ND: truth / attainable / mean estimate | "
            + " | ".join(f"coverage BP_ND, ΔBP_ND ({x})" for x in labels) + " |")
    print()
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for region in REGIONS:
        for model in MODELS:
            acc, finite = results[labels[-1]]
            pct = acc[(region, model, "percent_delta_BP_ND")]
            cells = [region, model, f"{100 * finite[(region, model)]:.1f} %",
                     f"{pct['truth_mean']:.2f} / {pct['attainable_mean']:.2f} / {pct['estimate_mean']:.2f}"]
            for label in labels:
                a = results[label][0]
                bp = a[(region, model, "BP_ND[baseline]")]["ci_coverage_attainable"]
                delta = a[(region, model, "delta_BP_ND")]["ci_coverage_attainable"]
                cells.append(f"{bp:.2f}, {delta:.2f}")
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
