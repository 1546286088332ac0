"""Scenario files: one TOML file names everything a simulation needs.

Every key has a documented default (:data:`SCHEMA`); unknown keys, values of
the wrong type (no silent conversion), numbers that are not finite or lie
outside :data:`RANGES`, and unknown or repeated names are errors that name the
key and what is allowed. :func:`resolve` does every check once and returns the
typed :class:`~petsim.core.scenario_types.Scenario` (frozen dataclasses, one per
section) that every stage reads by attribute. The fully resolved scenario
(every default filled in, :meth:`Scenario.to_toml`) is written beside the
outputs so a run can be repeated exactly.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
from dataclasses import dataclass
from pathlib import Path

from petsim.core.scenario_types import Scenario, _toml_value, dumps_toml  # noqa: F401 (re-exported)
from petsim.core.toml import load_toml


class ScenarioError(ValueError):
    """A scenario key has a value that is not allowed (the message names the key)."""


# Each entry: key -> (default, types, allowed values or None, description).
# ``None`` as default means "chosen automatically" (the description says how).
_NUM = (int, float)
SCHEMA: dict = {
    "": {
        "name": ("scenario", str, None, "a short name used in titles"),
        "kind": ("dynamic", str, ("dynamic", "static"), "dynamic kinetics, or one static frame of given activities"),
        "subject": ("01", str, None, "BIDS subject label (sub-XX): letters and digits only"),
        "seed": (2013, int, None, "seed of every random draw (noise, normalisation)"),
    },
    "phantom": {
        "name": ("mor_brain", str, None, "phantom: mor_brain, mni152, cylinder, nema_iec, or a label NIfTI path"),
        "table": (None, str, None, "region table TSV when name is a label NIfTI of the user's"),
        "t1w": (True, bool, None, "also write a synthetic T1-weighted MRI of a brain phantom (anat/) and its labels as a FreeSurfer-style aseg (derivatives), for registration-based pipelines"),
        "t1w_voxel_mm": (1.0, _NUM, None, "voxel size of the T1-weighted image and the aseg, in mm (isotropic)"),
    },
    "tracer": {
        "name": ("carfentanil", str, None, "tracer parameter table (petsim/data/<name>.toml)"),
        "isotope": ("C-11", str, ("C-11", "F-18", "O-15"), "radionuclide"),
        "blood_volume": (True, bool, None, "include the vascular fraction vB in the tissue signal (false: vB = 0 everywhere)"),
        "mass_effect": (True, bool, None, "the injected tracer's own mass occupies receptors (full competition model, Morris et al. 1995, with the table's B'max); false: a tracer dose without mass"),
        "specific_activity_gbq_per_umol": (None, _NUM, None, "molar activity at injection (GBq/umol); default: the tracer table's"),
        "reference_bp_nd": (0.0, _NUM, None, "specific binding (BP_ND) in the tracer table's reference region (both sides), to study reference contamination; 0: none, as the reference-tissue models assume (docs/realism.md)"),
    },
    "protocol": {
        "input": ("bolus_plus_infusion", str, ("bolus", "bolus_plus_infusion"), "plasma input"),
        "dose_mbq": (555.0, _NUM, None, "injected activity in MBq"),
        "k_bol_min": (None, _NUM, None, "bolus-to-infusion ratio K_bol in minutes (Carson et al. 1993); default: derived from the input's own bolus response so that parent plasma is steadiest from steady_from_min to the end of the infusion"),
        "infusion_min": (90.0, _NUM, None, "infusion duration in minutes"),
        "steady_from_min": (40.0, _NUM, None, "start of the span (to the infusion end) over which the derived K_bol holds parent plasma steady, in minutes"),
        "body_mass_kg": (70.0, _NUM, None, "subject's body mass in kg (BIDS BodyWeight; the injected mass per kg is checked against the tracer's published limit)"),
        "blood_sample_cov": (0.0, _NUM, None, "relative SD of each blood sample (plasma and whole-blood radioactivity, parent fraction) in the _blood.tsv files; 0: noise-free samples of the true input"),
        "injected_volume_ml": (10.0, _NUM, None, "volume of tracer solution injected (bolus and infusion together), mL; BIDS InjectedVolume and InfusionSpeed only, it does not change the simulation"),
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
        "sensitivity_cps_per_bq_ml": (None, _NUM, None, "unscattered-trues sensitivity for a 20 cm water cylinder (cps per Bq/mL); default: the scanner's published figure for the mode (HR+ 26.4 in 3D, 5.85 in 2D)"),
        "dead_time_50pct_rate_cps": (None, _NUM, None, "trues + scatter rate at which dead time loses half the events (cps); default: the scanner's published figure for the mode (HR+ 500 kcps in 3D, 286 kcps in 2D)"),
        "randoms": (True, bool, None, "randoms in the data and its model"),
        "randoms_correction": ("delayed", str, ("delayed", "exact"), "randoms the reconstruction is given: estimated from the delayed coincidence window with crystal singles by fan sums, as the site does (delayed), or the simulation's own expected randoms (exact, the oracle)"),
        "out_of_field_singles_fraction": (0.3, _NUM, None, "share of the singles, in the frame of the highest trues rate, from activity outside the axial field of view (the body below the neck, which follows the injected activity); they add randoms, not trues (planning value, docs/realism.md); dynamic scenarios only (a static one is a phantom on the bed)"),
        "normalisation": (True, bool, None, "crystal efficiencies in the data and its model"),
        "crystal_efficiency_sd": (0.05, _NUM, None, "relative SD of crystal efficiencies"),
        "normalisation_correction": ("measured", str, ("exact", "measured"), "normalisation the reconstruction is given: the crystal efficiencies a site estimates from a normalisation scan of physics.normalisation_scan_counts counts (measured, the default; docs/acquisition.md), or the simulation's own (exact, the oracle)"),
        "normalisation_scan_counts": (1e9, _NUM, None, "true counts of the simulated normalisation scan (a uniform 20 cm water cylinder) when normalisation_correction = \"measured\" (planning value: 0.44 % RMS error of the bin efficiencies on the demo's layout)"),
        "attenuation_correction": ("exact", str, ("exact", "misregistered"), "attenuation the reconstruction is given: the simulation's own mu-map (exact), or that mu-map moved by mumap_shift_mm and mumap_rotation_deg, as a CT or transmission map registered with an error (misregistered); the data keep the true attenuation"),
        "mumap_shift_mm": ([0.0, 0.0, 0.0], list, None, "translation (x, y, z) in mm of the site's mu-map when attenuation_correction = \"misregistered\""),
        "mumap_rotation_deg": ([0.0, 0.0, 0.0], list, None, "rotation about x, y and z (degrees, about the grid's centre, before the shift) of the site's mu-map when attenuation_correction = \"misregistered\""),
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
        "reference_has_binding": (False, bool, None, "true: the reference region is meant to have specific binding (BP_ND > 0 in the tracer table); otherwise such a reference is refused"),
        "models": (["srtm", "logan_ref", "mrtm2"], list, None, "models fitted to every region's TAC"),
        "t_star_min": (20.0, _NUM, None, "t* of the graphical methods in minutes"),
        "k2_ref_per_min": (None, _NUM, None, "reference efflux k2' (1/min) fixed in SRTM2, MRTM2 and Logan; default: SRTM2 and MRTM2 estimate it once per scan from the whole acquisition, Logan leaves it out"),
        "weights": ("counts", str, None, "frame weights of the fits: counts (1/variance from each frame's duration, decay and activity), decay, duration, or none (unweighted)"),
        "bootstrap": (200, int, None, "wild-bootstrap replicates per fit, for the SE and 95% intervals of BP_ND and ΔBP_ND (the windows of a scan resampled together); 0: none, and the SE is the regression's, which under-covers"),
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


#: Longest scan accepted (and the bound of every time key), in minutes: ten hours, beyond any
#: protocol of the isotopes petsim knows; the kinetics run on a 0.01-min grid up to the scan end.
MAX_SCAN_MIN = 600.0
#: Most frames a scan may have (each frame is one sinogram simulated, stored and reconstructed).
MAX_FRAMES = 1000
#: Widest resolution or filter kernel (FWHM, mm): wider blurs nothing real and only makes the run crawl.
MAX_FWHM_MM = 50.0
#: Largest reconstruction grid (256^3 voxels): with one sensitivity image per subset and one image per
#: frame in float32 it already needs several GiB.
MAX_RECON_VOXELS = 256**3
#: Largest simulation grid (recon.shape x sim_oversampling^3): 2^27 voxels is 512 MiB per float32
#: image, and the simulation holds several (attenuation, basis images, partial-volume fractions).
MAX_SIM_VOXELS = 2**27
#: Largest integer a scanner setting or a subset count may take (far above any real scanner's).
MAX_COUNT = 10_000


@dataclass(frozen=True)
class Range:
    """Allowed values of a number: ``low <= x <= high``, with ``<`` at an open end."""

    low: float
    high: float
    open_low: bool = False
    open_high: bool = False
    unit: str = ""

    def __contains__(self, x) -> bool:
        above = x > self.low if self.open_low else x >= self.low
        below = x < self.high if self.open_high else x <= self.high
        return above and below

    def __str__(self) -> str:
        lo, hi = ("<" if self.open_low else "<="), ("<" if self.open_high else "<=")
        return f"{_num(self.low)} {lo} x {hi} {_num(self.high)}" + (f" {self.unit}" if self.unit else "")


def _num(v) -> str:
    return str(v) if isinstance(v, int) else f"{v:g}"


_TIME = Range(0.0, MAX_SCAN_MIN, unit="min")
_DURATION = Range(0.0, MAX_SCAN_MIN, open_low=True, unit="min")
_FWHM = Range(0.0, MAX_FWHM_MM, unit="mm")
_COUNT = Range(1, MAX_COUNT)

#: Range of every numeric key (of every element for lists), by key; ``releases`` and
#: ``analysis.windows`` stand for each of their entries.
RANGES: dict = {
    "seed": Range(0, 2**63 - 1),
    "protocol.dose_mbq": Range(0.0, 1e5, open_low=True, unit="MBq"),
    "protocol.k_bol_min": Range(0.0, 1e4, unit="min"),
    "protocol.injected_volume_ml": Range(0.0, 1000.0, open_low=True, unit="mL"),
    "protocol.blood_sample_cov": Range(0.0, 0.5),
    "protocol.infusion_min": _DURATION,
    "protocol.steady_from_min": _TIME,
    "phantom.t1w_voxel_mm": Range(0.5, 4.0, unit="mm"),
    "protocol.body_mass_kg": Range(1.0, 500.0, unit="kg"),
    "tracer.specific_activity_gbq_per_umol": Range(0.0, 1e5, open_low=True, unit="GBq/umol"),
    "tracer.reference_bp_nd": Range(0.0, 10.0),
    "frames.durations_min": _DURATION,
    "scanner.span": _COUNT,
    "scanner.max_ring_diff": Range(0, MAX_COUNT),
    "scanner.view_mashing": _COUNT,
    "scanner.n_radial": _COUNT,
    "physics.scatter_fraction": Range(0.0, 1.0, open_high=True),
    "physics.sensitivity_cps_per_bq_ml": Range(0.0, 1e4, open_low=True, unit="cps per Bq/mL"),
    "physics.dead_time_50pct_rate_cps": Range(0.0, 1e9, open_low=True, unit="cps"),
    "physics.crystal_efficiency_sd": Range(0.0, 0.5, open_high=True),
    "physics.out_of_field_singles_fraction": Range(0.0, 0.95),
    "physics.normalisation_scan_counts": Range(1e5, 1e12, unit="counts"),
    "physics.psf_fwhm_mm": _FWHM,
    "physics.mumap_shift_mm": Range(-100.0, 100.0, unit="mm"),
    "physics.mumap_rotation_deg": Range(-45.0, 45.0, unit="degrees"),
    "physics.sim_oversampling": Range(1, 8),
    "recon.iterations": Range(1, 1000),
    "recon.subsets": _COUNT,
    "recon.post_filter_fwhm_mm": _FWHM,
    "recon.psf_fwhm_mm": _FWHM,
    "recon.shape": Range(1, 2048),
    "recon.voxel_size_mm": Range(0.05, 100.0, unit="mm"),
    "recon.beta": Range(0.0, 1e6),
    "analysis.t_star_min": _TIME,
    "analysis.k2_ref_per_min": Range(0.0, 10.0, open_low=True, unit="1/min"),
    "analysis.bootstrap": Range(0, MAX_COUNT),
    "analysis.windows.start_min": _TIME,
    "analysis.windows.end_min": _TIME,
    "releases.onset_min": _TIME,
    "releases.end_min": _TIME,
    "releases.peak_min": _TIME,
    "releases.alpha": Range(0.0, 100.0, open_low=True),
    "releases.magnitude": Range(0.0, 1.0, open_high=True),
    "static.duration_min": _DURATION,
    "static.activity_bq_ml": Range(0.0, 1e9, unit="Bq/mL"),
}

#: Element type of every list key (and of the values of ``static.activity_bq_ml``).
ITEMS: dict = {
    "frames.durations_min": _NUM,
    "physics.psf_fwhm_mm": _NUM,
    "physics.mumap_shift_mm": _NUM,
    "physics.mumap_rotation_deg": _NUM,
    "recon.psf_fwhm_mm": _NUM,
    "recon.shape": int,
    "recon.voxel_size_mm": _NUM,
    "analysis.reference": str,
    "analysis.models": str,
    "analysis.windows": dict,
    "analysis.regions": str,
    "analysis.maps": str,
    "releases.regions": str,
    "static.activity_bq_ml": _NUM,
}

#: One analysis window: every key is required.
WINDOW_SCHEMA: dict = {
    "name": (None, str, None, "window name (unique)"),
    "start_min": (None, _NUM, None, "start in minutes"),
    "end_min": (None, _NUM, None, "end in minutes"),
}

#: BIDS labels (sub-<label>) are letters and digits only; anything else could leave the output folder.
_LABEL = re.compile(r"[A-Za-z0-9]+")


def did_you_mean(name, choices) -> str:
    """`` (did you mean 'x'?)`` for the choices closest to ``name``, or nothing."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=2, cutoff=0.7)
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""


