"""Build everything a scenario describes: grids, phantoms, kinetics, scanner and layouts.

Checks that would otherwise fail late (an unknown region in a release, frames
past the end of the input, a missing file) happen here, before any long work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Callable

import numpy as np

from petsim.grid import Grid
from petsim.pipeline.scenario import Scenario, ScenarioError, did_you_mean


def recon_grid(scenario: Scenario) -> Grid:
    rec = scenario.recon
    return Grid(tuple(int(n) for n in rec.shape), tuple(float(v) for v in rec.voxel_size_mm))


def simulation_grid(scenario: Scenario) -> Grid:
    """The finer grid the data are simulated on (no inverse crime): ``sim_oversampling`` x finer per axis."""
    g = recon_grid(scenario)
    k = int(scenario.physics.sim_oversampling)
    return Grid(tuple(n * k for n in g.shape), tuple(d / k for d in g.voxel_size_mm))


def load_phantom(scenario: Scenario, grid: Grid, supersample: int | None = None):
    """The scenario's phantom on ``grid``; ``supersample`` sub-voxels per edge for the partial volumes
    (default: the phantom's own choice)."""
    from petsim.phantom import Phantom, load

    name = scenario.phantom.name
    if is_label_image(name):
        user = Phantom.from_nifti(name, label_table(scenario))
        return user.resample(grid, **({"supersample": supersample} if supersample else {}))
    return load(name=name, grid=grid, supersample=supersample)


def is_label_image(name: str) -> bool:
    """Whether ``phantom.name`` is the path of a label NIfTI (not a shipped phantom)."""
    return name.endswith((".nii", ".nii.gz"))


def label_table(scenario: Scenario) -> str:
    """``phantom.table``: the region table a label-image phantom needs."""
    table = scenario.phantom.table
    if not table:
        raise ScenarioError(f"phantom.name {scenario.phantom.name!r} is a label image: phantom.table must name its region table (TSV)")
    return table


def frame_schedule(scenario: Scenario):
    """The scan's frames: ``frames.durations_min``, else ``frames.preset`` (one frame of
    ``static.duration_min`` for a static scan); the one builder of every mode."""
    from petsim.frames import FrameSchedule, get_schedule

    fr = scenario.frames
    if scenario.kind == "static":
        d = float(scenario.static.duration_min)
        if d <= 0:
            raise ScenarioError(f"static.duration_min must be positive, got {d}")
        return FrameSchedule(np.array([0.0]), np.array([d]))
    if fr.durations_min:
        return FrameSchedule.from_durations(np.asarray(fr.durations_min, dtype=float))
    return get_schedule(fr.preset)


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
                f"{key}: unknown region {name!r}{did_you_mean(name, _with_structures(available))}; "
                f"known regions: {', '.join(sorted(available))}"
            )
        out.extend(found)
    return out


def _with_structures(names) -> list[str]:
    """Region names plus the structure names that stand for both sides."""
    return sorted(set(names) | {n[:-2] for n in names if n.endswith(("_l", "_r"))})


#: Largest release magnitude a study draws for a subject. The log-normal spread of a study's release
#: magnitudes (``release_log_sd``) can push a drawn magnitude to or past full occupancy, which the
#: kinetics cannot take; only such a drawn value is clamped. A scenario's own ``magnitude`` is never
#: clamped: the resolver refuses one >= 1.
MAX_DRAWN_MAGNITUDE = 0.99


def drawn_magnitude(magnitude: float, scale: float = 1.0) -> float:
    """A subject's release magnitude, ``magnitude x scale``, clamped at :data:`MAX_DRAWN_MAGNITUDE` when
    ``scale`` (the subject's drawn factor) is not 1; ``magnitude`` itself when it is."""
    if scale == 1.0:
        return magnitude
    return min(magnitude * scale, MAX_DRAWN_MAGNITUDE)


def make_releases(scenario: Scenario, region_names, magnitude_scale: float = 1.0, magnitude: float | None = None):
    """Release objects of the scenario (their timing was checked by :func:`validate`): the one release
    builder of image mode, in-memory runs and TAC-mode studies.

    Each release's regions are resolved in ``region_names`` (a structure name stands for both sides).
    ``magnitude`` (a study's effect size) replaces every release's own, and ``magnitude_scale`` (a
    subject's drawn factor) multiplies it, see :func:`drawn_magnitude`; the defaults leave the
    scenario's releases as they are.
    """
    from petsim.kinetics import GammaRelease, StepRelease

    releases = []
    for i, rel in enumerate(scenario.releases):
        regions = expand_regions(rel.regions, region_names, f"releases[{i}].regions")
        mag = drawn_magnitude(rel.magnitude if magnitude is None else magnitude, magnitude_scale)
        if rel.profile == "step":
            releases.append(StepRelease(regions=regions, onset_min=rel.onset_min, magnitude=mag, end_min=rel.end_min))
        else:
            releases.append(
                GammaRelease(regions=regions, onset_min=rel.onset_min, peak_min=rel.peak_min, alpha=rel.alpha, magnitude=mag)
            )
    return releases


