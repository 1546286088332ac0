"""Scenario files: one TOML file names everything a simulation needs.

Every key has a documented default (:data:`SCHEMA`); unknown keys and values
of the wrong type are errors that name the key and what is allowed. The fully
resolved scenario (every default filled in) is written beside the outputs so
a run can be repeated exactly.
"""

from __future__ import annotations

import copy
import json
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ScenarioError(ValueError):
    """A scenario key has a value that is not allowed (the message names the key)."""


# Each entry: key -> (default, types, allowed values or None, description).
# ``None`` as default means "chosen automatically" (the description says how).
_NUM = (int, float)
SCHEMA: dict = {
    "": {
        "name": ("scenario", str, None, "a short name used in titles"),
        "kind": ("dynamic", str, ("dynamic", "static"), "dynamic kinetics, or one static frame of given activities"),
        "subject": ("01", str, None, "BIDS subject label (sub-XX)"),
        "seed": (2013, int, None, "seed of every random draw (noise, normalisation)"),
    },
    "phantom": {
        "name": ("mor_brain", str, None, "phantom: mor_brain, mni152, cylinder, nema_iec, or a label NIfTI path"),
        "table": (None, str, None, "region table TSV when name is a label NIfTI of the user's"),
    },
    "tracer": {
        "name": ("carfentanil", str, None, "tracer parameter table (petsim/data/<name>.toml)"),
        "isotope": ("C-11", str, ("C-11", "F-18", "O-15"), "radionuclide"),
        "blood_volume": (True, bool, None, "include the vascular fraction vB in the tissue signal (false: vB = 0 everywhere)"),
    },
    "protocol": {
        "input": ("bolus_plus_infusion", str, ("bolus", "bolus_plus_infusion"), "plasma input"),
        "dose_mbq": (555.0, _NUM, None, "injected activity in MBq"),
        "k_bol_min": (90.0, _NUM, None, "bolus-to-infusion ratio K_bol in minutes (Carson et al. 1993)"),
        "infusion_min": (90.0, _NUM, None, "infusion duration in minutes"),
    },
    "frames": {
        "preset": ("hsu2013", str, None, "named frame schedule; ignored when durations_min is given"),
        "durations_min": (None, list, None, "explicit frame durations in minutes, contiguous from 0"),
    },
    "scanner": {
        "name": ("hrplus", str, None, "scanner preset (petsim.scanner.get_scanner)"),
        "mode": ("3d", str, ("3d", "2d"), "fully 3D sinograms, or 2D (direct and cross planes, septa in)"),
        "span": (9, int, None, "axial compression of the 3D sinogram"),
        "max_ring_diff": (22, int, None, "maximum ring difference of the 3D sinogram"),
        "view_mashing": (2, int, None, "views combined into one"),
        "n_radial": (None, int, None, "radial bins (default: the scanner's)"),
    },
    "physics": {
        "attenuation": (True, bool, None, "attenuation in the data and its model"),
        "scatter": (True, bool, None, "scatter in the data and its model"),
        "scatter_fraction": (None, _NUM, None, "scatter fraction; default: the scanner's for the mode (HR+ 0.35 in 3D, 0.24 in 2D)"),
        "randoms": (True, bool, None, "randoms in the data and its model"),
        "normalisation": (True, bool, None, "crystal efficiencies in the data and its model"),
        "crystal_efficiency_sd": (0.05, _NUM, None, "relative SD of crystal efficiencies"),
        "psf_fwhm_mm": (None, list, None, "scanner resolution FWHM (x, y, z) in mm; [] for none; default: the scanner's, with the positron range"),
        "dead_time": (True, bool, None, "count-rate losses"),
        "noise": (True, bool, None, "Poisson noise (false: expected data)"),
        "sim_oversampling": (2, int, None, "simulation grid is this many times finer than the recon grid per axis"),
    },
    "recon": {
        "algorithm": ("osem", str, ("osem", "mlem", "fbp", "map"), "reconstruction algorithm"),
        "rebin": ("fore", str, ("fore", "ssrb", "none"), "rebinning of 3D data to 2D before reconstruction"),
        "iterations": (4, int, None, "iterations"),
        "subsets": (16, int, None, "subsets (OSEM)"),
        "post_filter_fwhm_mm": (4.0, _NUM, None, "Gaussian post-filter FWHM in mm (0: none)"),
        "psf_fwhm_mm": ([], list, None, "resolution model in the reconstruction (x, y, z) in mm; [] for none"),
        "shape": ([128, 128, 63], list, None, "reconstruction grid (nx, ny, nz)"),
        "voxel_size_mm": ([2.25, 2.25, 2.425], list, None, "reconstruction voxel size in mm"),
        "beta": (0.5, _NUM, None, "prior strength of MAP (relative difference prior)"),
    },
    "analysis": {
        "reference": ("occipital_cortex", (str, list), None, "reference region (a region name, or a prefix for both sides)"),
        "models": (["srtm", "logan_ref", "mrtm2"], list, None, "models fitted to every region's TAC"),
        "t_star_min": (20.0, _NUM, None, "t* of the graphical methods in minutes"),
        "windows": (
            [{"name": "baseline", "start_min": 0.0, "end_min": 45.0}, {"name": "task", "start_min": 45.0, "end_min": 90.0}],
            list,
            None,
            "analysis windows; BP_ND is estimated in each, and the truth names the same windows",
        ),
        "control": (True, bool, None, "also simulate the matched no-release scan and judge ΔBP against it"),
        "regions": ([], list, None, "regions to report (default: every region with specific binding)"),
        "maps": (["bfsrtm"], list, None, "voxelwise BP_ND maps of the whole scan: bfsrtm, mrtm2, logan_ref (written as NIfTI and compared with the truth map)"),
        "voi": ("labels", str, ("labels", "core"), "VOIs for the TACs: every labelled voxel, or only voxels at least 90% inside the region"),
    },
}

