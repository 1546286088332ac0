"""Regional TACs from a 4D image: label images, partial-volume fraction maps and spherical VOIs."""

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
