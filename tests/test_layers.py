"""The layers of DESIGN.md hold: imports only point down, and estimation cannot see how the truth was made."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "petsim"

#: Layer of each top-level part of petsim (docs/index.md).
LAYER = {
    "core": 0, "grid": 0, "frames": 0, "emission": 0,
    "projectors": 1, "scanner": 1, "kinetics": 1, "phantom": 1, "phantom_data": 1, "data": 1,
    "acquisition": 2, "operators": 2,
    "recon": 3, "rebin": 3, "modeling": 3,
    "io": 4, "plot": 4,
    "pipeline": 5, "study": 5, "cli": 5,
}
#: Estimation gets arrays and frame times, as from a real scanner: it may not import these.
FORBIDDEN = {"modeling": {"kinetics", "phantom", "acquisition"}, "recon": {"phantom", "kinetics", "projectors"}}


def _part(module: str) -> str | None:
    names = module.split(".")
    return names[1] if names[0] == "petsim" and len(names) > 1 else None


def _imports(path: Path):
    """Every petsim module imported anywhere in the file (also inside functions), with its line."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        part = rel.parts[0].removesuffix(".py")
        if part != "__init__":
            yield path, part


def test_every_part_of_petsim_has_a_layer():
    parts = {part for _, part in _modules()}
    assert parts <= set(LAYER), f"parts without a layer in DESIGN.md: {sorted(parts - set(LAYER))}"


@pytest.mark.parametrize("path,part", list(_modules()), ids=lambda v: str(v.relative_to(PACKAGE)) if isinstance(v, Path) else v)
def test_imports_point_down(path, part):
    upward = []
    for module, line in _imports(path):
        other = _part(module)
        if other is None or other == part or other not in LAYER:
            continue
        if LAYER[other] > LAYER[part] or other in FORBIDDEN.get(part, ()):
            upward.append(f"line {line}: {module} (layer {LAYER[other]})")
    assert not upward, f"{path.relative_to(PACKAGE)} (layer {LAYER[part]}) imports upward or across: {upward}"
