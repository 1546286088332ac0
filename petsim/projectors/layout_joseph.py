"""The Joseph projector of petsim: specialised to sinogram layouts, fast for simulation and OSEM.

All sinograms of a layout share the transaxial path of a ``(view, radial)``
bin: their LORs differ only in the axial centre ``z`` and slope. This projector
walks that path once per ``(view, radial)`` bin (along the dominant transaxial
axis, Joseph PM, IEEE TMI 1982;1:192) and, at each step, interpolates
bilinearly in the other transaxial axis and in z for every sinogram, so the
cost of the ray walk is shared by the 63 planes of a 2D layout (or the 239
sinograms of the HR+ 3D layout) and the inner loop runs over contiguous z.

It computes the same line integrals (image units x mm) as
:class:`petsim.projectors.JosephProjector` on the layout's LOR end points
(checked in the tests); the adjoint is its exact transpose. Back projection
accumulates into a fixed number of partial images summed in a fixed order,
so results are bit-identical for any thread count.
"""

from __future__ import annotations

import numba
import numpy as np

from petsim.grid import Grid
from petsim.core.linear_operator import LinearOperator
from petsim.projectors.rays import _Threads, check_num_threads

__all__ = ["LayoutJoseph"]

_N_CHUNKS = 8  # partial back-projection images, whatever the thread count (so results do not depend on it)


@numba.njit(cache=True, inline="always")
def _setup_lor(lor, n_r, radial, cos_v, sin_v, radius, origin, vox, nx, ny):
    v = lor // n_r
    r = lor % n_r
    s = radial[r]
    c = cos_v[v]
    sn = sin_v[v]
    h2 = radius * radius - s * s
    h = np.sqrt(h2) if h2 > 0.0 else 0.0
    x_dom = abs(sn) / vox[0] >= abs(c) / vox[1]  # dominant axis in voxel units, as JosephProjector
    if x_dom:
        return v, r, s, c, sn, h, x_dom, nx, origin[0], vox[0], ny, origin[1], vox[1]
    return v, r, s, c, sn, h, x_dom, ny, origin[1], vox[1], nx, origin[0], vox[0]


@numba.njit(cache=True, inline="always")
def _step(j, s, c, sn, x_dom, o0, d0):
    """Transaxial parameter t, the other coordinate and the path length of step ``j``."""
    if x_dom:
        x = o0 + j * d0
        t = (s * c - x) / sn
        return t, s * sn + t * c, d0 / abs(sn)
    y = o0 + j * d0
    t = (y - s * sn) / c
    return t, s * c - t * sn, d0 / abs(c)


