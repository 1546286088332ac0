"""What a run will cost, known before any long work: peak memory, disk and time.

The estimate follows the way the stages hold their data (the region basis, the
frame loop, the stored scan, the frame-by-frame reconstruction), with the few
constants below calibrated on the demo scenario and checked on the full HR+
design by ``benchmarks/resources.py`` (estimate within a factor 1.5 of the
measured peak memory and disk). A run whose estimate exceeds the free memory
or disk is refused before it starts, naming the keys that shrink it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Resident memory of the interpreter with numpy, scipy, numba and the compiled kernels (bytes).
BASE_BYTES = 330e6
#: Bytes per sinogram bin held during a frame of the simulation besides the basis projections:
#: the acquisition model (attenuation, normalisation, efficiency, pattern, crystal pairs) and the
#: frame's trues, scatter, randoms, expected data, Poisson draws and delayed-window estimate.
SIM_BYTES_PER_BIN = 68.0
#: Bytes per simulation-grid voxel held while basis images are rasterised and blurred.
SIM_BYTES_PER_VOXEL = 40.0
#: Bytes per bin of the 3D sinogram held while one stored frame is read, rebinned and reconstructed.
RECON_BYTES_PER_BIN = 40.0
#: Disk per stored bin and frame of the prompts: counts in one byte (2 where a bin holds more than 255
#: counts in a frame, which the shipped scenarios never reach).
PROMPT_BYTES_PER_BIN = 1.0
#: Disk per bin of the session's factor files (normalisation and attenuation, float32).
FACTOR_BYTES_PER_BIN = 8.0
#: Throughputs on the 2-core reference machine (README), for the time estimate.
BASIS_BINS_PER_S = 2.0e6
FRAME_BINS_PER_S = 8.0e6
RECON_VOXEL_ITERATIONS_PER_S = 2.9e6


@dataclass(frozen=True)
class ResourceEstimate:
    """Peak memory and disk (bytes) and wall time (s) a run is expected to need."""

    memory_bytes: float
    disk_bytes: float
    seconds: float
    memory_parts: dict

    def describe(self) -> str:
        return (f"about {self.memory_bytes / 1e9:.1f} GB of memory, {self.disk_bytes / 1e9:.1f} GB of disk and "
                f"{_duration(self.seconds)} on 2 cores")


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _n_basis(scenario, region_names) -> int:
    """Basis images the simulation projects: regions with the same kinetics (and release) share one."""
    if scenario.kind == "static":
        return max(1, len(scenario.static.activity_bq_ml))
    from petsim.pipeline.simulate import scenario_tracer
    from petsim.pipeline.world import make_releases

    tracer = scenario_tracer(scenario)
    released = set()
    for release in make_releases(scenario, region_names):
        released.update(release.regions)
    return len({(tracer.params(r), r in released) for r in region_names})


#: An adult head's bounding box with the 10 mm margins of the T1w grid (mm): what the anatomy covers.
HEAD_BOX_MM = (175.0, 210.0, 175.0)
#: Compressed bytes per voxel of the T1w (int16 with noise: about 1.25) and the aseg (about 0.06).
ANATOMY_BYTES_PER_VOXEL = 1.35


def _anatomy_bytes(scenario, world) -> float:
    """Disk of the synthetic T1w and aseg (:func:`petsim.pipeline.run._write_anatomy`), 0 when not written."""
    from petsim.phantom.mri import has_brain
    from petsim.pipeline.world import phantom_region_names

    if not (scenario.phantom.t1w and has_brain(phantom_region_names(scenario))):
        return 0.0
    extent = np.minimum(HEAD_BOX_MM, world.recon_grid.extent_mm)
    return ANATOMY_BYTES_PER_VOXEL * float(np.prod(np.ceil(extent / scenario.phantom.t1w_voxel_mm)))


def estimate(scenario) -> ResourceEstimate:
    """Expected peak memory, disk and time of ``petsim run`` on a resolved, validated scenario."""
    from petsim.pipeline.world import World, layout_2d_for, phantom_region_names

    world = World(scenario)
    layout = world.layout
    bins = float(np.prod(layout.shape))
    sim_voxels = float(np.prod(world.sim_grid.shape))
    recon_voxels = float(np.prod(world.recon_grid.shape))
    frames = 1 if scenario.kind == "static" else world.frames.n_frames
    scans = 2 if scenario.has_control_scan else 1
    k = _n_basis(scenario, phantom_region_names(scenario))
    parts = {
        "basis projections": 4.0 * k * bins,
        "sinogram of a frame and the scanner model": SIM_BYTES_PER_BIN * bins,
        "simulation grid": SIM_BYTES_PER_VOXEL * sim_voxels,
    }
    simulate = BASE_BYTES + sum(parts.values())
    images = 4.0 * recon_voxels * (frames + 2 * scenario.recon.effective_subsets)
    reconstruct = BASE_BYTES + RECON_BYTES_PER_BIN * bins + images
    # per frame: the prompts, the scatter on its coarse grid (float32) and the images; once: the factors
    disk = (scans * frames * (PROMPT_BYTES_PER_BIN * bins + 4.0 * _coarse_scatter_bins(scenario, layout)
                              + 2.0 * recon_voxels)
            + FACTOR_BYTES_PER_BIN * bins + 20.0 * recon_voxels + _anatomy_bytes(scenario, world))
    rec = scenario.recon
    rebinned = float(np.prod(layout_2d_for(scenario, world.scanner).shape)) if rec.rebin != "none" else bins
    seconds = (k * bins / BASIS_BINS_PER_S + scans * frames * bins / FRAME_BINS_PER_S
               + scans * frames * rec.iterations * (recon_voxels + rebinned) / RECON_VOXEL_ITERATIONS_PER_S)
    if reconstruct > simulate:
        parts = {"frames of the reconstruction": images, "sinogram of a frame": RECON_BYTES_PER_BIN * bins}
    return ResourceEstimate(max(simulate, reconstruct), disk, seconds, parts)


def _coarse_scatter_bins(scenario, layout) -> float:
    """Values a frame's stored scatter term holds (its coarse grid; 0 without scatter)."""
    from petsim.acquisition.scatter import SinogramLowPass
    from petsim.pipeline.simulate import physics_of

    phys = physics_of(scenario)
    if not phys.scatter:
        return 0.0
    lowpass = SinogramLowPass(layout, phys.scatter_fwhm_mm[0], phys.scatter_fwhm_mm[1], phys.scatter_view_fwhm_deg)
    return float(np.prod(lowpass.coarse_shape))


