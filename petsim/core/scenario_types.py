"""The resolved scenario as typed, frozen objects: one dataclass per section.

A scenario file is read, checked and completed once, by
:func:`petsim.pipeline.scenario.resolve` (its ``SCHEMA`` and ``RANGES`` hold every
default and every check); what comes out is a :class:`Scenario`, and every stage
reads it by attribute (``scenario.tracer.name``, ``scenario.recon.subsets``), never
as a dictionary.

Values are kept as the file gave them, so that :meth:`Scenario.to_toml` and
:meth:`Scenario.to_json` (the resolved scenario written beside the outputs, whose
SHA-256 names a run) are the same text the plain resolved table gave: numbers of
a "number" key are floats, integers stay integers inside lists and windows,
and lists become tuples (the objects are frozen and hashable; ``to_dict`` turns
them back into lists).

Examples
--------
>>> from petsim.pipeline.scenario import resolve
>>> sc = resolve({"recon": {"algorithm": "mlem"}})
>>> sc.recon.algorithm, sc.recon.subsets, sc.recon.effective_subsets
('mlem', 16, 1)
>>> sc.analysis.windows[0].name
'baseline'
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Union

__all__ = [
    "Analysis", "Frames", "Phantom", "Physics", "Protocol", "Recon", "Release", "Scanner", "Scenario",
    "Static", "Tracer", "Window", "dumps_toml", "SECTIONS",
]


def _tuple(v):
    return tuple(v) if isinstance(v, list) else v


def _plain(v):
    """A field value as the resolved table holds it: tuples as lists, dicts copied."""
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if dataclasses.is_dataclass(v):
        return v.to_dict()
    return v


class _Section:
    """``from_dict``/``to_dict`` of a section: fields in the order of the scenario schema."""

    @classmethod
    def from_dict(cls, table: dict):
        return cls(**{f.name: _tuple(table[f.name]) for f in dataclasses.fields(cls) if f.init})

    def to_dict(self) -> dict:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.compare}


@dataclass(frozen=True)
class Phantom(_Section):
    name: str
    table: str | None
    t1w: bool
    t1w_voxel_mm: float


@dataclass(frozen=True)
class Tracer(_Section):
    name: str
    isotope: str
    blood_volume: bool
    mass_effect: bool
    specific_activity_gbq_per_umol: float | None
    reference_bp_nd: float


@dataclass(frozen=True)
class Protocol(_Section):
    input: str
    dose_mbq: float
    k_bol_min: float | None
    infusion_min: float
    steady_from_min: float
    body_mass_kg: float
    blood_sample_cov: float
    injected_volume_ml: float


@dataclass(frozen=True)
class Frames(_Section):
    preset: str
    durations_min: tuple | None


@dataclass(frozen=True)
class Scanner(_Section):
    name: str
    mode: str
    span: int
    max_ring_diff: int
    view_mashing: int
    n_radial: int | None


@dataclass(frozen=True)
class Physics(_Section):
    attenuation: bool
    scatter: bool
    scatter_fraction: float | None
    sensitivity_cps_per_bq_ml: float | None
    dead_time_50pct_rate_cps: float | None
    randoms: bool
    randoms_correction: str
    out_of_field_singles_fraction: float
    normalisation: bool
    crystal_efficiency_sd: float
    normalisation_correction: str
    normalisation_scan_counts: float
    attenuation_correction: str
    mumap_shift_mm: tuple
    mumap_rotation_deg: tuple
    psf_fwhm_mm: tuple | None
    dead_time: bool
    noise: bool
    sim_oversampling: int


@dataclass(frozen=True)
class Recon(_Section):
    algorithm: str
    rebin: str
    iterations: int
    subsets: int
    post_filter_fwhm_mm: float
    psf_fwhm_mm: tuple
    shape: tuple
    voxel_size_mm: tuple
    beta: float

    @property
    def effective_subsets(self) -> int:
        """Subsets the algorithm uses: ``subsets`` for OSEM and MAP, 1 for MLEM and FBP (the one place of this rule)."""
        return self.subsets if self.algorithm in ("osem", "map") else 1


@dataclass(frozen=True)
class Window(_Section):
    """An analysis window; ``start_min``/``end_min`` as written (an integer stays one in the resolved file)."""

    name: str
    start_min: float
    end_min: float
    #: order of the keys in the file (the resolved TOML writes them back in that order)
    key_order: tuple = field(default=("name", "start_min", "end_min"), compare=False, repr=False)

    @classmethod
    def from_dict(cls, table: dict) -> "Window":
        return cls(table["name"], table["start_min"], table["end_min"], tuple(table))

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.key_order}

    @property
    def span_min(self) -> tuple:
        """``(start_min, end_min)``."""
        return (self.start_min, self.end_min)


@dataclass(frozen=True)
class Analysis(_Section):
    reference: Union[str, tuple]
    reference_has_binding: bool
    models: tuple
    t_star_min: float
    k2_ref_per_min: float | None
    weights: str
    bootstrap: int
    windows: tuple  # of Window
    control: bool
    regions: tuple
    maps: tuple
    voi: str

    @classmethod
    def from_dict(cls, table: dict) -> "Analysis":
        d = {f.name: _tuple(table[f.name]) for f in dataclasses.fields(cls)}
        d["windows"] = tuple(Window.from_dict(w) for w in table["windows"])
        return cls(**d)


@dataclass(frozen=True)
class Release(_Section):
    """One ``[[releases]]`` table (a gamma release's default ``peak_min`` filled in)."""

    regions: tuple
    profile: str
    onset_min: float
    end_min: float | None
    peak_min: float | None
    alpha: float
    magnitude: float


@dataclass(frozen=True)
class Static(_Section):
    duration_min: float
    activity_bq_ml: dict = field(hash=False)  # region -> Bq/mL, as written


#: Section name -> its dataclass, in the order of the resolved file.
SECTIONS: dict = {
    "phantom": Phantom, "tracer": Tracer, "protocol": Protocol, "frames": Frames, "scanner": Scanner,
    "physics": Physics, "recon": Recon, "analysis": Analysis,
}


@dataclass(frozen=True)
class Scenario:
    """A fully resolved scenario: every section with every default filled in.

    Build it with :func:`petsim.pipeline.scenario.resolve` or
    :func:`~petsim.pipeline.scenario.load_scenario` (which check every value);
    ``source`` (the file it came from) is not part of its identity.
    """

    name: str
    kind: str
    subject: str
    seed: int
    phantom: Phantom
    tracer: Tracer
    protocol: Protocol
    frames: Frames
    scanner: Scanner
    physics: Physics
    recon: Recon
    analysis: Analysis
    releases: tuple  # of Release
    static: Static
    source: str = field(default="<dict>", compare=False)

    @classmethod
    def from_dict(cls, data: dict, source: str = "<dict>") -> "Scenario":
        """The typed form of a resolved table (no checks: :func:`~petsim.pipeline.scenario.resolve` made them)."""
        return cls(
            name=data["name"], kind=data["kind"], subject=data["subject"], seed=data["seed"],
            **{k: c.from_dict(data[k]) for k, c in SECTIONS.items()},
            releases=tuple(Release.from_dict(r) for r in data["releases"]),
            static=Static.from_dict(data["static"]), source=source,
        )

    def to_dict(self) -> dict:
        """The resolved table (a fresh, plain dict: lists, not tuples), in the order of the resolved file."""
        out = {"name": self.name, "kind": self.kind, "subject": self.subject, "seed": self.seed}
        out.update({k: getattr(self, k).to_dict() for k in SECTIONS})
        out["releases"] = [r.to_dict() for r in self.releases]
        out["static"] = self.static.to_dict()
        return out

    def to_toml(self) -> str:
        """The resolved scenario as TOML (``scenario_resolved.toml``)."""
        return dumps_toml(self.to_dict())

    def to_json(self) -> str:
        """The resolved scenario as JSON with sorted keys (what run folders hash)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @property
    def has_control_scan(self) -> bool:
        """Whether the run also simulates the matched no-release scan (dynamic, ``analysis.control``, a release)."""
        return self.kind == "dynamic" and self.analysis.control and bool(self.releases)


def _toml_value(v) -> str:
    """One value in TOML (the subset scenarios use)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items() if x is not None) + " }"
    raise TypeError(f"cannot write {v!r} as TOML")


def dumps_toml(data: dict) -> str:
    """Write a resolved scenario table as TOML (the subset of TOML scenarios use)."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict) and k != "releases"]
    for section, table in data.items():
        if isinstance(table, dict):
            lines.append(f"\n[{section}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None)
    for rel in data.get("releases", []):
        lines.append("\n[[releases]]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in rel.items() if v is not None)
    return "\n".join(lines) + "\n"
