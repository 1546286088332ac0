"""2D filtered backprojection plane by plane: the analytic baseline.

FBP needs pre-corrected data (it has no model to put the corrections in):
``L = (prompts - additive) / (scale * multiplicative)``, the line integrals in
Bq/mL x mm. The ramp filter is the band-limited spatial kernel of Kak & Slaney
(Principles of Computerized Tomographic Imaging, IEEE Press 1988, ch. 3,
eq. 61), which has no DC error from sampling ``|nu|`` directly, times an
apodising window.
"""

from __future__ import annotations

import numba
import numpy as np

from petsim.emission import EmissionData
from petsim.grid import Grid
from petsim.scanner.sinogram_geometry import sinogram_geometry

__all__ = ["fbp_2d", "ramp_filter", "FBP_FILTERS"]

FBP_FILTERS = ("ramp", "shepp-logan", "cosine", "hamming", "hann")


def ramp_filter(n_radial: int, radial_bin_mm: float, filter_name: str = "ramp", cutoff: float = 1.0):
    """Frequency response (length ``n_pad``, numpy FFT order) of the windowed ramp filter.

    Parameters
    ----------
    n_radial : int
        Number of radial samples; the data are zero padded to ``n_pad >= 2 n_radial``.
    radial_bin_mm : float
        Radial sampling (mm).
    filter_name : {"ramp", "shepp-logan", "cosine", "hamming", "hann"}
    cutoff : float
        Window cut-off as a fraction of the Nyquist frequency (0 < cutoff <= 1).
    """
    if filter_name not in FBP_FILTERS:
        raise ValueError(f"filter_name must be one of {FBP_FILTERS}, got {filter_name!r}")
    if not (0 < cutoff <= 1):
        raise ValueError(f"cutoff must be in (0, 1] (fraction of Nyquist), got {cutoff!r}")
    n_pad = int(2 ** np.ceil(np.log2(2 * n_radial)))
    d = float(radial_bin_mm)
    n = np.fft.fftfreq(n_pad, 1.0 / n_pad)  # signed sample offsets
    h = np.zeros(n_pad)
    h[0] = 1.0 / (4 * d * d)
    odd = (np.abs(n) % 2) == 1
    h[odd] = -1.0 / (np.pi * n[odd] * d) ** 2
    response = d * np.real(np.fft.fft(h))  # ~ |nu| in cycles/mm
    x = np.abs(np.fft.fftfreq(n_pad, d)) / (cutoff * 0.5 / d)  # frequency / cut-off
    window = {
        "ramp": np.ones_like(x),
        "shepp-logan": np.sinc(x / 2),
        "cosine": np.cos(0.5 * np.pi * x),
        "hamming": 0.54 + 0.46 * np.cos(np.pi * x),
        "hann": 0.5 * (1 + np.cos(np.pi * x)),
    }[filter_name]
    return response * np.where(x <= 1, window, 0.0)


@numba.njit(cache=True, parallel=True)
def _backproject(q, cos_phi, sin_phi, r0, dr, xs, ys, out):
    """out[ix, iy, p] = sum_v q[p, v, s(ix, iy, v)] with linear interpolation in s."""
    n_planes, n_views, n_radial = q.shape
    for ix in numba.prange(xs.size):
        for iy in range(ys.size):
            for v in range(n_views):
                u = (xs[ix] * cos_phi[v] + ys[iy] * sin_phi[v] - r0) / dr
                i = int(np.floor(u))
                if i < 0 or i >= n_radial - 1:
                    continue
                f = u - i
                for p in range(n_planes):
                    out[ix, iy, p] += (1.0 - f) * q[p, v, i] + f * q[p, v, i + 1]


