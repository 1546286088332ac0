"""Sinogram geometry for rebinning and FBP: owned by the layout (:mod:`petsim.scanner.sinogram_geometry`)."""

from petsim.scanner.sinogram_geometry import SinogramGeometry, derive_sinogram_geometry, sinogram_geometry

__all__ = ["SinogramGeometry", "sinogram_geometry", "derive_sinogram_geometry"]
