"""Scanner geometry and sinogram layouts.

A :class:`Scanner` is a cylinder of detector rings; its :meth:`Scanner.layout_2d`
and :meth:`Scanner.layout_3d` give a :class:`SinogramLayout`, which makes the
LOR end points (in mm) that every projector consumes, for all views or a subset.

Examples
--------
>>> from petsim.scanner import get_scanner
>>> layout = get_scanner("hrplus").layout_3d(span=9, max_ring_diff=22, view_mashing=2)
>>> layout.shape
(239, 144, 288)
"""

from petsim.scanner.geometry import Scanner, available_scanners, get_scanner, preset_key
from petsim.scanner.layout import LayoutSubset, Segment, SinogramLayout, interleaved_subsets

__all__ = ["Scanner", "SinogramLayout", "Segment", "LayoutSubset", "interleaved_subsets", "get_scanner", "preset_key",
           "available_scanners"]
