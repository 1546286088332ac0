"""A synthetic T1-weighted MRI of a phantom and its labels as a FreeSurfer-style ``aseg``.

Registration-based PET pipelines (PETPrep, PETSurfer) start from a T1-weighted image and a
FreeSurfer segmentation. :func:`synthetic_t1w` makes the image a scanner would give of the
phantom: each tissue's T1-weighted signal mixed by the partial volumes of each voxel, a smooth
multiplicative bias field and Rician noise, at the levels of the BrainWeb simulator (Collins et
al., IEEE Trans Med Imaging 1998;17:463; Kwan et al., IEEE Trans Med Imaging 1999;18:1085):
noise 3 % of the brightest tissue (its default) and an intensity non-uniformity of 20 %
(its "20 % INU" field, a range of 0.9-1.1). :func:`aseg_labels` paints the phantom's regions
with FreeSurfer's indices and names (``FreeSurferColorLUT.txt``), so that a tool built on
``aseg`` extracts TACs from petsim's PET without a mapping.
"""

from __future__ import annotations

import numpy as np

from petsim.core.tsv import read_tsv

__all__ = ["T1W_INTENSITY", "synthetic_t1w", "aseg_labels", "aseg_table", "has_brain", "ASEG_NOISE", "ASEG_BIAS_RANGE"]

#: Relative T1-weighted signal by tissue (white matter 1). Planning values with the contrast of
#: a 3D gradient-echo T1w image: grey/white 0.62 and CSF/white 0.18 are the orders of magnitude of
#: the BrainWeb T1 contrast; scalp fat is bright, bone and air dark.
T1W_INTENSITY = {"white": 1.0, "grey": 0.62, "csf": 0.18, "bone": 0.08, "soft_tissue": 0.85, "air": 0.0}
#: Deep grey structures are more myelinated than cortex and look brighter on T1w (planning).
T1W_STRUCTURE = {"thalamus_medial": 0.78, "thalamus_lateral": 0.80, "caudate": 0.70, "putamen": 0.72,
                 "nucleus_accumbens": 0.70, "hypothalamus": 0.72, "periaqueductal_grey": 0.75, "brainstem": 0.92}
#: Rician noise SD as a fraction of the white-matter signal (BrainWeb default, 3 %).
ASEG_NOISE = 0.03
#: Range of the multiplicative bias field (BrainWeb's 20 % intensity non-uniformity).
ASEG_BIAS_RANGE = (0.9, 1.1)
#: Stored intensity of white matter (the image is written as int16).
WHITE_MATTER_VALUE = 1000.0


def _intensity(region) -> float:
    return T1W_STRUCTURE.get(region.structure, T1W_INTENSITY.get(region.tissue, T1W_INTENSITY["grey"]))


def _bias_field(grid, rng) -> np.ndarray:
    """A smooth multiplicative field: a random quadratic in x, y, z scaled to :data:`ASEG_BIAS_RANGE`."""
    x, y, z = (a / 100.0 for a in grid.coordinates_mm(sparse=True))  # decimetres keep the terms O(1)
    terms = (x, y, z, x * x, y * y, z * z, x * y, y * z, x * z)
    c = rng.standard_normal(len(terms))
    field = sum(ci * t for ci, t in zip(c, terms)).astype(np.float32)
    lo, hi = float(field.min()), float(field.max())
    a, b = ASEG_BIAS_RANGE
    return a + (b - a) * (field - lo) / (hi - lo) if hi > lo else np.full(grid.shape, 0.5 * (a + b), np.float32)


def synthetic_t1w(phantom, rng: np.random.Generator) -> np.ndarray:
    """T1-weighted image of ``phantom`` on its own grid (int16, white matter about 1000).

    Parameters
    ----------
    phantom : Phantom
        On the grid of the MRI (1 mm is usual; :meth:`Phantom.mixed` gives the partial volumes).
    rng : numpy.random.Generator
        Noise and bias-field draws.

    Returns
    -------
    int16 array shaped like the grid: ``|B (S + n1) + i n2|`` with S the partial-volume mixture of
    the tissues' signals, B the bias field and n1, n2 Gaussian with SD :data:`ASEG_NOISE` x white
    matter (Rician magnitude noise).
    """
    signal = phantom.mixed([0.0] + [_intensity(r) for r in phantom.regions]) * np.float32(WHITE_MATTER_VALUE)
    sd = np.float32(ASEG_NOISE * WHITE_MATTER_VALUE)
    real = signal * _bias_field(phantom.grid, rng) + sd * rng.standard_normal(signal.shape, dtype=np.float32)
    imag = sd * rng.standard_normal(signal.shape, dtype=np.float32)
    return np.clip(np.rint(np.hypot(real, imag)), 0, np.iinfo(np.int16).max).astype(np.int16)


def aseg_table() -> list[dict]:
    """Rows ``petsim_region, freesurfer_index, freesurfer_name`` (``petsim/data/aseg_labels.tsv``).

    A midline region has a ``_l``/``_r`` row for each side: its voxels are split by the sign of x.
    """
    from importlib import resources

    path = resources.files("petsim") / "data" / "aseg_labels.tsv"
    return read_tsv(path)


def has_brain(region_names) -> bool:
    """Whether any of ``region_names`` has a FreeSurfer label (a T1w and an aseg mean something)."""
    names = {r["petsim_region"] for r in aseg_table()}
    return any(n in names or n + "_l" in names for n in region_names)


def aseg_labels(phantom) -> tuple:
    """The phantom's label image in FreeSurfer's ``aseg`` indices.

    Returns
    -------
    (int16 image, rows) with rows ``{"index", "name"}`` of the labels present (BIDS ``_dseg.tsv``).
    Regions without a FreeSurfer label (scalp, skull) are 0 (unknown), as in an ``aseg``.
    """
    table = {(r["petsim_region"]): (int(r["freesurfer_index"]), r["freesurfer_name"]) for r in aseg_table()}
    labels = phantom.labels
    out = np.zeros(labels.shape, dtype=np.int16)
    x = phantom.grid.coordinates_mm(sparse=True)[0]
    # the left hemisphere of the phantom is on the side of its _l regions (RAS: x < 0 when it has none)
    left_region = next((r.name for r in phantom.regions if r.name.endswith("_l")), None)
    left_sign = np.sign(phantom.centroid_mm(left_region)[0]) if left_region else -1.0
    left = np.broadcast_to(np.sign(x) == left_sign, labels.shape)
    names = {}
    for region in phantom.regions:
        sel = labels == region.id
        for key, side in ((region.name, None), (region.name + "_l", True), (region.name + "_r", False)):
            if key not in table:
                continue
            index, name = table[key]
            where = sel if side is None else sel & (left if side else ~left)
            out[where] = index
            names[index] = name
    present = set(np.unique(out).tolist()) - {0}
    return out, [{"index": i, "name": names[i]} for i in sorted(present)]