def plasma_input(scenario: Scenario):
    """The plasma input the scenario's ``[protocol]`` describes (the one builder of every mode)."""
    from petsim.kinetics import PlasmaInput, load_tracer

    p = scenario.protocol
    # parent fraction and blood:plasma ratio from the tracer table's [input] (with their sources)
    shape = load_tracer(scenario.tracer.name).input_params if scenario.kind == "dynamic" else {}
    if p.input == "bolus":
        return PlasmaInput.bolus(dose_mbq=p.dose_mbq, **shape)
    # k_bol_min None: derived so that parent plasma is steady from steady_from_min (Carson et al. 1993)
    return PlasmaInput.bolus_plus_infusion(dose_mbq=p.dose_mbq, k_bol_min=p.k_bol_min, infusion_min=p.infusion_min,
                                           steady_from_min=p.steady_from_min, **shape)


def scanner_and_layout(scenario: Scenario):
    from petsim.scanner import get_scanner

    s = scenario.scanner
    scanner = get_scanner(s.name)
    if s.mode == "3d":
        layout = scanner.layout_3d(span=s.span, max_ring_diff=s.max_ring_diff, **_layout_options(s))
    else:
        layout = layout_2d_for(scenario, scanner)
    return scanner, layout


def _layout_options(s: dict) -> dict:
    return {"view_mashing": s.view_mashing, **({"n_radial": s.n_radial} if s.n_radial else {})}


def layout_2d_for(scenario: Scenario, scanner):
    """The 2D (direct + cross planes) layout of the scenario's scanner: the target of rebinning."""
    return scanner.layout_2d(cross_planes=True, **_layout_options(scenario.scanner))


def validate(scenario: Scenario) -> None:
    """Fail fast: everything that can be checked without long work.

    :func:`petsim.pipeline.scenario.resolve` has checked each value on its own; this resolves the
    names against the tables they refer to (scanner, frame preset, phantom, tracer, regions,
    reference) and checks what depends on them (sinogram layout, subsets, radial field of view,
    frames inside the windows), reading only definitions: nothing is rasterised or simulated.

    Raises
    ------
    ScenarioError
        naming the key that is wrong (FileNotFoundError for a missing phantom file).
    """
    world = World(scenario)
    _check_scanner(scenario)
    _check_recon_layout(world)
    fs = _checked_frames(scenario)
    names = phantom_region_names(scenario)
    if scenario.kind == "static":
        _check_static(scenario, names)
    else:
        _check_dynamic(scenario, names, fs)


def _check_scanner(scenario: Scenario) -> None:
    """The scanner preset and the sinogram settings it allows."""
    from petsim.pipeline.simulate import physics_of
    from petsim.scanner import available_scanners, get_scanner

    s = scenario.scanner
    try:
        scanner = get_scanner(s.name)
    except ValueError:
        raise ScenarioError(f"scanner.name: unknown scanner {s.name!r}{did_you_mean(s.name, available_scanners())}; "
                            f"available: {', '.join(available_scanners())}") from None
    half = scanner.n_crystals_per_ring // 2
    if half % s.view_mashing:
        raise ScenarioError(f"scanner.view_mashing = {s.view_mashing} must divide the {half} views of {scanner.name}; "
                            f"use one of {_divisors(half)}")
    if s.mode == "3d" and s.span % 2 == 0:
        raise ScenarioError(f"scanner.span = {s.span} must be odd (1, 3, 5, ...)")
    if s.mode == "3d" and s.max_ring_diff > scanner.n_rings - 1:
        raise ScenarioError(f"scanner.max_ring_diff = {s.max_ring_diff} is more than {scanner.name} allows "
                            f"({scanner.n_rings} rings: at most {scanner.n_rings - 1})")
    n, bin_mm = s.n_radial or scanner.n_radial, scanner.radial_bin_mm
    most = math.ceil(2 * scanner.ring_radius_mm / bin_mm) - 1
    cylinder_mm = physics_of(scenario).calibration_cylinder_mm[0]  # the sensitivity is calibrated on it
    least = math.ceil(cylinder_mm / bin_mm) + 1
    if not least <= n <= most:
        raise ScenarioError(
            f"scanner.n_radial = {n} bins of {bin_mm} mm do not fit {scanner.name}: at least {least} to see the "
            f"{cylinder_mm:g} mm calibration cylinder, at most {most} to stay inside the ring")


