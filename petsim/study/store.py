"""Results on disk: one small JSON file per replicate, written atomically.

Layout of a study folder::

    DIR/study.json                               the resolved study and its fingerprint
    DIR/replicates/<arm>/r00003_s0000-0017.json  one per task (a replicate, or a block of its subjects)
    DIR/summary.tsv, DIR/detection.tsv, ...      written by ``petsim study summary``

A file is written to a temporary name in the same folder and renamed, so a
study killed at any moment leaves only complete files; a restarted study
skips every task whose file says ``"status": "ok"``.
"""

from __future__ import annotations

import json
from pathlib import Path

from petsim.core.atomic import write_text_atomic
from petsim.study.config import StudyConfig
from petsim.study.tasks import Task

STUDY_FILE = "study.json"
REPLICATES = "replicates"


def record_path(out_dir, task: Task) -> Path:
    return Path(out_dir) / REPLICATES / f"{task.name}.json"


def task_to_dict(task: Task) -> dict:
    return {"arm": task.arm, "replicate": task.replicate, "subject_start": task.subject_start,
            "subject_stop": task.subject_stop, "seed_arm": task.seed_arm, "effect_size": task.effect_size,
            "control": task.control}


def write_record(out_dir, task: Task, status: str, result=None, error: str | None = None,
                 meta: dict | None = None) -> Path:
    """Store one replicate's outcome (``status`` "ok" with ``result``, or "error" with ``error``)."""
    if status not in ("ok", "error"):
        raise ValueError(f"status {status!r}: allowed 'ok' or 'error'")
    record = {"task": task_to_dict(task), "status": status, "result": result, "error": error,
              "meta": meta or {}}
    path = record_path(out_dir, task)
    write_text_atomic(path, json.dumps(record, indent=1, sort_keys=True))
    return path


def read_record(path) -> dict | None:
    """One record, or None if the file is unreadable (treated as not done)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def read_records(out_dir, arm: str | None = None) -> list:
    """Every stored record (optionally of one arm), sorted by (arm, replicate, first subject)."""
    root = Path(out_dir) / REPLICATES
    pattern = f"{arm}/*.json" if arm else "*/*.json"
    records = [r for r in (read_record(p) for p in sorted(root.glob(pattern))) if r is not None]
    records.sort(key=lambda r: (r["task"]["arm"], r["task"]["replicate"], r["task"]["subject_start"]))
    return records


def done_tasks(out_dir, tasks, rerun_failed: bool = True) -> set:
    """Tasks that need not run again: stored "ok" (and "error" too unless ``rerun_failed``)."""
    done = set()
    for task in tasks:
        path = record_path(out_dir, task)
        if path.is_file():
            rec = read_record(path)
            if rec is not None and (rec["status"] == "ok" or not rerun_failed):
                done.add(task)
    return done


def init_study_dir(out_dir, study: StudyConfig) -> None:
    """Create the folder, or check that an existing one holds the same study.

    Raises
    ------
    ValueError
        If ``out_dir`` already holds results of a study with other settings.
    """
    out = Path(out_dir)
    path = out / STUDY_FILE
    if path.is_file():
        stored = read_record(path) or {}
        if stored.get("fingerprint") != study.fingerprint():
            raise ValueError(f"{str(out)!r} holds results of a different study (fingerprint "
                             f"{stored.get('fingerprint')!r}, this one {study.fingerprint()!r}); "
                             "choose another output folder or delete it")
        return
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps({"fingerprint": study.fingerprint(), "study": study.to_dict()},
                                       indent=1, sort_keys=True))


def read_study(out_dir) -> dict:
    """The stored study (as written by :func:`init_study_dir`)."""
    path = Path(out_dir) / STUDY_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r} not found: is {str(out_dir)!r} a study folder?")
    rec = read_record(path)
    if rec is None:
        raise ValueError(f"{str(path)!r} is not valid JSON")
    return rec["study"]
