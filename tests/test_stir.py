"""petsim's Interfile sinograms use only keys STIR reads, and `petsim export-stir` gives STIR petsim's model."""

import re
from pathlib import Path

import numpy as np
import pytest

from petsim.cli import main
from petsim.io.interfile import read_interfile_sinogram

TINY = Path(__file__).parent / "data" / "tiny.toml"

# The keys STIR's Interfile parser knows for projection data, lower case, without the leading "!" and
# the "[i]" index: the add_key/add_vectorised_key/ignore_key calls and section keys of
# src/IO/InterfileHeader.cxx and src/buildblock/KeyParser.cxx (STIR on GitHub, UCL/STIR, 2026).
STIR_KEYS = {
    "interfile", "end of interfile", "general data", "general image data", "image data description",
    "pet study (emission data)", "pet study (general)", "pet study (image data)", "pet data type",
    "spect study (general)", "spect study (acquired data)", "scanner parameters", "end scanner parameters",
    "scanner type", "scanner geometry (blocksoncylindrical/cylindrical/generic)", "applied corrections",
    "average depth of interaction (cm)", "calibration factor", "data format", "data offset in bytes",
    "default bin size (cm)", "distance between rings (cm)", "effective central bin size (cm)",
    "energy window lower level", "energy window upper level", "energy resolution", "reference energy (in kev)",
    "first pixel offset (mm)", "image data type description", "image duration (sec)",
    "image relative start time (sec)", "image scaling factor", "imagedata byte order", "imaging modality",
    "index nesting level", "inner ring diameter (cm)", "isotope name", "matrix axis label", "matrix size",
    "maximum pixel count", "minimum pixel count", "maximum ring difference per segment",
    "minimum ring difference per segment", "name of data file", "number format", "number of bytes per pixel",
    "number of detector layers", "number of detectors per ring", "number of dimensions",
    "number of energy windows", "number of image data types", "number of radionuclides", "number of rings",
    "number of time frames", "originating system", "patient orientation", "patient rotation", "process status",
    "quantification units", "radionuclide branching factor", "radionuclide halflife (sec)", "radionuclide name",
    "scaling factor (mm/pixel)", "start horizontal bed position (mm)", "start vertical bed position (mm)",
    "study date", "study_time", "transaxial fov diameter (cm)", "type of data", "version of keys",
    "view offset (degrees)", "default number of arc-corrected bins", "maximum number of non-arc-corrected bins",
}
NUMBER_TYPES = {("float", 4), ("unsigned integer", 1), ("unsigned integer", 2)}


def _keys(header: str) -> dict:
    out = {}
    for line in header.splitlines():
        if ":=" not in line:
            continue
        key, value = (part.strip() for part in line.split(":=", 1))
        key = re.sub(r"\s*\[\d+\]\s*$", "", key.lstrip("!")).lower()
        out[key] = value
    return out


def _check_against_stir(hs: Path):
    """Every key is one STIR reads, and the data file holds exactly what the header says."""
    keys = _keys(hs.read_text())
    unknown = sorted(set(keys) - STIR_KEYS)
    assert not unknown, f"{hs.name}: keys STIR does not read: {unknown}"
    n_bytes = int(keys["number of bytes per pixel"])
    assert (keys["number format"], n_bytes) in NUMBER_TYPES
    header = hs.read_text()
    axial = [int(v) for v in re.findall(r"\d+", re.search(r"matrix size \[3\] := (.*)", header).group(1))]
    views = int(re.search(r"matrix size \[2\] := (\d+)", header).group(1))
    radial = int(re.search(r"matrix size \[1\] := (\d+)", header).group(1))
    data = hs.parent / keys["name of data file"]
    assert data.stat().st_size == sum(axial) * views * radial * n_bytes
    return keys


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    out = tmp_path_factory.mktemp("stir") / "run"
    assert main(["simulate", str(TINY), "-o", str(out), "-q"]) == 0
    return out


def test_stored_sinograms_use_only_stir_keys_and_name_the_scanner_as_stir_does(simulated):
    sino = simulated / "derivatives" / "petsim" / "sub-01" / "sinograms"
    headers = sorted(sino.glob("*.hs"))
    assert len(headers) > 3
    for hs in headers:
        keys = _check_against_stir(hs)
        # STIR's own names of the HR+ are "ECAT 962" and "ECAT HR+" (src/buildblock/Scanner.cxx)
        assert keys["originating system"] == keys["scanner type"] == "ECAT HR+"
        assert (keys["energy window lower level"], keys["energy window upper level"]) == ("350", "650")
    prompts = _keys((sino / "release_frame-03_prompts.hs").read_text())
    assert prompts["isotope name"] == "C-11"  # a name STIR's radionuclide table knows (C-11, 11C, ^11^Carbon)


def test_export_stir_gives_stirs_model_of_the_same_frame(simulated, tmp_path):
    from petsim.pipeline.scenario import load_scenario
    from petsim.pipeline.sinostore import StoredScan
    from petsim.pipeline.world import World

    out = tmp_path / "stir"
    assert main(["export-stir", str(simulated), "--frames", "3", "8", "-o", str(out), "-q"]) == 0
    world = World(load_scenario(simulated / "scenario_resolved.toml"))
    frame = StoredScan(simulated / "derivatives" / "petsim" / "sub-01" / "sinograms", "release",
                       world.scanner, world.layout)[8]
    mult, _ = read_interfile_sinogram(out / "release_frame-08_multfactors.hs")
    add, _ = read_interfile_sinogram(out / "release_frame-08_additive.hs")
    order = np.argsort(np.concatenate([np.flatnonzero(world.layout.sinogram_segment == s)
                                       for s in sorted(set(world.layout.sinogram_segment.tolist()))]))
    mult, add = mult[order], add[order]
    # STIR: E[y] = D (F x + a) with D = 1 / multfactors; petsim: E[y] = s m (P x) + r
    seen = frame.multiplicative > 0
    d = np.float32(frame.scale) * frame.multiplicative
    np.testing.assert_allclose(1.0 / mult[seen], d[seen], rtol=1e-6)
    np.testing.assert_allclose(add[seen] / mult[seen], frame.additive[seen], rtol=1e-5, atol=1e-6 * frame.additive.max())
    assert np.all(mult[~seen] == 0) and np.all(add[~seen] == 0)
    for name in ("release_frame-03_multfactors.hs", "release_frame-08_additive.hs"):
        _check_against_stir(out / name)
    par = (out / "release_frame-08_OSEM.par").read_text()
    for key in ("input file", "normalisation projdata filename", "additive sinogram"):
        target = re.search(rf"{key} := (.*)", par).group(1).strip()
        assert (out / target).is_file(), (key, target)
    assert "number of subsets := 4" in par and "number of subiterations := 12" in par
    with pytest.raises(ValueError, match="frames \\[99\\] are not in the release scan"):
        from petsim.pipeline.stir_export import export_stir

        export_stir(simulated, frames=[99], out_dir=tmp_path / "x", quiet=True)
