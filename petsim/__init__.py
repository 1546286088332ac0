"""petsim: simulate, reconstruct and analyse dynamic PET brain scans whose truth is known.

The layers (see DESIGN.md) are imported lazily by their own modules; the top
level only exposes the image geometry every layer shares.
"""

from petsim.grid import Grid

__all__ = ["Grid", "__version__"]
__version__ = "0.1.0"
