"""Voxelwise parametric maps: basis-function SRTM (Gunn et al., NeuroImage 1997), MRTM2 and Logan reference.

All three are linear once the basis is fixed, so every voxel is fitted by a
few matrix products over (frames x voxels) blocks; no loop runs over voxels.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from ._frames import MIN_FRAMES, FrameSampler, check_frames, check_reference, check_weights, fit_frames, integral_to_mid
from .linear import logan_axes

#: Voxels per block (bounds memory to a few tens of MB per block).
BLOCK_VOXELS = 32768


def _voxels(image4d, mask, n_frames):
    img = np.asarray(image4d)
    if img.ndim != 4:
        raise ValueError(f"image4d must be 4D (x, y, z, frame), got shape {img.shape}")
    if img.shape[3] != n_frames:
        raise ValueError(f"image4d has {img.shape[3]} frames but there are {n_frames} frame times")
    if mask is None:
        mask = np.ones(img.shape[:3], dtype=bool)
    else:
        mask = np.asarray(mask).astype(bool)
        if mask.shape != img.shape[:3]:
            raise ValueError(f"mask has shape {mask.shape}, expected {img.shape[:3]}")
    data = img[mask]
    if not np.all(np.isfinite(data)):
        raise ValueError("image4d contains NaN or infinite values inside the mask")
    return img.shape[:3], mask, data


def _unmask(values, mask, shape):
    out = np.full(shape, np.nan, dtype=np.float32)
    out[mask] = values
    return out


def _blocks(n, desc, progress):
    starts = range(0, n, BLOCK_VOXELS)
    return tqdm(starts, desc=desc, disable=True if not progress or n <= BLOCK_VOXELS else None, leave=False)


def bfsrtm_map(image4d, ref_tac, frame_start_min, frame_end_min, mask=None, weights=None, n_basis=100,
               k2a_range=(0.006, 1.0), progress=True) -> dict:
    """Basis-function SRTM maps.

    For each basis rate theta in a log-spaced set, ``C_T = R1 C_R + b C_R (*) exp(-theta t)``
    is a 2-parameter linear fit; each voxel keeps the basis with the least
    weighted RSS. BP_ND = R1 + b/theta - 1, k2 = R1 theta + b, k2a = theta.

    Parameters
    ----------
    image4d : ndarray (x, y, z, frame)
        Frame-mean activity (Bq/mL).
    ref_tac : array_like
        Reference TAC (Bq/mL).
    mask : ndarray of bool, optional
        Voxels to fit (others are NaN in the maps).
    n_basis, k2a_range : int, (float, float)
        Number and range (1/min) of the log-spaced basis rates.

    Returns
    -------
    dict
        ``BP_ND``, ``R1``, ``k2``, ``k2a`` maps (float32, x, y, z) and
        ``at_bound`` (bool map: best basis at either end of the range; the
        estimate there is unreliable).
    """
    start, end = check_frames(frame_start_min, frame_end_min)
    cr = check_reference(ref_tac, start.size)
    w = check_weights(weights, start.size)
    lo, hi = k2a_range
    if not (0 < lo < hi) or n_basis < 2:
        raise ValueError(f"k2a_range must be 0 < low < high (1/min) and n_basis >= 2, got {k2a_range!r}, {n_basis!r}")
    shape, mask, data = _voxels(image4d, mask, start.size)
    thetas = np.geomspace(lo, hi, int(n_basis))
    conv = FrameSampler(start, end).conv_exp(cr, thetas)  # (n_basis, nf)
    sw = np.sqrt(w)
    # One thin QR per basis, computed once: Q (nf x 2) and R^-1 (2 x 2).
    qs, rinv = [], []
    for c in conv:
        q, r = np.linalg.qr(np.column_stack([cr, c]) * sw[:, None])
        qs.append(q)
        rinv.append(np.linalg.inv(r))
    Qall = np.concatenate(qs, axis=1)  # (nf, 2 n_basis)
    nv = data.shape[0]
    best = np.zeros(nv, dtype=np.intp)
    coef = np.zeros((nv, 2))
    for s in _blocks(nv, "BF-SRTM", progress):
        Y = data[s:s + BLOCK_VOXELS].astype(np.float64) * sw[None, :]
        P = Y @ Qall  # projections onto every basis' column space
        P = P.reshape(Y.shape[0], len(qs), 2)
        explained = np.einsum("vbk,vbk->vb", P, P)
        b = np.argmax(explained, axis=1)
        pb = P[np.arange(Y.shape[0]), b]  # (v, 2) = Q^T y
        ri = np.stack(rinv)[b]  # (v, 2, 2)
        coef[s:s + BLOCK_VOXELS] = np.einsum("vij,vj->vi", ri, pb)
        best[s:s + BLOCK_VOXELS] = b
    theta = thetas[best]
    r1 = coef[:, 0]
    bp = r1 + coef[:, 1] / theta - 1.0
    return {"BP_ND": _unmask(bp, mask, shape), "R1": _unmask(r1, mask, shape),
            "k2": _unmask(r1 * theta + coef[:, 1], mask, shape), "k2a": _unmask(theta, mask, shape),
            "at_bound": _unmask((best == 0) | (best == thetas.size - 1), mask, shape) > 0}


def _simple_wls_2(x1, x2, y, w):
    """Per-row weighted LS of y on two columns (x1 may be 1D shared, x2 and y 2D (v, nf))."""
    a11 = np.sum(w * x1 * x1, axis=-1)
    a12 = np.sum(w * x1 * x2, axis=-1)
    a22 = np.sum(w * x2 * x2, axis=-1)
    b1 = np.sum(w * x1 * y, axis=-1)
    b2 = np.sum(w * x2 * y, axis=-1)
    det = a11 * a22 - a12 * a12
    with np.errstate(divide="ignore", invalid="ignore"):
        c1 = (a22 * b1 - a12 * b2) / det
        c2 = (a11 * b2 - a12 * b1) / det
    return c1, c2


def mrtm2_map(image4d, ref_tac, frame_start_min, frame_end_min, mask=None, k2_ref=None, t_star_min=0.0,
              weights=None, progress=True) -> dict:
    """MRTM2 maps (Ichise et al., JCBFM 2003) with a fixed reference efflux k2' (1/min).

    If ``k2_ref`` is None it is estimated as the median k2/R1 of a BF-SRTM
    pass over the top quartile of BP_ND in the mask (Ichise's recipe: take k2'
    from high-binding regions), and returned as ``k2_ref``.

    Returns
    -------
    dict
        ``BP_ND``, ``R1``, ``k2a`` maps (float32) and ``k2_ref`` (float).
    """
    start, end = check_frames(frame_start_min, frame_end_min)
    cr = check_reference(ref_tac, start.size)
    w = check_weights(weights, start.size)
    use = fit_frames(start, end, t_star_min, None, min_frames=MIN_FRAMES["mrtm2"], model="MRTM2")
    shape, mask, data = _voxels(image4d, mask, start.size)
    if k2_ref is None:
        bf = bfsrtm_map(image4d, cr, start, end, mask=mask, weights=w, progress=progress)
        bp = bf["BP_ND"][mask]
        ok = np.isfinite(bp) & ~bf["at_bound"][mask] & (bf["R1"][mask] > 0)
        if not np.any(ok):
            raise ValueError("could not estimate k2_ref from BF-SRTM; pass k2_ref (1/min)")
        high = ok & (bp >= np.quantile(bp[ok], 0.75))
        k2_ref = float(np.median(bf["k2"][mask][high] / bf["R1"][mask][high]))
    if not (np.isfinite(k2_ref) and k2_ref > 0):
        raise ValueError(f"k2_ref must be positive (1/min), got {k2_ref!r}")
    x1 = (integral_to_mid(start, end, cr) + cr / k2_ref)[use]
    nv = data.shape[0]
    k2 = np.empty(nv)
    k2a = np.empty(nv)
    for s in _blocks(nv, "MRTM2", progress):
        Y = data[s:s + BLOCK_VOXELS].astype(np.float64)
        x2 = -integral_to_mid(start, end, Y)[:, use]
        c1, c2 = _simple_wls_2(x1[None, :], x2, Y[:, use], w[use][None, :])
        k2[s:s + BLOCK_VOXELS], k2a[s:s + BLOCK_VOXELS] = c1, c2
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = k2 / k2a - 1.0
    return {"BP_ND": _unmask(bp, mask, shape), "R1": _unmask(k2 / k2_ref, mask, shape),
            "k2a": _unmask(k2a, mask, shape), "k2_ref": float(k2_ref)}


def logan_ref_map(image4d, ref_tac, frame_start_min, frame_end_min, t_star_min, mask=None, k2_ref=None,
                  window_min=None, weights=None, progress=True) -> dict:
    """Logan reference maps: DVR = slope after t*, BP_ND = DVR - 1.

    Voxels whose TAC is <= 0 in a fitted frame get NaN.

    Returns
    -------
    dict
        ``BP_ND``, ``DVR`` and ``intercept`` (min) maps (float32).
    """
    start, end = check_frames(frame_start_min, frame_end_min)
    cr = check_reference(ref_tac, start.size)
    w = check_weights(weights, start.size)
    use = fit_frames(start, end, t_star_min, window_min, min_frames=MIN_FRAMES["logan_ref"], model="Logan reference")
    shape, mask, data = _voxels(image4d, mask, start.size)
    nv = data.shape[0]
    dvr = np.empty(nv)
    icpt = np.empty(nv)
    for s in _blocks(nv, "Logan", progress):
        Y = data[s:s + BLOCK_VOXELS].astype(np.float64)
        x, y = logan_axes(start, end, Y, cr, k2_ref)
        x, y = x[:, use], y[:, use]
        ww = w[use][None, :]
        sw = np.sum(ww * np.ones_like(x), axis=-1)
        mx = np.sum(ww * x, axis=-1) / sw
        my = np.sum(ww * y, axis=-1) / sw
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.sum(ww * (x - mx[:, None]) * (y - my[:, None]), axis=-1) / np.sum(ww * (x - mx[:, None]) ** 2, axis=-1)
        dvr[s:s + BLOCK_VOXELS] = slope
        icpt[s:s + BLOCK_VOXELS] = my - slope * mx
    return {"BP_ND": _unmask(dvr - 1.0, mask, shape), "DVR": _unmask(dvr, mask, shape),
            "intercept": _unmask(icpt, mask, shape)}