def _show(value) -> str:
    """A short repr for messages (a huge or deeply nested value stays readable)."""
    try:
        text = repr(value)
    except RecursionError:
        return "<a deeply nested value>"
    return text if len(text) <= 80 else text[:77] + "..."


def _check_number(key: str, value, integer: bool):
    """``value`` if it is a finite number (an integer when ``integer``), else ScenarioError."""
    want = "an integer" if integer else "a number"
    # bool is an int in Python: `true` must not become 1
    if isinstance(value, bool) or not isinstance(value, int if integer else _NUM):
        raise ScenarioError(f"{key} must be {want}, got {_show(value)} ({type(value).__name__})")
    if isinstance(value, float) and not math.isfinite(value):
        raise ScenarioError(f"{key} must be a finite number, got {value!r}")
    return value


def _check_range(key: str, value, rng: Range | None):
    if rng is not None and value not in rng:
        raise ScenarioError(f"{key} = {_show(value)} is out of range: allowed {rng}")


def _check_items(key: str, items, rule: str):
    """Type (and range) of each element of a list key, or of each value of a table key."""
    kind, rng = ITEMS.get(rule), RANGES.get(rule)
    pairs = items.items() if isinstance(items, dict) else enumerate(items)
    for i, x in pairs:
        where = f"{key}.{i}" if isinstance(items, dict) else f"{key}[{i}]"
        if kind is str and not (isinstance(x, str) and x.strip()):
            raise ScenarioError(f"{where} must be a non-empty name, got {_show(x)}")
        if kind is dict and not isinstance(x, dict):
            raise ScenarioError(f"{where} must be a table, got {_show(x)}")
        if kind in (int, _NUM):
            _check_range(where, _check_number(where, x, kind is int), rng)


