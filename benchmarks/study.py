"""Throughput of ``petsim.study`` in the TAC-level mode: subject replicates per minute on 1 and 2 workers.

A subject replicate is every condition of one subject in one replicate: two
noisy scans (control and release), each fitted with SRTM and Logan in two
regions, with between-subject variability (so every subject needs its own
kinetics solve). Workers are LocalCluster processes with one thread each;
cluster start-up and the workers' first imports are excluded by a warm-up run.

    python benchmarks/study.py [--replicates 12] [--subjects 8] [--subjects-per-task 0]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from petsim.study import load_study, run_study
from petsim.study.runner import dask_client
from petsim.study.tac_mode import run_tac_subject
from petsim.study.tasks import study_tasks

SCENARIO = {
    "protocol": {"input": "bolus"},
    "releases": [{"profile": "gamma", "regions": ["amygdala_l"], "onset_min": 35.0, "peak_min": 40.0,
                  "magnitude": 0.15}],
}


def make_study(n_replicates: int, n_subjects: int, seed: int, subjects_per_task: int = 0):
    return load_study({"scenario": SCENARIO, "study": {
        "n_replicates": n_replicates, "n_subjects": n_subjects, "seed": seed, "mode": "tac",
        "subjects_per_task": subjects_per_task, "models": ["srtm", "logan_ref"],
        "regions": ["amygdala_l", "thalamus_medial"],
        "t_star_min": 20.0, "noise_cov": 0.05,
        "variability": {"bp_nd_log_sd": 0.15, "k1_log_sd": 0.1, "release_log_sd": 0.3},
        "trait": {"r": 0.5, "region": "amygdala_l"}}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=12)
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument("--subjects-per-task", type=int, default=0,
                        help="0 (default): one Dask task per replicate; 1: one per subject")
    args = parser.parse_args()
    study = make_study(args.replicates, args.subjects, seed=1, subjects_per_task=args.subjects_per_task)
    n = args.replicates * args.subjects
    print(f"petsim.study benchmark: {n} subject replicates (2 scans x 2 regions x srtm+logan_ref each), "
          f"{len(study_tasks(study))} Dask tasks, {os.cpu_count()} CPUs visible, "
          f"load average {os.getloadavg()[0]:.1f} (other users slow the figures)")

    # Serial reference without Dask (after a warm-up that compiles and imports).
    tasks = study_tasks(study)
    run_tac_subject(study, tasks[0], 0)
    start = time.perf_counter()
    for task in tasks:
        for s in task.subjects:
            run_tac_subject(study, task, s)
    serial_s = time.perf_counter() - start
    print(f"  serial, no Dask : {60 * n / serial_s:8.1f} replicates/min ({serial_s:.1f} s)")

    for workers in (1, 2):
        with dask_client(workers=workers, threads=1, processes=True) as client, \
                tempfile.TemporaryDirectory() as tmp:
            # Warm-up: every worker imports petsim and loads the numba cache.
            run_study(make_study(2, 2 * workers, seed=99), os.path.join(tmp, "warm"), client=client, progress=False)
            report = run_study(study, os.path.join(tmp, "run"), client=client, progress=False)
        print(f"  {workers} worker(s)     : {report.replicates_per_min:8.1f} replicates/min "
              f"({report.elapsed_s:.1f} s, {report.n_failed} failed)")


if __name__ == "__main__":
    main()
