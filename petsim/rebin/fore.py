"""Fourier rebinning (FORE; Defrise, Kinahan, Townsend, Michel, Sibomana & Newport,
IEEE Trans Med Imaging 1997;16:145-158).

With ``P(w, k, z, delta)`` the 2D Fourier transform of an oblique sinogram over
the radial offset ``s`` (angular frequency ``w``, rad/mm) and the view angle
``phi`` over ``[0, 2 pi)`` (integer index ``k``), the frequency-distance relation
gives (their eq. 18)::

    P(w, k, z, delta) ~= P(w, k, z - k delta / w, 0),

so each Fourier coefficient of an oblique sinogram is added to the direct
plane at ``z - k delta / w`` (linear interpolation between planes) and the sums
are normalised by the number of contributions. As in the paper:

* views over ``2 pi`` are made with the sinogram symmetry
  ``p(s, phi + pi, z, delta) = p(-s, phi, z, -delta)`` (the partner sinogram of the
  opposite segment);
* the low-frequency region (``|w|`` index ``<= w_lim`` and ``|k| <= k_lim``), where
  the relation is not accurate, is rebinned by SSRB (``z' = z``);
* coefficients with ``|k| > |w| R`` (``R`` the transaxial field-of-view radius)
  carry no signal from an object inside the field of view (the consistency
  condition) and are dropped.

The data rebinned are the precorrected line integrals; the model terms are
carried as described in :mod:`petsim.rebin.plan`.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.fft

from petsim.emission import EmissionData
from petsim.rebin.plan import emission_2d, rebin_plan

__all__ = ["fore", "fore_line_integrals"]


@numba.njit(cache=True, parallel=True)
def _accumulate(G, z_pos, delta, weight, k_freq, w_freq, w_lim, k_lim, r_fov, out, wsum):
    """Add each coefficient ``G[sino, k, w]`` to the planes around ``z_pos - k delta / w``.

    Parallel over ``k`` rows: every thread writes its own rows, so the sums are
    race-free and their order (hence the result) does not depend on the thread count.
    """
    n_in, n_k, n_w = G.shape
    n_planes = out.shape[0]
    for kk in numba.prange(n_k):
        k = k_freq[kk]
        for i in range(n_in):
            zi = z_pos[i]
            di = delta[i]
            wi = weight[i]
            for ww in range(n_w):
                w = w_freq[ww]
                if ww <= w_lim and abs(k) <= k_lim:
                    zp = zi  # SSRB region
                elif abs(k) > w * r_fov:
                    continue  # consistency region: no signal from inside the FOV
                else:
                    shift = k * di / w
                    lim = r_fov * abs(di)
                    if shift > lim:
                        shift = lim
                    elif shift < -lim:
                        shift = -lim
                    zp = zi - shift
                if zp < 0.0:
                    zp = 0.0
                elif zp > n_planes - 1:
                    zp = n_planes - 1.0
                p0 = int(np.floor(zp))
                f = zp - p0
                if p0 >= n_planes - 1:
                    p0 = n_planes - 1
                    f = 0.0
                g = G[i, kk, ww]
                out[p0, kk, ww] += (1.0 - f) * wi * g
                wsum[p0, kk, ww] += (1.0 - f) * wi
                if f > 0.0:
                    out[p0 + 1, kk, ww] += f * wi * g
                    wsum[p0 + 1, kk, ww] += f * wi


def _pairs(geom, tol_z_mm: float):
    """For each sinogram with delta >= 0, its partner of opposite slope at the same z."""
    z, d = geom.z_mm, geom.delta
    dtol = 1e-6 + 1e-3 * np.abs(d).max()
    firsts, partners = [], []
    for i in np.flatnonzero(d > dtol):
        cand = np.flatnonzero((np.abs(z - z[i]) < tol_z_mm) & (np.abs(d + d[i]) < dtol))
        if cand.size == 0:
            raise ValueError(
                f"3D sinogram {i} (z {z[i]:.2f} mm, delta {d[i]:.4f}) has no partner of opposite slope; "
                "FORE needs both segments of each pair to extend the views over 2 pi"
            )
        firsts.append(i)
        partners.append(cand[0])
    direct = np.flatnonzero(np.abs(d) <= dtol)
    return np.array(firsts, int), np.array(partners, int), direct


def fore_line_integrals(g3d: np.ndarray, plan, w_lim: int = 2, k_lim: int = 2,
                        r_fov_mm: float | None = None) -> np.ndarray:
    """FORE of precorrected 3D line integrals ``g3d`` (layout3d shape) to the 2D planes.

    Parameters
    ----------
    g3d : ndarray (n_sino3d, n_views, n_radial)
    plan : RebinPlan
    w_lim, k_lim : int
        Low-frequency region handled by SSRB: radial-frequency index ``<= w_lim`` and
        ``|k| <= k_lim`` (Defrise et al. 1997, section III).
    r_fov_mm : float, optional
        Transaxial radius of the object support; default the largest radial offset.
    """
    g3, n_planes = plan.geom3d, plan.shape2d[0]
    n_sino, n_views, n_radial = plan.shape3d
    r = g3.radial_mm
    if not np.allclose(r[::-1], -r, atol=1e-3 * abs(g3.radial_bin_mm)):
        raise ValueError("FORE needs radial offsets symmetric about 0 (to use p(-s, phi + pi))")
    if abs(abs(g3.phi_rad[-1] - g3.phi_rad[0]) + abs(g3.phi_rad[1] - g3.phi_rad[0]) - np.pi) > 1e-3:
        raise ValueError("FORE needs views covering [0, pi) uniformly")
    reverse_views = g3.phi_rad[1] < g3.phi_rad[0]
    g = np.asarray(g3d, dtype=np.float64)
    if reverse_views:
        g = g[:, ::-1, :]
    r_fov = float(np.abs(r).max()) if r_fov_mm is None else float(r_fov_mm)
    firsts, partners, direct = _pairs(g3, 0.25 * plan.plane_pitch_mm)
    sources = np.concatenate([firsts, direct])
    second = np.concatenate([partners, direct])
    weight = np.concatenate([np.full(firsts.size, 2.0), np.ones(direct.size)])
    n_pad = int(scipy.fft.next_fast_len(2 * n_radial, real=True))
    k_freq = np.fft.fftfreq(2 * n_views, 1.0 / (2 * n_views))
    w_freq = 2 * np.pi * np.fft.rfftfreq(n_pad, g3.radial_bin_mm)
    n_w = w_freq.size
    out = np.zeros((n_planes, 2 * n_views, n_w), np.complex128)
    wsum = np.zeros((n_planes, 2 * n_views, n_w), np.float64)
    chunk = 32
    for c0 in range(0, sources.size, chunk):
        idx = slice(c0, min(c0 + chunk, sources.size))
        a, b = sources[idx], second[idx]
        full = np.zeros((a.size, 2 * n_views, n_pad))
        full[:, :n_views, :n_radial] = g[a]
        full[:, n_views:, :n_radial] = g[b][:, :, ::-1]  # p(-s, phi) of the opposite slope
        G = scipy.fft.rfft2(full, axes=(1, 2))
        _accumulate(G, plan.plane_position[a], g3.delta[a] / plan.plane_pitch_mm, weight[idx],
                    k_freq, w_freq, int(w_lim), int(k_lim), r_fov, out, wsum)
    np.divide(out, wsum, out=out, where=wsum > 0)
    out[wsum == 0] = 0
    rebinned = scipy.fft.irfft2(out, s=(2 * n_views, n_pad), axes=(1, 2))[:, :, :n_radial]
    # Both halves of the 2 pi sinogram estimate the same direct sinogram: average them.
    res = 0.5 * (rebinned[:, :n_views, :] + rebinned[:, n_views:, ::-1])
    if reverse_views:
        res = res[:, ::-1, :]
    return np.ascontiguousarray(res, dtype=np.float32)


def fore(data3d: EmissionData, layout3d, layout2d, w_lim: int = 2, k_lim: int = 2,
         r_fov_mm: float | None = None) -> EmissionData:
    """Rebin a fully 3D frame to 2D planes by Fourier rebinning.

    Parameters
    ----------
    data3d : EmissionData
        Frame on ``layout3d``.
    layout3d, layout2d : sinogram layouts
        3D layout of the data and 2D (direct + cross planes) target layout.
    w_lim, k_lim, r_fov_mm :
        See :func:`fore_line_integrals`.

    Returns
    -------
    EmissionData
        On ``layout2d``; ``multiplicative`` and ``additive`` as for :func:`~petsim.rebin.ssrb`,
        prompts ``max(scale * m2d * g2d + a2d, 0)`` with ``g2d`` the FORE-rebinned
        precorrected line integrals (see :mod:`petsim.rebin.plan`).
    """
    plan = rebin_plan(layout3d, layout2d)
    plan.check(data3d)
    g2d = fore_line_integrals(plan.precorrected(data3d), plan, w_lim, k_lim, r_fov_mm)
    m2d, a2d = plan.model_terms_2d(data3d)
    prompts = np.maximum(np.float32(data3d.scale) * m2d * g2d + a2d, 0).astype(np.float32)
    return emission_2d(data3d, prompts, m2d, a2d, "fore")
