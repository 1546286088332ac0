import tomllib

import pytest

from petsim.pipeline.scenario import ScenarioError, describe_schema, load_scenario, resolve


def test_defaults_fill_every_key_and_round_trip_through_toml():
    sc = resolve({"name": "x", "releases": [{"regions": ["amygdala_l"], "profile": "gamma", "onset_min": 50}]})
    assert sc.recon.iterations == 4 and sc.recon.subsets == 16
    assert sc.releases[0].peak_min == 55.0  # gamma default: 5 min after onset
    again = resolve(tomllib.loads(sc.to_toml()))
    assert again == sc and again.to_dict() == sc.to_dict() and again.to_toml() == sc.to_toml()


@pytest.mark.parametrize(
    "raw, key",
    [
        ({"recon": {"iters": 3}}, "recon.iters"),
        ({"recon": {"algorithm": "art"}}, "recon.algorithm"),
        ({"recon": {"iterations": "4"}}, "recon.iterations"),
        ({"protocol": {"dose_mbq": True}}, "protocol.dose_mbq"),
        ({"colour": "red"}, "colour"),
        ({"releases": [{"regions": ["amygdala_l"], "magnitude": 1.5}]}, "releases[0].magnitude"),
        ({"releases": [{"regions": ["amygdala_l"], "size": 1}]}, "releases[0].size"),
        ({"analysis": {"windows": [{"name": "a", "start_min": 50, "end_min": 40}]}}, "analysis.windows[0]"),
        ({"recon": {"shape": [128, 128]}}, "recon.shape"),
    ],
)
def test_bad_scenarios_name_the_key(raw, key):
    with pytest.raises(ScenarioError) as err:
        resolve(raw)
    assert key in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no scenario file"):
        load_scenario(tmp_path / "nope.toml")


def test_invalid_toml_names_the_file(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("name = ")
    with pytest.raises(ScenarioError, match="bad.toml"):
        load_scenario(p)


def test_schema_is_documented():
    text = describe_schema()
    assert "recon" in text and "magnitude" in text


def test_valid_values_are_kept_as_given():
    """Checks never convert: integers in a float list stay integers, so resolved files do not change."""
    sc = resolve({"recon": {"voxel_size_mm": [4, 4, 2.425], "shape": [48, 48, 63]}, "frames": {"durations_min": [1, 2.5]}})
    assert sc.recon.voxel_size_mm == (4, 4, 2.425) and isinstance(sc.recon.voxel_size_mm[0], int)
    assert sc.frames.durations_min == (1, 2.5)
    assert sc.analysis.reference_has_binding is False
    assert sc.to_dict()["recon"]["voxel_size_mm"] == [4, 4, 2.425]  # lists again in the resolved table


def test_did_you_mean_suggests_the_closest_names():
    from petsim.pipeline.scenario import did_you_mean

    assert did_you_mean("srtn", ("srtm", "mrtm2", "logan_ref")) == " (did you mean 'srtm'?)"
    assert did_you_mean("xyz", ("srtm",)) == ""


def test_petsim_scenario_prints_valid_toml_of_the_defaults(capsys):
    """`petsim scenario` is a scenario file: it parses as TOML and resolves to every default."""
    import tomllib

    from petsim.cli import main
    from petsim.pipeline.scenario import resolve

    assert main(["scenario"]) == 0
    raw = tomllib.loads(capsys.readouterr().out)
    assert resolve(raw) == resolve({"name": "scenario"})


# ---------------------------------------------------------------- the typed scenario
def test_every_section_is_a_frozen_dataclass_with_the_schema_keys():
    import dataclasses

    from petsim.core import scenario_types as st
    from petsim.pipeline.scenario import RELEASE_SCHEMA, SCHEMA, STATIC_SCHEMA, WINDOW_SCHEMA

    sc = resolve({"releases": [{"regions": ["amygdala_l"]}]})
    top = [f.name for f in dataclasses.fields(st.Scenario) if f.compare]
    assert top == list(SCHEMA[""]) + [k for k in SCHEMA if k] + ["releases", "static"]
    for section, cls in st.SECTIONS.items():  # the schema is the one place of keys and defaults
        assert [f.name for f in dataclasses.fields(cls) if f.compare] == list(SCHEMA[section])
        assert isinstance(getattr(sc, section), cls)
    assert [f.name for f in dataclasses.fields(st.Release)] == list(RELEASE_SCHEMA)
    assert [f.name for f in dataclasses.fields(st.Static)] == list(STATIC_SCHEMA)
    assert [f.name for f in dataclasses.fields(st.Window) if f.compare] == list(WINDOW_SCHEMA)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sc.recon.subsets = 4
    with pytest.raises(TypeError):
        sc["recon"]  # no dictionary access: stages read attributes
    assert hash(sc) == hash(resolve({"releases": [{"regions": ["amygdala_l"]}]}))


def test_resolved_text_keeps_values_and_window_keys_as_written():
    """scenario_resolved.toml (and the SHA-256 of a run) stay what the resolved table gave."""
    import json

    raw = {"analysis": {"windows": [{"end_min": 45, "start_min": 0, "name": "a"},
                                    {"name": "b", "start_min": 45.0, "end_min": 90}]}}
    sc = resolve(raw, "x.toml")
    assert sc.analysis.windows[0].start_min == 0 and isinstance(sc.analysis.windows[0].start_min, int)
    assert 'windows = [{ "end_min" = 45, "start_min" = 0, "name" = "a" }, { "name" = "b", "start_min" = 45.0, "end_min" = 90 }]' in sc.to_toml()
    assert json.loads(sc.to_json())["analysis"]["windows"][0] == {"end_min": 45, "start_min": 0, "name": "a"}
    assert sc.source == "x.toml" and sc == resolve(raw)  # where it came from is not part of its identity


@pytest.mark.parametrize("algorithm, subsets", [("osem", 16), ("map", 16), ("mlem", 1), ("fbp", 1)])
def test_mlem_and_fbp_use_one_subset(algorithm, subsets):
    assert resolve({"recon": {"algorithm": algorithm}}).recon.effective_subsets == subsets


def test_no_stage_reads_the_scenario_as_a_dictionary():
    """DESIGN.md: the scenario is read once into typed objects; only the resolver handles the raw table."""
    import re
    from pathlib import Path

    import petsim

    root = Path(petsim.__file__).parent
    own = {root / "pipeline" / "scenario.py", root / "core" / "scenario_types.py"}
    pattern = re.compile(r"\b(scenario|sc)\s*\[|\b(scenario|sc)\.(data|get)\b")
    found = [f"{p.relative_to(root)}:{i}: {line.strip()}" for p in sorted(root.rglob("*.py")) if p not in own
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert not found, "\n".join(found)


def test_the_report_names_subsets_only_where_the_algorithm_has_them():
    from petsim.pipeline.report import _iterations_text

    assert _iterations_text(resolve({}).recon) == " 4 iterations x 16 subsets"
    assert _iterations_text(resolve({"recon": {"algorithm": "map", "subsets": 8}}).recon) == " 4 iterations x 8 subsets"
    assert _iterations_text(resolve({"recon": {"algorithm": "mlem", "iterations": 30}}).recon) == " 30 iterations"
    assert _iterations_text(resolve({"recon": {"algorithm": "fbp"}}).recon) == ""