#: Voxelwise BP_ND methods (petsim.modeling): basis-function SRTM, MRTM2 and Logan reference maps.
MAP_METHODS = ("bfsrtm", "mrtm2", "logan_ref")

RELEASE_SCHEMA: dict = {
    "regions": (None, list, None, "regions where the release happens (names, or a structure for both sides)"),
    "profile": ("step", str, ("step", "gamma"), "sustained step, or the gamma variate of lp-ntPET"),
    "onset_min": (45.0, _NUM, None, "start of the release in minutes"),
    "end_min": (None, _NUM, None, "end of a step release (default: the scan end)"),
    "peak_min": (None, _NUM, None, "peak time of a gamma release"),
    "alpha": (1.0, _NUM, None, "sharpness of a gamma release"),
    "magnitude": (0.05, _NUM, None, "peak extra fractional occupancy (0-1)"),
}

STATIC_SCHEMA: dict = {
    "duration_min": (10.0, _NUM, None, "frame duration in minutes"),
    "activity_bq_ml": ({}, dict, None, "activity concentration per region in Bq/mL"),
}


def _check_value(key: str, value, spec):
    default, types, allowed, _ = spec
    if value is None:
        return None
    if types is _NUM and isinstance(value, bool) or (types is int and isinstance(value, bool)):
        raise ScenarioError(f"{key} must be a number, got {value!r}")
    if types is float or types is _NUM:
        if not isinstance(value, _NUM):
            raise ScenarioError(f"{key} must be a number, got {value!r} ({type(value).__name__})")
        value = float(value)
    elif not isinstance(value, types):
        name = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        raise ScenarioError(f"{key} must be of type {name}, got {value!r} ({type(value).__name__})")
    if allowed is not None and value not in allowed:
        raise ScenarioError(f"{key} = {value!r} is not allowed; choose one of {', '.join(map(str, allowed))}")
    return value


