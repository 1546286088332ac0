"""Seeds for every random draw of a study, derived from the study seed.

Each draw gets its own ``numpy.random.SeedSequence(study_seed, spawn_key=key)``:
the same stream that ``SeedSequence(study_seed).spawn`` would hand out along
the path ``key``. A result therefore depends only on the study seed and the
task's key, never on the number of workers or the order tasks finish.
"""

from __future__ import annotations

import numpy as np

# First element of every spawn key: which kind of draw it is.
STREAM_SUBJECT = 0  # between-subject parameters and the trait
STREAM_NOISE = 1  # measurement noise of one scan (one condition)

# Second element: the arm of the study (0 = the main study; power arms share
# one key so that every effect size sees the same subjects and noise,
# "common random numbers", which makes the power curve smooth in effect size).
ARM_MAIN = 0
ARM_POWER = 1

# Last element of a noise key: the scan. Conditions 0 and 1 are the study's two
# conditions (the two-window design has one scan, condition 0); the matched
# no-release control scan of the two-window design has its own stream, so it is
# independent of the release scan and of how the work is split.
SCAN_MATCHED_CONTROL = 2


def seed_sequence(study_seed: int, *key: int) -> np.random.SeedSequence:
    """The seed sequence of one draw.

    Parameters
    ----------
    study_seed : int
        The study's seed (>= 0).
    *key : int
        Non-negative integers naming the draw, e.g.
        ``(STREAM_NOISE, arm, replicate, subject, condition)``.
    """
    if any(int(k) < 0 for k in key):
        raise ValueError(f"seed key {key!r}: all parts must be >= 0")
    return np.random.SeedSequence(int(study_seed), spawn_key=tuple(int(k) for k in key))


def generator(study_seed: int, *key: int) -> np.random.Generator:
    """A ``numpy.random.Generator`` (PCG64) for the draw named by ``key``."""
    return np.random.Generator(np.random.PCG64(seed_sequence(study_seed, *key)))


def integer_seed(study_seed: int, *key: int) -> int:
    """A 63-bit integer seed for code that takes an ``int`` (e.g. the image pipeline)."""
    return int(seed_sequence(study_seed, *key).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
