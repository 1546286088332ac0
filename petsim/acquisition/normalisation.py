"""Detector normalisation: crystal efficiencies and the per-bin efficiency factors."""

from __future__ import annotations

import numpy as np


def crystal_efficiencies(n_rings: int, n_crystals_per_ring: int, sd: float, rng) -> np.ndarray:
    """Relative crystal efficiencies drawn around 1.

    A gamma distribution with mean 1 and relative SD ``sd`` keeps every
    efficiency positive (a Gaussian would need clipping for large ``sd``).

    Parameters
    ----------
    n_rings, n_crystals_per_ring : int
        Detector grid.
    sd : float
        Relative standard deviation (0 gives all ones).
    rng : numpy.random.Generator or int or None
        Random source or seed.

    Returns
    -------
    ndarray, float64, shape (n_rings, n_crystals_per_ring)
    """
    if not (np.isfinite(sd) and sd >= 0):
        raise ValueError(f"crystal efficiency sd must be >= 0, got {sd!r}")
    shape = (int(n_rings), int(n_crystals_per_ring))
    if sd == 0:
        return np.ones(shape)
    rng = np.random.default_rng(rng)
    k = 1.0 / sd**2
    return rng.gamma(k, 1.0 / k, size=shape)


def flat_crystal_index(ring, crystal, n_crystals_per_ring: int) -> np.ndarray:
    """Crystal number ``ring * n_crystals_per_ring + crystal`` (int32), same shape as the inputs."""
    return (np.asarray(ring, dtype=np.int64) * int(n_crystals_per_ring) + np.asarray(crystal, dtype=np.int64)).astype(np.int32)


def bin_efficiency(eff_flat: np.ndarray, crystal_a: np.ndarray, crystal_b: np.ndarray) -> np.ndarray:
    """Efficiency of each sinogram bin: product of its two crystals' efficiencies (float32)."""
    return (eff_flat[crystal_a] * eff_flat[crystal_b]).astype(np.float32)
