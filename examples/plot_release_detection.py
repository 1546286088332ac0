"""A release and its detection: ΔBP_ND between two windows of one scan.

With a bolus plus a constant infusion the tracer approaches a steady state, so
one scan gives a baseline window and, after a task, a release window. An
endogenous-opioid release that occupies a fraction O of the free receptors
lowers ``BP_ND(t) = k3 (1 - O(t)) / k4``: a sustained 6 % occupancy from
45 min gives ``%ΔBP_ND = -6 %`` (petsim's truth, ``competition_fast``). The
analysis fits MRTM2 (Ichise et al. 2003; reference efflux k2' fixed at the
occipital table value 0.10 /min) to the frames of each window (10-45 and
50-90 min, integrals from injection) and reports
``%ΔBP_ND = 100 (BP_release / BP_baseline - 1)``.

One scan is noisy, so the question is statistical. Each of 200 replicate scans
adds Gaussian TAC noise ``var_i = S^2 C_i exp(lambda t_i) / dt_i`` (C
decay-corrected, t_i the frame mid-time, dt_i its duration; S set for a 3 %
RMS coefficient of variation in the reference,
``petsim.study.tac_mode.add_tac_noise``) to the left amygdala and occipital
TACs, with release and without (the matched control: the two windows differ a
little even without release, because the tracer is not exactly at steady
state). The figure shows the TACs, the true BP_ND(t) and the histograms of
%ΔBP_ND; a scan "detects" the release when its %ΔBP_ND falls below the 5th
percentile of the no-release scans (a one-sided test at a 5 % false-positive
rate), and the detection rate is the power of one scan.

Run: ``python examples/plot_release_detection.py [out.png]``
"""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from petsim.frames import get_schedule  # noqa: E402
from petsim.kinetics import PlasmaInput, StepRelease, load_tracer, simulate  # noqa: E402
from petsim.modeling import fit_mrtm2  # noqa: E402
from petsim.study.tac_mode import add_tac_noise  # noqa: E402
from petsim.plot import save_figure  # noqa: E402

BASELINE_MIN = (10.0, 45.0)
RELEASE_MIN = (50.0, 90.0)


def percent_delta(frames, ct, cr, k2_ref):
    """%ΔBP_ND between the release and baseline windows of one scan, by MRTM2.

    Parameters
    ----------
    frames : petsim.frames.FrameSchedule
    ct, cr : ndarray
        Target and reference frame TACs (Bq/mL, decay-corrected).
    k2_ref : float
        Reference efflux k2' (1/min).

    Returns
    -------
    float
        ``100 (BP_release / BP_baseline - 1)``; NaN if either fit fails.
    """
    bp = [fit_mrtm2(frames.starts_min, frames.ends_min, ct, cr, k2_ref, window_min=w).bp_nd
          for w in (BASELINE_MIN, RELEASE_MIN)]
    return 100.0 * (bp[1] / bp[0] - 1.0)


def main(out_png="release_detection.png", n_replicates=200, noise_cov=0.03, seed=45):
    tracer = load_tracer("carfentanil")
    frames = get_schedule("hsu2013")
    inp = PlasmaInput.bolus_plus_infusion(dose_mbq=555.0, infusion_min=90.0)
    target, ref = "amygdala_l", "occipital_cortex"
    res = simulate([target, ref], tracer, inp, frames, [StepRelease([target], onset_min=45.0, magnitude=0.06)])
    truth = {r["region"]: r for r in res.truth_table(RELEASE_MIN)}[target]
    k2_ref = tracer.params(ref).k2
    lam = res.isotope.decay_constant_per_min
    scans = {"release": {target: res.frame_mean(target), ref: res.frame_mean(ref)},
             "no release": {target: res.frame_mean(target, control=True), ref: res.frame_mean(ref, control=True)}}
    rng = np.random.default_rng(seed)
    delta, noisy = {}, {}
    for cond, tacs in scans.items():
        noisy[cond] = [add_tac_noise(tacs, frames, lam, noise_cov, [ref], rng) for _ in range(n_replicates)]
        delta[cond] = np.array([percent_delta(frames, n[target], n[ref], k2_ref) for n in noisy[cond]])
    noise_free = {cond: percent_delta(frames, tacs[target], tacs[ref], k2_ref) for cond, tacs in scans.items()}
    threshold = float(np.nanpercentile(delta["no release"], 5.0))
    detected = float(np.nanmean(delta["release"] < threshold))
    mean_rel, mean_ctl = float(np.nanmean(delta["release"])), float(np.nanmean(delta["no release"]))

    fig, ax = plt.subplots(1, 3, figsize=(13, 4.0), constrained_layout=True)
    t, mid = res.t_min, frames.mid_min
    a = ax[0]
    for name, colour in ((target, "C3"), (ref, "C0")):
        a.plot(t, res.tissue(name) / 1e3, color=colour, lw=1, label=f"{name}, release")
        a.plot(mid, noisy["release"][0][name] / 1e3, "o", ms=3, color=colour, alpha=0.6)
    a.plot(t, res.tissue_control(target) / 1e3, color="C3", lw=1, ls="--", label=f"{target}, no release")
    for w, c in ((BASELINE_MIN, "0.92"), (RELEASE_MIN, "0.85")):
        a.axvspan(*w, color=c, zorder=0)
    a.set(xlabel="time (min)", ylabel="kBq/mL", title="Bolus + infusion TACs (dots: one noisy scan)")
    a.legend(fontsize=7)

    a = ax[1]
    a.plot(t, res.bp_nd_timecourse(target, control=True), "--", color="C3", label="no release")
    a.plot(t, res.bp_nd_timecourse(target), color="C3", label="6 % occupancy from 45 min")
    a.set(xlabel="time (min)", ylabel="true BP$_{ND}$(t) = k$_3$(t)/k$_4$", title=f"Truth, {target}")
    a.legend(fontsize=8)

    a = ax[2]
    bins = np.linspace(np.nanmin([delta[c].min() for c in delta]), np.nanmax([delta[c].max() for c in delta]), 31)
    a.hist(delta["no release"], bins, alpha=0.6, color="C0", label=f"no release (mean {mean_ctl:+.1f} %)")
    a.hist(delta["release"], bins, alpha=0.6, color="C3", label=f"release (mean {mean_rel:+.1f} %)")
    a.axvline(threshold, color="k", ls="--", lw=1, label=f"5 % false-positive threshold {threshold:+.1f} %")
    a.axvline(noise_free["no release"] + truth["percent_delta_bp_nd"], color="C3", lw=1, ls=":",
              label=f"true {truth['percent_delta_bp_nd']:+.1f} % (+ no-release offset)")
    a.set(xlabel="%ΔBP$_{ND}$ (MRTM2, release vs baseline window)", ylabel="scans",
          title=f"{n_replicates} noisy scans each: detected in {100 * detected:.0f} %")
    a.set_ylim(0, 1.5 * a.get_ylim()[1])
    a.legend(fontsize=7)

    save_figure(fig, out_png, dpi=90, tight=False)
    print(f"true %dBP_ND {truth['percent_delta_bp_nd']:+.2f} %; mean MRTM2 estimate {mean_rel:+.2f} % "
          f"(no release {mean_ctl:+.2f} %, difference {mean_rel - mean_ctl:+.2f} %); detection rate "
          f"{100 * detected:.0f} % at a 5 % false-positive rate ({n_replicates} scans, {100 * noise_cov:g} % noise)")
    return out_png


if __name__ == "__main__":
    print(main(*sys.argv[1:2]))