def fbp_2d(sinograms, layout, grid: Grid, filter_name: str = "hann", cutoff: float = 1.0,
           post_filter_fwhm_mm=None) -> np.ndarray:
    """Filtered backprojection of 2D sinograms, plane by plane.

    Parameters
    ----------
    sinograms : EmissionData or ndarray (n_planes, n_views, n_radial)
        EmissionData (e.g. rebinned by :func:`petsim.rebin.fore`) is pre-corrected
        here, ``(prompts - additive) / (scale * multiplicative)`` (0 where the
        multiplicative factor is 0), and the result decay-corrected; an ndarray is
        taken as line integrals in Bq/mL x mm.
    layout : 2D sinogram layout (all sinograms direct, ``delta = 0``)
    grid : Grid
        Output grid; each grid plane is interpolated linearly between the two
        nearest sinogram planes in z.
    filter_name : str
        One of ``FBP_FILTERS``; default a Hann window at ``cutoff`` x Nyquist.
    cutoff : float
        Window cut-off, fraction of Nyquist.
    post_filter_fwhm_mm : float or tuple of 3 float, optional
        Gaussian post-filter (mm), e.g. for the axial direction the window does not touch.

    Returns
    -------
    ndarray (x, y, z), float32
        Activity in Bq/mL (decay-corrected when given EmissionData).
    """
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a petsim.Grid, got {type(grid).__name__}")
    shape = tuple(layout.shape)
    factor = 1.0
    if isinstance(sinograms, EmissionData):
        if sinograms.shape != shape:
            raise ValueError(f"data has shape {sinograms.shape}, but the layout has shape {shape}")
        den = np.float32(sinograms.scale) * sinograms.multiplicative
        line = np.divide(sinograms.prompts - sinograms.additive, den, out=np.zeros(shape, np.float32), where=den > 0)
        factor = sinograms.decay_correction_factor
    else:
        line = np.asarray(sinograms, dtype=np.float32)
        if line.shape != shape:
            raise ValueError(f"sinograms have shape {line.shape}, but the layout has shape {shape}")
        if not np.all(np.isfinite(line)):
            raise ValueError("sinograms contain NaN or infinite values")
    geom = sinogram_geometry(layout)
    if np.max(np.abs(geom.delta)) > 1e-6:
        raise ValueError("fbp_2d needs a 2D layout (direct planes); rebin 3D data first (petsim.rebin)")
    n_planes, n_views, n_radial = shape
    # Sinogram planes -> grid planes (linear in z; outside the planes' range -> 0).
    zg = grid.axis_mm(2)
    order = np.argsort(geom.z_mm)
    zs = geom.z_mm[order]
    pitch = np.diff(zs).mean() if zs.size > 1 else 1.0
    tol = 1e-3 * pitch
    inside = (zg >= zs[0] - tol) & (zg <= zs[-1] + tol)
    pos = np.where(inside, np.clip(np.interp(zg, zs, np.arange(zs.size)), 0, zs.size - 1), -1)
    sino_z = np.zeros((grid.shape[2], n_views, n_radial), np.float64)
    for iz, p in enumerate(pos):
        if p < 0:
            continue
        i0 = int(np.floor(p))
        f = p - i0
        sino_z[iz] = (1 - f) * line[order[i0]]
        if f > 0:
            sino_z[iz] += f * line[order[i0 + 1]]
    h = ramp_filter(n_radial, geom.radial_bin_mm, filter_name, cutoff)
    padded = np.zeros(sino_z.shape[:2] + (h.size,))
    padded[..., :n_radial] = sino_z
    q = np.real(np.fft.ifft(np.fft.fft(padded, axis=-1) * h, axis=-1))[..., :n_radial]
    out = np.zeros(grid.shape, np.float64)
    _backproject(np.ascontiguousarray(q), np.cos(geom.phi_rad), np.sin(geom.phi_rad), float(geom.radial_mm[0]),
                 geom.radial_bin_mm, grid.axis_mm(0), grid.axis_mm(1), out)
    out *= np.pi / n_views * factor
    out = out.astype(np.float32)
    if post_filter_fwhm_mm is not None:
        from petsim.recon.osem import gaussian_post_filter

        out = gaussian_post_filter(out, grid, post_filter_fwhm_mm)
    return out
