"""Store one scan's frames between the simulate and reconstruct stages.

Prompts go to STIR-style Interfile (header + raw float32), one file per frame,
so other tools can read them; the model terms (additive randoms + scatter
estimate, multiplicative efficiencies) go to a compressed ``.npz`` beside them.
The multiplicative factors of a frame that differ from the first frame's only
by a scalar (the dead-time live fraction) are stored as that scalar.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from petsim.emission import EmissionData
from petsim.io.atomic import atomic_path, write_text_atomic
from petsim.io.interfile import write_interfile_sinogram, read_interfile_sinogram


def _segment_info(layout):
    seg = np.asarray(layout.sinogram_segment)
    rd = {}
    for s in layout.segments:
        number = int(s["number"] if isinstance(s, dict) else getattr(s, "number"))
        lo = int(s["min_ring_diff"] if isinstance(s, dict) else getattr(s, "min_ring_diff"))
        hi = int(s["max_ring_diff"] if isinstance(s, dict) else getattr(s, "max_ring_diff"))
        rd[number] = (lo, hi)
    return seg, rd


def save_scan(directory, scan: str, frames: list[EmissionData], scanner, layout) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    seg, rd = _segment_info(layout)
    # Interfile stores segments in increasing ring difference: remember our order to read back.
    order = np.concatenate([np.flatnonzero(seg == s) for s in sorted(rd)])
    base_mult = frames[0].multiplicative
    nz = base_mult > 0
    terms = {}
    meta = []
    for f, fr in enumerate(frames):
        write_interfile_sinogram(
            directory / f"{scan}_frame-{f:02d}_prompts.hs", fr.prompts, seg, rd,
            n_rings=scanner.n_rings, n_detectors_per_ring=scanner.n_crystals_per_ring,
            ring_radius_mm=scanner.ring_radius_mm, ring_spacing_mm=scanner.ring_spacing_mm,
            radial_bin_mm=layout.radial_bin_mm, doi_mm=getattr(scanner, "doi_mm", 0.0), scanner_name=scanner.name,
            frame_start_s=fr.frame_start_min * 60.0, frame_duration_s=fr.frame_duration_min * 60.0,
        )
        terms[f"additive_{f}"] = fr.additive
        ratio = None
        if f > 0 and np.array_equal(nz, fr.multiplicative > 0):
            r = fr.multiplicative[nz] / base_mult[nz]
            if r.size and np.ptp(r) <= 1e-6 * abs(float(r.mean())):
                ratio = float(r.mean())
        if f > 0 and ratio is None:
            terms[f"multiplicative_{f}"] = fr.multiplicative
        meta.append({
            "scale": fr.scale, "frame_start_min": fr.frame_start_min, "frame_duration_min": fr.frame_duration_min,
            "decay_correction_factor": fr.decay_correction_factor, "multiplicative_ratio": ratio,
            "info": {k: v for k, v in fr.info.items() if isinstance(v, (int, float, str, bool))},
        })
    terms["multiplicative_0"] = base_mult
    terms["order"] = order
    npz = directory / f"{scan}_model.npz"
    with atomic_path(npz) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **terms)
    write_text_atomic(directory / f"{scan}_frames.json", json.dumps(meta, indent=1))
    return directory


def load_scan(directory, scan: str) -> list[EmissionData]:
    directory = Path(directory)
    meta_path = directory / f"{scan}_frames.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"no simulated {scan} scan in {directory} (run `petsim simulate` first)")
    meta = json.loads(meta_path.read_text())
    with np.load(directory / f"{scan}_model.npz") as z:
        terms = {k: z[k] for k in z.files}
    order = terms["order"]
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    frames = []
    for f, m in enumerate(meta):
        stored, _ = read_interfile_sinogram(directory / f"{scan}_frame-{f:02d}_prompts.hs")
        prompts = stored[inverse]
        if f == 0 or f"multiplicative_{f}" not in terms:
            mult = terms["multiplicative_0"] * np.float32(m["multiplicative_ratio"] or 1.0) if f else terms["multiplicative_0"]
        else:
            mult = terms[f"multiplicative_{f}"]
        frames.append(EmissionData(
            prompts=prompts, multiplicative=mult, additive=terms[f"additive_{f}"], scale=m["scale"],
            frame_start_min=m["frame_start_min"], frame_duration_min=m["frame_duration_min"],
            decay_correction_factor=m["decay_correction_factor"], info=m["info"],
        ))
    return frames
