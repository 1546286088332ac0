"""The ``mni152`` phantom: folded anatomy from the ICBM 2009a symmetric tissue maps in nilearn.

Cortical folding and white matter come from the grey- and white-matter
probability maps of the ICBM 2009a nonlinear symmetric template at 1 mm
(Fonov VS et al. NeuroImage 2011;54:313-327; Fonov VS et al. NeuroImage
2009;47:S102) that the nilearn wheel ships as package data
(``nilearn/datasets/data/mni_icbm152_{gm,wm}_tal_nlin_sym_09a_converted.nii.gz``).
petsim only reads those files where nilearn is installed (``pip install
petsim[anatomy]``); nilearn itself is never imported.

Rules at each sub-sample point (mm, MNI):
1. the analytic nuclei of ``mor_brain`` (same MNI positions, precedence >= 65:
   thalamus, striatum, amygdala, hippocampus, hypothalamus, PAG, brainstem,
   cingulate and insula parts, and the analytic ventricles that carve them) win;
2. else brain where p_gm + p_wm >= 0.5 (trilinear): grey if p_gm >= p_wm, split
   into cerebellum (posterior fossa, below a tentorium plane) and the four lobes
   with the planes of ``mor_brain``; white matter by hemisphere;
3. else, by distance from the filled brain mask on the 1 mm template grid:
   CSF (<= 3 mm; "ventricles" inside the central box of the lateral/third
   ventricles), skull (3-10 mm), scalp (10-16 mm), air.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

INSTALL_HINT = ("the 'mni152' phantom reads the ICBM 2009a tissue-probability maps shipped inside nilearn; "
                "install the optional extra with `pip install petsim[anatomy]` (or `pip install nilearn`)")
GM_FILE = "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz"
WM_FILE = "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz"
CSF_MM, SKULL_MM, SCALP_MM = 3.0, 10.0, 16.0
# lobes (same planes as phantoms/mor_brain.toml) and the tentorium (approximate, MNI mm)
OCCIPITAL_Y, FRONTAL_Y, TEMPORAL_Z, TEMPORAL_Y = -65.0, -18.0, 4.0, 14.0
VENTRICLE_BOX = ((-25.0, 25.0), (-45.0, 30.0), (-5.0, 35.0))


def data_dir() -> Path:
    """Folder of nilearn's package data holding the ICBM 2009a maps (ImportError if missing)."""
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(INSTALL_HINT)
    folder = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    if not (folder / GM_FILE).is_file() or not (folder / WM_FILE).is_file():
        raise ImportError(f"nilearn is installed but {GM_FILE} / {WM_FILE} are missing in {folder}; " + INSTALL_HINT)
    return folder


def _is_cerebellum(x, y, z):
    # posterior fossa below the tentorium: rises from z = -30 at y = -40 to z = -12 at y = -80
    return (y < -38.0) & (z < -30.0 + 0.45 * np.clip(-40.0 - y, 0.0, None))


