"""Scatter as a heavy low-pass of the unscattered trues in sinogram space.

Model (chosen for speed and transparency, not a physical single-scatter
simulation): the frame's expected unscattered trues, with the detector
efficiency pattern divided out, are smoothed by a wide Gaussian (radially,
across views, and axially within each segment), the efficiency pattern is put
back (scattered photons are detected by the same crystals) and the result is
scaled so that ``S / (S + T)`` equals the set scatter fraction exactly.

What it captures: scatter follows the activity and the attenuation (it is a
blur of the attenuated trues), extends beyond the object's edge (tails), and
is smooth. Limits: the scatter fraction is the same for every frame and every
activity distribution (a real SF grows with object size and depth of the
source); no energy-window physics, no scatter from activity outside the axial
field of view, and the kernel width does not depend on position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from petsim.acquisition._kernels import bilinear_upsample, block_mean

_FWHM_TO_SIGMA = 1.0 / np.sqrt(8.0 * np.log(2.0))


def _largest_divisor_at_most(n: int, target: float) -> int:
    target = max(1, int(target))
    for f in range(min(target, n), 0, -1):
        if n % f == 0:
            return f
    return 1


def _interp_weights(n_fine: int, factor: int, n_coarse: int, offset: int):
    """Left coarse neighbour and weight of the right one for each fine bin (linear interpolation).

    Coarse sample ``j`` is the mean of fine bins ``(j - offset) * factor ...``;
    ``offset`` counts padding samples in front.
    """
    t = (np.arange(n_fine) + 0.5) / factor - 0.5 + offset
    j0 = np.clip(np.floor(t).astype(np.int64), 0, n_coarse - 2)
    w = np.clip(t - j0, 0.0, 1.0)
    return j0, w.astype(np.float32)


class SinogramLowPass:
    """Wide Gaussian smoothing of sinograms of one layout (computed on a coarser grid).

    Parameters
    ----------
    layout : SinogramLayout
        Needs ``shape``, ``radial_mm``, ``radial_bin_mm``, ``view_angles_rad``,
        ``sinogram_segment`` and ``sinogram_z_mm``.
    fwhm_radial_mm, fwhm_axial_mm : float
        Kernel FWHM radially and axially (mm).
    fwhm_view_deg : float
        Kernel FWHM across views (degrees).

    Notes
    -----
    The kernel is much wider than a bin, so the sinogram is block-averaged
    (about sigma/3 per block), smoothed and linearly interpolated back. Views
    wrap around at 180 degrees with the radial axis mirrored, as sinograms do.
    """

    def __init__(self, layout, fwhm_radial_mm: float, fwhm_axial_mm: float, fwhm_view_deg: float):
        n_sino, n_views, n_rad = layout.shape
        self.shape = (n_sino, n_views, n_rad)
        radial = np.asarray(layout.radial_mm, dtype=float)
        self._mirror = bool(np.allclose(radial, -radial[::-1], atol=1e-3 * layout.radial_bin_mm))
        sig_r = fwhm_radial_mm * _FWHM_TO_SIGMA / layout.radial_bin_mm
        dview = np.pi / n_views
        sig_v = np.deg2rad(fwhm_view_deg) * _FWHM_TO_SIGMA / dview
        self.fr = _largest_divisor_at_most(n_rad, sig_r / 3.0)
        self.fv = _largest_divisor_at_most(n_views, sig_v / 3.0)
        self.sig_r = sig_r / self.fr
        self.sig_v = sig_v / self.fv
        nvc = n_views // self.fv
        self.pad = min(nvc, int(np.ceil(3 * self.sig_v)) + 1)
        self.jr, self.wr = _interp_weights(n_rad, self.fr, n_rad // self.fr, 0)
        self.jv, self.wv = _interp_weights(n_views, self.fv, nvc + 2 * self.pad, self.pad)
        # axial smoothing within each segment, sinograms ordered by z
        seg = np.asarray(layout.sinogram_segment)
        z = np.asarray(layout.sinogram_z_mm, dtype=float)
        self.groups = []
        for s in np.unique(seg):
            idx = np.flatnonzero(seg == s)
            idx = idx[np.argsort(z[idx], kind="stable")]
            dz = np.median(np.diff(z[idx])) if idx.size > 1 else 1.0
            self.groups.append((idx, fwhm_axial_mm * _FWHM_TO_SIGMA / max(dz, 1e-6)))

    def __call__(self, sino: np.ndarray) -> np.ndarray:
        """Smoothed copy of ``sino`` (float32, same shape)."""
        return self.expand(self.coarse(sino))

    @property
    def coarse_shape(self) -> tuple:
        """Shape of :meth:`coarse` (sinograms, views / fv, radial bins / fr)."""
        n_sino, n_views, n_rad = self.shape
        return (n_sino, n_views // self.fv, n_rad // self.fr)

    def coarse(self, sino: np.ndarray) -> np.ndarray:
        """First half of the smoothing: block means, smoothed axially and radially (float32, :attr:`coarse_shape`).

        This is a few percent of the sinogram's size and, with :meth:`expand`, gives
        the smoothed sinogram bit for bit: what a scan stores of a smooth term.
        """
        c = block_mean(sino, self.fv, self.fr)
        for idx, sig in self.groups:
            if idx.size > 1 and sig > 0:
                c[idx] = gaussian_filter1d(c[idx], sig, axis=0, mode="nearest")
        return gaussian_filter1d(c, self.sig_r, axis=2, mode="constant")

    def expand(self, c: np.ndarray) -> np.ndarray:
        """Second half: smoothing across views (wrapping at 180 degrees) and interpolation to the sinogram."""
        if tuple(np.shape(c)) != self.coarse_shape:
            raise ValueError(f"coarse array has shape {np.shape(c)}, expected {self.coarse_shape}")
        p = self.pad
        head, tail = c[:, -p:, :], c[:, :p, :]
        if self._mirror:
            head, tail = head[:, :, ::-1], tail[:, :, ::-1]
        c = np.concatenate([head, c, tail], axis=1)
        c = gaussian_filter1d(c, self.sig_v, axis=1, mode="nearest")
        return bilinear_upsample(c, self.jv, self.wv, self.jr, self.wr, self.shape)


@dataclass(frozen=True)
class ScatterTerm:
    """One frame's expected scatter in the compact form a scan stores.

    ``coarse`` is the pattern-free scatter after :meth:`SinogramLowPass.coarse`
    (float32), ``factor`` the float32 scale that sets the scatter fraction;
    :meth:`sinogram` gives the expected scatter bit for bit as
    :func:`scatter_sinogram` made it.
    """

    coarse: np.ndarray
    factor: float

    def sinogram(self, pattern: np.ndarray, lowpass: SinogramLowPass) -> np.ndarray:
        """Expected scatter counts (float32, sinogram shaped) for the detector ``pattern``."""
        s = lowpass.expand(np.asarray(self.coarse, dtype=np.float32))
        s *= pattern
        np.maximum(s, 0.0, out=s)
        s *= np.float32(self.factor)
        return s


def scatter_term(trues: np.ndarray, pattern: np.ndarray, lowpass: SinogramLowPass,
                 scatter_fraction: float) -> tuple:
    """:class:`ScatterTerm` of these expected trues and its sinogram (see :func:`scatter_sinogram`).

    Returns ``(term, sinogram)``; ``term`` is None when there is no scatter (the sinogram is zeros).
    """
    if not (0.0 <= scatter_fraction < 1.0):
        raise ValueError(f"scatter_fraction must be in [0, 1), got {scatter_fraction!r}")
    total_t = float(np.sum(trues, dtype=np.float64))
    if scatter_fraction == 0 or total_t <= 0:
        return None, np.zeros(np.shape(trues), dtype=np.float32)
    safe = np.where(pattern > 0, pattern, 1.0).astype(np.float32)
    coarse = lowpass.coarse(trues / safe)
    s = lowpass.expand(coarse)
    s *= pattern
    np.maximum(s, 0.0, out=s)
    total_s = float(np.sum(s, dtype=np.float64))
    factor = np.float32(scatter_fraction / (1.0 - scatter_fraction) * total_t / total_s)
    s *= factor
    return ScatterTerm(coarse, float(factor)), s


def scatter_sinogram(trues: np.ndarray, pattern: np.ndarray, lowpass: SinogramLowPass,
                     scatter_fraction: float) -> np.ndarray:
    """Expected scatter for these expected unscattered trues.

    Parameters
    ----------
    trues : ndarray
        Expected unscattered trues (counts or cps), sinogram shaped.
    pattern : ndarray
        Detector efficiency per bin (crystal efficiencies x axial-compression
        weight), divided out before smoothing and put back after.
    lowpass : SinogramLowPass
    scatter_fraction : float
        Target ``S / (S + T)`` in [0, 1).

    Returns
    -------
    ndarray float32, scaled so ``sum(S) = SF / (1 - SF) * sum(T)``.
    """
    return scatter_term(trues, pattern, lowpass, scatter_fraction)[1]
