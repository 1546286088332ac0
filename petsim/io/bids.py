"""BIDS-PET JSON sidecars (BIDS specification v1.9, 'Positron Emission Tomography').

Times in the sidecar are in seconds relative to TimeZero (the injection here),
as the standard requires, while petsim works in minutes internally.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from petsim.io.atomic import write_text_atomic

#: The values BIDS allows for ModeOfAdministration.
MODES_OF_ADMINISTRATION = ("bolus", "infusion", "bolus-infusion")


def pet_sidecar(
    *,
    tracer_name: str,
    radionuclide: str,
    injected_mbq: float,
    mode_of_administration: str,
    frame_starts_min,
    frame_ends_min,
    decay_correction_factors,
    recon_method: str,
    recon_parameter_labels,
    recon_parameter_units,
    recon_parameter_values,
    recon_filter_type: str,
    recon_filter_size_mm: float,
    attenuation_correction: str,
    manufacturer: str = "petsim (simulation)",
    model_name: str = "",
    acquisition_mode: str = "list mode",
    units: str = "Bq/mL",
    extra: dict | None = None,
) -> dict:
    """Build the sidecar dictionary of a reconstructed dynamic PET image."""
    if mode_of_administration not in MODES_OF_ADMINISTRATION:
        raise ValueError(
            f"ModeOfAdministration {mode_of_administration!r} is not one of {MODES_OF_ADMINISTRATION}"
        )
    starts = np.asarray(frame_starts_min, dtype=float)
    ends = np.asarray(frame_ends_min, dtype=float)
    dcf = np.asarray(decay_correction_factors, dtype=float)
    if not (starts.shape == ends.shape == dcf.shape):
        raise ValueError("frame starts, ends and decay-correction factors must have the same length")
    sidecar = {
        "Modality": "PT",
        "Manufacturer": manufacturer,
        "ManufacturersModelName": model_name,
        "Units": units,
        "BodyPart": "Brain",
        "TracerName": tracer_name,
        "TracerRadionuclide": radionuclide,
        "InjectedRadioactivity": float(injected_mbq),
        "InjectedRadioactivityUnits": "MBq",
        "InjectedMass": "n/a",
        "InjectedMassUnits": "n/a",
        "SpecificRadioactivity": "n/a",
        "SpecificRadioactivityUnits": "n/a",
        "ModeOfAdministration": mode_of_administration,
        "TimeZero": "00:00:00",
        "ScanStart": 0.0,
        "InjectionStart": 0.0,
        "FrameTimesStart": [round(float(s) * 60.0, 6) for s in starts],
        "FrameDuration": [round(float(e - s) * 60.0, 6) for s, e in zip(starts, ends)],
        "AcquisitionMode": acquisition_mode,
        "ImageDecayCorrected": True,
        "ImageDecayCorrectionTime": 0.0,
        "DecayCorrectionFactor": [float(f) for f in dcf],
        "ReconMethodName": recon_method,
        "ReconMethodParameterLabels": list(recon_parameter_labels),
        "ReconMethodParameterUnits": list(recon_parameter_units),
        "ReconMethodParameterValues": [float(v) for v in recon_parameter_values],
        "ReconFilterType": recon_filter_type,
        "ReconFilterSize": float(recon_filter_size_mm),
        "AttenuationCorrection": attenuation_correction,
    }
    if extra:
        sidecar.update(extra)
    return sidecar


def write_sidecar(path, sidecar: dict) -> Path:
    return write_text_atomic(path, json.dumps(sidecar, indent=2) + "\n")
