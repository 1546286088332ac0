"""Randoms, dead time and the noise-equivalent count rate (NEC) of the HR+ in 3D.

As the activity ``a`` in a 20-cm water cylinder grows, the unscattered trues
grow linearly, ``T0 = s a`` (s = 26.4 cps per Bq/mL, Brix et al. 1997), the
scatter with them, ``S0 = SF/(1 - SF) T0`` (SF = 0.35), but the randoms grow
as the product of the two crystals' singles, ``R_ij = 2 tau S_i S_j``, i.e. as
``a^2``. A paralysable dead time multiplies every rate by the live fraction
``exp(-n tau_d)`` of the input rate ``n = T0 + S0``, with ``tau_d = ln 2 /
(2 x 500 kcps)`` so that losses are 50 % at the published 500 kcps. The
noise-equivalent count rate ``NEC = T^2 / (T + S + k R)`` is the rate of a
scan without scatter and randoms that would give the same signal-to-noise; it
peaks where randoms and dead time overtake the extra trues. petsim subtracts a
smoothed randoms estimate (``k = 1``, its documented NEC); a delayed-window
subtraction that is not smoothed doubles the randoms variance (``k = 2``).

petsim calibrates the randoms per scan, not per activity: the singles scale
``1/p^2`` is set (``randoms.singles_scale_for_random_fraction``) so that the
frame with the highest trues rate has ``R / (T + S + R) = 0.35``. With
singles proportional to the activity this is, at any activity,
``R0(a) = rf/(1 - rf) (T0 + S0)(a_ref) (a / a_ref)^2``; here ``a_ref`` is the
activity whose trues match the peak frame of petsim's brain benchmark (96 kcps,
docs/acquisition.md). The curves are computed from these formulas with
petsim's ``paralysable_tau_s`` and ``live_fraction`` (the full model needs
sinograms, not just an activity). The figure shows the count rates and NEC
against activity, the NEC peak and the published 50 % dead-time point.

Run: ``python examples/plot_randoms_nec.py [out.png]``
"""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from petsim.acquisition import ScanPhysics, live_fraction, paralysable_tau_s  # noqa: E402
from petsim.acquisition.constants import published_figures  # noqa: E402
from petsim.plot import save_figure  # noqa: E402

#: Peak trues rate (cps, before losses) of petsim's brain benchmark, where the random fraction is
#: calibrated to ScanPhysics.randoms_fraction_peak (docs/acquisition.md, "Memory and speed").
REFERENCE_TRUES_CPS = 96e3


def count_rates(activity_bq_ml, physics, ref_activity_bq_ml):
    """Recorded trues, scatter and randoms rates (cps) of the calibration cylinder.

    Parameters
    ----------
    activity_bq_ml : ndarray
        Activity concentrations in the 20-cm cylinder (Bq/mL).
    physics : petsim.acquisition.ScanPhysics
        Sensitivity, scatter fraction, random fraction at the reference, 50 % dead-time rate.
    ref_activity_bq_ml : float
        Activity at which the random fraction equals ``physics.randoms_fraction_peak``
        (petsim's per-scan calibration, the frame with the highest trues).

    Returns
    -------
    dict of ndarray
        ``T``, ``S``, ``R`` (after dead time, cps), ``live`` (live fraction) and
        ``T0``, ``S0``, ``R0`` (before losses).
    """
    a = np.asarray(activity_bq_ml, dtype=float)
    sf, rf = physics.scatter_fraction, physics.randoms_fraction_peak
    t0 = physics.sensitivity_cps_per_bq_ml * a                 # unscattered trues, linear in a
    s0 = sf / (1.0 - sf) * t0                                  # scatter: SF/(1-SF) T
    ts_ref = physics.sensitivity_cps_per_bq_ml * ref_activity_bq_ml / (1.0 - sf)
    r0 = rf / (1.0 - rf) * ts_ref * (a / ref_activity_bq_ml) ** 2   # randoms ~ singles^2 ~ a^2
    live = live_fraction(t0 + s0, paralysable_tau_s(physics.dead_time_50pct_rate_cps))  # input T+S (Brix)
    return {"T": live * t0, "S": live * s0, "R": live * r0, "live": live, "T0": t0, "S0": s0, "R0": r0}


