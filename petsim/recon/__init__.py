"""Reconstruction: ordinary-Poisson MLEM/OSEM (2D or fully 3D), 2D FBP, MAP with a relative difference prior.

>>> from petsim.recon import OSEMSetup, osem          # doctest: +SKIP
>>> setup = OSEMSetup(grid, layout, n_subsets=16)     # doctest: +SKIP
>>> image = osem(data, setup, n_iter=4)               # doctest: +SKIP

Images are in Bq/mL decay-corrected to injection time (each frame's
``EmissionData.decay_correction_factor`` applied). Works on any system
model with ``forward``/``adjoint`` (built by :func:`petsim.operators.system_model`)
and one Poisson likelihood (:class:`PoissonLikelihood`) that MLEM, OSEM and MAP
share; knows nothing of phantoms, tracers or concrete projectors.
"""

from petsim.recon.fbp import FBP_FILTERS, fbp_2d, ramp_filter
from petsim.recon.frames import reconstruct_frame, reconstruct_frames
from petsim.recon.likelihood import PoissonLikelihood, poisson_loglik
from petsim.recon.map_rdp import map_rdp, rdp_gradient, rdp_value
from petsim.recon.osem import OSEMSetup, gaussian_post_filter, mlem, osem

__all__ = ["OSEMSetup", "PoissonLikelihood", "osem", "mlem", "fbp_2d", "reconstruct_frame", "reconstruct_frames",
           "poisson_loglik", "gaussian_post_filter", "ramp_filter", "FBP_FILTERS", "map_rdp", "rdp_value",
           "rdp_gradient"]
