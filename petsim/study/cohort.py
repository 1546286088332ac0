"""Virtual subjects: between-subject variability and a trait tied to release."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from petsim.study import seeds
from petsim.study.config import StudyConfig


@dataclass(frozen=True)
class Subject:
    """One virtual subject's deviations from the scenario's population medians.

    Attributes
    ----------
    index : int
    bp_scale : dict
        Region -> multiplicative factor on BP_ND (applied to k3, so BP_ND = k3/k4 scales).
    k1_scale : float
        Factor on K1 and k2 together in every region (a global delivery/perfusion
        difference; V_ND = K1/k2 is kept), as
        :func:`petsim.pipeline.simulate.subject_tracer` applies it in both modes.
    release_scale : float
        Factor on the release magnitude (peak occupancy) of every release.
    trait : float
        Standardised trait value (mean 0, SD 1 in the population).
    """

    index: int
    bp_scale: dict
    k1_scale: float
    release_scale: float
    trait: float

    def to_dict(self) -> dict:
        return {"index": self.index, "bp_scale": dict(self.bp_scale), "k1_scale": self.k1_scale,
                "release_scale": self.release_scale, "trait": self.trait}


def draw_subject(study: StudyConfig, subject: int, replicate: int, arm: int = seeds.ARM_MAIN,
                 regions=None) -> Subject:
    """Draw subject ``subject`` of replicate ``replicate``.

    With ``study.resample_subjects`` each replicate has a fresh cohort (what a
    repeated study sees); without it the same subjects recur in every replicate
    and replicates differ only by noise.

    The trait is ``r z_rel + sqrt(1 - r^2) z_other`` where ``z_rel`` is the
    standard-normal deviate of the subject's log release magnitude, so the
    population correlation of the trait with log release magnitude is exactly
    ``r`` (with release magnitude itself, slightly less for a wide spread).
    """
    regions = study.regions if regions is None else regions
    rep_key = replicate if study.resample_subjects else 0
    rng = seeds.generator(study.seed, seeds.STREAM_SUBJECT, arm, rep_key, subject)
    # Fixed draw order: z for release, trait, K1, then one per region in sorted order,
    # so adding a region does not change the other draws' meaning.
    z_release, z_other, z_k1 = rng.standard_normal(3)
    names = sorted(set(regions))
    z_regions = rng.standard_normal(len(names))
    var = study.variability
    r = study.trait.r
    trait = r * z_release + math.sqrt(max(0.0, 1.0 - r * r)) * z_other
    bp_scale = {name: float(np.exp(var.bp_sd_for(name) * z)) for name, z in zip(names, z_regions)}
    return Subject(index=subject, bp_scale=bp_scale, k1_scale=float(np.exp(var.k1_log_sd * z_k1)),
                   release_scale=float(np.exp(var.release_log_sd * z_release)), trait=float(trait))