def main(out_png="randoms_nec.png"):
    phys = ScanPhysics()                                       # HR+ 3D defaults
    pub = published_figures("hrplus", "3d")
    a_ref = REFERENCE_TRUES_CPS / phys.sensitivity_cps_per_bq_ml
    a = np.linspace(0.0, 60e3, 6001)                           # Bq/mL, 10 Bq/mL steps
    c = count_rates(a, phys, a_ref)
    T, S, R = c["T"], c["S"], c["R"]
    with np.errstate(invalid="ignore", divide="ignore"):
        nec = {k: np.where(T > 0, T * T / (T + S + k * R), 0.0) for k in (1, 2)}
    i1, i2 = int(np.argmax(nec[1])), int(np.argmax(nec[2]))
    # published 50 % dead-time point: observed T+S = 500 kcps (Brix: at 25 kBq/mL)
    observed = T + S
    rising = a <= a[int(np.argmax(observed))]
    a50 = float(np.interp(pub["dead_time_50pct_rate_cps"], observed[rising], a[rising]))

    fig, ax = plt.subplots(1, 2, figsize=(11, 4.4), constrained_layout=True)
    x = a / 1e3
    p = ax[0]
    p.plot(x, T / 1e3, label="trues T")
    p.plot(x, S / 1e3, label="scatter S")
    p.plot(x, R / 1e3, label="randoms R")
    p.plot(x, (T + S + R) / 1e3, "k", lw=1, label="prompts T+S+R")
    p.plot(x, nec[1] / 1e3, color="C3", lw=2, label="NEC, k=1 (petsim)")
    p.plot(x, nec[2] / 1e3, color="C3", ls="--", label="NEC, k=2 (delayed window)")
    p.plot(x[i1], nec[1][i1] / 1e3, "o", color="C3")
    p.annotate(f"peak {nec[1][i1] / 1e3:.0f} kcps\nat {x[i1]:.1f} kBq/mL", (x[i1], nec[1][i1] / 1e3),
               xytext=(x[i1] + 8, nec[1][i1] / 1e3 + 90), arrowprops=dict(arrowstyle="->"), fontsize=8)
    p.plot(a50 / 1e3, pub["dead_time_50pct_rate_cps"] / 1e3 * (1 - phys.scatter_fraction), "s", color="C0", ms=5,
           label=f"published 50 % dead time: T+S = {pub['dead_time_50pct_rate_cps'] / 1e3:.0f} kcps")
    p.set(xlabel="activity concentration, 20-cm cylinder (kBq/mL)", ylabel="count rate (kcps)",
          title="HR+ 3D count rates (petsim model)", ylim=(0, 620))
    p.legend(fontsize=7, loc="upper right")

    q = ax[1]
    q.plot(x, 100 * (1 - c["live"]), label="dead-time loss")
    with np.errstate(invalid="ignore", divide="ignore"):
        q.plot(x, 100 * R / (T + S + R), label="random fraction R/(T+S+R)")
        q.plot(x, 100 * S / (T + S), label="scatter fraction S/(T+S)")
    q.axvline(a_ref / 1e3, color="0.5", ls=":", lw=1)
    q.text(a_ref / 1e3 + 0.5, 5, f"RF calibrated to {phys.randoms_fraction_peak:.2f}\nat {a_ref / 1e3:.2f} kBq/mL",
           fontsize=8)
    q.set(xlabel="activity concentration (kBq/mL)", ylabel="%", ylim=(0, 100),
          title="Losses and fractions")
    q.legend(fontsize=8)

    save_figure(fig, out_png, dpi=90, tight=False)
    print(f"peak NEC (k=1) {nec[1][i1] / 1e3:.0f} kcps at {x[i1]:.1f} kBq/mL (k=2: {nec[2][i2] / 1e3:.0f} kcps at "
          f"{x[i2]:.1f} kBq/mL); 50 % dead time at {a50 / 1e3:.1f} kBq/mL vs published "
          f"{pub['dead_time_50pct_rate_cps'] / 1e3:.0f} kcps at 25 kBq/mL ({pub['source']}); "
          "petsim holds no published NEC")
    return out_png


if __name__ == "__main__":
    print(main(*sys.argv[1:2]))
