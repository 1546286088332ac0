"""Frames of a dynamic scan from projected basis images: trues, scatter, randoms, dead time, noise."""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from petsim.acquisition._kernels import poisson, weighted_sum
from petsim.acquisition.deadtime import live_fraction, paralysable_tau_s
from petsim.acquisition.randoms import RandomsTerm, delayed_randoms_term, singles_scale_for_random_fraction
from petsim.acquisition.scatter import scatter_term
from petsim.emission import EmissionData
from petsim.frames import FrameSchedule


def _as_schedule(frames) -> FrameSchedule:
    if isinstance(frames, FrameSchedule):
        return frames
    if isinstance(frames, (tuple, list)) and len(frames) == 2:
        return FrameSchedule(np.asarray(frames[0], dtype=float), np.asarray(frames[1], dtype=float))
    raise TypeError("frames must be a petsim.frames.FrameSchedule or a (starts_min, ends_min) pair, "
                    f"got {type(frames).__name__}")


def _check_inputs(model, basis_proj, frame_integrals, schedule):
    bp = np.asarray(basis_proj)
    if bp.ndim != 4 or tuple(bp.shape[1:]) != model.shape:
        raise ValueError(f"basis_proj has shape {bp.shape}, expected (K, *{model.shape}) from model.project_basis")
    if bp.dtype != np.float32:
        raise TypeError(f"basis_proj must be float32 (from model.project_basis), got {bp.dtype}")
    w = np.asarray(frame_integrals, dtype=np.float64)
    if w.ndim == 1 and bp.shape[0] == 1:
        w = w[None, :]
    if w.shape != (bp.shape[0], schedule.n_frames):
        raise ValueError(f"frame_integrals has shape {w.shape}, expected (K={bp.shape[0]}, "
                         f"n_frames={schedule.n_frames}) in Bq/mL x min")
    if not np.all(np.isfinite(w)):
        raise ValueError("frame_integrals contain NaN or infinite values")
    return bp, w


class _FramePlan:
    """Per-frame rates that need only basis totals and fan sums (cheap), computed up front."""

    def __init__(self, model, bp, w, schedule, singles_scale=None, out_of_field=None):
        phys = model.physics
        self.dur_min = np.asarray(schedule.durations_min, dtype=float)
        self.mean_activity = w / self.dur_min[None, :]          # (K, F) Bq/mL frame means
        basis_totals = bp.reshape(bp.shape[0], -1).sum(axis=1, dtype=np.float64)
        self.trues_cps = self.mean_activity.T @ basis_totals     # (F,)
        if np.any(self.trues_cps < 0):
            raise ValueError(f"frame_integrals give a negative total trues rate in frame(s) "
                             f"{np.flatnonzero(self.trues_cps < 0).tolist()}")
        sf = phys.scatter_fraction if phys.scatter else 0.0
        self.scatter_cps = sf / (1.0 - sf) * self.trues_cps
        # fan sums of every basis projection, once: singles of any frame are a weighted sum
        fans = np.stack([model.pairs.fan_sum(b) for b in bp])   # (K, n_crystals)
        self.fan_cps = self.mean_activity.T @ fans              # (F, n_crystals)
        self.out_of_field_cps = np.zeros_like(self.trues_cps)    # per crystal, in the fan sums' units
        phi = phys.out_of_field_singles_fraction
        if phi > 0 and self.trues_cps.max() > 0:
            if out_of_field is None:
                raise ValueError("physics.out_of_field_singles_fraction > 0 needs the out-of-field activity curve "
                                 "(out_of_field: one relative rate per frame)")
            body = np.asarray(out_of_field, dtype=float)
            if body.shape != self.trues_cps.shape or np.any(body < 0) or not np.all(np.isfinite(body)):
                raise ValueError(f"out_of_field must be {self.trues_cps.size} finite rates >= 0, got shape {body.shape}")
            peak = int(np.argmax(self.trues_cps))
            if body[peak] > 0:
                # at the peak frame the out-of-field singles are phi of all singles, spread over the crystals
                per_crystal = phi / (1.0 - phi) * self.fan_cps[peak].sum() / self.fan_cps.shape[1]
                self.out_of_field_cps = per_crystal * body / body[peak]
                self.fan_cps = self.fan_cps + self.out_of_field_cps[:, None]
        self.singles_scale = 0.0
        self.randoms_cps = np.zeros_like(self.trues_cps)
        if phys.randoms and singles_scale is not None:
            if not (np.isfinite(singles_scale) and singles_scale >= 0):
                raise ValueError(f"singles_scale must be >= 0 and finite, got {singles_scale!r}")
            self.singles_scale = float(singles_scale)
        elif phys.randoms and self.trues_cps.max() > 0:
            peak = int(np.argmax(self.trues_cps))
            self.singles_scale = singles_scale_for_random_fraction(
                model.pairs, self.fan_cps[peak], self.trues_cps[peak], self.scatter_cps[peak],
                phys.randoms_fraction_peak, phys.coincidence_tau_s)
        if phys.randoms and self.singles_scale > 0:
            self.randoms_cps = np.array([2 * phys.coincidence_tau_s * self.singles_scale * model.pairs.pair_sum(f)
                                         for f in self.fan_cps])
        self.tau_dead_s = paralysable_tau_s(phys.dead_time_50pct_rate_cps)
        input_rate = self.trues_cps + self.scatter_cps            # Brix 1997 quote T+S at the 50 % point
        self.live = live_fraction(input_rate, self.tau_dead_s) if phys.dead_time else np.ones_like(input_rate)


