"""Reading and writing what the field expects: NIfTI + BIDS-PET sidecars, TSV tables, Interfile sinograms.

Every writer goes through :func:`petsim.core.atomic.atomic_path`, so an interrupted
run never leaves a half-written file under its final name.
"""

from petsim.core.atomic import atomic_path, write_text_atomic
from petsim.core.tsv import read_tsv, write_tsv
from petsim.io.bids import pet_sidecar
from petsim.io.interfile import read_interfile_sinogram, write_interfile_sinogram
from petsim.io.nifti import read_nifti, write_nifti

__all__ = [
    "atomic_path",
    "write_text_atomic",
    "pet_sidecar",
    "read_interfile_sinogram",
    "write_interfile_sinogram",
    "read_nifti",
    "write_nifti",
    "read_tsv",
    "write_tsv",
]
