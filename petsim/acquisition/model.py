"""The acquisition model: from activity images on a fine grid to expected count rates."""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from petsim.acquisition import constants as C
from petsim.acquisition.normalisation import bin_efficiency, crystal_efficiencies
from petsim.acquisition.physics import ScanPhysics
from petsim.acquisition.randoms import crystal_pairs_of
from petsim.acquisition.scatter import SinogramLowPass
from petsim.grid import Grid
from petsim.core.isotopes import get_isotope


def default_simulation_grid(recon_grid: Grid, factor: int = 2) -> Grid:
    """A grid ``factor`` times finer than ``recon_grid`` in each axis, covering the same box.

    The data are simulated on this grid so that reconstruction never sees its
    own discretisation (no "inverse crime"); 2x finer in each axis is the
    default, e.g. the HR+ 128 x 128 x 63 grid of 2.25 x 2.25 x 2.425 mm becomes
    256 x 256 x 126 of 1.125 x 1.125 x 1.2125 mm.
    """
    if not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor!r}")
    shape = tuple(int(n * factor) for n in recon_grid.shape)
    vox = tuple(d / factor for d in recon_grid.voxel_size_mm)
    origin = tuple(c - 0.5 * (n - 1) * d for c, n, d in zip(recon_grid.centre_mm, shape, vox))
    return Grid(shape, vox, origin)


def calibration_cylinder_grid(layout, diameter_mm: float, length_mm: float) -> Grid:
    """Grid used to rasterise the calibration cylinder (bins of the layout's radial size)."""
    dxy = float(layout.radial_bin_mm)
    dz = float(layout.scanner.ring_spacing_mm) / 2.0
    nxy = int(np.ceil(diameter_mm / dxy)) + 4
    nz = int(np.ceil(length_mm / dz)) + 2
    return Grid((nxy, nxy, nz), (dxy, dxy, dz))


def cylinder_fraction(grid: Grid, diameter_mm: float, length_mm: float, supersample: int = 4) -> np.ndarray:
    """Fraction of each voxel inside a centred cylinder along z (supersampled in x, y)."""
    x = grid.axis_mm(0)
    y = grid.axis_mm(1)
    z = grid.axis_mm(2)
    dx, dy, dz = grid.voxel_size_mm
    sub = (np.arange(supersample) + 0.5) / supersample - 0.5
    xs = (x[:, None] + sub[None, :] * dx).ravel()
    ys = (y[:, None] + sub[None, :] * dy).ravel()
    inside = (xs[:, None] ** 2 + ys[None, :] ** 2) <= (0.5 * diameter_mm) ** 2
    fxy = inside.reshape(len(x), supersample, len(y), supersample).mean(axis=(1, 3))
    lo, hi = z - 0.5 * dz, z + 0.5 * dz
    fz = np.clip((np.minimum(hi, 0.5 * length_mm) - np.maximum(lo, -0.5 * length_mm)) / dz, 0.0, 1.0)
    return (fxy[:, :, None] * fz[None, None, :]).astype(np.float32)


