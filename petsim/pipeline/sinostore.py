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


class ScanWriter:
    """Write one scan frame by frame (bounded memory): Interfile prompts plus the model terms.

    Nothing is read back as complete until :meth:`close` has written the frame table.
    """

    def __init__(self, directory, scan: str, scanner, layout):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.scan, self.scanner, self.layout = scan, scanner, layout
        self.seg, self.rd = _segment_info(layout)
        self.order = np.concatenate([np.flatnonzero(self.seg == s) for s in sorted(self.rd)])
        self.meta: list = []
        self.base_mult = None

    def add(self, fr: EmissionData) -> None:
        f = len(self.meta)
        sc, lay = self.scanner, self.layout
        write_interfile_sinogram(
            self.directory / f"{self.scan}_frame-{f:02d}_prompts.hs", fr.prompts, self.seg, self.rd,
            n_rings=sc.n_rings, n_detectors_per_ring=sc.n_crystals_per_ring,
            ring_radius_mm=sc.ring_radius_mm, ring_spacing_mm=sc.ring_spacing_mm,
            radial_bin_mm=lay.radial_bin_mm, doi_mm=getattr(sc, "doi_mm", 0.0), scanner_name=sc.name,
            frame_start_s=fr.frame_start_min * 60.0, frame_duration_s=fr.frame_duration_min * 60.0,
        )
        terms = {"additive": fr.additive}
        ratio = None
        if self.base_mult is None:
            self.base_mult = fr.multiplicative
            terms["multiplicative"] = fr.multiplicative
        else:
            nz = self.base_mult > 0
            if np.array_equal(nz, fr.multiplicative > 0):
                r = fr.multiplicative[nz] / self.base_mult[nz]
                if r.size and np.ptp(r) <= 1e-6 * abs(float(r.mean())):
                    ratio = float(r.mean())
            if ratio is None:
                terms["multiplicative"] = fr.multiplicative
        npz = self.directory / f"{self.scan}_frame-{f:02d}_model.npz"
        with atomic_path(npz) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **terms)
        self.meta.append({
            "scale": fr.scale, "frame_start_min": fr.frame_start_min, "frame_duration_min": fr.frame_duration_min,
            "decay_correction_factor": fr.decay_correction_factor, "multiplicative_ratio": ratio,
            "info": {k: (v.item() if hasattr(v, "item") else v) for k, v in fr.info.items()
                     if isinstance(v, (int, float, str, bool, np.floating, np.integer))},
        })

    def close(self) -> list:
        write_text_atomic(self.directory / f"{self.scan}_frames.json",
                          json.dumps({"order": self.order.tolist(), "frames": self.meta}, indent=1))
        return self.meta


class StoredScan:
    """The frames of a stored scan, read one at a time on access (memory of one frame, not of the scan).

    ``len(scan)``, ``scan[i]`` (an :class:`EmissionData`), iteration, and ``scan.meta``
    (frame times, decay-correction factors and count figures without reading the sinograms).
    """

    def __init__(self, directory, scan: str):
        self.directory, self.scan = Path(directory), scan
        meta_path = self.directory / f"{scan}_frames.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"no simulated {scan} scan in {self.directory} (run `petsim simulate` first)")
        table = json.loads(meta_path.read_text())
        order = np.asarray(table["order"])
        self._inverse = np.empty_like(order)
        self._inverse[order] = np.arange(order.size)
        self.meta = table["frames"]
        self._base = None

    def __len__(self) -> int:
        return len(self.meta)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def _base_multiplicative(self) -> np.ndarray:
        if self._base is None:
            with np.load(self.directory / f"{self.scan}_frame-00_model.npz") as z:
                self._base = z["multiplicative"]
        return self._base

    def __getitem__(self, f: int) -> EmissionData:
        if not 0 <= f < len(self):
            raise IndexError(f"frame {f} is not in the {self.scan} scan of {len(self)} frames")
        m = self.meta[f]
        stored, _ = read_interfile_sinogram(self.directory / f"{self.scan}_frame-{f:02d}_prompts.hs")
        with np.load(self.directory / f"{self.scan}_frame-{f:02d}_model.npz") as z:
            additive = z["additive"]
            mult = z["multiplicative"] if "multiplicative" in z.files else None
        if mult is None:
            mult = self._base_multiplicative() * np.float32(m["multiplicative_ratio"])
        return EmissionData(
            prompts=stored[self._inverse], multiplicative=mult, additive=additive, scale=m["scale"],
            frame_start_min=m["frame_start_min"], frame_duration_min=m["frame_duration_min"],
            decay_correction_factor=m["decay_correction_factor"], info=m["info"],
        )
