"""BIDS-PET JSON sidecars (BIDS specification v1.9, 'Positron Emission Tomography').

Times in the sidecar are in seconds relative to TimeZero (the injection here),
as the standard requires, while petsim works in minutes internally.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from petsim.core.atomic import write_text_atomic

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
    injected_volume_ml: float | None = None,
    infusion_mbq: float | None = None,
    infusion_min: float | None = None,
    molar_activity_gbq_per_umol: float | None = None,
    injected_mass_ug: float | None = None,
    extra: dict | None = None,
) -> dict:
    """Build the sidecar dictionary of a reconstructed dynamic PET image.

    A bolus-plus-infusion scan needs ``infusion_mbq`` (the part of the activity infused),
    ``infusion_min`` (its duration, from injection) and ``injected_volume_ml``: BIDS requires
    InfusionRadioactivity, InfusionStart, InfusionSpeed(Units) and InjectedVolume for it. The
    infusion speed is the infused share of the volume over the infusion time (mL/s).
    """
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
        "InjectedMass": "n/a" if injected_mass_ug is None else float(injected_mass_ug),
        "InjectedMassUnits": "n/a" if injected_mass_ug is None else "ug",
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
    if molar_activity_gbq_per_umol is not None:
        sidecar.update(MolarActivity=float(molar_activity_gbq_per_umol), MolarActivityUnits="GBq/umol",
                       MolarActivityMeasTime="00:00:00")
    if injected_volume_ml is not None:
        sidecar.update(InjectedVolume=float(injected_volume_ml), InjectedVolumeUnits="mL")
    if mode_of_administration == "bolus-infusion":
        if infusion_mbq is None or infusion_min is None or injected_volume_ml is None:
            raise ValueError("a bolus-infusion sidecar needs infusion_mbq, infusion_min and injected_volume_ml")
        share = float(infusion_mbq) / float(injected_mbq)
        sidecar.update(InfusionRadioactivity=float(infusion_mbq), InfusionStart=0.0,
                       InfusionSpeed=float(share * injected_volume_ml / (60.0 * infusion_min)),
                       InfusionSpeedUnits="mL/s")
    if extra:
        sidecar.update(extra)
    return sidecar


#: The BIDS version petsim's datasets follow.
BIDS_VERSION = "1.10.0"


def dataset_description(name: str, derivative: bool = False) -> dict:
    """``dataset_description.json`` of a simulated raw dataset, or of petsim's derivative dataset."""
    from petsim import __version__

    desc = {
        "Name": name,
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "derivative" if derivative else "raw",
        "GeneratedBy": [{"Name": "petsim", "Version": __version__,
                         "Description": "simulated dynamic PET with known truth" if not derivative else
                         "truth, TACs, BP_ND estimates and their validation of a petsim simulation"}],
    }
    if not derivative:
        desc["Authors"] = ["petsim (simulation)"]
    return desc


def write_dataset_description(root, name: str, derivative: bool = False) -> Path:
    return write_text_atomic(Path(root) / "dataset_description.json",
                             json.dumps(dataset_description(name, derivative), indent=2) + "\n")


def write_sidecar(path, sidecar: dict) -> Path:
    return write_text_atomic(path, json.dumps(sidecar, indent=2) + "\n")


def blood_sidecar(method: str) -> dict:
    """``_blood.json`` of manual arterial samples: plasma, parent fraction and whole blood, all available.

    ``method`` says how the values were obtained (for a simulation: from the true input function).
    Concentrations are decay-corrected to TimeZero (the injection), like the images.
    """
    return {
        "Description": method,
        "PlasmaAvail": True,
        "MetaboliteAvail": True,
        "MetaboliteMethod": "simulated: parent fraction of the true input (no HPLC)",
        "MetaboliteRecoveryCorrectionApplied": False,
        "WholeBloodAvail": True,
        "DispersionCorrected": False,
        "time": {"Description": "sample time from TimeZero (the injection)", "Units": "s"},
        "plasma_radioactivity": {"Description": "total plasma radioactivity (parent and metabolites), "
                                                "decay-corrected to TimeZero", "Units": "Bq/mL"},
        "metabolite_parent_fraction": {"Description": "fraction of plasma radioactivity that is the parent "
                                                      "compound", "Units": "arbitrary"},
        "whole_blood_radioactivity": {"Description": "whole-blood radioactivity, decay-corrected to TimeZero",
                                      "Units": "Bq/mL"},
    }
