"""Rebinning of fully 3D sinograms to 2D direct + cross planes: SSRB and FORE.

>>> from petsim.rebin import fore, ssrb
>>> data2d = fore(data3d, layout3d, layout2d)      # doctest: +SKIP

Both return an :class:`~petsim.emission.EmissionData` on the 2D layout whose
multiplicative and additive terms are carried through as described in
:mod:`petsim.rebin.plan`, ready for 2D OSEM (:mod:`petsim.recon`).
"""

from petsim.rebin.fore import fore, fore_line_integrals
from petsim.rebin.geometry import SinogramGeometry, sinogram_geometry
from petsim.rebin.plan import RebinPlan, rebin_plan
from petsim.rebin.ssrb import ssrb

__all__ = ["ssrb", "fore", "fore_line_integrals", "RebinPlan", "rebin_plan", "SinogramGeometry", "sinogram_geometry"]
