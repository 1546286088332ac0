"""Numba ray tracers shared by the projectors.

Images are passed flattened (C order of ``(nx, ny, nz)``) with their strides,
so one traversal routine serves every dominant axis. Positions are float64,
interpolation weights and image values float32. The same routine gathers
(forward) or scatters (back projection) with the same weights, so the two are
transposes of each other up to float32 rounding.

Back projection is race-free: the LORs are cut into ``n_chunks`` contiguous
chunks, each accumulated into its own image (``bufs``, zeroed by the caller),
and the chunk images are summed in a fixed order. The result therefore depends
on ``n_chunks`` but not on the number of threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

# Joseph kernels may reorder and contract floating-point operations (about 2x faster). NaN/inf
# stay well defined: inputs are checked for finiteness before any kernel runs.
FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}


@njit(cache=True, fastmath=FAST)
def _k_interval(lo, hi, ua0, u0, slope, low, high):
    """Narrow [lo, hi] (dominant-axis plane coordinate) to where u0 + (k - ua0) * slope lies in [low, high]."""
    if low > high:  # e.g. the interior of an axis one voxel wide
        return 1.0, 0.0
    if slope == 0.0:
        if u0 < low or u0 > high:
            return 1.0, 0.0
        return lo, hi
    ka = ua0 + (low - u0) / slope
    kb = ua0 + (high - u0) / slope
    if ka > kb:
        ka, kb = kb, ka
    return max(lo, ka), min(hi, kb)


@njit(cache=True, fastmath=FAST)
def _edge_sample(img, base, ub, uc, nb, nc, sb, sc, weight, back):
    """One Joseph sample next to the image border: bilinear weights with out-of-image corners dropped."""
    fb = math.floor(ub)
    fc = math.floor(uc)
    ib = int(fb)
    ic = int(fc)
    wb1 = ub - fb
    wc1 = uc - fc
    total = 0.0
    for jb in range(2):
        ibb = ib + jb
        if ibb < 0 or ibb >= nb:
            continue
        wb = wb1 if jb else 1.0 - wb1
        for jc in range(2):
            icc = ic + jc
            if icc < 0 or icc >= nc:
                continue
            w = wb * (wc1 if jc else 1.0 - wc1)
            idx = base + ibb * sb + icc * sc
            if back:
                img[idx] += np.float32(weight * w)
            else:
                total += w * img[idx]
    return total


@njit(cache=True, fastmath=FAST)
def _joseph_line(img, ua0, dua, na, sa, ub0, dub, nb, sb, uc0, duc, nc, sc, step_mm, value, back):
    """Walk the planes k of the dominant axis a; bilinear interpolation in (b, c) at u_a = k."""
    slope_b = dub / dua
    slope_c = duc / dua
    # planes inside the segment and the image, where the bilinear footprint touches the image
    lo = max(min(ua0, ua0 + dua), 0.0)
    hi = min(max(ua0, ua0 + dua), na - 1.0)
    lo, hi = _k_interval(lo, hi, ua0, ub0, slope_b, -1.0, float(nb))
    lo, hi = _k_interval(lo, hi, ua0, uc0, slope_c, -1.0, float(nc))
    k_lo = int(math.ceil(lo))
    k_hi = int(math.floor(hi))
    if k_lo > k_hi:
        return 0.0
    # interior planes: all four corners inside (0 <= floor(u) <= n - 2), with a safety margin
    ilo, ihi = _k_interval(lo, hi, ua0, ub0, slope_b, 1e-6, nb - 1.0 - 1e-6)
    ilo, ihi = _k_interval(ilo, ihi, ua0, uc0, slope_c, 1e-6, nc - 1.0 - 1e-6)
    i_lo = int(math.ceil(ilo))
    i_hi = int(math.floor(ihi))
    if i_lo > i_hi:
        i_lo = k_hi + 1
        i_hi = k_hi
    weight = value * step_mm
    total = 0.0
    for k in range(k_lo, i_lo):
        t = k - ua0
        total += _edge_sample(img, k * sa, ub0 + t * slope_b, uc0 + t * slope_c, nb, nc, sb, sc, weight, back)
    # interior: positions advance by the slopes (the same arithmetic in both directions keeps
    # forward and back projection exact transposes)
    ub = ub0 + (i_lo - ua0) * slope_b
    uc = uc0 + (i_lo - ua0) * slope_c
    # Bilinear weights as products of (1 - w) and w, never as a + w (b - a): under the reassociation
    # that FAST allows, the difference form of a non-negative image can round below zero (a negative
    # line integral of a non-negative activity); sums of non-negative products cannot.
    one = np.float32(1.0)
    if back:
        weight32 = np.float32(weight)
        for k in range(i_lo, i_hi + 1):
            ib = int(ub)
            ic = int(uc)
            wb1 = np.float32(ub - ib)
            wc1 = np.float32(uc - ic)
            i00 = k * sa + ib * sb + ic * sc
            w0 = weight32 * (one - wb1)
            w1 = weight32 * wb1
            img[i00] += w0 * (one - wc1)
            img[i00 + sc] += w0 * wc1
            img[i00 + sb] += w1 * (one - wc1)
            img[i00 + sb + sc] += w1 * wc1
            ub += slope_b
            uc += slope_c
    else:
        acc = np.float32(0.0)
        for k in range(i_lo, i_hi + 1):
            ib = int(ub)
            ic = int(uc)
            wb1 = np.float32(ub - ib)
            wc1 = np.float32(uc - ic)
            wc0 = one - wc1
            i00 = k * sa + ib * sb + ic * sc
            v0 = wc0 * img[i00] + wc1 * img[i00 + sc]
            v1 = wc0 * img[i00 + sb] + wc1 * img[i00 + sb + sc]
            acc += (one - wb1) * v0 + wb1 * v1
            ub += slope_b
            uc += slope_c
        total += acc
    for k in range(i_hi + 1, k_hi + 1):
        t = k - ua0
        total += _edge_sample(img, k * sa, ub0 + t * slope_b, uc0 + t * slope_c, nb, nc, sb, sc, weight, back)
    return total * step_mm


@njit(cache=True, fastmath=FAST)
def joseph_ray(img, x0, y0, z0, x1, y1, z1, origin, vox, shape, strides, value, back):
    """Joseph line integral of the segment (x0,y0,z0)->(x1,y1,z1) (mm); if ``back``, add ``value`` x its weights.

    The dominant axis is the one the segment crosses most voxel planes of; the
    step between its planes is ``step_mm`` along the line.
    """
    ux = (x0 - origin[0]) / vox[0]
    uy = (y0 - origin[1]) / vox[1]
    uz = (z0 - origin[2]) / vox[2]
    dx = (x1 - x0) / vox[0]
    dy = (y1 - y0) / vox[1]
    dz = (z1 - z0) / vox[2]
    ax, ay, az = abs(dx), abs(dy), abs(dz)
    if ax == 0.0 and ay == 0.0 and az == 0.0:
        return 0.0
    length_mm = math.sqrt((x1 - x0) ** 2 + (y1 - y0) ** 2 + (z1 - z0) ** 2)
    nx, ny, nz = shape[0], shape[1], shape[2]
    sx, sy, sz = strides[0], strides[1], strides[2]
    if ax >= ay and ax >= az:
        return _joseph_line(img, ux, dx, nx, sx, uy, dy, ny, sy, uz, dz, nz, sz, length_mm / ax, value, back)
    if ay >= az:
        return _joseph_line(img, uy, dy, ny, sy, ux, dx, nx, sx, uz, dz, nz, sz, length_mm / ay, value, back)
    return _joseph_line(img, uz, dz, nz, sz, ux, dx, nx, sx, uy, dy, ny, sy, length_mm / az, value, back)


@njit(cache=True)
def _siddon_axis(p0, d, o, v, n, a_min, a_max):
    """Slab test for one axis: (in, a_min, a_max, e0, de)."""
    e0 = (p0 - o) / v + 0.5
    de = d / v
    if de == 0.0:
        return (e0 > 0.0 and e0 < n), a_min, a_max, e0, de
    a0 = -e0 / de
    a1 = (n - e0) / de
    return True, max(a_min, min(a0, a1)), min(a_max, max(a0, a1)), e0, de


@njit(cache=True)
def _siddon_start(e0, de, a_min, n):
    """First voxel index, next crossing parameter, parameter increment and index step along one axis."""
    em = e0 + a_min * de
    if de > 0.0:
        i = min(max(int(math.floor(em)), 0), n - 1)
        return i, (i + 1 - e0) / de, 1.0 / de, 1
    if de < 0.0:
        i = min(max(int(math.ceil(em)) - 1, 0), n - 1)
        return i, (i - e0) / de, -1.0 / de, -1
    return int(math.floor(em)), np.inf, np.inf, 0


@njit(cache=True)
def siddon_ray(img, x0, y0, z0, x1, y1, z1, origin, vox, shape, strides, value, back):
    """Siddon: exact intersection lengths (mm) of the segment with the voxels; gather or scatter like ``joseph_ray``."""
    dx, dy, dz = x1 - x0, y1 - y0, z1 - z0
    length_mm = math.sqrt(dx * dx + dy * dy + dz * dz)
    if length_mm == 0.0:
        return 0.0
    nx, ny, nz = shape[0], shape[1], shape[2]
    ok_x, a_min, a_max, ex, dex = _siddon_axis(x0, dx, origin[0], vox[0], nx, 0.0, 1.0)
    ok_y, a_min, a_max, ey, dey = _siddon_axis(y0, dy, origin[1], vox[1], ny, a_min, a_max)
    ok_z, a_min, a_max, ez, dez = _siddon_axis(z0, dz, origin[2], vox[2], nz, a_min, a_max)
    if not (ok_x and ok_y and ok_z) or a_min >= a_max:
        return 0.0
    ix, nxt_x, da_x, st_x = _siddon_start(ex, dex, a_min, nx)
    iy, nxt_y, da_y, st_y = _siddon_start(ey, dey, a_min, ny)
    iz, nxt_z, da_z, st_z = _siddon_start(ez, dez, a_min, nz)
    sx, sy, sz = strides[0], strides[1], strides[2]
    total = 0.0
    w_back = value * length_mm
    a_cur = a_min
    while True:
        a_next = min(nxt_x, nxt_y, nxt_z, a_max)
        seg = a_next - a_cur
        if seg > 0.0:
            flat = ix * sx + iy * sy + iz * sz
            if back:
                img[flat] += np.float32(w_back * seg)
            else:
                total += seg * img[flat]
        if a_next >= a_max:
            break
        if nxt_x <= a_next:
            ix += st_x
            nxt_x += da_x
        if nxt_y <= a_next:
            iy += st_y
            nxt_y += da_y
        if nxt_z <= a_next:
            iz += st_z
            nxt_z += da_z
        if ix < 0 or ix >= nx or iy < 0 or iy >= ny or iz < 0 or iz >= nz:
            break
        a_cur = a_next
    return total * length_mm


@njit(parallel=True, cache=True, fastmath=FAST)
def joseph_forward(img, start, end, origin, vox, shape, strides, out):
    for n in prange(start.shape[0]):
        out[n] = joseph_ray(img, start[n, 0], start[n, 1], start[n, 2], end[n, 0], end[n, 1], end[n, 2],
                            origin, vox, shape, strides, 0.0, False)


@njit(parallel=True, cache=True)
def siddon_forward(img, start, end, origin, vox, shape, strides, out):
    for n in prange(start.shape[0]):
        out[n] = siddon_ray(img, start[n, 0], start[n, 1], start[n, 2], end[n, 0], end[n, 1], end[n, 2],
                            origin, vox, shape, strides, 0.0, False)


@njit(parallel=True, cache=True, fastmath=FAST)
def joseph_back(values, start, end, origin, vox, shape, strides, bufs, out):
    n_lor = start.shape[0]
    n_chunks = bufs.shape[0]
    for ch in prange(n_chunks):
        buf = bufs[ch]
        for n in range(ch * n_lor // n_chunks, (ch + 1) * n_lor // n_chunks):
            v = values[n]
            if v != 0.0:
                joseph_ray(buf, start[n, 0], start[n, 1], start[n, 2], end[n, 0], end[n, 1], end[n, 2],
                           origin, vox, shape, strides, v, True)
    for j in prange(out.shape[0]):
        s = np.float32(0.0)
        for ch in range(n_chunks):
            s += bufs[ch, j]
        out[j] = s


@njit(parallel=True, cache=True)
def siddon_back(values, start, end, origin, vox, shape, strides, bufs, out):
    n_lor = start.shape[0]
    n_chunks = bufs.shape[0]
    for ch in prange(n_chunks):
        buf = bufs[ch]
        for n in range(ch * n_lor // n_chunks, (ch + 1) * n_lor // n_chunks):
            v = values[n]
            if v != 0.0:
                siddon_ray(buf, start[n, 0], start[n, 1], start[n, 2], end[n, 0], end[n, 1], end[n, 2],
                           origin, vox, shape, strides, v, True)
    for j in prange(out.shape[0]):
        s = np.float32(0.0)
        for ch in range(n_chunks):
            s += bufs[ch, j]
        out[j] = s


# ---- on-the-fly LORs of a sinogram layout (no end-point arrays) ---------------------------------


@njit(cache=True)
def layout_lor(n, cos_phi, sin_phi, radial, z_mid, dz, radius):
    """End points (mm) of flat bin ``n`` of a (sinogram, view, radial) block; see petsim.scanner.layout."""
    n_v = cos_phi.shape[0]
    n_r = radial.shape[0]
    i_s = n // (n_v * n_r)
    rem = n - i_s * n_v * n_r
    i_v = rem // n_r
    i_r = rem - i_v * n_r
    c = cos_phi[i_v]
    s = sin_phi[i_v]
    r = radial[i_r]
    h = math.sqrt(radius * radius - r * r)
    mx = r * c
    my = r * s
    zc = z_mid[i_s]
    hz = 0.5 * dz[i_s]
    return mx + h * s, my - h * c, zc - hz, mx - h * s, my + h * c, zc + hz


@njit(parallel=True, cache=True)
def siddon_forward_layout(img, cos_phi, sin_phi, radial, z_mid, dz, radius, origin, vox, shape, strides, out):
    for n in prange(out.shape[0]):
        x0, y0, z0, x1, y1, z1 = layout_lor(n, cos_phi, sin_phi, radial, z_mid, dz, radius)
        out[n] = siddon_ray(img, x0, y0, z0, x1, y1, z1, origin, vox, shape, strides, 0.0, False)


@njit(parallel=True, cache=True)
def siddon_back_layout(values, cos_phi, sin_phi, radial, z_mid, dz, radius, origin, vox, shape, strides,
                       bufs, out):
    n_lor = values.shape[0]
    n_chunks = bufs.shape[0]
    for ch in prange(n_chunks):
        buf = bufs[ch]
        for n in range(ch * n_lor // n_chunks, (ch + 1) * n_lor // n_chunks):
            v = values[n]
            if v != 0.0:
                x0, y0, z0, x1, y1, z1 = layout_lor(n, cos_phi, sin_phi, radial, z_mid, dz, radius)
                siddon_ray(buf, x0, y0, z0, x1, y1, z1, origin, vox, shape, strides, v, True)
    for j in prange(out.shape[0]):
        s = np.float32(0.0)
        for ch in range(n_chunks):
            s += bufs[ch, j]
        out[j] = s
