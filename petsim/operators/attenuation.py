"""Attenuation factors ``exp(-integral of mu along each LOR)`` from a mu-map."""

from __future__ import annotations

import numpy as np

from petsim.grid import Grid

#: Largest linear attenuation coefficient accepted at 511 keV (1/cm). Cortical bone is about
#: 0.17 /cm and lead 1.7 /cm at 511 keV (Hubbell & Seltzer, NIST X-ray mass attenuation
#: coefficients, NISTIR 5632, 1995); anything larger is a unit mistake.
MU_MAX_PER_CM = 2.0
#: A map whose maximum is below this (1/cm) is taken for a map in 1/mm: water is 0.096 /cm
#: at 511 keV (Hubbell & Seltzer 1995), so 0.02 /cm is below any soft tissue.
MU_MIN_MAX_PER_CM = 0.02
#: Largest plausible line integral of mu (dimensionless): 50 cm of water gives 4.8.
MAX_LINE_INTEGRAL = 10.0

_UNITS = {"1/cm": 0.1, "1/mm": 1.0}


def mu_to_per_mm(mu_map, unit: str) -> np.ndarray:
    """Convert a mu-map to 1/mm after checking that its values are plausible for ``unit``."""
    if unit not in _UNITS:
        raise ValueError(f"unit must be '1/cm' or '1/mm', got {unit!r}")
    mu = np.asarray(mu_map)
    if not np.issubdtype(mu.dtype, np.number) or np.iscomplexobj(mu):
        raise TypeError(f"mu_map must be a real numeric array, got dtype {mu.dtype}")
    mu = mu.astype(np.float32) * np.float32(_UNITS[unit])
    if not np.all(np.isfinite(mu)):
        raise ValueError("mu_map contains NaN or infinite values")
    if mu.size and mu.min() < 0:
        raise ValueError(f"mu_map has negative values (min {mu.min() / _UNITS[unit]:g} {unit})")
    top_per_cm = float(mu.max()) * 10.0 if mu.size else 0.0
    if top_per_cm > MU_MAX_PER_CM:
        raise ValueError(
            f"mu_map maximum {top_per_cm / 10 / _UNITS[unit]:g} {unit} = {top_per_cm:g} /cm is implausible at 511 keV "
            f"(water 0.096 /cm, bone ~0.17 /cm, limit {MU_MAX_PER_CM} /cm): is the unit really {unit}?"
        )
    if 0 < top_per_cm < MU_MIN_MAX_PER_CM:
        raise ValueError(
            f"mu_map maximum {top_per_cm / 10 / _UNITS[unit]:g} {unit} = {top_per_cm:g} /cm is far below water "
            f"(0.096 /cm): is the unit really {unit}?"
        )
    return mu


def attenuation_factors(grid: Grid, mu_map, start, end, unit: str = "1/cm", projector: str = "joseph",
                        num_threads: int | None = None) -> np.ndarray:
    """Attenuation factors ``exp(-P mu)`` (between 0 and 1) for LORs ``(start, end)``.

    Parameters
    ----------
    grid : petsim.Grid
    mu_map : ndarray, shape grid.shape
        Linear attenuation coefficients at 511 keV in ``unit``.
    start, end : ndarray, shape (..., 3)
        LOR end points in mm.
    unit : {"1/cm", "1/mm"}
        Unit of ``mu_map``. Values implausible for that unit (maximum above
        2 /cm, maximum below 0.02 /cm, or a line integral above 10) raise ValueError.

    Returns
    -------
    ndarray of float32, shape start.shape[:-1]
    """
    from petsim.projectors import JosephProjector, SiddonProjector

    mu = grid.check_image(mu_to_per_mm(mu_map, unit), "mu_map")
    cls = {"joseph": JosephProjector, "siddon": SiddonProjector}.get(projector)
    if cls is None:
        raise ValueError(f"projector must be 'joseph' or 'siddon', got {projector!r}")
    line = cls(grid, start, end, num_threads=num_threads).forward(mu)
    check_line_integrals(line, unit)
    return np.exp(-line).astype(np.float32)


def check_line_integrals(line, unit):
    top = float(line.max()) if line.size else 0.0
    if top > MAX_LINE_INTEGRAL:
        raise ValueError(
            f"largest mu line integral is {top:g} (attenuation factor {np.exp(-top):.1e}); a head or body gives "
            f"< {MAX_LINE_INTEGRAL:g}: is the mu_map unit really {unit}?"
        )


def attenuation_from_line_integrals(line, per_mm: float = 1.0) -> np.ndarray:
    """``exp(-per_mm * line)`` as float32: attenuation factors from line integrals of a mu-map
    (``per_mm = 0.1`` for a map in 1/cm projected in mm). The one formula of the system model."""
    return np.exp(-per_mm * line).astype(np.float32)


def layout_attenuation_factors(grid: Grid, mu_map, layout, views=None, unit: str = "1/cm",
                               projector: str = "joseph", num_threads: int | None = None) -> np.ndarray:
    """Attenuation factors for the bins of a sinogram layout (all views, or ``views``), without end-point arrays.

    Same checks as ``attenuation_factors(grid, mu_map, *layout.lor_endpoints(views), unit=unit)``; the
    layout projector ``projector`` (a name of :func:`petsim.projectors.get_projector`) projects the
    map in ``unit`` and the result is converted to 1/mm, as the system model does.

    Returns
    -------
    ndarray of float32, shape (n_sinograms, len(views), n_radial)
    """
    from petsim.projectors import get_projector

    mu_to_per_mm(mu_map, unit)  # checks only
    mu = grid.check_image(mu_map, "mu_map")
    P = get_projector(projector)(grid, layout, views, num_threads=num_threads)
    line = _UNITS[unit] * P.forward(mu)
    check_line_integrals(line, unit)
    return attenuation_from_line_integrals(line)
