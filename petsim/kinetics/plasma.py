"""Plasma input functions: Feng-shaped bolus, metabolites, whole blood, bolus plus infusion.

Every curve is a sum of terms ``(a + b s) exp(l s)`` with ``s = t - tau`` for
``t > tau`` (0 before), so values and running integrals are closed-form and
the bolus-plus-infusion input (Carson et al. 1993) is exact, not a numerical
convolution. Concentrations are decay-corrected to injection (Bq/mL).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from petsim.frames import _phi1, _psi

__all__ = ["FENG1993", "feng_bolus", "bolus_plus_infusion", "steady_state_k_bol", "PlasmaInput", "ExpTerms"]

# Feng, Huang & Wang, Int J Biomed Comput 1993;32:95-110, model 2 fit to an
# FDG plasma curve (A in uCi/mL in the paper, lambda in 1/min, tau in min).
# Used here only as a bolus *shape* (scaled to the dose by PlasmaInput).
FENG1993 = dict(A1=851.1225, A2=21.8798, A3=20.8113, l1=-4.1339, l2=-0.1191, l3=-0.01043, tau=0.735)


@dataclass(frozen=True)
class ExpTerms:
    """Sum over k of ``(a_k + b_k s) exp(l_k s)``, s = t - tau_min, zero for t <= tau_min."""

    a: tuple
    b: tuple
    l: tuple
    tau_min: float = 0.0

    def _s(self, t_min):
        return np.asarray(t_min, dtype=float) - self.tau_min

    def __call__(self, t_min):
        s = self._s(t_min)
        sp = np.maximum(s, 0.0)
        out = np.zeros_like(sp)
        for a, b, l in zip(self.a, self.b, self.l):
            out += (a + b * sp) * np.exp(l * sp)
        return np.where(s > 0, out, 0.0)

    def integral(self, t_min):
        """Running integral from 0 to t (value x min)."""
        s = np.maximum(self._s(t_min), 0.0)
        out = np.zeros_like(s)
        for a, b, l in zip(self.a, self.b, self.l):
            out += a * s * _phi1(l * s) + b * s * s * _psi(l * s)
        return out

    def scaled(self, factor):
        return ExpTerms(tuple(factor * x for x in self.a), tuple(factor * x for x in self.b), self.l, self.tau_min)

    def times_exp(self, c, mu):
        """The curve multiplied by ``c + (1 - c) exp(-mu t)`` (t since injection)."""
        w = (1.0 - c) * math.exp(-mu * self.tau_min)
        return ExpTerms(
            tuple(c * x for x in self.a) + tuple(w * x for x in self.a),
            tuple(c * x for x in self.b) + tuple(w * x for x in self.b),
            tuple(self.l) + tuple(l - mu for l in self.l),
            self.tau_min,
        )


def feng_bolus(A1=FENG1993["A1"], A2=FENG1993["A2"], A3=FENG1993["A3"], l1=FENG1993["l1"],
               l2=FENG1993["l2"], l3=FENG1993["l3"], tau_min=FENG1993["tau"]) -> ExpTerms:
    """Feng et al. (1993) bolus input, ``(A1 s - A2 - A3) e^{l1 s} + A2 e^{l2 s} + A3 e^{l3 s}``.

    Rates l1, l2, l3 in 1/min must be negative; s = t - tau in min. Returns an
    :class:`ExpTerms` callable ``Cp(t_min)`` in the units of A2, A3.
    """
    for name, v in (("l1", l1), ("l2", l2), ("l3", l3)):
        if not v < 0:
            raise ValueError(f"Feng exponent {name} must be < 0 (1/min), got {v!r}")
    if tau_min < 0:
        raise ValueError(f"tau_min must be >= 0, got {tau_min!r}")
    return ExpTerms((-(A2 + A3), A2, A3), (A1, 0.0, 0.0), (l1, l2, l3), float(tau_min))


def bolus_plus_infusion(bolus, t_min, k_bol_min, infusion_min):
    """Bolus-plus-infusion response built from a bolus response (Carson et al., JCBFM 1993).

    ``C_BI(t) = [K_bol C_bol(t) + int_{max(0,t-T)}^t C_bol(s) ds] / (K_bol + T)``,
    the same total dose split into a bolus and a constant infusion of length T
    (K_bol = bolus dose / infusion rate, in min).

    Parameters
    ----------
    bolus : ExpTerms
        Bolus response (must provide ``__call__`` and ``integral``).
    t_min : array, times in min.
    k_bol_min : float >= 0.
    infusion_min : float > 0.
    """
    if not (k_bol_min >= 0 and math.isfinite(k_bol_min)):
        raise ValueError(f"k_bol_min must be a finite number >= 0, got {k_bol_min!r}")
    if not (infusion_min > 0 and math.isfinite(infusion_min)):
        raise ValueError(f"infusion_min must be > 0, got {infusion_min!r}")
    t = np.asarray(t_min, dtype=float)
    infused = bolus.integral(t) - bolus.integral(np.maximum(t - infusion_min, 0.0))
    return (k_bol_min * bolus(t) + infused) / (k_bol_min + infusion_min)


def steady_state_k_bol(bolus, infusion_min, steady_from_min, step_min=0.5, max_k_bol_min=1000.0):
    """The K_bol (min) that holds a bolus-plus-infusion response steadiest (Carson et al., JCBFM 1993).

    Carson's design rule chooses the bolus fraction from the bolus response itself, so that the
    concentration is flat once the infusion has run for a while. Here "flat" is least squares: the
    relative deviation of ``C_BI(t)`` from its mean over ``[steady_from_min, infusion_min]``
    (sampled every ``step_min``) is minimised over ``0 <= K_bol <= max_k_bol_min``.

    Parameters
    ----------
    bolus : ExpTerms
        Bolus response of the curve that should be steady (the parent plasma curve).
    infusion_min : float
        Infusion duration T (min); the span ends there.
    steady_from_min : float
        Start of the span (min), before ``infusion_min``.

    Returns
    -------
    float, K_bol in min (bolus dose / infusion rate).
    """
    from scipy.optimize import minimize_scalar

    if not 0 <= steady_from_min < infusion_min:
        raise ValueError(f"steady_from_min = {steady_from_min!r} must be >= 0 and before the infusion end "
                         f"({infusion_min!r} min)")
    t = np.arange(steady_from_min, infusion_min + 1e-9, step_min)
    c, infused = bolus(t), bolus.integral(t) - bolus.integral(np.maximum(t - infusion_min, 0.0))

    def spread(k):
        y = k * c + infused  # proportional to C_BI(t); the scale (K_bol + T) cancels in the relative spread
        return float(np.std(y) / np.mean(y))

    best = minimize_scalar(spread, bounds=(0.0, max_k_bol_min), method="bounded", options={"xatol": 1e-3})
    return float(best.x)


# Dose scaling (planning): the Feng shape is scaled so that
#   K1_cal * V_brain * int_0^10 Cp_parent(t) dt = f_uptake * dose
# for a bolus, i.e. a brain of V_brain = 1300 mL with a mean K1 of 0.12 mL/cm3/min
# takes up f_uptake = 7 % of the dose in the first 10 min (unidirectional
# uptake, no efflux). With efflux and the carfentanil table the simulated brain
# (60 % grey, 40 % white matter) holds about 3 % of the dose at its peak
# (~10 min), within the 3-6 % of the dose in the head early on used for HR+
# count-level planning (shared/kinetics-reference.md); tested in
# tests/test_kinetics_plasma.py.
BRAIN_FRACTION_10MIN = 0.07
BRAIN_VOLUME_ML = 1300.0
K1_CALIBRATION = 0.12


@dataclass(frozen=True)
class PlasmaInput:
    """Arterial input: plasma parent Cp(t) and whole blood Cwb(t), Bq/mL, decay-corrected.

    Build with :meth:`bolus` or :meth:`bolus_plus_infusion`.

    Attributes
    ----------
    dose_mbq : float, injected activity (MBq).
    total_plasma : ExpTerms, total plasma activity of a pure bolus (parent + metabolites), Bq/mL.
    parent_plasma : ExpTerms, parent (unmetabolised) plasma activity of a pure bolus, Bq/mL.
    blood_to_plasma : float, whole-blood / plasma activity ratio.
    k_bol_min, infusion_min : bolus-plus-infusion protocol (k_bol_min None: pure bolus).
    """

    dose_mbq: float
    total_plasma: ExpTerms
    parent_plasma: ExpTerms
    blood_to_plasma: float = 1.0
    k_bol_min: float | None = None
    infusion_min: float = 90.0

    @classmethod
    def bolus(cls, dose_mbq=555.0, parent_fraction_plateau=0.2, parent_half_time_min=25.0,
              blood_to_plasma=1.0, shape=None):
        """Bolus injection with a carfentanil-like parent curve.

        Parameters
        ----------
        dose_mbq : float
            Injected activity (MBq, > 0).
        parent_fraction_plateau, parent_half_time_min : float
            Parent fraction ``f_p(t) = c + (1 - c) 2^{-t / t_half}`` (planning:
            c = 0.2, t_half = 25 min, so f_p falls below 1/2 at about 37 min,
            within the first hour as described for carfentanil). Use c = 1 for
            no metabolites.
        blood_to_plasma : float
            Whole-blood / total-plasma activity ratio (planning 1.0).
        shape : ExpTerms, optional
            Bolus shape of total plasma activity (default :func:`feng_bolus`).
        """
        if not (dose_mbq > 0 and math.isfinite(dose_mbq)):
            raise ValueError(f"dose_mbq must be > 0, got {dose_mbq!r}")
        if not (0.0 <= parent_fraction_plateau <= 1.0):
            raise ValueError(f"parent_fraction_plateau must be in [0, 1], got {parent_fraction_plateau!r}")
        if not parent_half_time_min > 0:
            raise ValueError(f"parent_half_time_min must be > 0, got {parent_half_time_min!r}")
        if not blood_to_plasma > 0:
            raise ValueError(f"blood_to_plasma must be > 0, got {blood_to_plasma!r}")
        shape = feng_bolus() if shape is None else shape
        mu = math.log(2.0) / parent_half_time_min
        parent_shape = shape.times_exp(parent_fraction_plateau, mu)
        auc10 = float(parent_shape.integral(10.0))
        bq_per_ml = BRAIN_FRACTION_10MIN * dose_mbq * 1e6 / (K1_CALIBRATION * BRAIN_VOLUME_ML * auc10)
        return cls(float(dose_mbq), shape.scaled(bq_per_ml), parent_shape.scaled(bq_per_ml),
                   float(blood_to_plasma))

    @classmethod
    def bolus_plus_infusion(cls, dose_mbq=555.0, k_bol_min=None, infusion_min=90.0, steady_from_min=40.0,
                            **bolus_kwargs):
        """Same total dose given as a bolus plus a constant infusion (Carson et al. 1993).

        ``k_bol_min`` = bolus dose / infusion rate (min). By default it is derived, as the
        protocol intends, from the bolus response of the parent plasma curve:
        :func:`steady_state_k_bol` holds parent plasma steadiest from ``steady_from_min`` to the
        end of the infusion (about 44 min for the default carfentanil input, i.e. a third of the
        dose as bolus; K_bol = 90 min, half as bolus, lets parent plasma fall 16 % from 40 to 90
        min with this input). The infusion rate is constant in decay-corrected activity.
        """
        b = cls.bolus(dose_mbq, **bolus_kwargs)
        if k_bol_min is None:
            k_bol_min = steady_state_k_bol(b.parent_plasma, infusion_min, steady_from_min)
        bolus_plus_infusion(b.total_plasma, [0.0], k_bol_min, infusion_min)  # validates
        return cls(b.dose_mbq, b.total_plasma, b.parent_plasma, b.blood_to_plasma,
                   float(k_bol_min), float(infusion_min))

    @property
    def bolus_fraction(self) -> float:
        """Fraction of the dose given as the bolus: K_bol / (K_bol + T) (1 for a pure bolus)."""
        if self.k_bol_min is None:
            return 1.0
        return self.k_bol_min / (self.k_bol_min + self.infusion_min)

    @property
    def kinks_min(self) -> tuple:
        """Times (min) where the input is not smooth (bolus arrival, infusion end)."""
        tau = self.total_plasma.tau_min
        if self.k_bol_min is None:
            return (tau,)
        return (tau, self.infusion_min, tau + self.infusion_min)

    def _apply(self, curve, t_min):
        if self.k_bol_min is None:
            return curve(np.asarray(t_min, dtype=float))
        return bolus_plus_infusion(curve, t_min, self.k_bol_min, self.infusion_min)

    def injected_fraction(self, t_min):
        """Fraction of the dose injected by time t (the bolus at t = 0, then the infusion at a constant rate)."""
        t = np.asarray(t_min, dtype=float)
        if self.k_bol_min is None:
            return np.where(t >= 0, 1.0, 0.0)
        f = self.bolus_fraction
        return np.where(t >= 0, f + (1.0 - f) * np.clip(t / self.infusion_min, 0.0, 1.0), 0.0)

    def parent(self, t_min):
        """Metabolite-corrected plasma parent concentration Cp(t), Bq/mL."""
        return self._apply(self.parent_plasma, t_min)

    def total(self, t_min):
        """Total plasma activity (parent + metabolites), Bq/mL."""
        return self._apply(self.total_plasma, t_min)

    def whole_blood(self, t_min):
        """Whole-blood activity Cwb(t) = blood_to_plasma x total plasma, Bq/mL."""
        return self.blood_to_plasma * self.total(t_min)

    def evaluate(self, t_min):
        """``(Cp, Cwb)`` on the given times (min)."""
        return self.parent(t_min), self.whole_blood(t_min)
