import json

import nibabel as nib
import numpy as np
import pytest

from petsim import Grid
from petsim.io import read_interfile_sinogram, read_nifti, read_tsv, write_interfile_sinogram, write_nifti, write_tsv
from petsim.io.bids import pet_sidecar, write_sidecar


def test_nifti_round_trip_keeps_affine_units_and_values(tmp_path):
    grid = Grid((6, 5, 4), (2.0, 2.5, 3.0))
    data = np.random.default_rng(0).uniform(size=(6, 5, 4, 3)).astype(np.float32)
    path = write_nifti(tmp_path / "a.nii.gz", data, grid, frame_duration_s=60.0)
    img = nib.load(str(path))
    assert np.allclose(img.affine, grid.affine())
    assert img.header.get_xyzt_units() == ("mm", "sec")
    back, g2 = read_nifti(path)
    assert g2 == grid and np.array_equal(back, data)
    assert not list(tmp_path.glob(".*part*"))  # nothing half-written left behind


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    grid = Grid((2, 2, 2), 1.0)
    with pytest.raises(ValueError):
        write_nifti(tmp_path / "b.nii.gz", np.zeros((3, 2, 2)), grid)
    assert list(tmp_path.iterdir()) == []


def test_tsv_round_trip(tmp_path):
    rows = [{"region": "amygdala_l", "BP_ND": 2.5, "converged": True}, {"region": "x", "BP_ND": None, "converged": False}]
    back = read_tsv(write_tsv(tmp_path / "t.tsv", rows))
    assert back == rows


def test_interfile_sinogram_round_trip_orders_segments(tmp_path):
    # sinograms given in the order 0, -1, +1 ; stored in increasing ring difference
    seg = np.array([0, 0, 0, -1, -1, 1, 1])
    sino = np.arange(7 * 4 * 5, dtype=np.float32).reshape(7, 4, 5) + 0.5  # float32 storage
    hdr = write_interfile_sinogram(
        tmp_path / "f.hs", sino, seg, {0: (-1, 1), -1: (-4, -2), 1: (2, 4)},
        n_rings=4, n_detectors_per_ring=8, ring_radius_mm=100.0, ring_spacing_mm=4.0, radial_bin_mm=2.0,
        frame_start_s=30.0, frame_duration_s=60.0,
    )
    back, info = read_interfile_sinogram(hdr)
    assert info["n_axial"] == [2, 3, 2]
    assert info["segments_min_rd"] == [-4, -1, 2]
    assert np.array_equal(back, np.concatenate([sino[3:5], sino[0:3], sino[5:7]]))
    assert info["frame_duration_s"] == 60.0


def test_pet_sidecar_fields_in_seconds(tmp_path):
    sc = pet_sidecar(
        tracer_name="carfentanil", radionuclide="C11", injected_mbq=555, mode_of_administration="bolus-infusion",
        frame_starts_min=[0, 0.5], frame_ends_min=[0.5, 1.5], decay_correction_factors=[1.01, 1.03],
        recon_method="OSEM", recon_parameter_labels=["subsets", "iterations"], recon_parameter_units=["none", "none"],
        recon_parameter_values=[16, 4], recon_filter_type="Gaussian", recon_filter_size_mm=4.0,
        attenuation_correction="simulated mu-map", injected_volume_ml=10.0, infusion_mbq=277.5, infusion_min=90.0,
    )
    assert sc["FrameTimesStart"] == [0.0, 30.0] and sc["FrameDuration"] == [30.0, 60.0]
    # BIDS requires these of a bolus-infusion scan: half the dose (and volume) infused over 90 min
    assert sc["InfusionRadioactivity"] == 277.5 and sc["InfusionStart"] == 0.0 and sc["InjectedVolume"] == 10.0
    assert sc["InfusionSpeed"] == pytest.approx(5.0 / 5400.0) and sc["InfusionSpeedUnits"] == "mL/s"
    path = write_sidecar(tmp_path / "s.json", sc)
    assert json.loads(path.read_text())["ModeOfAdministration"] == "bolus-infusion"
    minimal = dict(tracer_name="x", radionuclide="C11", injected_mbq=1, frame_starts_min=[0], frame_ends_min=[1],
                   decay_correction_factors=[1], recon_method="OSEM", recon_parameter_labels=[],
                   recon_parameter_units=[], recon_parameter_values=[], recon_filter_type="none",
                   recon_filter_size_mm=0, attenuation_correction="none")
    with pytest.raises(ValueError, match="bolus-infusion sidecar needs infusion_mbq"):
        pet_sidecar(**minimal, mode_of_administration="bolus-infusion")
    with pytest.raises(ValueError, match="ModeOfAdministration"):
        pet_sidecar(**minimal, mode_of_administration="iv")


def test_interfile_counts_are_stored_as_uint16(tmp_path):
    counts = np.random.default_rng(3).poisson(300.0, size=(3, 4, 5)).astype(np.float32)  # above 255: 2 bytes
    hdr = write_interfile_sinogram(tmp_path / "c.hs", counts, np.zeros(3, int), {0: (-1, 1)}, n_rings=2,
                                   n_detectors_per_ring=8, ring_radius_mm=100.0, ring_spacing_mm=4.0, radial_bin_mm=2.0)
    assert "unsigned integer" in hdr.read_text()
    assert (tmp_path / "c.s").stat().st_size == counts.size * 2
    back, _ = read_interfile_sinogram(hdr)
    assert np.array_equal(back, counts)