def load_mni152(voxel_size_mm=2.0, grid=None, supersample=None):
    """Rasterise the MNI152 phantom (see module docstring); needs ``petsim[anatomy]``."""
    import nibabel as nib
    from scipy import ndimage
    from tqdm.auto import tqdm

    from petsim.grid import Grid
    from petsim.phantom import shapes
    from petsim.phantom.definitions import build, read_definition
    from petsim.phantom.phantom import Phantom
    from petsim.phantom.region import Region

    folder = data_dir()
    gm_img = nib.load(str(folder / GM_FILE))
    tgrid = Grid.from_affine(gm_img.shape, gm_img.affine)
    gm = np.asarray(gm_img.dataobj, dtype=np.float32) / 255.0
    wm = np.asarray(nib.load(str(folder / WM_FILE)).dataobj, dtype=np.float32) / 255.0
    brain = ndimage.binary_fill_holes(ndimage.binary_closing(gm + wm >= 0.5, iterations=3))
    dist = ndimage.distance_transform_edt(~brain, sampling=tgrid.voxel_size_mm)

    definition = read_definition("mor_brain")
    regions, table, mu_mor, info = build(definition)
    names = [r.name for r in regions]
    # nuclei, brainstem and the analytic ventricles that carve them (third ventricle, aqueduct)
    prec = {s["structure"]: s["precedence"] for s in definition["region"]}
    nuclei = [i + 1 for i, r in enumerate(regions) if prec[r.structure] >= 65]
    sub_table = table[np.isin(table[:, shapes.C_LABEL], nuclei)]
    idx = {n: i + 1 for i, n in enumerate(names)}

    if grid is None:
        lo = np.array([tgrid.axis_mm(a)[0] for a in range(3)])
        hi = np.array([tgrid.axis_mm(a)[-1] for a in range(3)])
        vox = np.broadcast_to(np.asarray(voxel_size_mm, dtype=float), (3,))
        grid = Grid(tuple(int(n) for n in np.ceil(2 * np.maximum(-lo, hi) / vox)), tuple(vox))
    # sub-samples no farther apart than the 1 mm template voxels
    s = supersample or max(2, int(np.ceil(max(grid.voxel_size_mm) / min(tgrid.voxel_size_mm) - 1e-9)))
    if not isinstance(s, (int, np.integer)) or s < 1:
        raise ValueError(f"supersample must be a positive integer, got {supersample!r}")
    m = s ** 3
    offs = (np.stack(np.meshgrid(*[(np.arange(s) + 0.5) / s - 0.5] * 3, indexing="ij"), -1).reshape(-1, 3)
            * np.asarray(grid.voxel_size_mm))
    flat = np.arange(grid.n_voxels)
    sub = np.empty((grid.n_voxels, m), dtype=np.uint8)
    origin, vsz = np.asarray(grid.origin_mm), np.asarray(grid.voxel_size_mm)
    t_origin = np.asarray(tgrid.origin_mm)
    chunk = max(1, 2_000_000 // m)
    for start in tqdm(range(0, grid.n_voxels, chunk), desc="mni152", disable=None, leave=False):
        f = flat[start:start + chunk]
        ijk = np.stack(np.unravel_index(f, grid.shape), -1)
        pts = (origin + ijk * vsz)[:, None, :] + offs[None]
        pts = pts.reshape(-1, 3)
        lab = np.zeros(len(pts), dtype=np.int32)
        shapes.label_points(sub_table, pts, lab)
        t = ((pts - t_origin) / np.asarray(tgrid.voxel_size_mm)).T
        pg = ndimage.map_coordinates(gm, t, order=1, mode="constant", cval=0.0)
        pw = ndimage.map_coordinates(wm, t, order=1, mode="constant", cval=0.0)
        near = tuple(np.clip(np.rint(t[a]).astype(int), 0, tgrid.shape[a] - 1) for a in range(3))
        inside_t = np.all([(t[a] >= -0.5) & (t[a] <= tgrid.shape[a] - 0.5) for a in range(3)], axis=0)
        d = np.where(inside_t, dist[near], np.inf)
        x, y, z = pts.T
        left = x < 0
        free = lab == 0
        is_brain = free & (pg + pw >= 0.5)
        grey = is_brain & (pg >= pw)
        cereb = grey & _is_cerebellum(x, y, z)
        lobe = np.where(y < OCCIPITAL_Y, 0, np.where((z < TEMPORAL_Z) & (y < TEMPORAL_Y), 1, np.where(y > FRONTAL_Y, 2, 3)))
        lobe_names = np.array(["occipital_cortex", "temporal_cortex", "frontal_cortex", "parietal_cortex"])
        for k, lname in enumerate(lobe_names):
            for side, sel in (("_l", left), ("_r", ~left)):
                lab[grey & ~cereb & (lobe == k) & sel] = idx[lname + side]
        for side, sel in (("_l", left), ("_r", ~left)):
            lab[cereb & sel] = idx["cerebellum" + side]
            lab[is_brain & ~grey & sel] = idx["white_matter" + side]
        rest = free & ~is_brain
        in_box = np.all([(c >= b[0]) & (c <= b[1]) for c, b in zip((x, y, z), VENTRICLE_BOX)], axis=0)
        lab[rest & (d <= CSF_MM)] = idx["csf"]
        lab[rest & (d == 0) & in_box] = idx["ventricles"]
        lab[rest & (d > CSF_MM) & (d <= SKULL_MM)] = idx["skull"]
        lab[rest & (d > SKULL_MM) & (d <= SCALP_MM)] = idx["scalp"]
        sub[start:start + len(f)] = lab.reshape(len(f), m)
    majority = np.empty(grid.n_voxels, dtype=np.int64)
    shapes.majority_label(sub, len(regions) + 1, majority)
    boundary = np.flatnonzero(np.any(sub != sub[:, :1], axis=1))
    centre = majority.astype(np.uint8).reshape(grid.shape)
    regions = [Region(r.id, r.name, r.structure, r.hemisphere, r.tissue) for r in regions]
    info = {"source": str(folder), "supersample": s,
            "description": "ICBM 2009a symmetric GM/WM maps (nilearn package data) + mor_brain analytic nuclei"}
    return Phantom("mni152", grid, regions, centre, boundary.astype(np.int64), sub[boundary].copy(), mu_mor, info)