def _check_recon_layout(world: "World") -> None:
    """Subsets that divide the views of the sinogram reconstructed, and FBP only on 2D data of the grid's planes."""
    from petsim.pipeline.reconstruct import rebin_method

    rec = world.scenario.recon
    try:
        layout = layout_2d_for(world.scenario, world.scanner) if rebin_method(world) else world.layout
    except ValueError as err:  # anything _check_scanner missed
        raise ScenarioError(f"[scanner]: {err}") from None
    n_sino, n_views = layout.shape[:2]
    if n_views % rec.effective_subsets:  # MLEM and FBP use one subset
        raise ScenarioError(f"recon.subsets = {rec.subsets} must divide the {n_views} views of the sinogram "
                            f"that is reconstructed (after scanner.view_mashing); use one of {_divisors(n_views)}")
    if rec.algorithm == "fbp" and np.any(layout.sinogram_dz_mm != 0):
        raise ScenarioError("recon.algorithm = 'fbp' needs 2D data: set recon.rebin to 'fore' or 'ssrb' (or scanner.mode = '2d')")
    if rec.algorithm == "fbp" and n_sino != rec.shape[2]:
        raise ScenarioError(f"recon.shape[2] = {rec.shape[2]} must be the {n_sino} planes of the 2D sinogram "
                            "that recon.algorithm = 'fbp' reconstructs plane by plane")


def _divisors(n: int) -> str:
    return ", ".join(str(d) for d in range(1, n + 1) if n % d == 0)


def _checked_frames(scenario: Scenario):
    """The frame schedule; an unknown ``frames.preset`` named with suggestions."""
    from petsim.frames import SCHEDULES

    preset = scenario.frames.preset
    if scenario.kind == "dynamic" and not scenario.frames.durations_min and preset not in SCHEDULES:
        raise ScenarioError(f"frames.preset: unknown frame schedule {preset!r}{did_you_mean(preset, SCHEDULES)}; "
                            f"known: {', '.join(sorted(SCHEDULES))}, or give frames.durations_min")
    return frame_schedule(scenario)


def phantom_region_names(scenario: Scenario) -> list[str]:
    """Region names of the scenario's phantom, read from its definition or region table (nothing is rasterised)."""
    from pathlib import Path

    from petsim.phantom import available

    name, table = scenario.phantom.name, scenario.phantom.table
    if is_label_image(name):
        for key, path in (("phantom.name", name), ("phantom.table", label_table(scenario))):
            if not Path(path).is_file():
                raise FileNotFoundError(f"{key}: no such file {path!r}")
        from petsim.phantom.user import read_region_table

        try:
            return [r.name for r in read_region_table(table)]
        except ValueError as err:
            raise ScenarioError(f"phantom.table: {err}") from None
    if table is not None:
        raise ScenarioError(f"phantom.table is only read for a label-image phantom; phantom.name = {name!r} is a shipped phantom")
    if name not in available():
        raise ScenarioError(f"phantom.name: unknown phantom {name!r}{did_you_mean(name, available())}; "
                            f"available: {', '.join(available())}, or a label NIfTI (.nii, .nii.gz)")
    return [r.name for r in _definition("mor_brain" if name == "mni152" else name)[0]]  # mni152 has mor_brain's regions


@lru_cache(maxsize=8)
def _definition(name: str) -> tuple:
    """Regions and component table of a shipped phantom definition (no rasterising)."""
    from petsim.phantom.definitions import build, read_definition

    regions, table, _, _ = build(read_definition(name))
    return regions, table


def _check_field_of_view(scenario: Scenario, needed: list[str]) -> None:
    """Each region the analysis needs overlaps the reconstruction grid (judged by the definition's bounding boxes)."""
    from petsim.phantom.shapes import C_BBOX, C_LABEL

    name = scenario.phantom.name
    if is_label_image(name) or name == "mni152":  # no analytic shapes to judge by
        return
    regions, table = _definition(name)
    half = 0.5 * np.asarray(recon_grid(scenario).extent_mm)  # the grid is centred on the isocentre
    for r in regions:
        if r.name not in needed:
            continue
        box = table[table[:, C_LABEL] == r.id, C_BBOX:C_BBOX + 6]
        lo, hi = box[:, 0::2].min(axis=0), box[:, 1::2].max(axis=0)
        if np.any(lo >= half) or np.any(hi <= -half):
            raise ScenarioError(
                f"recon.shape x recon.voxel_size_mm cover {' x '.join(f'{2 * h:g}' for h in half)} mm, which misses "
                f"region {r.name!r} (it lies within {', '.join(f'{a:.0f}..{b:.0f}' for a, b in zip(lo, hi))} mm); "
                "enlarge the grid or its voxels")