def available_memory_bytes() -> float:
    """Memory the system can give a new process now (MemAvailable on Linux), inf where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    return float("inf")


def free_disk_bytes(path) -> float:
    """Free bytes on the file system that will hold ``path`` (its nearest existing parent)."""
    p = Path(path).resolve()
    while not p.exists():
        p = p.parent
    return float(shutil.disk_usage(p).free)


#: The keys that shrink each part, for the refusal message.
_SHRINK = {
    "basis projections": "scanner.view_mashing, scanner.n_radial, scanner.span/max_ring_diff (the sinogram size)",
    "sinogram of a frame and the scanner model": "scanner.view_mashing, scanner.n_radial (the sinogram size)",
    "simulation grid": "recon.shape or physics.sim_oversampling (the simulation grid)",
    "frames of the reconstruction": "recon.shape or the number of frames",
    "sinogram of a frame": "scanner.view_mashing, scanner.n_radial (the sinogram size)",
}


def check_resources(scenario, out_dir, force: bool = False, available=None, free_disk=None) -> ResourceEstimate:
    """Refuse a run that will not fit in the free memory or disk (unless ``force``).

    ``available`` and ``free_disk`` (bytes) default to what the system reports now.
    """
    from petsim.pipeline.scenario import ScenarioError

    est = estimate(scenario)
    if force:
        return est
    memory = available_memory_bytes() if available is None else available
    disk = free_disk_bytes(out_dir) if free_disk is None else free_disk
    if est.memory_bytes > memory:
        biggest = max(est.memory_parts, key=est.memory_parts.get)
        raise ScenarioError(
            f"this run needs {est.describe()}, but only {memory / 1e9:.1f} GB of memory is free; the largest part "
            f"is the {biggest} ({est.memory_parts[biggest] / 1e9:.1f} GB): reduce {_SHRINK[biggest]}, or add "
            "--force to try anyway")
    if est.disk_bytes > disk:
        raise ScenarioError(
            f"this run writes {est.disk_bytes / 1e9:.1f} GB, but only {disk / 1e9:.1f} GB is free under "
            f"{os.fspath(out_dir)}: use fewer frames (frames.durations_min), a smaller sinogram (scanner.view_mashing, "
            "scanner.n_radial), analysis.control = false, another -o folder, or add --force to try anyway")
    return est
