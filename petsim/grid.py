"""Image geometry shared by every layer: shape, voxel size and position in mm."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _as_triplet(value, name: str, cast) -> tuple:
    arr = np.atleast_1d(np.asarray(value))
    if arr.size == 1:
        arr = np.repeat(arr, 3)
    if arr.shape != (3,):
        raise ValueError(f"{name} must be a number or three numbers (x, y, z), got {value!r}")
    return tuple(cast(v) for v in arr)


@dataclass(frozen=True)
class Grid:
    """A regular 3D image grid, indexed ``(x, y, z)`` with z along the scanner axis.

    Parameters
    ----------
    shape : tuple of 3 int
        Number of voxels ``(nx, ny, nz)``.
    voxel_size_mm : float or tuple of 3 float
        Voxel edge lengths in mm.
    origin_mm : tuple of 3 float, optional
        Centre of voxel ``(0, 0, 0)`` in scanner coordinates (mm). By default
        the grid is centred on the scanner's isocentre (the origin).

    Examples
    --------
    >>> g = Grid((128, 128, 63), (2.25, 2.25, 2.425))
    >>> g.centre_mm
    (0.0, 0.0, 0.0)
    """

    shape: tuple
    voxel_size_mm: tuple
    origin_mm: tuple | None = field(default=None)

    def __post_init__(self):
        shape = _as_triplet(self.shape, "shape", int)
        if any(n < 1 for n in shape) or not np.all(np.asarray(self.shape) == np.asarray(shape)):
            raise ValueError(f"shape must be three positive integers, got {self.shape!r}")
        vox = _as_triplet(self.voxel_size_mm, "voxel_size_mm", float)
        if not all(np.isfinite(v) and v > 0 for v in vox):
            raise ValueError(f"voxel_size_mm must be positive and finite, got {self.voxel_size_mm!r}")
        if self.origin_mm is None:
            origin = tuple(-0.5 * (n - 1) * d for n, d in zip(shape, vox))
        else:
            origin = _as_triplet(self.origin_mm, "origin_mm", float)
            if not all(np.isfinite(o) for o in origin):
                raise ValueError(f"origin_mm must be finite, got {self.origin_mm!r}")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "voxel_size_mm", vox)
        object.__setattr__(self, "origin_mm", tuple(float(o) + 0.0 for o in origin))

    @property
    def n_voxels(self) -> int:
        return int(np.prod(self.shape))

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in mL (cm^3)."""
        return float(np.prod(self.voxel_size_mm)) / 1000.0

    @property
    def extent_mm(self) -> tuple:
        """Edge lengths of the whole grid in mm."""
        return tuple(n * d for n, d in zip(self.shape, self.voxel_size_mm))

    @property
    def centre_mm(self) -> tuple:
        """Position of the grid centre in mm."""
        return tuple(o + 0.5 * (n - 1) * d + 0.0 for o, n, d in zip(self.origin_mm, self.shape, self.voxel_size_mm))

    def axis_mm(self, axis: int) -> np.ndarray:
        """Voxel-centre coordinates along one axis (0 = x, 1 = y, 2 = z), in mm."""
        return self.origin_mm[axis] + self.voxel_size_mm[axis] * np.arange(self.shape[axis])

    def coordinates_mm(self, sparse: bool = True):
        """Voxel-centre coordinates ``(X, Y, Z)`` in mm (broadcastable when ``sparse``)."""
        return np.meshgrid(self.axis_mm(0), self.axis_mm(1), self.axis_mm(2), indexing="ij", sparse=sparse)

    def affine(self) -> np.ndarray:
        """4x4 NIfTI affine mapping voxel indices (i, j, k) to mm (RAS: x right, y anterior, z superior)."""
        aff = np.diag([*self.voxel_size_mm, 1.0])
        aff[:3, 3] = self.origin_mm
        return aff

    @classmethod
    def from_affine(cls, shape, affine) -> "Grid":
        """Grid of a NIfTI image; only axis-aligned affines with positive voxel sizes are accepted."""
        affine = np.asarray(affine, dtype=float)
        if affine.shape != (4, 4):
            raise ValueError(f"affine must be 4x4, got shape {affine.shape}")
        lin = affine[:3, :3]
        diag = np.diag(lin)
        if not np.allclose(lin, np.diag(diag), atol=1e-6 * np.abs(diag).max()) or np.any(diag <= 0):
            raise ValueError(
                "only axis-aligned affines with positive voxel sizes (RAS orientation) are supported, "
                f"got\n{affine}\nreorient the image first (e.g. nibabel.as_closest_canonical)"
            )
        return cls(tuple(int(s) for s in shape[:3]), tuple(diag), tuple(affine[:3, 3]))

    def zeros(self, dtype=np.float32) -> np.ndarray:
        return np.zeros(self.shape, dtype=dtype)

    def check_image(self, image, name: str = "image") -> np.ndarray:
        """Return ``image`` as a C-contiguous float32 array after checking its shape and values."""
        arr = np.asarray(image)
        if arr.shape != self.shape:
            raise ValueError(f"{name} has shape {arr.shape}, expected the grid shape {self.shape}")
        if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
            raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinite values")
        return arr
