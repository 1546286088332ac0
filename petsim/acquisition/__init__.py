"""Acquisition: dynamic activity images -> the data a scanner would record.

Region basis: each basis image (partial-volume fraction map, release map) is
forward projected once with the whole physics (:meth:`AcquisitionModel.project_basis`);
each frame is a weighted sum of those projections plus scatter and randoms,
with dead time and Poisson noise (:func:`simulate_frames`).

Examples
--------
>>> phys = ScanPhysics(seed=1)                                     # doctest: +SKIP
>>> model = AcquisitionModel(scanner, layout, sim_grid, mu, phys)  # doctest: +SKIP
>>> basis = model.project_basis([f_grey, f_white])                 # doctest: +SKIP
>>> frames = simulate_frames(model, basis, integrals, schedule, rng=0)  # doctest: +SKIP
>>> print(count_summary(frames))                                   # doctest: +SKIP
"""

from petsim.acquisition.basis import group_identical_kinetics, merged_basis_images
from petsim.acquisition.constants import resolution_fwhm_mm
from petsim.acquisition.deadtime import live_fraction, paralysable_tau_s
from petsim.acquisition.model import AcquisitionModel, cylinder_fraction, default_simulation_grid
from petsim.acquisition.physics import ScanPhysics
from petsim.acquisition.randoms import CrystalPairs, delayed_randoms_estimate
from petsim.acquisition.scatter import SinogramLowPass, scatter_sinogram
from petsim.acquisition.simulate import count_summary, iter_frames, simulate_frames

__all__ = [
    "AcquisitionModel", "ScanPhysics", "simulate_frames", "iter_frames", "count_summary",
    "default_simulation_grid", "cylinder_fraction", "resolution_fwhm_mm", "live_fraction", "paralysable_tau_s",
    "group_identical_kinetics", "merged_basis_images", "CrystalPairs", "delayed_randoms_estimate", "SinogramLowPass", "scatter_sinogram",
]
