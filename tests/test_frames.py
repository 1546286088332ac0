import numpy as np
import pytest

from petsim.frames import FrameSchedule, get_schedule, piecewise_linear_integral
from petsim.core.isotopes import get_isotope


def test_hsu2013_schedule():
    fs = get_schedule("hsu2013")
    assert fs.n_frames == 28
    assert fs.starts_min[0] == 0 and fs.ends_min[-1] == pytest.approx(90.0)
    assert fs.durations_min.min() == pytest.approx(0.5) and fs.durations_min.max() == pytest.approx(10.0)
    assert np.all(np.diff(fs.durations_min) >= 0)
    np.testing.assert_allclose(fs.mid_min, 0.5 * (fs.starts_min + fs.ends_min))
    assert fs.to_bids()["FrameDuration"][0] == pytest.approx(30.0)


def test_validation_names_frame_and_values():
    with pytest.raises(ValueError, match=r"frame 1 ends \(1.0 min\).*\(2.0 min\)"):
        FrameSchedule([0, 2], [1, 1])
    with pytest.raises(ValueError, match="frame 1 .*overlaps frame 0"):
        FrameSchedule([0, 0.5], [1, 2])
    with pytest.raises(ValueError, match="out of order"):
        FrameSchedule([2, 0], [3, 1])
    with pytest.raises(ValueError, match="duration"):
        FrameSchedule.from_durations([1, -1])
    with pytest.raises(KeyError, match="hsu2013"):
        get_schedule("nope")
    fs = FrameSchedule([0, 5], [1, 6])  # gaps are allowed
    assert fs.n_frames == 2
    with pytest.raises(AttributeError):
        fs.foo = 1
    with pytest.raises(ValueError):
        fs.starts_min[0] = 3


def test_average_exact_for_piecewise_linear_curve():
    fs = FrameSchedule([0.13, 1.0, 7.77], [0.9, 5.31, 9.0])
    t = np.linspace(0, 10, 37)  # frame edges off the grid
    v = 2.0 + 3.0 * t
    expect = 2.0 + 1.5 * (fs.starts_min + fs.ends_min)
    np.testing.assert_allclose(fs.average(t, v), expect, rtol=1e-13)
    # (..., n_t) input
    np.testing.assert_allclose(fs.average(t, np.stack([v, 2 * v])), np.stack([expect, 2 * expect]), rtol=1e-13)


def test_decayed_average_of_exponential_is_exact():
    """Mean of 1 x exp(-lambda t) over a frame against its closed form."""
    fs = get_schedule("hsu2013")
    iso = get_isotope("C-11")
    lam = iso.decay_constant_per_min
    t = np.linspace(0, 90, 901)
    got = fs.average(t, np.ones_like(t), iso)
    exact = (np.exp(-lam * fs.starts_min) - np.exp(-lam * fs.ends_min)) / (lam * fs.durations_min)
    np.testing.assert_allclose(got, exact, rtol=1e-10, atol=0)
    # exponential curve exp(-a t) as the values, decay on top: exp(-(a+lam) t), exact as a
    # piecewise-linear curve only in the limit; check the linear x decay closed form instead
    a, b = 1.5, 0.25
    got = fs.integrate(t, a + b * t, iso)
    s, e = fs.starts_min, fs.ends_min
    prim = lambda x: -np.exp(-lam * x) * (a / lam + b * (x / lam + 1 / lam**2))
    np.testing.assert_allclose(got, prim(e) - prim(s), rtol=1e-10)


def test_exponential_curve_converges_and_decay_correction_round_trips():
    fs = get_schedule("hsu2013")
    iso = get_isotope("C-11")
    lam = iso.decay_constant_per_min
    t = np.linspace(0, 90, 90001)
    k = 0.05
    exact = (np.exp(-k * fs.starts_min) - np.exp(-k * fs.ends_min)) / (k * fs.durations_min)
    np.testing.assert_allclose(fs.average(t, np.exp(-k * t)), exact, rtol=1e-8)
    # constant decay-corrected activity: decayed frame mean x factor gives it back
    A = 1234.5
    dcf = fs.decay_correction_factors(iso)
    np.testing.assert_allclose(fs.average(t, np.full_like(t, A), iso) * dcf, A, rtol=1e-12)
    # general curve: decay-correcting the decayed frame mean ~ frame mean of the curve
    c = np.exp(-k * t)
    np.testing.assert_allclose(fs.average(t, c, iso) * dcf, fs.average(t, c), rtol=2e-2)
    assert np.all(dcf >= 1.0) and dcf[-1] == pytest.approx(
        lam * 10 * np.exp(lam * 80) / (1 - np.exp(-lam * 10)))


def test_curve_must_cover_frames():
    fs = FrameSchedule([0], [10])
    with pytest.raises(ValueError, match="outside"):
        fs.average(np.linspace(0, 5, 6), np.ones(6))
    with pytest.raises(ValueError, match="strictly increasing"):
        piecewise_linear_integral([0, 0, 1], [1, 1, 1], [0], [1])


def test_pickle_round_trip():
    import pickle

    fs = get_schedule("hsu2013")
    assert pickle.loads(pickle.dumps(fs)) == fs
