"""Rigid motion of an image on its grid: a rotation about the grid's centre, then a translation (mm)."""

from __future__ import annotations

import numpy as np

__all__ = ["rotation_matrix", "rigid_transform"]


def rotation_matrix(rotation_deg) -> np.ndarray:
    """3x3 rotation ``R = Rz Ry Rx`` for angles (about x, y, z) in degrees (right-handed)."""
    ax, ay, az = np.deg2rad(np.asarray(rotation_deg, dtype=float).reshape(3))
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def rigid_transform(image, grid, translation_mm=(0.0, 0.0, 0.0), rotation_deg=(0.0, 0.0, 0.0), order: int = 1):
    """``image`` moved rigidly: each point p goes to ``R (p - c) + c + t`` (c the grid's centre, mm).

    Parameters
    ----------
    image : ndarray (x, y, z) on ``grid``
    grid : petsim.grid.Grid
    translation_mm : 3 floats
        t in mm (scanner x, y, z).
    rotation_deg : 3 floats
        Angles about x, y and z in degrees, :func:`rotation_matrix`.
    order : int
        Spline order of the interpolation (1: trilinear, which keeps values within their range).

    Returns
    -------
    float32 array on the same grid; what moves in from outside the grid is 0.
    """
    from scipy.ndimage import affine_transform

    t = np.asarray(translation_mm, dtype=float).reshape(3)
    r = rotation_matrix(rotation_deg)
    img = grid.check_image(image, "image")
    if not np.any(t) and np.allclose(r, np.eye(3)):
        return img.astype(np.float32, copy=True)
    vs = np.asarray(grid.voxel_size_mm, dtype=float)
    centre_idx = (np.asarray(grid.shape, dtype=float) - 1.0) / 2.0
    # output point p (index j) takes the input at R^T (p - c - t) + c; in index units, with S = diag(vs):
    # i = j_c + S^-1 R^T S (j - j_c) - S^-1 R^T t
    s, s_inv = np.diag(vs), np.diag(1.0 / vs)
    matrix = s_inv @ r.T @ s
    offset = centre_idx - matrix @ centre_idx - s_inv @ r.T @ t
    return affine_transform(img.astype(np.float32), matrix, offset=offset, order=order, mode="constant", cval=0.0)
