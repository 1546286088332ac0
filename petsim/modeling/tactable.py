"""BIDS-PET derivative TAC tables: ``frame_start``, ``frame_end`` in seconds, one column per region in Bq/mL.

Reading is strict where a mistake would give a silently wrong BP_ND and
lenient where the intent is clear:

- Separator: tab (BIDS). A comma- or semicolon-separated table is read with
  a note; a space-separated one is refused (names may hold spaces).
- Encoding: UTF-8 (BIDS); a UTF-8 byte-order mark is skipped and a UTF-16
  file with a byte-order mark (Excel's "Unicode text") is read, each with a
  note. Anything else is refused with the byte position of the first bad byte.
- Columns: duplicate or empty names are refused; a region column that is
  ``n/a`` in every frame (PETPrep writes those for absent structures) is
  dropped with a note; a column with some ``n/a`` is refused.
- Frames: at most :data:`MAX_FRAMES`, times finite, from injection (>= 0),
  ordered, not overlapping, each ending after it starts and no later than
  :data:`MAX_FRAME_END_S`.
- Units: from the ``_tacs.json`` sidecar next to the table, if any: the
  ``Units`` of each column's description (BIDS column descriptions), else a
  top-level ``Units`` string (PETPrep) for the region columns; defaults are
  s for ``frame_start``/``frame_end`` and Bq/mL for regions. Activity units
  ``[n|u|m|k|M|G]Bq`` or ``[n|u|m]Ci`` per mL (``ml``, ``cc``, ``cm3``) or
  per L; time units s or min. Top-level ``FrameTimesStart``/``FrameDuration``
  (s), if present, must agree with the table.

Every message names the file, and the line and column where one is at fault.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import json
import math
import os
import re
from dataclasses import dataclass

import numpy as np

from petsim.core.atomic import write_text_atomic
from petsim.core.tsv import write_tsv_lines

from ._frames import check_frames, check_tac

#: Columns that are frame bookkeeping, not regions.
NON_REGION_COLUMNS = {"frame_start", "frame_end", "frame_duration", "frame_mid", "time", "frame"}

#: Most frames a table may have: 10x the longest list-mode rebinning in common use; more is a mistake
#: (e.g. one row per second) that would make every fit slow.
MAX_FRAMES = 10_000

#: Latest frame end (s) a table may have: 1e5 s = 27.8 h, 82 half-lives of carbon-11 and 15 of
#: fluorine-18; later times are unit mistakes (ms, or a clock time instead of time from injection).
MAX_FRAME_END_S = 1e5

#: Largest activity concentration (Bq/mL) read: 1e12 Bq/mL is ~1000 x a whole injected dose in one mL.
MAX_ACTIVITY_BQ_PER_ML = 1e12

#: Largest table or sidecar file read (bytes); MAX_FRAMES x 1000 regions fits in it.
MAX_FILE_BYTES = 256 * 2 ** 20

#: Cells that mean "no value" (BIDS writes n/a; R writes NA; numpy writes nan).
MISSING = {"n/a", "na", "nan", ""}

#: What petsim writes, and what a table without a sidecar is taken to hold.
TIME_UNIT, ACTIVITY_UNIT = "s", "Bq/mL"

_TIME_UNITS_S = {"s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0, "min": 60.0, "minute": 60.0,
                 "minutes": 60.0}
_PREFIX = {"": 1.0, "n": 1e-9, "u": 1e-6, "µ": 1e-6, "μ": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9}
_ACTIVITY_UNIT = re.compile(r"^(?P<prefix>[nuµμmkMG]?)(?P<base>Bq|Ci)\s*/\s*(?P<volume>ml|cc|cm3|cm\^3|l)$",
                            re.IGNORECASE)
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|infinity)$", re.IGNORECASE)
_SEP_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon"}
_OVERLAP_TOL_S = 5e-8  # below check_frames' 1e-9 min, so both agree on what overlaps


@dataclass(frozen=True)
class TacTable:
    """Frame times (min) and regional TACs (Bq/mL).

    Attributes
    ----------
    frame_start_min, frame_end_min : ndarray
        Frame times in minutes from injection.
    regions : dict
        Region name -> TAC (Bq/mL), one value per frame.
    notes : tuple of str
        What reading did that a user should know (separator, units, dropped columns).
    dropped : tuple of str
        Region columns left out because they were ``n/a`` in every frame.
    source : str
        The file the table was read from ("" if built in memory).
    """

    frame_start_min: np.ndarray
    frame_end_min: np.ndarray
    regions: dict
    notes: tuple = ()
    dropped: tuple = ()
    source: str = ""

    @property
    def names(self) -> list[str]:
        return list(self.regions)

    def reference(self, ref) -> np.ndarray:
        """Reference TAC: a column name, a prefix matching several columns, or a list of names (their mean)."""
        cols = match_regions(self.regions, ref)
        return np.mean([self.regions[c] for c in cols], axis=0)


class RegionNotFoundError(KeyError, ValueError):
    """A region name that matches no column (a KeyError for old callers, a ValueError for the CLI)."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


