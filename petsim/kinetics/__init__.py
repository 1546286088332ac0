"""[11C]carfentanil kinetics with tunable endogenous-opioid release: the simulation truth.

- :mod:`~petsim.kinetics.tracer`: regional rate-constant tables (``load_tracer``).
- :mod:`~petsim.kinetics.plasma`: Feng bolus, metabolites, whole blood, bolus plus infusion.
- :mod:`~petsim.kinetics.release`: release profiles O(t) (step, gamma variate, user function).
- :mod:`~petsim.kinetics.compartment`: exact exponential-integrator 2TCM solver.
- :mod:`~petsim.kinetics.simulate`: ``simulate`` and the ground truth (``KineticsResult``).
"""

from petsim.kinetics.compartment import solve_two_tissue
from petsim.kinetics.plasma import PlasmaInput, bolus_plus_infusion, feng_bolus
from petsim.kinetics.release import FunctionRelease, GammaRelease, Release, StepRelease, gamma_variate
from petsim.kinetics.simulate import TRUTH_DEFINITION, KineticsResult, simulate
from petsim.kinetics.tracer import KineticParams, Tracer, load_tracer

__all__ = [
    "load_tracer", "Tracer", "KineticParams", "PlasmaInput", "feng_bolus", "bolus_plus_infusion",
    "Release", "StepRelease", "GammaRelease", "FunctionRelease", "gamma_variate",
    "simulate", "KineticsResult", "TRUTH_DEFINITION", "solve_two_tissue",
]
