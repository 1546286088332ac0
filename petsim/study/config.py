"""The study file: a scenario plus the design of a simulation study.

A study file is TOML. It names its scenario (``scenario = "path.toml"``,
relative to the study file, or an inline ``[scenario]`` table) and adds a
``[study]`` table::

    scenario = "../examples/scenario_default.toml"

    [study]
    n_replicates = 20          # repetitions of the whole study (noise + a fresh cohort)
    n_subjects = 12
    seed = 2026
    mode = "tac"               # "tac": fast TAC-level noise model; "image": full pipeline
    design = "two_scans"       # or "two_windows" (baseline and release windows of one scan)
    # matched_control = true   # two_windows only (its default): each subject also scanned without
                               # release; ΔBP_ND corrected by that scan's window difference
    conditions = ["control", "rejection"]
    control_study = false      # true: no release in any condition (false-positive rate)
    alpha = 0.05
    models = ["srtm", "logan_ref"]
    regions = ["amygdala_l", "amygdala_r"]
    ref = "occipital_cortex"
    noise_cov = 0.05
    # noise_table = "noise.tsv"  # instead of noise_cov: each region's noise scale measured on an image-mode
                                 # run of the design (petsim.study.noise_model.tac_noise_scales)
    subjects_per_task = 0      # 0: each replicate (all its subjects) is one Dask task
    # bootstrap = 200          # TAC mode: intervals of BP_ND and ΔBP_ND from a wild bootstrap per fit
                               # (0, the default: estimate +- z x the fit's regression SE)

    [study.variability]        # log-normal SDs (of the natural log)
    bp_nd_log_sd = 0.15        # or a table: {amygdala_l = 0.2, ...}
    k1_log_sd = 0.10
    release_log_sd = 0.30

    [study.trait]
    name = "resiliency"
    r = 0.5                    # correlation of the trait with log release magnitude
    region = "amygdala_r"

    [study.power]
    effect_sizes = [0.0, 0.05, 0.10, 0.15]   # peak fractional occupancy of the release
    n_subjects = [6, 12, 20]
    n_replicates = 40
    region = "amygdala_r"
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from petsim.core.scenario_types import Scenario
from petsim.core.toml import load_toml

MODES = ("tac", "image")
DESIGNS = ("two_scans", "two_windows")
ALTERNATIVES = ("two-sided", "decrease", "increase")  # of BP_ND from the first condition to the second


def _known_models() -> tuple:
    """The names of the model registry (:data:`petsim.modeling.MODELS`)."""
    from petsim.modeling.models import MODELS

    return tuple(MODELS)


@dataclass(frozen=True)
class Variability:
    """Between-subject variability as log-normal SDs (SD of the natural log; 0 = none).

    A subject's value is ``median * exp(sd * z)`` with ``z ~ N(0, 1)``, so the
    population median is the scenario's value.
    """

    bp_nd_log_sd: Any = 0.0  # float, or dict region -> float
    k1_log_sd: float = 0.0
    release_log_sd: float = 0.0

    def bp_sd_for(self, region: str) -> float:
        """Log-normal SD of BP_ND for ``region`` (a dict may name the region or its structure)."""
        sd = self.bp_nd_log_sd
        if isinstance(sd, Mapping):
            if region in sd:
                return float(sd[region])
            structure = region.rsplit("_", 1)[0] if region.endswith(("_l", "_r")) else region
            return float(sd.get(structure, sd.get("default", 0.0)))
        return float(sd)


@dataclass(frozen=True)
class Trait:
    """A per-subject trait correlated with the (log) release magnitude at ``r``."""

    name: str = "trait"
    r: float = 0.0
    region: str | None = None  # region whose ΔBP_ND is correlated with the trait


@dataclass(frozen=True)
class Power:
    """Power curve by simulation: effect sizes (peak occupancy) x numbers of subjects."""

    effect_sizes: tuple = ()
    n_subjects: tuple = ()
    n_replicates: int = 0
    region: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.effect_sizes) and bool(self.n_subjects) and self.n_replicates > 0


@dataclass(frozen=True)
class StudyConfig:
    """A resolved study: the scenario (resolved and validated as the pipeline does) and the study design.

    Build it with :func:`load_study`; it is plain data and pickles to Dask workers.
    """

    scenario: Scenario
    n_replicates: int = 10
    n_subjects: int = 8
    seed: int = 0
    mode: str = "tac"
    design: str = "two_scans"
    conditions: tuple = ("control", "release")
    control_study: bool = False
    # two_windows: each subject is also scanned without release, and ΔBP_ND is
    # corrected by the same windows' difference in that scan (window bias).
    matched_control: bool = False
    resample_subjects: bool = True
    alpha: float = 0.05
    alternative: str = "two-sided"
    ci_level: float = 0.95
    models: tuple = ("srtm", "logan_ref")
    regions: tuple = ()
    ref: Any = "occipital_cortex"
    window_min: tuple | None = None  # fit window of each scan (two_scans); None = whole scan
    truth_window_min: tuple | None = None  # window over which the release truth is averaged
    baseline_window_min: tuple | None = None  # two_windows design
    release_window_min: tuple | None = None  # two_windows design
    t_star_min: float | None = None
    noise_cov: float = 0.05
    noise_table: dict | None = None  # region -> noise scale S (TAC mode); replaces noise_cov when given
    # TAC mode: wild-bootstrap replicates per fit; the intervals of BP_ND and ΔBP_ND are then the
    # bootstrap's percentile intervals (0: estimate +- z SE with the fit's regression SE)
    bootstrap: int = 0
    retries: int = 2
    subjects_per_task: int = 0  # 0: one task per replicate (all subjects); k: k subjects per task
    variability: Variability = field(default_factory=Variability)
    trait: Trait = field(default_factory=Trait)
    power: Power = field(default_factory=Power)

    def to_dict(self) -> dict:
        """Plain-JSON form (the resolved study stored next to the results); the scenario as its resolved table."""
        data = {f.name: (self.scenario.to_dict() if f.name == "scenario" else
                         asdict(getattr(self, f.name)) if f.name in ("variability", "trait", "power") else
                         getattr(self, f.name)) for f in fields(self)}
        return json.loads(json.dumps(data, default=list))

    def fingerprint(self) -> str:
        """A short hash of everything that changes the results (not workers/threads)."""
        cached = self.__dict__.get("_fingerprint")
        if cached is None:
            data = self.to_dict()
            for key in ("matched_control", "noise_table", "bootstrap"):
                if not data[key]:
                    # Keys added later hash only when set, so folders of studies without them still resume.
                    del data[key]
            if self.mode == "tac" and (self.variability.k1_log_sd or not self.scenario.tracer.blood_volume):
                # TAC mode's kinetics became the pipeline's (issue 12: K1 and k2 scaled together,
                # tracer.blood_volume honoured): a folder of the old kinetics must not be resumed.
                data["tac_kinetics"] = 2
            text = json.dumps(data, sort_keys=True)
            cached = hashlib.sha256(text.encode()).hexdigest()[:16]
            object.__setattr__(self, "_fingerprint", cached)  # frozen: computed once, then reused
        return cached


def _window(value, name):
    if value is None:
        return None
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be [start_min, end_min], got {value!r}") from None
    if not (0.0 <= a < b):
        raise ValueError(f"{name} = {value!r}: need 0 <= start < end (minutes)")
    return (a, b)


def _positive_int(study, key, default, minimum=1):
    value = study.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"[study] {key} = {value!r}: must be an integer >= {minimum}")
    return value


def _choice(study, key, default, allowed):
    value = study.get(key, default)
    if value not in allowed:
        raise ValueError(f"[study] {key} = {value!r}: allowed values are {', '.join(map(repr, allowed))}")
    return value


def _sd(value, name):
    if isinstance(value, Mapping):
        return {str(k): _sd(v, f"{name}.{k}") for k, v in value.items()}
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} = {value!r}: must be a number >= 0 (log-normal SD)") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} = {value!r}: must be a finite number >= 0 (log-normal SD)")
    return value


def _load_scenario(raw: Mapping, base_dir: Path) -> Scenario:
    """The scenario section: a path (relative to the study file) or an inline table.

    It is resolved and validated exactly as the pipeline does it (:func:`petsim.pipeline.scenario.load_scenario`
    and :func:`petsim.pipeline.world.validate`), in both modes: a scenario the pipeline would refuse
    raises its :class:`~petsim.pipeline.scenario.ScenarioError` here, before any work.
    """
    from petsim.pipeline.scenario import load_scenario
    from petsim.pipeline.world import validate

    scenario = raw.get("scenario", {})
    if isinstance(scenario, str):
        path = Path(scenario)
        if not path.is_absolute():
            path = base_dir / path
        if not path.is_file():
            raise FileNotFoundError(f"scenario file {str(path)!r} named by the study does not exist")
        scenario = load_scenario(path)
    elif isinstance(scenario, Mapping):
        scenario = load_scenario(dict(scenario))
    elif not isinstance(scenario, Scenario):
        raise TypeError(f"scenario must be a file name or a table, got {type(scenario).__name__}")
    validate(scenario)
    return scenario


def load_study(source, base_dir=None) -> StudyConfig:
    """Read and validate a study.

    Parameters
    ----------
    source : str, Path or mapping
        A study TOML file, or the same content as a dict.
    base_dir : str or Path, optional
        Folder that a relative ``scenario`` path is resolved against
        (default: the study file's folder, or the current folder for a dict).

    Returns
    -------
    StudyConfig

    Raises
    ------
    ValueError, TypeError, FileNotFoundError
        Naming the offending key and what is allowed.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"study file {str(path)!r} does not exist")
        raw = load_toml(path)
        base = Path(base_dir) if base_dir is not None else path.parent
    elif isinstance(source, Mapping):
        raw = dict(source)
        base = Path(base_dir) if base_dir is not None else Path.cwd()
    else:
        raise TypeError(f"study must be a TOML path or a dict, got {type(source).__name__}")
    if "study" not in raw or not isinstance(raw["study"], Mapping):
        raise ValueError("the study file needs a [study] table")
    study = dict(raw["study"])
    known = set(StudyConfig.__dataclass_fields__) - {"scenario"}
    unknown = sorted(set(study) - known)
    if unknown:
        raise ValueError(f"[study] has unknown keys {unknown}; allowed: {sorted(known)}")
    scenario = _load_scenario(raw, base)

    # One subject is allowed (noise replicates of one subject: bias and variance);
    # the paired test and the trait correlation need more and are left empty.
    n_subjects = _positive_int(study, "n_subjects", 8, minimum=1)
    design = _choice(study, "design", "two_scans", DESIGNS)
    conditions = tuple(study.get("conditions", ("control", "release") if design == "two_scans"
                                 else ("baseline", "release")))
    if len(conditions) != 2 or len(set(conditions)) != 2 or not all(isinstance(c, str) for c in conditions):
        raise ValueError(f"[study] conditions = {list(conditions)!r}: need two different names "
                         "(the first without release, the second with it)")
    alpha = float(study.get("alpha", 0.05))
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"[study] alpha = {alpha!r}: must lie in (0, 1)")
    ci_level = float(study.get("ci_level", 0.95))
    if not 0.0 < ci_level < 1.0:
        raise ValueError(f"[study] ci_level = {ci_level!r}: must lie in (0, 1)")
    analysis = scenario.analysis
    models = study.get("models", analysis.models)
    models = (models,) if isinstance(models, str) else tuple(models)
    known = _known_models()
    bad = [m for m in models if m not in known]
    if not models or bad:
        raise ValueError(f"[study] models = {list(models)!r}: allowed models are {list(known)}")
    regions = study.get("regions", ())
    regions = (regions,) if isinstance(regions, str) else tuple(regions)
    if not regions:
        regions = tuple(analysis.regions or _default_regions(scenario))
    if not regions:
        raise ValueError("[study] regions is empty and the scenario names no release regions: "
                         "list the target regions to analyse")
    noise_cov = float(study.get("noise_cov", 0.05))
    if not (0.0 <= noise_cov < 10.0):
        raise ValueError(f"[study] noise_cov = {noise_cov!r}: must be >= 0 (e.g. 0.05 for 5 %)")
    noise_table = None
    if study.get("noise_table") is not None:
        from petsim.study.noise_model import read_noise_table

        if "noise_cov" in study:
            raise ValueError("[study] noise_cov and noise_table both set the TAC noise: give one")
        path = Path(study["noise_table"])
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            raise FileNotFoundError(f"[study] noise_table = {str(path)!r} does not exist")
        noise_table = read_noise_table(path)
    t_star = study.get("t_star_min", analysis.t_star_min)
    if t_star is not None and float(t_star) < 0:
        raise ValueError(f"[study] t_star_min = {t_star!r}: must be >= 0 min")

    var_raw = dict(study.get("variability", {}))
    unknown = sorted(set(var_raw) - set(Variability.__dataclass_fields__))
    if unknown:
        raise ValueError(f"[study.variability] has unknown keys {unknown}; "
                         f"allowed: {sorted(Variability.__dataclass_fields__)}")
    variability = Variability(**{k: _sd(v, f"[study.variability] {k}") for k, v in var_raw.items()})

    trait_raw = dict(study.get("trait", {}))
    r = float(trait_raw.get("r", 0.0))
    if not -1.0 <= r <= 1.0:
        raise ValueError(f"[study.trait] r = {r!r}: a correlation must lie in [-1, 1]")
    trait = Trait(name=str(trait_raw.get("name", "trait")), r=r,
                  region=trait_raw.get("region", regions[0]))

    power_raw = dict(study.get("power", {}))
    effects = tuple(float(e) for e in power_raw.get("effect_sizes", ()))
    if any(not 0.0 <= e < 1.0 for e in effects):
        raise ValueError(f"[study.power] effect_sizes = {list(effects)!r}: peak occupancies must lie in [0, 1)")
    power_n = tuple(int(n) for n in power_raw.get("n_subjects", ()))
    if any(n < 2 for n in power_n):
        raise ValueError(f"[study.power] n_subjects = {list(power_n)!r}: a paired test needs >= 2 subjects")
    power = Power(effect_sizes=effects, n_subjects=tuple(sorted(set(power_n))),
                  n_replicates=int(power_raw.get("n_replicates", 0)),
                  region=power_raw.get("region", trait.region))

    window = _window(study.get("window_min"), "[study] window_min")
    # Default windows of the two-window design: the scenario's first two analysis windows.
    scn_windows = [[w.start_min, w.end_min] for w in analysis.windows]
    baseline_window = _window(study.get("baseline_window_min", scn_windows[0] if len(scn_windows) > 1 else None),
                              "[study] baseline_window_min")
    release_window = _window(study.get("release_window_min", scn_windows[1] if len(scn_windows) > 1 else None),
                             "[study] release_window_min")
    if design == "two_windows" and (baseline_window is None or release_window is None):
        raise ValueError("design 'two_windows' needs baseline_window_min and release_window_min in [study]")
    matched_control = study.get("matched_control", design == "two_windows")
    if not isinstance(matched_control, bool):
        raise ValueError(f"[study] matched_control = {matched_control!r}: must be true or false")
    if matched_control and design != "two_windows":
        raise ValueError(f"[study] matched_control = true needs design 'two_windows' (got {design!r}: "
                         "the two-scan design already compares with a control scan)")

    return StudyConfig(
        scenario=scenario,
        n_replicates=_positive_int(study, "n_replicates", 10),
        n_subjects=n_subjects,
        seed=_positive_int(study, "seed", 0, minimum=0),
        mode=_choice(study, "mode", "tac", MODES),
        design=design,
        conditions=conditions,
        control_study=bool(study.get("control_study", False)),
        matched_control=matched_control,
        resample_subjects=bool(study.get("resample_subjects", True)),
        alpha=alpha,
        alternative=_choice(study, "alternative", "two-sided", ALTERNATIVES),
        ci_level=ci_level,
        models=models,
        regions=regions,
        ref=study.get("ref", analysis.reference if isinstance(analysis.reference, str) else list(analysis.reference)),
        window_min=window,
        truth_window_min=_window(study.get("truth_window_min"), "[study] truth_window_min"),
        baseline_window_min=baseline_window,
        release_window_min=release_window,
        t_star_min=None if t_star is None else float(t_star),
        noise_cov=noise_cov,
        noise_table=noise_table,
        bootstrap=_positive_int(study, "bootstrap", 0, minimum=0),
        retries=_positive_int(study, "retries", 2, minimum=0),
        subjects_per_task=_positive_int(study, "subjects_per_task", 0, minimum=0),
        variability=variability,
        trait=trait,
        power=power,
    )


def _default_regions(scenario: Scenario) -> list:
    """The regions the scenario's releases name (as written), in order."""
    seen = []
    for rel in scenario.releases:
        for region in rel.regions:
            if region not in seen:
                seen.append(region)
    return seen


def study_from_dict(data: Mapping) -> StudyConfig:
    """Rebuild a :class:`StudyConfig` from :meth:`StudyConfig.to_dict` output (e.g. DIR/study.json)."""
    data = dict(data)
    fields = StudyConfig.__dataclass_fields__
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"stored study has unknown keys {unknown}")

    def tup(v):
        return tuple(v) if isinstance(v, list) else v

    out = {k: tup(v) for k, v in data.items() if k not in ("variability", "trait", "power", "scenario")}
    out["scenario"] = _load_scenario(data, Path.cwd())
    out["variability"] = Variability(**data.get("variability", {}))
    out["trait"] = Trait(**data.get("trait", {}))
    power = dict(data.get("power", {}))
    power = {k: tup(v) for k, v in power.items()}
    out["power"] = Power(**power)
    return StudyConfig(**out)