def closest(name: str, choices) -> str | None:
    """The choice most like ``name`` (difflib), or None when none is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    if not close:  # case and separators differ most often: Left-Caudate vs left_caudate
        folded = {re.sub(r"[\W_]+", "", c).lower(): c for c in choices}
        hit = difflib.get_close_matches(re.sub(r"[\W_]+", "", name).lower(), list(folded), n=1, cutoff=0.8)
        close = [folded[h] for h in hit]
    return close[0] if close else None


def did_you_mean(name: str, choices) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or ``""``."""
    close = closest(name, choices)
    return f" (did you mean {close!r}?)" if close else ""


def _columns_hint(regions) -> str:
    names = list(regions)
    return ", ".join(names[:12]) + (f", ... ({len(names)} in all)" if len(names) > 12 else "")


def match_regions(regions, ref) -> list[str]:
    """Column names a reference specification selects (exact name, list of names, or prefix).

    Raises
    ------
    ValueError
        For an empty name (a prefix "" would select every column).
    RegionNotFoundError
        (a KeyError) when a name matches no column, with the closest column as a suggestion.
    """
    if isinstance(ref, (list, tuple)):
        if not ref:
            raise ValueError("empty reference list")
        if not all(isinstance(r, str) and r.strip() for r in ref):
            raise ValueError(f"the reference list {list(ref)!r} holds an empty or non-text name")
        missing = [r for r in ref if r not in regions]
        if missing:
            hints = "".join(did_you_mean(m, regions) for m in missing)
            raise RegionNotFoundError(f"reference region(s) {missing} not in the table{hints}; "
                                      f"columns are {_columns_hint(regions)}")
        return list(ref)
    if not isinstance(ref, str):
        raise TypeError(f"ref must be a region name or a list of names, got {type(ref).__name__}")
    if not ref.strip():
        raise ValueError(f"the reference region name is empty ({ref!r}); name a column, e.g. "
                         f"{next(iter(regions), 'cerebellum')!r}")
    if ref in regions:
        return [ref]
    cols = [c for c in regions if c.startswith(ref)]
    if not cols:
        raise RegionNotFoundError(f"no column named or starting with {ref!r}{did_you_mean(ref, regions)}; "
                                  f"columns are {_columns_hint(regions)}")
    return cols


# ---------------------------------------------------------------- reading: bytes -> text -> cells


def _read_bytes(path: str) -> bytes:
    """The file's bytes, refusing what is not a readable file of sensible size."""
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise ValueError(f"{path} is {size / 2 ** 20:.0f} MiB; TAC tables larger than "
                             f"{MAX_FILE_BYTES / 2 ** 20:.0f} MiB are not read (at most {MAX_FRAMES} frames)")
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist") from None
    except OSError as err:
        raise ValueError(f"{path} cannot be read: {err.strerror or err}") from None


