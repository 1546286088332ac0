"""Linear operators: the vocabulary the system model is composed of.

``A = diag(norm * attn) . P . PSF`` is written ``Diagonal(norm * attn) @ P @ psf``,
or built by :func:`system_model`.
"""

from petsim.operators.attenuation import attenuation_factors, layout_attenuation_factors
from petsim.operators.base import ComposedOperator, Diagonal, Identity, LinearOperator, ScaledOperator, adjoint_mismatch
from petsim.operators.psf import GaussianPSF
from petsim.operators.system import system_model

__all__ = ["LinearOperator", "ComposedOperator", "Diagonal", "Identity", "ScaledOperator", "adjoint_mismatch",
           "GaussianPSF", "attenuation_factors", "layout_attenuation_factors", "system_model"]
