"""Store a simulated scan the way a scanner keeps it, between the simulate and reconstruct stages.

What is written (all under ``derivatives/petsim/sub-XX/sinograms/``):

- once per session: the normalisation (crystal efficiencies x axial-compression weight of every bin)
  and the attenuation factors ``exp(-integral mu)``, as STIR-style Interfile sinograms (float32):
  ``normalisation.hs`` and ``attenuation.hs``;
- per frame: the prompts, ``{scan}_frame-NN_prompts.hs`` (counts as 1- or 2-byte integers);
- per scan: the frame table ``{scan}_frames.json`` (times, decay-correction factor, dead-time live
  fraction, count rates and totals) and ``{scan}_additive.npz``, the compact form of each frame's
  additive terms: the crystal singles of the randoms estimate (from the delayed window, the
  "randoms from singles" estimate of the scanner's software) and the smooth scatter on its coarse
  grid (:class:`petsim.acquisition.scatter.ScatterTerm`).

The per-frame model sinograms are not stored: :class:`StoredScan` rebuilds each frame's
multiplicative term (normalisation x attenuation x live fraction) and additive term (randoms +
scatter) from these, bit for bit the ones the simulation used.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from petsim.core.atomic import atomic_path, write_text_atomic
from petsim.emission import EmissionData
from petsim.io.interfile import read_interfile_sinogram, write_interfile_sinogram

#: Scan-level factor files, shared by the scans of one session (same scanner, same head position).
FACTOR_FILES = {"normalisation": "normalisation.hs", "attenuation": "attenuation.hs"}


def _segment_info(layout):
    seg = np.asarray(layout.sinogram_segment)
    rd = {}
    for s in layout.segments:
        number = int(s["number"] if isinstance(s, dict) else getattr(s, "number"))
        lo = int(s["min_ring_diff"] if isinstance(s, dict) else getattr(s, "min_ring_diff"))
        hi = int(s["max_ring_diff"] if isinstance(s, dict) else getattr(s, "max_ring_diff"))
        rd[number] = (lo, hi)
    return seg, rd


def write_sinogram(path: Path, values, scanner, layout, isotope: str | None = None, **times) -> None:
    """One sinogram of ``layout`` as STIR-style Interfile, the scanner under STIR's name where it has one."""
    seg, rd = _segment_info(layout)
    write_interfile_sinogram(
        path, values, seg, rd, n_rings=scanner.n_rings, n_detectors_per_ring=scanner.n_crystals_per_ring,
        ring_radius_mm=scanner.ring_radius_mm, ring_spacing_mm=scanner.ring_spacing_mm,
        radial_bin_mm=layout.radial_bin_mm, doi_mm=getattr(scanner, "doi_mm", 0.0),
        scanner_name=scanner.stir_name or scanner.name, isotope_name=isotope,
        energy_window_kev=scanner.energy_window_kev, **times)


def _read_sinogram(path: Path, layout) -> np.ndarray:
    """An Interfile sinogram in the layout's sinogram order (the file holds them by segment)."""
    seg, rd = _segment_info(layout)
    order = np.concatenate([np.flatnonzero(seg == s) for s in sorted(rd)])
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    stored, _ = read_interfile_sinogram(path)
    return stored[inverse]


