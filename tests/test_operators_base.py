import numpy as np
import pytest

from petsim.core.linear_operator import ComposedOperator, Diagonal, Identity, adjoint_mismatch


class MatrixOp(Diagonal.__mro__[1]):
    """A dense matrix as an independent reference operator."""

    def __init__(self, m):
        self.m = m.astype(np.float32)
        self.out_shape, self.in_shape = (m.shape[0],), (m.shape[1],)

    def _forward(self, x):
        return self.m @ x

    def _adjoint(self, y):
        return self.m.T @ y


def test_composition_matches_matrix_product():
    rng = np.random.default_rng(1)
    a, b = rng.uniform(size=(5, 7)), rng.uniform(size=(7, 3))
    d = rng.uniform(size=5)
    op = Diagonal(d) @ MatrixOp(a) @ MatrixOp(b)
    assert isinstance(op, ComposedOperator)
    x = rng.uniform(size=3)
    assert np.allclose(op.forward(x), d * (a @ (b @ x)), rtol=1e-5)
    y = rng.uniform(size=5)
    assert np.allclose(op.adjoint(y), b.T @ (a.T @ (d * y)), rtol=1e-5)
    assert adjoint_mismatch(op) < 1e-6
    assert adjoint_mismatch(2.0 * op) < 1e-6


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot compose"):
        MatrixOp(np.ones((3, 4))) @ MatrixOp(np.ones((5, 2)))
    with pytest.raises(ValueError, match="expected"):
        Identity((3,)).forward(np.ones(4))
