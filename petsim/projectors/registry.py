"""The one registry of layout projectors: ``get_projector(name)(grid, layout, views=None, num_threads=None)``.

Every stage that projects along a sinogram layout (the acquisition model, the
system model that OSEM, MLEM and MAP use, attenuation factors) asks this
registry by name; none imports a concrete projector class.

- ``"joseph"``: :class:`~petsim.projectors.LayoutJoseph`, petsim's projector
  (Joseph's method, each transaxial ray walk shared by all sinograms).
- ``"siddon"``: :class:`~petsim.projectors.LayoutProjector`, Siddon's exact
  intersection lengths ray by ray: the independent reference.
"""

from __future__ import annotations

from petsim.projectors.layout import LayoutProjector
from petsim.projectors.layout_joseph import LayoutJoseph

__all__ = ["PROJECTORS", "get_projector", "available_projectors"]

#: name -> factory ``(grid, layout, views=None, num_threads=None) -> LinearOperator``
PROJECTORS = {
    "joseph": LayoutJoseph,
    "siddon": LayoutProjector,
}


def available_projectors() -> tuple:
    """Names accepted by :func:`get_projector`."""
    return tuple(PROJECTORS)


def get_projector(name: str):
    """The factory of the layout projector ``name`` (one of :func:`available_projectors`).

    Examples
    --------
    >>> from petsim import Grid
    >>> from petsim.scanner import get_scanner
    >>> layout = get_scanner("hrplus").layout_2d(view_mashing=2)
    >>> P = get_projector("joseph")(Grid((64, 64, 63), (4.5, 4.5, 2.425)), layout, views=layout.subset(3, 16))
    >>> P.out_shape
    (63, 9, 288)
    """
    try:
        return PROJECTORS[name]
    except (KeyError, TypeError):
        raise ValueError(f"projector must be one of {sorted(PROJECTORS)}, got {name!r}") from None
