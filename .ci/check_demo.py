"""CI: check that `petsim demo` wrote its main outputs, complete and readable.

Usage: python .ci/check_demo.py DEMO_DIR
Exits 1 with one line per missing or broken output.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import nibabel as nib


def check_scan(pet: Path, stem: str, problems: list) -> None:
    """A 4D NIfTI with its BIDS sidecar, one volume per frame of the sidecar."""
    nii, sidecar = pet / f"{stem}.nii.gz", pet / f"{stem}.json"
    for path in (nii, sidecar):
        if not path.is_file() or path.stat().st_size == 0:
            problems.append(f"missing or empty: {path}")
            return
    img = nib.load(nii)
    frames = json.loads(sidecar.read_text()).get("FrameDuration", [])
    if img.ndim != 4 or img.shape[3] != len(frames) or not frames:
        problems.append(f"{nii}: shape {img.shape} does not hold the {len(frames)} frames of {sidecar.name}")


def check_table(path: Path, problems: list) -> None:
    if not path.is_file():
        problems.append(f"missing: {path}")
        return
    with path.open(newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    if len(rows) < 2:
        problems.append(f"{path}: no data rows")


def main(root: Path) -> int:
    problems: list[str] = []
    pet = root / "sub-01" / "pet"
    check_scan(pet, "sub-01_pet", problems)                 # the scan with release
    check_scan(pet, "sub-01_task-control_pet", problems)     # its matched no-release control
    der = root / "derivatives" / "petsim" / "sub-01"
    for desc in ("desc-truth_bp", "desc-noisefree_tacs", "desc-recon_tacs", "task-control_desc-recon_tacs",
                 "desc-estimates_bp", "desc-validation_bp"):
        check_table(der / f"sub-01_{desc}.tsv", problems)
    report = root / "derivatives" / "petsim" / "report" / "index.html"
    if not report.is_file() or "<img" not in report.read_text():
        problems.append(f"missing or figureless report: {report}")
    for p in problems:
        print(f"CI: demo output check: {p}", file=sys.stderr)
    if not problems:
        print(f"CI: demo outputs complete in {root}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