def _check_value(key: str, value, spec, rule: str):
    """The value of ``key`` checked against its ``spec`` (and ``RANGES``/``ITEMS`` of ``rule``)."""
    default, types, allowed, _ = spec
    if value is None:
        if default is None:
            return None
        raise ScenarioError(f"{key} has no value; leave the key out for its default {default!r}")
    if types in (int, _NUM):
        value = _check_number(key, value, types is int)
        _check_range(key, value, RANGES.get(rule))
        return value if types is int else float(value)
    if not isinstance(value, types):
        name = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        raise ScenarioError(f"{key} must be of type {name}, got {_show(value)} ({type(value).__name__})")
    if allowed is not None and value not in allowed:
        raise ScenarioError(f"{key} = {value!r} is not allowed; choose one of {', '.join(map(str, allowed))}")
    if isinstance(value, (list, dict)):
        _check_items(key, value, rule)
    return value


def _resolve_table(prefix: str, given, schema: dict, rule: str | None = None) -> dict:
    """Every key of ``schema`` for the table ``prefix``: the given value, checked, or the default.

    ``rule`` is the prefix under which :data:`RANGES` and :data:`ITEMS` list the keys (``releases``
    for ``releases[3]``).
    """
    if not isinstance(given, dict):
        raise ScenarioError(f"[{prefix}] must be a table, got {_show(given)}")
    unknown = sorted(set(given) - set(schema), key=str)
    if unknown:
        where = f"[{prefix}]" if prefix else "the top level"
        raise ScenarioError(
            f"unknown key {prefix + '.' if prefix else ''}{unknown[0]} in {where}{did_you_mean(unknown[0], schema)}; "
            f"allowed keys: {', '.join(sorted(schema))}"
        )
    rule = prefix if rule is None else rule
    out = {}
    for key, spec in schema.items():
        full = f"{prefix}.{key}" if prefix else key
        out[key] = _check_value(full, given[key], spec, f"{rule}.{key}" if rule else key) if key in given else copy.deepcopy(spec[0])
    return out


