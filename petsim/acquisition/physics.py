"""Switches and parameters of the simulated acquisition physics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from petsim.acquisition import constants as C


@dataclass(frozen=True)
class ScanPhysics:
    """Which effects the simulated scan includes, and their parameters.

    Defaults describe the Siemens ECAT EXACT HR+ in 3D mode scanning the brain
    with C-11 (Brix et al., J Nucl Med 1997;38:1614; see :mod:`.constants`).

    Parameters
    ----------
    attenuation : bool
        Multiply the trues by ``exp(-line integral of mu)``.
    scatter : bool
        Add the low-pass scatter model (see :mod:`.scatter`).
    scatter_fraction : float
        ``S / (S + T)`` of every frame, in [0, 1). HR+ 3D: 0.35.
    scatter_fwhm_mm : tuple of 2 float
        FWHM of the scatter low-pass kernel (radial, axial) in mm.
    scatter_view_fwhm_deg : float
        FWHM of the scatter kernel across projection angles (degrees).
    randoms : bool
        Add randoms ``2 tau S_i S_j`` from singles.
    randoms_correction : {"delayed", "exact"}
        Randoms the reconstruction is given (with noise): the estimate from the delayed window by
        fan sums, as a site has it, or the expected randoms (the oracle). Without noise both are exact.
    randoms_fraction_peak : float
        ``R / (T + S + R)`` in the frame with the highest trues rate, in [0, 1);
        sets the singles per coincidence. Later, lower-activity frames have a
        lower random fraction.
    out_of_field_singles_fraction : float
        Share of all singles, in the frame with the highest trues rate, that
        come from activity outside the axial field of view (the body below the
        neck), in [0, 1). Those singles follow the body's own activity curve
        (``out_of_field`` of :func:`iter_frames`), spread evenly over the
        crystals; they add randoms but no trues. 0: singles only from the
        activity in the field of view.
    normalisation : bool
        Crystal efficiencies drawn around 1 (times the axial-compression weight,
        which is always applied).
    crystal_efficiency_sd : float
        Relative standard deviation of the crystal efficiencies (>= 0, < 0.5).
    psf_fwhm_mm : float, tuple of 3 float or None
        Gaussian resolution (x, y, z) in mm applied to the image before
        projection (scanner resolution with the positron range); None = none.
        Default: HR+ 3D 4.3/4.3/4.1 mm (Brix 1997) with C-11 range
        (:func:`.constants.resolution_fwhm_mm`).
    dead_time : bool
        Apply a paralysable dead-time live fraction per frame.
    dead_time_50pct_rate_cps : float
        Observed trues+scatter rate (cps) at which losses reach 50 %. HR+ 3D: 500 kcps.
    noise : bool
        Default for :func:`simulate_frames`'s ``noise``.
    sensitivity_cps_per_bq_ml : float
        Unscattered-trues rate of the calibration cylinder per Bq/mL. HR+ 3D: 26.4.
    calibration_cylinder_mm : tuple of 2 float
        (diameter, length) of the water calibration cylinder, mm. IEC: 200 x 200.
    coincidence_tau_s : float
        Coincidence resolving time (s); window 2 tau.
    seed : int or None
        Seed of the crystal efficiencies (the Poisson noise takes its own rng).
    """

    attenuation: bool = True
    scatter: bool = True
    scatter_fraction: float = C.HRPLUS_3D_SCATTER_FRACTION
    scatter_fwhm_mm: tuple = (100.0, 60.0)
    scatter_view_fwhm_deg: float = 40.0
    randoms: bool = True
    randoms_correction: str = "delayed"
    randoms_fraction_peak: float = 0.35
    out_of_field_singles_fraction: float = 0.0
    normalisation: bool = True
    crystal_efficiency_sd: float = 0.05
    psf_fwhm_mm: object = "default"
    dead_time: bool = True
    dead_time_50pct_rate_cps: float = C.HRPLUS_3D_DEAD_TIME_50PCT_RATE_CPS
    noise: bool = True
    sensitivity_cps_per_bq_ml: float = C.HRPLUS_3D_TRUES_SENSITIVITY_CPS_PER_BQ_ML
    calibration_cylinder_mm: tuple = (200.0, 200.0)
    coincidence_tau_s: float = C.COINCIDENCE_TAU_S
    seed: int | None = 0

    def __post_init__(self):
        for name in ("attenuation", "scatter", "randoms", "normalisation", "dead_time", "noise"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"ScanPhysics.{name} must be True or False, got {getattr(self, name)!r}")
        if self.randoms_correction not in ("delayed", "exact"):
            raise ValueError(f"ScanPhysics.randoms_correction must be 'delayed' or 'exact', got {self.randoms_correction!r}")
        for name in ("scatter_fraction", "randoms_fraction_peak", "out_of_field_singles_fraction"):
            v = getattr(self, name)
            if not (np.isfinite(v) and 0.0 <= v < 1.0):
                raise ValueError(f"ScanPhysics.{name} must be in [0, 1), got {v!r}")
        if not (np.isfinite(self.crystal_efficiency_sd) and 0.0 <= self.crystal_efficiency_sd < 0.5):
            raise ValueError(f"ScanPhysics.crystal_efficiency_sd must be in [0, 0.5), got {self.crystal_efficiency_sd!r}")
        for name in ("dead_time_50pct_rate_cps", "sensitivity_cps_per_bq_ml", "coincidence_tau_s", "scatter_view_fwhm_deg"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"ScanPhysics.{name} must be positive and finite, got {v!r}")
        for name, n in (("scatter_fwhm_mm", 2), ("calibration_cylinder_mm", 2)):
            v = np.asarray(getattr(self, name), dtype=float)
            if v.shape != (n,) or not np.all(np.isfinite(v) & (v > 0)):
                raise ValueError(f"ScanPhysics.{name} must be {n} positive lengths in mm, got {getattr(self, name)!r}")
            object.__setattr__(self, name, tuple(float(x) for x in v))
        psf = self.psf_fwhm_mm
        if isinstance(psf, str):
            if psf != "default":
                raise ValueError(f"ScanPhysics.psf_fwhm_mm must be 'default', None, a FWHM or 3 FWHMs in mm, got {psf!r}")
            psf = C.resolution_fwhm_mm(C.HRPLUS_3D_FWHM_MM, "C-11")
        if psf is not None:
            arr = np.broadcast_to(np.asarray(psf, dtype=float), (3,)) if np.ndim(psf) <= 1 and np.size(psf) in (1, 3) else None
            if arr is None or not np.all(np.isfinite(arr) & (arr >= 0)):
                raise ValueError(f"ScanPhysics.psf_fwhm_mm must be None, a FWHM or 3 FWHMs (x, y, z) >= 0 in mm, got {self.psf_fwhm_mm!r}")
            psf = None if np.all(arr == 0) else tuple(float(x) for x in arr)
        object.__setattr__(self, "psf_fwhm_mm", psf)
        if self.seed is not None and not isinstance(self.seed, (int, np.integer)):
            raise TypeError(f"ScanPhysics.seed must be an int or None, got {self.seed!r}")
