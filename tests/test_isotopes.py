import math

import numpy as np
import pytest

from petsim.core.isotopes import Isotope, get_isotope


def test_half_lives_and_branching():
    c11 = get_isotope("C-11")
    assert c11.half_life_min == 20.364
    assert 0.99 < c11.positron_fraction <= 1.0
    assert get_isotope("F-18").half_life_min == pytest.approx(109.77)
    assert get_isotope("O-15").half_life_min == pytest.approx(122.24 / 60)
    assert get_isotope("c11") is c11


def test_decay_factor_is_half_at_half_life():
    for name in ("C-11", "F-18", "O-15"):
        iso = get_isotope(name)
        assert iso.decay_factor(iso.half_life_min) == pytest.approx(0.5, rel=1e-14)
        assert iso.decay_constant_per_min == pytest.approx(math.log(2) / iso.half_life_min)
    np.testing.assert_allclose(get_isotope("C-11").decay_factor([0.0]), [1.0])


def test_bad_isotopes():
    with pytest.raises(KeyError, match="Ga-68"):
        get_isotope("Ga-68")
    with pytest.raises(ValueError, match="half_life_min"):
        Isotope("X", -1.0, 0.5)
    with pytest.raises(ValueError, match="positron_fraction"):
        Isotope("X", 1.0, 1.5)
