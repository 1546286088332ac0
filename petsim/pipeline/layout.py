"""Where every output of a run lives (the BIDS way, see DESIGN.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from petsim.io.atomic import write_text_atomic

STAGES = ("simulate", "reconstruct", "fit", "report")


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
    def report_dir(self) -> Path:
        return self.root / "report"

    @property
    def state_dir(self) -> Path:
        return self.root / ".petsim"

    @property
    def scenario_path(self) -> Path:
        return self.root / "scenario_resolved.toml"

    def pet(self, scan: str, ext: str = ".nii.gz") -> Path:
        acq = "" if scan == "release" else f"_acq-{scan}"
        return self.pet_dir / f"{self.sub}{acq}_pet{ext}"

    def deriv(self, desc: str, suffix: str, scan: str = "release", ext: str = ".tsv") -> Path:
        acq = "" if scan == "release" else f"_acq-{scan}"
        return self.deriv_dir / f"{self.sub}{acq}_desc-{desc}_{suffix}{ext}"

    # Stage bookkeeping: a stage is complete only when its marker exists and
    # records the same scenario; markers are written last, atomically.
    def marker(self, stage: str) -> Path:
        return self.state_dir / f"{stage}.done.json"

    def stage_done(self, stage: str, scenario_json: str) -> bool:
        path = self.marker(stage)
        if not path.is_file():
            return False
        try:
            return json.loads(path.read_text()).get("scenario") == json.loads(scenario_json)
        except (json.JSONDecodeError, OSError):
            return False

    def mark_done(self, stage: str, scenario_json: str, **info) -> None:
        write_text_atomic(self.marker(stage), json.dumps({"scenario": json.loads(scenario_json), **info}, indent=1))

    def invalidate_from(self, stage: str) -> None:
        """Remove the markers of ``stage`` and every later stage (their outputs become stale)."""
        for later in STAGES[STAGES.index(stage):]:
            self.marker(later).unlink(missing_ok=True)
