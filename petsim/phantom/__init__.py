"""Digital phantoms: an analytic brain for mu-opioid receptor imaging, test objects, user anatomy.

>>> from petsim.phantom import load
>>> ph = load("mor_brain", voxel_size_mm=2.0)            # doctest: +SKIP
>>> ph.fraction("amygdala_l").sum() * ph.grid.voxel_volume_ml   # doctest: +SKIP
"""

from petsim.phantom.definitions import available, load
from petsim.phantom.phantom import Phantom
from petsim.phantom.region import HEMISPHERES, TISSUES, Region

__all__ = ["load", "available", "Phantom", "Region", "TISSUES", "HEMISPHERES"]
