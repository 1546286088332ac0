"""Print petsim's kinetic truth next to the published [11C]carfentanil figures (docs/realism.md).

Run:  python benchmarks/realism.py

Everything is measured on the default scenario (``petsim.pipeline.scenario.resolve({})``: the
carfentanil table, the derived bolus-plus-infusion input, the mass effect on) with the library's own
functions, noise-free, in a few seconds:

1. the input: parent plasma over 40-90 min with the derived K_bol and with the guessed 90 min, the
   bolus fraction and the parent fraction over time;
2. time to equilibrium: when the bound/free ratio of the high-binding regions reaches 95 % of its
   equilibrium value under the bolus-plus-infusion input, and how the reference-tissue estimates of
   a pure bolus settle with scan length (Hirvonen et al. 2009: stable from 40 min);
3. the tracer's own receptor occupancy and the injected mass per kg against the published limit;
4. the bias of the reference-tissue models on noise-free TACs, with and without the blood volume
   (what the whole-blood term vB x Cwb does).

Not a test: it prints figures for docs/realism.md.
"""

from __future__ import annotations

import numpy as np

from petsim.frames import FrameSchedule
from petsim.kinetics import PlasmaInput
from petsim.modeling import fit_models
from petsim.modeling.tactable import TacTable
from petsim.pipeline.scenario import resolve
from petsim.pipeline.simulate import regional_kinetics, scenario_tracer
from petsim.pipeline.world import frame_schedule, plasma_input

HIGH = ("thalamus_medial", "amygdala_l", "nucleus_accumbens_l", "caudate_l", "putamen_l")
REF = "occipital_cortex_l"


def input_function(sc) -> None:
    inp = plasma_input(sc)
    t = np.arange(40.0, 90.0 + 1e-9, 0.5)
    guessed = PlasmaInput.bolus_plus_infusion(sc.protocol.dose_mbq, k_bol_min=90.0,
                                              infusion_min=sc.protocol.infusion_min)
    print("1. input function")
    for name, x in (("derived", inp), ("K_bol 90 min", guessed)):
        cp = x.parent(t)
        print(f"   {name:<13} K_bol {x.k_bol_min:6.1f} min, bolus fraction {x.bolus_fraction:.2f}: parent plasma "
              f"90 vs 40 min {100 * (cp[-1] / cp[0] - 1):+.1f} %, max/min over 40-90 min {100 * (cp.max() / cp.min() - 1):.1f} %")
    tt = np.array([5.0, 10.0, 20.0, 40.0, 60.0, 90.0])
    frac = inp.parent(tt) / inp.total(tt)
    print("   parent fraction at " + ", ".join(f"{a:g} min {f:.2f}" for a, f in zip(tt, frac)))


def equilibrium(sc) -> None:
    print("2. time to equilibrium")
    res = regional_kinetics(sc, list(HIGH) + [REF], frame_schedule(sc), releases=())
    t = res.t_min
    for r in HIGH:
        c_nd, c_s = res.compartments(r, control=True)
        ratio = np.divide(c_s, c_nd, out=np.zeros_like(c_s), where=c_nd > 0)
        target = ratio[-1]
        reached = t[np.argmax(ratio >= 0.95 * target)]
        print(f"   {r:<22} bound/free reaches 95 % of its 90-min value at {reached:5.1f} min (B/I input)")
    bolus = resolve({"protocol": {"input": "bolus"}})
    full = frame_schedule(bolus)
    kin = regional_kinetics(bolus, list(HIGH) + [REF], full, releases=())
    print("   bolus: BP_ND by scan length, relative to the 90-min value (Hirvonen et al. 2009: stable after 40 min)")
    lengths = (30.0, 40.0, 50.0, 60.0, 90.0)
    values = {}
    for end in lengths:
        keep = full.ends_min <= end + 1e-9
        table = TacTable(full.starts_min[keep], full.ends_min[keep],
                         {r: kin.frame_mean(r, control=True)[keep] for r in list(HIGH) + [REF]})
        fits = fit_models(table, REF, models=("srtm", "logan_ref"), regions=list(HIGH), t_star_min=10.0)
        for f in fits:
            values.setdefault((f.region, f.model), {})[end] = f.bp_nd
    for model in ("srtm", "logan_ref"):
        rel = np.array([[values[(r, model)][e] / values[(r, model)][90.0] for e in lengths] for r in HIGH])
        print(f"   {model:<9} " + ", ".join(f"{e:g} min {100 * (m - 1):+.1f} %" for e, m in zip(lengths, rel.mean(axis=0)))
              + " (mean over the high-binding regions)")


def tracer_mass(sc) -> None:
    print("3. tracer mass")
    tracer = scenario_tracer(sc)
    mass = tracer.injected_mass_ug(sc.protocol.dose_mbq)
    print(f"   {sc.protocol.dose_mbq:g} MBq at {tracer.specific_activity_gbq_per_umol:g} GBq/umol: {mass:.2f} ug, "
          f"{mass / sc.protocol.body_mass_kg:.3f} ug/kg (limit {tracer.mass_limit_ug_per_kg:g} ug/kg)")
    windows = [(w.name, w.start_min, w.end_min) for w in sc.analysis.windows]
    res = regional_kinetics(sc, list(HIGH) + [REF], frame_schedule(sc), releases=())
    for r in HIGH:
        rows = {w: res.truth_table((a, b))[HIGH.index(r)] for w, a, b in windows}
        print(f"   {r:<22} peak {100 * res.tracer_occupancy(r).max():.1f} %, "
              + ", ".join(f"{w} window {100 * row['tracer_occupancy']:.1f} %" for w, row in rows.items()))


def model_bias(sc) -> None:
    print("4. reference-tissue models on noise-free TACs, whole scan (BP_ND / true BP_ND - 1)")
    fs = frame_schedule(sc)
    for label, vb in (("with vB", True), ("vB = 0", False)):
        res = regional_kinetics(sc, list(HIGH) + [REF], fs, releases=(), blood_volume=vb)
        table = TacTable(fs.starts_min, fs.ends_min, {r: res.frame_mean(r, control=True) for r in list(HIGH) + [REF]})
        fits = fit_models(table, REF, models=("srtm", "logan_ref", "mrtm2"), regions=list(HIGH), t_star_min=10.0)
        truth = {r: res.truth_table((0.0, float(fs.ends_min[-1])))[i]["bp_nd_control"] for i, r in enumerate(HIGH)}
        for model in ("srtm", "logan_ref", "mrtm2"):
            bias = [f.bp_nd / truth[f.region] - 1 for f in fits if f.model == model]
            print(f"   {label:<8} {model:<9} mean {100 * np.mean(bias):+.1f} % (range {100 * min(bias):+.1f} to {100 * max(bias):+.1f} %)")


def main():
    sc = resolve({})
    input_function(sc)
    equilibrium(sc)
    tracer_mass(sc)
    model_bias(sc)


if __name__ == "__main__":
    main()
