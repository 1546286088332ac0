"""The carfentanil parameter table."""

import math

import pytest

from petsim.kinetics import KineticParams, load_tracer

PHANTOM_STRUCTURES = [
    "scalp", "skull", "csf", "ventricles", "white_matter", "frontal_cortex", "temporal_cortex",
    "parietal_cortex", "occipital_cortex", "anterior_cingulate_subgenual", "anterior_cingulate_pregenual",
    "insula_anterior", "insula_posterior", "cerebellum", "brainstem", "thalamus_medial", "thalamus_lateral",
    "caudate", "putamen", "nucleus_accumbens", "amygdala", "hippocampus", "hypothalamus", "periaqueductal_grey",
]


@pytest.fixture(scope="module")
def tracer():
    return load_tracer("carfentanil")


def test_every_phantom_structure_has_a_row_with_a_source(tracer):
    assert sorted(PHANTOM_STRUCTURES) == tracer.structures
    for s in PHANTOM_STRUCTURES:
        for name in (s, s + "_l", s + "_r"):
            p = tracer.params(name)
            assert isinstance(p, KineticParams)
            assert tracer.source(name)


def test_binding_pattern(tracer):
    bp = tracer.bp_nd
    assert tracer.reference_region == "occipital_cortex"
    assert tracer.params("occipital_cortex").k3 == 0.0
    for hi in ("thalamus_medial", "amygdala_l", "nucleus_accumbens", "caudate_r", "putamen_l"):
        assert bp(hi) >= 1.8 - 1e-12 and 1.8 > bp("frontal_cortex") > bp("cerebellum") > bp("white_matter") > 0
    assert bp("white_matter") < 0.3
    assert bp("amygdala_r") > bp("amygdala_l")  # Kantonen et al. 2020
    assert tracer.params("white_matter").K1 == pytest.approx(0.5 * tracer.params("frontal_cortex").K1)
    for s in ("csf", "ventricles", "skull"):
        assert tracer.params(s).K1 == 0
    assert 0 < tracer.params("scalp").K1 < 0.1
    p = tracer.params("thalamus_medial")
    assert p.bp_nd == pytest.approx(p.k3 / p.k4) and p.v_t == pytest.approx(p.v_nd * (1 + p.bp_nd))
    assert math.isfinite(p.bmax_nm) and math.isinf(tracer.params("occipital_cortex").bmax_nm)


def test_unknown_and_bad(tracer):
    with pytest.raises(KeyError, match="striatum.*known"):
        tracer.params("striatum")
    with pytest.raises(KeyError, match="known"):
        load_tracer("raclopride")
    with pytest.raises(ValueError, match="k2"):
        KineticParams(0.1, -0.1, 0.1, 0.1)
    with pytest.raises(ValueError, match="K1"):
        KineticParams(-0.1, 0.1, 0.1, 0.1)
    with pytest.raises(ValueError, match="vB"):
        KineticParams(0.1, 0.1, 0.1, 0.1, vB=1.2)


def test_load_from_path(tmp_path):
    f = tmp_path / "toy.toml"
    f.write_text('[meta]\ntracer = "toy"\nreference_region = "r"\n[structures.r]\nK1 = 0.1\nk2 = 0.2\nk3 = 0.0\nk4 = 0.1\n')
    t = load_tracer(path=f)
    assert t.bp_nd("r_l") == 0.0
    f.write_text('[structures.r]\nK1 = 0.1\nk2 = -0.2\nk3 = 0.0\nk4 = 0.1\n')
    with pytest.raises(ValueError, match="row 'r'.*k2"):
        load_tracer(path=f)


def test_with_changes(tracer):
    no_blood = tracer.with_changes(vB=0.0)
    assert all(no_blood.params(s).vB == 0.0 for s in tracer.structures)
    assert tracer.params("caudate").vB == 0.05  # original untouched
    one = tracer.with_changes(["caudate_l"], k3=4.0 * tracer.params("caudate").k4)
    assert one.bp_nd("caudate_l") == pytest.approx(4.0) and one.bp_nd("caudate_r") == pytest.approx(2.0)
    with pytest.raises(TypeError, match="Vt"):
        tracer.with_changes(Vt=1.0)
    with pytest.raises(ValueError, match="k4"):
        tracer.with_changes(k4=-1.0)
