"""Build everything a scenario describes: grids, phantoms, kinetics, scanner and layouts.

Checks that would otherwise fail late (an unknown region in a release, frames
past the end of the input, a missing file) happen here, before any long work.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from petsim.grid import Grid
from petsim.pipeline.scenario import Scenario, ScenarioError


def recon_grid(scenario: Scenario) -> Grid:
    rec = scenario["recon"]
    return Grid(tuple(int(n) for n in rec["shape"]), tuple(float(v) for v in rec["voxel_size_mm"]))


def simulation_grid(scenario: Scenario) -> Grid:
    """The finer grid the data are simulated on (no inverse crime): ``sim_oversampling`` x finer per axis."""
    g = recon_grid(scenario)
    k = int(scenario["physics"]["sim_oversampling"])
    return Grid(tuple(n * k for n in g.shape), tuple(d / k for d in g.voxel_size_mm))


def load_phantom(scenario: Scenario, grid: Grid):
    from petsim.phantom import Phantom, load

    name = scenario["phantom"]["name"]
    if name.endswith((".nii", ".nii.gz")):
        table = scenario["phantom"]["table"]
        if not table:
            raise ScenarioError(f"phantom.name {name!r} is a label image: phantom.table must name its region table (TSV)")
        user = Phantom.from_nifti(name, table)
        return user.resample(grid) if hasattr(user, "resample") else user
    return load(name=name, grid=grid)


def frame_schedule(scenario: Scenario):
    from petsim.frames import FrameSchedule, get_schedule

    fr = scenario["frames"]
    if scenario["kind"] == "static":
        d = float(scenario["static"]["duration_min"])
        if d <= 0:
            raise ScenarioError(f"static.duration_min must be positive, got {d}")
        return FrameSchedule(np.array([0.0]), np.array([d]))
    if fr["durations_min"]:
        return FrameSchedule.from_durations(np.asarray(fr["durations_min"], dtype=float))
    return get_schedule(fr["preset"])


def expand_regions(names, available, key: str) -> list[str]:
    """Region names as given, or a structure name standing for its left and right parts."""
    out = []
    for name in names:
        if name in available:
            out.append(name)
            continue
        sides = [f"{name}_l", f"{name}_r"]
        found = [s for s in sides if s in available]
        if not found:
            raise ScenarioError(
                f"{key}: unknown region {name!r}; known regions: {', '.join(sorted(available))}"
            )
        out.extend(found)
    return out


def make_releases(scenario: Scenario, region_names):
    """Release objects of the scenario (their timing was checked by :func:`validate`)."""
    from petsim.kinetics import GammaRelease, StepRelease

    releases = []
    for i, rel in enumerate(scenario["releases"]):
        regions = expand_regions(rel["regions"], region_names, f"releases[{i}].regions")
        if rel["profile"] == "step":
            releases.append(StepRelease(regions=regions, onset_min=rel["onset_min"], magnitude=rel["magnitude"], end_min=rel["end_min"]))
        else:
            releases.append(
                GammaRelease(regions=regions, onset_min=rel["onset_min"], peak_min=rel["peak_min"], alpha=rel["alpha"], magnitude=rel["magnitude"])
            )
    return releases


def plasma_input(scenario: Scenario):
    from petsim.kinetics import PlasmaInput

    p = scenario["protocol"]
    if p["input"] == "bolus":
        return PlasmaInput.bolus(dose_mbq=p["dose_mbq"])
    return PlasmaInput.bolus_plus_infusion(dose_mbq=p["dose_mbq"], k_bol_min=p["k_bol_min"], infusion_min=p["infusion_min"])


def scanner_and_layout(scenario: Scenario):
    from petsim.scanner import get_scanner

    s = scenario["scanner"]
    scanner = get_scanner(s["name"])
    if s["mode"] == "3d":
        layout = scanner.layout_3d(span=s["span"], max_ring_diff=s["max_ring_diff"], **_layout_options(s))
    else:
        layout = layout_2d_for(scenario, scanner)
    return scanner, layout


def _layout_options(s: dict) -> dict:
    return {"view_mashing": s["view_mashing"], **({"n_radial": s["n_radial"]} if s["n_radial"] else {})}


def layout_2d_for(scenario: Scenario, scanner):
    """The 2D (direct + cross planes) layout of the scenario's scanner: the target of rebinning."""
    return scanner.layout_2d(cross_planes=True, **_layout_options(scenario["scanner"]))


