"""Projection data as STIR-style Interfile: a text header (``.hs``) and raw little-endian data (``.s``).

Counts are stored as 1- or 2-byte unsigned integers (the smallest that holds them), anything else as float32.

The layout follows the keys STIR reads for PET projection data: four matrix
axes (tangential coordinate fastest, then view, then axial coordinate, then
segment, i.e. the storage order STIR calls ``Segment_AxialPos_View_TangPos``),
segments stored in increasing ring difference with their axial sizes listed,
and the scanner's rings, detectors, radius and ring spacing in cm.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from petsim.core.atomic import atomic_path, write_text_atomic


def write_interfile_sinogram(
    path,
    sinogram: np.ndarray,
    sinogram_segment,
    segment_ring_differences: dict,
    *,
    n_rings: int,
    n_detectors_per_ring: int,
    ring_radius_mm: float,
    ring_spacing_mm: float,
    radial_bin_mm: float,
    doi_mm: float = 0.0,
    scanner_name: str = "userdefined",
    frame_start_s: float = 0.0,
    frame_duration_s: float = 0.0,
    data_type: str = "Emission",
    isotope_name: str | None = None,
    energy_window_kev: tuple | None = None,
) -> Path:
    """Write one frame's sinogram ``(n_sinograms, n_views, n_radial)`` as ``path`` (``.hs``) + ``.s``.

    Parameters
    ----------
    sinogram_segment : array of int, (n_sinograms,)
        Segment number of each sinogram (sinograms of one segment must be in
        increasing axial position).
    segment_ring_differences : dict
        ``{segment: (min_ring_difference, max_ring_difference)}``.
    scanner_name : str
        ``originating system``: STIR's name of the scanner (e.g. ``"ECAT HR+"``) lets STIR use its own model.
    isotope_name : str, optional
        Radionuclide, e.g. ``"C-11"`` (a name STIR's radionuclide table knows).
    energy_window_kev : tuple of 2 float, optional
        Lower and upper energy window levels (keV).
    """
    path = Path(path)
    if path.suffix != ".hs":
        raise ValueError(f"Interfile header name must end in .hs, got {path.name}")
    sino = np.asarray(sinogram)
    # Counts (whole numbers) are stored in the smallest unsigned integer type that holds them (1 or 2
    # bytes, as Interfile and STIR allow): a quarter or half the disk of float32.
    as_counts = bool(sino.size) and float(sino.min()) >= 0 and np.array_equal(sino, np.round(sino))
    top = float(sino.max()) if sino.size else 0.0
    if as_counts and top < 256:
        sino, number_format, n_bytes = sino.astype("u1"), "unsigned integer", 1
    elif as_counts and top < 65536:
        sino, number_format, n_bytes = sino.astype("<u2"), "unsigned integer", 2
    else:
        sino, number_format, n_bytes = sino.astype("<f4"), "float", 4
    seg = np.asarray(sinogram_segment)
    if sino.ndim != 3 or seg.shape != (sino.shape[0],):
        raise ValueError(
            f"sinogram must be (n_sinograms, n_views, n_radial) with one segment number per sinogram; "
            f"got {sino.shape} and {seg.shape}"
        )
    segments = sorted(np.unique(seg).tolist())
    missing = [s for s in segments if s not in segment_ring_differences]
    if missing:
        raise ValueError(f"segment_ring_differences lacks segments {missing}")
    order = np.concatenate([np.flatnonzero(seg == s) for s in segments])  # stable: axial order kept
    n_axial = [int(np.sum(seg == s)) for s in segments]
    data_path = path.with_suffix(".s")
    with atomic_path(data_path) as tmp:
        sino[order].tofile(tmp)

    def braces(values):
        return "{ " + ", ".join(str(v) for v in values) + " }"

    extra = f"isotope name := {isotope_name}\n" if isotope_name else ""
    if energy_window_kev is not None:
        lo, hi = (float(e) for e in energy_window_kev)
        extra += f"number of energy windows := 1\nenergy window lower level[1] := {lo:g}\nenergy window upper level[1] := {hi:g}\n"

    header = f"""!INTERFILE :=
!imaging modality := PT
name of data file := {data_path.name}
originating system := {scanner_name}
!version of keys := STIR4.0
!GENERAL DATA :=
!GENERAL IMAGE DATA :=
!type of data := PET
imagedata byte order := LITTLEENDIAN
!PET STUDY (General) :=
!PET data type := {data_type}
applied corrections := {{arc correction}}
{extra}!number format := {number_format}
!number of bytes per pixel := {n_bytes}
number of dimensions := 4
matrix axis label [4] := segment
!matrix size [4] := {len(segments)}
matrix axis label [3] := axial coordinate
!matrix size [3] := {braces(n_axial)}
matrix axis label [2] := view
!matrix size [2] := {sino.shape[1]}
matrix axis label [1] := tangential coordinate
!matrix size [1] := {sino.shape[2]}
minimum ring difference per segment := {braces(segment_ring_differences[s][0] for s in segments)}
maximum ring difference per segment := {braces(segment_ring_differences[s][1] for s in segments)}
Scanner parameters :=
Scanner type := {scanner_name}
Number of rings := {n_rings}
Number of detectors per ring := {n_detectors_per_ring}
Inner ring diameter (cm) := {2.0 * (ring_radius_mm - doi_mm) / 10.0:.4f}
Average depth of interaction (cm) := {doi_mm / 10.0:.4f}
Distance between rings (cm) := {ring_spacing_mm / 10.0:.5f}
Default bin size (cm) := {radial_bin_mm / 10.0:.5f}
End scanner parameters :=
effective central bin size (cm) := {radial_bin_mm / 10.0:.5f}
data offset in bytes[1] := 0
number of time frames := 1
image relative start time (sec)[1] := {frame_start_s:.3f}
image duration (sec)[1] := {frame_duration_s:.3f}
!END OF INTERFILE :=
"""
    write_text_atomic(path, header)
    return path


def _key(header: str, key: str) -> str:
    match = re.search(rf"^!?{re.escape(key)}\s*:=\s*(.*)$", header, flags=re.IGNORECASE | re.MULTILINE)
    if not match:
        raise ValueError(f"Interfile header lacks the key {key!r}")
    return match.group(1).strip()


def _ints(text: str) -> list[int]:
    return [int(v) for v in re.findall(r"-?\d+", text)]


def read_interfile_sinogram(path):
    """Read a header written by :func:`write_interfile_sinogram`.

    Returns
    -------
    sinogram : ndarray, (n_sinograms, n_views, n_radial) float32, segments in increasing ring difference
    info : dict with ``segments_min_rd``, ``segments_max_rd``, ``n_axial`` and the frame times
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such Interfile header: {path}")
    header = path.read_text()
    n_axial = _ints(_key(header, "matrix size [3]"))
    n_views = int(_key(header, "matrix size [2]"))
    n_radial = int(_key(header, "matrix size [1]"))
    fmt, n_bytes = _key(header, "number format").lower(), int(_key(header, "number of bytes per pixel"))
    dtypes = {("float", 4): "<f4", ("unsigned integer", 1): "u1", ("unsigned integer", 2): "<u2", ("signed integer", 2): "<i2", ("unsigned integer", 4): "<u4"}
    if (fmt, n_bytes) not in dtypes:
        raise ValueError(f"{path.name}: number format {fmt!r} with {n_bytes} bytes is not supported; supported: {sorted(dtypes)}")
    data = np.fromfile(path.parent / _key(header, "name of data file"), dtype=dtypes[(fmt, n_bytes)]).astype(np.float32)
    expected = sum(n_axial) * n_views * n_radial
    if data.size != expected:
        raise ValueError(f"{path.name}: data file holds {data.size} values, header says {expected}")
    info = {
        "n_axial": n_axial,
        "segments_min_rd": _ints(_key(header, "minimum ring difference per segment")),
        "segments_max_rd": _ints(_key(header, "maximum ring difference per segment")),
        "frame_start_s": float(_key(header, "image relative start time (sec)[1]")),
        "frame_duration_s": float(_key(header, "image duration (sec)[1]")),
    }
    return data.reshape(sum(n_axial), n_views, n_radial), info
