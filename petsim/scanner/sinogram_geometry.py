"""The geometry of a sinogram layout for analytic methods (FBP, rebinning): view angles, radial
offsets, axial centres and slopes, obliqueness. A layout owns it (``SinogramLayout.geometry``),
so rebinning and FBP do not depend on how a scanner module orders views or signs radial offsets.

For a sinogram bin the LOR is parameterised as in Defrise et al. (IEEE TMI
1997;16:145)::

    x(t) = s * n(phi) + t * tau(phi),   z(t) = z + t * delta

with ``n = (cos phi, sin phi)``, ``tau = (-sin phi, cos phi)``, ``t`` the
transaxial distance and ``delta = tan(theta)`` the axial slope.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SinogramGeometry", "sinogram_geometry", "derive_sinogram_geometry"]


@dataclass(frozen=True)
class SinogramGeometry:
    """Geometry of a layout: view angles (rad, uniformly increasing with view index),
    radial offsets (mm), per-sinogram axial centre ``z_mm`` and slope ``delta`` (at s = 0),
    and ``obliqueness[sino, radial]`` = 3D LOR length / transaxial length (>= 1)."""

    phi_rad: np.ndarray
    radial_mm: np.ndarray
    z_mm: np.ndarray
    delta: np.ndarray
    obliqueness: np.ndarray

    @property
    def n_views(self) -> int:
        return self.phi_rad.size

    @property
    def radial_bin_mm(self) -> float:
        return float(self.radial_mm[1] - self.radial_mm[0])


def sinogram_geometry(layout) -> SinogramGeometry:
    """The geometry of ``layout``: its own (``layout.geometry``, computed once) for a
    :class:`~petsim.scanner.SinogramLayout`, else derived from ``layout.lor_endpoints``."""
    own = getattr(type(layout), "geometry", None)
    if isinstance(own, property):
        return layout.geometry
    return derive_sinogram_geometry(layout)


def derive_sinogram_geometry(layout) -> SinogramGeometry:
    """Derive :class:`SinogramGeometry` from ``layout.lor_endpoints`` (checks the sinogram is regular).

    The values are those of the float32 end points (view angles within 2.4e-8 rad and axial
    centres within 3.1e-6 mm of the layout's exact parameters on the HR+), which FBP and FORE
    have always used: their outputs stay bit-identical.
    """
    n_sino, n_views, n_radial = layout.shape
    c = n_radial // 2
    normal0 = np.empty((n_views, 2))
    sign = np.empty(n_views)
    d_c = np.empty((n_sino, n_views, 3))  # LOR vector at the central radial bin
    z_c = np.empty((n_sino, n_views))
    obliq = np.zeros((n_sino, n_radial))
    chunk = 8  # views per call keeps the end-point arrays small on 3D layouts
    for v0 in range(0, n_views, chunk):
        views = np.arange(v0, min(v0 + chunk, n_views))
        start, end = (np.asarray(a, dtype=np.float64) for a in layout.lor_endpoints(views=views))
        d = end - start
        lxy = np.linalg.norm(d[..., :2], axis=-1)
        if np.any(lxy <= 0):
            raise ValueError("layout has LORs parallel to the scanner axis; not a sinogram")
        u = d[0, :, :, :2] / lxy[0, :, :, None]
        normal = np.stack([u[..., 1], -u[..., 0]], axis=-1)  # one of the two normals, sinogram 0
        mid0 = 0.5 * (start[0, :, :, :2] + end[0, :, :, :2])
        s_raw = np.sum(mid0 * normal, axis=-1)
        sign[views] = np.sign(s_raw[:, -1] - s_raw[:, 0])  # s must grow with the radial index
        normal0[views] = normal[:, c, :]
        d_c[:, views] = d[:, :, c, :]
        z_c[:, views] = 0.5 * (start[:, :, c, 2] + end[:, :, c, 2])
        obliq += (np.linalg.norm(d, axis=-1) / lxy).sum(axis=1)
    if np.any(sign == 0):
        raise ValueError("radial offsets do not vary along the radial axis of the layout")
    normal0 *= sign[:, None]
    phi = np.unwrap(np.arctan2(normal0[:, 1], normal0[:, 0]))
    step = np.diff(phi)
    if n_views > 1 and not np.allclose(step, step.mean(), atol=1e-3 * abs(step.mean())):
        raise ValueError("view angles of the layout are not uniformly spaced; FBP/FORE need regular sinograms")
    radial = np.asarray(layout.radial_mm, dtype=np.float64)
    tau = np.stack([-np.sin(phi), np.cos(phi)], axis=-1)
    t_len = np.sum(d_c[..., :2] * tau[None], axis=-1)
    delta_v = d_c[..., 2] / t_len
    delta = delta_v.mean(axis=1)
    if np.max(np.abs(delta_v - delta[:, None])) > 1e-3 * max(np.abs(delta).max(), 1e-3):
        raise ValueError("axial slope of a sinogram varies with view; not a regular oblique sinogram")
    z = z_c.mean(axis=1)
    obliq /= n_views
    return SinogramGeometry(
        phi_rad=phi.astype(np.float64),
        radial_mm=radial,
        z_mm=z,
        delta=delta,
        obliqueness=obliq.astype(np.float32),
    )
