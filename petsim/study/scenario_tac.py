"""Read the parts of a scenario that the TAC-level mode needs.

The TAC mode simulates regional TACs only (no phantom, scanner or recon), so
it reads four scenario sections, each with a default:

- ``tracer``: ``"carfentanil"`` or ``{name = "carfentanil"}``;
- ``protocol``: ``{input = "bolus_plus_infusion" (default) | "bolus", dose_mbq = 555,
  k_bol_min = 90, infusion_min = 90}``;
- ``frames``: ``{preset = "hsu2013"}`` (default), ``{starts_min = [...], ends_min = [...]}``
  or ``{durations_min = [...]}``;
- ``releases``: a list of tables ``{profile = "gamma" | "step", regions = [...],
  onset_min, peak_min, alpha, magnitude, end_min}``.
"""

from __future__ import annotations

from typing import Mapping

DEFAULT_TRACER = "carfentanil"
DEFAULT_SCHEDULE = "hsu2013"


def _first(mapping: Mapping, *keys, default=None):
    for key in keys:
        if key in mapping:
            return mapping[key]
    return default


def release_specs(scenario: Mapping) -> list:
    """The scenario's releases as a list of plain dicts (shape, regions, timing, magnitude)."""
    raw = scenario.get("releases", scenario.get("release", []))
    if isinstance(raw, Mapping):
        raw = raw.get("items", raw.get("list", [raw] if "regions" in raw else []))
    specs = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise TypeError(f"scenario release {i} must be a table, got {type(item).__name__}")
        shape = str(_first(item, "profile", "shape", "kind", "type", default="step")).lower()
        if shape not in ("gamma", "step"):
            raise ValueError(f"scenario release {i}: shape {shape!r} is not supported by the TAC mode "
                             "(allowed: 'gamma', 'step')")
        regions = item.get("regions", item.get("region"))
        if isinstance(regions, str):
            regions = [regions]
        if not regions:
            raise ValueError(f"scenario release {i} names no regions")
        spec = {"shape": shape, "regions": list(regions),
                "onset_min": float(_first(item, "onset_min", "delay_min", default=45.0)),
                "magnitude": float(_first(item, "magnitude", "peak_occupancy", default=0.0))}
        if shape == "gamma":
            spec["peak_min"] = float(_first(item, "peak_min", default=spec["onset_min"] + 5.0))
            spec["alpha"] = float(item.get("alpha", 1.0))
        else:
            end = item.get("end_min")
            spec["end_min"] = None if end is None else float(end)
        specs.append(spec)
    return specs


def tracer_name(scenario: Mapping) -> str:
    tracer = scenario.get("tracer", DEFAULT_TRACER)
    if isinstance(tracer, Mapping):
        tracer = tracer.get("name", DEFAULT_TRACER)
    return str(tracer)


def isotope_name(scenario: Mapping) -> str:
    tracer = scenario.get("tracer", {})
    iso = tracer.get("isotope") if isinstance(tracer, Mapping) else None
    return str(iso or scenario.get("isotope", "C-11"))


def make_input(scenario: Mapping):
    """The plasma input (``petsim.kinetics.PlasmaInput``) the protocol describes."""
    from petsim.kinetics import PlasmaInput

    protocol = dict(scenario.get("protocol", {}))
    kind = str(_first(protocol, "input", "kind", "type", "injection", default="bolus_plus_infusion")).lower()
    dose = float(protocol.get("dose_mbq", 555.0))
    if kind == "bolus":
        return PlasmaInput.bolus(dose_mbq=dose)
    if kind in ("bolus_plus_infusion", "bolus+infusion", "bi"):
        return PlasmaInput.bolus_plus_infusion(dose_mbq=dose, k_bol_min=float(protocol.get("k_bol_min", 90.0)),
                                               infusion_min=float(protocol.get("infusion_min", 90.0)))
    raise ValueError(f"scenario protocol input {kind!r}: allowed 'bolus' or 'bolus_plus_infusion'")


def make_frames(scenario: Mapping):
    """The frame schedule (``petsim.frames.FrameSchedule``)."""
    from petsim.frames import FrameSchedule, get_schedule

    frames = scenario.get("frames", DEFAULT_SCHEDULE)
    if isinstance(frames, str):
        return get_schedule(frames)
    frames = dict(frames)
    if frames.get("starts_min") is not None:
        return FrameSchedule(frames["starts_min"], frames["ends_min"])
    if frames.get("durations_min") is not None:
        return FrameSchedule.from_durations(frames["durations_min"], start_min=float(frames.get("start_min", 0.0)))
    return get_schedule(str(_first(frames, "schedule", "preset", "name", default=DEFAULT_SCHEDULE)))


def make_releases(specs: list, magnitude_scale: float = 1.0, magnitude: float | None = None) -> list:
    """Kinetics release objects; magnitudes multiplied by ``magnitude_scale``.

    ``magnitude`` (if given) replaces every release's nominal magnitude before
    scaling (the power curve sets the effect size this way).
    """
    from petsim.kinetics import GammaRelease, StepRelease

    out = []
    for spec in specs:
        mag = (spec["magnitude"] if magnitude is None else magnitude) * magnitude_scale
        # A log-normal spread can push a large magnitude past full occupancy.
        mag = min(mag, 0.99)
        if spec["shape"] == "gamma":
            out.append(GammaRelease(regions=spec["regions"], onset_min=spec["onset_min"],
                                    peak_min=spec["peak_min"], alpha=spec["alpha"], magnitude=mag))
        else:
            out.append(StepRelease(regions=spec["regions"], onset_min=spec["onset_min"], magnitude=mag,
                                   end_min=spec["end_min"]))
    return out
