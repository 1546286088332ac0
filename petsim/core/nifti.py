"""Writing NIfTI-1 images atomically (nibabel), for every layer that writes one.

:func:`petsim.io.write_nifti` builds on this with a :class:`petsim.Grid` and
the scanner-frame conventions of the BIDS outputs; the phantom writes its
label, fraction and attenuation maps through it directly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from petsim.core.atomic import atomic_path

__all__ = ["save_nifti"]


def save_nifti(path, data, affine, *, xyz_unit: str = "mm", t_unit: str | None = None, qform_code: int | None = None,
               sform_code: int | None = None, zooms=None) -> Path:
    """Write ``data`` (as given: its dtype is kept) with the 4 x 4 ``affine`` to ``path`` atomically.

    Parameters
    ----------
    xyz_unit, t_unit : str
        Units of the header (``"mm"``, ``"sec"``; None leaves the time unit unknown).
    qform_code, sform_code : int, optional
        Codes set with the affine (1: scanner coordinates); None keeps nibabel's defaults.
    zooms : sequence of float, optional
        Voxel sizes and, for 4D images, the frame duration (header pixdim).

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = save_nifti(pathlib.Path(tempfile.mkdtemp()) / "x.nii.gz", np.zeros((2, 2, 2), np.float32), np.eye(4))
    >>> p.name
    'x.nii.gz'
    """
    import nibabel as nib

    img = nib.Nifti1Image(np.asarray(data), affine)
    img.header.set_xyzt_units(xyz=xyz_unit, t=t_unit)
    if qform_code is not None:
        img.header.set_qform(affine, code=qform_code)
    if sform_code is not None:
        img.header.set_sform(affine, code=sform_code)
    if zooms is not None:
        img.header.set_zooms(zooms)
    with atomic_path(path) as tmp:
        nib.save(img, str(tmp))
    return Path(path)