def resolve(raw: dict, source: str = "<dict>") -> Scenario:
    """Validate a raw scenario dictionary, fill in every default, and return the typed scenario.

    Every key is checked for its type (no silent conversion: ``24.9`` is not an integer and
    ``true`` is not a number), every number for being finite and within :data:`RANGES`, and the
    keys that depend on each other for agreeing; names that need the phantom, tracer or scanner
    tables are checked by :func:`petsim.pipeline.world.validate`.

    Raises
    ------
    ScenarioError
        naming the key that is wrong and what is allowed.
    """
    if not isinstance(raw, dict):
        raise ScenarioError(f"a scenario must be a table of sections, got {type(raw).__name__}")
    sections = {k for k in SCHEMA if k} | {"releases", "static"}
    top = {k: v for k, v in raw.items() if k not in sections}
    data = _resolve_table("", top, SCHEMA[""])
    for section, schema in SCHEMA.items():
        if section:
            data[section] = _resolve_table(section, raw.get(section, {}), schema)
    releases = raw.get("releases", [])
    if not isinstance(releases, list):
        raise ScenarioError("releases must be an array of tables ([[releases]])")
    data["releases"] = [_resolve_release(i, rel) for i, rel in enumerate(releases)]
    data["static"] = _resolve_table("static", raw.get("static", {}), STATIC_SCHEMA)
    _check_consistency(data)
    return Scenario.from_dict(data, source)


