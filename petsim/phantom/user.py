"""User anatomy: a label NIfTI plus a TSV region table mapped onto a ``Phantom``.

Table format (tab-separated, header line required):
``id  name  structure  hemisphere  tissue`` (extra columns are ignored);
``hemisphere`` in {left, right, midline}, ``tissue`` in {grey, white, csf,
bone, soft_tissue}. Label 0 is air/background and must not be listed.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from petsim.grid import Grid
from petsim.phantom.phantom import Phantom
from petsim.phantom.region import TISSUES, Region, check_regions

#: default attenuation at 511 keV per tissue (1/cm), the values of phantoms/mor_brain.toml
DEFAULT_MU_PER_CM = {"grey": 0.096, "white": 0.096, "csf": 0.096, "soft_tissue": 0.096, "bone": 0.151}
REQUIRED_COLUMNS = ("id", "name", "structure", "hemisphere", "tissue")


def read_region_table(table_path) -> tuple:
    """Read and validate a TSV region table; returns Regions sorted by id."""
    path = Path(table_path)
    if not path.is_file():
        raise FileNotFoundError(f"region table {path} does not exist")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"region table {path} lacks columns {missing}; required: {list(REQUIRED_COLUMNS)} (tab-separated)")
        regions = []
        for line, row in enumerate(reader, start=2):
            try:
                rid = int(row["id"])
            except (TypeError, ValueError):
                raise ValueError(f"region table {path} line {line}: id {row['id']!r} is not an integer") from None
            if rid == 0:
                raise ValueError(f"region table {path} line {line}: id 0 is reserved for air/background")
            regions.append(Region(rid, row["name"], row["structure"], row["hemisphere"], row["tissue"]))
    if not regions:
        raise ValueError(f"region table {path} lists no regions")
    return check_regions(regions)


def phantom_from_nifti(label_path, table_path, name: str | None = None, mu_per_cm=None) -> Phantom:
    """Build a Phantom from a label NIfTI (integer labels, axis-aligned RAS affine) and a region table.

    Each voxel is pure (fraction 1 for its label): no supersampling is possible
    without the shapes. ``mu_per_cm`` maps tissue -> 1/cm (defaults above).
    """
    import nibabel as nib

    label_path = Path(label_path)
    if not label_path.is_file():
        raise FileNotFoundError(f"label image {label_path} does not exist")
    img = nib.load(str(label_path))
    if len(img.shape) != 3:
        raise ValueError(f"label image {label_path} must be 3D, got shape {img.shape}")
    grid = Grid.from_affine(img.shape, img.affine)  # ValueError for oblique or flipped affines
    data = np.asanyarray(img.dataobj)
    if not np.issubdtype(data.dtype, np.integer):
        values = np.asarray(data, dtype=np.float64)
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            raise ValueError(f"label image {label_path} has non-integer values (dtype {data.dtype}); labels must be integers")
        data = values.astype(np.int64)
    data = np.asarray(data, dtype=np.int64)
    if data.min() < 0:
        raise ValueError(f"label image {label_path} has negative labels (min {data.min()}); labels must be >= 0")
    regions = read_region_table(table_path)
    ids = np.array([r.id for r in regions])
    present = np.unique(data)
    unknown = sorted(set(present.tolist()) - set(ids.tolist()) - {0})
    if unknown:
        raise ValueError(f"label image {label_path} contains labels {unknown[:20]} that the region table does not list")
    lut = np.zeros(max(int(present.max()), int(ids.max())) + 1, dtype=np.int64)
    lut[ids] = np.arange(1, ids.size + 1)
    index = lut[data]
    dtype = np.uint8 if ids.size < 255 else np.uint16
    mu_table = dict(DEFAULT_MU_PER_CM, **(mu_per_cm or {}))
    bad = [t for t in mu_table if t not in TISSUES]
    if bad:
        raise ValueError(f"mu_per_cm has unknown tissues {bad}; allowed: {TISSUES}")
    mu = np.array([0.0] + [mu_table[r.tissue] for r in regions], dtype=np.float32)
    name = name or label_path.name.split(".")[0]
    return Phantom(name, grid, regions, index.astype(dtype), np.zeros(0, dtype=np.int64),
                   np.zeros((0, 1), dtype=dtype), mu, info={"source": str(label_path)})