def _decode(path: str, raw: bytes, notes: list) -> str:
    """Text of a table: UTF-8 (a BOM skipped), or UTF-16 with a BOM; anything else refused by byte position."""
    if raw.startswith(codecs.BOM_UTF8):
        notes.append(f"{path}: skipped the UTF-8 byte-order mark at the start of the file")
        raw = raw[len(codecs.BOM_UTF8):]
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError as err:
            raise ValueError(f"{path}: starts with a UTF-16 byte-order mark but byte position {err.start} "
                             "is not valid UTF-16; save the table as UTF-8") from None
        notes.append(f"{path}: read as UTF-16 (BIDS tables are UTF-8)")
        return text
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise ValueError(f"{path}: byte position {nul} (line {line}) is a NUL byte: "
                         "this is a binary file or UTF-16 without a byte-order mark, not a UTF-8 text table")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        pos = err.start
        line = raw.count(b"\n", 0, pos) + 1
        col = pos - (raw.rfind(b"\n", 0, pos) + 1) + 1
        guess = raw[max(0, pos - 8):pos + 8].decode("cp1252", errors="replace")
        raise ValueError(
            f"{path} is not UTF-8: byte 0x{raw[pos]:02x} at byte position {pos} (line {line}, character {col}) "
            f"cannot be decoded as UTF-8 (read as Latin-1/Windows-1252 it would be {guess!r}); BIDS tables "
            "are UTF-8: save the file again as UTF-8") from None


def _lines(text: str) -> list[tuple[int, str]]:
    """(line number from 1, line) of every non-blank line; only \\n, \\r\\n and \\r end a line."""
    return [(i + 1, ln) for i, ln in enumerate(re.split(r"\r\n|\r|\n", text)) if ln.strip()]


def _separator(path: str, header: str, notes: list) -> str:
    """The field separator, from the header line: tab, or a comma or semicolon (with a note)."""
    if "\t" in header:
        return "\t"
    for sep in (";", ","):
        if sep in header:
            notes.append(f"{path}: read as {_SEP_NAMES[sep]}-separated ({sep!r}); BIDS tables are tab-separated")
            return sep
    if len(header.split()) > 1:
        raise ValueError(f"{path}: the header line is separated by spaces, not tabs ({header[:60]!r}); BIDS TAC "
                         "tables are tab-separated: frame_start<TAB>frame_end<TAB>region ...")
    return "\t"


def _split(path: str, lines: list, sep: str) -> list[list[str]]:
    """Fields of each line, stripped; quotes as in CSV."""
    out = []
    for lineno, line in lines:
        try:
            fields = next(csv.reader([line], delimiter=sep, strict=True))
        except csv.Error as err:
            raise ValueError(f"{path}, line {lineno}: cannot be split into fields ({err})") from None
        out.append([f.strip() for f in fields])
    return out


def _cells(path: str, text: str, notes: list) -> tuple[list[str], list[int], list[list[str]]]:
    """Header, line numbers of the data rows, and their fields; row lengths checked."""
    lines = _lines(text)
    if not lines:
        raise ValueError(f"{path} is empty (a TAC table needs a header line and one line per frame)")
    if len(lines) - 1 > MAX_FRAMES:
        raise ValueError(f"{path} has {len(lines) - 1} data lines (frames); petsim reads at most {MAX_FRAMES} "
                         "frames per table")
    sep = _separator(path, lines[0][1], notes)
    header, *rows = _split(path, lines, sep)
    for (lineno, line), fields in zip(lines[1:], rows):
        if len(fields) != len(header):
            other = [s for s in _SEP_NAMES if s != sep and s in line]
            hint = (f" (the line holds {_SEP_NAMES[other[0]]}s but the header is {_SEP_NAMES[sep]}-separated)"
                    if other else "")
            raise ValueError(f"{path}, line {lineno}: {len(fields)} field(s), but the header has {len(header)}{hint}")
    return header, [ln for ln, _ in lines[1:]], rows


# ---------------------------------------------------------------- reading: cells -> columns


