"""NIfTI images with the grid's affine and explicit units (written through :func:`petsim.core.nifti.save_nifti`)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from petsim.core.nifti import save_nifti
from petsim.grid import Grid


def write_nifti(path, data: np.ndarray, grid: Grid, frame_duration_s: float | None = None, dtype=np.float32) -> Path:
    """Write a 3D or 4D (x, y, z, frame) image with ``grid``'s affine (mm, RAS).

    ``frame_duration_s`` sets the fourth pixdim for dynamic images (BIDS takes
    the frame times from the sidecar; this is for viewers).
    """
    data = np.asarray(data)
    if data.shape[:3] != grid.shape:
        raise ValueError(f"image of shape {data.shape} does not match the grid {grid.shape}")
    zooms = None
    if data.ndim == 4 and frame_duration_s:
        zooms = list(grid.voxel_size_mm) + [float(frame_duration_s)]
    return save_nifti(path, data.astype(dtype, copy=False), grid.affine(), t_unit="sec", qform_code=1, sform_code=1,
                      zooms=zooms)


def read_nifti(path):
    """Return ``(data, grid)`` of a NIfTI image (axis-aligned affines only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such image: {path}")
    img = nib.load(str(path))
    data = np.asarray(img.dataobj)
    return data, Grid.from_affine(data.shape[:3], img.affine)
