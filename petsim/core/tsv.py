"""Tab-separated tables, the BIDS way: a header row, one row a line, ``n/a`` for a missing value.

One writer and one reader serve every table petsim writes (TAC tables, truth,
estimates, study summaries). Cells are formatted by :func:`format_cell`:

- ``None`` and NaN -> ``n/a``; booleans -> ``true`` / ``false``;
- integers as integers; numpy scalars as the Python number they hold;
- floats exactly (``repr``, so a table reads back to the same bits), or
  rounded to ``digits`` significant digits (``"%.6g"``) for tables meant for
  reading, where any non-finite value is ``n/a``;
- text with tabs and line breaks replaced by spaces (they would break the table).

Examples
--------
>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "t.tsv"
>>> _ = write_tsv(p, [{"region": "a", "BP_ND": 2.5, "ok": True}, {"region": "b", "BP_ND": None}])
>>> p.read_text()
'region\\tBP_ND\\tok\\na\\t2.5\\ttrue\\nb\\tn/a\\tn/a\\n'
>>> read_tsv(p)[1]
{'region': 'b', 'BP_ND': None, 'ok': None}
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from petsim.core.atomic import write_text_atomic

__all__ = ["NA", "format_cell", "parse_cell", "read_tsv", "tsv_text", "write_tsv", "write_tsv_lines"]

#: The BIDS mark of a missing value.
NA = "n/a"


def format_cell(value, digits: int | None = None) -> str:
    """One table cell as text (see the module docstring); ``digits``: significant digits of floats, None: exact."""
    if value is None:
        return NA
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalar -> Python number
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if digits is None:
            return NA if math.isnan(value) else repr(value)
        return NA if not math.isfinite(value) else f"{value:.{int(digits)}g}"
    return str(value).replace("\t", " ").replace("\n", " ")


def tsv_text(header, rows) -> str:
    """The text of a table: ``header`` (column names) and ``rows`` (sequences of cell strings)."""
    lines = ["\t".join(header)]
    lines += ["\t".join(row) for row in rows]
    return "\n".join(lines) + "\n"


def write_tsv_lines(path, header, rows) -> Path:
    """Write a table whose cells are already text (``rows``: sequences of strings), atomically; return the path."""
    return write_text_atomic(path, tsv_text(header, rows))


def columns_of(rows) -> list:
    """The union of the rows' keys, in first-seen order."""
    return list(dict.fromkeys(c for row in rows for c in row))


def write_tsv(path, rows, columns=None, digits: int | None = None) -> Path:
    """Write ``rows`` (dicts) as a table, atomically; return the path.

    Parameters
    ----------
    columns : sequence of str, optional
        Column order; default: every key of the rows, in first-seen order. A
        row without a column gets ``n/a``.
    digits : int, optional
        Significant digits of floats; default: exact (``repr``).
    """
    rows = list(rows)
    columns = columns_of(rows) if columns is None else list(columns)
    return write_tsv_lines(path, columns, ([format_cell(row.get(c), digits) for c in columns] for row in rows))


def parse_cell(text: str):
    """A cell read back: ``n/a`` or empty -> None, ``true``/``false`` -> bool, numbers -> int or float, else str."""
    if text is None or text in (NA, ""):
        return None
    if text in ("true", "false"):
        return text == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def read_tsv(path, delimiter: str = "\t") -> list[dict]:
    """Rows (dicts) of a table written by :func:`write_tsv`, cells parsed by :func:`parse_cell`.

    ``delimiter=","`` reads a CSV table the same way.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such table: {path}")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        return [{k: parse_cell(v) for k, v in row.items()} for row in reader]
