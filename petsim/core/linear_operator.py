"""Linear operators and their composition rules (layer 0: imports nothing of petsim).

Every algorithm in :mod:`petsim.recon` is written against this small
interface: ``forward(x)``, ``adjoint(y)``, ``in_shape``, ``out_shape``; the
projectors (:mod:`petsim.projectors`) implement it and the system model
(:mod:`petsim.operators`) is a composition of such operators.
"""

from __future__ import annotations

import numpy as np


class LinearOperator:
    """A linear map from arrays of ``in_shape`` to arrays of ``out_shape`` (float32).

    Subclasses set ``in_shape`` and ``out_shape`` and implement ``_forward``
    and ``_adjoint``; the public methods check shapes and dtypes once.
    """

    in_shape: tuple = ()
    out_shape: tuple = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _check(x, self.in_shape, f"{type(self).__name__}.forward input")
        return self._forward(x)

    def adjoint(self, y: np.ndarray) -> np.ndarray:
        y = _check(y, self.out_shape, f"{type(self).__name__}.adjoint input")
        return self._adjoint(y)

    def _forward(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def _adjoint(self, y):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, x):
        return self.forward(x)

    def __matmul__(self, other: "LinearOperator") -> "ComposedOperator":
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return ComposedOperator([self, other])

    def __mul__(self, scalar: float) -> "ScaledOperator":
        return ScaledOperator(self, float(scalar))

    __rmul__ = __mul__

    def __repr__(self):
        return f"{type(self).__name__}(in_shape={self.in_shape}, out_shape={self.out_shape})"


def _check(a, shape, name) -> np.ndarray:
    arr = np.asarray(a)
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} has shape {arr.shape}, expected {tuple(shape)}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float32)


class ComposedOperator(LinearOperator):
    """``A1 @ A2 @ ... @ An``: forward applies An first, adjoint applies A1^T first."""

    def __init__(self, operators):
        ops = []
        for op in operators:
            ops.extend(op.operators if isinstance(op, ComposedOperator) else [op])
        for left, right in zip(ops[:-1], ops[1:]):
            if tuple(left.in_shape) != tuple(right.out_shape):
                raise ValueError(
                    f"cannot compose {left!r} with {right!r}: input shape {left.in_shape} "
                    f"does not match output shape {right.out_shape}"
                )
        self.operators = ops
        self.in_shape = tuple(ops[-1].in_shape)
        self.out_shape = tuple(ops[0].out_shape)

    def _forward(self, x):
        for op in reversed(self.operators):
            x = op.forward(x)
        return x

    def _adjoint(self, y):
        for op in self.operators:
            y = op.adjoint(y)
        return y


class Diagonal(LinearOperator):
    """Elementwise multiplication by fixed factors (attenuation, normalisation, decay)."""

    def __init__(self, factors: np.ndarray):
        f = np.ascontiguousarray(factors, dtype=np.float32)
        if not np.all(np.isfinite(f)):
            raise ValueError("Diagonal factors contain NaN or infinite values")
        self.factors = f
        self.in_shape = self.out_shape = f.shape

    def _forward(self, x):
        return x * self.factors

    _adjoint = _forward


class Identity(LinearOperator):
    def __init__(self, shape):
        self.in_shape = self.out_shape = tuple(shape)

    def _forward(self, x):
        return x.copy()

    _adjoint = _forward


class ScaledOperator(LinearOperator):
    """``scalar * A``."""

    def __init__(self, op: LinearOperator, scalar: float):
        self.op, self.scalar = op, np.float32(scalar)
        self.in_shape, self.out_shape = op.in_shape, op.out_shape

    def _forward(self, x):
        return self.scalar * self.op.forward(x)

    def _adjoint(self, y):
        return self.scalar * self.op.adjoint(y)


def adjoint_mismatch(op: LinearOperator, rng: np.random.Generator | int = 0) -> float:
    """Relative mismatch ``|<A x, y> - <x, A^T y>| / |<A x, y>|`` for random positive ``x``, ``y``.

    Computed in float64 from the float32 results; a matched pair gives ~1e-7.
    """
    rng = np.random.default_rng(rng)
    x = rng.uniform(0.1, 1.0, op.in_shape).astype(np.float32)
    y = rng.uniform(0.1, 1.0, op.out_shape).astype(np.float32)
    lhs = np.vdot(op.forward(x).astype(np.float64), y.astype(np.float64))
    rhs = np.vdot(x.astype(np.float64), op.adjoint(y).astype(np.float64))
    return float(abs(lhs - rhs) / abs(lhs))