def _check_header(path: str, header: list[str], rows: list[list[str]], notes: list) -> list[int]:
    """Indices of the columns to keep; duplicate, empty or missing names refused."""
    keep = []
    for j, name in enumerate(header):
        if name:
            keep.append(j)
        elif all(not r[j] for r in rows):  # a trailing separator, as spreadsheets write
            notes.append(f"{path}: column {j + 1} has no name and no values; ignored")
        else:
            after = f" (after {header[j - 1]!r})" if j else ""
            raise ValueError(f"{path}: column {j + 1}{after} has no name in the header line but holds values; "
                             "name it or remove it")
    seen: dict[str, int] = {}
    for j in keep:
        if header[j] in seen:
            raise ValueError(f"{path}: column name {header[j]!r} appears twice (columns {seen[header[j]] + 1} and "
                             f"{j + 1}); each column needs its own name")
        seen[header[j]] = j
    for col in ("frame_start", "frame_end"):
        if col not in seen:
            close = closest(col, [c for c in seen if c not in NON_REGION_COLUMNS])
            hint = f" ({close!r} looks like it: rename it to {col!r})" if close else ""
            raise ValueError(f"{path} has no {col!r} column{hint}; BIDS-PET TAC tables need frame_start and "
                             f"frame_end (s); the header has {_columns_hint(seen)}")
    return keep


def _number(path: str, lineno: int, col: str, text: str) -> float:
    if text.lower() in MISSING:
        return math.nan
    if not _NUMBER.match(text):
        hint = " (decimal commas are not read: write 1.5, not 1,5)" if re.fullmatch(r"[+-]?\d+,\d+", text) else ""
        raise ValueError(f"{path}, line {lineno}, column {col!r}: {text[:40]!r} is not a number{hint}")
    return float(text)


def _column(path: str, name: str, j: int, lines: list[int], rows: list[list[str]]) -> np.ndarray:
    return np.array([_number(path, ln, name, r[j]) for ln, r in zip(lines, rows)], dtype=float)


def _lines_at(lines: list[int], mask: np.ndarray) -> str:
    """``line 3`` or ``lines 3, 5 and 9 more``."""
    bad = [lines[i] for i in np.flatnonzero(mask)]
    return (("line " if len(bad) == 1 else "lines ") + ", ".join(map(str, bad[:5]))
            + (f" and {len(bad) - 5} more" if len(bad) > 5 else ""))


def _check_region(path: str, name: str, values: np.ndarray, lines: list[int]) -> None:
    """Refuse a region column with some n/a, non-finite or absurd values (all n/a is dropped earlier)."""
    missing = np.isnan(values)
    if missing.any():
        raise ValueError(f"{path}, column {name!r}: n/a at {_lines_at(lines, missing)} but values elsewhere; "
                         "a TAC needs a value in every frame (fill the frames, or remove the column)")
    huge = ~(np.abs(values) <= MAX_ACTIVITY_BQ_PER_ML)
    if huge.any():
        i = int(np.flatnonzero(huge)[0])
        raise ValueError(f"{path}, line {lines[i]}, column {name!r}: {values[i]:g} Bq/mL is not a finite activity "
                         f"concentration within +-{MAX_ACTIVITY_BQ_PER_ML:g} Bq/mL (check the units)")


def _check_times(path: str, start: np.ndarray, end: np.ndarray, lines: list[int], max_end_s: float,
                 converted: str = "") -> None:
    """Frame times (s): finite, from injection, each after the last, ending after they start, not too late.

    ``converted`` is added to every message when the file's times were not in s.
    """
    if start.size < 2:
        raise ValueError(f"{path} has {start.size} frame(s); fitting a TAC needs at least 2")
    for col, t in (("frame_start", start), ("frame_end", end)):
        bad = ~np.isfinite(t)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            shown = "n/a (no value)" if np.isnan(t[i]) else f"{t[i]}"
            raise ValueError(f"{path}, line {lines[i]}, column {col!r}: {shown} is not a time; every frame needs "
                             "finite start and end times (s)")
    checks = [
        (start < 0, "frame_start", lambda i: f"frame starts at {start[i]:g} s, before injection (times are s "
                                             "from injection, >= 0)"),
        (end > max_end_s, "frame_end", lambda i: f"frame ends at {end[i]:g} s, after {max_end_s:g} s "
                                                 f"({max_end_s / 3600:.1f} h), the latest time read (times in ms?)"),
        (end <= start, "frame_end", lambda i: f"frame ends ({end[i]:g} s) before or when it starts ({start[i]:g} s)"),
    ]
    prev = np.r_[np.nan, start[:-1]]
    prev_end = np.r_[np.nan, end[:-1]]
    checks += [
        (start <= prev, "frame_start", lambda i: f"frame starts at {start[i]:g} s, not after the previous frame "
                                                 f"(line {lines[i - 1]}, {prev[i]:g} s); frames must be in time order"),
        (start < prev_end - _OVERLAP_TOL_S, "frame_start",
         lambda i: f"frame starts ({start[i]:g} s) before the previous frame (line {lines[i - 1]}) ends "
                   f"({prev_end[i]:g} s); frames must not overlap"),
    ]
    for bad, col, message in checks:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{path}, line {lines[i]}, column {col!r}: {message(i)}{converted}")