def _resolve_release(i: int, rel) -> dict:
    """One ``[[releases]]`` table, checked, with the default peak of a gamma release filled in."""
    key = f"releases[{i}]"
    r = _resolve_table(key, rel, RELEASE_SCHEMA, rule="releases")
    if not r["regions"]:
        raise ScenarioError(f"{key}.regions must name at least one region")
    if r["profile"] == "gamma":
        if r["end_min"] is not None:
            raise ScenarioError(f"{key}.end_min applies to step releases; a gamma release's shape is set by peak_min and alpha")
        if r["peak_min"] is None:
            r["peak_min"] = r["onset_min"] + 5.0
        _check_order(f"{key}.peak_min", r["peak_min"], f"{key}.onset_min", r["onset_min"])
    else:
        for name in ("peak_min", "alpha"):
            if r[name] not in (None, RELEASE_SCHEMA[name][0]):
                raise ScenarioError(f"{key}.{name} applies to gamma releases only; set {key}.profile = \"gamma\" or leave it out")
        if r["end_min"] is not None:
            _check_order(f"{key}.end_min", r["end_min"], f"{key}.onset_min", r["onset_min"])
    return r


def _check_order(later: str, t_later: float, earlier: str, t_earlier: float):
    if not t_later > t_earlier:
        raise ScenarioError(f"{later} ({t_later} min) must be after {earlier} ({t_earlier} min)")


def _check_consistency(data: dict):
    """Checks across keys that need no table (phantom, tracer, scanner): see :func:`resolve`."""
    if not _LABEL.fullmatch(data["subject"]):
        raise ScenarioError(f"subject = {_show(data['subject'])} is not a BIDS label: use letters and digits only (e.g. \"01\")")
    _check_grids(data)
    _check_frames(data["frames"]["durations_min"])
    prot = data["protocol"]
    if prot["input"] == "bolus_plus_infusion" and not prot["steady_from_min"] < prot["infusion_min"]:
        raise ScenarioError(f"protocol.steady_from_min = {prot['steady_from_min']:g} min must be before the end of the "
                            f"infusion (protocol.infusion_min = {prot['infusion_min']:g} min)")
    _check_analysis(data["analysis"])


