"""The ``Phantom`` object: labels, partial-volume fractions and attenuation on a grid.

Storage (why it stays small): a label index per voxel at voxel centres plus,
for boundary voxels only, the label index of each of ``supersample**3``
sub-samples. ``fraction(name)`` builds one float32 map on demand (4 bytes per
voxel); ``fractions`` stacks all of them ((n_regions + 1) x 4 bytes per voxel,
about 1.5 GB for 45 regions on a 256 x 256 x 126 grid), so prefer
``fraction(name)`` or ``fractions_of(names)`` in loops.
"""

from __future__ import annotations

import numpy as np

from petsim.core.atomic import ensure_dir, write_text_atomic
from petsim.core.nifti import save_nifti
from petsim.core.tsv import tsv_text
from petsim.grid import Grid
from petsim.phantom import shapes
from petsim.phantom.region import Region, check_regions


class Phantom:
    """A labelled object on a grid with supersampled partial-volume fractions.

    Build one with :func:`petsim.phantom.load` or :meth:`Phantom.from_nifti`.

    Attributes
    ----------
    name : str
    grid : Grid
    regions : tuple of Region
        In id order; ``fractions[i]`` belongs to ``regions[i - 1]``, ``fractions[0]`` is air.
    info : dict
        Definition metadata (e.g. published target volumes and their sources per region).
    """

    def __init__(self, name: str, grid: Grid, regions, centre, boundary_index, boundary_labels, mu_per_cm_by_index,
                 info: dict | None = None):
        self.name = name
        self.grid = grid
        regions = check_regions(regions)
        self._n = len(regions)
        self._centre = centre
        self._bidx = boundary_index
        self._bsub = boundary_labels
        self._mu_index = np.asarray(mu_per_cm_by_index, dtype=np.float32)
        if self._mu_index.shape != (self._n + 1,):
            raise ValueError(f"need one attenuation value per region plus air ({self._n + 1}), got {self._mu_index.shape}")
        self.info = dict(info or {})
        vol = self._index_volumes()
        self.regions = tuple(Region(r.id, r.name, r.structure, r.hemisphere, r.tissue, float(vol[i + 1]))
                             for i, r in enumerate(regions))
        self._by_name = {r.name: i + 1 for i, r in enumerate(self.regions)}
        self._labels = None

    # -- regions ---------------------------------------------------------------------------
    @property
    def region_names(self) -> tuple:
        return tuple(r.name for r in self.regions)

    @property
    def structures(self) -> tuple:
        """Distinct structure names, in id order."""
        return tuple(dict.fromkeys(r.structure for r in self.regions))

    def region(self, name: str) -> Region:
        """The region called ``name``; KeyError listing the known names otherwise."""
        return self.regions[self._index(name) - 1]

    def _index(self, name: str) -> int:
        try:
            return self._by_name[name]
        except (KeyError, TypeError):
            raise KeyError(f"phantom {self.name!r} has no region {name!r}; known regions: {', '.join(self.region_names)}") from None

    def _index_volumes(self) -> np.ndarray:
        n = self._n + 1
        interior = np.bincount(self._centre.ravel(), minlength=n).astype(np.float64)
        interior -= np.bincount(self._centre.ravel()[self._bidx], minlength=n)
        sub = np.bincount(self._bsub.ravel(), minlength=n) / max(self._bsub.shape[1], 1)
        return (interior + sub)[:n] * self.grid.voxel_volume_ml

    # -- images ----------------------------------------------------------------------------
    @property
    def labels(self) -> np.ndarray:
        """int32 label image: each voxel's region id (largest fraction; 0 = air)."""
        if self._labels is None:
            index = self._centre.astype(np.int32)
            if self._bidx.size:
                majority = np.empty(self._bidx.size, dtype=np.int64)
                shapes.majority_label(self._bsub, self._n + 1, majority)
                index.ravel()[self._bidx] = majority
            ids = np.array([0] + [r.id for r in self.regions], dtype=np.int32)
            self._labels = ids[index]
        return self._labels

    def fraction(self, name: str) -> np.ndarray:
        """float32 partial-volume fraction (0..1) of region ``name`` in each voxel."""
        return self._fraction_index(self._index(name))

    def _fraction_index(self, i: int) -> np.ndarray:
        f = (self._centre == i).astype(np.float32)
        if self._bidx.size:
            f.ravel()[self._bidx] = (self._bsub == i).mean(axis=1, dtype=np.float32)
        return f

    def fractions_of(self, names) -> np.ndarray:
        """float32 (len(names), nx, ny, nz) fractions of the named regions."""
        return np.stack([self.fraction(n) for n in names])

    @property
    def fractions(self) -> np.ndarray:
        """float32 (n_regions + 1, nx, ny, nz); index 0 is air; sums to 1 over axis 0. Built on each call."""
        return np.stack([self._fraction_index(i) for i in range(self._n + 1)])

    @property
    def mu_per_cm(self) -> np.ndarray:
        """float32 linear attenuation coefficient at 511 keV (1/cm), partial-volume weighted."""
        return self.mixed(self._mu_index)

    def mixed(self, value_by_index) -> np.ndarray:
        """float32 image of a per-region value mixed by the partial volumes: ``sum_r f_r(x) v_r``.

        ``value_by_index[0]`` is air's value, ``value_by_index[i]`` that of ``regions[i - 1]``.
        """
        v = np.asarray(value_by_index, dtype=np.float32)
        if v.shape != (self._n + 1,):
            raise ValueError(f"need one value per region plus air ({self._n + 1}), got shape {v.shape}")
        out = v[self._centre]
        if self._bidx.size:
            out.ravel()[self._bidx] = v[self._bsub].mean(axis=1, dtype=np.float32)
        return out

    def region_table(self) -> str:
        """The region table as TSV text (id, name, structure, hemisphere, tissue, volume_ml)."""
        return tsv_text(("id", "name", "structure", "hemisphere", "tissue", "volume_ml"),
                        ([str(r.id), r.name, r.structure, r.hemisphere, r.tissue, f"{r.volume_ml:.4f}"] for r in self.regions))

    # -- output ----------------------------------------------------------------------------
    def to_nifti(self, out_dir) -> dict:
        """Write ``<name>_labels.nii.gz``, ``_fractions.nii.gz`` (4D, volume 0 = air), ``_mu.nii.gz``
        (1/cm) and ``_regions.tsv`` into ``out_dir`` with the grid's affine. Returns the paths."""
        out = ensure_dir(out_dir)
        aff = self.grid.affine()
        paths = {k: out / f"{self.name}_{k}{ext}" for k, ext in
                 (("labels", ".nii.gz"), ("fractions", ".nii.gz"), ("mu", ".nii.gz"), ("regions", ".tsv"))}
        save_nifti(paths["labels"], self.labels, aff)
        save_nifti(paths["fractions"], np.moveaxis(self.fractions, 0, -1), aff)
        save_nifti(paths["mu"], self.mu_per_cm, aff)
        write_text_atomic(paths["regions"], self.region_table())
        return paths

    def plot(self, path, centre_region: str = "amygdala_l", dpi: int = 120):
        """Three orthogonal slices through the centroid of ``centre_region``, labels coloured and named (PNG)."""
        from petsim.phantom.plotting import plot_orthogonal

        return plot_orthogonal(self, path, centre_region, dpi=dpi)

    def centroid_mm(self, name: str) -> tuple:
        """Fraction-weighted centroid of a region in mm."""
        f = self.fraction(name)
        total = f.sum(dtype=np.float64)
        if total == 0:
            raise ValueError(f"region {name!r} does not intersect the grid")
        return tuple(float((f.sum(axis=tuple(b for b in range(3) if b != a), dtype=np.float64)
                            * self.grid.axis_mm(a)).sum() / total) for a in range(3))

    def resample(self, grid: Grid, supersample: int = 3) -> "Phantom":
        """This phantom's label image carried onto another grid, with partial-volume fractions.

        Each target voxel is sampled at ``supersample**3`` points, each taking the label
        of the source voxel that contains it (nearest neighbour; outside the source grid
        is air). Meant for user anatomy; analytic phantoms are better re-loaded with
        ``load(name, grid=grid)``, which samples the exact shapes.
        """
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be a petsim.Grid, got {type(grid).__name__}")
        if isinstance(supersample, bool) or not isinstance(supersample, (int, np.integer)) or supersample < 1:
            raise ValueError(f"supersample must be a positive integer, got {supersample!r}")
        ids = np.array([0] + [r.id for r in self.regions])
        source = np.searchsorted(ids, self.labels).astype(self._centre.dtype)  # label index per source voxel
        s = int(supersample)
        offs = (np.arange(s) + 0.5) / s - 0.5
        src_idx = []
        for a in range(3):  # source voxel index of every sub-sample position along each axis
            pts = (grid.axis_mm(a)[:, None] + offs[None, :] * grid.voxel_size_mm[a]).ravel()
            k = np.floor((pts - self.grid.origin_mm[a]) / self.grid.voxel_size_mm[a] + 0.5).astype(np.int64)
            src_idx.append(np.where((k >= 0) & (k < self.grid.shape[a]), k, -1).reshape(grid.shape[a], s))
        ix, iy, iz = (i.reshape(-1) for i in src_idx)
        padded = np.pad(source, ((0, 1), (0, 1), (0, 1)))  # index -1 lands in the zero (air) pad
        sub = np.empty((grid.n_voxels, s ** 3), dtype=source.dtype)
        nx, ny, nz = grid.shape
        for i in range(nx):  # one x-plane at a time keeps memory at ny*nz*s^3
            plane = padded[np.ix_(ix[i * s:(i + 1) * s], iy, iz)]  # (s, ny*s, nz*s)
            plane = plane.reshape(s, ny, s, nz, s).transpose(1, 3, 0, 2, 4).reshape(ny * nz, s ** 3)
            sub[i * ny * nz:(i + 1) * ny * nz] = plane
        boundary = np.flatnonzero(np.any(sub != sub[:, :1], axis=1))
        majority = np.empty(grid.n_voxels, dtype=np.int64)
        shapes.majority_label(sub, self._n + 1, majority)
        centre = majority.astype(self._centre.dtype).reshape(grid.shape)
        regions = [Region(r.id, r.name, r.structure, r.hemisphere, r.tissue) for r in self.regions]
        return Phantom(self.name, grid, regions, centre, boundary.astype(np.int64), sub[boundary].copy(), self._mu_index,
                       dict(self.info, resampled_from=self.grid))

    @classmethod
    def from_nifti(cls, label_path, table_path, name: str | None = None, mu_per_cm=None) -> "Phantom":
        """User anatomy from a label NIfTI plus a TSV region table (see docs/phantom.md)."""
        from petsim.phantom.user import phantom_from_nifti

        return phantom_from_nifti(label_path, table_path, name=name, mu_per_cm=mu_per_cm)

    def __repr__(self) -> str:
        return f"Phantom({self.name!r}, {len(self.regions)} regions, grid shape {self.grid.shape}, voxel {self.grid.voxel_size_mm} mm)"
