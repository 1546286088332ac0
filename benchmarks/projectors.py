"""Speed of petsim's layout projector ("joseph") on the HR+ sinograms (prints a table; not a test).

Run:  python benchmarks/projectors.py [--repeats 3] [--siddon]

For the fully 3D HR+ sinogram (span 9, maximum ring difference 22, views mashed
by 2: 239 x 144 x 288 bins) and the 2D sinogram of the 63 direct + cross planes
(63 x 144 x 288) on a 128 x 128 x 63 image of 2.25 x 2.25 x 2.425 mm voxels:
seconds for one forward and one back projection with 1 and 2 threads after the
JIT warm-up (best of ``--repeats``; wall clock and the process CPU time, since
the machine may be shared), LORs per second and peak memory; ``--siddon``
also times the ray-by-ray Siddon reference.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc

import numba
import numpy as np

from petsim import Grid
from petsim.projectors import get_projector
from petsim.scanner import get_scanner


def best_time(fn, repeats):
    walls, cpus = [], []
    for _ in range(repeats):
        c, w = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


def bench(name, grid, layout, repeats, projector="joseph"):
    image = np.random.default_rng(0).uniform(0, 1, grid.shape).astype(np.float32)
    n_lor = int(np.prod(layout.shape))
    print(f"\n{name}: {projector}, sinogram {layout.shape} = {n_lor:,} LORs, image {grid.shape} "
          f"of {grid.voxel_size_mm} mm")
    print(f"{'threads':>7} {'op':>8} {'wall s':>8} {'cpu s':>8} {'M LOR/s':>8} {'M LOR/cpu-s':>11}")
    rows = {}
    for threads in (1, 2):
        P = get_projector(projector)(grid, layout, num_threads=threads)
        sino = P.forward(image)          # JIT warm-up (or load from the on-disk cache)
        P.adjoint(sino)
        for op, fn in (("forward", lambda: P.forward(image)), ("back", lambda: P.adjoint(sino))):
            wall, cpu = best_time(fn, repeats)
            rows[threads, op] = wall, cpu
            print(f"{threads:>7} {op:>8} {wall:8.3f} {cpu:8.3f} {n_lor / wall / 1e6:8.2f} {n_lor / cpu / 1e6:11.2f}")
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    tracemalloc.start()
    P.adjoint(P.forward(image))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    ratio_wall = rows[2, "back"][0] / rows[2, "forward"][0]
    ratio_cpu = rows[1, "back"][1] / rows[1, "forward"][1]
    print(f"back / forward time: {ratio_wall:.2f} (2 threads, wall), {ratio_cpu:.2f} (1 thread, cpu); "
          f"peak memory of one forward + back (numpy arrays, tracemalloc): {peak / 2**20:.0f} MiB; "
          f"sinogram {sino.nbytes / 2**20:.0f} MiB, image {image.nbytes / 2**20:.1f} MiB")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--siddon", action="store_true", help="also time the Siddon projector")
    args = parser.parse_args()
    print(f"numba {numba.__version__}, {os.cpu_count()} CPUs, numba threads {numba.config.NUMBA_NUM_THREADS}, "
          f"load average {os.getloadavg()[0]:.1f} (a busy machine inflates wall times; cpu s is the process CPU time)")
    scanner = get_scanner("hrplus")
    grid = Grid((128, 128, 63), (2.25, 2.25, 2.425))
    layouts = [("HR+ fully 3D, span 9, MRD 22, mash 2", scanner.layout_3d(span=9, max_ring_diff=22, view_mashing=2,
                                                                          n_radial=288)),
               ("HR+ 2D, 63 direct + cross planes, mash 2", scanner.layout_2d(view_mashing=2, n_radial=288))]
    for name, layout in layouts:
        bench(name, grid, layout, args.repeats)
        if args.siddon:
            bench(name, grid, layout, 1, projector="siddon")
    print(f"\nprocess peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:.0f} MiB")


if __name__ == "__main__":
    main()
