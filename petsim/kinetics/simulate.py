"""Simulate regional [11C]carfentanil kinetics with and without endogenous release.

``simulate`` returns a :class:`KineticsResult` holding the fine-grid curves
(release and no-release control), the occupancy O(t), BP_ND(t) and the
ground-truth table over any analysis window.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from petsim.frames import FrameSchedule, piecewise_linear_integral
from petsim.core.isotopes import get_isotope
from petsim.kinetics.compartment import solve_two_tissue
from petsim.kinetics.plasma import PlasmaInput
from petsim.kinetics.release import Release
from petsim.kinetics.tracer import Tracer

__all__ = ["simulate", "KineticsResult", "TRUTH_DEFINITION", "MODELS"]

MODELS = ("competition_fast", "competition_full")

TRUTH_DEFINITION = (
    "BP_ND(t) = k3(t)/k4 with k3(t) = k3 (1 - O(t)) [competition_fast] or "
    "k3 (1 - O(t) - C_S(t)/(SA B'max)) [competition_full, tracer mass]; O(t) = extra "
    "fractional receptor occupancy by the endogenous ligand. bp_nd_baseline = k3/k4. "
    "bp_nd_control and bp_nd_release = time averages of BP_ND(t) over the window "
    "[t1, t2] without and with release: (1/(t2-t1)) int_t1^t2 BP_ND(t) dt. "
    "delta_bp_nd = bp_nd_release - bp_nd_control (negative for release); "
    "percent_delta_bp_nd = 100 delta_bp_nd / bp_nd_control (nan where bp_nd_control = 0). "
    "In the fast model a sustained O gives percent_delta_bp_nd = -100 O. tracer_occupancy = window mean of "
    "C_S(t)/(SA B'max) in the control scan, the receptors the injected tracer mass itself occupies "
    "(0 in competition_fast)."
)


class KineticsResult:
    """Noise-free kinetics of a set of regions on a fine grid, with truth.

    Attributes
    ----------
    region_names : tuple of str
    t_min : (n_t,) fine time grid (min)
    cp, cwb : (n_t,) plasma parent and whole-blood activity (Bq/mL, decay-corrected)
    frames : FrameSchedule
    isotope : Isotope
    model : str
    truth_definition : str
    """

    def __init__(self, region_names, t_min, cp, cwb, frames, isotope, model, params,
                 occ, c_nd, c_s, c_nd_ctrl, c_s_ctrl, inv_capacity, releases, cp_mid):
        self.region_names = tuple(region_names)
        self._index = {r: i for i, r in enumerate(self.region_names)}
        self.t_min = t_min
        self.cp = cp
        self.cwb = cwb
        self.frames = frames
        self.isotope = isotope
        self.model = model
        self.params = dict(zip(self.region_names, params))
        self.releases = tuple(releases)
        self.truth_definition = TRUTH_DEFINITION
        self._occ = occ
        self._c_nd, self._c_s = c_nd, c_s
        self._c_nd_ctrl, self._c_s_ctrl = c_nd_ctrl, c_s_ctrl
        self._inv_cap = inv_capacity
        self._vb = np.array([p.vB for p in params])
        self._cp_mid = cp_mid
        vb = np.array([p.vB for p in params])[:, None]
        self._tissue = (1.0 - vb) * (c_nd + c_s) + vb * cwb[None, :]
        self._tissue_ctrl = (1.0 - vb) * (c_nd_ctrl + c_s_ctrl) + vb * cwb[None, :]
        for a in (self._tissue, self._tissue_ctrl, self._occ):
            a.setflags(write=False)

    def _i(self, region):
        try:
            return self._index[region]
        except KeyError:
            raise KeyError(f"region {region!r} was not simulated; simulated: {list(self.region_names)}") from None

    # --- fine-grid curves ---------------------------------------------------
    def tissue(self, region) -> np.ndarray:
        """Decay-corrected C_PET(t) = (1 - vB)(C_ND + C_S) + vB Cwb on ``t_min`` (Bq/mL)."""
        return self._tissue[self._i(region)]

    def tissue_control(self, region) -> np.ndarray:
        """C_PET(t) of the no-release control (same input, no endogenous release)."""
        return self._tissue_ctrl[self._i(region)]

    def compartments(self, region, control=False):
        """``(C_ND, C_S)`` tissue concentrations (Bq/mL) on ``t_min``."""
        i = self._i(region)
        if control:
            return self._c_nd_ctrl[i], self._c_s_ctrl[i]
        return self._c_nd[i], self._c_s[i]

    def occupancy(self, region) -> np.ndarray:
        """Extra endogenous occupancy O(t) on ``t_min`` (0 where no release)."""
        return self._occ[self._i(region)]

    def tracer_occupancy(self, region, control=True) -> np.ndarray:
        """Fraction of B'max occupied by the tracer itself, C_S(t) / (SA B'max), on ``t_min``.

        0 everywhere in the ``competition_fast`` model (a tracer dose without mass).
        """
        i = self._i(region)
        return (self._c_s_ctrl[i] if control else self._c_s[i]) * self._inv_cap[i]

    def bp_nd_timecourse(self, region, control=False) -> np.ndarray:
        """BP_ND(t) = k3(t)/k4 on ``t_min`` (see ``truth_definition``)."""
        i = self._i(region)
        p = self.params[region]
        o = np.zeros_like(self.t_min) if control else self._occ[i]
        c_s = self._c_s_ctrl[i] if control else self._c_s[i]
        return p.k3 * np.maximum(0.0, 1.0 - o - c_s * self._inv_cap[i]) / p.k4

    def tissue_release_scaled(self, region, factors) -> np.ndarray:
        """C_PET(t) of ``region`` with its occupancy O(t) multiplied by each factor.

        For voxelwise release maps: a voxel whose release is a fraction f of the
        region's release takes the curve for factor f (interpolate linearly
        between a few factors; the TAC is smooth in f). Factor 0 reproduces the
        control and factor 1 :meth:`tissue`, bit for bit.

        Returns
        -------
        (n_factors, n_t) array, Bq/mL, decay-corrected.
        """
        i = self._i(region)
        f = np.atleast_1d(np.asarray(factors, dtype=float))
        if f.ndim != 1 or np.any(f < 0) or not np.all(np.isfinite(f)):
            raise ValueError(f"factors must be finite and >= 0, got {factors!r}")
        if f.size and f.max() * self._occ[i].max() >= 1.0:
            raise ValueError(f"factor {f.max():g} x peak occupancy {self._occ[i].max():g} of {region!r} reaches 1")
        p = self.params[region]
        occ_mid = np.vstack([_region_occupancy((region,), self.releases, 0.5 * (self.t_min[1:] + self.t_min[:-1]))[0]] * f.size)
        occ_mid = occ_mid * f[:, None]
        n = f.size
        c_nd, c_s = solve_two_tissue(self.t_min, self.cp, np.full(n, p.K1), np.full(n, p.k2), np.full(n, p.k3),
                                     np.full(n, p.k4), occ_mid, np.full(n, self._inv_cap[i]), self._cp_mid)
        return (1.0 - p.vB) * (c_nd + c_s) + p.vB * self.cwb[None, :]

    # --- frame quantities ----------------------------------------------------
    def frame_mean(self, region, decayed=False, control=False) -> np.ndarray:
        """Frame-mean noise-free TAC (Bq/mL).

        ``decayed=False``: as a scanner writes it, decay-corrected to injection
        (decay-correction factor x frame mean of the decayed curve).
        ``decayed=True``: frame mean of the physical (decayed) concentration.
        """
        c = self.tissue_control(region) if control else self.tissue(region)
        m = self.frames.average(self.t_min, c, self.isotope)
        return m if decayed else m * self.frames.decay_correction_factors(self.isotope)

    def frame_integral_physical(self, region, control=False) -> np.ndarray:
        """Integral over each frame of the decayed (physical) concentration, Bq/mL x min."""
        c = self.tissue_control(region) if control else self.tissue(region)
        return self.frames.integrate(self.t_min, c, self.isotope)

    def frame_means(self, decayed=False, control=False) -> np.ndarray:
        """(n_regions, n_frames) frame means of every region (see :meth:`frame_mean`)."""
        c = self._tissue_ctrl if control else self._tissue
        m = self.frames.average(self.t_min, c, self.isotope)
        return m if decayed else m * self.frames.decay_correction_factors(self.isotope)

    def frame_integrals_physical(self, control=False) -> np.ndarray:
        """(n_regions, n_frames) frame integrals of the decayed concentration, Bq/mL x min."""
        return self.frames.integrate(self.t_min, self._tissue_ctrl if control else self._tissue, self.isotope)

    def voxel_frame_means(self, fraction_maps, decayed=False, control=False) -> np.ndarray:
        """Noise-free voxel TACs ``sum_r f_r(x) C_r`` frame-averaged, shape (*image, n_frames).

        Parameters
        ----------
        fraction_maps : dict region name -> array (x, y, z)
            Partial-volume fractions of simulated regions (all the same shape).
        decayed, control : as in :meth:`frame_mean`.
        """
        if not fraction_maps:
            raise ValueError("fraction_maps is empty")
        names = list(fraction_maps)
        maps = [np.asarray(fraction_maps[n], dtype=float) for n in names]
        shape = maps[0].shape
        for n, m in zip(names, maps):
            if m.shape != shape:
                raise ValueError(f"fraction map of {n!r} has shape {m.shape}, expected {shape}")
        idx = [self._i(n) for n in names]
        tacs = self.frame_means(decayed=decayed, control=control)[idx]  # (n_maps, n_frames)
        return np.tensordot(np.stack(maps, axis=-1), tacs, axes=([-1], [0]))

    # --- truth ------------------------------------------------------------------
    def _window(self, window_min):
        a, b = (float(x) for x in window_min)
        if not (0.0 <= a < b <= self.t_min[-1] + 1e-9):
            raise ValueError(
                f"analysis window {window_min} min must satisfy 0 <= start < end <= scan end ({self.t_min[-1]:g} min)"
            )
        return a, min(b, self.t_min[-1])

    def _window_mean(self, curve, a, b):
        return float(piecewise_linear_integral(self.t_min, curve, [a], [b])[0] / (b - a))

    def truth_table(self, window_min=(45.0, 90.0)) -> list:
        """Per-region truth rows over an analysis window (min); definitions in ``truth_definition``.

        Each row: region, bp_nd_baseline, bp_nd_control, bp_nd_release, delta_bp_nd,
        percent_delta_bp_nd, mean_occupancy, peak_occupancy, tracer_occupancy (window mean of the
        tracer's own occupancy in the control scan), peak_tracer_occupancy (over the scan),
        window_start_min, window_end_min.
        """
        a, b = self._window(window_min)
        rows = []
        for r in self.region_names:
            ctrl = self._window_mean(self.bp_nd_timecourse(r, control=True), a, b)
            rel = self._window_mean(self.bp_nd_timecourse(r), a, b)
            delta = rel - ctrl
            rows.append(dict(
                region=r,
                bp_nd_baseline=self.params[r].bp_nd,
                bp_nd_control=ctrl,
                bp_nd_release=rel,
                delta_bp_nd=delta,
                percent_delta_bp_nd=100.0 * delta / ctrl if ctrl > 0 else math.nan,
                mean_occupancy=self._window_mean(self.occupancy(r), a, b),
                peak_occupancy=float(self.occupancy(r).max()),
                tracer_occupancy=self._window_mean(self.tracer_occupancy(r), a, b),
                peak_tracer_occupancy=float(self.tracer_occupancy(r).max()),
                window_start_min=a,
                window_end_min=b,
            ))
        return rows

    def truth_maps(self, labels, names_by_label, window_min=(45.0, 90.0)) -> dict:
        """Truth maps through a label image.

        Parameters
        ----------
        labels : int array (x, y, z)
        names_by_label : dict int -> region name; labels not listed or not
            simulated get NaN.
        window_min : analysis window.

        Returns
        -------
        dict of float arrays shaped like ``labels``: bp_nd_baseline, bp_nd_release,
        delta_bp_nd, percent_delta_bp_nd.
        """
        labels = np.asarray(labels)
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"labels must be an integer array, got dtype {labels.dtype}")
        rows = {row["region"]: row for row in self.truth_table(window_min)}
        keys = ("bp_nd_baseline", "bp_nd_release", "delta_bp_nd", "percent_delta_bp_nd")
        lo = int(min(labels.min(), min(names_by_label, default=0), 0))
        hi = int(max(labels.max(), max(names_by_label, default=0)))
        out = {}
        for k in keys:
            lut = np.full(hi - lo + 1, np.nan)
            for lab, name in names_by_label.items():
                if name in rows:
                    lut[int(lab) - lo] = rows[name][k]
            out[k] = lut[labels - lo]
        return out

    def __repr__(self):
        return (f"KineticsResult({len(self.region_names)} regions, {self.t_min.size} samples to "
                f"{self.t_min[-1]:g} min, model={self.model!r}, {len(self.releases)} releases)")


def _region_occupancy(region_names, releases, t):
    occ = np.zeros((len(region_names), t.size))
    index = {r: i for i, r in enumerate(region_names)}
    for rel in releases:
        o = rel.occupancy(t)
        for r in rel.regions:
            if r in index:
                occ[index[r]] += o
    if occ.size and occ.max() >= 1.0:
        i, j = np.unravel_index(np.argmax(occ), occ.shape)
        raise ValueError(
            f"total extra occupancy in region {region_names[i]!r} reaches {occ[i, j]:.3g} at "
            f"{t[j]:.3g} min; the sum of releases must stay below 1"
        )
    return occ


def _time_grid(end_min, dt_min, kinks_min):
    """Uniform grid 0..end with the input's kinks inserted as nodes.

    A kink inside a step would cost the integrator its high order there; a
    uniform node closer than dt/4 to a kink is replaced by the kink.
    """
    n_steps = int(math.ceil(end_min / dt_min - 1e-9))
    t = np.arange(n_steps + 1) * dt_min
    t[-1] = end_min
    kinks = np.array([k for k in kinks_min if 0.0 < k < end_min])
    if kinks.size:
        near = np.abs(t[:, None] - kinks[None, :]).min(axis=1) < 0.25 * dt_min
        near[0] = near[-1] = False
        t = np.union1d(t[~near], kinks)
    return t


def simulate(region_names, tracer, inp, frames, releases=(), dt_min=0.01, model="competition_fast",
             isotope="C-11", specific_activity_gbq_per_umol=None) -> KineticsResult:
    """Noise-free regional TACs with endogenous release, and its no-release control.

    Parameters
    ----------
    region_names : sequence of str
        Regions to simulate (structure names with optional "_l"/"_r").
    tracer : Tracer
        Parameter table (:func:`load_tracer`).
    inp : PlasmaInput
        Arterial input (decay-corrected Bq/mL).
    frames : FrameSchedule
        Scan frames; the fine grid runs from injection to the last frame end.
    releases : sequence of Release
        Each names regions (all must be simulated) and an occupancy O(t);
        occupancies of releases on the same region add.
    dt_min : float
        Fine-grid step (min); the input's kinks are added as nodes, so
        ``t_min`` is nearly but not exactly uniform. 0.01 gives errors about
        1e-9 of the peak against the analytic 2TCM solution with the Feng input.
    model : "competition_fast" or "competition_full"
        Fast competition k3(t) = k3 (1 - O(t)); full adds the tracer's own
        receptor occupancy (mass effect), using the table's B'max and the
        specific activity.
    isotope : str or Isotope
        For frame decay.
    specific_activity_gbq_per_umol : float, optional
        At injection; default the tracer table's value. Only for the full model.

    Returns
    -------
    KineticsResult

    Examples
    --------
    >>> from petsim.kinetics import load_tracer, PlasmaInput, GammaRelease, simulate
    >>> from petsim.frames import get_schedule
    >>> res = simulate(["occipital_cortex", "amygdala_r"], load_tracer("carfentanil"),
    ...                PlasmaInput.bolus(555.0), get_schedule("hsu2013"),
    ...                [GammaRelease(["amygdala_r"], 45, 50, 1.0, 0.1)])
    >>> round(float(res.occupancy("amygdala_r").max()), 3)
    0.1
    """
    if isinstance(region_names, str):
        region_names = [region_names]
    region_names = tuple(region_names)
    if not region_names:
        raise ValueError("region_names is empty")
    if len(set(region_names)) != len(region_names):
        dup = sorted({r for r in region_names if region_names.count(r) > 1})
        raise ValueError(f"duplicate region names: {dup}")
    if not isinstance(tracer, Tracer):
        raise TypeError(f"tracer must be a Tracer (load_tracer), got {type(tracer).__name__}")
    if not isinstance(inp, PlasmaInput):
        raise TypeError(f"inp must be a PlasmaInput, got {type(inp).__name__}")
    if not isinstance(frames, FrameSchedule):
        raise TypeError(f"frames must be a FrameSchedule, got {type(frames).__name__}")
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    if not (isinstance(dt_min, numbers.Real) and 0 < dt_min <= 0.1):
        raise ValueError(f"dt_min must be in (0, 0.1] min, got {dt_min!r}")
    iso = get_isotope(isotope)
    params = [tracer.params(r) for r in region_names]  # KeyError names the known structures
    releases = tuple(releases)
    scan_end = frames.scan_end_min
    for rel in releases:
        if not isinstance(rel, Release):
            raise TypeError(f"releases must be Release objects, got {type(rel).__name__}")
        for r in rel.regions:
            if r not in region_names:
                raise ValueError(
                    f"release {rel!r} names region {r!r}, which is not simulated; simulated: {list(region_names)}"
                )
        if rel.onset_min >= scan_end:
            raise ValueError(
                f"release onset {rel.onset_min} min is at or beyond the scan end ({scan_end} min): {rel!r}"
            )

    t = _time_grid(scan_end, dt_min, inp.kinks_min)
    cp, cwb = inp.evaluate(t)
    t_mid = 0.5 * (t[1:] + t[:-1])
    cp_mid = inp.parent(t_mid)
    occ = _region_occupancy(region_names, releases, t)
    occ_mid = _region_occupancy(region_names, releases, t_mid)

    K1 = np.array([p.K1 for p in params])
    k2 = np.array([p.k2 for p in params])
    k3 = np.array([p.k3 for p in params])
    k4 = np.array([p.k4 for p in params])
    if model == "competition_full":
        sa = tracer.specific_activity_gbq_per_umol if specific_activity_gbq_per_umol is None else float(specific_activity_gbq_per_umol)
        if not sa > 0:
            raise ValueError(f"specific_activity_gbq_per_umol must be > 0, got {sa!r}")
        # Bq/pmol = 1e3 x GBq/umol; capacity SA x B'max in Bq/mL (B'max nM = pmol/mL)
        inv_cap = np.array([0.0 if math.isinf(p.bmax_nm) else 1.0 / (1e3 * sa * p.bmax_nm) for p in params])
    else:
        inv_cap = np.zeros(len(params))

    c_nd_ctrl, c_s_ctrl = solve_two_tissue(t, cp, K1, k2, k3, k4, np.zeros_like(occ_mid), inv_cap, cp_mid)
    c_nd, c_s = c_nd_ctrl.copy(), c_s_ctrl.copy()
    rows = np.flatnonzero(np.array([any(r in rel.regions for rel in releases) for r in region_names]))
    if rows.size:
        c_nd[rows], c_s[rows] = solve_two_tissue(t, cp, K1[rows], k2[rows], k3[rows], k4[rows],
                                                 occ_mid[rows], inv_cap[rows], cp_mid)
    return KineticsResult(region_names, t, cp, cwb, frames, iso, model, params, occ,
                          c_nd, c_s, c_nd_ctrl, c_s_ctrl, inv_cap, releases, cp_mid)
