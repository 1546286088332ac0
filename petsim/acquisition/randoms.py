"""Randoms from singles, ``R_ij = 2 tau S_i S_j``, and the delayed-window estimate.

Singles per crystal are taken proportional to the fan sum of the expected
unscattered trues at that crystal (the activity that crystal sees), divided by
``p``, the fraction of a crystal's singles that end in a recorded true
coincidence. ``p`` lumps everything the model does not simulate (activity
outside the field of view, single photons whose partner escapes); it is set so
that the random fraction of the frame with the highest trues rate equals
``ScanPhysics.randoms_fraction_peak``. Because randoms grow as the square of the
activity and trues linearly, the random fraction then falls as the tracer
decays.

The scanner's randoms estimate is made as on real systems: the delayed
coincidences (an independent Poisson draw of the randoms) are reduced to fan
sums per crystal, singles are fitted to those fan sums (the usual "randoms from
singles" variance reduction), and ``w_ij s_i s_j`` is the smoothed estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from petsim.acquisition import _kernels as _k


class CrystalPairs:
    """The two crystals and the axial-compression weight of every sinogram bin.

    Parameters
    ----------
    crystal_a, crystal_b : ndarray of int
        Flat crystal numbers of each bin's representative LOR (sinogram shaped).
    weight : ndarray
        Ring pairs combined into each bin (sinogram shaped).
    n_crystals : int
        Total number of crystals.
    """

    def __init__(self, crystal_a, crystal_b, weight, n_crystals: int):
        self.shape = np.shape(crystal_a)
        self.a = np.ascontiguousarray(crystal_a, dtype=np.int32).ravel()
        self.b = np.ascontiguousarray(crystal_b, dtype=np.int32).ravel()
        self.w = np.ascontiguousarray(np.broadcast_to(weight, self.shape), dtype=np.float32).ravel()
        self.n_crystals = int(n_crystals)
        if self.a.size and (min(self.a.min(), self.b.min()) < 0 or max(self.a.max(), self.b.max()) >= self.n_crystals):
            raise ValueError(f"crystal numbers must lie in [0, {self.n_crystals})")
        self._matrix = None

    @property
    def matrix(self) -> sp.csr_matrix:
        """Symmetric crystal-pair weight matrix ``M`` with ``sum_bins w s_a s_b = s^T M s / 2``."""
        if self._matrix is None:
            n = self.n_crystals
            m = sp.coo_matrix((self.w.astype(np.float64), (self.a, self.b)), shape=(n, n)).tocsr()
            self._matrix = (m + m.T).tocsr()
        return self._matrix

    def fan_sum(self, values) -> np.ndarray:
        """Sum of ``values`` (sinogram shaped) over all bins each crystal belongs to, float64 (n_crystals,)."""
        v = np.asarray(values, dtype=np.float32).ravel()
        if v.size != self.a.size:
            raise ValueError(f"values have {v.size} bins, expected {self.a.size}")
        return _k.fan_sum(v, self.a, self.b, self.n_crystals)

    def pair_product(self, singles) -> np.ndarray:
        """``w_ij S_i S_j`` per bin (float32, sinogram shaped)."""
        return _k.pair_product(singles, self.a, self.b, self.w).reshape(self.shape)

    def pair_sum(self, singles) -> float:
        """``sum over bins of w_ij S_i S_j`` (float64)."""
        s = np.asarray(singles, dtype=np.float64)
        return 0.5 * float(s @ (self.matrix @ s))

    def singles_from_fan_sums(self, fan_sums, n_iter: int = 20) -> np.ndarray:
        """Solve ``s_a (M s)_a = D_a`` for singles ``s`` (any common scale) by a multiplicative fixed point.

        Noise-free fan sums of ``w s_a s_b`` give back ``s`` exactly (to
        iteration tolerance); noisy ones give a smooth, nearly unbiased estimate.
        """
        d = np.asarray(fan_sums, dtype=np.float64)
        m = self.matrix
        total = d.sum()
        if total <= 0:
            return np.zeros_like(d)
        s = d / np.sqrt(total)
        for _ in range(n_iter):
            ms = m @ s
            ratio = np.divide(d, s * ms, out=np.zeros_like(d), where=(s * ms) > 0)
            s = s * np.sqrt(ratio)
        return s


def singles_scale_for_random_fraction(pairs: CrystalPairs, trues_fan_cps, trues_cps: float, scatter_cps: float,
                                      random_fraction: float, tau_s: float) -> float:
    """``1/p^2`` such that ``2 tau sum(w F_a F_b) / p^2 = rf / (1 - rf) (T + S)``.

    Parameters
    ----------
    trues_fan_cps : ndarray (n_crystals,)
        Fan sums of the expected trues rate (cps) in the reference frame.
    trues_cps, scatter_cps : float
        Total trues and scatter rates of that frame (cps).
    random_fraction : float
        Target ``R / (T + S + R)``, in [0, 1).
    tau_s : float
        Coincidence resolving time (s).
    """
    if random_fraction == 0:
        return 0.0
    raw = 2.0 * tau_s * pairs.pair_sum(trues_fan_cps)
    if raw <= 0:
        raise ValueError("no trues in the reference frame: cannot set the singles scale from a random fraction")
    return random_fraction / (1.0 - random_fraction) * (trues_cps + scatter_cps) / raw


def crystal_pairs_of(scanner, layout) -> CrystalPairs:
    """The :class:`CrystalPairs` of a scanner's sinogram layout (crystals and compression weight of every bin)."""
    from petsim.acquisition.normalisation import flat_crystal_index

    ra, ca, rb, cb = layout.crystal_pairs()
    ncr = scanner.n_crystals_per_ring
    weight = np.asarray(layout.ring_pairs_per_sinogram, dtype=np.float32)[:, None, None]
    return CrystalPairs(flat_crystal_index(ra, ca, ncr), flat_crystal_index(rb, cb, ncr),
                        np.broadcast_to(weight, layout.shape), scanner.n_rings * ncr)