def _resolve_table(prefix: str, given: dict, schema: dict) -> dict:
    unknown = sorted(set(given) - set(schema))
    if unknown:
        where = f"[{prefix}]" if prefix else "the top level"
        raise ScenarioError(
            f"unknown key {prefix + '.' if prefix else ''}{unknown[0]} in {where}; allowed keys: {', '.join(sorted(schema))}"
        )
    out = {}
    for key, spec in schema.items():
        full = f"{prefix}.{key}" if prefix else key
        out[key] = _check_value(full, given[key], spec) if key in given else copy.deepcopy(spec[0])
    return out


@dataclass(frozen=True)
class Scenario:
    """A fully resolved scenario: ``data`` holds every section with every default filled in."""

    data: dict
    source: str = "<dict>"

    def __getitem__(self, section):
        return self.data[section]

    @property
    def name(self) -> str:
        return self.data["name"]

    @property
    def seed(self) -> int:
        return self.data["seed"]

    def to_toml(self) -> str:
        return dumps_toml(self.data)

    def to_json(self) -> str:
        return json.dumps(self.data, indent=2, sort_keys=True)


def resolve(raw: dict, source: str = "<dict>") -> Scenario:
    """Validate a raw scenario dictionary and fill in every default."""
    if not isinstance(raw, dict):
        raise ScenarioError(f"a scenario must be a table of sections, got {type(raw).__name__}")
    sections = {k for k in SCHEMA if k} | {"releases", "static"}
    top = {k: v for k, v in raw.items() if k not in sections}
    data = _resolve_table("", top, SCHEMA[""])
    for section, schema in SCHEMA.items():
        if not section:
            continue
        given = raw.get(section, {})
        if not isinstance(given, dict):
            raise ScenarioError(f"[{section}] must be a table, got {given!r}")
        data[section] = _resolve_table(section, given, schema)
    releases = raw.get("releases", [])
    if not isinstance(releases, list):
        raise ScenarioError("releases must be an array of tables ([[releases]])")
    data["releases"] = []
    for i, rel in enumerate(releases):
        if not isinstance(rel, dict):
            raise ScenarioError(f"releases[{i}] must be a table, got {rel!r}")
        r = _resolve_table(f"releases[{i}]", rel, RELEASE_SCHEMA)
        if not r["regions"]:
            raise ScenarioError(f"releases[{i}].regions must name at least one region")
        if not 0.0 <= r["magnitude"] < 1.0:
            raise ScenarioError(f"releases[{i}].magnitude = {r['magnitude']} must be a fractional occupancy in [0, 1)")
        if r["profile"] == "gamma" and r["peak_min"] is None:
            r["peak_min"] = r["onset_min"] + 5.0
        data["releases"].append(r)
    data["static"] = _resolve_table("static", raw.get("static", {}), STATIC_SCHEMA)
    _check_consistency(data)
    return Scenario(data, source)


