"""Reconstruction speed on the HR+ (prints figures; not a test).

Times, on this machine's cores:
  * 2D setup (16 subsets: per-subset sensitivity images, once),
  * FORE of one fully 3D frame (239 x 144 x 288 -> 63 x 144 x 288),
  * 2D OSEM, 128 x 128 x 63, 4 iterations x 16 subsets, one frame,
  * FORE + 2D OSEM of all 28 frames (reconstruct_frames; measured or extrapolated),
  * fully 3D OSEM (setup + 4 x 16) of one frame, extrapolated to 28,
with the peak resident memory. The data are a noise-free-expectation-plus-Poisson
cylinder phantom with attenuation and additive terms, made here from the projector.

Usage: python benchmarks/recon.py [--frames N] [--skip-3d]
"""

from __future__ import annotations

import argparse
import resource
import time

import numba
import numpy as np
from scipy import ndimage


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Timer:
    """Wall and CPU seconds of a block; on a shared machine CPU / threads estimates the unloaded wall time."""

    def __enter__(self):
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.w
        self.cpu = time.process_time() - self.c

    def __str__(self):
        return f"{self.wall:.1f} s wall, {self.cpu:.1f} s CPU"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=28,
                    help="frames to reconstruct with FORE + 2D OSEM (the rest extrapolated)")
    ap.add_argument("--skip-3d", action="store_true")
    ap.add_argument("--resolution-only", action="store_true", help="only the FORE/SSRB point-source figures")
    args = ap.parse_args()

    from petsim import Grid
    from petsim.emission import EmissionData
    from petsim.operators import system_model
    from petsim.rebin import fore
    from petsim.recon import OSEMSetup, osem, reconstruct_frames
    from petsim.scanner import get_scanner

    print(f"numba threads: {numba.get_num_threads()}")
    sc = get_scanner("hrplus")
    l3 = sc.layout_3d(span=9, max_ring_diff=22, view_mashing=2, n_radial=288)
    l2 = sc.layout_2d(view_mashing=2, n_radial=288)
    grid = Grid((128, 128, 63), (2.25, 2.25, 2.425))
    if args.resolution_only:
        axial_resolution(grid, l3, l2)
        return
    X, Y, Z = grid.coordinates_mm()
    head = (X / 75) ** 2 + (Y / 90) ** 2 + (Z / 70) ** 2 < 1
    f = np.where(head, 5000.0, 0.0).astype(np.float32)
    f[((X - 20) ** 2 + Y**2 + Z**2) < 20**2] = 15000.0
    mu = np.where(head, 0.0096, 0.0).astype(np.float32)

    t = time.perf_counter()
    A3 = system_model(grid, l3)
    att = np.exp(-A3.forward(mu))
    trues = 1e-4 * att * A3.forward(f)
    additive = (ndimage.gaussian_filter(trues, (0, 0, 20)) * 0.5 + 0.3 * trues.mean()).astype(np.float32)
    rng = np.random.default_rng(0)
    data3d = EmissionData(rng.poisson(trues + additive).astype(np.float32), att.astype(np.float32), additive, 1e-4)
    print(f"made 3D test data {l3.shape}: {time.perf_counter() - t:.1f} s; prompts {data3d.prompts.sum():.3g}")

    with Timer() as t0:
        d2 = fore(data3d, l3, l2)
    with Timer() as t:
        d2 = fore(data3d, l3, l2)
    print(f"FORE one frame: {t} (first call incl. geometry/compile: {t0})")
    with Timer() as t_setup2:
        setup2 = OSEMSetup(grid, l2, 16, multiplicative=d2.multiplicative)
        osem(d2, setup2, 1, progress=False)  # compile
    print(f"2D setup (16 subset sensitivities) + 1 warm-up iteration: {t_setup2}")
    with Timer() as t:
        img2 = osem(d2, setup2, 4, progress=False)
    print(f"2D OSEM 4 it x 16 subsets, one frame: {t}")

    n = max(1, min(args.frames, 28))
    frames = [EmissionData(data3d.prompts, data3d.multiplicative * np.float32(1 - 0.001 * i), data3d.additive,
                           data3d.scale, decay_correction_factor=1.0 + 0.05 * i) for i in range(n)]
    with Timer() as t:
        reconstruct_frames(frames, setup2, 4, rebin="fore", layout_3d=l3, progress=True)
    threads = numba.get_num_threads()
    wall28, cpu28 = t.wall * 28 / n, t.cpu * 28 / n
    print(f"FORE + 2D OSEM, {n} frames: {t} -> 28 frames: {wall28:.0f} s wall ({wall28 / 60:.1f} min), "
          f"{cpu28:.0f} s CPU = {cpu28 / threads / 60:.1f} min on {threads} unloaded cores (aim < 3 min)")

    if not args.skip_3d:
        with Timer() as ts:
            setup3 = OSEMSetup(grid, l3, 16, multiplicative=data3d.multiplicative)
        with Timer() as t:
            img3 = osem(data3d, setup3, 4, progress=True)
        print(f"3D setup (16 subset sensitivities): {ts}; 3D OSEM 4 it x 16 subsets, one frame: {t}")
        wall, cpu = ts.wall + 28 * t.wall, ts.cpu + 28 * t.cpu
        print(f"fully 3D OSEM, 28 frames (extrapolated, setup once): {wall / 60:.1f} min wall, "
              f"{cpu / threads / 60:.1f} min on {threads} unloaded cores (aim < 15 min)")
        inner = ndimage.binary_erosion(head, iterations=4) & (np.abs(Z) < 50)
        hot = ((X - 20) ** 2 + Y**2 + Z**2) < 14**2
        for name, mask in (("head interior", inner & ~ndimage.binary_dilation(hot, iterations=4)), ("hot sphere", hot)):
            print(f"  {name}: FORE + 2D OSEM / 3D OSEM = {img2[mask].mean() / img3[mask].mean():.4f}")
    axial_resolution(grid, l3, l2)
    print(f"peak resident memory: {peak_mb():.0f} MB")


