"""Time each stage of the closed loop on a scenario (default: the shipped demo) and print a table.

Run:  python benchmarks/pipeline.py [SCENARIO] [--keep DIR]

Prints the wall and CPU seconds of simulate, reconstruct, fit and report, the
size of the outputs on disk and the peak resident memory. Not a test.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numba


def _size_mb(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6


def main():
    from petsim.pipeline.run import fit_stage, reconstruct_stage, report_stage, simulate_stage

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", default="demo")
    ap.add_argument("--keep", default=None, help="write the run here and keep it (default: a temporary folder)")
    args = ap.parse_args()
    out = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="petsim-bench-"))
    stages = [
        ("simulate", lambda: simulate_stage(args.scenario, out, force=True, quiet=True)),
        ("reconstruct", lambda: reconstruct_stage(out, force=True, quiet=True)),
        ("fit", lambda: fit_stage(out, force=True, quiet=True)),
        ("report", lambda: report_stage(out, quiet=True)),
    ]
    print(f"scenario {args.scenario}, numba threads {numba.get_num_threads()}")
    print(f"{'stage':<12} {'wall s':>8} {'cpu s':>8}")
    total = 0.0
    for name, run in stages:
        w0, c0 = time.perf_counter(), time.process_time()
        run()
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        total += wall
        print(f"{name:<12} {wall:8.1f} {cpu:8.1f}", flush=True)
    print(f"{'total':<12} {total:8.1f}")
    print(f"outputs on disk: {_size_mb(out):.0f} MB; peak resident memory: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
