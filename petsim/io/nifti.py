"""NIfTI images with the grid's affine and explicit units."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from petsim.grid import Grid
from petsim.io.atomic import atomic_path


def write_nifti(path, data: np.ndarray, grid: Grid, frame_duration_s: float | None = None, dtype=np.float32) -> Path:
    """Write a 3D or 4D (x, y, z, frame) image with ``grid``'s affine (mm, RAS).

    ``frame_duration_s`` sets the fourth pixdim for dynamic images (BIDS takes
    the frame times from the sidecar; this is for viewers).
    """
    data = np.asarray(data)
    if data.shape[:3] != grid.shape:
        raise ValueError(f"image of shape {data.shape} does not match the grid {grid.shape}")
    img = nib.Nifti1Image(data.astype(dtype, copy=False), grid.affine())
    img.header.set_xyzt_units(xyz="mm", t="sec")
    img.header.set_qform(grid.affine(), code=1)
    img.header.set_sform(grid.affine(), code=1)
    if data.ndim == 4 and frame_duration_s:
        zooms = list(grid.voxel_size_mm) + [float(frame_duration_s)]
        img.header.set_zooms(zooms)
    with atomic_path(path) as tmp:
        nib.save(img, str(tmp))
    return Path(path)


def read_nifti(path):
    """Return ``(data, grid)`` of a NIfTI image (axis-aligned affines only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such image: {path}")
    img = nib.load(str(path))
    data = np.asarray(img.dataobj)
    return data, Grid.from_affine(data.shape[:3], img.affine)
