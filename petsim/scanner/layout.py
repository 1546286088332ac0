"""Sinogram layouts: which ring pairs and views each sinogram bin holds, and its LOR end points.

Conventions (as in STIR, arc-corrected data):

- A bin is ``(sinogram, view, radial)``. Sinograms are ordered by segment
  ``0, -1, +1, -2, +2, ...`` and, within a segment, by axial position.
- A LOR of view angle ``phi`` and signed radial offset ``s`` is the line
  ``{p : p_x cos(phi) + p_y sin(phi) = s}``; it starts at
  ``s n - h t`` and ends at ``s n + h t`` on the detector cylinder of radius
  ``R`` (``n = (cos phi, sin phi)``, ``t = (-sin phi, cos phi)``,
  ``h = sqrt(R^2 - s^2)``).
- Ring difference ``d = ring_end - ring_start``. A segment holds the ring
  pairs with ``d`` in ``[min_ring_diff, max_ring_diff]``; one sinogram of it
  holds the pairs with the same ring sum ``ring_start + ring_end`` (axial
  compression, ``span``). Its representative LOR runs from
  ``z_mid - dz/2`` to ``z_mid + dz/2`` with ``dz`` the segment's mean ring
  difference times the ring spacing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Segment:
    """One segment: its number, ring-difference range and number of axial positions (sinograms)."""

    number: int
    min_ring_diff: int
    max_ring_diff: int
    n_axial: int
    first_sinogram: int

    @property
    def sinograms(self) -> slice:
        """Slice of this segment's sinograms in the layout's first axis."""
        return slice(self.first_sinogram, self.first_sinogram + self.n_axial)


@dataclass(frozen=True, eq=False)
class LayoutSubset:
    """Subset ``index`` of ``n_subsets`` of a layout's bins: the views it holds.

    Made by :meth:`SinogramLayout.subset`. Projectors take it in place of
    ``views``; :meth:`take` cuts the subset's bins out of a full sinogram, so
    reconstruction never indexes the sinogram's axes itself (a TOF or list-mode
    layout can hand out subsets of another kind through the same interface).
    """

    index: int
    n_subsets: int
    views: np.ndarray
    shape: tuple

    def take(self, sinogram) -> np.ndarray:
        """The subset's bins of ``sinogram`` (full layout shape), as a C-contiguous array of shape ``self.shape``."""
        return np.ascontiguousarray(np.asarray(sinogram)[:, self.views, :])

    def __len__(self) -> int:
        return len(self.views)


def interleaved_subsets(shape, n_subsets: int) -> list:
    """Balanced view subsets ``k, k + n_subsets, ...`` (every subset spans 0..pi) of bins shaped ``shape``."""
    n_sino, n_views, n_radial = (int(n) for n in shape)
    n_subsets = _positive_int(n_subsets, "n_subsets")
    if n_subsets > n_views:
        raise ValueError(f"n_subsets={n_subsets} exceeds the number of views {n_views}")
    out = []
    for k in range(n_subsets):
        views = np.arange(k, n_views, n_subsets, dtype=np.int64)
        out.append(LayoutSubset(k, n_subsets, views, (n_sino, len(views), n_radial)))
    return out


