import tomllib

import pytest

from petsim.pipeline.scenario import ScenarioError, describe_schema, load_scenario, resolve


def test_defaults_fill_every_key_and_round_trip_through_toml():
    sc = resolve({"name": "x", "releases": [{"regions": ["amygdala_l"], "profile": "gamma", "onset_min": 50}]})
    assert sc["recon"]["iterations"] == 4 and sc["recon"]["subsets"] == 16
    assert sc["releases"][0]["peak_min"] == 55.0  # gamma default: 5 min after onset
    again = resolve(tomllib.loads(sc.to_toml()))
    assert again.data == sc.data


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
    assert sc["recon"]["voxel_size_mm"] == [4, 4, 2.425] and isinstance(sc["recon"]["voxel_size_mm"][0], int)
    assert sc["frames"]["durations_min"] == [1, 2.5]
    assert sc["analysis"]["reference_has_binding"] is False


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
    assert resolve(raw).data == resolve({"name": "scenario"}).data
