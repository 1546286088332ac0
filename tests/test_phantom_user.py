"""User anatomy (label NIfTI + TSV region table) and NIfTI export of petsim.phantom."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from petsim.grid import Grid
from petsim.phantom import Phantom, load

TABLE = "id\tname\tstructure\themisphere\ttissue\n"


@pytest.fixture(scope="module")
def small():
    return load("shepp_logan_3d", voxel_size_mm=4.0)


def test_to_nifti_and_round_trip(small, tmp_path):
    paths = small.to_nifti(tmp_path)
    labels = nib.load(paths["labels"])
    np.testing.assert_array_equal(labels.affine, small.grid.affine())
    np.testing.assert_array_equal(np.asanyarray(labels.dataobj), small.labels)
    fr = nib.load(paths["fractions"])
    assert fr.shape == (*small.grid.shape, len(small.regions) + 1)
    np.testing.assert_allclose(np.asanyarray(fr.dataobj).sum(axis=-1), 1.0, atol=1e-5)
    mu = nib.load(paths["mu"])
    np.testing.assert_allclose(np.asanyarray(mu.dataobj), small.mu_per_cm)
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
    back = Phantom.from_nifti(paths["labels"], paths["regions"])
    assert back.region_names == small.region_names
    assert back.grid == small.grid
    np.testing.assert_array_equal(back.labels, small.labels)
    for r, s in zip(back.regions, small.regions):
        assert (r.id, r.structure, r.hemisphere, r.tissue) == (s.id, s.structure, s.hemisphere, s.tissue)
        assert r.volume_ml == pytest.approx((small.labels == s.id).sum() * small.grid.voxel_volume_ml)
    np.testing.assert_allclose(back.fractions.sum(axis=0), 1.0)
    np.testing.assert_allclose(back.mu_per_cm[small.labels == small.region("skull").id], 0.151, rtol=1e-6)


def _write(tmp_path, data, table, affine=None):
    aff = np.diag([2.0, 2.0, 2.0, 1.0]) if affine is None else affine
    lp, tp = tmp_path / "labels.nii.gz", tmp_path / "regions.tsv"
    nib.save(nib.Nifti1Image(data, aff), lp)
    tp.write_text(table)
    return lp, tp


def test_user_label_image_with_sparse_ids(tmp_path):
    data = np.zeros((6, 5, 4), dtype=np.int16)
    data[1:3] = 7
    data[3:5, :2] = 12
    lp, tp = _write(tmp_path, data, TABLE + "12\tputamen_l\tputamen\tleft\tgrey\n7\tblob\tblob\tmidline\tcsf\n")
    ph = Phantom.from_nifti(lp, tp)
    assert ph.region_names == ("blob", "putamen_l")
    assert ph.region("blob").volume_ml == pytest.approx(40 * 0.008)
    np.testing.assert_array_equal(ph.labels, data)
    np.testing.assert_array_equal(ph.fraction("putamen_l"), (data == 12).astype(np.float32))


@pytest.mark.parametrize("data, table, affine, message", [
    (np.full((3, 3, 3), 5, np.int16), TABLE + "1\ta\ta\tmidline\tgrey\n", None, "labels \\[5\\]"),
    (np.ones((3, 3, 3), np.int16), TABLE + "1\ta\ta\tmidline\tgrey\n1\tb\tb\tmidline\tgrey\n", None, "duplicate ids"),
    (np.ones((3, 3, 3), np.int16), TABLE + "1\ta\ta\tmidline\tgrey\n2\ta\ta\tmidline\tgrey\n", None, "duplicate names"),
    (np.full((3, 3, 3), 1.5, np.float32), TABLE + "1\ta\ta\tmidline\tgrey\n", None, "non-integer"),
    (np.ones((3, 3, 3), np.int16), TABLE + "1\ta\ta\tmidline\tgrey\n",
     np.array([[0.0, 2, 0, 0], [2, 0, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]]), "axis-aligned"),
    (np.ones((3, 3, 3), np.int16), TABLE + "x\ta\ta\tmidline\tgrey\n", None, "not an integer"),
    (np.ones((3, 3, 3), np.int16), TABLE + "1\ta\ta\tmiddle\tgrey\n", None, "hemisphere"),
    (np.ones((3, 3, 3), np.int16), TABLE + "1\ta\ta\tmidline\tbrain\n", None, "tissue"),
    (np.ones((3, 3, 3), np.int16), TABLE + "0\ta\ta\tmidline\tgrey\n", None, "reserved"),
    (np.ones((3, 3, 3), np.int16), "id\tname\n1\ta\n", None, "lacks columns"),
    (-np.ones((3, 3, 3), np.int16), TABLE + "1\ta\ta\tmidline\tgrey\n", None, "negative"),
])
def test_bad_user_anatomy_is_rejected(tmp_path, data, table, affine, message):
    lp, tp = _write(tmp_path, data, table, affine)
    with pytest.raises(ValueError, match=message):
        Phantom.from_nifti(lp, tp)


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        Phantom.from_nifti(tmp_path / "none.nii.gz", tmp_path / "none.tsv")


def test_resample_user_anatomy(small):
    same = small.resample(small.grid)
    np.testing.assert_array_equal(same.labels, small.labels)
    fine = Grid(tuple(2 * n for n in small.grid.shape), 2.0)  # same extent and centre, half the voxel size
    up = small.resample(fine, supersample=2)
    np.testing.assert_allclose(up.fractions.sum(axis=0), 1.0, atol=1e-6)
    for r in small.regions:  # nearest-neighbour carries each label's volume exactly when voxels nest
        assert up.region(r.name).volume_ml == pytest.approx((small.labels == r.id).sum() * small.grid.voxel_volume_ml)
    coarse = small.resample(Grid(tuple(n // 2 for n in small.grid.shape), 8.0), supersample=4)
    assert coarse.region("brain").volume_ml == pytest.approx(up.region("brain").volume_ml, rel=0.05)
    with pytest.raises(TypeError):
        small.resample((10, 10, 10))