@dataclass(frozen=True)
class RandomsTerm:
    """One frame's randoms in the compact form a scanner keeps: crystal singles and a scale.

    The sinogram is ``factor * w_ij s_i s_j`` (float32), bit for bit the estimate
    :func:`delayed_randoms_estimate` made (or the expected randoms of a noise-free scan).
    """

    singles: np.ndarray  # (n_crystals,) float64, any common scale
    factor: float        # float32 scale to counts

    def sinogram(self, pairs: CrystalPairs) -> np.ndarray:
        est = pairs.pair_product(self.singles)
        est *= np.float32(self.factor)
        return est


def delayed_randoms_term(pairs: CrystalPairs, delayed_counts) -> tuple:
    """:class:`RandomsTerm` of the smoothed randoms estimate from delayed-window counts, and its sinogram.

    Singles are fitted to the delayed fan sums (:meth:`CrystalPairs.singles_from_fan_sums`);
    the estimate is ``w_ij s_i s_j``, rescaled to the delayed total. Returns ``(term, sinogram)``
    (float32, sinogram shaped), the sinogram bit for bit ``term.sinogram(pairs)``.
    """
    d = np.asarray(delayed_counts, dtype=np.float32)
    total = float(np.sum(d, dtype=np.float64))
    if total <= 0:
        return RandomsTerm(np.zeros(pairs.n_crystals), 0.0), np.zeros(pairs.shape, dtype=np.float32)
    s = pairs.singles_from_fan_sums(pairs.fan_sum(d))
    est = pairs.pair_product(s)
    factor = np.float32(total / float(np.sum(est, dtype=np.float64)))
    est *= factor
    return RandomsTerm(s, float(factor)), est


def delayed_randoms_estimate(pairs: CrystalPairs, delayed_counts) -> np.ndarray:
    """Smoothed randoms estimate from delayed-window counts (float32, sinogram shaped): see :func:`delayed_randoms_term`."""
    return delayed_randoms_term(pairs, delayed_counts)[1]
