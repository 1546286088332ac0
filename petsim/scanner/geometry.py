"""Cylindrical PET scanners and presets of real ones (numbers cited next to each preset)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Scanner:
    """A cylindrical PET scanner: ``n_rings`` rings of ``n_crystals_per_ring`` crystals.

    Parameters
    ----------
    name : str
        Display name.
    n_rings : int
        Number of detector rings.
    n_crystals_per_ring : int
        Crystals per ring (even).
    inner_radius_mm : float
        Radius of the crystals' front faces (mm).
    doi_mm : float
        Average depth of interaction (mm); LORs end on the cylinder of radius
        ``inner_radius_mm + doi_mm`` (:attr:`ring_radius_mm`).
    ring_spacing_mm : float
        Axial distance between ring centres (mm).
    crystal_size_mm : tuple of 3 float
        Crystal (transaxial, axial, depth) size in mm.
    radial_bin_mm : float, optional
        Default arc-corrected radial bin width (mm). Default: half the crystal
        pitch at the centre, ``pi * ring_radius_mm / n_crystals_per_ring``.
    n_radial : int, optional
        Default number of radial bins. Default: as many bins as fit in 0.8 of
        the ring diameter.
    crystal_angle_offset_rad : float
        Azimuth of crystal 0 (rad).
    stir_name : str, optional
        The scanner's name in STIR (``Scanner.cxx``), written as ``originating system`` in
        Interfile headers so that STIR builds its own model of the scanner.
    energy_window_kev : tuple of 2 float, optional
        The scanner's usual energy window (lower, upper) in keV, for file headers only
        (the simulation has no energy physics).

    Examples
    --------
    >>> s = Scanner("toy", n_rings=4, n_crystals_per_ring=64, inner_radius_mm=100.0,
    ...             doi_mm=0.0, ring_spacing_mm=4.0, crystal_size_mm=(4.0, 4.0, 20.0))
    >>> s.ring_z_mm
    array([-6., -2.,  2.,  6.])
    """

    name: str
    n_rings: int
    n_crystals_per_ring: int
    inner_radius_mm: float
    doi_mm: float
    ring_spacing_mm: float
    crystal_size_mm: tuple
    radial_bin_mm: float | None = None
    n_radial: int | None = None
    crystal_angle_offset_rad: float = 0.0
    stir_name: str | None = None
    energy_window_kev: tuple | None = None

    def __post_init__(self):
        for name in ("n_rings", "n_crystals_per_ring"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"Scanner.{name} must be a positive integer, got {v!r}")
        if self.n_crystals_per_ring % 2 or self.n_crystals_per_ring < 4:
            raise ValueError(f"Scanner.n_crystals_per_ring must be even and >= 4, got {self.n_crystals_per_ring}")
        for name in ("inner_radius_mm", "ring_spacing_mm"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"Scanner.{name} must be positive and finite (mm), got {v!r}")
        if not (np.isfinite(self.doi_mm) and self.doi_mm >= 0):
            raise ValueError(f"Scanner.doi_mm must be >= 0 (mm), got {self.doi_mm!r}")
        size = tuple(float(v) for v in np.broadcast_to(np.asarray(self.crystal_size_mm, dtype=float), (3,)))
        if not all(np.isfinite(v) and v > 0 for v in size):
            raise ValueError(f"Scanner.crystal_size_mm must be three positive sizes (mm), got {self.crystal_size_mm!r}")
        object.__setattr__(self, "crystal_size_mm", size)
        radius = self.inner_radius_mm + self.doi_mm
        if self.radial_bin_mm is None:
            object.__setattr__(self, "radial_bin_mm", float(np.pi * radius / self.n_crystals_per_ring))
        elif not (np.isfinite(self.radial_bin_mm) and self.radial_bin_mm > 0):
            raise ValueError(f"Scanner.radial_bin_mm must be positive (mm), got {self.radial_bin_mm!r}")
        if self.n_radial is None:
            object.__setattr__(self, "n_radial", int(2 * (0.8 * radius // self.radial_bin_mm)))
        if self.n_radial < 1 or 0.5 * self.n_radial * self.radial_bin_mm >= radius:
            raise ValueError(
                f"Scanner.n_radial={self.n_radial} bins of {self.radial_bin_mm} mm do not fit inside "
                f"the ring radius {radius} mm"
            )

    @property
    def ring_radius_mm(self) -> float:
        """Effective radius where LORs end: inner radius + average depth of interaction (mm)."""
        return float(self.inner_radius_mm + self.doi_mm)

    @property
    def ring_z_mm(self) -> np.ndarray:
        """Axial centres of the rings (mm), centred on 0, shape ``(n_rings,)``."""
        return (np.arange(self.n_rings) - 0.5 * (self.n_rings - 1)) * self.ring_spacing_mm

    @property
    def axial_fov_mm(self) -> float:
        """Axial field of view, ``n_rings * ring_spacing_mm`` (mm)."""
        return self.n_rings * self.ring_spacing_mm

    @property
    def crystal_angles_rad(self) -> np.ndarray:
        """Azimuth of each crystal centre (rad), shape ``(n_crystals_per_ring,)``."""
        n = self.n_crystals_per_ring
        return self.crystal_angle_offset_rad + 2 * np.pi * np.arange(n) / n

    def layout_3d(self, span: int = 9, max_ring_diff: int | None = None, view_mashing: int = 1,
                  n_radial: int | None = None, radial_bin_mm: float | None = None):
        """Fully 3D sinogram layout (STIR-like segments with axial compression ``span``).

        Parameters
        ----------
        span : int
            Odd axial compression (1 = no compression, 3, 5, 7, 9 ...).
        max_ring_diff : int, optional
            Largest ring difference kept. Default ``n_rings - 1``.
        view_mashing : int
            Number of adjacent views added into one (divides ``n_crystals_per_ring // 2``).
        n_radial, radial_bin_mm : optional
            Radial sampling; defaults from the scanner.
        """
        from petsim.scanner.layout import SinogramLayout

        return SinogramLayout.fully_3d(self, span=span, max_ring_diff=max_ring_diff, view_mashing=view_mashing,
                                       n_radial=n_radial, radial_bin_mm=radial_bin_mm)

    def layout_2d(self, view_mashing: int = 1, n_radial: int | None = None, cross_planes: bool = True,
                  radial_bin_mm: float | None = None):
        """2D (single-segment) layout: ``2 n_rings - 1`` direct + cross planes, or ``n_rings`` direct planes.

        With ``cross_planes`` the planes are ``ring_spacing_mm / 2`` apart and a
        cross plane combines the ring pairs ``(r, r+1)`` and ``(r+1, r)``.
        """
        from petsim.scanner.layout import SinogramLayout

        return SinogramLayout.planar(self, cross_planes=cross_planes, view_mashing=view_mashing,
                                     n_radial=n_radial, radial_bin_mm=radial_bin_mm)


# Presets. Each number carries its source.
_PRESETS = {
    # Siemens/CTI ECAT EXACT HR+ (ECAT 962).
    # Geometry as in STIR, src/buildblock/Scanner.cxx, entry E962 ("ECAT 962", "ECAT HR+"):
    # 32 rings, 576 detectors per ring, inner ring radius 412.0 mm, average depth of
    # interaction 7.0 mm, ring spacing 4.85 mm, arc-corrected bin size 2.25 mm, 288 bins.
    # Crystals 4.05 x 4.39 x 30 mm BGO, 32 rings x 576, 15.5 cm axial FOV:
    # Brix G et al., J Nucl Med 1997;38:1614-1623 ("Performance evaluation of the whole-body
    # PET scanner ECAT EXACT HR+ following the IEC standard").
    "hrplus": dict(name="Siemens ECAT EXACT HR+", n_rings=32, n_crystals_per_ring=576, inner_radius_mm=412.0,
                   doi_mm=7.0, ring_spacing_mm=4.85, crystal_size_mm=(4.05, 4.39, 30.0), radial_bin_mm=2.25,
                   n_radial=288, stir_name="ECAT HR+",
                   # the manufacturer's default window of the ECAT EXACT family (header only)
                   energy_window_kev=(350.0, 650.0)),
    # GE Discovery MI, 4-ring (20 cm axial FOV) version.
    # STIR, src/buildblock/Scanner.cxx, entry DiscoveryMI4ring: 36 rings, 544 (2 x 272) detectors per
    # ring, effective ring radius 380.5 mm (inner 371.1 mm + 9.4 mm DOI), ring spacing 5.52296 mm,
    # bin size 2.206 mm. STIR's 401 arc-corrected bins (marked TODO there) would span 88 cm, more
    # than the ring; we keep the 70 cm transaxial FOV instead: 317 bins of 2.206 mm.
    # Crystals 3.95 x 5.3 x 25 mm LBS, 70 cm transaxial FOV: Hsu DFC et al., J Nucl Med
    # 2017;58:1511-1518 ("Studies of a next-generation silicon-photomultiplier-based
    # time-of-flight PET/CT system").
    "ge_discovery_mi": dict(name="GE Discovery MI (4 rings)", n_rings=36, n_crystals_per_ring=544,
                            inner_radius_mm=371.1, doi_mm=9.4, ring_spacing_mm=5.52296,
                            crystal_size_mm=(3.95, 5.3, 25.0), radial_bin_mm=2.206, n_radial=317,
                            stir_name="GE Discovery MI 4 rings"),
}
_ALIASES = {"hr+": "hrplus", "ecat962": "hrplus", "ecat_hrplus": "hrplus", "dmi": "ge_discovery_mi",
            "discovery_mi": "ge_discovery_mi"}


def available_scanners() -> list:
    """Names accepted by :func:`get_scanner`."""
    return sorted(_PRESETS)


def get_scanner(name: str) -> Scanner:
    """A preset scanner by name: ``"hrplus"`` (ECAT EXACT HR+) or ``"ge_discovery_mi"``.

    Examples
    --------
    >>> get_scanner("hrplus").ring_radius_mm
    419.0
    """
    return Scanner(**_PRESETS[preset_key(name)])


def preset_key(name: str) -> str:
    """The preset a scanner name means (``"HR+"``, ``"ecat962"`` -> ``"hrplus"``); ValueError if none."""
    if not isinstance(name, str):
        raise TypeError(f"scanner name must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key not in _PRESETS:
        raise ValueError(f"unknown scanner {name!r}; available: {', '.join(available_scanners())}")
    return key
