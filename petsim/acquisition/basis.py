"""Region-basis helpers: merge regions that share identical kinetics into one basis image."""

from __future__ import annotations

import numpy as np


def group_identical_kinetics(frame_integrals, names=None, drop_zero: bool = True):
    """Group the rows of ``frame_integrals`` that are exactly equal.

    Regions with identical frame integrals (e.g. left and right copies of a
    structure without release) can share one basis image, the sum of their
    fraction maps; projection being linear, the simulated data are unchanged
    and one projection is saved per merged region.

    Parameters
    ----------
    frame_integrals : array (R, n_frames)
        Per-region frame integrals (Bq/mL x min).
    names : sequence of str, optional
        Region names, returned grouped.
    drop_zero : bool
        Leave out regions whose integrals are all zero (no activity).

    Returns
    -------
    groups : list of list of int
        Row indices of each group (first-appearance order).
    integrals : ndarray (len(groups), n_frames)
        The shared rows.
    group_names : list of list of str or None
    """
    w = np.asarray(frame_integrals, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"frame_integrals must be (regions, frames), got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("frame_integrals contain NaN or infinite values")
    if names is not None and len(names) != w.shape[0]:
        raise ValueError(f"{len(names)} names for {w.shape[0]} rows of frame_integrals")
    first = {}
    groups = []
    for i, row in enumerate(w):
        if drop_zero and not np.any(row):
            continue
        key = row.tobytes()
        if key not in first:
            first[key] = len(groups)
            groups.append([i])
        else:
            groups[first[key]].append(i)
    integrals = np.array([w[g[0]] for g in groups]).reshape(len(groups), w.shape[1])
    group_names = [[names[i] for i in g] for g in groups] if names is not None else None
    return groups, integrals, group_names


def merged_basis_images(get_image, groups, dtype=np.float32):
    """Sum the images of each group; ``get_image(i)`` returns region ``i``'s fraction map."""
    out = []
    for g in groups:
        acc = np.array(get_image(g[0]), dtype=dtype, copy=True)
        for i in g[1:]:
            acc += get_image(i)
        out.append(acc)
    return out
