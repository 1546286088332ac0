"""Single-slice rebinning (SSRB; Daube-Witherspoon & Muehllehner, J Nucl Med 1987;28:1717).

Each oblique sinogram is added to the direct/cross plane at its axial centre.
Exact for activity on the scanner axis; far from the axis an oblique LOR
crosses several planes, so SSRB blurs the axial resolution there.
"""

from __future__ import annotations

from petsim.emission import EmissionData
from petsim.rebin.plan import emission_2d, rebin_plan

__all__ = ["ssrb"]


def ssrb(data3d: EmissionData, layout3d, layout2d) -> EmissionData:
    """Rebin a fully 3D frame to 2D planes by SSRB.

    Parameters
    ----------
    data3d : EmissionData
        Frame on ``layout3d`` (ordinary-Poisson terms inside the model).
    layout3d, layout2d : sinogram layouts
        The 3D layout of ``data3d`` and the 2D (direct + cross planes) layout
        to rebin onto; same views and radial sampling.

    Returns
    -------
    EmissionData
        On ``layout2d``: prompts are the sums of the 3D prompts of each plane
        (so still Poisson), ``multiplicative = sum(m * sqrt(1 + delta^2))`` and
        ``additive = sum(a)`` over the same bins, same ``scale`` and frame times
        (see :mod:`petsim.rebin.plan`).
    """
    plan = rebin_plan(layout3d, layout2d)
    plan.check(data3d)
    m2d, a2d = plan.model_terms_2d(data3d)
    return emission_2d(data3d, plan.sum_to_planes(data3d.prompts), m2d, a2d, "ssrb")
