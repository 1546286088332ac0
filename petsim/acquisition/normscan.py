"""Normalisation from a simulated normalisation scan (component-based, crystal efficiencies by fan sums).

A site does not know its crystal efficiencies: it measures them. It acquires a
long scan of a uniform source whose geometry is known (a 68Ge or 18F-filled
water cylinder centred in the field of view, or rotating 68Ge rod sources
sweeping the detector face), divides the counts by what the known geometry,
attenuation and axial compression predict, and fits one efficiency per crystal
to the result. Using only the crystal *fan sums* (the counts of all lines of
response of one crystal) pools thousands of bins per crystal, so a scan of
~1e8-1e9 counts gives efficiencies to ~1 % or better although each bin holds
only a few counts: this is the crystal-efficiency component of component-based
normalisation (Casey, Gadagkar & Newport, "A component based method for
normalization in volume PET", Proc. 3rd Int. Meeting on Fully 3D Image
Reconstruction, 1995, and IEEE NSS 1995; Badawi & Marsden, "Developments in
component-based normalization for 3D PET", Phys Med Biol 1999;44:571-594;
STIR's ``BinNormalisationFromProjData`` / ``find_ML_normfactors3D``, which fits
the crystal efficiencies to fan sums by the same multiplicative ML equations).

The model of this module is the one the simulation itself uses
(:class:`~petsim.acquisition.model.AcquisitionModel`): the efficiency of a bin is
``eps_a eps_b w`` with ``a, b`` the crystals of the bin's representative LOR and
``w`` the ring pairs combined into it. The expected norm-scan counts are

    ``ybar_i = c * g_i * eps_a eps_b``,  ``g_i = w_i L_i exp(-mu L_i)``,

with ``L_i`` the chord of the LOR through the source. The Poisson maximum
likelihood estimate of ``eps`` from ``y`` solves the fan-sum equations

    ``eps_a (G eps)_a = D_a``,  ``D_a = sum_{i in fan(a)} y_i``,  ``G_ab = sum_{i=(a,b)} g_i``

(the derivative of the log-likelihood with respect to ``eps_a`` is
``D_a / eps_a - (G eps)_a``); the scale ``c`` is absorbed into ``eps`` and the
result is normalised to mean 1. Only bins whose line crosses the source
(``g_i`` above a fraction of its maximum) enter, so lines that miss the source
(pure noise and, in reality, scatter) carry no weight. This is the same
equation as the randoms-from-singles fit
(:meth:`~petsim.acquisition.randoms.CrystalPairs.singles_from_fan_sums`) with
the model ``g_i`` in place of the compression weight, solved here by Newton's
method in ``log eps`` because the multiplicative fixed point converges slowly
when the source is narrow (a crystal's fan through a 20 cm cylinder on the HR+
spans only +-28 degrees, so the "one side of the ring up, the other down"
pattern is nearly invisible to it, see Notes).

Precision. ``D_a`` is Poisson with mean ``F_a`` and ``F_a`` is proportional to
``eps_a`` (the rest of the fan is other crystals), so the relative SD of the
estimate is ``1 / sqrt(F_a)`` (not ``1 / (2 sqrt(F_a))``: a bin's counts
measure the *product* ``eps_a eps_b`` but each crystal has its own whole fan).
Exactly, the covariance of ``log eps`` is the inverse of the Fisher matrix
``diag(F) + C`` (``C_ab`` = expected counts of the bins joining ``a`` and ``b``)
projected to mean 1; patterns that the fans barely see (the odd, low-order
transaxial harmonics) inflate it a little (see :func:`predicted_efficiency_sd`).
With ``F_a ~ 2 T / N`` (``T`` counts in the source bins, ``N`` crystals) the RMS
error is about ``sqrt(N / (2 T))``: 1 % at 1e8 counts on the HR+ (18 432 crystals).

Not modelled: the geometric (radial profile, crystal-interference, block
position) and dead-time components of a real normalisation; the simulation has
none of these, so the crystal efficiencies are the whole detector pattern.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from petsim.acquisition import constants as C

__all__ = ["NormScan", "norm_scan_model", "simulate_norm_scan", "norm_scan_mask", "estimate_crystal_efficiencies",
           "estimated_bin_efficiency", "predicted_efficiency_sd",
           "identifiable_efficiencies", "fit_fan_sums", "bipartite_sides"]


@dataclass(frozen=True)
class NormScan:
    """A simulated normalisation scan.

    Attributes
    ----------
    expected : ndarray float32, sinogram shaped
        Expected counts (sum ``counts``).
    measured : ndarray float32, sinogram shaped
        A Poisson draw of ``expected`` (integer valued).
    model : ndarray float32, sinogram shaped
        What the site knows without the efficiencies: ``w L exp(-mu L)`` (mm),
        i.e. ``expected`` divided by ``c eps_a eps_b``; pass it to
        :func:`estimate_crystal_efficiencies`.
    """

    expected: np.ndarray
    measured: np.ndarray
    model: np.ndarray


def _chord_mm(layout, diameter_mm: float, length_mm: float | None) -> np.ndarray:
    """Length (mm) of each bin's representative LOR inside a centred cylinder along z (float64, sinogram shaped).

    Transaxial chord ``2 sqrt(r^2 - s^2)`` times the obliqueness
    ``sqrt(1 + (dz / 2h)^2)`` (``2h`` the LOR's transaxial length between the
    detector end points), times the fraction of that chord whose ``z`` lies in
    ``[-length/2, length/2]`` (``z`` is linear along the LOR).
    """
    s = np.asarray(layout.radial_mm, dtype=np.float64)
    radius = float(layout.scanner.ring_radius_mm)
    r = 0.5 * float(diameter_mm)
    h = np.sqrt(radius**2 - s**2)                                          # (R,)
    chord = 2.0 * np.sqrt(np.clip(r**2 - s**2, 0.0, None))               # (R,) transaxial
    dz = np.asarray(layout.sinogram_dz_mm, dtype=np.float64)[:, None]      # (S, 1)
    z = np.asarray(layout.sinogram_z_mm, dtype=np.float64)[:, None]
    slope = dz / (2.0 * h[None, :])                                        # dz per transaxial mm
    obl = np.sqrt(1.0 + slope**2)
    path = chord[None, :] * obl                                            # (S, R)
    if length_mm is not None:
        half = 0.5 * float(length_mm)
        zext = 0.5 * np.abs(slope) * chord[None, :]                        # half z-extent of the chord
        lo, hi = z - zext, z + zext
        overlap = np.clip(np.minimum(hi, half) - np.maximum(lo, -half), 0.0, None)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(zext > 0, overlap / np.where(zext > 0, 2 * zext, 1.0),
                            (np.abs(z) <= half).astype(np.float64))
        path = path * frac
    return np.broadcast_to(path[:, None, :], layout.shape)


def norm_scan_model(layout, diameter_mm: float = 200.0, length_mm: float | None = None,
                    mu_per_cm: float = C.WATER_MU_PER_CM) -> np.ndarray:
    """What a site knows of its normalisation scan: ``w L exp(-mu L)`` per bin (float32, sinogram shaped).

    ``L`` (mm) is the analytic chord of each bin's LOR through a centred uniform
    cylinder of ``diameter_mm`` and ``length_mm`` (None: longer than the axial
    field of view, so every chord is whole), ``mu`` its attenuation coefficient
    (water, 0.096 /cm, by default) and ``w`` the ring pairs combined in the bin.

    Examples
    --------
    >>> from petsim.scanner import get_scanner
    >>> layout = get_scanner("hrplus").layout_2d(view_mashing=2)
    >>> g = norm_scan_model(layout)
    >>> g.shape, float(g[0, 0, 144]) > 0, float(g[0, 0, 0])
    ((63, 144, 288), True, 0.0)
    """
    if not (np.isfinite(diameter_mm) and diameter_mm > 0):
        raise ValueError(f"diameter_mm must be positive (mm), got {diameter_mm!r}")
    if length_mm is not None and not (np.isfinite(length_mm) and length_mm > 0):
        raise ValueError(f"length_mm must be positive (mm) or None, got {length_mm!r}")
    if not (np.isfinite(mu_per_cm) and mu_per_cm >= 0):
        raise ValueError(f"mu_per_cm must be >= 0 (1/cm), got {mu_per_cm!r}")
    radial_max = float(np.max(np.abs(layout.radial_mm)))
    if 0.5 * diameter_mm > radial_max:
        raise ValueError(f"source diameter {diameter_mm} mm exceeds the radial field of view "
                         f"(2 x {radial_max:.1f} mm) of the layout; use a smaller cylinder")
    path = _chord_mm(layout, diameter_mm, length_mm)
    w = np.asarray(layout.ring_pairs_per_sinogram, dtype=np.float64)[:, None, None]
    return (w * path * np.exp(-0.1 * mu_per_cm * path)).astype(np.float32)


def simulate_norm_scan(scanner, layout, crystal_efficiency, counts: float, rng, source: str = "cylinder",
                       diameter_mm: float = 200.0, length_mm: float | None = None,
                       mu_per_cm: float = C.WATER_MU_PER_CM, line_integrals: str = "analytic",
                       projector: str = "joseph") -> NormScan:
    """Expected and measured sinograms of a normalisation scan of a uniform cylinder.

    Stands for the normalisation acquisition of a scanner site: a long scan of
    a uniform, centred water-filled 68Ge/18F cylinder (on the HR+ itself the
    manufacturer used rotating 68Ge rods; both give every crystal a fan of
    lines through a known source). The counts are the true coincidences only
    (no scatter, randoms or dead time: a norm scan is taken at low count rate
    and its scatter is small in the central bins that the estimate uses).

    Parameters
    ----------
    scanner : Scanner
    layout : SinogramLayout
        The layout of the scans to be normalised (same crystals and compression).
    crystal_efficiency : ndarray, (n_rings, n_crystals_per_ring) or flat
        The true relative crystal efficiencies (``AcquisitionModel.crystal_efficiency``).
    counts : float
        Total expected counts of the scan. Required: it sets the precision,
        about ``sqrt(n_crystals / (2 counts))`` relative RMS (1 % at 1e8 counts
        on the HR+, 0.3 % at 1e9). Badawi & Marsden (1999) show that the
        crystal-efficiency component needs far fewer counts than direct
        (bin by bin) normalisation, which needs ~1e9+ counts and hours; a norm
        scan of a few hours with a 68Ge cylinder gives ~1e8-1e9.
    rng : numpy.random.Generator or int or None
        Random source or seed of the Poisson draw.
    source : str
        ``"cylinder"`` (the only source modelled).
    diameter_mm, length_mm, mu_per_cm
        The cylinder (default 20 cm diameter, longer than the axial FOV, water);
        see :func:`norm_scan_model`.
    line_integrals : str
        How the *scan* (not the site's model) gets its chords: ``"analytic"``
        (exact; the site's model then matches the data exactly) or
        ``"projector"``: the cylinder rasterised on a grid of the layout's
        radial bin (ring spacing / 2 axially, as the sensitivity calibration
        does) and projected by ``projector``, so that the data differ from the
        site's analytic model as a real source differs from its drawing
        (voxelised edges, the projector's interpolation). A cylinder with
        ``length_mm=None`` is then made 4 ring spacings longer than the axial FOV.
    projector : str
        Layout projector for ``line_integrals="projector"``.

    Returns
    -------
    NormScan
        ``expected`` (float32), ``measured`` (Poisson draw, float32) and ``model``
        (``w L exp(-mu L)``, what the estimate divides by).

    Examples
    --------
    >>> from petsim.scanner import Scanner
    >>> sc = Scanner("toy", n_rings=4, n_crystals_per_ring=96, inner_radius_mm=100.0, doi_mm=0.0,
    ...              ring_spacing_mm=4.0, crystal_size_mm=(4.0, 4.0, 20.0))
    >>> lay = sc.layout_3d(span=3, max_ring_diff=3)
    >>> eff = np.ones((4, 96))
    >>> scan = simulate_norm_scan(sc, lay, eff, counts=1e6, rng=0, diameter_mm=120.0)
    >>> round(float(scan.expected.sum()))
    1000000
    """
    from petsim.acquisition.randoms import crystal_pairs_of

    if source != "cylinder":
        raise ValueError(f"source must be 'cylinder' (the only normalisation source modelled), got {source!r}")
    if getattr(layout, "scanner", scanner) != scanner:
        raise ValueError("layout was made by a different scanner than the one given")
    if not (np.isfinite(counts) and counts > 0):
        raise ValueError(f"counts must be a positive number of expected counts, got {counts!r}")
    eff = np.asarray(crystal_efficiency, dtype=np.float64).ravel()
    n = scanner.n_rings * scanner.n_crystals_per_ring
    if eff.size != n:
        raise ValueError(f"crystal_efficiency has {eff.size} values, expected n_rings x n_crystals_per_ring = {n}")
    if not np.all(np.isfinite(eff) & (eff >= 0)):
        raise ValueError("crystal_efficiency must be finite and >= 0")
    if line_integrals not in ("analytic", "projector"):
        raise ValueError(f"line_integrals must be 'analytic' or 'projector', got {line_integrals!r}")
    model = norm_scan_model(layout, diameter_mm, length_mm, mu_per_cm)
    pairs = crystal_pairs_of(scanner, layout)
    if line_integrals == "analytic":
        truth = model.astype(np.float64).ravel()
    else:
        from petsim.acquisition.model import calibration_cylinder_grid, cylinder_fraction
        from petsim.operators import system_model

        length = scanner.axial_fov_mm + 4 * scanner.ring_spacing_mm if length_mm is None else float(length_mm)
        grid = calibration_cylinder_grid(layout, diameter_mm, length)
        path = system_model(grid, layout, projector=projector).forward(cylinder_fraction(grid, diameter_mm, length))
        path = path.astype(np.float64).ravel()
        w = np.broadcast_to(np.asarray(layout.ring_pairs_per_sinogram, dtype=np.float64)[:, None, None],
                            layout.shape).ravel()
        truth = w * path * np.exp(-0.1 * mu_per_cm * path)
    ybar = truth * eff[pairs.a] * eff[pairs.b]
    total = ybar.sum()
    if total <= 0:
        raise ValueError("the normalisation source is seen by no bin with non-zero efficiency")
    ybar *= float(counts) / total
    rng = np.random.default_rng(rng)
    measured = rng.poisson(ybar).astype(np.float32)
    return NormScan(ybar.astype(np.float32).reshape(layout.shape), measured.reshape(layout.shape), model)


def norm_scan_mask(model, min_fraction: float = 0.05) -> np.ndarray:
    """Bins used by the estimate: ``model > min_fraction * max(model)`` (bool, same shape).

    Bins whose LOR misses the source (model 0) hold no information on the
    efficiencies (in a real scan only scatter and randoms); bins that graze its
    edge are the most sensitive to errors of the assumed geometry.
    """
    g = np.asarray(model)
    if not 0.0 <= min_fraction < 1.0:
        raise ValueError(f"min_fraction must be in [0, 1), got {min_fraction!r}")
    gmax = float(np.max(g)) if g.size else 0.0
    if not gmax > 0:
        raise ValueError("the model is zero everywhere: the source is seen by no bin")
    return g > min_fraction * gmax


def _pair_matrix(pairs, weights) -> sp.csr_matrix:
    """Symmetric ``G`` with ``G_ab = sum of weights over the bins joining a and b``."""
    n = pairs.n_crystals
    keep = weights != 0
    g = sp.coo_matrix((weights[keep], (pairs.a[keep], pairs.b[keep])), shape=(n, n)).tocsr()
    return (g + g.T).tocsr()


def _fan(pairs, values) -> np.ndarray:
    n = pairs.n_crystals
    return np.bincount(pairs.a, values, minlength=n) + np.bincount(pairs.b, values, minlength=n)


def _pcg(apply, rhs, precond, tol, maxiter):
    """Preconditioned conjugate gradients for a symmetric positive definite operator."""
    x = np.zeros_like(rhs)
    r = rhs.copy()
    z = precond * r
    p = z.copy()
    rz = r @ z
    stop = tol * np.linalg.norm(rhs)
    for _ in range(maxiter):
        if np.linalg.norm(r) <= stop:
            break
        ap = apply(p)
        alpha = rz / (p @ ap)
        x += alpha * p
        r -= alpha * ap
        z = precond * r
        rz_new = r @ z
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x


def bipartite_sides(matrix) -> np.ndarray:
    """Side (+1 / -1) of each crystal in the bipartite connected components of the pair graph ``matrix``, else 0.

    In a bipartite component (every bin joins a crystal of side A to one of
    side B) the data fix only the products ``eps_a eps_b``: ``eps_A * c``,
    ``eps_B / c`` fits equally well. This happens in petsim's detector model
    with view mashing 2, where each bin keeps one representative crystal pair
    and ``a + b`` is a multiple of 4 (the odd crystals split into ``1 mod 4``
    and ``3 mod 4``). Such modes do not change any bin efficiency.
    """
    from scipy.sparse.csgraph import connected_components

    g = sp.csr_matrix(matrix)
    n = g.shape[0]
    adj = (g != 0).astype(np.int8)
    n_comp, lab = connected_components(adj, directed=False)
    n_cov, lab_cov = connected_components(sp.bmat([[None, adj], [adj, None]]).tocsr(), directed=False)
    side = np.zeros(n, dtype=np.int8)
    bip = lab_cov[:n] != lab_cov[n:]           # i and its copy unreachable from each other: bipartite
    bip &= np.asarray(adj.sum(axis=1)).ravel() > 0
    for c in np.unique(lab[bip]):
        idx = np.flatnonzero(lab == c)
        ref = lab_cov[idx[0]]
        side[idx] = np.where(lab_cov[idx] == ref, 1, -1)
    return side


def _balance(e, side, labels):
    """Fix the free ``A * c, B / c`` mode of each bipartite component: equal geometric means on both sides."""
    e = e.copy()
    for c in np.unique(labels[side != 0]):
        comp = labels == c
        a = comp & (side > 0) & (e > 0)
        b = comp & (side < 0) & (e > 0)
        if a.any() and b.any():
            k = np.exp(0.5 * (np.mean(np.log(e[b])) - np.mean(np.log(e[a]))))
            e[comp & (side > 0)] *= k
            e[comp & (side < 0)] /= k
    return e


def fit_fan_sums(fan_sums, matrix, tol: float = 1e-10, max_newton: int = 50) -> np.ndarray:
    """Solve ``e_a (G e)_a = D_a`` for ``e >= 0``: the Poisson ML fit of ``ybar_ab = G_ab e_a e_b`` to fan sums.

    The generalisation of :meth:`CrystalPairs.singles_from_fan_sums` to any
    symmetric non-negative ``G``. It minimises the convex
    ``f(u) = e.G e / 2 - D.u`` over ``u = log e`` by Newton's method (Hessian
    ``diag(e G e) + diag(e) G diag(e)``, solved by Jacobi-preconditioned CG)
    with backtracking, after a few multiplicative fixed-point steps. The free
    mode of each bipartite component (:func:`bipartite_sides`) is fixed by a
    penalty that does not change the fit: equal geometric means of its two
    sides. Crystals with ``D_a = 0`` get 0; crystals with no weight in ``G``
    are refused.

    Parameters
    ----------
    fan_sums : ndarray (n,)
    matrix : scipy.sparse matrix (n, n), symmetric, non-negative
    tol : float
        Stop when ``max |e (G e) - D| / D`` is below ``tol``.
    """
    from scipy.sparse.csgraph import connected_components

    d = np.asarray(fan_sums, dtype=np.float64)
    g = sp.csr_matrix(matrix)
    row = np.asarray(g.sum(axis=1)).ravel()
    if np.any((row <= 0) & (d > 0)):
        raise ValueError("counts on crystals that the model gives no weight")
    active = d > 0
    e = np.zeros_like(d)
    if not np.any(active):
        return e
    ga = g[active][:, active].tocsr()
    da = d[active]
    side = bipartite_sides(ga)
    labels = connected_components((ga != 0).astype(np.int8), directed=False)[1]
    modes = []  # one +-1 vector per bipartite component (normalised)
    for c in np.unique(labels[side != 0]):
        v = np.where(labels == c, side, 0).astype(np.float64)
        modes.append(v / np.linalg.norm(v))
    modes = np.array(modes).reshape(len(modes), da.size)

    s = np.full(da.size, np.sqrt(da.sum() / max(ga.sum(), 1e-300)))
    for _ in range(5):  # multiplicative fixed point: a cheap, safe start
        s *= np.sqrt(da / (s * (ga @ s)))
    u = np.log(s)
    lam = float(np.mean(da))  # penalty weight on the free modes, of the Hessian's scale

    def objective(uu):
        ss = np.exp(uu)
        pen = modes @ uu
        return 0.5 * ss @ (ga @ ss) - da @ uu + 0.5 * lam * pen @ pen

    f = objective(u)
    for _ in range(max_newton):
        s = np.exp(u)
        gs = ga @ s
        grad = s * gs - da + lam * (modes.T @ (modes @ u))
        if np.max(np.abs(grad) / da) < tol:
            break
        diag = s * gs

        def hessian(v, s=s, diag=diag):
            return diag * v + s * (ga @ (s * v)) + lam * (modes.T @ (modes @ v))

        forcing = 1e-3 * min(1.0, float(np.max(np.abs(grad) / da))) + 1e-12  # inexact Newton
        step = _pcg(hessian, -grad, 1.0 / (diag + lam * np.sum(modes**2, axis=0)), forcing, 500)
        t = 1.0
        for _ in range(30):
            f_new = objective(u + t * step)
            # Armijo; or a change below the rounding of f (near the optimum, where Newton steps are safe)
            if f_new <= f + 1e-4 * t * (grad @ step) or f_new - f <= 1e-13 * abs(f):
                break
            t *= 0.5
        u = u + t * step
        f = f_new
    e[active] = _balance(np.exp(u), side, labels)
    return e


def identifiable_efficiencies(crystal_efficiency, pairs, mask) -> np.ndarray:
    """The true efficiencies as a norm scan can know them: bipartite free modes balanced, mean 1 (n_crystals,).

    Compare :func:`estimate_crystal_efficiencies` with this, not with the raw
    truth: both give the same bin efficiencies (products) on the masked bins.
    """
    eff = np.asarray(crystal_efficiency, dtype=np.float64).ravel()
    from scipy.sparse.csgraph import connected_components

    weights = np.asarray(mask, dtype=np.float64).ravel()
    gmat = _pair_matrix(pairs, weights)
    side = bipartite_sides(gmat)
    labels = connected_components((gmat != 0).astype(np.int8), directed=False)[1]
    e = _balance(eff, side, labels)
    return e / e.mean()


def estimate_crystal_efficiencies(measured, expected_without_efficiencies, pairs, mask=None,
                                  min_fraction: float = 0.05, tol: float = 1e-10) -> np.ndarray:
    """Crystal efficiencies (mean 1) from a normalisation scan by fan sums (component-based, Poisson ML).

    Parameters
    ----------
    measured : ndarray, sinogram shaped
        Counts of the normalisation scan (:attr:`NormScan.measured`).
    expected_without_efficiencies : ndarray, sinogram shaped
        The site's model of the scan without the crystal efficiencies, any
        scale: geometry x attenuation x axial-compression weight
        (:func:`norm_scan_model`, :attr:`NormScan.model`). It already holds the
        compression weight, so ``pairs.w`` is not used.
    pairs : CrystalPairs
        Crystals of each bin (:func:`~petsim.acquisition.randoms.crystal_pairs_of`).
    mask : ndarray of bool, optional
        Bins to use; default :func:`norm_scan_mask` ``(model, min_fraction)``.
    min_fraction : float
        See :func:`norm_scan_mask`.
    tol : float
        Relative tolerance of the fan-sum equations.

    Returns
    -------
    ndarray float64, shape (n_crystals,)
        Relative efficiencies, mean 1 (the true ones are found up to their
        mean: compare with ``eff / eff.mean()``). Reshape to
        ``(n_rings, n_crystals_per_ring)`` for the detector grid.

    Examples
    --------
    >>> from petsim.scanner import Scanner
    >>> from petsim.acquisition.randoms import crystal_pairs_of
    >>> sc = Scanner("toy", n_rings=4, n_crystals_per_ring=96, inner_radius_mm=100.0, doi_mm=0.0,
    ...              ring_spacing_mm=4.0, crystal_size_mm=(4.0, 4.0, 20.0))
    >>> lay = sc.layout_3d(span=3, max_ring_diff=3)
    >>> eff = np.random.default_rng(1).gamma(400.0, 1 / 400.0, size=(4, 96))
    >>> scan = simulate_norm_scan(sc, lay, eff, counts=1e6, rng=0, diameter_mm=120.0)
    >>> est = estimate_crystal_efficiencies(scan.expected, scan.model, crystal_pairs_of(sc, lay))
    >>> bool(np.allclose(est, (eff / eff.mean()).ravel(), rtol=1e-6))
    True
    """
    y = np.asarray(measured, dtype=np.float64).ravel()
    g = np.asarray(expected_without_efficiencies, dtype=np.float64).ravel()
    if y.size != pairs.a.size or g.size != pairs.a.size:
        raise ValueError(f"measured ({y.size}) and model ({g.size}) must have the {pairs.a.size} bins of the layout")
    if not np.all(np.isfinite(y) & (y >= 0)):
        raise ValueError("measured counts must be finite and >= 0")
    if not np.all(np.isfinite(g) & (g >= 0)):
        raise ValueError("the model must be finite and >= 0")
    m = norm_scan_mask(g, min_fraction) if mask is None else np.asarray(mask, dtype=bool)
    m = m.ravel()
    if m.size != y.size:
        raise ValueError(f"mask has {m.size} bins, expected {y.size}")
    m = m & (g > 0)
    weights = np.where(m, g, 0.0)
    seen = _fan(pairs, weights) > 0
    if not np.all(seen):
        raise ValueError(f"{int((~seen).sum())} crystals have no bin through the source: their efficiency "
                         "cannot be measured; use a wider source (diameter_mm) or a lower min_fraction")
    d = _fan(pairs, np.where(m, y, 0.0))
    if np.any(d <= 0):
        raise ValueError(f"{int((d <= 0).sum())} crystals recorded no counts in the source's bins: "
                         "the normalisation scan has too few counts")
    e = fit_fan_sums(d, _pair_matrix(pairs, weights), tol=tol)
    return e / e.mean()


def estimated_bin_efficiency(crystal_efficiency, pairs) -> np.ndarray:
    """The normalisation sinogram the reconstruction uses: ``eps_a eps_b w`` (float32, sinogram shaped).

    The estimated counterpart of ``AcquisitionModel.detector_pattern`` (crystal
    product times axial-compression weight), up to the overall scale that the
    sensitivity calibration absorbs.
    """
    eff = np.asarray(crystal_efficiency, dtype=np.float64).ravel()
    if eff.size != pairs.n_crystals:
        raise ValueError(f"crystal_efficiency has {eff.size} values, expected {pairs.n_crystals}")
    return (eff[pairs.a] * eff[pairs.b] * pairs.w).astype(np.float32).reshape(pairs.shape)


def predicted_efficiency_sd(expected, pairs, mask=None, model=None, min_fraction: float = 0.05,
                            exact: bool = False) -> np.ndarray:
    """Relative SD of each estimated crystal efficiency that the counts allow (n_crystals,).

    ``exact=False``: ``1 / sqrt(F_a)``, with ``F_a`` the expected fan sum of
    crystal ``a`` over the bins the estimate uses. ``exact=True`` (dense, only
    for small scanners): the Cramér-Rao bound, the diagonal of
    ``P (diag(F) + C)^-1 P^T`` where ``C_ab`` are the expected counts of the
    bins joining ``a`` and ``b`` (the Fisher matrix of ``log eps``) and
    ``P = I - 1 eps^T / sum(eps)`` the normalisation to mean 1 (with eps ~ 1).

    Parameters
    ----------
    expected : ndarray, sinogram shaped
        Expected counts of the norm scan (:attr:`NormScan.expected`).
    pairs : CrystalPairs
    mask : ndarray of bool, optional
        Bins used; default from ``model`` (or ``expected``) by :func:`norm_scan_mask`.
    """
    ybar = np.asarray(expected, dtype=np.float64).ravel()
    if mask is None:
        mask = norm_scan_mask(ybar if model is None else np.asarray(model), min_fraction)
    yb = np.where(np.asarray(mask, dtype=bool).ravel(), ybar, 0.0)
    f = _fan(pairs, yb)
    if not exact:
        with np.errstate(divide="ignore"):
            return 1.0 / np.sqrt(f)
    n = pairs.n_crystals
    if n > 5000:
        raise ValueError(f"exact=True inverts a dense {n} x {n} matrix; use it for small scanners only")
    fisher = _pair_matrix(pairs, yb).toarray() + np.diag(f)
    cov = np.linalg.pinv(fisher)
    p = np.eye(n) - 1.0 / n
    return np.sqrt(np.clip(np.diag(p @ cov @ p.T), 0, None))
