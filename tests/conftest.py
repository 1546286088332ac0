import os

os.environ.setdefault("MPLBACKEND", "Agg")


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_report_run(tmp_path_factory):
    """One run of tests/data/tiny.toml for the report's tests (its HTML tests and the browser's); they only
    read it (and rewrite the report folder)."""
    from pathlib import Path

    from petsim.cli import main

    out = tmp_path_factory.mktemp("tiny-report") / "run"
    assert main(["run", str(Path(__file__).parent / "data" / "tiny.toml"), "-o", str(out), "-q"]) == 0
    return out
