"""Time the voxelwise parametric maps (BF-SRTM, MRTM2, Logan reference) on a 128 x 128 x 63 x 28 image.

The image is made from analytic 1TC TACs (an exponential input convolved in
closed form, not petsim.kinetics) with Gaussian noise, inside an ellipsoidal
brain mask (about half the voxels). Prints seconds per map and the
median BP_ND error against the truth in the mask.

Run: python benchmarks/parametric_maps.py [--full-fov]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from petsim.modeling import bfsrtm_map, logan_ref_map, mrtm2_map


def frames_min():
    dur = np.array([0.25] * 4 + [0.5] * 4 + [1.0] * 4 + [2.5] * 4 + [6.25] * 12)
    end = np.cumsum(dur)
    return end - dur, end


def one_tc_frame_means(K1, k2, start, end, a=(60.0, 2.0), b=(4.0, 0.05)):
    """Frame means of K1 Cp (*) exp(-k2 t) in closed form, for the input Cp(t) = (a0 - b0) e^{-a1 t} + b0 e^{-b1 t}."""
    def prim(t, amp, lam):  # antiderivative of amp K1 (e^{-lam t} - e^{-k2 t}) / (k2 - lam)
        return amp * K1 / (k2 - lam) * (-np.exp(-lam * t) / lam + np.exp(-k2 * t) / k2)
    out = 0.0
    for amp, lam in ((a[0] - b[0], a[1]), (b[0], b[1])):
        out = out + (prim(end, amp, lam) - prim(start, amp, lam)) / (end - start)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full-fov", action="store_true", help="fit every voxel (no mask)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    start, end = frames_min()
    shape = (128, 128, 63)
    x, y, z = np.meshgrid(*(np.linspace(-1, 1, n) for n in shape), indexing="ij", sparse=True)
    mask = (x / 0.8) ** 2 + (y / 0.9) ** 2 + (z / 0.95) ** 2 <= 1.0
    if args.full_fov:
        mask = np.ones(shape, bool)
    bp_true = (1.5 + 1.5 * np.sin(3 * x) * np.cos(2 * y) + 0 * z).astype(np.float32)
    bp_true = np.broadcast_to(bp_true, shape)
    k2r, r1 = 0.3, 0.9
    cr = one_tc_frame_means(0.15, k2r, start, end)
    k2 = r1 * k2r
    # Each voxel: a 1TC target with k2a = k2 / (1 + BP); use a lookup over BP levels to build quickly.
    levels = np.linspace(bp_true.min(), bp_true.max(), 256)
    lut = np.stack([one_tc_frame_means(r1 * 0.15, k2 / (1 + b), start, end) for b in levels])
    idx = np.clip(np.searchsorted(levels, bp_true), 0, levels.size - 1)
    image = lut[idx].astype(np.float32)
    bp_vox = levels[idx]
    image += (0.05 * image.mean(axis=3, keepdims=True) * rng.standard_normal(image.shape)).astype(np.float32)
    print(f"image {image.shape} float32, {mask.sum()} voxels in the mask ({mask.mean():.0%})")

    def run(name, fn):
        t0 = time.perf_counter()
        maps = fn()
        dt = time.perf_counter() - t0
        err = np.nanmedian(np.abs(maps["BP_ND"][mask] - bp_vox[mask]))
        print(f"{name:<10} {dt:7.2f} s   median |BP_ND error| {err:.3f}")

    run("BF-SRTM", lambda: bfsrtm_map(image, cr, start, end, mask=mask, progress=False))
    run("MRTM2", lambda: mrtm2_map(image, cr, start, end, mask=mask, k2_ref=k2r, t_star_min=0.0, progress=False))
    run("Logan", lambda: logan_ref_map(image, cr, start, end, t_star_min=30.0, mask=mask, k2_ref=k2r, progress=False))


if __name__ == "__main__":
    main()
