"""The model registry: models as objects with fit(...) -> FitResult, found by name."""

import numpy as np
import pytest

from petsim.modeling import (MAPS, MODELS, FitResult, Model, TacTable, fit_logan_ref, fit_models, fit_mrtm2, fit_srtm,
                             get_map, get_model)
from petsim.modeling._frames import MIN_FRAMES

START = np.concatenate([np.arange(0.0, 10.0, 1.0), np.arange(10.0, 90.0, 5.0)])
END = np.concatenate([START[1:], [95.0]])
MID = 0.5 * (START + END)
CR = 20 * MID * np.exp(-MID / 10) + 5 * np.exp(-MID / 60)
CT = CR * (1 + 1.5 * (1 - np.exp(-MID / 15)))


def test_registry_lists_every_model_once_with_what_it_needs():
    assert tuple(MODELS) == ("srtm", "srtm2", "mrtm", "mrtm2", "logan_ref", "ratio", "lpntpet")
    assert all(isinstance(m, Model) and m.name == name for name, m in MODELS.items())
    assert [m for m in MODELS if MODELS[m].needs_t_star] == ["mrtm", "mrtm2", "logan_ref"]
    assert [m for m in MODELS if MODELS[m].needs_k2_ref] == ["srtm2", "mrtm2"]
    assert [m for m in MODELS if MODELS[m].detects_release] == ["lpntpet"]
    assert [m for m in MODELS if not MODELS[m].windowed] == ["lpntpet"]
    for name, n in MIN_FRAMES.items():
        assert MODELS[name].min_frames == n
    assert get_model("lpntpet").min_frames == get_model("lpntpet").n_params + 2
    assert get_model(MODELS["srtm"]) is MODELS["srtm"]
    with pytest.raises(ValueError, match="unknown model 'nope'; choose from srtm"):
        get_model("nope")
    with pytest.raises(TypeError):
        MODELS["x"] = None  # read-only


def test_model_fit_gives_the_same_numbers_as_the_functions():
    fit = get_model("srtm").fit(CT, CR, START, END)
    assert isinstance(fit, FitResult) and fit.bp_nd == fit_srtm(START, END, CT, CR).bp_nd
    logan = get_model("logan_ref").fit(CT, CR, START, END, t_star_min=20.0, window_min=(10.0, 90.0))
    assert logan.bp_nd == fit_logan_ref(START, END, CT, CR, t_star_min=20.0, window_min=(10.0, 90.0)).bp_nd
    mrtm2 = get_model("mrtm2").fit(CT, CR, START, END, k2_ref=0.1, t_star_min=10.0)
    assert mrtm2.bp_nd == fit_mrtm2(START, END, CT, CR, 0.1, t_star_min=10.0).bp_nd
    with pytest.raises(ValueError, match="logan_ref needs t_star_min"):
        get_model("logan_ref").fit(CT, CR, START, END)
    with pytest.raises(ValueError, match="srtm2 needs k2_ref"):
        get_model("srtm2").fit(CT, CR, START, END)
    assert get_model("ratio").fit(CT, CR, START, END).bp_nd == pytest.approx(
        fit_models(TacTable(START, END, {"t": CT, "ref": CR}), "ref", models=("ratio",))[0].bp_nd, abs=0)


def test_fit_models_asks_the_registry():
    table = TacTable(START, END, {"t": CT, "ref": CR})
    fits = fit_models(table, "ref", models=("mrtm2", "srtm", "mrtm2"), t_star_min=10.0)
    assert [f.model for f in fits] == ["mrtm2", "srtm", "mrtm2"] and all(f.region == "t" for f in fits)
    with pytest.raises(ValueError, match=r"unknown model\(s\) \['x'\]"):
        fit_models(table, "ref", models=("x",))


def test_map_registry():
    assert tuple(MAPS) == ("bfsrtm", "mrtm2", "logan_ref")
    assert [m for m in MAPS if MAPS[m].needs_t_star] == ["mrtm2", "logan_ref"]
    assert get_map("bfsrtm").model == "srtm" and get_map("logan_ref").min_frames == MIN_FRAMES["logan_ref"]
    with pytest.raises(ValueError, match="unknown map method"):
        get_map("srtm")
    img = np.broadcast_to(CT, (2, 2, 1, CT.size)).copy()
    maps = get_map("logan_ref").compute(img, CR, START, END, t_star_min=20.0, progress=False)
    assert maps["BP_ND"].shape == (2, 2, 1)
    assert maps["BP_ND"][0, 0, 0] == pytest.approx(fit_logan_ref(START, END, CT, CR, t_star_min=20.0).bp_nd, rel=1e-6)
