"""BP_ND estimation from TACs and frame times: reference-tissue models, parametric maps, release detection.

This layer takes arrays and frame times exactly as a scanner gives them and
never imports the simulation (kinetics, phantom, acquisition), so it works on
real data too. Times are in minutes from injection, activity in Bq/mL.
"""

from .bootstrap import BootstrapResult, DeltaInterval, bootstrap_bp, bootstrap_windows, delta_interval
from .extraction import extract_tacs, spherical_voi
from .fitting import WEIGHTS, estimate_k2_ref, fit_models, fit_windows
from .linear import fit_logan_ref, fit_mrtm, fit_mrtm2, fit_tissue_ratio
from .lpntpet import basis_library, fit_lpntpet, gamma_variate
from .models import MAPS, MODELS, MapMethod, Model, get_map, get_model
from .parametric import bfsrtm_map, logan_ref_map, mrtm2_map
from .results import FitResult, format_results, results_to_table, write_results_tsv
from .srtm import fit_srtm, fit_srtm2
from .tactable import TacTable, read_tac_table, write_tac_table
from .weights import C11_HALF_LIFE_MIN, frame_weights

__all__ = [
    "MAPS", "MODELS", "BootstrapResult", "DeltaInterval", "bootstrap_bp", "bootstrap_windows", "delta_interval", "MapMethod", "Model", "WEIGHTS", "get_map", "get_model", "C11_HALF_LIFE_MIN", "FitResult", "estimate_k2_ref", "TacTable", "basis_library", "bfsrtm_map", "extract_tacs",
    "fit_logan_ref", "fit_lpntpet", "fit_models", "fit_windows", "fit_mrtm", "fit_mrtm2", "fit_srtm", "fit_srtm2",
    "fit_tissue_ratio", "format_results", "frame_weights", "gamma_variate", "logan_ref_map", "mrtm2_map",
    "read_tac_table", "results_to_table", "spherical_voi", "write_results_tsv", "write_tac_table",
]
