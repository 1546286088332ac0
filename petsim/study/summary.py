"""Summarise a study folder: accuracy, detection, trait correlation and power.

Definitions (all per region and model, over converged fits only):

- ΔBP_ND = BP_ND(second condition) - BP_ND(first condition), the sign
  convention of the kinetics truth: negative when the release lowers binding.
  Its truth is the same difference of the true values (each condition's truth
  averaged over its window, see the TAC mode).
- %ΔBP_ND = 100 ΔBP_ND / BP_ND(first condition), estimate and truth alike.
- bias = mean(estimate - truth); SD = standard deviation of (estimate - truth)
  (with between-subject variability this is the spread of the error, not of
  the estimates); RMSE = sqrt(mean((estimate - truth)^2)).
- CI coverage: fraction of fits whose interval estimate +- z SE (z for
  ``ci_level``) holds the truth; for ΔBP_ND the SE is sqrt(SE0^2 + SE1^2).
  Empty where the model gives no SE.
- Matched control (two-window design with ``matched_control``): every
  subject also has a scan without release. ΔBP_ND (``delta_BP_ND``) is then
  the corrected ΔBP_ND[release scan] - ΔBP_ND[control scan], which removes
  the difference that the two windows of one scan show without any release;
  %ΔBP_ND is relative to the control scan's BP_ND(first condition). The raw
  window difference stays as ``delta_BP_ND_uncorrected`` and
  ``percent_delta_BP_ND_uncorrected``, the control scan's own values as
  ``matched_control_*``.
- Detection rate: fraction of replicates in which a t-test across subjects
  gives p < alpha: the paired t-test of BP_ND in the two conditions (same as
  a one-sample t-test of ΔBP_ND against 0), or with a matched control the
  one-sample t-test (scipy.stats.ttest_1samp) of the corrected ΔBP_ND against
  0 (``rate_uncorrected``: the paired test of the release scan alone). In a
  control study (no release) it is the false-positive rate. Its interval is
  the Clopper-Pearson interval over replicates.
- Trait correlation: per replicate the Pearson r between the subjects' trait
  and the estimated release effect -ΔBP_ND (corrected with a matched control;
  so that it compares with the design's r between trait and release
  magnitude), pooled over replicates by Fisher's z; the single-study interval
  is tanh(z +- z_crit / sqrt(n - 3)).
- Power: the detection rate in the power arms, for the first n subjects of
  each replicate (nested cohorts) at every effect size (corrected ΔBP_ND with
  a matched control; ``power_uncorrected`` without it).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy import stats

from petsim.core.atomic import write_text_atomic
from petsim.core.tsv import write_tsv as _write_table
from petsim.study import store
from petsim.study.config import StudyConfig, study_from_dict
from petsim.study.tasks import MAIN_ARM, MATCHED_CONTROL


#: Optional row values kept per fit (NaN where a row lacks them): the attainable BP_ND (the model on
#: the noise-free TACs), the bootstrap interval of BP_ND, and on the second condition's rows the
#: intervals of ΔBP_ND and %ΔBP_ND (corrected with a matched control).
_OPTIONAL = ("attainable_bp_nd", "bp_nd_ci_low", "bp_nd_ci_high", "delta_ci_low", "delta_ci_high",
             "percent_delta_ci_low", "percent_delta_ci_high")


class _ScanArrays:
    """est, se, truth, ok and the ``_OPTIONAL`` values (``opt[name]``): ``[(region, model)][condition]`` ->
    array of shape (n_replicates, n_subjects)."""

    def __init__(self, shape, conditions):
        self.shape, self.conditions = shape, conditions
        self.est, self.se, self.truth, self.ok = {}, {}, {}, {}
        self.present = {}  # [(region, model)][condition]: the fit has a row (converged or not)
        self.opt = {name: {} for name in _OPTIONAL}

    def add_key(self, key):
        if key not in self.est:
            for d in (self.est, self.se, self.truth, *self.opt.values()):
                d[key] = {c: np.full(self.shape, np.nan) for c in self.conditions}
            self.ok[key] = {c: np.zeros(self.shape, bool) for c in self.conditions}
            self.present[key] = {c: np.zeros(self.shape, bool) for c in self.conditions}

    def put(self, i, j, row):
        key = (row["region"], row["model"])
        self.add_key(key)
        c = row["condition"]
        bp = row["bp_nd"]
        self.est[key][c][i, j] = np.nan if bp is None else bp
        self.se[key][c][i, j] = np.nan if row["bp_nd_se"] is None else row["bp_nd_se"]
        self.truth[key][c][i, j] = row["truth_bp_nd"]
        self.ok[key][c][i, j] = bool(row["converged"]) and bp is not None and math.isfinite(bp)
        self.present[key][c][i, j] = True
        for name in _OPTIONAL:
            if row.get(name) is not None:
                self.opt[name][key][c][i, j] = row[name]

    def interval(self, key, c):
        """(low, high) bootstrap interval of BP_ND[c] (NaN where there is none)."""
        return self.opt["bp_nd_ci_low"][key][c], self.opt["bp_nd_ci_high"][key][c]

    def attainable(self, key, c):
        return self.opt["attainable_bp_nd"][key][c]


class ArmData:
    """One arm's estimates as arrays of shape (n_replicates, n_subjects).

    Attributes
    ----------
    est, se, truth, ok : dict
        ``[(region, model)][condition]`` -> array; ``ok`` is converged-and-finite.
        Rows of the study's own scans.
    control : _ScanArrays
        The same for the matched no-release control scan (two-window design
        with ``matched_control``; rows with ``scan = "matched_control"``).
    trait : ndarray
    effect_size : float or None
    n_failed : int
        Tasks stored with an error (their subjects are left out, as NaN).
    """

    def __init__(self, records: list, conditions):
        good = [r for r in records if r["status"] == "ok"]
        self.n_failed = len(records) - len(good)
        self.conditions = tuple(conditions)
        self.effect_size = records[0]["task"]["effect_size"] if records else None
        n_rep = 1 + max((r["task"]["replicate"] for r in records), default=-1)
        n_sub = max((r["task"]["subject_stop"] for r in records), default=0)
        shape = (n_rep, n_sub)
        self.shape = shape
        self.trait = np.full(shape, np.nan)
        main = _ScanArrays(shape, self.conditions)
        self.main = main
        self.control = _ScanArrays(shape, self.conditions)
        self.est, self.se, self.truth, self.ok = main.est, main.se, main.truth, main.ok
        for rec, subj in ((rec, subj) for rec in good for subj in rec["result"]["subjects"]):
            i, j = rec["task"]["replicate"], subj["subject"]["index"]
            self.trait[i, j] = subj["subject"]["trait"]
            for row in subj["rows"]:
                (self.control if row.get("scan") == MATCHED_CONTROL else main).put(i, j, row)
        for key in main.est:  # a key without control rows has all-NaN control arrays
            self.control.add_key(key)

    @property
    def keys(self):
        return sorted(self.est)

    def percent_delta(self, key):
        """(estimate, truth, se=NaN, ok) of %ΔBP_ND = 100 (BP(c1) - BP(c0)) / BP(c0)."""
        c0, c1 = self.conditions
        e, t = self.est[key], self.truth[key]
        with np.errstate(divide="ignore", invalid="ignore"):
            est = 100.0 * (e[c1] - e[c0]) / e[c0]
            truth = 100.0 * (t[c1] - t[c0]) / t[c0]
        ok = self.ok[key][c0] & self.ok[key][c1] & np.isfinite(est) & np.isfinite(truth)
        return est, truth, np.full(est.shape, np.nan), ok

    def delta(self, key):
        """(estimate, truth, se, ok) of ΔBP_ND = BP(c1) - BP(c0) (uncorrected)."""
        c0, c1 = self.conditions
        e, t, s, o = self.est[key], self.truth[key], self.se[key], self.ok[key]
        return (e[c1] - e[c0], t[c1] - t[c0], np.sqrt(s[c0] ** 2 + s[c1] ** 2), o[c0] & o[c1])

    def control_delta(self, key):
        """(estimate, truth, se, ok) of BP(c1) - BP(c0) in the matched control scan: the window bias."""
        c0, c1 = self.conditions
        a = self.control
        e, t, s, o = a.est[key], a.truth[key], a.se[key], a.ok[key]
        return (e[c1] - e[c0], t[c1] - t[c0], np.sqrt(s[c0] ** 2 + s[c1] ** 2), o[c0] & o[c1])

    def corrected_delta(self, key):
        """(estimate, truth, se, ok) of ΔBP_ND[release scan] - ΔBP_ND[matched control scan].

        The truth is the same difference of the truths: the release's true ΔBP_ND
        (the control scan's true ΔBP_ND is 0 up to quadrature rounding).
        SE: sqrt of the sum of the four SE^2 (windows of one scan treated as independent).
        """
        e, t, s, o = self.delta(key)
        ec, tc, sc, oc = self.control_delta(key)
        return e - ec, t - tc, np.sqrt(s**2 + sc**2), o & oc

    def corrected_percent_delta(self, key):
        """(estimate, truth, se=NaN, ok) of 100 x corrected ΔBP_ND / BP(c0) of the matched control scan."""
        c0 = self.conditions[0]
        e, t, _, o = self.corrected_delta(key)
        b_est, b_truth = self.control.est[key][c0], self.control.truth[key][c0]
        with np.errstate(divide="ignore", invalid="ignore"):
            est, truth = 100.0 * e / b_est, 100.0 * t / b_truth
        ok = o & np.isfinite(est) & np.isfinite(truth)
        return est, truth, np.full(est.shape, np.nan), ok

    def attainable_delta(self, key, corrected: bool):
        """ΔBP_ND of the attainable values (noise-free TACs), corrected by the control's when asked."""
        c0, c1 = self.conditions
        d = self.main.attainable(key, c1) - self.main.attainable(key, c0)
        if corrected:
            d = d - (self.control.attainable(key, c1) - self.control.attainable(key, c0))
        return d

    def attainable_percent(self, key, corrected: bool):
        c0 = self.conditions[0]
        base = (self.control if corrected else self.main).attainable(key, c0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return 100.0 * self.attainable_delta(key, corrected) / base

    def delta_interval(self, key, percent: bool = False):
        """The bootstrap interval of (corrected, with a matched control) ΔBP_ND or %ΔBP_ND."""
        c1 = self.conditions[1]
        name = "percent_delta" if percent else "delta"
        return self.main.opt[f"{name}_ci_low"][key][c1], self.main.opt[f"{name}_ci_high"][key][c1]

    def present_pair(self, key, scan=None):
        a = scan or self.main
        return a.present[key][self.conditions[0]] & a.present[key][self.conditions[1]]

    def effect(self, key, corrected: bool):
        """ΔBP_ND that the tests, the trait correlation and the power use: corrected or not."""
        return self.corrected_delta(key) if corrected else self.delta(key)


def _accuracy(est, truth, se, ok, z_crit, interval=None, attainable=None, present=None) -> dict:
    """Bias, spread and interval coverage of one quantity over converged fits.

    ``interval`` (low, high arrays) replaces ``estimate +- z SE`` where it is finite (the bootstrap's
    percentile interval); ``attainable`` adds the mean attainable value (the model on noise-free TACs),
    the mean of estimate - attainable and the interval's coverage of it; ``present`` (fits that have a
    row) gives the fraction of them that converged with a finite estimate.
    """
    out = _accuracy_core(est, truth, se, ok, z_crit, interval)
    if present is not None:
        out["finite_fraction"] = float(ok.sum() / present.sum()) if present.any() else np.nan
    if attainable is not None:
        good = ok & np.isfinite(attainable)
        out["attainable_mean"] = float(np.mean(attainable[good])) if good.any() else np.nan
        out["bias_vs_attainable"] = float(np.mean((est - attainable)[good])) if good.any() else np.nan
        out["ci_coverage_attainable"] = _coverage(est, attainable, se, good, z_crit, interval)
    return out


def _coverage(est, target, se, ok, z_crit, interval):
    """Fraction of the fits whose interval holds ``target``: the percentile interval where there is one,
    else estimate +- z SE; NaN when no fit has either."""
    hits = np.zeros(est.shape, bool)
    has = np.zeros(est.shape, bool)
    if interval is not None:
        lo, hi = interval
        with_interval = ok & np.isfinite(lo) & np.isfinite(hi)
        hits |= with_interval & (lo <= target) & (target <= hi)
        has |= with_interval
    with_se = ok & ~has & np.isfinite(se)
    hits |= with_se & (np.abs(est - target) <= z_crit * np.where(with_se, se, 0.0))
    has |= with_se
    return float(hits[has].mean()) if has.any() else np.nan


def _accuracy_core(est, truth, se, ok, z_crit, interval=None) -> dict:
    err = (est - truth)[ok]
    n = err.size
    out = {"n": n, "truth_mean": float(np.mean(truth[ok])) if n else np.nan,
           "estimate_mean": float(np.mean(est[ok])) if n else np.nan,
           "bias": float(np.mean(err)) if n else np.nan,
           "sd": float(np.std(err, ddof=1)) if n > 1 else np.nan,
           "rmse": float(np.sqrt(np.mean(err**2))) if n else np.nan}
    t_mean = out["truth_mean"]
    out["bias_pct"] = 100.0 * out["bias"] / t_mean if n and abs(t_mean) > 1e-12 else np.nan
    out["ci_coverage"] = _coverage(est, truth, se, ok, z_crit, interval)
    return out


# ttest_rel(e0, e1) tests the mean of e0 - e1 = -ΔBP_ND.
_SCIPY_SIDE = {"two-sided": "two-sided", "decrease": "greater", "increase": "less"}


def paired_detections(e0, e1, ok, alpha, alternative, n_first=None) -> np.ndarray:
    """Per replicate: 1.0 if the paired t-test of e0 vs e1 across subjects gives p < alpha, else 0.0.

    ``alternative``: "two-sided"; "decrease" tests BP(c1) < BP(c0) (a release
    lowers BP); "increase" the opposite.
    Replicates with fewer than 2 valid pairs give NaN.
    """
    n_rep = e0.shape[0]
    cols = slice(None) if n_first is None else slice(0, n_first)
    out = np.full(n_rep, np.nan)
    for r in range(n_rep):  # one test per replicate: a few hundred at most
        m = ok[r, cols]
        if m.sum() < 2:
            continue
        d = e0[r, cols][m] - e1[r, cols][m]
        if np.all(d == d[0]):  # zero variance: the t statistic is undefined
            out[r] = 0.0
            continue
        p = stats.ttest_rel(e0[r, cols][m], e1[r, cols][m], alternative=_SCIPY_SIDE[alternative]).pvalue
        out[r] = float(p < alpha)
    return out


# ttest_1samp(delta) tests the mean of ΔBP_ND itself.
_SCIPY_SIDE_DELTA = {"two-sided": "two-sided", "decrease": "less", "increase": "greater"}


def delta_detections(delta, ok, alpha, alternative, n_first=None) -> np.ndarray:
    """Per replicate: 1.0 if a one-sample t-test of ``delta`` (ΔBP_ND) across subjects against 0 gives p < alpha.

    Used with the matched-control-corrected ΔBP_ND; on an uncorrected ΔBP_ND it
    is the paired test. ``alternative``: "decrease" tests mean ΔBP_ND < 0,
    "increase" > 0. Replicates with fewer than 2 valid subjects give NaN.
    """
    n_rep = delta.shape[0]
    cols = slice(None) if n_first is None else slice(0, n_first)
    out = np.full(n_rep, np.nan)
    for r in range(n_rep):
        m = ok[r, cols]
        if m.sum() < 2:
            continue
        d = delta[r, cols][m]
        if np.all(d == d[0]):  # zero variance: the t statistic is undefined
            out[r] = 0.0
            continue
        p = stats.ttest_1samp(d, 0.0, alternative=_SCIPY_SIDE_DELTA[alternative]).pvalue
        out[r] = float(p < alpha)
    return out


def _rate_with_ci(hits: np.ndarray, level: float):
    valid = hits[np.isfinite(hits)]
    n, k = valid.size, int(valid.sum())
    if n == 0:
        return np.nan, np.nan, np.nan, 0
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return k / n, float(ci.low), float(ci.high), n


def _pearson(x, y):
    if x.size < 3 or np.std(x) == 0 or np.std(y) == 0:
        return np.nan, np.nan
    res = stats.pearsonr(x, y)
    return float(res.statistic), float(res.pvalue)


def _trait(arm: ArmData, key, study: StudyConfig, z_crit) -> dict:
    d_est, d_truth, _, ok = arm.effect(key, study.matched_control)
    r_est, r_truth, sig, ns = [], [], [], []
    for rep in range(arm.shape[0]):
        m = ok[rep] & np.isfinite(arm.trait[rep])
        # release effect = -ΔBP_ND: positive when the release lowers binding
        r, p = _pearson(arm.trait[rep][m], -d_est[rep][m])
        rt, _ = _pearson(arm.trait[rep][m], -d_truth[rep][m])
        if np.isfinite(r):
            r_est.append(r)
            sig.append(p < study.alpha)
            ns.append(int(m.sum()))
        if np.isfinite(rt):
            r_truth.append(rt)
    out = {"trait_r_design": study.trait.r, "trait_r_truth": np.nan, "trait_r_recovered": np.nan,
           "trait_r_ci_low": np.nan, "trait_r_ci_high": np.nan, "trait_r_pooled_ci_low": np.nan,
           "trait_r_pooled_ci_high": np.nan, "trait_r_significant_rate": np.nan}
    if r_truth:
        out["trait_r_truth"] = float(np.tanh(np.mean(np.arctanh(np.clip(r_truth, -0.999999, 0.999999)))))
    if r_est and min(ns) > 3:
        z = np.arctanh(np.clip(r_est, -0.999999, 0.999999))
        zbar = float(np.mean(z))
        n_typ = float(np.median(ns))
        half = z_crit / math.sqrt(n_typ - 3)
        pooled = z_crit / math.sqrt(np.sum(np.asarray(ns) - 3))
        out.update({"trait_r_recovered": math.tanh(zbar), "trait_r_ci_low": math.tanh(zbar - half),
                    "trait_r_ci_high": math.tanh(zbar + half), "trait_r_pooled_ci_low": math.tanh(zbar - pooled),
                    "trait_r_pooled_ci_high": math.tanh(zbar + pooled),
                    "trait_r_significant_rate": float(np.mean(sig))})
    return out


def summarise(out_dir, study: StudyConfig | None = None) -> dict:
    """Compute every summary table of a study folder.

    Returns
    -------
    dict
        ``accuracy`` (rows per region, model, quantity), ``detection`` (rows per
        region, model), ``power`` (rows per region, model, effect size, n),
        ``estimates`` (every fit) and ``n_failed`` (subject replicates lost to failed tasks).
    """
    study = study or study_from_dict(store.read_study(out_dir))
    z_crit = float(stats.norm.ppf(0.5 + study.ci_level / 2))
    records = store.read_records(out_dir)
    by_arm = {}
    for rec in records:
        by_arm.setdefault(rec["task"]["arm"], []).append(rec)
    c0, c1 = study.conditions
    accuracy, detection, power, estimates = [], [], [], []
    n_failed = sum(r["task"]["subject_stop"] - r["task"]["subject_start"] for r in records if r["status"] != "ok")
    main = ArmData(by_arm.get(MAIN_ARM, []), study.conditions)
    for rec in by_arm.get(MAIN_ARM, []):
        if rec["status"] == "ok":
            for subj in rec["result"]["subjects"]:
                for row in subj["rows"]:
                    estimates.append({"replicate": rec["task"]["replicate"], "subject": subj["subject"]["index"],
                                      "trait": subj["subject"]["trait"], **row})
    corrected = study.matched_control
    for key in main.keys:
        region, model = key
        for c in study.conditions:
            acc = _accuracy(main.est[key][c], main.truth[key][c], main.se[key][c], main.ok[key][c], z_crit,
                            interval=main.main.interval(key, c), attainable=main.main.attainable(key, c),
                            present=main.main.present[key][c])
            accuracy.append({"region": region, "model": model, "quantity": f"BP_ND[{c}]", **acc})
        # (arrays, interval, attainable, present) of each ΔBP_ND quantity; the bootstrap interval is of the
        # effect the study reports (corrected with a matched control)
        both = main.present_pair(key)
        effect = {"interval": main.delta_interval(key), "attainable": main.attainable_delta(key, corrected),
                  "present": both}
        effect_pct = {"interval": main.delta_interval(key, percent=True),
                      "attainable": main.attainable_percent(key, corrected), "present": both}
        if corrected:
            # delta_BP_ND is the matched-control-corrected effect; the raw window difference is kept
            # as *_uncorrected, and the control scan's own rows show the window bias by itself.
            both_scans = both & main.present_pair(key, main.control)
            quantities = [("delta_BP_ND", main.corrected_delta(key), {**effect, "present": both_scans}),
                          ("percent_delta_BP_ND", main.corrected_percent_delta(key),
                           {**effect_pct, "present": both_scans}),
                          ("delta_BP_ND_uncorrected", main.delta(key),
                           {"attainable": main.attainable_delta(key, False), "present": both}),
                          ("percent_delta_BP_ND_uncorrected", main.percent_delta(key),
                           {"attainable": main.attainable_percent(key, False), "present": both})]
            quantities += [(f"matched_control_BP_ND[{c}]", (main.control.est[key][c], main.control.truth[key][c],
                                                           main.control.se[key][c], main.control.ok[key][c]),
                            {"interval": main.control.interval(key, c), "attainable": main.control.attainable(key, c),
                             "present": main.control.present[key][c]})
                           for c in study.conditions]
            quantities.append(("matched_control_delta_BP_ND", main.control_delta(key), {}))
        else:
            quantities = [("delta_BP_ND", main.delta(key), effect), ("percent_delta_BP_ND", main.percent_delta(key),
                                                                     effect_pct)]
        for name, arrays, extra in quantities:
            accuracy.append({"region": region, "model": model, "quantity": name,
                             **_accuracy(*arrays, z_crit, **extra)})
        d_est, truth_delta, _, d_ok = main.effect(key, corrected)
        rate, lo, hi, n = _rate_with_ci(delta_detections(d_est, d_ok, study.alpha, study.alternative),
                                        study.ci_level)
        release = bool(np.nanmax(np.abs(truth_delta)) > 1e-9) if np.isfinite(truth_delta).any() else False
        row = {"region": region, "model": model, "kind": "detection_rate" if release else "false_positive_rate",
               "test": "matched_control_one_sample_t" if corrected else "paired_t",
               "rate": rate, "ci_low": lo, "ci_high": hi, "n_replicates": n}
        if corrected:  # the paired test of the release scan's two windows alone, for comparison
            hits = paired_detections(main.est[key][c0], main.est[key][c1], main.ok[key][c0] & main.ok[key][c1],
                                     study.alpha, study.alternative)
            u_rate, u_lo, u_hi, _ = _rate_with_ci(hits, study.ci_level)
            row.update({"rate_uncorrected": u_rate, "ci_low_uncorrected": u_lo, "ci_high_uncorrected": u_hi})
        detection.append({**row, "alpha": study.alpha, "n_subjects": study.n_subjects,
                          **_trait(main, key, study, z_crit)})
    for arm_name in sorted(a for a in by_arm if a != MAIN_ARM):
        arm = ArmData(by_arm[arm_name], study.conditions)
        for key in arm.keys:
            d_est, d_truth, _, d_ok = arm.effect(key, corrected)
            for n in study.power.n_subjects:
                hits = delta_detections(d_est, d_ok, study.alpha, study.alternative, n_first=n)
                rate, lo, hi, n_rep = _rate_with_ci(hits, study.ci_level)
                row = {"region": key[0], "model": key[1], "effect_size": arm.effect_size,
                       "true_delta_bp_nd": float(np.nanmean(d_truth[:, :n])), "n_subjects": n,
                       "power": rate, "ci_low": lo, "ci_high": hi, "n_replicates": n_rep}
                if corrected:
                    hits = paired_detections(arm.est[key][c0], arm.est[key][c1],
                                             arm.ok[key][c0] & arm.ok[key][c1], study.alpha, study.alternative,
                                             n_first=n)
                    row["power_uncorrected"] = _rate_with_ci(hits, study.ci_level)[0]
                power.append(row)
    return {"accuracy": accuracy, "detection": detection, "power": power, "estimates": estimates,
            "n_failed": n_failed}


def write_tsv(path, rows: list) -> None:
    """Rows (dicts) as a TSV with a header line, floats to 6 significant digits, written atomically.

    The columns are the union of the rows' keys in first-seen order; no rows give an empty file.
    """
    if not rows:
        write_text_atomic(Path(path), "")
        return
    _write_table(path, rows, digits=6)


def write_summary(out_dir, figures: bool = True) -> dict:
    """Summarise ``out_dir`` and write summary.tsv, detection.tsv, power.tsv, estimates.tsv and PNGs.

    Returns the dict of :func:`summarise` plus ``files`` (paths written).
    """
    out_dir = Path(out_dir)
    study = study_from_dict(store.read_study(out_dir))
    result = summarise(out_dir, study)
    files = []
    for name in ("accuracy", "detection", "power", "estimates"):
        fname = "summary.tsv" if name == "accuracy" else f"{name}.tsv"
        if name == "power" and not result["power"]:
            continue
        write_tsv(out_dir / fname, result[name])
        files.append(out_dir / fname)
    if figures:
        from petsim.study.figures import write_figures

        files += write_figures(out_dir, study, result)
    result["files"] = files
    return result
