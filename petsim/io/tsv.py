"""Tab-separated tables as lists of row dictionaries (BIDS uses TSV with a header row)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from petsim.io.atomic import atomic_path


def _format(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else repr(float(value))
    if hasattr(value, "item"):  # numpy scalar
        return _format(value.item())
    return str(value)


def write_tsv(path, rows, columns=None) -> Path:
    """Write ``rows`` (dicts) as a TSV file; ``columns`` fixes the order (default: first-seen order)."""
    rows = list(rows)
    if columns is None:
        columns = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            fh.write("\t".join(columns) + "\n")
            for row in rows:
                fh.write("\t".join(_format(row.get(c)) for c in columns) + "\n")
    return Path(path)


def _parse(text: str):
    if text in ("n/a", ""):
        return None
    if text in ("true", "false"):
        return text == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def read_tsv(path) -> list[dict]:
    """Read a TSV file written by :func:`write_tsv` (numbers parsed, ``n/a`` -> None)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such table: {path}")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        return [{k: _parse(v) for k, v in row.items()} for row in reader]
