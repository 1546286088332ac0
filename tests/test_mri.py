"""The synthetic T1-weighted image and the FreeSurfer-style aseg of a phantom."""

import numpy as np
import pytest

from petsim.grid import Grid
from petsim.phantom import load
from petsim.phantom.mri import (ASEG_BIAS_RANGE, ASEG_NOISE, T1W_INTENSITY, WHITE_MATTER_VALUE, _bias_field,
                                aseg_labels, aseg_table, synthetic_t1w)


@pytest.fixture(scope="module")
def phantom():
    return load("mor_brain", grid=Grid((88, 104, 80), (2.0,) * 3))


def test_noise_in_air_is_rayleigh_with_the_set_level(phantom):
    # Magnitude of complex Gaussian noise of SD s where there is no signal: Rayleigh, mean s sqrt(pi/2)
    # and SD s sqrt(2 - pi/2) (an analytic reference, independent of the code's noise draw).
    img = synthetic_t1w(phantom, np.random.default_rng(0)).astype(float)
    air = img[phantom.mixed([0.0] + [1.0] * len(phantom.regions)) == 0]  # no tissue at all in the voxel
    s = ASEG_NOISE * WHITE_MATTER_VALUE
    assert air.mean() == pytest.approx(s * np.sqrt(np.pi / 2), rel=0.02)
    assert air.std() == pytest.approx(s * np.sqrt(2 - np.pi / 2), rel=0.03)


def test_tissue_contrast_and_bias_field(phantom):
    img = synthetic_t1w(phantom, np.random.default_rng(1)).astype(float)
    lab = phantom.labels
    white = img[lab == phantom.region("white_matter_l").id].mean()
    grey = img[lab == phantom.region("cerebellum_l").id].mean()  # a thick grey structure: little partial volume
    lo, hi = ASEG_BIAS_RANGE
    assert lo * WHITE_MATTER_VALUE * 0.9 < white < hi * WHITE_MATTER_VALUE  # partial volume lowers it a little
    assert grey / white == pytest.approx(T1W_INTENSITY["grey"] / T1W_INTENSITY["white"], rel=0.12)
    field = _bias_field(phantom.grid, np.random.default_rng(2))
    assert field.min() == pytest.approx(lo) and field.max() == pytest.approx(hi)
    # smooth: neighbouring voxels differ by far less than the range
    assert np.abs(np.diff(field, axis=0)).max() < 0.05 * (hi - lo) * 10
    # same seed, same image
    assert np.array_equal(synthetic_t1w(phantom, np.random.default_rng(1)), img.astype(np.int16))


def test_aseg_uses_freesurfer_indices_and_sides(phantom):
    aseg, rows = aseg_labels(phantom)
    names = {r["index"]: r["name"] for r in rows}
    # FreeSurferColorLUT.txt
    lut = {2: "Left-Cerebral-White-Matter", 3: "Left-Cerebral-Cortex", 10: "Left-Thalamus", 16: "Brain-Stem",
           18: "Left-Amygdala", 24: "CSF", 41: "Right-Cerebral-White-Matter", 49: "Right-Thalamus",
           54: "Right-Amygdala", 58: "Right-Accumbens-area"}
    for index, name in lut.items():
        assert names[index] == name
    lab = phantom.labels
    for region, index in (("amygdala_l", 18), ("amygdala_r", 54), ("thalamus_medial_l", 10), ("caudate_r", 50)):
        assert np.all(aseg[lab == phantom.region(region).id] == index)
    # a midline region is split by side: both ventral-DC labels exist and lie on the sides of their hemispheres
    hyp = lab == phantom.region("hypothalamus").id
    assert set(np.unique(aseg[hyp]).tolist()) == {28, 60}
    x = phantom.grid.coordinates_mm(sparse=True)[0]
    left_x = np.sign(phantom.centroid_mm("amygdala_l")[0])
    assert np.all(np.sign(np.broadcast_to(x, lab.shape)[aseg == 28]) == left_x)
    assert np.all(aseg[lab == phantom.region("scalp").id] == 0)  # not brain: unknown, as in an aseg
    # every region of the phantom but scalp and skull has a FreeSurfer label
    mapped = {r["petsim_region"] for r in aseg_table()}
    for r in phantom.regions:
        if r.name not in ("scalp", "skull"):
            assert r.name in mapped or {r.name + "_l", r.name + "_r"} <= mapped, r.name