def validate(scenario: Scenario) -> None:
    """Fail fast: everything that can be checked without long work."""
    from petsim.scanner import get_scanner

    get_scanner(scenario["scanner"]["name"])
    frame_schedule(scenario)
    if scenario["kind"] == "static" and not scenario["static"]["activity_bq_ml"]:
        raise ScenarioError("static.activity_bq_ml must give the activity of at least one region (Bq/mL)")
    if scenario["kind"] == "dynamic":
        from petsim.kinetics import load_tracer

        load_tracer(scenario["tracer"]["name"])
        fs = frame_schedule(scenario)
        end = float(fs.ends_min[-1])
        for i, rel in enumerate(scenario["releases"]):
            if rel["onset_min"] >= end:
                raise ScenarioError(f"releases[{i}].onset_min = {rel['onset_min']} min is at or after the scan end ({end} min)")
            if rel["end_min"] is not None and rel["end_min"] > end:
                raise ScenarioError(f"releases[{i}].end_min = {rel['end_min']} min is after the scan end ({end} min)")
        for i, w in enumerate(scenario["analysis"]["windows"]):
            if w["end_min"] > end + 1e-9:
                raise ScenarioError(f"analysis.windows[{i}] ({w['name']}) ends at {w['end_min']} min, after the scan end ({end} min)")
            inside = int(np.sum((fs.starts_min >= w["start_min"] - 1e-9) & (fs.ends_min <= w["end_min"] + 1e-9)))
            if inside < 4:
                raise ScenarioError(
                    f"analysis.windows[{i}] ({w['name']}, {w['start_min']}-{w['end_min']} min) holds {inside} whole "
                    "frames; the models need at least 4: widen the window or use shorter frames")
    name = scenario["phantom"]["name"]
    if name.endswith((".nii", ".nii.gz")):
        from pathlib import Path

        for p in (name, scenario["phantom"]["table"] or ""):
            if not Path(p).is_file():
                raise FileNotFoundError(f"phantom: no such file {p!r}")


@dataclass
class World:
    """The resolved objects of a scenario, built lazily (phantoms are the slow part)."""

    scenario: Scenario

    @cached_property
    def recon_grid(self) -> Grid:
        return recon_grid(self.scenario)

    @cached_property
    def sim_grid(self) -> Grid:
        return simulation_grid(self.scenario)

    @cached_property
    def phantom_sim(self):
        return load_phantom(self.scenario, self.sim_grid)

    @cached_property
    def phantom_recon(self):
        return load_phantom(self.scenario, self.recon_grid)

    @cached_property
    def frames(self):
        return frame_schedule(self.scenario)

    @cached_property
    def scanner_layout(self):
        return scanner_and_layout(self.scenario)

    @property
    def scanner(self):
        return self.scanner_layout[0]

    @property
    def layout(self):
        return self.scanner_layout[1]

    @cached_property
    def isotope(self):
        from petsim.isotopes import get_isotope

        return get_isotope(self.scenario["tracer"]["isotope"])


#: A voxel belongs to a "core" VOI when at least this fraction of it lies in the region.
CORE_FRACTION = 0.9


def voi_labels(phantom, mode: str) -> np.ndarray:
    """Label image of the VOIs that TACs are extracted from.

    ``labels``: every voxel carries the label of its largest region. ``core``:
    only voxels whose partial-volume fraction of that region is at least
    :data:`CORE_FRACTION` (an eroded VOI, free of the grid's own boundary
    mixing; the scanner's resolution still spills activity in and out).
    """
    labels = np.asarray(phantom.labels)
    if mode == "labels":
        return labels
    core = np.zeros_like(labels)
    for r in phantom.regions:
        own = labels == r.id
        core[own & (phantom.fraction(r.name) >= CORE_FRACTION)] = r.id
    return core