def write_scan_factors(directory, scanner, layout, model) -> None:
    """Write the session's normalisation (the one the site has: ``model.site_pattern``) and attenuation
    factors (float32 Interfile sinograms)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, values in (("normalisation", model.site_pattern), ("attenuation", model.site_attenuation)):
        values = np.asarray(values)
        if values.dtype != np.float32:  # stored as float32: anything else would not come back bit for bit
            raise TypeError(f"the {name} factors are {values.dtype}, expected float32")
        write_sinogram(directory / FACTOR_FILES[name], values, scanner, layout)


class ScanWriter:
    """Write one scan frame by frame (bounded memory): Interfile prompts, then the frame table and additive terms.

    ``physics`` is the :class:`~petsim.acquisition.ScanPhysics` of the scan (its scatter kernel is recorded,
    so that the scatter can be rebuilt); ``isotope`` (e.g. ``"C-11"``) goes into the prompts' headers. The session's factor files are written by :func:`write_scan_factors`.
    Nothing is read back as complete until :meth:`close` has written the frame table.
    """

    def __init__(self, directory, scan: str, scanner, layout, physics, isotope: str | None = None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.scan, self.scanner, self.layout = scan, scanner, layout
        self.isotope = isotope
        self.scatter_kernel = {"fwhm_radial_mm": float(physics.scatter_fwhm_mm[0]),
                               "fwhm_axial_mm": float(physics.scatter_fwhm_mm[1]),
                               "fwhm_view_deg": float(physics.scatter_view_fwhm_deg)}
        self.meta: list = []
        self._scatter: list = []
        self._singles: list = []

    def add(self, fr: EmissionData) -> None:
        f = len(self.meta)
        write_sinogram(self.directory / f"{self.scan}_frame-{f:02d}_prompts.hs", fr.prompts, self.scanner,
                        self.layout, isotope=self.isotope, frame_start_s=fr.frame_start_min * 60.0,
                        frame_duration_s=fr.frame_duration_min * 60.0)
        scatter, randoms = fr.info.get("scatter_term"), fr.info.get("randoms_term")
        if scatter is not None:
            self._scatter.append(np.asarray(scatter.coarse, dtype=np.float32))
        if randoms is not None:
            self._singles.append(np.asarray(randoms.singles, dtype=np.float64))
        self.meta.append({
            "scale": fr.scale, "frame_start_min": fr.frame_start_min, "frame_duration_min": fr.frame_duration_min,
            "decay_correction_factor": fr.decay_correction_factor,
            "live_fraction": float(fr.info["live_fraction"]),
            "scatter": None if scatter is None else {"index": len(self._scatter) - 1, "factor": scatter.factor},
            "randoms": None if randoms is None else {"index": len(self._singles) - 1, "factor": randoms.factor},
            "info": {k: (v.item() if hasattr(v, "item") else v) for k, v in fr.info.items()
                     if isinstance(v, (int, float, str, bool, np.floating, np.integer))},
        })

    def close(self) -> list:
        """Write the additive terms and the frame table (last: its presence marks the scan complete)."""
        terms = {}
        if self._scatter:
            terms["scatter_coarse"] = np.stack(self._scatter)
        if self._singles:
            terms["randoms_singles"] = np.stack(self._singles)
        with atomic_path(self.directory / f"{self.scan}_additive.npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **terms)
        table = {"factors": FACTOR_FILES, "scatter_kernel": self.scatter_kernel, "frames": self.meta}
        write_text_atomic(self.directory / f"{self.scan}_frames.json", json.dumps(table, indent=1))
        return self.meta


class StoredScan:
    """The frames of a stored scan, read one at a time on access (memory of one frame, not of the scan).

    ``len(scan)``, ``scan[i]`` (an :class:`EmissionData` with the multiplicative and additive
    sinograms rebuilt), iteration, and ``scan.meta`` (frame times, decay-correction factors and
    count figures without reading the sinograms).
    """

    def __init__(self, directory, scan: str, scanner, layout):
        self.directory, self.scan, self.scanner, self.layout = Path(directory), scan, scanner, layout
        meta_path = self.directory / f"{scan}_frames.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"no simulated {scan} scan in {self.directory} (run `petsim simulate` first)")
        self.table = json.loads(meta_path.read_text())
        self.meta = self.table["frames"]
        self._factors = None
        self._terms = None
        self._pairs = None
        self._lowpass = None

    def __len__(self) -> int:
        return len(self.meta)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def _scan_factors(self):
        """(detector pattern, efficiency = pattern x attenuation), read once."""
        if self._factors is None:
            files = self.table["factors"]
            pattern = _read_sinogram(self.directory / files["normalisation"], self.layout)
            attenuation = _read_sinogram(self.directory / files["attenuation"], self.layout)
            self._factors = (pattern, pattern * attenuation)
        return self._factors

    def _additive(self, m: dict) -> np.ndarray:
        from petsim.acquisition.randoms import RandomsTerm, crystal_pairs_of
        from petsim.acquisition.scatter import ScatterTerm, SinogramLowPass

        if self._terms is None:
            with np.load(self.directory / f"{self.scan}_additive.npz") as z:
                self._terms = {k: z[k] for k in z.files}
        additive = np.zeros(self.layout.shape, dtype=np.float32)
        if m["scatter"] is not None:
            if self._lowpass is None:
                k = self.table["scatter_kernel"]
                self._lowpass = SinogramLowPass(self.layout, k["fwhm_radial_mm"], k["fwhm_axial_mm"], k["fwhm_view_deg"])
            term = ScatterTerm(self._terms["scatter_coarse"][m["scatter"]["index"]], m["scatter"]["factor"])
            additive = term.sinogram(self._scan_factors()[0], self._lowpass)
        if m["randoms"] is not None:
            if self._pairs is None:
                self._pairs = crystal_pairs_of(self.scanner, self.layout)
            randoms = RandomsTerm(self._terms["randoms_singles"][m["randoms"]["index"]], m["randoms"]["factor"])
            additive = additive + randoms.sinogram(self._pairs)
        return additive

    def __getitem__(self, f: int) -> EmissionData:
        if not 0 <= f < len(self):
            raise IndexError(f"frame {f} is not in the {self.scan} scan of {len(self)} frames")
        m = self.meta[f]
        prompts = _read_sinogram(self.directory / f"{self.scan}_frame-{f:02d}_prompts.hs", self.layout)
        return EmissionData(
            prompts=prompts, multiplicative=self._scan_factors()[1] * np.float32(m["live_fraction"]),
            additive=self._additive(m), scale=m["scale"], frame_start_min=m["frame_start_min"],
            frame_duration_min=m["frame_duration_min"], decay_correction_factor=m["decay_correction_factor"],
            info=m["info"],
        )
