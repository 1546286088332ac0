"""Linear operators: the vocabulary the system model is composed of.

``A = diag(norm * attn) . P . PSF`` is written ``Diagonal(norm * attn) @ P @ psf``.
"""

from petsim.operators.base import ComposedOperator, Diagonal, Identity, LinearOperator, ScaledOperator, adjoint_mismatch

__all__ = ["LinearOperator", "ComposedOperator", "Diagonal", "Identity", "ScaledOperator", "adjoint_mismatch"]
