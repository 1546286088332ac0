"""Reconstruct one frame or a whole dynamic scan, optionally after rebinning to 2D."""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from petsim.emission import EmissionData
from petsim.recon.osem import OSEMSetup, osem

__all__ = ["reconstruct_frame", "reconstruct_frames", "REBIN_METHODS"]

REBIN_METHODS = (None, "ssrb", "fore")


def _rebinned(data: EmissionData, rebin, layout_3d, setup: OSEMSetup) -> EmissionData:
    if rebin not in REBIN_METHODS:
        raise ValueError(f"rebin must be one of {REBIN_METHODS}, got {rebin!r}")
    if rebin is None:
        return data
    if layout_3d is None:
        raise ValueError(f"rebin={rebin!r} needs layout_3d (the layout of the 3D data); setup holds the 2D layout")
    from petsim.rebin import fore, ssrb

    return (fore if rebin == "fore" else ssrb)(data, layout_3d, setup.layout)


def reconstruct_frame(data: EmissionData, setup: OSEMSetup, n_iter: int, rebin=None, layout_3d=None, **kwargs):
    """OSEM of one frame, after SSRB/FORE rebinning if ``rebin`` is given.

    Parameters
    ----------
    data : EmissionData
        The frame (on ``layout_3d`` when rebinning, else on ``setup.layout``).
    setup : OSEMSetup
        For the 2D layout when rebinning (2D OSEM plane by plane), else for the data's layout.
    n_iter : int
        OSEM iterations.
    rebin : {None, "ssrb", "fore"}
    layout_3d : layout, optional
        Layout of ``data`` when rebinning.
    **kwargs
        Passed to :func:`petsim.recon.osem` (``post_filter_fwhm_mm``, ``progress`` ...).

    Returns
    -------
    ndarray (x, y, z), Bq/mL decay-corrected to injection time.
    """
    return osem(_rebinned(data, rebin, layout_3d, setup), setup, n_iter, **kwargs)


def reconstruct_frames(frames, setup: OSEMSetup, n_iter: int, rebin=None, layout_3d=None,
                       post_filter_fwhm_mm=None, progress: bool = True) -> np.ndarray:
    """Reconstruct a dynamic scan frame by frame with the same setup (sensitivities reused).

    Parameters
    ----------
    frames : sequence of EmissionData
        Any sequence with ``len`` and indexing; frames are read one at a time
        (a lazily loading sequence keeps the memory of one frame).
    setup, n_iter, rebin, layout_3d, post_filter_fwhm_mm :
        As :func:`reconstruct_frame`.
    progress : bool
        One tqdm bar over all frames x iterations.

    Returns
    -------
    ndarray (x, y, z, n_frames), float32
        Bq/mL decay-corrected to injection time (each frame's
        ``decay_correction_factor`` applied). Bit-identical for the same input
        and thread count (all reductions have a fixed order).
    """
    if isinstance(frames, EmissionData) or not hasattr(frames, "__len__"):
        frames = list(frames) if not isinstance(frames, EmissionData) else [frames]
    if len(frames) == 0:
        raise ValueError("frames is empty; give at least one EmissionData")
    out = np.zeros(setup.grid.shape + (len(frames),), np.float32)
    with tqdm(total=len(frames) * n_iter, desc="recon", unit="it", disable=None if progress else True) as bar:
        for i in range(len(frames)):
            f = frames[i]
            if not isinstance(f, EmissionData):
                raise TypeError(f"frame {i} is a {type(f).__name__}, expected EmissionData")
            bar.set_description(f"recon frame {i + 1}/{len(frames)}")
            out[..., i] = osem(_rebinned(f, rebin, layout_3d, setup), setup, n_iter,
                               post_filter_fwhm_mm=post_filter_fwhm_mm, progress=False, _bar=bar)
    return out