def _check_duration(path: str, columns: dict, lines: list[int]) -> None:
    """A ``frame_duration`` column (s), if any, must equal frame_end - frame_start."""
    if "frame_duration" not in columns:
        return
    dur = columns["frame_end"] - columns["frame_start"]
    bad = ~(np.abs(columns["frame_duration"] - dur) <= 1e-3 + 1e-6 * np.abs(dur))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{path}, line {lines[i]}, column 'frame_duration': {columns['frame_duration'][i]:g} s, but "
                         f"frame_end - frame_start is {dur[i]:g} s")


# ---------------------------------------------------------------- the _tacs.json sidecar


def sidecar_path(path) -> str:
    """``x_tacs.tsv`` -> ``x_tacs.json`` (the BIDS sidecar of a table)."""
    root, ext = os.path.splitext(os.fspath(path))
    return (root if ext.lower() in (".tsv", ".csv", ".txt") else os.fspath(path)) + ".json"


def read_sidecar(path) -> dict | None:
    """The JSON sidecar of a table as a dict, or None when there is none."""
    side = sidecar_path(path)
    if not os.path.isfile(side):
        return None
    raw = _read_bytes(side)
    try:
        meta = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        raise ValueError(f"{side}: byte position {err.start} is not UTF-8; JSON sidecars are UTF-8") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{side}, line {err.lineno}, character {err.colno}: not valid JSON ({err.msg})") from None
    except RecursionError:
        raise ValueError(f"{side}: nested too deeply to be a sidecar") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{side}: a sidecar must be a JSON object ({{...}}), not a {type(meta).__name__}")
    return meta


def activity_factor(unit: str) -> float | None:
    """Factor from ``unit`` to Bq/mL (``"kBq/mL"`` -> 1000), or None if not an activity concentration."""
    m = _ACTIVITY_UNIT.match(unit.strip())
    if not m:
        return None
    base = 1.0 if m["base"].lower() == "bq" else 3.7e10
    per_ml = 1e-3 if m["volume"].lower() == "l" else 1.0
    prefix = m["prefix"]
    if prefix not in _PREFIX:  # IGNORECASE let "K" or "g" through; mBq and MBq differ, so be exact
        return None
    return _PREFIX[prefix] * base * per_ml


def _unit_of(side: str, meta: dict, column: str, default: str) -> tuple[str, str]:
    """A column's unit and where it was found: its description's "Units", else (regions) a top-level
    "Units", else the default."""
    desc = meta.get(column)
    unit = desc.get("Units") if isinstance(desc, dict) and "Units" in desc else None
    where = f"{column!r}.Units"
    if unit is None and column not in ("frame_start", "frame_end") and isinstance(meta.get("Units"), str):
        unit, where = meta["Units"], "top-level Units"
    if unit is None:
        return default, "default"
    if not isinstance(unit, str):
        raise ValueError(f"{side}: {where} must be a string such as {default!r}, not {unit!r}")
    return unit, where