@numba.njit(cache=True, inline="always")
def _run_range(t, h, z_first, dz, n, m, oz, vz, nz):
    """z interpolation of a run of sinograms (centres z_first + k * m * vz): first plane index, fraction,
    obliqueness factor and the valid k range [k_lo, k_hi) (planes iz0 + k m and the next inside the grid)."""
    slope = dz / (2.0 * h)
    fz = (z_first + t * slope - oz) / vz
    iz0 = int(np.floor(fz))
    fzz = fz - iz0
    if m == 1:
        k_lo = max(0, -1 - iz0)
        k_hi = min(n, nz - iz0)
    else:
        k_lo = max(0, -((iz0 + 1) // m))            # ceil((-1 - iz0) / m)
        k_hi = min(n, (nz - 1 - iz0) // m + 1) if iz0 <= nz - 1 else 0
    return iz0, fzz, np.sqrt(1.0 + slope * slope), k_lo, k_hi


@numba.njit(cache=True, parallel=True)
def _forward(img, cos_v, sin_v, radial, run_first, run_n, run_m, run_z, run_dz, radius, origin, vox, out):
    """``img`` is zero padded by one voxel on every side."""
    nx, ny, nz = img.shape[0] - 2, img.shape[1] - 2, img.shape[2] - 2
    n_sino, n_v, n_r = out.shape
    for lor in numba.prange(n_v * n_r):
        v, r, s, c, sn, h, x_dom, n0, o0, d0, n1, o1, d1 = _setup_lor(lor, n_r, radial, cos_v, sin_v, radius,
                                                                        origin, vox, nx, ny)
        if h <= 0.0:
            continue
        acc = np.zeros(n_sino, np.float32)
        for j in range(n0):
            t, q, w = _step(j, s, c, sn, x_dom, o0, d0)
            if abs(t) > h:
                continue
            fq = (q - o1) / d1
            i1 = int(np.floor(fq))
            if i1 < -1 or i1 >= n1:
                continue
            f1 = np.float32(fq - i1)
            for run in range(run_n.size):
                m = run_m[run]
                iz0, fzz, ob, k_lo, k_hi = _run_range(t, h, run_z[run], run_dz[run], run_n[run], m,
                                                      origin[2], vox[2], nz)
                k0 = run_first[run]
                wz0 = np.float32(w * ob * (1.0 - fzz))
                wz1 = np.float32(w * ob * fzz)
                if x_dom:
                    a0 = img[j + 1, i1 + 1]
                    a1 = img[j + 1, i1 + 2]
                else:
                    a0 = img[i1 + 1, j + 1]
                    a1 = img[i1 + 2, j + 1]
                g1 = np.float32(1.0) - f1
                if wz1 == 0.0:  # sinogram planes on grid planes (2D layouts): one plane only
                    for k in range(k_lo, k_hi):
                        iz = iz0 + k * m + 1
                        acc[k0 + k] += wz0 * (g1 * a0[iz] + f1 * a1[iz])
                else:
                    for k in range(k_lo, k_hi):
                        iz = iz0 + k * m + 1
                        acc[k0 + k] += wz0 * (g1 * a0[iz] + f1 * a1[iz]) + wz1 * (g1 * a0[iz + 1] + f1 * a1[iz + 1])
        for k in range(n_sino):
            out[k, v, r] = acc[k]


@numba.njit(cache=True, parallel=True)
def _back(sino, cos_v, sin_v, radial, run_first, run_n, run_m, run_z, run_dz, radius, origin, vox, parts):
    """Accumulate into ``parts[chunk]`` (zero-padded images), one chunk of LORs per part."""
    n_sino, n_v, n_r = sino.shape
    n_chunks = parts.shape[0]
    nx, ny, nz = parts.shape[1] - 2, parts.shape[2] - 2, parts.shape[3] - 2
    n_lor = n_v * n_r
    for chunk in numba.prange(n_chunks):
        img = parts[chunk]
        yv = np.empty(n_sino, np.float32)
        for lor in range(chunk * n_lor // n_chunks, (chunk + 1) * n_lor // n_chunks):
            v, r, s, c, sn, h, x_dom, n0, o0, d0, n1, o1, d1 = _setup_lor(lor, n_r, radial, cos_v, sin_v, radius,
                                                                            origin, vox, nx, ny)
            if h <= 0.0:
                continue
            any_nonzero = False
            for k in range(n_sino):
                yv[k] = sino[k, v, r]
                if yv[k] != 0.0:
                    any_nonzero = True
            if not any_nonzero:
                continue
            for j in range(n0):
                t, q, w = _step(j, s, c, sn, x_dom, o0, d0)
                if abs(t) > h:
                    continue
                fq = (q - o1) / d1
                i1 = int(np.floor(fq))
                if i1 < -1 or i1 >= n1:
                    continue
                f1 = np.float32(fq - i1)
                g1 = np.float32(1.0) - f1
                for run in range(run_n.size):
                    m = run_m[run]
                    iz0, fzz, ob, k_lo, k_hi = _run_range(t, h, run_z[run], run_dz[run], run_n[run], m,
                                                          origin[2], vox[2], nz)
                    k0 = run_first[run]
                    wz0 = np.float32(w * ob * (1.0 - fzz))
                    wz1 = np.float32(w * ob * fzz)
                    if x_dom:
                        a0 = img[j + 1, i1 + 1]
                        a1 = img[j + 1, i1 + 2]
                    else:
                        a0 = img[i1 + 1, j + 1]
                        a1 = img[i1 + 2, j + 1]
                    if wz1 == 0.0:
                        for k in range(k_lo, k_hi):
                            iz = iz0 + k * m + 1
                            y = wz0 * yv[k0 + k]
                            a0[iz] += g1 * y
                            a1[iz] += f1 * y
                    else:
                        for k in range(k_lo, k_hi):
                            iz = iz0 + k * m + 1
                            y = yv[k0 + k]
                            a0[iz] += wz0 * g1 * y
                            a1[iz] += wz0 * f1 * y
                            a0[iz + 1] += wz1 * g1 * y
                            a1[iz + 1] += wz1 * f1 * y


def _runs(z, dz, vz):
    """Group consecutive sinograms whose slopes are equal and whose centres step by a whole number m >= 1
    of voxels in z (m = 1 on a grid of the sinograms' plane spacing, 2 on a twice finer simulation grid)."""
    first, step = [0], [1]
    for k in range(1, len(z)):
        m = int(round((z[k] - z[k - 1]) / vz))
        same_slope = abs(dz[k] - dz[k - 1]) < 1e-6 * max(1.0, abs(dz[k]))
        on_lattice = m >= 1 and abs(z[k] - z[k - 1] - m * vz) < 1e-6 * vz
        if same_slope and on_lattice and (k - first[-1] == 1 or m == step[-1]):
            step[-1] = m
        else:
            first.append(k)
            step.append(1)
    first = np.asarray(first, dtype=np.int64)
    n = np.diff(np.append(first, len(z))).astype(np.int64)
    return (first, n, np.asarray(step, dtype=np.int64), np.asarray(z, np.float64)[first],
            np.asarray(dz, np.float64)[first])


class LayoutJoseph(LinearOperator):
    """Joseph projector for the bins ``(sinogram, views, radial)`` of a sinogram layout: petsim's projector.

    Registered as ``"joseph"`` in :func:`petsim.projectors.get_projector`.

    Parameters
    ----------
    grid : Grid
    layout : SinogramLayout
        Must provide ``lor_parameters(views)`` -> ``(cos_phi, sin_phi, radial_mm,
        z_mm, dz_mm, radius_mm)`` (see :mod:`petsim.scanner.layout`).
    views : array_like of int or LayoutSubset, optional
        View indices (a subset, e.g. ``layout.subset(k, n_subsets)``); all if None.
    num_threads : int, optional
        Threads for numba (default: numba's current setting). Results are
        bit-identical for any thread count (the back projection accumulates 8
        partial images, summed in a fixed order; more than 8 threads do not help it).

    Examples
    --------
    >>> from petsim import Grid
    >>> from petsim.scanner import get_scanner
    >>> layout = get_scanner("hrplus").layout_2d(view_mashing=2)
    >>> P = LayoutJoseph(Grid((64, 64, 63), (4.5, 4.5, 2.425)), layout, views=layout.subset(0, 16))
    >>> P.out_shape
    (63, 9, 288)
    """

    def __init__(self, grid: Grid, layout, views=None, num_threads: int | None = None):
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be a petsim.Grid, got {type(grid).__name__}")
        if not hasattr(layout, "lor_parameters"):
            raise TypeError(f"layout must be a petsim.scanner.SinogramLayout, got {type(layout).__name__}")
        views = getattr(views, "views", views)
        c, s, radial, z, dz, radius = layout.lor_parameters(views)
        self.grid = grid
        self.layout = layout
        self.num_threads = check_num_threads(num_threads)
        runs = _runs(np.asarray(z, float), np.asarray(dz, float), grid.voxel_size_mm[2])
        self._geom = (np.ascontiguousarray(c, np.float64), np.ascontiguousarray(s, np.float64),
                      np.ascontiguousarray(radial, np.float64), *runs, float(radius),
                      np.asarray(grid.origin_mm, np.float64), np.asarray(grid.voxel_size_mm, np.float64))
        self.in_shape = tuple(grid.shape)
        self.out_shape = (len(z), len(c), len(radial))

    def _forward(self, x):
        padded = np.zeros(tuple(n + 2 for n in self.in_shape), np.float32)
        padded[1:-1, 1:-1, 1:-1] = x
        out = np.zeros(self.out_shape, np.float32)
        with _Threads(self.num_threads):
            _forward(padded, *self._geom, out)
        return out

    def _adjoint(self, y):
        parts = np.zeros((_N_CHUNKS,) + tuple(n + 2 for n in self.in_shape), np.float32)
        with _Threads(self.num_threads):
            _back(y, *self._geom, parts)
        out = parts[0].astype(np.float64)
        for p in parts[1:]:
            out += p
        return out[1:-1, 1:-1, 1:-1].astype(np.float32)