def _check_static(scenario: Scenario, names: list[str]) -> None:
    """A static scan: activities given for regions of the phantom, and nothing of a dynamic one."""
    given = scenario.static.activity_bq_ml
    if not given:
        raise ScenarioError("static.activity_bq_ml must give the activity of at least one region (Bq/mL)")
    for region in given:
        expand_regions([region], names, "static.activity_bq_ml")
    if scenario.releases:
        raise ScenarioError("releases apply to dynamic scenarios; a static scenario (kind = \"static\") has none")


def _check_dynamic(scenario: Scenario, names: list[str], fs) -> None:
    """A dynamic scan: tracer rows for every region, releases and windows inside the scan, analysis names."""
    if scenario.static.activity_bq_ml:
        raise ScenarioError("static.activity_bq_ml applies to static scenarios; set kind = \"static\" or leave it out")
    tracer = _tracer(scenario, names)
    end = float(fs.ends_min[-1])
    released = []
    for i, rel in enumerate(scenario.releases):
        if rel.onset_min >= end:
            raise ScenarioError(f"releases[{i}].onset_min = {rel.onset_min} min is at or after the scan end ({end} min)")
        if rel.end_min is not None and rel.end_min > end:
            raise ScenarioError(f"releases[{i}].end_min = {rel.end_min} min is after the scan end ({end} min)")
        released += _unique(expand_regions(rel.regions, names, f"releases[{i}].regions"), f"releases[{i}].regions")
    for i, w in enumerate(scenario.analysis.windows):
        if w.end_min > end + 1e-9:
            raise ScenarioError(f"analysis.windows[{i}] ({w.name}) ends at {w.end_min} min, after the scan end ({end} min)")
        inside = int(np.sum((fs.starts_min >= w.start_min - 1e-9) & (fs.ends_min <= w.end_min + 1e-9)))
        if inside < 4:
            raise ScenarioError(
                f"analysis.windows[{i}] ({w.name}, {w.start_min}-{w.end_min} min) holds {inside} whole "
                "frames; the models need at least 4: widen the window or use shorter frames")
    _check_analysis_names(scenario, names, tracer, released)
    _check_model_frames(scenario, fs)
    _check_injected_mass(scenario, tracer)


def _check_injected_mass(scenario: Scenario, table) -> None:
    """Warn (it is not an error: users may study it) when the injected mass per kg is above the tracer's
    published limit; ``table`` is the tracer table already loaded."""
    import warnings

    from petsim.pipeline.simulate import scenario_tracer

    tracer = scenario_tracer(scenario, table)
    per_kg = tracer.injected_mass_ug(scenario.protocol.dose_mbq) / scenario.protocol.body_mass_kg
    if per_kg > tracer.mass_limit_ug_per_kg:
        warnings.warn(
            f"the injected {tracer.name} mass is {per_kg:.3g} ug/kg ({scenario.protocol.dose_mbq:g} MBq at "
            f"{tracer.specific_activity_gbq_per_umol:g} GBq/umol for {scenario.protocol.body_mass_kg:g} kg), above "
            f"the limit of {tracer.mass_limit_ug_per_kg:g} ug/kg that human studies keep to "
            f"({tracer.mass_limit_source}); the tracer's own receptor occupancy grows with it",
            UserWarning, stacklevel=2)


def _tracer(scenario: Scenario, names: list[str]):
    """The tracer table, which must hold rate constants for every region of the phantom."""
    from importlib import resources

    from petsim.kinetics import load_tracer

    name = scenario.tracer.name
    known = sorted(p.name[:-5] for p in (resources.files("petsim") / "data").iterdir() if p.name.endswith(".toml"))
    if name not in known:
        raise ScenarioError(f"tracer.name: no tracer table {name!r}{did_you_mean(name, known)}; known: {', '.join(known)}")
    tracer = load_tracer(name)
    missing = [n for n in names if not _has_row(tracer, n)]
    if missing:
        raise ScenarioError(f"tracer.name = {name!r} has no rate constants for {len(missing)} region(s) of phantom "
                            f"{scenario.phantom.name!r} ({', '.join(missing[:5])}); a dynamic scenario needs them all "
                            "(kind = \"static\" takes activities instead)")
    return tracer