def _positive_int(value, name) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class SinogramLayout:
    """Bins of a (2D or fully 3D) sinogram of a :class:`~petsim.scanner.Scanner`.

    Make one with :meth:`Scanner.layout_3d` or :meth:`Scanner.layout_2d`.

    Attributes
    ----------
    shape : tuple
        ``(n_sinograms, n_views, n_radial)``.
    view_angles_rad : ndarray
        View angles in ``[0, pi)``, shape ``(n_views,)``.
    radial_mm : ndarray
        Signed radial offsets of the bin centres (mm), uniform (arc-corrected).
    sinogram_segment, sinogram_z_mm, sinogram_dz_mm, ring_pairs_per_sinogram : ndarray
        Per sinogram: segment number, axial mid-point (mm), axial difference
        ``z_end - z_start`` of the representative LOR (mm), number of ring pairs
        combined into it.
    segments : list of Segment
    ring_pair_sinogram : ndarray of int, shape (n_rings, n_rings)
        Sinogram index holding ring pair ``(ring_start, ring_end)``, -1 if none.
    """

    def __init__(self, scanner, segment_ranges, view_mashing=1, n_radial=None, radial_bin_mm=None, kind="3d"):
        view_mashing = _positive_int(view_mashing, "view_mashing")
        half = scanner.n_crystals_per_ring // 2
        if half % view_mashing:
            raise ValueError(f"view_mashing={view_mashing} must divide the {half} unmashed views of {scanner.name}")
        n_radial = scanner.n_radial if n_radial is None else _positive_int(n_radial, "n_radial")
        radial_bin_mm = scanner.radial_bin_mm if radial_bin_mm is None else float(radial_bin_mm)
        if not (np.isfinite(radial_bin_mm) and radial_bin_mm > 0):
            raise ValueError(f"radial_bin_mm must be positive (mm), got {radial_bin_mm!r}")
        if 0.5 * n_radial * radial_bin_mm >= scanner.ring_radius_mm:
            raise ValueError(
                f"{n_radial} radial bins of {radial_bin_mm} mm span more than the ring diameter "
                f"{2 * scanner.ring_radius_mm} mm of {scanner.name}"
            )
        self.scanner = scanner
        self.kind = kind
        self.view_mashing = view_mashing
        self.n_views = half // view_mashing
        self.n_radial = n_radial
        self.radial_bin_mm = radial_bin_mm
        self.view_angles_rad = np.arange(self.n_views) * (np.pi / self.n_views)
        self.radial_mm = (np.arange(n_radial) - 0.5 * (n_radial - 1)) * radial_bin_mm
        self._build_sinograms(segment_ranges)

    # -- construction -------------------------------------------------------------------------
    def _build_sinograms(self, segment_ranges):
        nr = self.scanner.n_rings
        r_start, r_end = np.meshgrid(np.arange(nr), np.arange(nr), indexing="ij")
        diff, rsum = r_end - r_start, r_start + r_end
        pair_sino = np.full((nr, nr), -1, dtype=np.int64)
        seg_of, z_of, dz_of, count_of, rep_pair = [], [], [], [], []
        segments = []
        for number, dmin, dmax in segment_ranges:
            in_seg = (diff >= dmin) & (diff <= dmax)
            sums = np.unique(rsum[in_seg])
            mean_diff = 0.5 * (dmin + dmax)
            segments.append(Segment(int(number), int(dmin), int(dmax), len(sums), len(seg_of)))
            for s in sums:
                members = in_seg & (rsum == s)
                pair_sino[members] = len(seg_of)
                d = diff[members]
                # representative ring pair: ring difference closest to the segment mean
                best = d[np.lexsort((-d, np.abs(d), np.abs(d - mean_diff)))[0]]
                rep_pair.append(((s - best) // 2, (s + best) // 2))
                seg_of.append(number)
                z_of.append((0.5 * s - 0.5 * (nr - 1)) * self.scanner.ring_spacing_mm)
                dz_of.append(mean_diff * self.scanner.ring_spacing_mm)
                count_of.append(int(members.sum()))
        self.segments = segments
        self.sinogram_segment = np.asarray(seg_of, dtype=np.int64)
        self.sinogram_z_mm = np.asarray(z_of, dtype=np.float64)
        self.sinogram_dz_mm = np.asarray(dz_of, dtype=np.float64) + 0.0
        self.ring_pairs_per_sinogram = np.asarray(count_of, dtype=np.int64)
        self.ring_pair_sinogram = pair_sino
        self._rep_rings = np.asarray(rep_pair, dtype=np.int64).reshape(-1, 2)

    @classmethod
    def fully_3d(cls, scanner, span=9, max_ring_diff=None, view_mashing=1, n_radial=None, radial_bin_mm=None):
        span = _positive_int(span, "span")
        if span % 2 == 0:
            raise ValueError(f"span must be odd (1, 3, 5, ...), got {span}")
        nr = scanner.n_rings
        mrd = nr - 1 if max_ring_diff is None else max_ring_diff
        if isinstance(mrd, bool) or not isinstance(mrd, (int, np.integer)) or not 0 <= mrd <= nr - 1:
            raise ValueError(
                f"max_ring_diff must be an integer in [0, {nr - 1}] for {scanner.name}, got {max_ring_diff!r}"
            )
        half = (span - 1) // 2
        ranges = [(0, -min(half, mrd), min(half, mrd))]
        k = 1
        while k * span - half <= mrd:
            lo, hi = k * span - half, min(k * span + half, mrd)
            ranges += [(-k, -hi, -lo), (k, lo, hi)]
            k += 1
        layout = cls(scanner, ranges, view_mashing, n_radial, radial_bin_mm, kind="3d")
        layout.span, layout.max_ring_diff = span, int(mrd)
        return layout

    @classmethod
    def planar(cls, scanner, cross_planes=True, view_mashing=1, n_radial=None, radial_bin_mm=None):
        ranges = [(0, -1, 1)] if cross_planes and scanner.n_rings > 1 else [(0, 0, 0)]
        layout = cls(scanner, ranges, view_mashing, n_radial, radial_bin_mm, kind="2d")
        layout.span, layout.max_ring_diff = (3, 1) if ranges[0][2] else (1, 0)
        return layout

    # -- sizes --------------------------------------------------------------------------------
    @property
    def n_sinograms(self) -> int:
        return len(self.sinogram_segment)

    @property
    def shape(self) -> tuple:
        return (self.n_sinograms, self.n_views, self.n_radial)

    @property
    def n_bins(self) -> int:
        return int(np.prod(self.shape))

    def __repr__(self):
        return (f"SinogramLayout({self.kind}, {self.scanner.name}, shape={self.shape}, "
                f"segments={[s.number for s in self.segments]}, mashing={self.view_mashing})")

    # -- views and LORs -----------------------------------------------------------------------
    def _views(self, views) -> np.ndarray:
        if views is None:
            return np.arange(self.n_views)
        v = np.atleast_1d(np.asarray(views))
        if v.ndim != 1 or not np.issubdtype(v.dtype, np.integer):
            raise TypeError(f"views must be a 1D array of integer view indices, got {views!r}")
        if v.size and (v.min() < 0 or v.max() >= self.n_views):
            raise ValueError(f"views must lie in [0, {self.n_views - 1}], got min {v.min()} max {v.max()}")
        return v.astype(np.int64)

    def subset_views(self, n_subsets: int, subset: int) -> np.ndarray:
        """View indices of one of ``n_subsets`` interleaved, balanced subsets: ``subset, subset + n_subsets, ...``."""
        n_subsets = _positive_int(n_subsets, "n_subsets")
        if n_subsets > self.n_views:
            raise ValueError(f"n_subsets={n_subsets} exceeds the number of views {self.n_views}")
        if isinstance(subset, bool) or not isinstance(subset, (int, np.integer)) or not 0 <= subset < n_subsets:
            raise ValueError(f"subset must be an integer in [0, {n_subsets - 1}], got {subset!r}")
        return np.arange(subset, self.n_views, n_subsets, dtype=np.int64)

    @property
    def geometry(self):
        """The sinogram's geometry for analytic methods (:class:`~petsim.scanner.sinogram_geometry.SinogramGeometry`:
        view angles, radial offsets, axial centres and slopes, obliqueness), computed once."""
        if getattr(self, "_geometry", None) is None:
            from petsim.scanner.sinogram_geometry import derive_sinogram_geometry

            self._geometry = derive_sinogram_geometry(self)
        return self._geometry

    def subset(self, index: int, n_subsets: int) -> LayoutSubset:
        """Subset ``index`` of ``n_subsets`` interleaved, balanced view subsets (see :meth:`subset_views`).

        Examples
        --------
        >>> from petsim.scanner import get_scanner
        >>> layout = get_scanner("hrplus").layout_2d(view_mashing=2)
        >>> sub = layout.subset(1, 16)
        >>> sub.views[:3], sub.shape
        (array([ 1, 17, 33]), (63, 9, 288))
        """
        views = self.subset_views(n_subsets, index)
        return LayoutSubset(int(index), int(n_subsets), views, (self.n_sinograms, len(views), self.n_radial))

    def subsets(self, n_subsets: int) -> list:
        """All ``n_subsets`` subsets, in order: ``[subset(0, n), ..., subset(n - 1, n)]``."""
        return [self.subset(k, n_subsets) for k in range(_positive_int(n_subsets, "n_subsets"))]

    def lor_parameters(self, views=None):
        """Compact description of the LORs for ``views``: what on-the-fly projectors use.

        Returns
        -------
        cos_phi, sin_phi : ndarray, shape (len(views),)
        radial_mm : ndarray, shape (n_radial,)
        z_mm, dz_mm : ndarray, shape (n_sinograms,)
        radius_mm : float
        """
        v = self._views(getattr(views, "views", views))
        phi = self.view_angles_rad[v]
        return (np.cos(phi), np.sin(phi), self.radial_mm.copy(), self.sinogram_z_mm.copy(),
                self.sinogram_dz_mm.copy(), self.scanner.ring_radius_mm)

    def lor_endpoints(self, views=None):
        """LOR end points on the detector cylinder for the given views (all views if ``None``).

        Returns
        -------
        start, end : ndarray of float32, shape (n_sinograms, len(views), n_radial, 3)
            End points in mm, ``(x, y, z)``.
        """
        c, s, radial, z, dz, radius = self.lor_parameters(views)
        h = np.sqrt(radius**2 - radial**2)                     # (R,)
        cx, sy = c[:, None], s[:, None]                        # (V, 1)
        mid_x, mid_y = radial * cx, radial * sy                 # (V, R)
        shape = (self.n_sinograms, len(c), self.n_radial, 3)
        start = np.empty(shape, dtype=np.float32)
        end = np.empty(shape, dtype=np.float32)
        start[..., 0] = mid_x + h * sy
        start[..., 1] = mid_y - h * cx
        end[..., 0] = mid_x - h * sy
        end[..., 1] = mid_y + h * cx
        start[..., 2] = (z - 0.5 * dz)[:, None, None]
        end[..., 2] = (z + 0.5 * dz)[:, None, None]
        return start, end

    def crystal_pairs(self, views=None):
        """Nearest crystals of each bin's representative LOR (for normalisation).

        Returns
        -------
        ring_a, crystal_a, ring_b, crystal_b : ndarray of int, shape (n_sinograms, len(views), n_radial)
            Start (a) and end (b) crystals.
        """
        c, s, radial, _, _, radius = self.lor_parameters(views)
        h = np.sqrt(radius**2 - radial**2)
        ang_a = np.arctan2(radial * s[:, None] - h * c[:, None], radial * c[:, None] + h * s[:, None])
        ang_b = np.arctan2(radial * s[:, None] + h * c[:, None], radial * c[:, None] - h * s[:, None])
        n = self.scanner.n_crystals_per_ring
        pitch = 2 * np.pi / n

        def nearest(angle):
            return np.round((angle - self.scanner.crystal_angle_offset_rad) / pitch).astype(np.int64) % n

        shape = (self.n_sinograms, len(c), self.n_radial)
        ring_a = np.broadcast_to(self._rep_rings[:, 0, None, None], shape).copy()
        ring_b = np.broadcast_to(self._rep_rings[:, 1, None, None], shape).copy()
        crystal_a = np.broadcast_to(nearest(ang_a)[None], shape).copy()
        crystal_b = np.broadcast_to(nearest(ang_b)[None], shape).copy()
        return ring_a, crystal_a, ring_b, crystal_b
