"""Fast ray-tracing projectors (numba): line integrals through a voxel image along LORs.

- :class:`JosephProjector`: Joseph's method (bilinear interpolation on the
  planes of the dominant axis); the projector petsim uses.
- :class:`SiddonProjector`: exact intersection lengths (Siddon 1985); an
  independent implementation the tests compare against.

Both take LOR end points ``(start, end)`` in mm of any leading shape
(sinogram or flat list-mode) and are :class:`~petsim.operators.LinearOperator`.
"""

from petsim.projectors.rays import JosephProjector, RayProjector, SiddonProjector
from petsim.projectors.layout import LayoutProjector

__all__ = ["JosephProjector", "SiddonProjector", "RayProjector", "LayoutProjector"]