def _check_grids(data: dict):
    """Lengths of the grid and PSF lists, and grid sizes that fit in memory (:data:`MAX_RECON_VOXELS`)."""
    rec = data["recon"]
    for key in ("shape", "voxel_size_mm"):
        if len(rec[key]) != 3:
            raise ScenarioError(f"recon.{key} must be 3 positive numbers (x, y, z), got {_show(rec[key])}")
    for key in ("mumap_shift_mm", "mumap_rotation_deg"):
        if len(data["physics"][key]) != 3:
            raise ScenarioError(f"physics.{key} must be 3 numbers (x, y, z), got {_show(data['physics'][key])}")
    for section in ("physics", "recon"):
        v = data[section]["psf_fwhm_mm"]
        if v and len(v) not in (1, 3):
            raise ScenarioError(f"{section}.psf_fwhm_mm must be [] or 1 or 3 non-negative numbers (mm), got {_show(v)}")
    n = math.prod(rec["shape"])
    if n > MAX_RECON_VOXELS:
        raise ScenarioError(
            f"recon.shape = {rec['shape']} has {n} voxels, more than {MAX_RECON_VOXELS} (256^3), the most that "
            "fits in memory with the per-subset sensitivity images and one image per frame; use a coarser grid")
    k = data["physics"]["sim_oversampling"]
    if n * k**3 > MAX_SIM_VOXELS:
        raise ScenarioError(
            f"physics.sim_oversampling = {k} on recon.shape = {rec['shape']} gives a simulation grid of {n * k**3} "
            f"voxels, more than {MAX_SIM_VOXELS} (a 512 MiB float32 image, of which the simulation holds "
            "several); lower sim_oversampling or recon.shape")


def _check_frames(durations):
    """An explicit frame list: not empty, not too many frames, not longer than :data:`MAX_SCAN_MIN`."""
    if durations is None:
        return
    if not durations:
        raise ScenarioError("frames.durations_min must list at least one frame duration (min), or be left out for frames.preset")
    if len(durations) > MAX_FRAMES:
        raise ScenarioError(f"frames.durations_min lists {len(durations)} frames, more than {MAX_FRAMES}")
    if sum(durations) > MAX_SCAN_MIN:
        raise ScenarioError(f"frames.durations_min adds up to {sum(durations):g} min, longer than the {MAX_SCAN_MIN:g} min allowed")


def _check_analysis(an: dict):
    """Model and map names known and unique, windows given, named uniquely and in order, a reference named."""
    from petsim.modeling import MAPS, MODELS, WEIGHTS

    _check_names("analysis.models", an["models"], tuple(MODELS), required=True)
    if an["weights"] not in WEIGHTS:
        raise ScenarioError(f"analysis.weights = {an['weights']!r} is not allowed{did_you_mean(an['weights'], WEIGHTS)}; "
                            f"choose one of {', '.join(WEIGHTS)}")
    _check_names("analysis.maps", an["maps"], tuple(MAPS))
    _check_names("analysis.regions", an["regions"])
    ref = an["reference"]
    if isinstance(ref, list):
        _check_names("analysis.reference", ref, required=True)
    elif not ref.strip():
        raise ScenarioError("analysis.reference must name a region (or a structure for both sides), got an empty name")
    windows = an["windows"]
    if not windows:
        raise ScenarioError("analysis.windows must hold at least one window {name, start_min, end_min}")
    for i, w in enumerate(windows):
        _check_window(f"analysis.windows[{i}]", w, [v["name"] for v in windows[:i]])


def _check_window(key: str, w: dict, earlier: list):
    """One analysis window: all three keys, a unique non-empty name, an end after the start."""
    checked = _resolve_table(key, w, WINDOW_SCHEMA, rule="analysis.windows")
    missing = [k for k, v in checked.items() if v is None]
    if missing:
        raise ScenarioError(f"{key}.{missing[0]} is missing; a window is a table with name, start_min, end_min")
    if not w["name"].strip() or not w["name"].isprintable():
        raise ScenarioError(f"{key}.name = {_show(w['name'])} must be a non-empty name without tabs or line breaks (it is a table cell)")
    if w["name"] in earlier:
        raise ScenarioError(f"{key}.name = {w['name']!r} is the name of an earlier window; window names must be unique")
    if not checked["end_min"] > checked["start_min"]:
        raise ScenarioError(f"{key} ({w['name']}) ends ({w['end_min']} min) before it starts ({w['start_min']} min)")


