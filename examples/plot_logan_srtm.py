"""Logan reference plot and SRTM: BP_ND from a target and a reference TAC.

Without arterial sampling, a region free of specific binding (for
[11C]carfentanil the occipital cortex) stands in for the input. The Logan
reference plot (Logan et al. 1996) draws ``y = int_0^t C_T / C_T(t)`` against
``x = (int_0^t C_R + C_R(t) / k2') / C_T(t)``; once target and reference are
in equilibrium the points lie on a line whose slope is the distribution volume
ratio, ``DVR = BP_ND + 1``. Leaving out ``C_R / k2'`` (folding it into the
intercept) is only right once ``C_R / C_T`` is constant, which after a
carfentanil bolus comes late: that version reads BP_ND well low. The
simplified reference tissue model (SRTM, Lammertsma & Hume 1996) fits
``C_T = R1 C_R + (k2 - R1 k2a) C_R * exp(-k2a t)``, ``k2a = k2 / (1 + BP_ND)``.

The TACs come from ``petsim.kinetics.simulate`` (a 555 MBq bolus, the 28
``hsu2013`` frames over 90 min, the medial thalamus with the table's highest
BP_ND = k3/k4 = 3.8, the occipital reference with k2' = 0.10 /min) with the
default ``competition_fast`` model, in which the tracer's own mass occupies no
receptors, so the truth is the table's k3/k4. The TACs hold two-tissue
kinetics and 5 % blood that both reference models ignore, so even noise-free
they read a few percent low. Noisy TACs add Gaussian noise ``var_i = S^2 C_i
exp(lambda t_i) / dt_i`` (``petsim.study.tac_mode.add_tac_noise``, 5 % RMS COV
in the reference). The figure shows the TACs with the SRTM fit and the Logan
plot with its line after t* = 20 min; the printed line puts each estimate
next to the truth.

Run: ``python examples/plot_logan_srtm.py [out.png]``
"""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from petsim.frames import get_schedule  # noqa: E402
from petsim.kinetics import PlasmaInput, load_tracer, simulate  # noqa: E402
from petsim.modeling import fit_logan_ref, fit_srtm  # noqa: E402
from petsim.modeling.linear import logan_axes  # noqa: E402
from petsim.study.tac_mode import add_tac_noise  # noqa: E402
from petsim.plot import save_figure  # noqa: E402


def main(out_png="logan_srtm.png"):
    tracer = load_tracer("carfentanil")
    frames = get_schedule("hsu2013")
    target, ref = "thalamus_medial", "occipital_cortex"
    res = simulate([target, ref], tracer, PlasmaInput.bolus(555.0), frames)   # model="competition_fast"
    true_bp = tracer.params(target).k3 / tracer.params(target).k4
    start, end, mid = frames.starts_min, frames.ends_min, frames.mid_min
    clean = {target: res.frame_mean(target), ref: res.frame_mean(ref)}
    rng = np.random.default_rng(2013)
    noisy = add_tac_noise(clean, frames, res.isotope.decay_constant_per_min, 0.05, [ref], rng)
    t_star = 20.0
    k2_ref = tracer.params(ref).k2                                   # 0.10 /min (Endres et al. 2003)

    fits = {}
    for label, tacs in (("noise-free", clean), ("noisy", noisy)):
        fits[label] = {"Logan": fit_logan_ref(start, end, tacs[target], tacs[ref], t_star_min=t_star, k2_ref=k2_ref),
                       "Logan without k2'": fit_logan_ref(start, end, tacs[target], tacs[ref], t_star_min=t_star),
                       "SRTM": fit_srtm(start, end, tacs[target], tacs[ref])}

    fig, ax = plt.subplots(1, 2, figsize=(11, 4.4), constrained_layout=True)
    a = ax[0]
    for name, colour in ((target, "C3"), (ref, "C0")):
        a.plot(mid, clean[name] / 1e3, "-", color=colour, lw=1, label=f"{name}, noise-free")
        a.plot(mid, noisy[name] / 1e3, "o", ms=3, color=colour, label=f"{name}, noisy")
    a.plot(mid, fits["noisy"]["SRTM"].fitted / 1e3, "k--", lw=1,
           label=f"SRTM fit to noisy: BP$_{{ND}}$ = {fits['noisy']['SRTM'].bp_nd:.2f}")
    a.set(xlabel="time (min)", ylabel="kBq/mL (decay-corrected)",
          title=f"Frame TACs, 555 MBq bolus (true BP$_{{ND}}$ = {true_bp:.2f})")
    a.legend(fontsize=8)

    a = ax[1]
    for label, tacs, style in (("noise-free", clean, "-"), ("noisy", noisy, "o")):
        x, y = logan_axes(start, end, tacs[target], tacs[ref], k2_ref)
        fit = fits[label]["Logan"]
        after = mid >= t_star
        a.plot(x[~after], y[~after], style, color="0.6", ms=3, lw=1)
        colour = "C3" if label == "noisy" else "C1"
        a.plot(x[after], y[after], style, color=colour, ms=3, lw=1,
               label=f"{label}: DVR {fit.params['DVR']:.2f}, BP$_{{ND}}$ {fit.bp_nd:.2f}")
        if label == "noisy":
            xs = np.array([np.nanmin(x[after]), np.nanmax(x[after])])
            a.plot(xs, fit.params["DVR"] * xs + fit.params["intercept"], "k--", lw=1, label="fitted line (noisy)")
    a.set(xlabel="$(\\int_0^t C_R\\,d\\tau + C_R/k_2')\\;/\\; C_T(t)$ (min)",
          ylabel="$\\int_0^t C_T\\,d\\tau \\;/\\; C_T(t)$ (min)",
          title=f"Logan reference plot (grey: frames before t* = {t_star:g} min)")
    a.legend(fontsize=8)

    save_figure(fig, out_png, dpi=90, tight=False)
    est = "; ".join(f"{m} {fits['noise-free'][m].bp_nd:.3f} (noisy {fits['noisy'][m].bp_nd:.3f})"
                    for m in ("Logan", "Logan without k2'", "SRTM"))
    print(f"{target}: true BP_ND = k3/k4 = {true_bp:.3f} (competition_fast); {est}")
    return out_png


if __name__ == "__main__":
    print(main(*sys.argv[1:2]))