def _check_consistency(data: dict):
    rec = data["recon"]
    for key, n in (("shape", 3), ("voxel_size_mm", 3)):
        v = rec[key]
        if len(v) != n or not all(isinstance(x, _NUM) and x > 0 for x in v):
            raise ScenarioError(f"recon.{key} must be {n} positive numbers, got {v!r}")
    for section, key in (("physics", "psf_fwhm_mm"), ("recon", "psf_fwhm_mm")):
        v = data[section][key]
        if v and (len(v) not in (1, 3) or not all(isinstance(x, _NUM) and x >= 0 for x in v)):
            raise ScenarioError(f"{section}.{key} must be [] or 1 or 3 non-negative numbers (mm), got {v!r}")
    if rec["iterations"] < 1 or rec["subsets"] < 1:
        raise ScenarioError(f"recon.iterations and recon.subsets must be >= 1, got {rec['iterations']}, {rec['subsets']}")
    if data["protocol"]["dose_mbq"] <= 0:
        raise ScenarioError(f"protocol.dose_mbq must be positive, got {data['protocol']['dose_mbq']}")
    if data["physics"]["sim_oversampling"] < 1:
        raise ScenarioError(f"physics.sim_oversampling must be >= 1, got {data['physics']['sim_oversampling']}")
    if data["physics"]["scatter_fraction"] is not None and not 0 <= data["physics"]["scatter_fraction"] < 1:
        raise ScenarioError(f"physics.scatter_fraction must be in [0, 1), got {data['physics']['scatter_fraction']}")
    durations = data["frames"]["durations_min"]
    if durations is not None and (not durations or not all(isinstance(d, _NUM) and d > 0 for d in durations)):
        raise ScenarioError(f"frames.durations_min must be positive numbers, got {durations!r}")
    bad_maps = [m for m in data["analysis"]["maps"] if m not in MAP_METHODS]
    if bad_maps:
        raise ScenarioError(f"analysis.maps: unknown method {bad_maps[0]!r}; choose from {', '.join(MAP_METHODS)}")
    for i, w in enumerate(data["analysis"]["windows"]):
        if not isinstance(w, dict) or set(w) != {"name", "start_min", "end_min"}:
            raise ScenarioError(f"analysis.windows[{i}] must be a table with name, start_min, end_min; got {w!r}")
        if not w["end_min"] > w["start_min"]:
            raise ScenarioError(f"analysis.windows[{i}] ({w['name']}) ends ({w['end_min']} min) before it starts ({w['start_min']} min)")


def load_scenario(source) -> Scenario:
    """Load a scenario from a TOML path, a TOML string of a shipped example name, or a dict."""
    if isinstance(source, Scenario):
        return source
    if isinstance(source, dict):
        return resolve(source)
    path = Path(source)
    if not path.is_file():
        shipped = shipped_scenario_path(str(source))
        if shipped is None:
            raise FileNotFoundError(f"no scenario file {source!s} (and no shipped scenario of that name: {', '.join(shipped_scenarios())})")
        path = shipped
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{path}: not valid TOML: {err}") from None
    return resolve(raw, str(path))


def shipped_scenarios() -> list[str]:
    from importlib.resources import files

    return sorted(p.name[: -len(".toml")] for p in files("petsim.data").joinpath("scenarios").iterdir() if p.name.endswith(".toml"))


def shipped_scenario_path(name: str):
    from importlib.resources import files

    candidate = files("petsim.data").joinpath("scenarios", f"{name}.toml")
    return Path(str(candidate)) if candidate.is_file() else None


def dumps_toml(data: dict) -> str:
    """Write a resolved scenario as TOML (the subset of TOML scenarios use)."""

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=False)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items() if x is not None) + " }"
        raise TypeError(f"cannot write {v!r} as TOML")

    lines = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, (dict, list)) or k == "x"]
    for section, table in data.items():
        if isinstance(table, dict):
            lines.append(f"\n[{section}]")
            lines.extend(f"{k} = {value(v)}" for k, v in table.items() if v is not None)
    for rel in data.get("releases", []):
        lines.append("\n[[releases]]")
        lines.extend(f"{k} = {value(v)}" for k, v in rel.items() if v is not None)
    return "\n".join(lines) + "\n"


def describe_schema() -> str:
    """A readable listing of every key, its default and meaning (for docs and --help)."""
    out = []
    for section, schema in list(SCHEMA.items()) + [("[releases]", RELEASE_SCHEMA), ("static", STATIC_SCHEMA)]:
        out.append(f"[{section}]" if section else "(top level)")
        for key, (default, _, allowed, doc) in schema.items():
            allowed_txt = f" (one of: {', '.join(map(str, allowed))})" if allowed else ""
            out.append(f"  {key} = {default!r}: {doc}{allowed_txt}")
    return "\n".join(out)
