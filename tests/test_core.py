"""Layer 0 (petsim.core): atomic writes, TSV tables, TOML loading, NIfTI writing, curves."""

import os

import nibabel as nib
import numpy as np
import pytest

from petsim.core.atomic import atomic_path, write_bytes_atomic, write_text_atomic
from petsim.core.curves import gamma_variate
from petsim.core.nifti import save_nifti
from petsim.core.toml import TomlError, load_toml, loads_toml
from petsim.core.tsv import format_cell, read_tsv, write_tsv, write_tsv_lines


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_atomic_write_is_world_readable_and_makes_folders_0755(tmp_path, umask_022):
    path = write_text_atomic(tmp_path / "a" / "b" / "note.txt", "x\n")
    assert path.read_text() == "x\n"
    assert oct(path.stat().st_mode & 0o777) == "0o644"  # never mkstemp's 0600
    assert oct((tmp_path / "a").stat().st_mode & 0o777) == "0o755"
    assert oct((tmp_path / "a" / "b").stat().st_mode & 0o777) == "0o755"
    assert list((tmp_path / "a" / "b").iterdir()) == [path]  # no temporary file left


def test_atomic_write_follows_a_stricter_umask(tmp_path):
    old = os.umask(0o077)
    try:
        path = write_bytes_atomic(tmp_path / "private.bin", b"\x00\x01")
    finally:
        os.umask(old)
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_atomic_path_failure_keeps_the_old_file_and_leaves_nothing(tmp_path):
    target = write_text_atomic(tmp_path / "t.txt", "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.txt"]


def test_temporary_names_are_unique_and_keep_the_suffix(tmp_path):
    with atomic_path(tmp_path / "x.nii.gz") as one, atomic_path(tmp_path / "x.nii.gz") as two:
        assert one != two and one.parent == two.parent == tmp_path
        assert one.name.endswith(".nii.gz") and one.name.startswith(".x.nii.gz.")
        one.write_text("1")
        two.write_text("2")
    assert (tmp_path / "x.nii.gz").read_text() == "1"  # the last rename wins, both complete


def test_tsv_cells_and_round_trip(tmp_path):
    assert [format_cell(v) for v in (None, float("nan"), True, np.bool_(False), np.int64(3), np.float32(0.5), 0.1,
                                     float("inf"), "a\tb")] == ["n/a", "n/a", "true", "false", "3", "0.5", "0.1",
                                                                "inf", "a b"]
    assert [format_cell(v, digits=6) for v in (1.23456789, float("inf"), np.float64(2e-7), 4)] == \
        ["1.23457", "n/a", "2e-07", "4"]
    rows = [{"region": "a", "BP_ND": 2.5, "ok": True}, {"region": "b", "BP_ND": None, "extra": 1}]
    path = write_tsv(tmp_path / "t.tsv", rows)
    assert path.read_text() == "region\tBP_ND\tok\textra\na\t2.5\ttrue\tn/a\nb\tn/a\tn/a\t1\n"
    assert read_tsv(path) == [{"region": "a", "BP_ND": 2.5, "ok": True, "extra": None},
                              {"region": "b", "BP_ND": None, "ok": None, "extra": 1}]
    write_tsv_lines(tmp_path / "s.tsv", ["x", "y"], [["1", "2"]])
    assert (tmp_path / "s.tsv").read_text() == "x\ty\n1\t2\n"
    (tmp_path / "c.csv").write_text("roi,bp\namy,1.5\n")
    assert read_tsv(tmp_path / "c.csv", delimiter=",") == [{"roi": "amy", "bp": 1.5}]
    with pytest.raises(FileNotFoundError, match="no such table"):
        read_tsv(tmp_path / "missing.tsv")


def test_toml_errors_name_the_file(tmp_path):
    good = tmp_path / "good.toml"
    good.write_bytes("\ufeffa = 1\n".encode("utf-8"))  # a byte-order mark is allowed
    assert load_toml(good) == {"a": 1}
    bad = tmp_path / "bad.toml"
    bad.write_text("a = \n")
    with pytest.raises(TomlError, match=r"bad\.toml: not valid TOML"):
        load_toml(bad)
    latin = tmp_path / "latin.toml"
    latin.write_bytes('a = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin\.toml: not UTF-8 text"):
        load_toml(latin)
    with pytest.raises(FileNotFoundError, match="missing.toml"):
        load_toml(tmp_path / "missing.toml")

    class MyError(ValueError):
        pass

    with pytest.raises(MyError, match="too deep here"):
        loads_toml("a = " + "[" * 2000 + "]" * 2000, "deep.toml", error=MyError, too_deep=lambda text: "too deep here")


def test_save_nifti_keeps_dtype_units_and_codes(tmp_path):
    aff = np.diag([2.0, 2.0, 3.0, 1.0])
    path = save_nifti(tmp_path / "l.nii.gz", np.arange(8, dtype=np.int16).reshape(2, 2, 2), aff)
    img = nib.load(str(path))
    assert img.get_data_dtype() == np.int16 and img.header.get_xyzt_units() == ("mm", "unknown")
    path = save_nifti(tmp_path / "d.nii.gz", np.zeros((2, 2, 2, 3), np.float32), aff, t_unit="sec", qform_code=1,
                      sform_code=1, zooms=(2.0, 2.0, 3.0, 60.0))
    img = nib.load(str(path))
    assert img.header.get_xyzt_units() == ("mm", "sec") and img.header.get_zooms()[3] == 60.0
    assert int(img.header["qform_code"]) == 1 and int(img.header["sform_code"]) == 1
    assert oct(path.stat().st_mode & 0o777) != "0o600"


def test_gamma_variate_is_one_at_the_peak_and_zero_before_onset():
    for alpha in (0.25, 1.0, 4.0):
        assert gamma_variate(47.5, 40.0, 47.5, alpha) == pytest.approx(1.0, abs=1e-15)
        assert gamma_variate(39.0, 40.0, 47.5, alpha) == 0.0
    h = gamma_variate(np.array([45.0]), np.array([40.0, 41.0]), np.array([47.5, 50.0]), 1.0)  # broadcasts
    assert h.shape == (2,) and np.all((h > 0) & (h < 1))
