"""Analytic shape primitives and the numba kernels that label points and voxels.

A phantom is an ordered list of shape *components*; each component belongs to
one region. A point takes the region of the first component (highest
precedence) that contains it, so small nuclei carve themselves out of larger
structures and no two regions ever overlap. Components are packed into one
float64 table (one row each, columns below) so the kernels stay generic.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# kinds of component
ELLIPSOID, ENVELOPE, RIBBON, CYLINDER, BOX = 0, 1, 2, 3, 4
KINDS = {"ellipsoid": ELLIPSOID, "envelope": ENVELOPE, "ribbon": RIBBON, "cylinder": CYLINDER, "box": BOX}
MAX_CLIPS = 6

# column layout of the component table
C_KIND, C_LABEL = 0, 1
C_CENTRE = 2  # 3 values, mm
C_AXES = 5  # 3 semi-axes, mm (cylinder: radius x, radius y, half length; box: half edges)
C_ROT = 8  # 9 values, world -> local rotation (row-major)
C_NCLIP = 17
C_CLIP = 18  # MAX_CLIPS x (nx, ny, nz, d): keep points with n.p <= d
C_BBOX = C_CLIP + 4 * MAX_CLIPS  # xmin, xmax, ymin, ymax, zmin, zmax
C_HEMI = C_BBOX + 6  # -1 left, +1 right (envelope/ribbon)
C_GAP = C_HEMI + 1  # midline half gap, mm
C_THICK = C_GAP + 1  # cortical ribbon thickness, mm
C_DEPTH = C_THICK + 1  # depth of the folded layer below the envelope, mm
C_PERIOD = C_DEPTH + 1  # period of the gyroid folding, mm
N_COLS = C_PERIOD + 1


def rotation_matrix(rotation_deg) -> np.ndarray:
    """Body-to-world rotation ``Rz @ Ry @ Rx`` for angles (degrees) about x, y and z."""
    rx, ry, rz = np.deg2rad(np.asarray(rotation_deg, dtype=float))
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    mx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    my = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    mz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return mz @ my @ mx


def component_row(kind: str, label: int, centre_mm, semi_axes_mm, rotation_deg=(0, 0, 0), clips=(),
                  hemi: float = 0.0, ribbon=None) -> np.ndarray:
    """Pack one shape component into a table row (see the column layout above)."""
    if kind not in KINDS:
        raise ValueError(f"unknown shape kind {kind!r}; allowed: {sorted(KINDS)}")
    centre = np.asarray(centre_mm, dtype=float)
    axes = np.asarray(semi_axes_mm, dtype=float)
    if centre.shape != (3,) or axes.shape != (3,) or np.any(axes <= 0) or not np.all(np.isfinite(axes)):
        raise ValueError(f"shape needs centre_mm (3 values) and positive semi_axes_mm (3 values), "
                         f"got {centre_mm!r}, {semi_axes_mm!r}")
    clips = np.asarray(clips, dtype=float).reshape(-1, 4) if len(clips) else np.zeros((0, 4))
    if len(clips) > MAX_CLIPS:
        raise ValueError(f"at most {MAX_CLIPS} clip planes per shape, got {len(clips)}")
    rot = rotation_matrix(rotation_deg)
    row = np.zeros(N_COLS)
    row[C_KIND] = KINDS[kind]
    row[C_LABEL] = label
    row[C_CENTRE:C_CENTRE + 3] = centre
    row[C_AXES:C_AXES + 3] = axes
    row[C_ROT:C_ROT + 9] = rot.T.ravel()  # world -> local
    row[C_NCLIP] = len(clips)
    for i, plane in enumerate(clips):
        normal = plane[:3] / np.linalg.norm(plane[:3])
        row[C_CLIP + 4 * i:C_CLIP + 4 * i + 3] = normal
        row[C_CLIP + 4 * i + 3] = plane[3] / np.linalg.norm(plane[:3])
    # axis-aligned bounding box of the rotated body (boxes and cylinders use their corners)
    if KINDS[kind] in (CYLINDER, BOX):
        corners = np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T * axes
        half = np.abs(corners @ rot.T).max(axis=0)
    else:
        half = np.sqrt(((rot * axes[None, :]) ** 2).sum(axis=1))
    bbox = np.empty(6)
    bbox[0::2] = centre - half
    bbox[1::2] = centre + half
    if KINDS[kind] in (ENVELOPE, RIBBON):
        gap = ribbon["midline_half_gap_mm"] if ribbon else 0.0
        if hemi < 0:
            bbox[1] = min(bbox[1], -gap)
        elif hemi > 0:
            bbox[0] = max(bbox[0], gap)
        row[C_HEMI] = hemi
        row[C_GAP] = gap
    if ribbon is not None:
        row[C_THICK] = ribbon["thickness_mm"]
        row[C_DEPTH] = ribbon["fold_depth_mm"]
        row[C_PERIOD] = ribbon["fold_period_mm"]
    row[C_BBOX:C_BBOX + 6] = bbox
    return row


@njit(cache=True, inline="always")
def _contains(row, px, py, pz):
    if px < row[C_BBOX] or px > row[C_BBOX + 1] or py < row[C_BBOX + 2] or py > row[C_BBOX + 3] \
            or pz < row[C_BBOX + 4] or pz > row[C_BBOX + 5]:
        return False
    for i in range(int(row[C_NCLIP])):
        b = C_CLIP + 4 * i
        if row[b] * px + row[b + 1] * py + row[b + 2] * pz > row[b + 3]:
            return False
    dx = px - row[C_CENTRE]
    dy = py - row[C_CENTRE + 1]
    dz = pz - row[C_CENTRE + 2]
    lx = row[C_ROT] * dx + row[C_ROT + 1] * dy + row[C_ROT + 2] * dz
    ly = row[C_ROT + 3] * dx + row[C_ROT + 4] * dy + row[C_ROT + 5] * dz
    lz = row[C_ROT + 6] * dx + row[C_ROT + 7] * dy + row[C_ROT + 8] * dz
    ax, ay, az = row[C_AXES], row[C_AXES + 1], row[C_AXES + 2]
    kind = int(row[C_KIND])
    if kind == CYLINDER:
        return (lx / ax) ** 2 + (ly / ay) ** 2 <= 1.0 and abs(lz) <= az
    if kind == BOX:
        return abs(lx) <= ax and abs(ly) <= ay and abs(lz) <= az
    qx, qy, qz = lx / ax, ly / ay, lz / az
    rho2 = qx * qx + qy * qy + qz * qz
    if rho2 > 1.0:
        return False
    if kind == ELLIPSOID:
        return True
    hemi = row[C_HEMI]
    medial = hemi * px - row[C_GAP]  # distance from the interhemispheric gap, mm
    if hemi != 0.0 and medial < 0.0:
        return False
    if kind == ENVELOPE:
        return True
    # RIBBON: grey matter within `thick` of the envelope surface or of the folded gyroid sheet
    rho = np.sqrt(rho2)
    if rho < 1e-9:
        return False
    gx, gy, gz = qx / (ax * rho), qy / (ay * rho), qz / (az * rho)
    depth = (1.0 - rho) / np.sqrt(gx * gx + gy * gy + gz * gz)  # first-order distance to the surface
    if hemi != 0.0 and medial < depth:
        depth = medial
    thick = row[C_THICK]
    if depth <= thick:
        return True
    if depth > row[C_DEPTH]:
        return False
    k = 2.0 * np.pi / row[C_PERIOD]
    sx, cx = np.sin(k * abs(px)), np.cos(k * abs(px))  # |x| keeps the folding mirror-symmetric
    sy, cy = np.sin(k * py), np.cos(k * py)
    sz, cz = np.sin(k * pz), np.cos(k * pz)
    g = sx * cy + sy * cz + sz * cx
    dgx = k * (cx * cy - sz * sx)
    dgy = k * (cy * cz - sx * sy)
    dgz = k * (cz * cx - sy * sz)
    return abs(g) <= 0.5 * thick * np.sqrt(dgx * dgx + dgy * dgy + dgz * dgz)


@njit(cache=True)
def classify_point(table, px, py, pz):
    """Label index (0 = outside everything) of the first component containing the point."""
    for c in range(table.shape[0]):
        if _contains(table[c], px, py, pz):
            return int(table[c, C_LABEL])
    return 0


@njit(cache=True, parallel=True)
def label_centres(table, xs, ys, zs, out):
    """Label index at every voxel centre of the grid spanned by ``xs, ys, zs`` (mm)."""
    for i in prange(xs.size):
        for j in range(ys.size):
            for k in range(zs.size):
                out[i, j, k] = classify_point(table, xs[i], ys[j], zs[k])


@njit(cache=True, parallel=True)
def boundary_mask(centre, out):
    """Mark voxels whose label differs from one of their 26 neighbours."""
    nx, ny, nz = centre.shape
    for i in prange(nx):
        for j in range(ny):
            for k in range(nz):
                lab = centre[i, j, k]
                found = False
                for di in range(-1, 2):
                    ii = i + di
                    if ii < 0 or ii >= nx:
                        continue
                    for dj in range(-1, 2):
                        jj = j + dj
                        if jj < 0 or jj >= ny:
                            continue
                        for dk in range(-1, 2):
                            kk = k + dk
                            if kk < 0 or kk >= nz:
                                continue
                            if centre[ii, jj, kk] != lab:
                                found = True
                out[i, j, k] = found


@njit(cache=True, parallel=True)
def label_subsamples(table, flat_index, shape, origin, voxel, s, out):
    """Label index at ``s**3`` regularly spaced points inside each listed voxel."""
    ny, nz = shape[1], shape[2]
    for n in prange(flat_index.size):
        f = flat_index[n]
        i = f // (ny * nz)
        j = (f // nz) % ny
        k = f % nz
        m = 0
        for a in range(s):
            px = origin[0] + voxel[0] * (i + (a + 0.5) / s - 0.5)
            for b in range(s):
                py = origin[1] + voxel[1] * (j + (b + 0.5) / s - 0.5)
                for c in range(s):
                    pz = origin[2] + voxel[2] * (k + (c + 0.5) / s - 0.5)
                    out[n, m] = classify_point(table, px, py, pz)
                    m += 1


@njit(cache=True, parallel=True)
def majority_label(sub, n_labels, out):
    """Most frequent label index per row (ties go to the lower index)."""
    for n in prange(sub.shape[0]):
        counts = np.zeros(n_labels, dtype=np.int32)
        for m in range(sub.shape[1]):
            counts[sub[n, m]] += 1
        out[n] = np.argmax(counts)


@njit(cache=True, parallel=True)
def label_points(table, points, out):
    """Label index of each point (rows of ``points``, mm) under the first-match rule."""
    for n in prange(points.shape[0]):
        out[n] = classify_point(table, points[n, 0], points[n, 1], points[n, 2])
