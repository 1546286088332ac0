"""BIDS-PET derivative TAC tables: ``frame_start``, ``frame_end`` in seconds, one column per region in Bq/mL."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ._common import write_tsv_atomic
from ._frames import check_frames, check_tac

#: Columns that are frame bookkeeping, not regions.
NON_REGION_COLUMNS = {"frame_start", "frame_end", "frame_duration", "frame_mid", "time", "frame"}


@dataclass(frozen=True)
class TacTable:
    """Frame times (min) and regional TACs (Bq/mL)."""

    frame_start_min: np.ndarray
    frame_end_min: np.ndarray
    regions: dict

    @property
    def names(self) -> list[str]:
        return list(self.regions)

    def reference(self, ref) -> np.ndarray:
        """Reference TAC: a column name, a prefix matching several columns, or a list of names (their mean)."""
        cols = match_regions(self.regions, ref)
        return np.mean([self.regions[c] for c in cols], axis=0)


def match_regions(regions, ref) -> list[str]:
    """Column names a reference specification selects (exact name, list of names, or prefix)."""
    if isinstance(ref, (list, tuple)):
        missing = [r for r in ref if r not in regions]
        if missing:
            raise KeyError(f"reference region(s) {missing} not in the table; columns are {list(regions)}")
        if not ref:
            raise ValueError("empty reference list")
        return list(ref)
    if not isinstance(ref, str):
        raise TypeError(f"ref must be a region name or a list of names, got {type(ref).__name__}")
    if ref in regions:
        return [ref]
    cols = [c for c in regions if c.startswith(ref)]
    if not cols:
        raise KeyError(f"no column named or starting with {ref!r}; columns are {list(regions)}")
    return cols


def read_tac_table(path) -> TacTable:
    """Read a BIDS-PET derivative TAC table (TSV).

    ``frame_start`` and ``frame_end`` are in seconds (converted to min);
    every other column (except ``frame_duration``/``frame_mid``) is a region in Bq/mL.
    """
    path = os.fspath(path)
    with open(path, encoding="utf-8") as fh:
        lines = [ln.rstrip("\n\r") for ln in fh if ln.strip()]
    if not lines:
        raise ValueError(f"{path} is empty")
    header = lines[0].split("\t")
    for col in ("frame_start", "frame_end"):
        if col not in header:
            raise ValueError(f"{path} has no {col!r} column (BIDS-PET TAC tables need frame_start and frame_end in s)")
    rows = [ln.split("\t") for ln in lines[1:]]
    for i, r in enumerate(rows):
        if len(r) != len(header):
            raise ValueError(f"{path} line {i + 2} has {len(r)} fields, the header has {len(header)}")
    def column(j):
        try:
            return np.array([float("nan") if r[j].strip().lower() in ("n/a", "nan", "") else float(r[j]) for r in rows])
        except ValueError as err:
            raise ValueError(f"{path}: column {header[j]!r} is not numeric ({err})") from None
    data = {h: column(j) for j, h in enumerate(header)}
    start, end = check_frames(data["frame_start"] / 60.0, data["frame_end"] / 60.0)
    regions = {h: check_tac(v, start.size, f"column {h!r}") for h, v in data.items() if h not in NON_REGION_COLUMNS}
    if not regions:
        raise ValueError(f"{path} has no region columns")
    return TacTable(start, end, regions)


def write_tac_table(path, frame_start_min, frame_end_min, tacs: dict) -> str:
    """Write a TAC table (seconds in the file) atomically: temporary name, then rename."""
    start, end = check_frames(frame_start_min, frame_end_min)
    if not tacs:
        raise ValueError("no TACs to write")
    cols = {name: check_tac(v, start.size, f"TAC {name!r}") for name, v in tacs.items()}
    for name in cols:
        if "\t" in name or name in NON_REGION_COLUMNS:
            raise ValueError(f"invalid region name {name!r}")
    rows = ([repr(float(start[i] * 60.0)), repr(float(end[i] * 60.0)), *(repr(float(v[i])) for v in cols.values())]
            for i in range(start.size))
    return write_tsv_atomic(path, ["frame_start", "frame_end", *cols], rows)
