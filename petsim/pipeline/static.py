"""Static scenarios: one frame of given activity concentrations, no kinetics.

For teaching and physics checks (a uniform cylinder, hot spheres of the NEMA/IEC
phantom, the brain with set concentrations): the truth is the activity per
region, and the validation is the recovery coefficient (reconstructed mean over
true concentration) of every region.
"""

from __future__ import annotations

import numpy as np

from petsim.pipeline.scenario import ScenarioError
from petsim.pipeline.world import World, expand_regions


def static_activities(world: World) -> dict:
    """``{region: Bq/mL}`` at the frame start; a structure name stands for both sides."""
    given = world.scenario.static.activity_bq_ml
    if not given:
        raise ScenarioError("static.activity_bq_ml must give the activity of at least one region (Bq/mL)")
    names = [r.name for r in world.phantom_recon.regions]
    out = {}
    for key, value in given.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ScenarioError(f"static.activity_bq_ml.{key} must be a non-negative number (Bq/mL), got {value!r}")
        for region in expand_regions([key], names, "static.activity_bq_ml"):
            out[region] = float(value)
    return out


def truth_rows(world: World) -> list[dict]:
    acts = static_activities(world)
    return [{"region": r.name, "activity_bq_ml": acts.get(r.name, 0.0)} for r in world.phantom_recon.regions]


def basis_groups(world: World) -> list:
    """One group per activity level: (region names, frame integral of the decaying activity (1, 1) in Bq/mL x min)."""
    fs, iso = world.frames, world.isotope
    t = np.array([fs.starts_min[0], fs.ends_min[0]])
    groups: dict = {}
    for region, a in static_activities(world).items():
        if a > 0:
            groups.setdefault(a, []).append(region)
    return [(names, fs.integrate(t, np.array([a, a]), isotope=iso)[None, :]) for a, names in groups.items()]


def recovery_rows(truth: list[dict], recon_tacs: dict) -> list[dict]:
    """Reconstructed mean against the true concentration per region (the recovery coefficient)."""
    rows = []
    for t in truth:
        a, region = t["activity_bq_ml"], t["region"]
        if region not in recon_tacs:
            continue
        est = float(np.asarray(recon_tacs[region])[0])
        rows.append({"region": region, "true_bq_ml": a, "recon_bq_ml": est,
                     "recovery": est / a if a > 0 else None, "bias_percent": 100.0 * (est / a - 1.0) if a > 0 else None})
    return rows
