"""Stage 2: reconstruct each simulated scan the way the scenario's site would."""

from __future__ import annotations

import numpy as np

from petsim.pipeline.world import World, layout_2d_for


def rebin_method(world: World):
    """``"fore"``, ``"ssrb"`` or None (2D data, or fully 3D reconstruction)."""
    sc = world.scenario
    if sc.scanner.mode == "2d" or sc.recon.rebin == "none":
        return None
    return sc.recon.rebin


def reconstruct_scan(world: World, frames, progress: bool = True) -> np.ndarray:
    """4D image (x, y, z, frame) in Bq/mL decay-corrected to injection.

    ``frames`` is any sequence of EmissionData (read one at a time: a stored scan is
    never held in memory whole); rebinning happens frame by frame.
    """
    from petsim.rebin import fore, ssrb
    from petsim.recon import OSEMSetup, fbp_2d, map_rdp, reconstruct_frames

    sc = world.scenario
    rec = sc.recon
    method = rebin_method(world)
    layout = layout_2d_for(sc, world.scanner) if method else world.layout
    rebinned = (lambda f: (fore if method == "fore" else ssrb)(f, world.layout, layout)) if method else (lambda f: f)
    grid = world.recon_grid
    psf = tuple(rec.psf_fwhm_mm) if rec.psf_fwhm_mm else None
    post = rec.post_filter_fwhm_mm or None
    algo = rec.algorithm
    if algo == "fbp":
        if layout.shape[0] != grid.shape[2] or np.any(layout.sinogram_dz_mm != 0):
            raise ValueError("recon.algorithm = 'fbp' needs 2D data: set recon.rebin to 'fore' or 'ssrb' (or scanner.mode = '2d')")
        return np.stack([fbp_2d(rebinned(f), layout, grid, post_filter_fwhm_mm=post) for f in frames], axis=-1)
    n_subsets = int(rec.effective_subsets)
    setup = OSEMSetup(grid, layout, n_subsets, psf_fwhm_mm=psf, multiplicative=rebinned(frames[0]).multiplicative)
    if algo == "map":
        return np.stack([map_rdp(rebinned(f), setup, rec.iterations, beta=rec.beta) for f in frames], axis=-1)
    return reconstruct_frames(frames, setup, rec.iterations, rebin=method, layout_3d=world.layout,
                              post_filter_fwhm_mm=post, progress=progress)
