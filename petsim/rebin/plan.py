"""What both rebinning methods share: matching a 3D layout to a 2D one, and carrying the
ordinary-Poisson model terms (multiplicative, additive) through the rebinning.

How the terms are carried (both methods)
----------------------------------------
For a 3D bin ``k`` of axial slope ``delta`` the LOR integral is
``L_k ~= c_k * L2d(z_k)`` with ``c_k = sqrt(1 + delta^2)`` (its length over its
transaxial length), so that, summing the bins ``k`` that SSRB assigns to plane ``j``::

    E[sum_k p_k] = scale * (sum_k m_k c_k) * L2d_j + sum_k a_k.

The 2D model therefore uses ``m2d_j = sum_k m_k c_k`` and ``a2d_j = sum_k a_k``
(same ``scale``), which keeps the counts, and so the Poisson statistics, of the
3D data. SSRB's 2D prompts are the plain sums of the 3D prompts. FORE works on
the normalised, attenuation-, randoms- and scatter-corrected line integrals
``g_k = (p_k - a_k) / (scale m_k c_k)`` (what the frequency-distance relation
is about), and its rebinned estimate ``g2d`` is turned back into prompts with
the same 2D model, ``p2d = max(scale m2d g2d + a2d, 0)``: counts and variance are
then those of the 3D data to within FORE's (small) noise redistribution.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from petsim.emission import EmissionData
from petsim.scanner.sinogram_geometry import sinogram_geometry

__all__ = ["RebinPlan", "rebin_plan"]


class RebinPlan:
    """Geometry linking a 3D layout to a 2D (direct + cross planes) layout.

    Attributes
    ----------
    geom3d, geom2d : SinogramGeometry
    ssrb_matrix : scipy.sparse.csr_matrix (n_planes x n_sino3d)
        Linear-interpolation weights of each 3D sinogram's axial centre onto
        the 2D planes (exactly one plane per sinogram when they lie on the
        plane grid, as on the HR+).
    plane_position : ndarray (n_sino3d,)
        Fractional 2D-plane index of each 3D sinogram's axial centre.
    """

    def __init__(self, layout3d, layout2d):
        s3, s2 = tuple(layout3d.shape), tuple(layout2d.shape)
        if s3[1:] != s2[1:]:
            raise ValueError(
                f"3D layout has {s3[1]} views x {s3[2]} radial bins, 2D layout {s2[1]} x {s2[2]}; they must match"
            )
        g3, g2 = sinogram_geometry(layout3d), sinogram_geometry(layout2d)
        if np.max(np.abs(g2.delta)) > 1e-6:
            raise ValueError("layout2d is not a 2D layout: some of its sinograms are oblique")
        if not np.allclose(g3.phi_rad, g2.phi_rad, atol=1e-4) or not np.allclose(g3.radial_mm, g2.radial_mm, atol=1e-3):
            raise ValueError("3D and 2D layouts sample views or radial offsets differently")
        z2 = g2.z_mm
        dz = np.diff(z2)
        if z2.size > 1 and (not np.allclose(dz, dz.mean(), rtol=1e-4) or dz.mean() <= 0):
            raise ValueError("2D layout planes must be uniformly spaced with increasing z")
        pitch = float(dz.mean()) if z2.size > 1 else 1.0
        pos = (g3.z_mm - z2[0]) / pitch
        if np.any(pos < -1e-3) or np.any(pos > z2.size - 1 + 1e-3):
            raise ValueError("some 3D sinograms lie axially outside the 2D layout's planes")
        pos = np.clip(pos, 0, z2.size - 1)
        self.layout3d, self.layout2d = layout3d, layout2d
        self.shape3d, self.shape2d = s3, s2
        self.geom3d, self.geom2d = g3, g2
        self.plane_pitch_mm = pitch
        self.plane_position = pos
        i0 = np.floor(pos + 1e-6).astype(int)
        frac = np.where(pos - i0 < 1e-6, 0.0, pos - i0)
        i1 = np.minimum(i0 + 1, z2.size - 1)
        rows = np.concatenate([i0, i1])
        cols = np.concatenate([np.arange(s3[0])] * 2)
        vals = np.concatenate([1 - frac, frac])
        keep = vals > 0
        self.ssrb_matrix = sparse.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(s2[0], s3[0]))

    def sum_to_planes(self, sino3d: np.ndarray) -> np.ndarray:
        """SSRB sum of a 3D-layout array onto the 2D planes (float32)."""
        flat = np.asarray(sino3d, dtype=np.float64).reshape(self.shape3d[0], -1)
        return (self.ssrb_matrix @ flat).reshape(self.shape2d).astype(np.float32)

    def model_terms_2d(self, data3d: EmissionData):
        """2D multiplicative and additive factors ``(m2d, a2d)`` of :mod:`petsim.rebin.plan`'s model."""
        c = self.geom3d.obliqueness[:, None, :]
        m2d = self.sum_to_planes(data3d.multiplicative * c)
        a2d = self.sum_to_planes(data3d.additive)
        return m2d, a2d

    def precorrected(self, data3d: EmissionData) -> np.ndarray:
        """``g = (p - a) / (scale m c)``: line-integral estimates (Bq/mL x mm), 0 where m = 0."""
        den = np.float32(data3d.scale) * data3d.multiplicative * self.geom3d.obliqueness[:, None, :]
        return np.divide(data3d.prompts - data3d.additive, den, out=np.zeros(self.shape3d, np.float32), where=den > 0)

    def check(self, data3d: EmissionData):
        if not isinstance(data3d, EmissionData):
            raise TypeError(f"data3d must be an EmissionData, got {type(data3d).__name__}")
        if data3d.shape != self.shape3d:
            raise ValueError(f"data3d has shape {data3d.shape}, but layout3d has shape {self.shape3d}")


_PLANS: dict = {}


def rebin_plan(layout3d, layout2d) -> RebinPlan:
    """Cached :class:`RebinPlan` for a pair of layout objects (geometry is read once)."""
    key = (id(layout3d), id(layout2d))
    hit = _PLANS.get(key)
    if hit is None or hit.layout3d is not layout3d or hit.layout2d is not layout2d:
        hit = RebinPlan(layout3d, layout2d)
        if len(_PLANS) > 8:
            _PLANS.clear()
        _PLANS[key] = hit
    return hit


def emission_2d(data3d: EmissionData, prompts2d, m2d, a2d, method: str) -> EmissionData:
    info = dict(data3d.info)
    info["rebinning"] = method
    return EmissionData(
        prompts=prompts2d,
        multiplicative=m2d,
        additive=a2d,
        scale=data3d.scale,
        frame_start_min=data3d.frame_start_min,
        frame_duration_min=data3d.frame_duration_min,
        decay_correction_factor=data3d.decay_correction_factor,
        info=info,
    )