def iter_frames(model, basis_proj, frame_integrals, frames, rng=None, noise: bool | None = None,
                progress: bool = True, singles_scale: float | None = None, out_of_field=None):
    """Generator form of :func:`simulate_frames`: yields one :class:`EmissionData` at a time (bounded memory)."""
    schedule = _as_schedule(frames)
    bp, w = _check_inputs(model, basis_proj, frame_integrals, schedule)
    noise = model.physics.noise if noise is None else bool(noise)
    rng = np.random.default_rng(rng)
    phys = model.physics
    plan = _FramePlan(model, bp, w, schedule, singles_scale, out_of_field)
    decay = schedule.decay_correction_factors(model.isotope)
    s = model.sensitivity_cps_per_bq_ml_mm
    for f in tqdm(range(schedule.n_frames), desc="simulate frames", unit="frame", disable=None if progress else True):
        dur_s = 60.0 * plan.dur_min[f]
        live = float(plan.live[f])
        # expected unscattered trues (counts): weighted sum of basis projections, accumulated in float64
        trues = weighted_sum(bp, 60.0 * live * w[:, f])
        if trues.min() < 0:
            raise ValueError(f"frame {f}: the weighted basis gives negative expected trues "
                             f"(min {trues.min():g}); check the signs of frame_integrals")
        scatter_est, scatter = (scatter_term(trues, model.detector_pattern, model.lowpass, phys.scatter_fraction)
                                if phys.scatter else (None, np.zeros_like(trues)))
        if phys.randoms and plan.singles_scale > 0:
            expected_randoms = RandomsTerm(plan.fan_cps[f],
                                           float(np.float32(2 * phys.coincidence_tau_s * plan.singles_scale * dur_s * live)))
            randoms = expected_randoms.sinogram(model.pairs)
        else:
            expected_randoms, randoms = None, np.zeros_like(trues)
        expected = trues + scatter + randoms
        if noise:
            prompts = poisson(expected, rng)
            delayed = poisson(randoms, rng) if phys.randoms else np.zeros_like(trues)
            if phys.randoms and phys.randoms_correction == "exact":  # the oracle; the delayed draw is still made
                randoms_est, randoms_est_sino = expected_randoms, randoms
            else:
                randoms_est, randoms_est_sino = (delayed_randoms_term(model.pairs, delayed) if phys.randoms
                                                 else (None, None))
            n_delayed = float(delayed.sum(dtype=np.float64))
            del delayed
        else:
            prompts = expected
            randoms_est, randoms_est_sino = expected_randoms, randoms  # exact expected randoms (bias studies)
            n_delayed = float(randoms.sum(dtype=np.float64))
        # the additive term as the scan stores it (smooth scatter and crystal singles), expanded bit for bit;
        # the scatter estimate carries the site's detector pattern (the true one unless a measured one is given)
        if model.site_pattern is model.detector_pattern or scatter_est is None:
            site_scatter = scatter
        else:
            site_scatter = scatter_est.sinogram(model.site_pattern, model.lowpass)
        additive = site_scatter + (randoms_est_sino if randoms_est is not None else np.zeros_like(trues))
        t, sc, r = (float(x.sum(dtype=np.float64)) for x in (trues, scatter, randoms))
        info = {
            "trues": t, "scatter": sc, "randoms": r, "prompts": float(prompts.sum(dtype=np.float64)),
            "delayed": n_delayed, "nec": t * t / (t + sc + r) if t > 0 else 0.0,
            "trues_cps": float(plan.trues_cps[f]), "scatter_cps": float(plan.scatter_cps[f]),
            "randoms_cps": float(plan.randoms_cps[f]),
            "live_fraction": live, "dead_time_fraction": 1.0 - live,
            "random_fraction": r / (t + sc + r) if t + sc + r > 0 else 0.0,
            "scatter_fraction": sc / (t + sc) if t + sc > 0 else 0.0,
            "singles_scale": plan.singles_scale,
            "out_of_field_singles_fraction": (float(plan.out_of_field_cps[f] * plan.fan_cps.shape[1] / plan.fan_cps[f].sum())
                                              if plan.fan_cps[f].sum() > 0 else 0.0),
            "noise": noise, "expected_prompts": expected if not noise else None,
            "scatter_term": scatter_est, "randoms_term": randoms_est,
        }
        if noise:
            del expected
        yield EmissionData(
            prompts=prompts,
            multiplicative=model.site_efficiency * np.float32(live),
            additive=additive,
            scale=s * dur_s,
            frame_start_min=float(schedule.starts_min[f]),
            frame_duration_min=float(plan.dur_min[f]),
            decay_correction_factor=float(decay[f]),
            info=info,
        )


