"""The closed loop for users: scenarios, stages, standard outputs and the validation report."""

from petsim.pipeline.scenario import Scenario, ScenarioError, load_scenario


def run_in_memory(scenario, seed: int, overrides: dict | None = None) -> dict:
    """One scan end to end in memory (see :func:`petsim.pipeline.memory.run_in_memory`)."""
    from petsim.pipeline.memory import run_in_memory as _run

    return _run(scenario, seed, overrides)


__all__ = ["Scenario", "ScenarioError", "load_scenario", "run_in_memory"]