class AcquisitionModel:
    """Expected unscattered trues of a scanner for images on a (fine) simulation grid.

    ``trues_rate_i = s * eff_i * (P . PSF f)_i`` (cps) for an activity image
    ``f`` in Bq/mL, where ``P`` are line integrals in mm, ``eff_i`` the bin
    efficiency (normalisation x attenuation x axial-compression weight) and
    ``s`` the sensitivity in cps per (Bq/mL x mm), calibrated so that a water
    cylinder (20 cm diameter x 20 cm by default, mu 0.096 /cm) of 1 Bq/mL
    gives ``physics.sensitivity_cps_per_bq_ml`` unscattered trues over all bins
    of the layout (26.4 cps per Bq/mL on the HR+ in 3D, Brix et al. J Nucl Med
    1997;38:1614).

    Parameters
    ----------
    scanner : Scanner
    layout : SinogramLayout
        The sinograms to simulate (2D or 3D); must belong to ``scanner``.
    sim_grid : Grid
        Simulation grid; by default use :func:`default_simulation_grid` of the
        reconstruction grid (2x finer in each axis).
    mu_per_cm : ndarray or None
        Attenuation map on ``sim_grid`` in 1/cm (None: no attenuation).
    physics : ScanPhysics, optional
    isotope : str or Isotope
        For the frames' decay-correction factors.
    projector : str
        A layout projector of :func:`petsim.projectors.get_projector`: ``"joseph"``
        (petsim's projector, the one the reconstruction uses too) or ``"siddon"``
        (the reference).
    crop : bool
        Project on the bounding box of the attenuation map's support (plus a
        PSF margin) instead of the whole simulation grid: the same voxels, so
        the same line integrals, for a fraction of the ray steps. Activity
        outside that box is refused (pass ``crop=False``).

    Notes
    -----
    Memory: five per-bin float32 arrays and two int32 crystal indices (28
    bytes per bin) plus the crystal-pair matrix (about 24 bytes per bin, built
    on first use by the randoms estimate): about 0.5 GB for the HR+ 3D layout
    (span 9, MRD 22, mash 2; 9.9 M bins). LORs are made on the fly.
    """

    def __init__(self, scanner, layout, sim_grid: Grid, mu_per_cm=None, physics: ScanPhysics | None = None,
                 isotope="C-11", projector: str = "joseph", crop: bool = True, progress: bool = True):
        from petsim.operators import system_model
        from petsim.projectors import get_projector

        physics = ScanPhysics() if physics is None else physics
        if not isinstance(physics, ScanPhysics):
            raise TypeError(f"physics must be a ScanPhysics, got {type(physics).__name__}")
        if not isinstance(sim_grid, Grid):
            raise TypeError(f"sim_grid must be a petsim.grid.Grid, got {type(sim_grid).__name__}")
        if getattr(layout, "scanner", scanner) is not scanner and getattr(layout, "scanner", None) != scanner:
            raise ValueError("layout was made by a different scanner than the one given")
        get_projector(projector)  # a known name, or ValueError
        self.scanner, self.layout, self.physics = scanner, layout, physics
        self.full_grid = sim_grid
        self.isotope = get_isotope(isotope)
        self.shape = tuple(layout.shape)
        self._progress = progress

        mu = None
        if physics.attenuation and mu_per_cm is not None:
            mu = sim_grid.check_image(mu_per_cm, "mu_per_cm")
            if np.any(mu < 0):
                raise ValueError(f"mu_per_cm must be >= 0 (1/cm), min is {mu.min():g}")
            if mu.max() > 2.0:
                raise ValueError(f"mu_per_cm has a maximum of {mu.max():g}, implausible in 1/cm at 511 keV "
                                 "(water 0.096, bone <= 0.17); pass the map in 1/cm")
        self._box = self._crop_box(mu) if crop else tuple(slice(0, n) for n in sim_grid.shape)
        lo = [b.start for b in self._box]
        self.grid = Grid(tuple(b.stop - b.start for b in self._box), sim_grid.voxel_size_mm,
                         tuple(o + i * d for o, i, d in zip(sim_grid.origin_mm, lo, sim_grid.voxel_size_mm)))
        if mu is None and physics.attenuation and mu_per_cm is None:
            raise ValueError("physics.attenuation is True but mu_per_cm is None; pass a mu map (1/cm) "
                             "or ScanPhysics(attenuation=False)")

        # normalisation: crystal efficiencies of each bin's two crystals, times the axial-compression weight
        self.pairs = crystal_pairs_of(scanner, layout)
        sd = physics.crystal_efficiency_sd if physics.normalisation else 0.0
        self.crystal_efficiency = crystal_efficiencies(scanner.n_rings, scanner.n_crystals_per_ring, sd, physics.seed)
        self.normalisation = bin_efficiency(self.crystal_efficiency.ravel(), self.pairs.a.reshape(self.shape),
                                            self.pairs.b.reshape(self.shape))
        self.compression = self.pairs.w.reshape(self.shape)
        #: detector pattern (normalisation x compression weight), what scatter keeps
        self.detector_pattern = self.normalisation * self.compression

        # The system model (PSF, projector with LORs made on the fly, attenuation from the mu-map
        # projected by the same projector, detector pattern); its scale is set by the calibration.
        self.system = system_model(self.grid, layout, projector=projector, psf_fwhm_mm=physics.psf_fwhm_mm,
                                   normalisation=self.detector_pattern,
                                   mu_per_cm=None if mu is None else np.ascontiguousarray(mu[self._box]))
        self.projector, self.psf = self.system.projection, self.system.psf
        self.attenuation = (self.system.attenuation if self.system.attenuation is not None
                            else np.ones(self.shape, dtype=np.float32))
        #: multiplicative factor without the dead-time live fraction
        self.efficiency = self.system.multiplicative
        self.sensitivity_cps_per_bq_ml_mm = self._calibrate(projector)
        self.system.scale = self.sensitivity_cps_per_bq_ml_mm
        self.lowpass = SinogramLowPass(layout, physics.scatter_fwhm_mm[0], physics.scatter_fwhm_mm[1],
                                       physics.scatter_view_fwhm_deg)
        #: the normalisation and attenuation the site's reconstruction is given (default: the exact ones),
        #: and their product
        self.site_pattern, self.site_attenuation = self.detector_pattern, self.attenuation
        self.site_efficiency = self.efficiency
        self._projector_name = projector

    def use_site_normalisation(self, pattern) -> None:
        """Give the reconstruction a measured normalisation (bin efficiencies x compression weight, float32).

        The data are still made with the true efficiencies; the frames' multiplicative term and the scatter
        term's detector pattern become the site's (see :mod:`petsim.acquisition.normscan`).
        """
        pattern = np.ascontiguousarray(pattern, dtype=np.float32)
        if pattern.shape != self.shape:
            raise ValueError(f"normalisation has shape {pattern.shape}, expected the layout's {self.shape}")
        if not np.all(np.isfinite(pattern) & (pattern >= 0)):
            raise ValueError("normalisation factors must be finite and >= 0")
        self.site_pattern = pattern
        self.site_efficiency = pattern * self.site_attenuation

    def use_site_attenuation(self, mu_per_cm) -> None:
        """Give the reconstruction the attenuation of another mu-map (1/cm, on the simulation grid): a
        site's mu-map, measured elsewhere or registered with an error. The data keep the true attenuation.

        The model projects a box (the true map's support plus a margin of 4 PSF sigmas and 2 voxels,
        unless it was built with ``crop=False``); a site map with attenuation outside it is refused."""
        from petsim.operators import system_model

        mu = self.full_grid.check_image(mu_per_cm, "site mu_per_cm")
        if not np.all(np.isfinite(mu) & (mu >= 0)):
            raise ValueError("the site's mu-map must be finite and >= 0 (1/cm)")
        inside = mu[self._box]
        outside = float(mu.sum(dtype=np.float64) - inside.sum(dtype=np.float64))
        if outside > 1e-6 * float(mu.sum(dtype=np.float64)):
            raise ValueError("the site's mu-map reaches outside the box the model projects (the true map's "
                             "support plus its margin); build the model with crop=False")
        system = system_model(self.grid, self.layout, projector=self._projector_name,
                              mu_per_cm=np.ascontiguousarray(inside))
        self.site_attenuation = np.ascontiguousarray(system.attenuation, dtype=np.float32)
        self.site_efficiency = self.site_pattern * self.site_attenuation

    def _crop_box(self, mu):
        """Bounding box of ``mu > 0`` grown by 4 PSF sigmas + 2 voxels (whole grid if no map)."""
        shape = self.full_grid.shape
        if mu is None or not np.any(mu > 0):
            return tuple(slice(0, n) for n in shape)
        fwhm = self.physics.psf_fwhm_mm or (0.0, 0.0, 0.0)
        box = []
        for axis in range(3):
            other = tuple(a for a in range(3) if a != axis)
            idx = np.flatnonzero(np.any(mu > 0, axis=other))
            margin = int(np.ceil(4 * fwhm[axis] / 2.3548 / self.full_grid.voxel_size_mm[axis])) + 2
            box.append(slice(max(0, idx[0] - margin), min(shape[axis], idx[-1] + 1 + margin)))
        return tuple(box)

    def crop(self, image, name: str = "activity image") -> np.ndarray:
        """``image`` on the simulation grid cut to the projected box (float32); refuses activity outside it."""
        img = self.full_grid.check_image(image, name)
        inner = img[self._box]
        if np.count_nonzero(inner) != np.count_nonzero(img):
            raise ValueError(f"{name} has activity outside the attenuation map's support (+ margin) that "
                             "the model projects; extend mu_per_cm or build the model with crop=False")
        return np.ascontiguousarray(inner)

    def _calibrate(self, projector: str) -> float:
        """Sensitivity ``s`` (cps per Bq/mL x mm) from a simulated water cylinder of 1 Bq/mL.

        The cylinder is rasterised on its own grid (bins of the layout's radial
        size); the same projection gives its path lengths, hence attenuation
        ``exp(-mu_water L)``, so one projection suffices.
        """
        diam, length = self.physics.calibration_cylinder_mm
        radial_max = float(np.max(np.abs(self.layout.radial_mm)))
        if 0.5 * diam > radial_max:
            raise ValueError(f"calibration cylinder diameter {diam} mm exceeds the radial field of view "
                             f"(2 x {radial_max:.1f} mm); set ScanPhysics.calibration_cylinder_mm")
        grid = calibration_cylinder_grid(self.layout, diam, length)
        cyl = cylinder_fraction(grid, diam, length)
        from petsim.operators import system_model

        path_mm = system_model(grid, self.layout, projector=projector).forward(cyl)
        attn = np.exp(-0.1 * C.WATER_MU_PER_CM * path_mm.astype(np.float64))
        total = float(np.sum(self.detector_pattern * attn * path_mm, dtype=np.float64))
        if total <= 0:
            raise ValueError("calibration cylinder is not seen by any LOR of the layout")
        return self.physics.sensitivity_cps_per_bq_ml / total

    # ------------------------------------------------------------------ projection
    def trues_rate(self, image) -> np.ndarray:
        """Expected unscattered trues rate (cps, float32 sinogram) of one activity image in Bq/mL."""
        return self.system.forward(self.crop(image))

    def project_basis(self, basis_images, progress: bool | None = None) -> np.ndarray:
        """Project each basis image once with the whole physics.

        Parameters
        ----------
        basis_images : sequence of K images or ndarray (K, nx, ny, nz)
            Images on ``sim_grid`` (partial-volume fraction maps, release maps ...),
            unitless weights of 1 Bq/mL.
        progress : bool, optional
            tqdm bar (default: the model's setting).

        Returns
        -------
        ndarray float32, shape (K, *layout.shape)
            Expected unscattered trues rate (cps) per Bq/mL of each basis image,
            with attenuation, normalisation, compression weight and PSF.
            Memory: 4 bytes x K x bins (40 MB per basis image on the HR+ 3D).
        """
        if isinstance(basis_images, np.ndarray) and basis_images.shape == self.grid.shape:
            raise ValueError("basis_images must be a sequence of images (K, *grid.shape); "
                             "wrap a single image in a list")
        k = len(basis_images)
        if k == 0:
            raise ValueError("basis_images is empty")
        out = np.empty((k, *self.shape), dtype=np.float32)
        show = self._progress if progress is None else progress
        for i in tqdm(range(k), desc="project basis", unit="image", disable=None if show else True):
            out[i] = self.trues_rate(basis_images[i])
        return out

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the model's per-bin arrays (end points included)."""
        n = int(np.prod(self.shape))
        return n * (5 * 4 + 2 * 4) + (sum(a.nbytes for a in (self.pairs._matrix.data, self.pairs._matrix.indices,
                                                    self.pairs._matrix.indptr)) if self.pairs._matrix is not None else 0)
