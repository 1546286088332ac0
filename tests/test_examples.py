"""Every gallery example (``examples/plot_*.py``) runs, writes a PNG and teaches from its docstring.

``plot_kinetics.py`` is left out here: ``tests/test_kinetics_simulate.py`` runs it already.
"""

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SKIP = {"plot_kinetics.py"}  # run by tests/test_kinetics_simulate.py
SCRIPTS = sorted(p for p in EXAMPLES.glob("plot_*.py") if p.name not in SKIP)


def _load(path):
    spec = importlib.util.spec_from_file_location(f"gallery_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gallery_has_examples():
    assert SCRIPTS, f"no examples/plot_*.py found in {EXAMPLES}"


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_example_runs_and_teaches(path, tmp_path):
    module = _load(path)
    doc = module.__doc__
    assert doc, f"{path.name} has no module docstring"
    lines = doc.strip("\n").splitlines()
    assert lines[0].strip(), f"{path.name}: the docstring must start with a title line"
    assert len(lines) > 2 and not lines[1].strip(), f"{path.name}: a blank line must follow the title"
    assert "Run:" in doc, f"{path.name}: the docstring has no 'Run:' line"
    assert f"examples/{path.name}" in doc, f"{path.name}: the 'Run:' line must name the file"
    assert callable(getattr(module, "main", None)), f"{path.name} has no main()"

    out = tmp_path / "x.png"
    returned = module.main(str(out))
    assert Path(returned) == out
    assert out.is_file() and out.stat().st_size > 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("*.tmp*")), "the temporary file was left behind"