def _unit_factors(path: str, meta: dict | None, names: list[str], notes: list) -> dict:
    """Factor per column to s (frame times) or Bq/mL (regions), from the sidecar."""
    if meta is None:
        notes.append(f"{path}: no sidecar {os.path.basename(sidecar_path(path))}; frame times taken in "
                     f"{TIME_UNIT}, activity in {ACTIVITY_UNIT}")
        return {}
    side = sidecar_path(path)
    factors, read = {}, {}
    for name in names:
        if name in ("frame_start", "frame_end", "frame_duration"):
            unit, where = _unit_of(side, meta, name, TIME_UNIT)
            factor = _TIME_UNITS_S.get(unit.strip().lower())
            kinds = "s or min"
        elif name in NON_REGION_COLUMNS:
            continue
        else:
            unit, where = _unit_of(side, meta, name, ACTIVITY_UNIT)
            factor = activity_factor(unit)
            kinds = "Bq/mL, kBq/mL, MBq/mL, nCi/mL, uCi/mL (or per cc, per L)"
        if factor is None:
            raise ValueError(f"{side}: column {name!r} has Units {unit!r} ({where}), which petsim does not read; "
                             f"use {kinds}")
        factors[name] = factor
        if factor != 1.0:
            read.setdefault(unit, []).append(name)
    for unit, cols in read.items():
        notes.append(f"{path}: {len(cols)} column(s) in {unit} (from {os.path.basename(side)}), converted to "
                     f"{TIME_UNIT if cols[0].startswith('frame_') else ACTIVITY_UNIT}")
    return factors


def _check_sidecar_frames(path: str, meta: dict | None, start_s: np.ndarray, end_s: np.ndarray) -> None:
    """Top-level FrameTimesStart / FrameDuration (s), where the sidecar has them, must match the table."""
    if not meta:
        return
    side = sidecar_path(path)
    for key, table in (("FrameTimesStart", start_s), ("FrameDuration", end_s - start_s)):
        if key not in meta:
            continue
        vals = meta[key]
        if not isinstance(vals, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                 for v in vals):
            raise ValueError(f"{side}: {key} must be a list of numbers (s)")
        if len(vals) != table.size:
            raise ValueError(f"{side}: {key} has {len(vals)} values but {path} has {table.size} frames")
        bad = np.flatnonzero(~(np.abs(np.asarray(vals, float) - table) <= 1e-3 + 1e-6 * np.abs(table)))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{side}: {key}[{i}] = {vals[i]:g} s, but frame {i} of {path} has {table[i]:g} s")


# ---------------------------------------------------------------- reading: the whole table


def read_tac_table(path, *, max_frame_end_s: float = MAX_FRAME_END_S) -> TacTable:
    """Read a BIDS-PET derivative TAC table (see the module docstring for what is accepted).

    Parameters
    ----------
    path : str or path-like
        The table (``*_tacs.tsv``); its ``*_tacs.json`` sidecar is read if present.
    max_frame_end_s : float
        Latest frame end accepted (s); raise it for long-lived isotopes.

    Returns
    -------
    TacTable
        Frame times in min, TACs in Bq/mL; ``notes`` say what was converted or dropped.

    Raises
    ------
    ValueError
        Naming the file, and the line and column, for anything that cannot be read unambiguously.
    """
    path = os.fspath(path)
    notes: list[str] = []
    header, lines, rows = _cells(path, _decode(path, _read_bytes(path), notes), notes)
    keep = _check_header(path, header, rows, notes)
    meta = read_sidecar(path)
    factors = _unit_factors(path, meta, [header[j] for j in keep], notes)
    columns = {header[j]: _column(path, header[j], j, lines, rows) * factors.get(header[j], 1.0) for j in keep}
    start_s, end_s = columns["frame_start"], columns["frame_end"]
    converted = [n for n in ("frame_start", "frame_end") if factors.get(n, 1.0) != 1.0]
    _check_times(path, start_s, end_s, lines, max_frame_end_s,
                 f" (converted to s: {sidecar_path(path)} gives {' and '.join(converted)} in other units)"
                 if converted else "")
    _check_duration(path, columns, lines)
    _check_sidecar_frames(path, meta, start_s, end_s)
    regions, dropped = {}, []
    for name, values in columns.items():
        if name in NON_REGION_COLUMNS:
            continue
        if np.isnan(values).all():
            dropped.append(name)
            continue
        _check_region(path, name, values, lines)
        regions[name] = values
    if dropped:
        notes.append(f"{path}: dropped {len(dropped)} column(s) that are n/a in every frame: {', '.join(dropped)}")
    if not regions:
        raise ValueError(f"{path} has no region column with values" + (" (all are n/a)" if dropped else "")
                         + "; a TAC table has frame_start, frame_end and one column per region")
    try:
        start, end = check_frames(start_s / 60.0, end_s / 60.0)
    except ValueError as err:  # _check_times should have caught it; keep the file name if not
        raise ValueError(f"{path}: {err}") from None
    return TacTable(start, end, regions, tuple(notes), tuple(dropped), path)


