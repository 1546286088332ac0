"""Honest uncertainty of BP_ND: a wild residual bootstrap of one regional fit.

The SE a fit reports with BP_ND (the slope SE of the Logan plot, the delta-method
SE of MRTM2's k2/k2a from the weighted least-squares covariance) treats the
regressors as exact and the frames as equally informative up to the weights.
Neither holds: the graphical and multilinear models put the noisy target
TAC into their regressors (its running integral, or 1/C_T), and frame noise
of a reconstructed PET TAC is heteroscedastic (var_i ~ C_i exp(lambda t_i) /
dt_i). Intervals built on those SEs under-cover (for Logan, a nominal 95%
interval covers a quarter to a third of the time).

:func:`bootstrap_bp` resamples instead. It fits once, takes the noise-free
target TAC the fit implies on its fitted frames (:func:`implied_tac`), and makes
each bootstrap TAC as ``ct*_i = fitted_i + r_i v_i`` with residuals
``r_i = (ct_i - fitted_i) sqrt(n / (n - p))`` (n fitted frames, p parameters:
the HC1 rescaling) and independent Rademacher signs ``v_i = +-1`` (the wild
bootstrap: Wu, Ann. Stat. 1986;14:1261; Davidson & Flachaire, J. Econometrics
2008;146:162, who recommend the Rademacher form). Each frame keeps its own
residual size, so the heteroscedastic frame noise is respected without a
noise model. Frames outside the fit keep their measured values. Every
bootstrap TAC is refitted with the same model and settings, and the SD of the
replicates' BP_ND is the SE, their 2.5 and 97.5 percentiles the 95% interval.

The residuals are those of the target TAC for every model, also for the
graphical (Logan) and multilinear (MRTM, MRTM2) models. Resampling the TAC,
not the transformed variables, is what makes the bootstrap consistent for
them: the refit recomputes the integrals and ratios from the resampled TAC, so
the noise of C_T in the regressors, the source of their bias and of the
too-small regression SE, is reproduced. (Resampling the regression's residuals
with the regressors fixed would repeat the regression SE's mistake.) But
their ``fitted`` is not a noise-free TAC: MRTM's and MRTM2's is the
regression's prediction, which contains the noisy running integral of C_T,
and Logan's uses the measured integral up to each frame. Residuals against it
are not the frame noise (for MRTM2 they are dominated by k2a times the
integrated noise), so the TAC to resample around is the one the fitted
equation implies, solved for C_T (:func:`implied_tac`). Measured in
``tests/test_modeling_bootstrap.py``: bootstrap SE / Monte Carlo SD 1.02
(MRTM2) and 1.01 (Logan), percentile-interval coverage 0.91 and 0.92; against
``fitted`` instead, MRTM2's SE came out 24% too large at low noise.

Model misfit is resampled as if it were noise: where the model does not
describe the TAC (Logan with t* before the plot is linear) the SE is
conservative.

What is not propagated: the noise of the reference TAC (held fixed, as in
the fits) and of the frames before t* (held at their measured values, though
they enter the running integral). An estimated k2' is, when its replicates are
given (``k2_ref_replicates``; :func:`petsim.modeling.fit_windows` makes them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._frames import check_frames, check_reference, check_tac, integral_matrix
from .models import get_model
from .results import FitResult

__all__ = ["BootstrapResult", "DeltaInterval", "bootstrap_bp", "bootstrap_windows", "delta_interval", "implied_tac",
           "delta_replicates", "replicate_interval"]


def _rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (bool, float)) or not isinstance(rng, (int, np.integer, np.random.SeedSequence)):
        raise ValueError(f"rng must be a numpy.random.Generator or an integer seed, got {rng!r}")
    return np.random.default_rng(rng)


def _level(level) -> float:
    level = float(level)
    if not (0.0 < level < 1.0):
        raise ValueError(f"level must lie strictly between 0 and 1 (0.95 for a 95% interval), got {level!r}")
    return level


def _summary(values: np.ndarray, level: float, min_finite: int = 2):
    """(SD, (low, high) percentile interval at ``level``) of the finite values; NaN with fewer than
    ``min_finite`` of them."""
    ok = np.asarray(values, dtype=float)
    ok = ok[np.isfinite(ok)]
    if ok.size < max(min_finite, 2):
        return float("nan"), (float("nan"), float("nan"))
    a = 100.0 * (1.0 - level) / 2.0
    lo, hi = np.percentile(ok, [a, 100.0 - a])
    return float(np.std(ok, ddof=1)), (float(lo), float(hi))


def delta_replicates(base, task, control_base=None, control_task=None) -> tuple:
    """ΔBP_ND and %ΔBP_ND of paired replicates: ``task - base``, corrected by the matched control's own
    ``control_task - control_base`` when given, in % of the control's (else the scan's) baseline BP_ND.

    Returns ``(delta, percent)`` arrays (NaN where a replicate is missing or the baseline is 0).
    """
    base, task = np.asarray(base, dtype=float), np.asarray(task, dtype=float)
    delta = task - base
    reference = base
    if control_base is not None:
        reference = np.asarray(control_base, dtype=float)
        delta = delta - (np.asarray(control_task, dtype=float) - reference)
    with np.errstate(divide="ignore", invalid="ignore"):
        return delta, 100.0 * delta / reference


def replicate_interval(values, level: float = 0.95) -> tuple:
    """SE and percentile interval of bootstrap replicates (e.g. a ΔBP_ND formed from paired replicates).

    Returns ``(se, low, high)``, NaN where fewer than 10 replicates are finite (too few for an
    interval). Non-finite replicates (failed refits) are left out.
    """
    se, (lo, hi) = _summary(values, _level(level), min_finite=10)
    return se, lo, hi


@dataclass(frozen=True)
class BootstrapResult:
    """The wild bootstrap of one fit's BP_ND.

    Attributes
    ----------
    model : str
    bp_nd : float
        BP_ND of the fit to the measured TAC.
    se : float
        SD of the finite bootstrap replicates of BP_ND.
    interval : (float, float)
        Percentile interval of the replicates at ``level``.
    level : float
        0.95 for the 95% interval.
    n_boot : int
        Replicates drawn.
    n_finite : int
        Replicates whose refit converged with a finite BP_ND; the others are dropped (NaN in
        ``replicates``) and counted in ``n_dropped``.
    replicates : ndarray
        BP_ND of every replicate (``n_boot`` values, NaN where dropped), in draw order, so that
        replicate k of two independent bootstraps can be paired (:func:`delta_interval`).
    fit : FitResult
        The fit to the measured TAC.
    """

    model: str
    bp_nd: float
    se: float
    interval: tuple
    level: float
    n_boot: int
    n_finite: int
    replicates: np.ndarray = field(repr=False)
    fit: FitResult = field(repr=False, default=None)

    @property
    def n_dropped(self) -> int:
        return self.n_boot - self.n_finite


@dataclass(frozen=True)
class DeltaInterval:
    """BP_ND(b) - BP_ND(a) with its bootstrap SE and percentile interval.

    ``delta`` is the difference of the two fits to the data; ``n_pairs`` the replicate pairs in
    which both refits were finite.
    """

    delta: float
    se: float
    interval: tuple
    level: float
    n_pairs: int
    replicates: np.ndarray = field(repr=False)


def implied_tac(fit: FitResult, ct, cr, frame_start_min, frame_end_min, use) -> np.ndarray:
    """The noise-free target TAC a fit implies on its fitted frames ``use`` (measured values elsewhere).

    For SRTM, SRTM2 and the tissue ratio this is ``fit.fitted``. MRTM and MRTM2 regress C_T on
    its own running integral, so their ``fitted`` (the regression's prediction) carries the
    noise of the integral, and residuals against it are not the frame noise. The TAC the fitted
    equation implies is the solution for C_T of it, with the integral computed as the fit does
    (:func:`petsim.modeling._frames.integral_to_mid`, linear: ``L @ C``) from the measured values
    before t*:

    - MRTM, MRTM2: ``C_T = k2 int C_R + R1 C_R - k2a L C_T`` (R1 = k2/k2' for MRTM2);
    - Logan: ``L C_T = DVR (int C_R + C_R/k2') + b C_T``,

    a linear system in the fitted frames' C_T.
    """
    start, end = check_frames(frame_start_min, frame_end_min)
    ct = check_tac(ct, start.size, "target TAC")
    cr = check_reference(cr, start.size)
    use = np.asarray(use, dtype=bool)
    p = fit.params
    if fit.model not in ("mrtm", "mrtm2", "logan_ref"):
        return np.where(use, np.asarray(fit.fitted, dtype=float), ct)
    L = integral_matrix(start, end)
    int_r = L @ cr
    keep = ~use
    rest = L[np.ix_(use, keep)] @ ct[keep]  # the measured frames' part of the integral
    luu = L[np.ix_(use, use)]
    eye = np.eye(int(use.sum()))
    if fit.model in ("mrtm", "mrtm2"):
        a = eye + p["k2a"] * luu
        b = p["k2"] * int_r[use] + p["R1"] * cr[use] - p["k2a"] * rest
    else:
        x = int_r + cr / p["k2_ref"] if "k2_ref" in p else int_r
        a = luu - p["intercept"] * eye
        b = p["DVR"] * x[use] - rest
    out = ct.copy()
    out[use] = np.linalg.solve(a, b)
    return out


def bootstrap_bp(model, ct, cr, frame_start_min, frame_end_min, *, n_boot=200, rng, weights=None, level=0.95,
                 **fit_kwargs) -> BootstrapResult:
    """Wild residual bootstrap of BP_ND from one target TAC against a reference TAC.

    Parameters
    ----------
    model : str or Model
        A model of :data:`petsim.modeling.MODELS` (``"mrtm2"``, ``"logan_ref"``, ``"srtm"``, ...).
    ct, cr : array_like
        Target and reference TACs (Bq/mL), one value per frame.
    frame_start_min, frame_end_min : array_like
        Frame times (min from injection).
    n_boot : int
        Bootstrap replicates (>= 2; 200 or more for a 95% interval).
    rng : numpy.random.Generator or int
        Source of the Rademacher signs; the same seed gives bit-identical results.
    weights : array_like, optional
        Frame weights of the fit, used unchanged in every refit.
    level : float
        Coverage of the percentile interval (0.95).
    **fit_kwargs
        Passed to ``model.fit`` (``t_star_min``, ``k2_ref``, ``window_min``).

    Returns
    -------
    BootstrapResult

    Raises
    ------
    ValueError
        On bad input (as the fit raises it, or for ``n_boot``, ``rng``, ``level``), and when the
        fit to the measured TAC itself fails (there is nothing to resample around).

    Notes
    -----
    See the module docstring for the method (Wu 1986; Davidson & Flachaire 2008) and what it
    leaves out. A replicate whose refit does not converge, has a non-finite BP_ND or raises a
    ``ValueError`` (e.g. a Logan plot with C_T <= 0 in a fitted frame) is dropped and counted.

    Examples
    --------
    >>> import numpy as np
    >>> from petsim.modeling import bootstrap_bp
    >>> start = np.arange(0.0, 90.0, 5.0); end = start + 5.0
    >>> t = (start + end) / 2
    >>> cr = 10 * (np.exp(-0.03 * t) - np.exp(-1.0 * t))
    >>> ct = 2 * cr + 0.1 * np.cos(t)
    >>> b = bootstrap_bp("logan_ref", ct, cr, start, end, n_boot=50, rng=1, t_star_min=20.0)
    >>> b.n_finite, b.interval[0] < b.bp_nd < b.interval[1]
    (50, True)
    """
    return bootstrap_windows(model, ct, cr, frame_start_min, frame_end_min, [fit_kwargs.pop("window_min", None)],
                             n_boot=n_boot, rng=rng, weights=weights, level=level, strict=True, **fit_kwargs)[0]


def bootstrap_windows(model, ct, cr, frame_start_min, frame_end_min, windows, *, n_boot=200, rng, weights=None,
                      level=0.95, strict=False, k2_ref_replicates=None, **fit_kwargs) -> list:
    """One joint wild bootstrap of a TAC's fits in several windows of the same scan.

    Each window is fitted, and its residuals taken against the TAC its fit implies, as in
    :func:`bootstrap_bp`. Replicate k then draws *one* Rademacher sign per frame for the whole
    TAC: every window's frames are resampled around their own fit with the same signs vector, and
    every window is refitted on that one resampled TAC. Replicate k of two windows therefore
    come from the same data, as the two windows of a real scan do (they share the reference TAC,
    and a later window's running integrals contain the earlier frames), so that
    :func:`delta_interval` of two windows' results gives an interval of ΔBP_ND that carries that
    dependence instead of assuming the windows independent.

    Parameters
    ----------
    windows : sequence of (float, float) or None
        Fit windows (min); ``None`` for a model's whole-scan fit. No frame may be fitted in two
        windows.
    strict : bool
        Raise a ``ValueError`` when a window's fit to the measured TAC fails; otherwise that
        window's entry is None and its frames keep their measured values.
    k2_ref_replicates : array_like, shape (n_boot,), optional
        The k2' (1/min) of each replicate when k2' was estimated from the same scan
        (:func:`petsim.modeling.fitting.k2_ref_replicates`): replicate k is refitted with its own
        k2', so that the estimate's noise enters the interval. ``k2_ref`` (in ``fit_kwargs``)
        is then the estimate from the measured TACs, used for the fits to them.
    n_boot, rng, weights, level, **fit_kwargs :
        As for :func:`bootstrap_bp` (``t_star_min``, ``k2_ref``).

    Returns
    -------
    list of BootstrapResult or None, one per window, whose ``replicates`` pair by index.
    """
    m = get_model(model)
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise ValueError(f"n_boot must be an integer >= 2 (the number of bootstrap replicates), got {n_boot!r}")
    level = _level(level)
    gen = _rng(rng)
    start, end = check_frames(frame_start_min, frame_end_min)
    ct = check_tac(ct, start.size, "target TAC")
    windows = list(windows)
    if not windows:
        raise ValueError("windows is empty: give at least one fit window (min), or [None] for the whole scan")
    centre, resid = ct.copy(), np.zeros(ct.size)  # frames no window fits keep their measured values
    fits, masks, claimed = [], [], np.zeros(ct.size, bool)
    for window in windows:
        fit, use = _fit_for_bootstrap(m, ct, cr, start, end, weights, window, fit_kwargs)
        if fit is None:
            if strict:
                raise ValueError(use)
            fits.append(None)
            masks.append(None)
            continue
        if np.any(claimed & use):
            raise ValueError(f"the fit windows {windows} share frames; a joint bootstrap needs disjoint windows")
        claimed |= use
        try:
            implied = implied_tac(fit, ct, cr, start, end, use)
        except np.linalg.LinAlgError:
            implied = np.asarray(fit.fitted, dtype=float)
        n_used = int(use.sum())
        # Residuals are smaller than the errors by the fitted parameters' share; rescale them by
        # sqrt(n / (n - p)) (the HC1 form of Davidson & Flachaire 2008).
        dof_scale = np.sqrt(n_used / (n_used - m.n_params)) if n_used > m.n_params else 1.0
        centre[use] = implied[use]
        resid[use] = (ct[use] - implied[use]) * dof_scale
        fits.append(fit)
        masks.append(use)
    signs = 2.0 * gen.integers(0, 2, size=(int(n_boot), ct.size)) - 1.0
    resampled = centre + resid * signs
    refit_kwargs, refit = dict(fit_kwargs), np.ones(int(n_boot), bool)
    if k2_ref_replicates is not None:
        k2_reps = np.asarray(k2_ref_replicates, dtype=float)
        if k2_reps.shape != (int(n_boot),):
            raise ValueError(f"k2_ref_replicates must hold one k2' per replicate ({n_boot}), got shape {k2_reps.shape}")
        refit = np.isfinite(k2_reps)  # a replicate whose k2' could not be estimated has no refit
        refit_kwargs["k2_ref"] = k2_reps[refit]
    out = []
    for window, fit in zip(windows, fits):
        if fit is None:
            out.append(None)
            continue
        reps = np.full(int(n_boot), np.nan)
        if refit.any():
            reps[refit] = m.bp_many(resampled[refit], cr, start, end, weights=weights, window_min=window,
                                    **refit_kwargs)
        se, interval = _summary(reps, level)
        out.append(BootstrapResult(m.name, float(fit.bp_nd), se, interval, level, int(n_boot),
                                   int(np.isfinite(reps).sum()), reps, fit))
    return out


def _fit_for_bootstrap(m, ct, cr, start, end, weights, window, fit_kwargs):
    """(fit, fitted-frames mask) of the measured TAC, or (None, why) when there is nothing to resample around."""
    fit = m.fit(ct, cr, start, end, weights=weights, window_min=window, **fit_kwargs)
    if not np.isfinite(fit.bp_nd) or not fit.converged or fit.fitted is None:
        return None, (f"the {m.name} fit to the measured TAC failed ({fit.message or 'BP_ND not finite'}); "
                      "there is nothing to bootstrap around")
    use = m.used_frames(start, end, t_star_min=fit_kwargs.get("t_star_min"), window_min=window)
    use &= np.isfinite(np.asarray(fit.fitted, dtype=float))
    if not use.any():
        return None, f"the {m.name} fit has no fitted frames to take residuals from"
    return fit, use


def delta_interval(boot_a: BootstrapResult, boot_b: BootstrapResult, *, level=0.95) -> DeltaInterval:
    """SE and percentile interval of ΔBP_ND = BP_ND(b) - BP_ND(a) from two independent bootstraps.

    Replicate k of ``boot_a`` is paired with replicate k of ``boot_b`` (pairs in which either was
    dropped are left out). Two separate bootstraps (:func:`bootstrap_bp`) pair rightly when the
    two fits' errors are independent: two scans (baseline and challenge, test and retest). Two
    windows of one scan share the reference TAC and the running integrals from injection; give
    them to :func:`bootstrap_windows`, whose replicates of the windows come from the same
    resampled TAC, so that the pairing carries their dependence.

    Parameters
    ----------
    boot_a, boot_b : BootstrapResult
        From :func:`bootstrap_bp`, with the same ``n_boot``.
    level : float
        Coverage of the percentile interval (0.95).
    """
    for name, b in (("boot_a", boot_a), ("boot_b", boot_b)):
        if not isinstance(b, BootstrapResult):
            raise ValueError(f"{name} must be a BootstrapResult from bootstrap_bp, got {type(b).__name__}")
    if boot_a.n_boot != boot_b.n_boot:
        raise ValueError(f"the bootstraps have {boot_a.n_boot} and {boot_b.n_boot} replicates; pairing needs "
                         "the same n_boot")
    level = _level(level)
    d = np.asarray(boot_b.replicates, dtype=float) - np.asarray(boot_a.replicates, dtype=float)
    n_pairs = int(np.isfinite(d).sum())
    if n_pairs < 2:
        raise ValueError(f"only {n_pairs} replicate pairs are finite in both bootstraps; cannot form an interval")
    se, interval = _summary(d, level)
    return DeltaInterval(float(boot_b.bp_nd - boot_a.bp_nd), se, interval, level, n_pairs, d)
