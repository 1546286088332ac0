"""Benchmark: normalisation of the HR+ in 3D from a simulated normalisation scan.

For 1e7, 1e8 and 1e9 counts of a 20 cm water cylinder (longer than the axial
FOV), prints the time to simulate the norm scan (analytic chords, expected
counts and the Poisson draw) and to estimate the crystal efficiencies by fan
sums, and the RMS relative error of the estimated efficiencies (against the
true ones normalised to mean 1) next to the statistical prediction
``RMS 1/sqrt(F_a)`` (F_a expected fan sum of crystal a over the source bins),
plus the RMS error of the bin efficiencies (normalisation sinogram) over the
bins of the layout.

Run: ``python benchmarks/normscan.py [--counts 1e7 1e8 1e9] [--sd 0.05] [--seed 1]
[--line-integrals analytic|projector]`` (``projector``: the scan's chords from the Joseph projector of a
rasterised cylinder, so the site's analytic model no longer matches the data exactly).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", type=float, nargs="+", default=[1e7, 1e8, 1e9])
    ap.add_argument("--sd", type=float, default=0.05, help="relative SD of the true crystal efficiencies")
    ap.add_argument("--diameter-mm", type=float, default=200.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--line-integrals", default="analytic", choices=["analytic", "projector"],
                    help="chords of the simulated scan; the estimate always uses the analytic model")
    args = ap.parse_args()

    from petsim.acquisition.normalisation import crystal_efficiencies
    from petsim.acquisition.normscan import (estimate_crystal_efficiencies, estimated_bin_efficiency,
                                             identifiable_efficiencies, norm_scan_mask, norm_scan_model,
                                             predicted_efficiency_sd, simulate_norm_scan)
    from petsim.acquisition.randoms import crystal_pairs_of
    from petsim.scanner import get_scanner

    scanner = get_scanner("hrplus")
    layout = scanner.layout_3d(span=9, max_ring_diff=22, view_mashing=2)
    t0 = time.perf_counter()
    pairs = crystal_pairs_of(scanner, layout)
    t_pairs = time.perf_counter() - t0
    eff = crystal_efficiencies(scanner.n_rings, scanner.n_crystals_per_ring, args.sd, args.seed)
    # the truth as a norm scan can know it (free mode of the bipartite odd crystals balanced, mean 1)
    truth = identifiable_efficiencies(eff, pairs, norm_scan_mask(norm_scan_model(layout, args.diameter_mm)))
    raw = (eff / eff.mean()).ravel()
    print(f"RMS difference identifiable vs raw truth: {np.sqrt(np.mean((truth / raw - 1) ** 2)):.1e} "
          "(changes no bin efficiency)")
    true_bins = estimated_bin_efficiency(truth, pairs)
    print(f"HR+ 3D {layout.shape} = {layout.n_bins / 1e6:.1f} M bins, {pairs.n_crystals} crystals, "
          f"true efficiency SD {args.sd}, cylinder {args.diameter_mm:.0f} mm, {args.line_integrals} chords; "
          f"crystal pairs {t_pairs:.1f} s")
    print(f"{'counts':>8} {'simulate s':>10} {'estimate s':>10} {'RMS err eff':>12} {'predicted':>10} "
          f"{'mean err':>10} {'max |err|':>10} {'RMS err bins':>12}")
    for counts in args.counts:
        t0 = time.perf_counter()
        scan = simulate_norm_scan(scanner, layout, eff, counts, rng=args.seed, diameter_mm=args.diameter_mm,
                                  line_integrals=args.line_integrals)
        t_sim = time.perf_counter() - t0
        t0 = time.perf_counter()
        est = estimate_crystal_efficiencies(scan.measured, scan.model, pairs)
        t_est = time.perf_counter() - t0
        err = est / truth - 1
        pred = np.sqrt(np.mean(predicted_efficiency_sd(scan.expected, pairs, model=scan.model) ** 2))
        bins = estimated_bin_efficiency(est, pairs)
        err_bins = np.sqrt(np.mean((bins.astype(np.float64) / true_bins - 1) ** 2))
        print(f"{counts:8.0e} {t_sim:10.1f} {t_est:10.1f} {np.sqrt(np.mean(err**2)):12.5f} {pred:10.5f} "
              f"{err.mean():10.1e} {np.abs(err).max():10.4f} {err_bins:12.5f}", flush=True)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2:.2f} GB")


if __name__ == "__main__":
    main()
