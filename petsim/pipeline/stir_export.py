"""``petsim export-stir``: a simulated scan as STIR reconstructs it, frame by frame.

STIR's Poisson model of the data (``PoissonLogLikelihoodWithLinearModelForMeanAndProjData``) is
``E[y] = D (F x + a)``: ``F`` its forward projector, ``D`` the bin normalisation undone
(``BinNormalisationFromProjData`` holds ``1 / D`` and multiplies the data by it), ``a`` the additive
term in the normalised domain. petsim's model of a frame is ``E[y] = s m (P x) + r`` (scale s,
multiplicative term m, additive term r; :mod:`petsim.emission`). So, per frame, this writes

- ``{scan}_frame-NN_multfactors.hs``: ``1 / (s m)`` (0 where ``m`` is 0: a bin no LOR reaches);
- ``{scan}_frame-NN_additive.hs``: ``r / (s m)``;
- ``{scan}_frame-NN_OSEM.par``: an OSMAPOSL parameter file with the scenario's iterations and
  subsets, reading the stored prompts of ``sinograms/`` and the two files above.

With ``D`` holding the scale, STIR's image is the frame-mean activity (Bq/mL, not decay-corrected)
up to the normalisation of STIR's projector. The terms are rebuilt from the stored scan
(:class:`~petsim.pipeline.sinostore.StoredScan`), bit for bit those the simulation used; they are
written on request because each frame needs two float32 sinograms (22 MB on the HR+ in 3D).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from petsim.core.atomic import write_text_atomic


def export_stir(run_dir, scan: str = "release", frames=None, out_dir=None, quiet: bool = False) -> list[Path]:
    """Write STIR's normalisation and additive sinograms and an OSEM parameter file per frame.

    Parameters
    ----------
    run_dir : path
        A petsim run folder whose simulate stage is complete.
    scan : str
        ``"release"`` or ``"control"``.
    frames : sequence of int, optional
        Frame numbers (default: every frame).
    out_dir : path, optional
        Where to write (default ``derivatives/petsim/sub-XX/stir``).

    Returns
    -------
    list of Path
        The parameter files, one per frame.
    """
    from petsim.pipeline.layout import run_lock
    from petsim.pipeline.run import _log, open_run
    from petsim.pipeline.sinostore import StoredScan
    from petsim.pipeline.world import World

    lay, scenario = open_run(run_dir)
    if not lay.stage_done("simulate", scenario.to_json()):
        raise FileNotFoundError(f"{lay.root}: the simulate stage is missing or incomplete; run `petsim simulate` first")
    if scan not in lay.scans():
        raise ValueError(f"scan {scan!r} was not simulated in {lay.root}; simulated: {', '.join(lay.scans())}")
    world = World(scenario)
    stored = StoredScan(lay.sino_dir, scan, world.scanner, world.layout)
    chosen = list(range(len(stored))) if frames is None else [int(f) for f in frames]
    bad = [f for f in chosen if not 0 <= f < len(stored)]
    if bad:
        raise ValueError(f"frames {bad} are not in the {scan} scan; allowed 0 to {len(stored) - 1}")
    out = Path(out_dir) if out_dir is not None else lay.deriv_dir / "stir"
    out.mkdir(parents=True, exist_ok=True)
    need = 2 * 4 * int(np.prod(world.layout.shape)) * len(chosen)
    _log(f"writing STIR's multiplicative and additive sinograms of {len(chosen)} frame(s) of the {scan} scan: "
         f"{need / 1e6:.0f} MB in {out}", quiet)
    from petsim.pipeline.sinostore import write_sinogram

    pars = []
    with run_lock(lay.root, "petsim export-stir"):
        for f in chosen:
            frame = stored[f]
            den = np.float32(frame.scale) * frame.multiplicative
            seen = den > 0
            mult = np.zeros_like(den)
            np.divide(np.float32(1.0), den, out=mult, where=seen)
            additive = np.zeros_like(den)
            np.divide(frame.additive, den, out=additive, where=seen)
            times = {"frame_start_s": 60.0 * frame.frame_start_min, "frame_duration_s": 60.0 * frame.frame_duration_min}
            stem = f"{scan}_frame-{f:02d}"
            for name, values in (("multfactors", mult), ("additive", additive)):
                write_sinogram(out / f"{stem}_{name}.hs", values, world.scanner, world.layout,
                               isotope=scenario.tracer.isotope, **times)
            prompts = lay.sino_dir / f"{stem}_prompts.hs"
            par = out / f"{stem}_OSEM.par"
            write_text_atomic(par, osem_parameters(
                input_file=os.path.relpath(prompts, out), multfactors=f"{stem}_multfactors.hs",
                additive=f"{stem}_additive.hs", output_prefix=f"{stem}_OSEM", subsets=scenario.recon.effective_subsets,
                iterations=scenario.recon.iterations, xy_size=scenario.recon.shape[0],
                zoom=world.layout.radial_bin_mm / scenario.recon.voxel_size_mm[0]))
            pars.append(par)
    _log(f"STIR: cd {out} && OSMAPOSL {pars[0].name}", quiet)
    return pars


def osem_parameters(input_file: str, multfactors: str, additive: str, output_prefix: str, subsets: int,
                    iterations: int, xy_size: int, zoom: float) -> str:
    """An OSMAPOSL parameter file (STIR) for OSEM of one frame: ray-tracing projector, normalisation and
    attenuation from ``multfactors``, randoms and scatter from ``additive`` (paths relative to the file)."""
    return f"""; OSEM of one petsim frame with STIR (written by petsim export-stir); run: OSMAPOSL <this file>
OSMAPOSLParameters :=
objective function type := PoissonLogLikelihoodWithLinearModelForMeanAndProjData
PoissonLogLikelihoodWithLinearModelForMeanAndProjData Parameters :=
input file := {input_file}
zero end planes of segment 0 := 0
projector pair type := Matrix
  Projector Pair Using Matrix Parameters :=
  Matrix type := Ray Tracing
  Ray tracing matrix parameters :=
  number of rays in tangential direction to trace for each bin := 5
  End Ray tracing matrix parameters :=
  End Projector Pair Using Matrix Parameters :=
Bin Normalisation type := From ProjData
  Bin Normalisation From ProjData :=
  normalisation projdata filename := {multfactors}
  End Bin Normalisation From ProjData :=
additive sinogram := {additive}
zoom := {zoom:g}
xy output image size (in pixels) := {xy_size}
use subset sensitivities := 1
recompute sensitivity := 1
end PoissonLogLikelihoodWithLinearModelForMeanAndProjData Parameters :=
initial estimate :=
enforce initial positivity condition := 1
number of subsets := {subsets}
number of subiterations := {subsets * iterations}
save estimates at subiteration intervals := {subsets * iterations}
output filename prefix := {output_prefix}
END :=
"""
