"""Fit results as small dataclasses and as a TSV table a user can open."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import numpy as np

from petsim.core.tsv import format_cell, write_tsv_lines


@dataclass(frozen=True)
class FitResult:
    """One model fitted to one region.

    Attributes
    ----------
    model : str
        Model name (``"srtm"``, ``"logan_ref"``, ...).
    bp_nd : float
        Binding potential BP_ND (unitless); NaN when the fit failed.
    params : dict
        The model's other parameters (rates in 1/min, times in min).
    se : dict
        Standard errors of ``BP_ND`` and parameters where the model has them.
    converged : bool
        False when the fit did not converge or a parameter sits on a bound;
        ``message`` says why.
    message : str
    fitted : ndarray
        The model's TAC at every frame (Bq/mL), NaN outside the fitted frames
        for graphical methods.
    region : str
    replicates : ndarray or None
        BP_ND of each bootstrap replicate when the fit was bootstrapped (NaN where a refit
        failed); the fits of several windows of one scan from :func:`fit_windows` share their
        resampled TACs, so replicate k of two windows pair.
    """

    model: str
    bp_nd: float
    params: dict = field(default_factory=dict)
    se: dict = field(default_factory=dict)
    converged: bool = True
    message: str = ""
    fitted: np.ndarray | None = None
    region: str = ""
    replicates: np.ndarray | None = field(default=None, repr=False, compare=False)

    def with_region(self, region: str) -> "FitResult":
        return replace(self, region=region)


def _fmt(value) -> str:
    """A results cell: floats to 6 significant digits, non-finite and missing as ``n/a``."""
    return format_cell(value, digits=6)


def results_to_table(results) -> tuple[list[str], list[list[str]]]:
    """Columns and rows (strings) of a results table.

    Columns are ``region, model, BP_ND, BP_ND_se``, then every parameter seen
    (each followed by its ``_se`` when any result has one), then
    ``converged, message``.
    """
    results = list(results)
    names: list[str] = []
    with_se: set[str] = set()
    for r in results:
        for k in r.params:
            if k not in names:
                names.append(k)
        with_se.update(k for k in r.se if k != "BP_ND")
    cols = ["region", "model", "BP_ND", "BP_ND_se"]
    for k in names:
        cols.append(k)
        if k in with_se:
            cols.append(f"{k}_se")
    cols += ["converged", "message"]
    rows = []
    for r in results:
        row = {"region": r.region, "model": r.model, "BP_ND": r.bp_nd, "BP_ND_se": r.se.get("BP_ND"),
               "converged": bool(r.converged), "message": r.message}
        for k in names:
            row[k] = r.params.get(k)
            if k in with_se:
                row[f"{k}_se"] = r.se.get(k)
        rows.append([_fmt(row.get(c)) for c in cols])
    return cols, rows


def format_results(results) -> str:
    """A plain-text table for the terminal (region, model, BP_ND, SE, R1, converged)."""
    lines = [f"{'region':<28} {'model':<10} {'BP_ND':>9} {'SE':>8} {'R1':>7} {'conv':>5}  message"]
    for r in results:
        se = r.se.get("BP_ND", float("nan"))
        r1 = r.params.get("R1", float("nan"))
        lines.append(
            f"{r.region:<28} {r.model:<10} {_fmt(r.bp_nd):>9} {_fmt(se):>8} {_fmt(r1):>7} "
            f"{'yes' if r.converged else 'NO':>5}  {r.message}"
        )
    return "\n".join(lines)


def write_results_tsv(path, results) -> str:
    """Write results to a TSV (atomically: temporary name, then rename). Returns the path."""
    cols, rows = results_to_table(results)
    write_tsv_lines(path, cols, rows)
    return os.fspath(path)
