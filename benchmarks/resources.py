"""The resource estimate of a run against what the run measures: peak memory, disk and time.

Run:  python benchmarks/resources.py [SCENARIO ...]   (default: the shipped demo)

Each stage runs in its own process (so its peak resident memory is its own);
prints, per scenario, the estimate of :mod:`petsim.pipeline.resources`, the
measured peak memory of each stage, the disk the run wrote and the wall time,
and the ratios estimate / measured (the aim: within a factor 1.5). Not a test.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGE = """
import resource, sys
from petsim.pipeline import run
stage = sys.argv[1]
if stage == "simulate":
    run.simulate_stage(sys.argv[3], sys.argv[2], force=True, quiet=True)
else:
    getattr(run, stage + "_stage")(sys.argv[2], force=True, quiet=True)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def measure(scenario: str) -> None:
    from petsim.pipeline.resources import estimate
    from petsim.pipeline.scenario import load_scenario

    est = estimate(load_scenario(scenario))
    out = Path(tempfile.mkdtemp(prefix="petsim-resources-"))
    peaks, t0 = {}, time.perf_counter()
    try:
        for stage in ("simulate", "reconstruct", "fit", "report"):
            done = subprocess.run([sys.executable, "-c", STAGE, stage, str(out), scenario],
                                  capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"{stage} of {scenario} failed:\n{done.stderr[-3000:]}")
            peaks[stage] = int(done.stdout.strip().splitlines()[-1])
        wall = time.perf_counter() - t0
        disk = _size(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    peak = max(peaks.values())
    print(f"\n{scenario}")
    print("  peak memory per stage (MB): " + ", ".join(f"{k} {v / 1e6:.0f}" for k, v in peaks.items()))
    print(f"  {'':8s} {'estimate':>10s} {'measured':>10s} {'ratio':>6s}")
    for name, e, m in (("memory", est.memory_bytes / 1e6, peak / 1e6), ("disk", est.disk_bytes / 1e6, disk / 1e6),
                       ("time", est.seconds, wall)):
        unit = "s" if name == "time" else "MB"
        print(f"  {name:8s} {e:9.0f}{unit:>1s} {m:9.0f}{unit:>1s} {e / m:6.2f}")


if __name__ == "__main__":
    for name in sys.argv[1:] or ["demo"]:
        measure(name)