def _has_row(tracer, region: str) -> bool:
    try:
        tracer.params(region)
    except KeyError:
        return False
    return True


def _unique(regions: list[str], key: str) -> list[str]:
    """``regions`` if no region is named twice (a structure name stands for both its sides)."""
    twice = sorted({r for r in regions if regions.count(r) > 1})
    if twice:
        raise ScenarioError(f"{key} names {', '.join(twice)} more than once (a structure stands for both its sides)")
    return regions


def _check_analysis_names(scenario: Scenario, names: list[str], tracer, released: list[str]) -> None:
    """Reported regions and the reference resolved in the phantom and inside the grid (with the ``released``
    regions); a reference with binding only when meant."""
    from petsim.modeling.tactable import match_regions

    an = scenario.analysis
    regions = _unique(expand_regions(an.regions, names, "analysis.regions"), "analysis.regions")
    ref = an.reference if isinstance(an.reference, str) else list(an.reference)
    try:
        cols = match_regions(names, ref)
    except KeyError:
        wanted = ref if isinstance(ref, list) else [ref]
        bad = next(r for r in wanted if r not in names)
        raise ScenarioError(f"analysis.reference: no region named or starting with {bad!r}"
                            f"{did_you_mean(bad, _with_structures(names))}; known regions: {', '.join(names)}") from None
    structures = sorted({c[:-2] if c.endswith(("_l", "_r")) else c for c in cols})
    if isinstance(ref, str) and len(structures) > 1:
        raise ScenarioError(f"analysis.reference = {ref!r} selects regions of {len(structures)} structures "
                            f"({', '.join(structures)}); name one region or one structure")
    _check_field_of_view(scenario, cols + regions + released)
    bound = {c: tracer.bp_nd(c) for c in cols if tracer.bp_nd(c) > 0}
    if bound and not an.reference_has_binding:
        raise ScenarioError(
            f"analysis.reference = {ref!r} has specific binding in the {scenario.tracer.name} table (BP_ND "
            f"{', '.join(f'{c} {v:g}' for c, v in bound.items())}), which biases every BP_ND estimated against it; "
            f"choose a region without binding (the table's reference is {tracer.reference_region!r}) or set "
            "analysis.reference_has_binding = true if that is meant")


def _check_model_frames(scenario: Scenario, fs) -> None:
    """Enough frames after t* in every window for the t* models, and over the scan for the whole-scan models."""
    from petsim.modeling import MAPS, MODELS
    from petsim.modeling._frames import fit_frames

    an = scenario.analysis
    t_star_models = [m for m in MODELS.values() if m.needs_t_star and m.name in an.models]  # fit only frames after t*
    uses = [(m.name, m.min_frames, (w.start_min, w.end_min), f" in analysis.windows[{i}] ({w.name})")
            for m in t_star_models for i, w in enumerate(an.windows)]
    uses += [(m.name, m.min_frames, None, " over the scan (analysis.maps)") for m in MAPS.values()
             if m.needs_t_star and m.name in an.maps]
    for model, n, window, where in uses:
        try:
            fit_frames(fs.starts_min, fs.ends_min, an.t_star_min, window, min_frames=n, model=model)
        except ValueError as err:
            raise ScenarioError(f"analysis.t_star_min = {an.t_star_min} min leaves too few frames{where}: {err}") from None
    for m in MODELS.values():
        if not m.windowed and m.name in an.models and fs.n_frames < m.min_frames:
            raise ScenarioError(f"analysis.models: {m.name} fits {m.n_params} parameters and needs at least "
                                f"{m.min_frames} frames; the scan has {fs.n_frames}")


@dataclass
class World:
    """The resolved objects of a scenario, built lazily (phantoms are the slow part).

    ``phantom_loader(scenario, grid)`` builds the phantoms (default :func:`load_phantom`); a
    study passes a cached one so that replicates share them.
    """

    scenario: Scenario
    phantom_loader: Callable = load_phantom

    @cached_property
    def recon_grid(self) -> Grid:
        return recon_grid(self.scenario)

    @cached_property
    def sim_grid(self) -> Grid:
        return simulation_grid(self.scenario)

    @cached_property
    def phantom_sim(self):
        return self.phantom_loader(self.scenario, self.sim_grid)

    @cached_property
    def phantom_recon(self):
        return self.phantom_loader(self.scenario, self.recon_grid)

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
        from petsim.core.isotopes import get_isotope

        return get_isotope(self.scenario.tracer.isotope)


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