def read_reference_tac(path, frame_start_min, frame_end_min) -> TacTable:
    """A reference TAC in its own table (one region column), on the same frames as the target table.

    Parameters
    ----------
    path : str or path-like
        Table with ``frame_start``, ``frame_end`` (s) and one region column (units from its sidecar).
    frame_start_min, frame_end_min : array_like
        The target table's frame times (min); the reference must have the same (to 1 ms).

    Returns
    -------
    TacTable with exactly one region.
    """
    ref = read_tac_table(path)
    if len(ref.regions) != 1:
        raise ValueError(f"{ref.source}: a reference table needs exactly one region column, it has "
                         f"{len(ref.regions)}: {_columns_hint(ref.regions)}")
    start, end = np.asarray(frame_start_min, float), np.asarray(frame_end_min, float)
    if ref.frame_start_min.size != start.size:
        raise ValueError(f"{ref.source} has {ref.frame_start_min.size} frames, the TAC table has {start.size}; the "
                         "reference must be sampled on the same frames")
    bad = np.flatnonzero((np.abs(ref.frame_start_min - start) * 60.0 > 1e-3)
                         | (np.abs(ref.frame_end_min - end) * 60.0 > 1e-3))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{ref.source}, data row {i + 1}: frame {ref.frame_start_min[i] * 60:g}-"
                         f"{ref.frame_end_min[i] * 60:g} s, but the TAC table has {start[i] * 60:g}-{end[i] * 60:g} s; "
                         "the reference must be sampled on the same frames (frame_start, frame_end)")
    return ref


# ---------------------------------------------------------------- writing


def tac_sidecar(region_names) -> dict:
    """The ``_tacs.json`` column descriptions petsim writes: frame times in s, regions in Bq/mL."""
    meta = {
        "frame_start": {"LongName": "Frame start", "Description": "Start of the frame, from injection",
                        "Units": TIME_UNIT},
        "frame_end": {"LongName": "Frame end", "Description": "End of the frame, from injection",
                      "Units": TIME_UNIT},
    }
    for name in region_names:
        meta[name] = {"Description": f"Mean activity concentration in region {name} over the frame",
                      "Units": ACTIVITY_UNIT}
    if "Units" not in meta:  # PETPrep's top-level key, read by tools that do not read column descriptions
        meta["Units"] = ACTIVITY_UNIT
    return meta


def write_json_atomic(path, obj) -> str:
    """Write ``obj`` as indented JSON under a temporary name, then rename (world-readable)."""
    write_text_atomic(path, json.dumps(obj, indent=2) + "\n")
    return os.fspath(path)


def write_tac_table(path, frame_start_min, frame_end_min, tacs: dict) -> str:
    """Write a TAC table (seconds in the file) and its ``_tacs.json`` sidecar, each atomically.

    Returns the table's path.
    """
    start, end = check_frames(frame_start_min, frame_end_min)
    if not tacs:
        raise ValueError("no TACs to write")
    cols = {name: check_tac(v, start.size, f"TAC {name!r}") for name, v in tacs.items()}
    for name in cols:
        if not name or name != name.strip() or any(c in name for c in "\t\n\r") or name in NON_REGION_COLUMNS:
            raise ValueError(f"invalid region name {name!r}")
    rows = ([repr(float(start[i] * 60.0)), repr(float(end[i] * 60.0)), *(repr(float(v[i])) for v in cols.values())]
            for i in range(start.size))
    write_tsv_lines(path, ["frame_start", "frame_end", *cols], rows)
    write_json_atomic(sidecar_path(path), tac_sidecar(cols))
    return os.fspath(path)
