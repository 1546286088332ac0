"""Fast ray-tracing projectors (numba): line integrals through a voxel image along LORs.

Along a sinogram layout, projectors are found by name through one registry,
:func:`get_projector` (``"joseph"``, ``"siddon"``):

- :class:`LayoutJoseph` (``"joseph"``): Joseph's method (bilinear interpolation
  on the planes of the dominant transaxial axis), walking each (view, radial)
  path once for all sinograms; the projector petsim uses.
- :class:`LayoutProjector` (``"siddon"``): Siddon ray by ray, LOR end points made
  inside the kernel; the independent reference.

On explicit LOR end points ``(start, end)`` in mm of any leading shape
(sinogram or flat list-mode): :class:`JosephProjector` and :class:`SiddonProjector`.
All are :class:`~petsim.core.linear_operator.LinearOperator`.
"""

from petsim.projectors.rays import JosephProjector, RayProjector, SiddonProjector
from petsim.projectors.layout import LayoutProjector
from petsim.projectors.layout_joseph import LayoutJoseph
from petsim.projectors.registry import PROJECTORS, available_projectors, get_projector

__all__ = ["JosephProjector", "SiddonProjector", "RayProjector", "LayoutProjector", "LayoutJoseph",
           "PROJECTORS", "get_projector", "available_projectors"]
