"""Where every output of a run lives (the BIDS way, see DESIGN.md), and what guards a run folder.

A run folder holds the outputs of one resolved scenario. Stage markers record
that scenario (and its SHA-256), so a stage is reused only for the scenario
that made it; a run of another scenario on the folder is refused (or, with
``--force``, the old outputs are removed first), and a lock file keeps two
processes from writing one folder at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from petsim.core.atomic import write_text_atomic

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: runs there are not locked
    fcntl = None

STAGES = ("simulate", "reconstruct", "fit", "report")


class RunFolderError(ValueError):
    """A run folder holds something else than what a command expects (another scenario, a busy lock)."""


def scenario_sha256(scenario_json: str) -> str:
    """SHA-256 of a resolved scenario, canonical JSON (sorted keys), hex."""
    canonical = json.dumps(json.loads(scenario_json), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RunLayout:
    """Paths of one run's outputs under ``root`` for subject ``subject``."""

    root: Path
    subject: str = "01"

    @property
    def sub(self) -> str:
        return f"sub-{self.subject}"

    @property
    def pet_dir(self) -> Path:
        return self.root / self.sub / "pet"

    @property
    def deriv_dir(self) -> Path:
        return self.root / "derivatives" / "petsim" / self.sub

    @property
    def sino_dir(self) -> Path:
        return self.deriv_dir / "sinograms"

    @property
    def derivatives_root(self) -> Path:
        """petsim's derivative dataset (its own dataset_description.json, the report)."""
        return self.root / "derivatives" / "petsim"

    @property
    def report_dir(self) -> Path:
        return self.derivatives_root / "report"

    @property
    def state_dir(self) -> Path:
        return self.root / ".petsim"

    @property
    def scenario_path(self) -> Path:
        return self.root / "scenario_resolved.toml"

    @staticmethod
    def _scan_entity(scan: str) -> str:
        """The BIDS entity of a scan: none for the scan with release, ``task-control`` for the matched
        no-release control (BIDS-PET has no ``acq`` entity; ``task`` names the condition)."""
        return "" if scan == "release" else f"_task-{scan}"

    def pet(self, scan: str, ext: str = ".nii.gz") -> Path:
        return self.pet_dir / f"{self.sub}{self._scan_entity(scan)}_pet{ext}"

    def deriv(self, desc: str, suffix: str, scan: str = "release", ext: str = ".tsv") -> Path:
        return self.deriv_dir / f"{self.sub}{self._scan_entity(scan)}_desc-{desc}_{suffix}{ext}"

    # Stage bookkeeping: a stage is complete only when its marker exists and
    # records the same scenario; markers are written last, atomically.
    def marker(self, stage: str) -> Path:
        return self.state_dir / f"{stage}.done.json"

    def stage_done(self, stage: str, scenario_json: str) -> bool:
        path = self.marker(stage)
        if not path.is_file():
            return False
        try:
            marker = json.loads(path.read_text())
        except (json.JSONDecodeError, OSError):
            return False
        return (marker.get("scenario") == json.loads(scenario_json)
                and marker.get("scenario_sha256") == scenario_sha256(scenario_json))

    def mark_done(self, stage: str, scenario_json: str, **info) -> None:
        write_text_atomic(self.marker(stage), json.dumps(
            {"scenario": json.loads(scenario_json), "scenario_sha256": scenario_sha256(scenario_json), **info},
            indent=1))

    def scans(self) -> list[str]:
        """The scans the simulate stage made (``release``, and ``control`` when it was simulated)."""
        return json.loads(self.marker("simulate").read_text())["scans"]

    def invalidate_from(self, stage: str) -> None:
        """Remove the markers of ``stage`` and every later stage (their outputs become stale)."""
        for later in STAGES[STAGES.index(stage):]:
            self.marker(later).unlink(missing_ok=True)


def outputs_of(root: Path, subject: str) -> list[Path]:
    """What petsim writes in a run folder for ``subject`` (and nothing else a user may keep there)."""
    lay = RunLayout(Path(root), subject)
    return [lay.scenario_path, lay.report_dir, lay.root / lay.sub, lay.deriv_dir, lay.root / "report",
            *(lay.state_dir / f"{stage}.done.json" for stage in STAGES)]


def remove_outputs(root: Path, subject: str) -> None:
    """Remove a run's outputs (see :func:`outputs_of`); the lock file stays with its holder."""
    for path in outputs_of(root, subject):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


_held: dict[Path, list] = {}  # lock path -> [open file, depth]: a process re-enters its own lock


@contextlib.contextmanager
def run_lock(root, command: str = "petsim"):
    """Hold ``ROOT/.petsim/lock`` while a command writes the run folder.

    A second process is refused at once with a message naming the holder (pid, host,
    command, start time); the operating system frees the lock when its holder dies,
    so a killed run never leaves the folder locked.
    """
    path = (Path(root) / ".petsim" / "lock").resolve()
    if path in _held:
        _held[path][1] += 1
        try:
            yield
        finally:
            _held[path][1] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")
    if fcntl is not None:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunFolderError(f"{Path(root)} is in use by {holder}; wait for it to finish, or write to "
                                 "another folder (-o)") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"petsim (pid {os.getpid()} on {socket.gethostname()}, `{command}`, "
                 f"since {time.strftime('%Y-%m-%d %H:%M:%S')})\n")
    handle.flush()
    os.chmod(path, 0o644)
    _held[path] = [handle, 1]
    try:
        yield
    finally:
        del _held[path]
        handle.close()
