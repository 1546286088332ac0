"""Benchmark: rasterising the mor_brain phantom at several voxel sizes (prints figures).

Run: python benchmarks/phantom.py [--fine]
The first call compiles the numba kernels (cached on disk afterwards); it is timed apart.
"""

from __future__ import annotations

import argparse
import os
import time

import numba

from petsim.grid import Grid
from petsim.phantom import load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fine", action="store_true", help="also the 256x256x126 simulation grid (1.125 x 1.125 x 1.2125 mm)")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, numba threads: {numba.get_num_threads()}")
    t0 = time.perf_counter()
    load("mor_brain", voxel_size_mm=4.0)
    print(f"warm-up (4 mm, includes numba compile or cache load): {time.perf_counter() - t0:.1f} s")
    cases = [("2 mm", dict(voxel_size_mm=2.0)), ("1 mm", dict(voxel_size_mm=1.0))]
    if args.fine:
        cases.append(("fine sim grid", dict(grid=Grid((256, 256, 126), (1.125, 1.125, 1.2125)))))
    for label, kwargs in cases:
        t0 = time.perf_counter()
        ph = load("mor_brain", **kwargs)
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        ph.fraction("amygdala_l")
        t_frac = time.perf_counter() - t0
        stored = ph._centre.nbytes + ph._bidx.nbytes + ph._bsub.nbytes
        print(f"{label:14s} grid {ph.grid.shape}: load {t_load:6.1f} s, one fraction map {t_frac:5.2f} s, "
              f"boundary voxels {ph._bidx.size:,}, stored {stored / 2**20:6.0f} MiB, "
              f"all fractions would be {(len(ph.regions) + 1) * ph.grid.n_voxels * 4 / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
