"""Stage 2: reconstruct each simulated scan the way the scenario's site would."""

from __future__ import annotations

import numpy as np

from petsim.pipeline.world import World, layout_2d_for


def rebin_frames(world: World, frames):
    """FORE or SSRB of 3D frames onto the 2D direct + cross planes, or the frames unchanged."""
    sc = world.scenario
    method = sc["recon"]["rebin"]
    if sc["scanner"]["mode"] == "2d" or method == "none":
        return frames, world.layout
    from petsim.rebin import fore, ssrb

    layout2d = layout_2d_for(sc, world.scanner)
    fn = fore if method == "fore" else ssrb
    return [fn(f, world.layout, layout2d) for f in frames], layout2d


def reconstruct_scan(world: World, frames, progress: bool = True) -> np.ndarray:
    """4D image (x, y, z, frame) in Bq/mL decay-corrected to injection."""
    from petsim.recon import OSEMSetup, fbp_2d, map_rdp, reconstruct_frames

    sc = world.scenario
    rec = sc["recon"]
    frames, layout = rebin_frames(world, frames)
    grid = world.recon_grid
    psf = tuple(rec["psf_fwhm_mm"]) if rec["psf_fwhm_mm"] else None
    post = rec["post_filter_fwhm_mm"] or None
    algo = rec["algorithm"]
    if algo == "fbp":
        if layout.shape[0] != grid.shape[2] or np.any(layout.sinogram_dz_mm != 0):
            raise ValueError("recon.algorithm = 'fbp' needs 2D data: set recon.rebin to 'fore' or 'ssrb' (or scanner.mode = '2d')")
        return np.stack([fbp_2d(f, layout, grid, post_filter_fwhm_mm=post) for f in frames], axis=-1)
    n_subsets = 1 if algo == "mlem" else int(rec["subsets"])
    setup = OSEMSetup(grid, layout, n_subsets, psf_fwhm_mm=psf, multiplicative=frames[0].multiplicative)
    if algo == "map":
        return np.stack([map_rdp(f, setup, rec["iterations"], beta=rec["beta"]) for f in frames], axis=-1)
    return reconstruct_frames(frames, setup, rec["iterations"], post_filter_fwhm_mm=post, progress=progress)
