"""Tests of petsim.phantom: the analytic mor_brain phantom, test objects and user anatomy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from petsim.grid import Grid
from petsim.phantom import Phantom, Region, load
from petsim.phantom.definitions import build, read_definition

PAIRED = ["white_matter", "frontal_cortex", "temporal_cortex", "parietal_cortex", "occipital_cortex",
          "anterior_cingulate_subgenual", "anterior_cingulate_pregenual", "insula_anterior", "insula_posterior",
          "cerebellum", "thalamus_medial", "thalamus_lateral", "caudate", "putamen", "nucleus_accumbens",
          "amygdala", "hippocampus"]
MIDLINE = ["scalp", "skull", "csf", "ventricles", "brainstem", "hypothalamus", "periaqueductal_grey"]
CORTEX = ["frontal_cortex", "temporal_cortex", "parietal_cortex", "occipital_cortex"]


@pytest.fixture(scope="module")
def brain2():
    return load("mor_brain", voxel_size_mm=2.0)


@pytest.fixture(scope="module")
def brain1():
    return load("mor_brain", voxel_size_mm=1.0)


def test_every_named_structure_exists(brain2):
    expected = {s + side for s in PAIRED for side in ("_l", "_r")} | set(MIDLINE)
    assert set(brain2.region_names) == expected
    assert brain2.region_names == tuple(r.name for r in sorted(brain2.regions, key=lambda r: r.id))
    for r in brain2.regions:
        assert isinstance(r, Region) and r.volume_ml > 0, r
        assert r.hemisphere == ("left" if r.name.endswith("_l") else "right" if r.name.endswith("_r") else "midline")
    assert brain2.region("amygdala_l").tissue == "grey"
    assert brain2.region("skull").tissue == "bone"
    assert 35 <= len(brain2.regions) <= 50


def test_unknown_region_lists_known_names(brain2):
    with pytest.raises(KeyError, match="amygdala_l"):
        brain2.region("amygdala")
    with pytest.raises(KeyError, match="known regions"):
        brain2.fraction("nope")


def _check_targets(ph, tol):
    targets, groups = ph.info["targets"], ph.info["groups"]
    checked = 0
    for r in ph.regions:
        if "volume_ml" in targets[r.name]:
            assert r.volume_ml == pytest.approx(targets[r.name]["volume_ml"], rel=tol), r.name
            checked += 1
    for gname, g in groups.items():
        for side in ("_l", "_r"):
            total = sum(ph.region(m + side).volume_ml for m in g["members"])
            assert total == pytest.approx(g["volume_ml"], rel=tol), gname + side
            checked += 1
    return checked


@pytest.mark.slow
def test_volumes_within_20_percent_of_published_at_1mm(brain1):
    # targets and their citations live in phantoms/mor_brain.toml
    assert _check_targets(brain1, 0.20) >= 30


def test_volumes_within_20_percent_at_2mm(brain2):
    assert _check_targets(brain2, 0.20) >= 30


def test_fractions_sum_to_one_and_labels_are_argmax(brain2):
    fr = brain2.fractions
    assert fr.dtype == np.float32 and fr.shape == (len(brain2.regions) + 1, *brain2.grid.shape)
    np.testing.assert_allclose(fr.sum(axis=0), 1.0, atol=1e-5)
    assert fr.min() >= 0 and fr.max() <= 1
    # each voxel's label has the largest fraction
    ids = np.array([0] + [r.id for r in brain2.regions])
    best = fr.max(axis=0)
    lab_index = np.searchsorted(ids, brain2.labels)
    chosen = np.take_along_axis(fr, lab_index[None], axis=0)[0]
    np.testing.assert_array_equal(chosen, best)
    # volumes in the region table are the sums of the fractions
    vol = fr.sum(axis=(1, 2, 3), dtype=np.float64) * brain2.grid.voxel_volume_ml
    np.testing.assert_allclose(vol[1:], [r.volume_ml for r in brain2.regions], rtol=1e-5)
    np.testing.assert_array_equal(fr[ids.tolist().index(brain2.region("putamen_l").id)], brain2.fraction("putamen_l"))


def test_left_right_symmetry(brain2):
    assert np.allclose(brain2.grid.axis_mm(0), -brain2.grid.axis_mm(0)[::-1])
    for s in PAIRED:
        left, right = brain2.region(s + "_l"), brain2.region(s + "_r")
        assert left.volume_ml == pytest.approx(right.volume_ml, rel=1e-3), s
        fl, fr = brain2.fraction(s + "_l"), brain2.fraction(s + "_r")
        # mirror image through x = 0 (sub-sample points fall on the same mirrored positions)
        assert np.abs(fl[::-1] - fr).mean() < 1e-5, s
        assert brain2.centroid_mm(s + "_l")[0] < 0 < brain2.centroid_mm(s + "_r")[0]


def test_small_nuclei_at_their_mni_positions(brain2):
    # AAL3 centroids (phantom-reference.md) within 5 mm
    for name, ref in {"amygdala_l": (-23.0, -2.4, -19.0), "putamen_l": (-23.9, 2.0, 0.7),
                      "nucleus_accumbens_l": (-7.7, 12.3, -7.7)}.items():
        assert np.linalg.norm(np.subtract(brain2.centroid_mm(name), ref)) < 5.0, name


@pytest.mark.slow
def test_cortex_is_a_thin_ribbon(brain1):
    labels = brain1.labels
    cortex = np.isin(labels, [brain1.region(s + "_l").id for s in CORTEX])
    # distance (mm) from each cortical voxel to the nearest non-cortical voxel (scipy EDT)
    depth = ndimage.distance_transform_edt(cortex, sampling=brain1.grid.voxel_size_mm)[cortex]
    assert np.percentile(depth, 99) <= 2.5  # ~2.5 mm thick: no point deeper than ~half + a voxel
    assert np.median(depth) <= 1.5
    # and it is not a block: cortex fills only part of its bounding region
    assert cortex.sum() * brain1.grid.voxel_volume_ml > 200


def test_convergence_1mm_vs_half_mm_in_a_box():
    # A box around the left deep nuclei; 1 mm and 0.5 mm grids share the same outer edges.
    lo = np.array([-42.0, -48.0, -28.0])
    size = np.array([40, 76, 52])
    g1 = Grid(tuple(size), 1.0, tuple(lo + 0.5))
    g05 = Grid(tuple(2 * size), 0.5, tuple(lo + 0.25))
    p1, p05 = load("mor_brain", grid=g1, supersample=3), load("mor_brain", grid=g05, supersample=3)
    compared = 0
    for r1, r05 in zip(p1.regions, p05.regions):
        if r05.volume_ml > 1.0:
            assert r1.volume_ml == pytest.approx(r05.volume_ml, rel=0.02), r1.name
            compared += 1
    assert compared >= 12


def test_off_centre_grid_gives_same_structure(brain2):
    ref = brain2.region("amygdala_l").volume_ml
    g = Grid((20, 20, 20), 2.0, (-40.0, -20.0, -35.0))  # not centred on the head
    ph = load("mor_brain", grid=g)
    assert ph.grid == g and ph.labels.shape == (20, 20, 20)
    assert ph.region("amygdala_l").volume_ml == pytest.approx(ref, rel=0.01)
    assert ph.region("frontal_cortex_r").volume_ml == 0.0


def test_attenuation_map(brain2):
    mu = brain2.mu_per_cm
    assert mu.dtype == np.float32 and mu.shape == brain2.grid.shape
    lab = brain2.labels
    assert np.all(mu[lab == 0] < 0.05)  # air (partial-volume voxels at the scalp edge only)
    assert np.median(mu[lab == brain2.region("skull").id]) == pytest.approx(0.151, abs=1e-6)
    assert np.median(mu[lab == brain2.region("thalamus_lateral_l").id]) == pytest.approx(0.096, abs=1e-6)
    assert mu[tuple(s // 2 for s in brain2.grid.shape)] == pytest.approx(0.096, abs=1e-6)
    assert mu[0, 0, 0] == 0.0


def test_deterministic():
    a, b = load("shepp_logan_3d", voxel_size_mm=4.0), load("shepp_logan_3d", voxel_size_mm=4.0)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.fractions, b.fractions)


@pytest.mark.parametrize("name", ["cylinder", "nema_iec", "shepp_logan_3d"])
def test_test_objects_on_the_phantom_interface(name):
    ph = load(name, voxel_size_mm=2.0)
    assert isinstance(ph, Phantom)
    np.testing.assert_allclose(ph.fractions.sum(axis=0), 1.0, atol=1e-5)
    for r in ph.regions:  # analytic volumes (pi r^2 h, 4/3 pi r^3) where the file gives one
        target = ph.info["targets"][r.name].get("volume_ml")
        if target is not None:
            assert r.volume_ml == pytest.approx(target, rel=0.01), r.name


def test_nema_spheres_and_cylinder_analytic():
    nema = load("nema_iec", voxel_size_mm=2.0)
    for d in (10, 13, 17, 22, 28, 37):
        assert nema.region(f"sphere_{d}mm").volume_ml == pytest.approx(4 / 3 * np.pi * (d / 20) ** 3, rel=0.01)
    cyl = load("cylinder", voxel_size_mm=4.0)
    assert cyl.region("cylinder").volume_ml == pytest.approx(np.pi * 10.0 ** 2 * 20.0, rel=0.005)
    assert np.max(cyl.mu_per_cm) == pytest.approx(0.096)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown phantom"):
        load("hoffman_brain")
    with pytest.raises(TypeError):
        load("cylinder", grid=(10, 10, 10))
    with pytest.raises(ValueError, match="supersample"):
        load("cylinder", voxel_size_mm=8.0, supersample=0)
    with pytest.raises(ValueError, match="voxel_size_mm"):
        load("cylinder", voxel_size_mm=-1.0)


def test_bad_definitions():
    good = read_definition("cylinder")
    bad = dict(good, region=[{k: v for k, v in good["region"][0].items() if k != "tissue"}])
    with pytest.raises(ValueError, match="tissue"):
        build(bad)
    bad = dict(good, region=[dict(good["region"][0], shape=[{"kind": "torus", "centre_mm": [0, 0, 0], "semi_axes_mm": [1, 1, 1]}])])
    with pytest.raises(ValueError, match="unknown shape kind"):
        build(bad)
    bad = dict(good, region=[dict(good["region"][0], tissue="bone marrow")])
    with pytest.raises(ValueError, match="tissue"):
        build(bad)
    bad = dict(good, region=[good["region"][0], good["region"][0]])
    with pytest.raises(ValueError, match="defined twice"):
        build(bad)


def test_mni152_needs_the_anatomy_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nilearn" else real(name, *a))
    with pytest.raises(ImportError, match=r"pip install petsim\[anatomy\]"):
        load("mni152")


@pytest.mark.slow
def test_mni152_from_icbm_tissue_maps():
    import importlib.util

    if importlib.util.find_spec("nilearn") is None:
        pytest.skip("needs the optional extra petsim[anatomy] (nilearn package data)")
    ph = load("mni152", voxel_size_mm=4.0)
    ref = load("mor_brain", voxel_size_mm=4.0)
    assert ph.region_names == ref.region_names
    np.testing.assert_allclose(ph.fractions.sum(axis=0), 1.0, atol=1e-5)
    for name in ("amygdala_l", "nucleus_accumbens_r", "thalamus_medial_l"):  # same analytic nuclei
        assert ph.region(name).volume_ml == pytest.approx(ref.region(name).volume_ml, rel=0.05)
    for s in ("occipital_cortex", "white_matter", "cerebellum"):  # folded anatomy, symmetric template
        assert ph.region(s + "_l").volume_ml > 10
        assert ph.region(s + "_l").volume_ml == pytest.approx(ph.region(s + "_r").volume_ml, rel=0.05)
    assert ph.mu_per_cm.max() == pytest.approx(0.151, abs=1e-6)


def test_plot_png(brain2, tmp_path):
    path = brain2.plot(tmp_path / "amygdala.png", centre_region="amygdala_l")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
