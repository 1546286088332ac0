"""The units of work of a study.

By default one task is one replicate of the study: every subject and every
condition of that replicate (``subjects_per_task = 0``). For slow replicates
(the image mode) ``subjects_per_task = k`` splits a replicate into tasks of k
subjects, so that a cluster has enough tasks to share. Either way every
subject's draws come from its own seed keys, so results do not depend on how
the work is split, nor on the number of workers or the order tasks finish.
"""

from __future__ import annotations

from dataclasses import dataclass

from petsim.study import seeds
from petsim.study.config import StudyConfig

MAIN_ARM = "main"
# ``scan`` of the estimate rows of the two-window design's no-release control scan
# (rows without ``scan`` belong to the study's own scans).
MATCHED_CONTROL = "matched_control"


@dataclass(frozen=True, order=True)
class Task:
    """Subjects ``subject_start .. subject_stop - 1`` of one replicate of one arm.

    Attributes
    ----------
    arm : str
        ``"main"`` or ``"power-eKK"`` (the K-th effect size of the power curve).
    replicate : int
    subject_start, subject_stop : int
    seed_arm : int
        Arm part of the seed keys (see :mod:`petsim.study.seeds`).
    effect_size : float or None
        Release magnitude (peak occupancy) that replaces the scenario's; None = as scenario.
    control : bool
        True: no release in any condition.
    """

    arm: str
    replicate: int
    subject_start: int
    subject_stop: int
    seed_arm: int = seeds.ARM_MAIN
    effect_size: float | None = None
    control: bool = False

    @property
    def subjects(self) -> range:
        return range(self.subject_start, self.subject_stop)

    @property
    def name(self) -> str:
        """File-system and Dask-key friendly name, unique within a study."""
        return f"{self.arm}/r{self.replicate:05d}_s{self.subject_start:04d}-{self.subject_stop - 1:04d}"


def power_arm_name(k: int) -> str:
    return f"power-e{k:02d}"


def _blocks(n_subjects: int, per_task: int):
    step = n_subjects if per_task <= 0 else per_task
    return [(a, min(a + step, n_subjects)) for a in range(0, n_subjects, step)]


def study_tasks(study: StudyConfig) -> list:
    """Every task of the study, in a fixed order (main arm, then the power arms)."""
    per = study.subjects_per_task
    tasks = [Task(MAIN_ARM, r, a, b, seeds.ARM_MAIN, None, study.control_study)
             for r in range(study.n_replicates) for a, b in _blocks(study.n_subjects, per)]
    power = study.power
    if power.enabled:
        n_max = max(power.n_subjects)
        for k, effect in enumerate(power.effect_sizes):
            tasks += [Task(power_arm_name(k), r, a, b, seeds.ARM_POWER, float(effect), False)
                      for r in range(power.n_replicates) for a, b in _blocks(n_max, per)]
    return tasks
