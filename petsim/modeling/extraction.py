"""Regional TACs from a 4D image: label images, partial-volume fraction maps, spherical VOIs and their centres."""

from __future__ import annotations

import numpy as np


def extract_tacs(image4d, labels, names_by_id: dict, fractions=None) -> dict:
    """Mean TAC of each labelled region.

    Parameters
    ----------
    image4d : ndarray (x, y, z, frame)
        Activity (Bq/mL).
    labels : ndarray of int (x, y, z), or ndarray of bool
        Label image (used when ``fractions`` is None).
    names_by_id : dict int -> str
        Region names by label value.
    fractions : dict, optional
        Partial-volume fraction maps (x, y, z) keyed by label id or name; the
        TAC is then the fraction-weighted mean ``sum f I / sum f``.

    Returns
    -------
    dict name -> ndarray (frame,)
    """
    img = np.asarray(image4d)
    if img.ndim != 4:
        raise ValueError(f"image4d must be 4D (x, y, z, frame), got shape {img.shape}")
    flat = img.reshape(-1, img.shape[3])
    lab = np.asarray(labels)
    if lab.shape != img.shape[:3]:
        raise ValueError(f"labels has shape {lab.shape}, expected {img.shape[:3]}")
    out = {}
    for rid, name in names_by_id.items():
        frac = None
        if fractions is not None:
            frac = fractions.get(rid, fractions.get(name))
        if frac is not None:
            f = np.asarray(frac, dtype=float)
            if f.shape != img.shape[:3]:
                raise ValueError(f"fraction map of {name!r} has shape {f.shape}, expected {img.shape[:3]}")
            if np.any(f < 0) or not np.all(np.isfinite(f)):
                raise ValueError(f"fraction map of {name!r} must be finite and >= 0")
            f = f.ravel()
            total = f.sum()
            if total <= 0:
                raise ValueError(f"fraction map of {name!r} is zero everywhere")
            nz = np.flatnonzero(f)
            out[name] = (f[nz] @ flat[nz].astype(np.float64)) / total
        else:
            sel = np.flatnonzero(lab.ravel() == rid)
            if sel.size == 0:
                raise ValueError(f"label {rid} ({name!r}) has no voxels")
            out[name] = flat[sel].astype(np.float64).mean(axis=0)
    return out


def spherical_voi(grid, centre_mm, diameter_mm=9.0) -> np.ndarray:
    """Boolean mask of the voxels whose centres lie within a sphere.

    Parameters
    ----------
    grid : petsim.grid.Grid (or anything with ``coordinates_mm()``)
    centre_mm : (x, y, z) in mm, scanner coordinates
    diameter_mm : float
        Sphere diameter (mm); 9 mm by default.
    """
    c = np.asarray(centre_mm, dtype=float)
    if c.shape != (3,) or not np.all(np.isfinite(c)):
        raise ValueError(f"centre_mm must be three finite numbers (mm), got {centre_mm!r}")
    if not (np.isfinite(diameter_mm) and diameter_mm > 0):
        raise ValueError(f"diameter_mm must be positive, got {diameter_mm!r}")
    X, Y, Z = grid.coordinates_mm(sparse=True)
    mask = (X - c[0]) ** 2 + (Y - c[1]) ** 2 + (Z - c[2]) ** 2 <= (0.5 * diameter_mm) ** 2
    if not mask.any():
        raise ValueError(f"a {diameter_mm} mm sphere at {tuple(c)} mm contains no voxel centre of the grid")
    return mask


def region_centre_mm(grid, mask, fallback: str = "nearest") -> tuple[np.ndarray, bool]:
    """Where to centre a spherical VOI on a region: its centroid, or a voxel of it when the centroid is outside.

    The centroid of a curved or hollow structure (a cortical ribbon, the caudate's C) can lie outside
    it, where a sphere would sample another tissue; the centre is then moved to a voxel of the region.

    Parameters
    ----------
    grid : petsim.grid.Grid
        The grid of ``mask`` (``shape``, ``voxel_size_mm``, ``origin_mm``).
    mask : ndarray of bool (x, y, z)
        The region's voxels.
    fallback : {"nearest", "deepest"}
        Where to centre when the centroid's voxel is not in ``mask``: the region voxel nearest to the
        centroid, or the region voxel farthest from the region's boundary (the largest Euclidean
        distance-to-outside in mm; ties go to the one nearest the centroid).

    Returns
    -------
    centre_mm : ndarray (3,)
        Scanner coordinates (mm): the centroid itself (not snapped to a voxel centre) when the voxel
        containing it belongs to the region, else the centre of the chosen region voxel.
    inside : bool
        Whether the centroid lies in the region (False: ``centre_mm`` is the fallback voxel).

    Examples
    --------
    >>> from petsim.grid import Grid
    >>> g = Grid((5, 5, 1), 1.0)
    >>> ring = np.zeros(g.shape, bool); ring[[0, -1], :, 0] = True; ring[:, [0, -1], 0] = True
    >>> centre, inside = region_centre_mm(g, ring)
    >>> inside, bool(ring[tuple(np.rint((centre - g.origin_mm) / g.voxel_size_mm).astype(int))])
    (False, True)
    """
    m = np.asarray(mask, dtype=bool)
    if m.shape != tuple(grid.shape):
        raise ValueError(f"mask has shape {m.shape}, expected the grid's {tuple(grid.shape)}")
    if fallback not in ("nearest", "deepest"):
        raise ValueError(f"fallback must be 'nearest' or 'deepest', got {fallback!r}")
    idx = np.argwhere(m)
    if idx.size == 0:
        raise ValueError("the region has no voxels")
    origin, vox = np.asarray(grid.origin_mm, float), np.asarray(grid.voxel_size_mm, float)
    mm = origin + idx * vox
    centroid = mm.mean(axis=0)
    k = np.clip(np.rint((centroid - origin) / vox).astype(int), 0, np.asarray(m.shape) - 1)
    if m[tuple(k)]:
        return centroid, True
    d2 = ((mm - centroid) ** 2).sum(axis=1)
    if fallback == "nearest":
        return mm[np.argmin(d2)], False
    from scipy import ndimage

    depth = ndimage.distance_transform_edt(np.pad(m, 1), sampling=vox)[1:-1, 1:-1, 1:-1][m]
    deepest = np.flatnonzero(depth == depth.max())
    return mm[deepest[np.argmin(d2[deepest])]], False
