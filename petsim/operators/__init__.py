"""The system model: the one builder (:func:`system_model`) of ``scale * diag(multiplicative) . P . PSF``.

The acquisition model and every reconstruction build their operators with
:func:`system_model` (a :class:`SystemModel`); the vocabulary it is composed
of (:class:`~petsim.core.linear_operator.LinearOperator` and its compositions)
lives in :mod:`petsim.core.linear_operator`.
"""

from petsim.core.linear_operator import (ComposedOperator, Diagonal, Identity, LinearOperator, ScaledOperator,
                                         adjoint_mismatch)
from petsim.operators.attenuation import (attenuation_factors, attenuation_from_line_integrals,
                                          layout_attenuation_factors)
from petsim.operators.psf import GaussianPSF
from petsim.operators.system import SystemModel, system_model

__all__ = ["SystemModel", "system_model", "GaussianPSF", "attenuation_factors", "layout_attenuation_factors",
           "attenuation_from_line_integrals",
           # re-exported from petsim.core.linear_operator for convenience
           "LinearOperator", "ComposedOperator", "Diagonal", "Identity", "ScaledOperator", "adjoint_mismatch"]
