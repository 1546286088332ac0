"""Stage 1: the truth and the scan (sinograms) of a scenario."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from petsim.pipeline.world import World, expand_regions, make_releases, plasma_input

SCANS = ("release", "control")


@dataclass
class Truth:
    """What the simulation knows: regional rows per window, noise-free TACs, and the kinetics result."""

    rows: list           # dicts: region, window, start_min, end_min, bp_nd_baseline, bp_nd_release, delta_bp_nd, percent_delta_bp_nd
    noisefree: dict      # scan -> {region: frame TAC (Bq/mL, decay-corrected)}
    kinetics: object     # petsim.kinetics result (None for static scenarios)
    definition: str


def active_regions(phantom) -> list[str]:
    """Regions that take up tracer (everything but air), in phantom order."""
    return [r.name for r in phantom.regions]


def subject_tracer(tracer, names, subject: dict | None):
    """The tracer table of one subject: ``subject = {"k1_scale": f, "bp_nd_scale": {region: g}}``.

    The one interpretation of a subject's kinetics, for image mode, in-memory runs and TAC-mode
    studies alike. K1 and k2 are scaled together (blood flow changes, V_ND = K1/k2 does not);
    k3, hence BP_ND = k3/k4, is scaled per region (a region may be a structure name standing for
    both sides). ``names`` are the regions simulated.
    """
    if not subject:
        return tracer
    unknown = set(subject) - {"k1_scale", "bp_nd_scale"}
    if unknown:
        raise ValueError(f"subject overrides {sorted(unknown)} are not known; allowed: k1_scale, bp_nd_scale")
    k1 = float(subject.get("k1_scale", 1.0))
    bp_scale = dict(subject.get("bp_nd_scale", {}) or {})
    for region in bp_scale:
        expand_regions([region], names, "subject.bp_nd_scale")
    for name in names:
        g = bp_scale.get(name, bp_scale.get(name.rsplit("_", 1)[0], 1.0)) if name.endswith(("_l", "_r")) else bp_scale.get(name, 1.0)
        if k1 == 1.0 and g == 1.0:
            continue
        p = tracer.params(name)
        # a subject's BP_ND differs by its receptor density: B'max = BP_ND x K_D,app scales with k3
        tracer = tracer.with_changes(regions=[name], K1=p.K1 * k1, k2=p.k2 * k1, k3=p.k3 * float(g),
                                     bmax_nm=p.bmax_nm * float(g))
    return tracer


def scenario_tracer(scenario, tracer=None):
    """The tracer table a scenario simulates (the one place its ``[tracer]`` keys act on the table).

    The table's molar activity replaced by ``tracer.specific_activity_gbq_per_umol`` when given, and
    ``tracer.reference_bp_nd`` of specific binding put into the table's reference region, both sides
    (k3 = BP_ND k4, B'max = BP_ND K_D,app), so that users can study a contaminated reference.
    ``tracer`` is the table when the caller holds it already.
    """
    from petsim.kinetics import load_tracer

    t = load_tracer(scenario.tracer.name) if tracer is None else tracer
    sa = scenario.tracer.specific_activity_gbq_per_umol
    if sa is not None:
        t = t.with_specific_activity(sa)
    bp_ref = scenario.tracer.reference_bp_nd
    if bp_ref > 0:
        ref = t.reference_region
        p = t.params(ref)
        t = t.with_changes(regions=[ref], k3=bp_ref * p.k4, bmax_nm=bp_ref * t.kd_app_nm)
    return t


def kinetics_model(scenario) -> str:
    """``competition_full`` (the tracer's own mass occupies receptors) or ``competition_fast``."""
    return "competition_full" if scenario.tracer.mass_effect else "competition_fast"


def regional_kinetics(scenario, names, frames, subject: dict | None = None, releases=None,
                      blood_volume: bool | None = None, tracer=None, inp=None):
    """Noise-free kinetics of regions ``names`` (with and without release): the one kinetics of a scenario.

    Image mode (:func:`simulate_kinetics`, over the phantom's regions) and TAC-mode studies (over the
    regions they fit) both call it, so that the same subject has the same TACs in both.

    Parameters
    ----------
    scenario : Scenario
    names : sequence of str
        Regions to simulate.
    frames : FrameSchedule
    subject : dict, optional
        ``{"k1_scale": f, "bp_nd_scale": {region: g}}``, see :func:`subject_tracer`.
    releases : sequence of Release, optional
        Default: the scenario's (:func:`~petsim.pipeline.world.make_releases` over ``names``).
    blood_volume : bool, optional
        False sets vB = 0; default: the scenario's ``tracer.blood_volume``.
    tracer, inp : optional
        The scenario's tracer table (:func:`scenario_tracer`) and plasma input when the caller holds
        them already (a cache).
    """
    from petsim.kinetics import simulate

    base = scenario_tracer(scenario) if tracer is None else tracer
    tracer = subject_tracer(base, names, subject)
    if not (scenario.tracer.blood_volume if blood_volume is None else blood_volume):
        tracer = tracer.with_changes(vB=0.0)
    if releases is None:
        releases = make_releases(scenario, names)
    inp = plasma_input(scenario) if inp is None else inp
    return simulate(names, tracer, inp, frames, releases=releases, isotope=scenario.tracer.isotope,
                    model=kinetics_model(scenario))


def simulate_kinetics(world: World, subject: dict | None = None, blood_volume: bool | None = None):
    """Kinetics of every region of the phantom with and without release (:func:`regional_kinetics`).

    ``blood_volume=False`` sets vB = 0 (default: the scenario's ``tracer.blood_volume``); its
    noise-free TACs isolate the bias that the blood volume causes.
    """
    names = active_regions(world.phantom_recon)
    return regional_kinetics(world.scenario, names, world.frames, subject, blood_volume=blood_volume)


def truth_of(world: World, res, with_blood_free: bool = True) -> Truth:
    sc = world.scenario
    rows = []
    for w in sc.analysis.windows:
        for row in res.truth_table(window_min=(w.start_min, w.end_min)):
            rows.append({"window": w.name, "start_min": w.start_min, "end_min": w.end_min, **row})
    noisefree = {
        "release": {r: res.frame_mean(r) for r in res.region_names},
        "control": {r: res.frame_mean(r, control=True) for r in res.region_names},
    }
    if sc.tracer.blood_volume and with_blood_free:
        novb = simulate_kinetics(world, blood_volume=False)
        noisefree["release-novb"] = {r: novb.frame_mean(r) for r in novb.region_names}
        noisefree["control-novb"] = {r: novb.frame_mean(r, control=True) for r in novb.region_names}
    return Truth(rows, noisefree, res, getattr(res, "truth_definition", ""))


def basis_groups(world: World, res):
    """Group regions whose activity agrees in both scans: one basis image (and projection) per group.

    Returns a list of (region names, frame integrals of the physical activity (2, n_frames) in Bq/mL x min),
    row 0 for the release scan and row 1 for the control.
    """
    from petsim.acquisition import group_identical_kinetics

    names = list(res.region_names)
    both = np.stack([np.concatenate([res.frame_integral_physical(r), res.frame_integral_physical(r, control=True)])
                     for r in names])
    _, integrals, group_names = group_identical_kinetics(both, names)
    n = world.frames.n_frames
    return [(g, np.stack([w[:n], w[n:]])) for g, w in zip(group_names, integrals)]


#: Stream of the scenario seed that the normalisation scan draws from (apart from the scans' noise).
NORM_SCAN_STREAM = 7


def acquisition_model(world: World, progress: bool = True):
    """The scanner's physics on the simulation grid (attenuation, normalisation drawn from the scenario seed,
    calibration), with the normalisation and attenuation the site's reconstruction gets
    (``physics.normalisation_correction``, ``physics.attenuation_correction``)."""
    from petsim.acquisition import AcquisitionModel

    p = world.scenario.physics
    misregistered = p.attenuation and p.attenuation_correction == "misregistered"
    # a moved mu-map may leave the box around the true one: project the whole grid then
    model = AcquisitionModel(world.scanner, world.layout, world.sim_grid, world.phantom_sim.mu_per_cm,
                             physics_of(world.scenario), world.isotope, progress=progress, crop=not misregistered)
    if p.normalisation_correction == "measured":
        model.use_site_normalisation(measured_normalisation(world, model))
    if misregistered:
        from petsim.core.rigid import rigid_transform

        model.use_site_attenuation(rigid_transform(world.phantom_sim.mu_per_cm, world.sim_grid,
                                                   p.mumap_shift_mm, p.mumap_rotation_deg))
    return model


def measured_normalisation(world: World, model) -> np.ndarray:
    """The bin efficiencies a site measures: crystal efficiencies by fan sums from a simulated normalisation
    scan of ``physics.normalisation_scan_counts`` counts (:mod:`petsim.acquisition.normscan`), float32."""
    from petsim.acquisition.normscan import estimate_crystal_efficiencies, estimated_bin_efficiency, simulate_norm_scan

    sc = world.scenario
    rng = np.random.default_rng(np.random.SeedSequence([sc.seed, NORM_SCAN_STREAM]))
    scan = simulate_norm_scan(world.scanner, world.layout, model.crystal_efficiency, sc.physics.normalisation_scan_counts, rng)
    return estimated_bin_efficiency(estimate_crystal_efficiencies(scan.measured, scan.model, model.pairs), model.pairs)


def simulate_scans(world: World, res, seed: int, sink, progress: bool = True, groups=None, model=None):
    """Simulate the release scan and its matched no-release control from one set of basis projections.

    Each frame is handed to ``sink(scan, frame)`` as soon as it is made (bounded memory).
    Both scans share the basis projections, the normalisation and the randoms' singles
    scale; their noise comes from independent streams of ``seed``. ``model`` is an
    :func:`acquisition_model` to reuse (noise replicates of one scanner).
    Returns the list of scans simulated.
    """
    from petsim.acquisition import iter_frames

    sc = world.scenario
    groups = basis_groups(world, res) if groups is None else groups
    ph = world.phantom_sim
    model = acquisition_model(world, progress) if model is None else model
    proj = model.project_basis(_LazyBasis(ph, [names for names, _ in groups]))
    streams = np.random.SeedSequence(seed).spawn(len(SCANS))
    has_control = groups[0][1].shape[0] > 1 and sc.analysis.control and sc.releases
    want = ["release"] + (["control"] if has_control else [])
    singles_scale = None
    body = out_of_field_activity(world) if model.physics.out_of_field_singles_fraction > 0 else None
    for i, scan in enumerate(SCANS):
        if scan not in want:
            continue
        integrals = np.stack([g[1][i] for g in groups])
        for fr in iter_frames(model, proj, integrals, world.frames, rng=np.random.default_rng(streams[i]),
                              noise=sc.physics.noise, progress=progress, singles_scale=singles_scale,
                              out_of_field=body):
            if singles_scale is None:
                singles_scale = fr.info.get("singles_scale")
            sink(scan, fr)
    return want


def out_of_field_activity(world: World) -> np.ndarray:
    """Frame-mean activity outside the axial field of view, relative (decay included), one per frame.

    Body model: the tracer stays in the body (no excretion within the scan), and the part below the
    neck that the detectors see is a fixed share of it, so the out-of-field activity follows the
    activity injected so far (the bolus, then the infusion at a constant rate), times decay. Unlike
    the brain's, it keeps rising during the infusion.
    """
    from petsim.kinetics.simulate import _time_grid

    fs = world.frames
    inp = plasma_input(world.scenario)
    t = _time_grid(fs.scan_end_min, 0.05, inp.kinks_min)
    return fs.average(t, inp.injected_fraction(t), world.isotope)


class _LazyBasis:
    """The basis images (summed partial-volume fractions of each group), made one at a time."""

    def __init__(self, phantom, groups):
        self.phantom, self.groups = phantom, groups

    def __len__(self):
        return len(self.groups)

    def __getitem__(self, i):
        return sum(self.phantom.fraction(r) for r in self.groups[i]).astype(np.float32)


def physics_of(sc):
    """:class:`ScanPhysics` of a scenario: the scanner preset's published figures for the acquisition mode
    (sensitivity, scatter fraction, dead time, resolution; see
    :data:`petsim.acquisition.constants.PUBLISHED_FIGURES`), each replaced by the scenario's value where it
    sets one. A preset without published figures for the mode needs all four in the scenario.

    Raises
    ------
    ScenarioError
        naming the physics keys to set when the preset has no figures for the mode.
    """
    from petsim.acquisition import ScanPhysics
    from petsim.acquisition.constants import published_figures, resolution_fwhm_mm
    from petsim.pipeline.scenario import ScenarioError
    from petsim.scanner import preset_key

    p = sc.physics
    given = {"sensitivity_cps_per_bq_ml": p.sensitivity_cps_per_bq_ml, "scatter_fraction": p.scatter_fraction,
             "dead_time_50pct_rate_cps": p.dead_time_50pct_rate_cps}
    fig = published_figures(preset_key(sc.scanner.name), sc.scanner.mode)
    if fig is None:
        missing = [f"physics.{k}" for k, v in given.items() if v is None] + (
            ["physics.psf_fwhm_mm"] if p.psf_fwhm_mm is None else [])
        if missing:
            raise ScenarioError(
                f"scanner.name = {sc.scanner.name!r}: petsim holds no published count-rate figures for this scanner "
                f"in {sc.scanner.mode.upper()} mode; set {', '.join(missing)} from its NEMA performance paper "
                "(petsim will not borrow another scanner's)")
        fig = {}
    mode_figures = {k: (fig[k] if v is None else v) for k, v in given.items()}
    psf = p.psf_fwhm_mm
    if psf is None:  # the scanner's published resolution, with the positron range of the isotope
        psf = resolution_fwhm_mm(fig["fwhm_mm"], isotope=sc.tracer.isotope)
    else:
        psf = tuple(psf) if psf else None
    return ScanPhysics(
        attenuation=p.attenuation, scatter=p.scatter, randoms=p.randoms, randoms_correction=p.randoms_correction,
        normalisation=p.normalisation,
        crystal_efficiency_sd=p.crystal_efficiency_sd, psf_fwhm_mm=psf, dead_time=p.dead_time,
        noise=p.noise, seed=sc.seed, **mode_figures,
        # a subject's body lies outside the field of view; a static scenario is a phantom on the bed
        out_of_field_singles_fraction=p.out_of_field_singles_fraction if sc.kind == "dynamic" else 0.0,
    )


def late_weights(starts_min, ends_min) -> np.ndarray:
    """Duration weights (summing to 1) of the frames in the last third of the scan, where binding contrast shows."""
    starts, ends = np.asarray(starts_min, float), np.asarray(ends_min, float)
    late = starts >= starts[0] + (2.0 / 3.0) * (ends[-1] - starts[0]) - 1e-9
    late[-1] = True
    weights = np.where(late, ends - starts, 0.0)
    return weights / weights.sum()


def truth_image(phantom, levels: dict) -> np.ndarray:
    """The noise-free activity image (float32) of regional ``levels`` (region -> Bq/mL) through the
    phantom's partial-volume fractions on its grid."""
    img = np.zeros(phantom.grid.shape, np.float32)
    for r in phantom.regions:
        if levels.get(r.name):
            img += phantom.fraction(r.name) * np.float32(levels[r.name])
    return img