def simulate_frames(model, basis_proj, frame_integrals, frames, rng=None, noise: bool | None = None,
                    progress: bool = True, singles_scale: float | None = None, out_of_field=None) -> list:
    """Simulate the frames of a dynamic scan from projected basis images.

    Parameters
    ----------
    model : AcquisitionModel
    basis_proj : ndarray float32 (K, *layout.shape)
        From :meth:`AcquisitionModel.project_basis` (cps per Bq/mL of each basis image).
    frame_integrals : array (K, n_frames)
        Integral over each frame of each basis image's *physical* (decayed)
        activity, Bq/mL x min. Decay during the frame is in these integrals.
    frames : FrameSchedule or (starts_min, ends_min)
    rng : numpy.random.Generator, int or None
        Source of the Poisson noise; the same seed gives bit-identical frames.
    noise : bool, optional
        Poisson prompts and delayed counts (default ``model.physics.noise``);
        False gives the expected data, with the exact expected randoms as the
        randoms estimate.
    progress : bool
        tqdm bar over frames.
    singles_scale : float, optional
        ``1/p^2`` of the randoms model (``info["singles_scale"]`` of an earlier
        call). By default it is set so that the frame with the highest trues
        rate *among these frames* has ``physics.randoms_fraction_peak``; pass
        the value of the whole scan when simulating only some of its frames.
    out_of_field : array (n_frames,), optional
        Relative frame-mean rate of the activity outside the axial field of view (decay included);
        needed when ``physics.out_of_field_singles_fraction > 0``, which sets its scale.

    Returns
    -------
    list of EmissionData
        ``E[prompts] = scale * multiplicative * (P f) + additive`` with ``f``
        the frame-mean physical activity (Bq/mL), ``scale`` = sensitivity
        (cps per Bq/mL x mm) x frame duration (s), ``multiplicative`` =
        normalisation x attenuation x live fraction x compression weight and
        ``additive`` = randoms estimate + scatter (counts, dead time applied).
        ``info`` holds the frame's trues, scatter, randoms, prompts, delayed
        (counts), NEC = T^2/(T+S+R) (Strother et al., IEEE Trans Nucl Sci
        1990;37:783, with a smoothed randoms estimate), rates before losses
        (cps), live and dead-time fractions.
        Memory: 3 float32 sinograms per frame; use :func:`iter_frames` to keep one at a time.
    """
    return list(iter_frames(model, basis_proj, frame_integrals, frames, rng=rng, noise=noise, progress=progress,
                            singles_scale=singles_scale, out_of_field=out_of_field))


def count_summary(frames_out) -> str:
    """Printable table of trues, scatter, randoms, prompts, NEC and dead time per frame (counts)."""
    rows = ["frame  start_min  dur_min       trues     scatter     randoms     prompts         NEC   RF    dead%",]
    tot = np.zeros(5)
    for i, fr in enumerate(frames_out):
        inf = fr.info
        vals = np.array([inf["trues"], inf["scatter"], inf["randoms"], inf["prompts"], inf["nec"]])
        tot += vals
        rows.append(f"{i:5d} {fr.frame_start_min:10.2f} {fr.frame_duration_min:8.2f} "
                    + " ".join(f"{v:11.4g}" for v in vals)
                    + f" {inf['random_fraction']:5.2f} {100 * inf['dead_time_fraction']:7.2f}")
    rows.append(f"{'total':>5s} {'':10s} {'':8s} " + " ".join(f"{v:11.4g}" for v in tot))
    return "\n".join(rows)
