"""Published figures the acquisition model is calibrated to (each with its source).

Siemens/CTI ECAT EXACT HR+ in 3D mode, IEC evaluation:
Brix G, Zaers J, Adam L-E, et al. "Performance evaluation of the whole-body
PET scanner ECAT EXACT HR+ following the IEC standard."
J Nucl Med 1997;38:1614-1623 (abstract and results tables).
"""

#: Unscattered-trues sensitivity, 3D mode, 20 cm cylinder (cps per Bq/mL). Brix et al. 1997.
HRPLUS_3D_TRUES_SENSITIVITY_CPS_PER_BQ_ML = 26.4
#: System scatter fraction, 3D mode (20 cm cylinder). Brix et al. 1997.
HRPLUS_3D_SCATTER_FRACTION = 0.35
#: Count rate of true events *including scatter* at which dead-time losses reach 50 %,
#: 3D mode (cps). Brix et al. 1997 ("500 kcps at 25 kBq/mL").
HRPLUS_3D_DEAD_TIME_50PCT_RATE_CPS = 500e3
#: Spatial resolution (FWHM, mm) at the centre in 3D mode, F-18 point source:
#: 4.3 mm transaxial, 4.1 mm axial. Brix et al. 1997.
HRPLUS_3D_FWHM_MM = (4.3, 4.3, 4.1)

#: The same figures in 2D mode (septa extended), Brix et al. 1997 (abstract): sensitivity
#: 5.85 cps per Bq/mL, scatter fraction 0.24, 50 % dead time at 286 kcps, FWHM at the
#: centre 4.5 mm transaxial and 4.9 mm axial.
HRPLUS_2D_TRUES_SENSITIVITY_CPS_PER_BQ_ML = 5.85
HRPLUS_2D_SCATTER_FRACTION = 0.24
HRPLUS_2D_DEAD_TIME_50PCT_RATE_CPS = 286e3
HRPLUS_2D_FWHM_MM = (4.5, 4.5, 4.9)


#: The figures each scanner preset's physics takes, by preset name (:func:`petsim.scanner.preset_key`)
#: and acquisition mode: trues sensitivity (cps per Bq/mL, 20 cm cylinder), scatter fraction, the
#: trues + scatter rate of 50 % dead-time loss (cps) and the resolution at the centre (FWHM x, y, z mm,
#: F-18), with their source. A preset or mode missing here has no published figures in petsim.
PUBLISHED_FIGURES = {
    "hrplus": {
        "3d": {"sensitivity_cps_per_bq_ml": HRPLUS_3D_TRUES_SENSITIVITY_CPS_PER_BQ_ML,
               "scatter_fraction": HRPLUS_3D_SCATTER_FRACTION,
               "dead_time_50pct_rate_cps": HRPLUS_3D_DEAD_TIME_50PCT_RATE_CPS, "fwhm_mm": HRPLUS_3D_FWHM_MM,
               "source": "Brix et al., J Nucl Med 1997;38:1614-1623"},
        "2d": {"sensitivity_cps_per_bq_ml": HRPLUS_2D_TRUES_SENSITIVITY_CPS_PER_BQ_ML,
               "scatter_fraction": HRPLUS_2D_SCATTER_FRACTION,
               "dead_time_50pct_rate_cps": HRPLUS_2D_DEAD_TIME_50PCT_RATE_CPS, "fwhm_mm": HRPLUS_2D_FWHM_MM,
               "source": "Brix et al., J Nucl Med 1997;38:1614-1623"},
    },
}

def published_figures(preset: str, mode: str) -> dict | None:
    """The published figures of scanner ``preset`` in ``mode`` ("3d" or "2d"), or None if petsim holds none."""
    if mode not in ("3d", "2d"):
        raise ValueError(f"mode must be '3d' or '2d', got {mode!r}")
    return PUBLISHED_FIGURES.get(preset, {}).get(mode)



#: FWHM (mm) of the 1D projected positron-range blur in water.
#: Levin CS, Hoffman EJ. "Calculation of positron range and its effect on the
#: fundamental limit of positron emission tomography system spatial resolution."
#: Phys Med Biol 1999;44:781-799 (Table 2: F-18 0.102 mm, C-11 0.188 mm FWHM;
#: FWTM 1.03 and 1.86 mm - the distributions are cusp-shaped with long tails).
POSITRON_RANGE_FWHM_MM = {"F-18": 0.102, "C-11": 0.188, "N-13": 0.282, "O-15": 0.501}

#: Coincidence resolving time tau (s); the window is 2 tau = 12 ns, the usual
#: setting of the BGO ECAT EXACT family. Only tau / p^2 matters here because the
#: singles scale is calibrated to a target random fraction (see randoms.py).
COINCIDENCE_TAU_S = 6e-9

#: Linear attenuation coefficient of water at 511 keV (1/cm), used for the
#: calibration cylinder (the 0.096 /cm soft-tissue value of brain simulations).
WATER_MU_PER_CM = 0.096


def resolution_fwhm_mm(system_fwhm_mm=HRPLUS_3D_FWHM_MM, isotope="C-11", measured_with="F-18"):
    """Scanner resolution for another isotope: swap the positron range in quadrature.

    The published FWHM was measured with F-18; the C-11 positron range is added
    in quadrature after removing F-18's (Levin & Hoffman 1999). For C-11 on the
    HR+ this changes 4.3 mm by only ~0.003 mm because the FWHM of the cusp-shaped
    range distribution is tiny; its long tails (FWTM 1.86 mm) are not modelled by
    a Gaussian.

    Parameters
    ----------
    system_fwhm_mm : tuple of 3 float
        Published FWHM (x, y, z) in mm.
    isotope, measured_with : str
        Isotope names in :data:`POSITRON_RANGE_FWHM_MM`.

    Returns
    -------
    tuple of 3 float
        FWHM (x, y, z) in mm.
    """
    for name in (isotope, measured_with):
        if name not in POSITRON_RANGE_FWHM_MM:
            raise ValueError(f"unknown isotope {name!r}; known: {sorted(POSITRON_RANGE_FWHM_MM)}")
    extra = POSITRON_RANGE_FWHM_MM[isotope] ** 2 - POSITRON_RANGE_FWHM_MM[measured_with] ** 2
    return tuple(float((f * f + extra) ** 0.5) for f in system_fwhm_mm)