def fwhm(p, spacing, level=0.5):
    """Full width at ``level`` x maximum (0.5: FWHM, 0.1: FWTM), mm."""
    i = int(np.argmax(p))
    half = level * p[i]
    lo, hi = i, i
    while lo > 0 and p[lo] > half:
        lo -= 1
    while hi < len(p) - 1 and p[hi] > half:
        hi += 1
    left = lo + (half - p[lo]) / (p[lo + 1] - p[lo])
    right = hi - 1 + (p[hi - 1] - half) / (p[hi - 1] - p[hi])
    return (right - left) * spacing


def axial_resolution(grid, l3, l2):
    """Axial FWHM of a point source after FORE and SSRB (noise-free, FBP ramp), on and off axis."""
    from petsim.emission import EmissionData
    from petsim.rebin import fore, ssrb
    from petsim.recon import fbp_2d
    from petsim.projectors.layout_joseph import LayoutJoseph

    P = LayoutJoseph(grid, l3)
    for x_mm in (0.0, 50.0, 100.0):
        ix = int(round((x_mm - grid.origin_mm[0]) / grid.voxel_size_mm[0]))
        f = np.zeros(grid.shape, np.float32)
        f[ix, 64, 31] = 1000.0
        y = P.forward(f)
        d = EmissionData(y, np.ones_like(y), np.zeros_like(y), 1.0)
        res = {}
        for method in (fore, ssrb):
            img = fbp_2d(method(d, l3, l2), l2, grid, filter_name="ramp")
            prof = img[ix, 64, :]
            res[method.__name__] = (fwhm(prof, grid.voxel_size_mm[2]), fwhm(prof, grid.voxel_size_mm[2], 0.1))
        print(f"point source at x = {grid.axis_mm(0)[ix]:.1f} mm: axial FWHM / FWTM  FORE "
              f"{res['fore'][0]:.2f} / {res['fore'][1]:.2f} mm, SSRB {res['ssrb'][0]:.2f} / {res['ssrb'][1]:.2f} mm")


if __name__ == "__main__":
    main()
