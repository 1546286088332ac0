"""Benchmark: simulate the 28-frame, 90-minute [11C]carfentanil scan on the HR+ in 3D.

Prints the time of each stage on this machine (model set-up with attenuation and
calibration, fine-grid basis projections, 28 noisy frames), peak memory, and the
per-frame trues / scatter / randoms / NEC table with the total trues of 555 MBq.

Run: ``python benchmarks/simulate_scan.py [--frames-kept N] [--threads T]``.
The activity is the mor_brain phantom (fraction maps on the 2x finer simulation
grid) times the carfentanil kinetics (petsim.kinetics, bolus of 555 MBq,
hsu2013 schedule); regions with identical kinetics share one basis image.
"""

from __future__ import annotations

import argparse
import resource
import time

import numba
import numpy as np


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dose-mbq", type=float, default=555.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    numba.set_num_threads(args.threads)

    from petsim import phantom
    from petsim.acquisition import (AcquisitionModel, ScanPhysics, count_summary, default_simulation_grid,
                                    group_identical_kinetics, iter_frames, merged_basis_images)
    from petsim.frames import get_schedule
    from petsim.grid import Grid
    from petsim.kinetics import PlasmaInput, load_tracer, simulate
    from petsim.scanner import get_scanner

    scanner = get_scanner("hrplus")
    layout = scanner.layout_3d(span=9, max_ring_diff=22, view_mashing=2, n_radial=288)
    recon_grid = Grid((128, 128, 63), (2.25, 2.25, 2.425))
    sim_grid = default_simulation_grid(recon_grid)
    print(f"layout {layout.shape} = {layout.n_bins / 1e6:.2f} M bins; simulation grid {sim_grid.shape} "
          f"of {sim_grid.voxel_size_mm} mm; numba threads {numba.get_num_threads()}")

    t0 = time.perf_counter()
    ph = phantom.load("mor_brain", grid=sim_grid)
    frames = get_schedule("hsu2013")
    kin = simulate(ph.region_names, load_tracer("carfentanil"), PlasmaInput.bolus(args.dose_mbq), frames)
    integrals = np.array([kin.frame_mean(n, decayed=True) for n in ph.region_names]) * frames.durations_min[None, :]
    groups, w, gnames = group_identical_kinetics(integrals, ph.region_names)
    basis_images = merged_basis_images(lambda i: ph.fraction(ph.region_names[i]), groups)
    t_truth = time.perf_counter() - t0
    print(f"phantom + kinetics (not part of the acquisition timing): {t_truth:.1f} s; "
          f"{len(ph.region_names)} regions -> {len(groups)} basis images")

    t0 = time.perf_counter()
    model = AcquisitionModel(scanner, layout, sim_grid, ph.mu_per_cm, ScanPhysics(seed=args.seed))
    t_model = time.perf_counter() - t0
    print(f"projected box (mu support + PSF margin): {model.grid.shape} of {sim_grid.shape} voxels "
          f"({model.grid.n_voxels / sim_grid.n_voxels:.0%})")
    t0 = time.perf_counter()
    basis = model.project_basis(basis_images)
    t_basis = time.perf_counter() - t0
    del basis_images
    t0 = time.perf_counter()
    out = []
    first_frame_s = None
    for fr in iter_frames(model, basis, w, frames, rng=args.seed, noise=True):
        out.append(fr)
        if first_frame_s is None:
            first_frame_s = time.perf_counter() - t0
        # keep counts only (28 frames x 3 sinograms of 40 MB would be 3.3 GB)
        object.__setattr__(fr, "prompts", None)
        object.__setattr__(fr, "additive", None)
        object.__setattr__(fr, "multiplicative", None)
    t_frames = time.perf_counter() - t0

    print(count_summary(out))
    tot_t = sum(f.info["trues"] for f in out)
    print(f"\ntotal unscattered trues over {frames.scan_end_min:.0f} min with {args.dose_mbq:.0f} MBq: {tot_t:.3g}")
    print(f"peak trues rate {max(f.info['trues_cps'] for f in out) / 1e3:.1f} kcps, peak random fraction "
          f"{max(f.info['random_fraction'] for f in out):.2f}, max dead time "
          f"{100 * max(f.info['dead_time_fraction'] for f in out):.1f} %")
    print(f"sensitivity s = {model.sensitivity_cps_per_bq_ml_mm:.4g} cps per (Bq/mL x mm) per unit efficiency")
    print("\ntimings (s)")
    print(f"  model set-up (attenuation, normalisation, calibration cylinder): {t_model:7.1f}")
    print(f"  basis projections ({len(groups)} images, PSF + projection):     {t_basis:7.1f}")
    print(f"  28 noisy frames (sum, scatter, randoms, Poisson, delayed est.): {t_frames:7.1f}"
          f"  (first frame {first_frame_s:.1f}, includes fan-sum set-up)")
    print(f"  total scan simulation:                                          {t_model + t_basis + t_frames:7.1f}")
    print(f"  a further noise replicate ~ {t_frames:.1f} s (frames only)")
    print(f"memory: basis projections {basis.nbytes / 1e9:.2f} GB, model arrays {model.memory_bytes / 1e9:.2f} GB, "
          f"peak RSS {peak_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()