def _check_names(key: str, names, known=None, required: bool = False):
    """Names of a list key: at least one when ``required``, each in ``known`` (if given), none twice."""
    if required and not names:
        raise ScenarioError(f"{key} must name at least one" + (f"; choose from {', '.join(known)}" if known else ""))
    for i, name in enumerate(names):
        if known is not None and name not in known:
            raise ScenarioError(f"{key}[{i}]: unknown name {name!r}{did_you_mean(name, known)}; choose from {', '.join(known)}")
        if name in names[:i]:
            raise ScenarioError(f"{key}[{i}]: {name!r} is given twice")


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
    raw = _read_toml(path)
    if not _has_values(raw):
        raise ScenarioError(
            f"{path} sets no key: a scenario must say what it simulates. For the default design run `petsim demo`; "
            "`petsim scenario` lists every key with its default")
    return resolve(raw, str(path))


def _read_toml(path: Path) -> dict:
    """The parsed file; every failure (encoding, syntax, nesting too deep to parse) as a ScenarioError naming the file."""
    return load_toml(path, error=ScenarioError, too_deep=lambda text: (
        f"{_deepest_key(text)} nests arrays or tables too deeply to read; no scenario key needs more than 2 levels"))


def _has_values(raw: dict) -> bool:
    """Whether a parsed file sets any key (a file of comments or empty tables sets none)."""
    tables = [raw]
    while tables:  # a loop, not recursion: tables may nest hundreds deep
        for v in tables.pop().values():
            if not isinstance(v, dict):
                return True
            tables.append(v)
    return False


def _deepest_key(text: str) -> str:
    """The dotted key whose value opens the most brackets (for the message when the parser gives up)."""
    section, key, depth, best = "", "?", 0, (0, "?")
    for line in text.splitlines():
        line = re.sub(r'"(?:\\.|[^"\\])*"|\'[^\']*\'', '""', line).split("#", 1)[0].strip()
        header = re.fullmatch(r"\[\[?\s*([^\[\]]+?)\s*\]\]?", line) if depth == 0 else None
        if header:
            section = header.group(1)
            continue
        assign = re.match(r"([\w\-\".]+)\s*=", line) if depth == 0 else None
        if assign:
            key = f"{section}.{assign.group(1)}" if section else assign.group(1)
        for ch in line:
            depth += (ch in "[{") - (ch in "]}")
            if depth > best[0]:
                best = (depth, key)
    return best[1]


def shipped_scenarios() -> list[str]:
    from importlib.resources import files

    return sorted(p.name[: -len(".toml")] for p in files("petsim.data").joinpath("scenarios").iterdir() if p.name.endswith(".toml"))


def shipped_scenario_path(name: str):
    from importlib.resources import files

    candidate = files("petsim.data").joinpath("scenarios", f"{name}.toml")
    return Path(str(candidate)) if candidate.is_file() else None


def describe_schema() -> str:
    """Every key with its default and meaning, as a TOML scenario that can be pasted and edited.

    Keys whose default is chosen automatically are commented out (their comment says how), and so is
    the ``[[releases]]`` table (a scenario has none by default)."""
    out = ["# Every petsim scenario key with its default (`petsim scenario > my.toml`, then edit).",
           "# A key left out takes the default shown; a commented key is chosen automatically."]
    sections = list(SCHEMA.items()) + [("static", STATIC_SCHEMA), ("[releases]", RELEASE_SCHEMA)]
    for section, schema in sections:
        rule = section.strip("[]")
        if section:
            out.append("")
            out.append(f"# [{section}]   (any number of releases; none by default)" if section.startswith("[")
                       else f"[{section}]")
        for key, (default, _, allowed, doc) in schema.items():
            notes = [doc]
            if allowed:
                notes.append(f"one of: {', '.join(map(str, allowed))}")
            rng = RANGES.get(f"{rule}.{key}" if rule else key)
            if rng:
                notes.append(f"allowed: {rng}")
            comment = "; ".join(notes)
            if default is None or section.startswith("["):
                shown = "" if default is None else _toml_value(default)
                out.append(f"# {key} = {shown}  # {comment}")
            else:
                out.append(f"{key} = {_toml_value(default)}  # {comment}")
    return "\n".join(out) + "\n"
