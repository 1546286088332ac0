"""The data one frame of a scan hands to reconstruction, in the ordinary-Poisson form.

This is the contract between :mod:`petsim.acquisition` (which makes it) and
:mod:`petsim.recon` (which only reads it), so that a user can also fill it
from their own sinograms.

The expected prompts in sinogram bin ``i`` are modelled as::

    E[prompts_i] = scale * multiplicative_i * (P f)_i + additive_i

with ``f`` the frame-mean *physical* (not decay-corrected) activity
concentration in Bq/mL, ``P`` the geometric projector (line integrals in mm,
including any resolution model the reconstruction uses), ``scale`` the
counts per (Bq/mL x mm) for this frame (sensitivity x frame duration), and
``multiplicative`` the per-bin efficiency (normalisation x attenuation x
dead-time live fraction x axial-compression weight). ``additive`` holds the
expected randoms plus scatter counts. Reconstructed images are multiplied by
``decay_correction_factor`` to give Bq/mL decay-corrected to injection time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class EmissionData:
    """Prompts and the model terms of one frame (arrays shaped like the sinogram layout)."""

    prompts: np.ndarray
    multiplicative: np.ndarray
    additive: np.ndarray
    scale: float
    frame_start_min: float = 0.0
    frame_duration_min: float = 1.0
    decay_correction_factor: float = 1.0
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        shape = np.shape(self.prompts)
        for name in ("multiplicative", "additive"):
            if np.shape(getattr(self, name)) != shape:
                raise ValueError(
                    f"EmissionData.{name} has shape {np.shape(getattr(self, name))}, "
                    f"expected the prompts' shape {shape}"
                )
        for name in ("prompts", "multiplicative", "additive"):
            arr = np.ascontiguousarray(getattr(self, name), dtype=np.float32)
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"EmissionData.{name} contains NaN or infinite values")
            if np.any(arr < 0):
                raise ValueError(f"EmissionData.{name} has negative values (min {arr.min():g}); counts and factors must be >= 0")
            object.__setattr__(self, name, arr)
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"EmissionData.scale must be positive, got {self.scale!r}")
        if not (self.frame_duration_min > 0):
            raise ValueError(f"EmissionData.frame_duration_min must be positive, got {self.frame_duration_min!r}")

    @property
    def shape(self) -> tuple:
        return self.prompts.shape
