"""Fast ray-tracing projectors (numba): line integrals through a voxel image along LORs.

- :class:`JosephProjector`: Joseph's method (bilinear interpolation on the
  planes of the dominant axis); the projector petsim uses.
- :class:`SiddonProjector`: exact intersection lengths (Siddon 1985); an
  independent implementation the tests compare against.

- :class:`LayoutProjector`: Joseph or Siddon along a sinogram layout's LORs,
  computed inside the kernel (no end-point arrays); used by the acquisition.
- :class:`LayoutJoseph`: Joseph along a layout, walking each (view, radial)
  path once for all sinograms; the fast path of OSEM. Same line integrals as
  :class:`JosephProjector` (tested).

The first two take LOR end points ``(start, end)`` in mm of any leading shape
(sinogram or flat list-mode) and are :class:`~petsim.operators.LinearOperator`.
"""

from petsim.projectors.rays import JosephProjector, RayProjector, SiddonProjector
from petsim.projectors.layout import LayoutProjector
from petsim.projectors.layout_joseph import LayoutJoseph

__all__ = ["JosephProjector", "SiddonProjector", "RayProjector", "LayoutProjector", "LayoutJoseph"]
