"""The ordinary-Poisson likelihood of one frame, shared by MLEM, OSEM and MAP.

For subset ``S`` of the bins (``layout.subset(k, n_subsets)``) the expected
prompts are (see :mod:`petsim.emission`)::

    ybar_S = scale * m_S * (A_S x) + a_S

with ``A_S`` the subset's system model (projector and PSF, from
:func:`petsim.operators.system_model`), ``m_S`` the frame's multiplicative
factors (normalisation x attenuation x live fraction), ``scale`` its scalar
(sensitivity x duration) and ``a_S`` the additive randoms + scatter, all kept
*inside* the model: the prompts are never pre-corrected. This module holds
that formula once; the algorithms only call :meth:`PoissonLikelihood.expected`,
:meth:`PoissonLikelihood.ratio_backprojection` and the sensitivities.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PoissonLikelihood", "poisson_loglik"]


def poisson_loglik(prompts: np.ndarray, expected: np.ndarray) -> float:
    """Poisson log-likelihood ``sum(y log ybar - ybar)`` (the constant ``-log y!`` dropped), in float64."""
    y = prompts.astype(np.float64).ravel()
    yb = expected.astype(np.float64).ravel()
    pos = yb > 0
    if np.any((~pos) & (y > 0)):
        return -np.inf
    return float(np.dot(y[pos], np.log(yb[pos])) - yb.sum())


class PoissonLikelihood:
    """Ordinary-Poisson log-likelihood ``L(x) = sum_S sum_i y_i log ybar_i - ybar_i`` of one frame.

    Parameters
    ----------
    operators : list of LinearOperator
        One system model ``A_S`` per subset (image -> the subset's bins).
    subsets : list
        The subsets (objects with ``take(sinogram)``, e.g. ``layout.subset(k, n)``).
    data : EmissionData
        Prompts and model terms of the frame, shaped like the full layout.
    sensitivities : list of ndarray
        ``A_S^T m_S`` per subset (without ``scale``), e.g. from
        :meth:`petsim.recon.OSEMSetup.frame_sensitivities`.
    dtype : numpy dtype
        Precision of the sinogram-side arithmetic: float32 (OSEM, MLEM) or float64 (MAP).

    Attributes
    ----------
    scale : float
        The frame's scalar.
    sensitivities : list of ndarray
        ``A_S^T m_S`` (float32, without ``scale``).

    Examples
    --------
    >>> lik = PoissonLikelihood(setup.operators, setup.subsets, data, setup.frame_sensitivities(data.multiplicative))  # doctest: +SKIP
    >>> ybar = lik.expected(0, x)                                   # doctest: +SKIP
    >>> x *= lik.ratio_backprojection(0, ybar) / (lik.scale * lik.sensitivities[0])   # an EM update  # doctest: +SKIP
    """

    def __init__(self, operators, subsets, data, sensitivities, dtype=np.float32):
        if len(operators) != len(subsets) or len(sensitivities) != len(subsets):
            raise ValueError(f"got {len(operators)} operators, {len(sensitivities)} sensitivities "
                             f"for {len(subsets)} subsets")
        self.operators, self.subsets = list(operators), list(subsets)
        self.dtype = np.dtype(dtype)
        self.scale = float(data.scale)
        self.sensitivities = list(sensitivities)
        if self.dtype == np.float32:
            scale = np.float32(data.scale)
            self.prompts = [sub.take(data.prompts) for sub in subsets]
            self._sm = [scale * sub.take(data.multiplicative) for sub in subsets]
            self.additive = [sub.take(data.additive) for sub in subsets]
        elif self.dtype == np.float64:
            scale = self.scale
            self.prompts = [sub.take(data.prompts).astype(np.float64) for sub in subsets]
            self._sm = [scale * sub.take(data.multiplicative).astype(np.float64) for sub in subsets]
            self.additive = [sub.take(data.additive).astype(np.float64) for sub in subsets]
        else:
            raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")

    @property
    def n_subsets(self) -> int:
        return len(self.subsets)

    def total_sensitivity(self) -> np.ndarray:
        """``sum_S A_S^T m_S`` (float32, without ``scale``): zero outside the field of view."""
        return np.sum(self.sensitivities, axis=0, dtype=np.float32)

    def expected_trues(self, s: int, x) -> np.ndarray:
        """``scale * m_S * (A_S x)`` of subset ``s``."""
        img = x if self.dtype == np.float32 else np.asarray(x).astype(np.float32)
        return self._sm[s] * self.operators[s].forward(img)

    def expected(self, s: int, x) -> np.ndarray:
        """Expected prompts ``scale * m_S * (A_S x) + a_S`` of subset ``s`` for the (physical) image ``x``."""
        return self.expected_trues(s, x) + self.additive[s]

    def loglik(self, s: int, ybar) -> float:
        """Log-likelihood of subset ``s`` given its expected prompts ``ybar``."""
        return poisson_loglik(self.prompts[s], ybar)

    def __call__(self, x) -> float:
        """``L(x)`` over all subsets (float64)."""
        return sum(self.loglik(s, self.expected(s, x)) for s in range(self.n_subsets))

    def ratio(self, s: int, ybar) -> np.ndarray:
        """``y_S / ybar_S`` (0 where ``ybar_S <= 0``)."""
        return np.divide(self.prompts[s], ybar, out=np.zeros_like(ybar), where=ybar > 0)

    def ratio_backprojection(self, s: int, ybar) -> np.ndarray:
        """``A_S^T (scale * m_S * y_S / ybar_S)``: the EM numerator; the gradient of ``L`` is it minus
        ``scale * A_S^T m_S`` (see :meth:`gradient`)."""
        back = self._sm[s] * self.ratio(s, ybar)
        if back.dtype != np.float32:
            back = back.astype(np.float32)
        return self.operators[s].adjoint(back)

    def gradient(self, ybars) -> np.ndarray:
        """``grad L = sum_S A_S^T (scale m_S y_S / ybar_S) - scale sum_S A_S^T m_S`` (float64), given every
        subset's expected prompts ``ybars``."""
        back = np.zeros(self.sensitivities[0].shape)
        for s in range(self.n_subsets):
            back += self.ratio_backprojection(s, ybars[s])
        return back - self.total_sensitivity().astype(np.float64) * self.scale
