"""Read phantom definitions (TOML files in ``phantoms/``) and rasterise them: :func:`load`."""

from __future__ import annotations

from importlib import resources

import numpy as np

from petsim.core.toml import loads_toml
from petsim.grid import Grid
from petsim.phantom import shapes
from petsim.phantom.phantom import Phantom
from petsim.phantom.raster import rasterise
from petsim.phantom.region import TISSUES, Region

MIRROR = np.array([-1.0, 1.0, 1.0])


def available() -> tuple:
    """Names of the phantom definitions shipped in ``phantoms/`` (plus ``mni152``)."""
    files = resources.files("petsim.phantom_data")
    names = sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".toml"))
    return tuple(names) + ("mni152",)


def read_definition(name: str) -> dict:
    """Parsed TOML definition of the phantom ``name``."""
    names = available()
    if name not in names:
        raise ValueError(f"unknown phantom {name!r}; available: {', '.join(names)}")
    text = resources.files("petsim.phantom_data").joinpath(f"{name}.toml").read_text(encoding="utf-8")
    return loads_toml(text, source=f"phantom definition {name}.toml")


def _get(spec: dict, key: str, where: str):
    if key not in spec:
        raise ValueError(f"{where}: missing required key {key!r}")
    return spec[key]


def build(definition: dict):
    """Turn a parsed definition into (regions, component table, mu per label index, info)."""
    mu_tissue = dict(_get(definition, "mu_per_cm", "phantom definition"))
    missing = [t for t in TISSUES if t not in mu_tissue]
    if missing:
        raise ValueError(f"[mu_per_cm] must give a value for every tissue; missing {missing}")
    ribbon = definition.get("ribbon")
    groups = definition.get("volume_groups", {})
    regions, rows, mu, info = [], [], [0.0], {"targets": {}, "groups": groups, "description": definition.get("phantom", {})}
    seen = set()
    for n, spec in enumerate(_get(definition, "region", "phantom definition")):
        where = f"region #{n + 1} ({spec.get('structure', '?')})"
        structure = _get(spec, "structure", where)
        tissue = _get(spec, "tissue", where)
        paired = bool(spec.get("paired", False))
        precedence = int(_get(spec, "precedence", where))
        sides = (("left", "_l", -1.0), ("right", "_r", 1.0)) if paired else (("midline", "", 0.0),)
        for hemisphere, suffix, hemi in sides:
            name = structure + suffix
            if name in seen:
                raise ValueError(f"{where}: region name {name!r} defined twice")
            seen.add(name)
            rid = len(regions) + 1
            regions.append(Region(rid, name, structure, hemisphere, tissue))
            mu.append(float(spec.get("mu_per_cm", mu_tissue[tissue])))
            info["targets"][name] = {k: spec[k] for k in ("volume_ml", "volume_group", "source") if k in spec}
            for shape in _get(spec, "shape", where):
                kind = _get(shape, "kind", where)
                if kind in ("ribbon", "envelope"):
                    if ribbon is None:
                        raise ValueError(f"{where}: shape kind {kind!r} needs a [ribbon] table")
                    centre, axes = ribbon["centre_mm"], ribbon["semi_axes_mm"]
                else:
                    centre, axes = _get(shape, "centre_mm", where), _get(shape, "semi_axes_mm", where)
                rot = np.asarray(shape.get("rotation_deg", (0.0, 0.0, 0.0)), dtype=float)
                clips = np.asarray(shape.get("clip", []), dtype=float).reshape(-1, 4)
                centre = np.asarray(centre, dtype=float)
                if hemi > 0:  # the right side mirrors the left definition through x = 0
                    if kind not in ("ribbon", "envelope"):
                        centre = centre * MIRROR
                    rot = rot * np.array([1.0, -1.0, -1.0])
                    clips = clips * np.array([-1.0, 1.0, 1.0, 1.0])
                row = shapes.component_row(kind, rid, centre, axes, rot, clips, hemi=hemi,
                                           ribbon=ribbon if kind in ("ribbon", "envelope") else None)
                rows.append((-precedence, len(rows), row))
    rows.sort(key=lambda t: (t[0], t[1]))
    table = np.array([r[2] for r in rows]) if rows else np.zeros((0, shapes.N_COLS))
    return regions, table, np.array(mu, dtype=np.float32), info


def default_grid(table: np.ndarray, voxel_size_mm, margin_mm: float = 4.0) -> Grid:
    """Grid centred at the origin (scanner isocentre) that just covers every component."""
    vox = np.broadcast_to(np.asarray(voxel_size_mm, dtype=float), (3,))
    if np.any(vox <= 0) or not np.all(np.isfinite(vox)):
        raise ValueError(f"voxel_size_mm must be positive and finite, got {voxel_size_mm!r}")
    bbox = table[:, shapes.C_BBOX:shapes.C_BBOX + 6]
    half = np.maximum(np.abs(bbox[:, 0::2].min(axis=0)), np.abs(bbox[:, 1::2].max(axis=0))) + margin_mm
    shape = tuple(int(n) for n in np.ceil(2.0 * half / vox))
    return Grid(shape, tuple(vox))


def load(name: str = "mor_brain", voxel_size_mm=2.0, grid: Grid | None = None, supersample: int | None = None) -> Phantom:
    """Rasterise a phantom on a grid.

    Parameters
    ----------
    name : str
        ``"mor_brain"`` (default analytic brain), ``"mni152"`` (folded cortex from the ICBM 2009a
        tissue maps, needs ``pip install petsim[anatomy]``), or a test object: ``"cylinder"``,
        ``"nema_iec"``, ``"shepp_logan_3d"``. See :func:`available`.
    voxel_size_mm : float or 3 floats
        Voxel size of the default grid (centred at the origin, just covering the object).
    grid : Grid, optional
        Any grid (overrides ``voxel_size_mm``); it need not be centred on the object.
    supersample : int, optional
        Sub-samples per axis in each boundary voxel; default 4 for voxels >= 1.5 mm, else 3.

    Returns
    -------
    Phantom

    Examples
    --------
    >>> ph = load("mor_brain", voxel_size_mm=2.0)          # doctest: +SKIP
    >>> ph.region("amygdala_l").volume_ml                   # doctest: +SKIP
    """
    if not isinstance(name, str):
        raise TypeError(f"phantom name must be a string, got {type(name).__name__}")
    if grid is not None and not isinstance(grid, Grid):
        raise TypeError(f"grid must be a petsim.Grid, got {type(grid).__name__}")
    if name == "mni152":
        from petsim.phantom.mni152 import load_mni152

        return load_mni152(voxel_size_mm=voxel_size_mm, grid=grid, supersample=supersample)
    definition = read_definition(name)
    regions, table, mu, info = build(definition)
    if grid is None:
        grid = default_grid(table, voxel_size_mm)
    if supersample is None:
        supersample = 4 if min(grid.voxel_size_mm) >= 1.5 else 3
    centre, bidx, bsub = rasterise(table, grid, len(regions), supersample)
    info["supersample"] = supersample
    return Phantom(name, grid, regions, centre, bidx, bsub, mu, info)
