"""Numba kernels of the frame loop: weighted basis sums and chunk-seeded Poisson draws."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

#: Bins per Poisson chunk. Each chunk has its own seed, so draws do not depend on
#: the number of threads (bit-identical on one core or many).
POISSON_CHUNK = 1 << 16


@njit(cache=True, parallel=True)
def _weighted_sum(basis, coef, out):
    k, n = basis.shape
    n_chunks = (n + POISSON_CHUNK - 1) // POISSON_CHUNK
    for c in prange(n_chunks):
        lo = c * POISSON_CHUNK
        hi = min(n, lo + POISSON_CHUNK)
        for i in range(lo, hi):
            acc = 0.0
            for j in range(k):
                acc += coef[j] * basis[j, i]
            out[i] = acc


def weighted_sum(basis: np.ndarray, coef) -> np.ndarray:
    """``sum_k coef[k] * basis[k]`` accumulated in float64 per bin, returned as float32 (basis (K, ...))."""
    k = basis.shape[0]
    flat = basis.reshape(k, -1)
    out = np.empty(flat.shape[1], dtype=np.float32)
    _weighted_sum(flat, np.ascontiguousarray(coef, dtype=np.float64), out)
    return out.reshape(basis.shape[1:])


@njit(cache=True, parallel=True)
def _poisson(lam, seeds, out):
    n = lam.size
    for c in prange(seeds.size):
        np.random.seed(seeds[c])
        lo = c * POISSON_CHUNK
        hi = min(n, lo + POISSON_CHUNK)
        for i in range(lo, hi):
            out[i] = np.random.poisson(lam[i])


def poisson(lam: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Poisson counts (float32) with means ``lam``; one seed per chunk of bins drawn from ``rng``."""
    flat = np.ascontiguousarray(lam, dtype=np.float64).ravel()
    n_chunks = max(1, (flat.size + POISSON_CHUNK - 1) // POISSON_CHUNK)
    seeds = rng.integers(0, 2**32 - 1, size=n_chunks, dtype=np.uint64).astype(np.uint32)
    out = np.empty(flat.size, dtype=np.float32)
    _poisson(flat, seeds, out)
    return out.reshape(np.shape(lam))


#: Fixed number of partial fan-sum arrays (independent of the thread count, so the
#: summation order, hence the result, is the same on any number of threads).
FAN_CHUNKS = 16


@njit(cache=True, parallel=True)
def _fan_sum(values, a, b, n_crystals, out_parts):
    n = values.size
    step = (n + FAN_CHUNKS - 1) // FAN_CHUNKS
    for c in prange(FAN_CHUNKS):
        part = out_parts[c]
        for i in range(c * step, min(n, (c + 1) * step)):
            v = values[i]
            part[a[i]] += v
            part[b[i]] += v


def fan_sum(values: np.ndarray, a: np.ndarray, b: np.ndarray, n_crystals: int) -> np.ndarray:
    """Per-crystal sum of ``values`` over the bins each crystal belongs to (float64)."""
    parts = np.zeros((FAN_CHUNKS, n_crystals), dtype=np.float64)
    _fan_sum(np.ascontiguousarray(values, dtype=np.float32).ravel(), a, b, n_crystals, parts)
    out = parts[0].copy()
    for c in range(1, FAN_CHUNKS):
        out += parts[c]
    return out


@njit(cache=True, parallel=True)
def _pair_product(s, a, b, w, out):
    for i in prange(out.size):
        out[i] = w[i] * (s[a[i]] * s[b[i]])


def pair_product(singles: np.ndarray, a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``w_i * s[a_i] * s[b_i]`` per bin (float32, flat)."""
    out = np.empty(a.size, dtype=np.float32)
    _pair_product(np.ascontiguousarray(singles, dtype=np.float64), a, b, w, out)
    return out


@njit(cache=True, parallel=True)
def _block_mean(x, fv, fr, out):
    ns, nvc, nrc = out.shape
    inv = 1.0 / (fv * fr)
    for s in prange(ns):
        for v in range(nvc):
            for r in range(nrc):
                acc = 0.0
                for dv in range(fv):
                    for dr in range(fr):
                        acc += x[s, v * fv + dv, r * fr + dr]
                out[s, v, r] = acc * inv


def block_mean(x: np.ndarray, fv: int, fr: int) -> np.ndarray:
    """Mean over blocks of ``fv`` views x ``fr`` radial bins of a (sinograms, views, radial) array (float32)."""
    ns, nv, nr = x.shape
    out = np.empty((ns, nv // fv, nr // fr), dtype=np.float32)
    _block_mean(np.ascontiguousarray(x, dtype=np.float32), fv, fr, out)
    return out


@njit(cache=True, parallel=True)
def _bilinear_upsample(c, jv, wv, jr, wr, out):
    ns, nv, nr = out.shape
    for s in prange(ns):
        for v in range(nv):
            j = jv[v]
            a = 1.0 - wv[v]
            bw = wv[v]
            for r in range(nr):
                k = jr[r]
                lo = c[s, j, k] * a + c[s, j + 1, k] * bw
                hi = c[s, j, k + 1] * a + c[s, j + 1, k + 1] * bw
                out[s, v, r] = lo * (1.0 - wr[r]) + hi * wr[r]


def bilinear_upsample(c, jv, wv, jr, wr, shape) -> np.ndarray:
    """Separable linear interpolation of a coarse (sinograms, views, radial) array onto ``shape``."""
    out = np.empty(shape, dtype=np.float32)
    _bilinear_upsample(np.ascontiguousarray(c, dtype=np.float32), jv, wv, jr, wr, out)
    return out
