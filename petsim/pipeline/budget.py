"""The error budget of a run: what each correction the site estimates costs BP_ND and ΔBP_ND.

A site reconstructs with corrections it estimated itself: a normalisation from its normalisation
scan, an attenuation map registered to the emission data with some error, randoms from the delayed
coincidence window. petsim can instead hand the reconstruction the exact ones it simulated with (the
oracle). :func:`error_budget` runs a scenario in memory (:func:`petsim.pipeline.memory.run_in_memory`)

- once with every correction exact (the oracle),
- once per correction that the scenario estimates, with only that one as the scenario has it,
- once as the scenario has them all,

all with the same noise seed. The corrections change what the reconstruction is given, not the data,
so every configuration reconstructs the same noisy counts, and the differences between them are what
the corrections do (with the scenario's seed, "as the scenario has it" reproduces the run itself).
Per region and model it reports the bias of BP_ND (baseline window of the scan with release) and the
error of the control-corrected %ΔBP_ND in each configuration, and their change from the oracle: the
cost of each correction. The costs need not add up to the total (the corrections interact).
"""

from __future__ import annotations

import time

from petsim.pipeline.analyse import compare_with_truth

#: The corrections a site estimates: (name, physics key, the key's exact value, what the site does instead).
CORRECTIONS = (
    ("normalisation", "normalisation_correction", "exact", "crystal efficiencies from a normalisation scan"),
    ("attenuation", "attenuation_correction", "exact", "a mu-map registered with an error"),
    ("randoms", "randoms_correction", "exact", "randoms from the delayed window"),
)
ORACLE, AS_SCENARIO = "oracle", "scenario"


def estimated_corrections(scenario) -> list[str]:
    """The corrections (:data:`CORRECTIONS`) that ``scenario`` estimates rather than takes from the simulation.

    A correction of a physics effect that is off (no randoms, no attenuation) is not counted, nor are
    randoms without noise (their delayed-window estimate is then exact).
    """
    p = scenario.physics
    present = {"normalisation": p.normalisation, "attenuation": p.attenuation, "randoms": p.randoms and p.noise}
    return [name for name, key, exact, _ in CORRECTIONS if present[name] and getattr(p, key) != exact]


def configurations(scenario) -> dict:
    """Configuration name -> the physics overrides that make it, in the budget's order."""
    estimated = estimated_corrections(scenario)
    exact = {key: value for name, key, value, _ in CORRECTIONS if name in estimated}
    out = {ORACLE: dict(exact)}
    for name, key, _, _ in CORRECTIONS:
        if name in estimated:
            out[name] = {**exact, key: getattr(scenario.physics, key)}
    if len(estimated) > 1:
        out[AS_SCENARIO] = {}
    return out


def error_budget(scenario, seed: int | None = None, progress=print) -> list[dict]:
    """The error budget of ``scenario`` (see the module docstring), one row per configuration, region and model.

    Parameters
    ----------
    scenario : Scenario
        A resolved dynamic scenario with a release, its matched control (``analysis.control``) and at
        least one estimated correction (:func:`estimated_corrections`).
    seed : int, optional
        Noise seed of the scans (default: the scenario's, which reproduces a run of it).
    progress : callable or None
        Called with one line per configuration (name, elapsed time).

    Returns
    -------
    list of dict
        ``configuration``, ``corrections_estimated`` (the corrections the site estimates in it), ``region``,
        ``model``, ``true_BP_ND``, ``BP_ND``, ``bias_percent``, ``true_percent_delta``, ``percent_delta``,
        ``percent_delta_error`` (estimate - truth, percentage points), and against the oracle
        ``bias_percent_cost`` and ``percent_delta_cost`` (this configuration's value minus the oracle's).

    Raises
    ------
    ValueError
        Before any simulation, when the scenario is static, has no control scan, or estimates no
        correction (there is nothing to split).
    """
    from petsim.pipeline.memory import run_in_memory

    if scenario.kind != "dynamic" or not scenario.analysis.control:
        raise ValueError("an error budget needs a dynamic scenario with its matched control scan "
                         "(analysis.control = true): ΔBP_ND is judged against it")
    configs, estimated_here = configurations(scenario), estimated_corrections(scenario)
    if len(configs) < 2:
        names = ", ".join(f"physics.{key} (exact: {exact})" for _, key, exact, _ in CORRECTIONS)
        raise ValueError(f"scenario {scenario.name!r} takes every correction from the simulation; set one of "
                         f"{names} to the site's estimate to split its error budget")
    seed = scenario.seed if seed is None else int(seed)
    raw = scenario.to_dict()
    rows, oracle = [], {}
    for name, physics in configs.items():
        t0 = time.perf_counter()
        result = run_in_memory(raw, seed, {"physics": physics} if physics else None)
        compared = compare_with_truth(result["estimates"], result["truth"], scenario.analysis.windows)
        estimated = [c for c, key, exact, _ in CORRECTIONS if c in estimated_here
                     and physics.get(key, getattr(scenario.physics, key)) != exact]
        for c in compared:
            row = {"configuration": name, "corrections_estimated": " ".join(estimated) or "none",
                   "region": c["region"], "model": c["model"], "true_BP_ND": c["true_BP_ND"], "BP_ND": c["BP_ND"],
                   "bias_percent": c["bias_percent"], "true_percent_delta": c["true_percent_delta"],
                   "percent_delta": c.get("percent_delta")}
            row["percent_delta_error"] = _minus(row["percent_delta"], row["true_percent_delta"])
            key = (c["region"], c["model"])
            if name == ORACLE:
                oracle[key] = row
            base = oracle.get(key, {})
            row["bias_percent_cost"] = _minus(row["bias_percent"], base.get("bias_percent"))
            row["percent_delta_cost"] = _minus(row["percent_delta"], base.get("percent_delta"))
            rows.append(row)
        if progress:
            progress(f"budget: {name} in {time.perf_counter() - t0:.0f} s")
    return rows


def _minus(a, b):
    return None if a is None or b is None else a - b
