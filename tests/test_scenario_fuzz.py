"""Fuzz the scenario checks: hundreds of malformed scenarios, each refused with a message naming its key.

Every case is a mutation of the shipped demo scenario, written to a TOML file as a user would
write it, then read with ``load_scenario`` and checked with ``validate``: validation only, no
simulation. A case passes when it raises ScenarioError (FileNotFoundError for a missing file)
whose message contains the offending key; no error, another exception or a message without the
key fails it. The test ids start with the class of the mutation (``type-``, ``nonfinite-``,
``range-`` ...), so ``pytest --co -q`` counts them; ``python tests/test_scenario_fuzz.py``
prints the outcome per class (run it on an older petsim to see what it used to do).
"""

from __future__ import annotations

import copy
import math
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from petsim.pipeline.scenario import (
    ITEMS, RANGES, RELEASE_SCHEMA, SCHEMA, STATIC_SCHEMA, ScenarioError, _NUM, dumps_toml, load_scenario,
)
from petsim.pipeline.world import validate

ROOT = Path(__file__).parents[1]
DEMO = ROOT / "petsim" / "data" / "scenarios" / "demo.toml"
BASE = tomllib.loads(DEMO.read_text(encoding="utf-8"))
WINDOW = ("analysis", "windows", 0)
RELEASE = ("releases", 0)


@dataclass(frozen=True)
class Case:
    """One malformed scenario: a mutated copy of the demo (``raw``) or a file's text (``text``)."""

    cls: str
    key: str                # what the message must contain
    raw: dict | None = None
    text: str | bytes | None = None
    error: type = ScenarioError


def key_of(path: tuple) -> str:
    """``("releases", 0, "alpha")`` -> ``releases[0].alpha``."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def mutate(path: tuple, value, **extra) -> dict:
    """The demo with the value at ``path`` replaced (and ``extra`` sections updated)."""
    raw = copy.deepcopy(BASE)
    for section, changes in extra.items():
        target = raw[section][0] if section == "releases" else raw.setdefault(section, {})
        target.update(changes)
    node = raw
    for p in path[:-1]:
        node = node[p] if isinstance(p, int) else node.setdefault(p, {})
    node[path[-1]] = value
    return raw


def _schema_keys():
    """(path, spec, rule) of every scenario key: sections, one release, the static table."""
    for section, schema in SCHEMA.items():
        for key, spec in schema.items():
            yield ((section, key) if section else (key,)), spec, (f"{section}.{key}" if section else key)
    for key, spec in RELEASE_SCHEMA.items():
        yield (*RELEASE, key), spec, f"releases.{key}"
    for key, spec in STATIC_SCHEMA.items():
        yield ("static", key), spec, f"static.{key}"


def _numeric_keys():
    """(path, rule, integer) of every number: scalar keys, the first element of numeric lists, window times."""
    for path, (_, types, _, _), rule in _schema_keys():
        if types in (int, _NUM):
            yield path, rule, types is int
        elif ITEMS.get(rule) in (int, _NUM) and types is list:
            yield (*path, 0), rule, ITEMS[rule] is int
    for k in ("start_min", "end_min"):
        yield (*WINDOW, k), f"analysis.windows.{k}", False


def _with_list(path: tuple, value) -> dict:
    """Mutation of a number, inside a list when ``path`` ends in an index (the rest of the list kept valid)."""
    if isinstance(path[-1], int):
        good = {"recon.shape": [64, 64, 63], "recon.voxel_size_mm": [4.5, 4.5, 2.425]}.get(key_of(path[:-1]), [1.0])
        return mutate(path[:-1], [value] + list(good[1:]))
    if path[0] == "static" and path[-1] == "activity_bq_ml":
        return mutate(path, {"amygdala_l": value})
    gamma = {"releases": {"profile": "gamma"}} if path[-1] in ("peak_min", "alpha") else {}
    return mutate(path, value, **gamma)


def static_scenario(activity: dict) -> dict:
    """The demo turned into a static scan of the NEMA/IEC phantom with the given activities."""
    raw = mutate(("kind",), "static", phantom={"name": "nema_iec"}, static={"activity_bq_ml": activity})
    raw["releases"] = []
    return raw


def _static_value_path(path):
    return (*path, "amygdala_l") if path[-1] == "activity_bq_ml" else path


# ---------------------------------------------------------------- generated classes
WRONG_TYPES = {
    bool: ["yes", 1],
    int: ["4", 4.5, True],
    _NUM: ["1.0", True, [1.0]],
    str: [5, ["x"]],
    list: ["x", 5],
    dict: [[1.0], "x"],
    (str, list): [5, {"a": 1}],
}


def type_cases():
    for path, (_, types, _, _), rule in _schema_keys():
        for value in WRONG_TYPES[types]:
            yield Case("type", key_of(path), mutate(path, value))
        kind = ITEMS.get(rule)
        if types in (list, (str, list)) and kind is not None:
            wrong = {str: 1, dict: 2.0, int: 2.5, _NUM: "1"}[kind]
            yield Case("type", key_of((*path, 0)), mutate(path, [wrong]))
    for path in (("frames", "durations_min"), ("recon", "voxel_size_mm"), ("physics", "psf_fwhm_mm")):
        yield Case("type", key_of((*path, 1)), mutate(path, [1.0, True, 2.0]))  # bool is an int in Python
    yield Case("type", "recon.shape[0]", mutate(("recon", "shape"), [24.9, 24.9, 63.9]))
    yield Case("type", "recon.shape[0]", mutate(("recon", "shape"), [True, 64, 63]))
    yield Case("type", "analysis.windows[0].name", mutate((*WINDOW, "name"), 3))
    yield Case("type", "analysis.windows[0].start_min", mutate((*WINDOW, "start_min"), "10"))
    yield Case("type", "analysis.windows[0].end_min", mutate((*WINDOW, "end_min"), True))
    yield Case("type", "static.activity_bq_ml.amygdala_l", mutate(("static", "activity_bq_ml"), {"amygdala_l": "hot"}))


def nonfinite_cases():
    for path, _, _ in _numeric_keys():
        for value in (math.nan, math.inf, -math.inf):
            yield Case("nonfinite", key_of(_static_value_path(path)), _with_list(path, value))


def range_cases():
    for path, rule, integer in _numeric_keys():
        rng = RANGES[rule]
        below = rng.low if rng.open_low else rng.low - 1
        above = rng.high if rng.open_high else (rng.high * 2 + 1)
        for value in (below, above):
            value = int(value) if integer else float(value)
            yield Case("range", key_of(_static_value_path(path)), _with_list(path, value))
    huge = [
        (("recon", "iterations"), 10**9), (("physics", "psf_fwhm_mm"), [1e6]), (("recon", "psf_fwhm_mm"), [1e300]),
        (("frames", "durations_min"), [1e9]), (("seed",), 2**63), (("seed",), -1),
        ((*RELEASE, "peak_min"), 1e300), ((*RELEASE, "alpha"), 1e300),
    ]
    for path, value in huge:
        yield Case("range", key_of(path), _with_list(path, value))


def size_cases():
    yield Case("size", "recon.shape", mutate(("recon", "shape"), [1024, 1024, 1024]))
    yield Case("size", "recon.shape", mutate(("recon", "shape"), [2048, 2048, 8]))
    yield Case("size", "physics.sim_oversampling", mutate(("physics", "sim_oversampling"), 8, recon={"shape": [200, 200, 63]}))
    yield Case("size", "frames.durations_min", mutate(("frames", "durations_min"), [0.5] * 1001))
    yield Case("size", "frames.durations_min", mutate(("frames", "durations_min"), [300.0, 300.0, 300.0]))


def name_cases():
    bad = [
        (("analysis", "models"), ["logan_ref", "srtn"], "analysis.models[1]"),
        (("analysis", "models"), ["SRTM"], "analysis.models[0]"),
        (("analysis", "maps"), ["bfsrtm2"], "analysis.maps[0]"),
        (("analysis", "reference"), "ocipital_cortex", "analysis.reference"),
        (("analysis", "reference"), "c", "analysis.reference"),
        (("analysis", "reference"), ["occipital_cortex"], "analysis.reference"),
        (("analysis", "regions"), ["amigdala"], "analysis.regions"),
        (("analysis", "regions"), ["thalamus_medial", "nucleus"], "analysis.regions"),
        ((*RELEASE, "regions"), ["amygdala_x"], "releases[0].regions"),
        ((*RELEASE, "regions"), ["Amygdala_l"], "releases[0].regions"),
        (("phantom", "name"), "mor_brian", "phantom.name"),
        (("phantom", "name"), "brain", "phantom.name"),
        (("tracer", "name"), "carfentanyl", "tracer.name"),
        (("tracer", "name"), "../carfentanil", "tracer.name"),
        (("scanner", "name"), "hrpuls", "scanner.name"),
        (("frames", "preset"), "hsu2031", "frames.preset"),
        (("tracer", "isotope"), "C11", "tracer.isotope"),
        (("recon", "algorithm"), "em", "recon.algorithm"),
        (("recon", "rebin"), "fourier", "recon.rebin"),
        (("scanner", "mode"), "3D", "scanner.mode"),
        (("analysis", "voi"), "cores", "analysis.voi"),
        (("kind",), "dynamical", "kind"),
        ((*RELEASE, "profile"), "gaussian", "releases[0].profile"),
        (("protocol", "input"), "infusion", "protocol.input"),
    ]
    for path, value, key in bad:
        yield Case("name", key, mutate(path, value))


def empty_cases():
    yield Case("empty", "analysis.models", mutate(("analysis", "models"), []))
    yield Case("empty", "analysis.windows", mutate(("analysis", "windows"), []))
    yield Case("empty", "analysis.reference", mutate(("analysis", "reference"), ""))
    yield Case("empty", "analysis.reference", mutate(("analysis", "reference"), "  "))
    yield Case("empty", "analysis.reference", mutate(("analysis", "reference"), []))
    yield Case("empty", "analysis.regions[0]", mutate(("analysis", "regions"), [""]))
    yield Case("empty", "releases[0].regions", mutate((*RELEASE, "regions"), []))
    yield Case("empty", "frames.durations_min", mutate(("frames", "durations_min"), []))
    yield Case("empty", "analysis.windows[0].name", mutate((*WINDOW, "name"), ""))
    yield Case("empty", "static.activity_bq_ml", static_scenario({}))
    for text in ("", "# only a comment\n", "\n\n   \n", "[recon]\n[analysis]\n# no values\n"):
        yield Case("empty", "petsim demo", text=text)


def duplicate_cases():
    dup = [
        (("analysis", "models"), ["srtm", "mrtm2", "srtm"], "analysis.models[2]"),
        (("analysis", "maps"), ["bfsrtm", "bfsrtm"], "analysis.maps[1]"),
        (("analysis", "regions"), ["amygdala", "amygdala_l"], "analysis.regions"),
        (("analysis", "regions"), ["putamen_l", "putamen_l"], "analysis.regions[1]"),
        (("analysis", "reference"), ["occipital_cortex_l", "occipital_cortex_l"], "analysis.reference[1]"),
        ((*RELEASE, "regions"), ["amygdala", "amygdala_r"], "releases[0].regions"),
    ]
    for path, value, key in dup:
        yield Case("duplicate", key, mutate(path, value))
    windows = [{"name": "a", "start_min": 10.0, "end_min": 45.0}, {"name": "a", "start_min": 50.0, "end_min": 90.0}]
    yield Case("duplicate", "analysis.windows[1].name", mutate(("analysis", "windows"), windows))


def label_cases():
    for subject in ("../x", "a/b", "..", "x\\y", "sub-01", "01 ", "", "é1", "a_b", "01\n"):
        yield Case("label", "subject", mutate(("subject",), subject))
    for name in ("a\tb", "base\nline"):  # a window name is a cell of the TSV tables
        yield Case("label", "analysis.windows[0].name", mutate((*WINDOW, "name"), name))


def field_of_view_cases():
    for path, value in ((("recon", "voxel_size_mm"), [0.1, 0.1, 0.1]), (("recon", "shape"), [1, 1, 1]),
                        (("recon", "shape"), [64, 64, 10]), (("recon", "voxel_size_mm"), [4.5, 4.5, 0.2])):
        yield Case("fov", key_of(path), mutate(path, value))


def nesting_cases():
    deep = lambda n: "[" * n + "1" + "]" * n  # noqa: E731
    for section, key in (("frames", "durations_min"), ("recon", "shape"), ("analysis", "models"), ("physics", "psf_fwhm_mm")):
        yield Case("nesting", f"{section}.{key}", text=f'name = "x"\n[{section}]\n{key} = {deep(500)}\n')
        yield Case("nesting", f"{section}.{key}", text=f'name = "x"\n[{section}]\n{key} = {deep(3)}\n')
    yield Case("nesting", "analysis.windows", text='name = "x"\n[analysis]\nwindows = [' + "{a = [" * 300 + "1" + "]}" * 300 + "]\n")
    yield Case("nesting", "seed", text="seed = " + deep(600) + "\n")
    yield Case("nesting", "recon.x", text='name = "x"\n[recon.x.y.z.w]\nv = 1\n')
    yield Case("nesting", "analysis", text='name = "x"\n[[analysis]]\nmodels = ["srtm"]\n')
    yield Case("nesting", "recon", text='name = "x"\nrecon = 5\n')
    yield Case("nesting", "releases", text='name = "x"\nreleases = 5\n')
    yield Case("nesting", "releases[0]", text='name = "x"\nreleases = [[1, 2]]\n')
    yield Case("nesting", "static", text='name = "x"\nstatic = [1]\n')
    yield Case("nesting", "analysis.windows[0]", mutate(("analysis", "windows"), [[1.0, 2.0]]))
    yield Case("nesting", "analysis.windows[0]", mutate(("analysis", "windows"), ["baseline"]))
    yield Case("nesting", "static.activity_bq_ml.amygdala_l",
               mutate(("static", "activity_bq_ml"), {"amygdala_l": {"x": 1.0}}))


def unknown_cases():
    for section, schema in [(s, v) for s, v in SCHEMA.items() if s] + [("static", STATIC_SCHEMA)]:
        key = next(iter(schema))
        yield Case("unknown", f"{section}.{key}s", mutate((section, f"{key}s"), 1))
    yield Case("unknown", "colour", mutate(("colour",), "red"))
    yield Case("unknown", "releases[0].size", mutate((*RELEASE, "size"), 1))
    yield Case("unknown", "analysis.windows[0].middle_min", mutate((*WINDOW, "middle_min"), 20.0))


def layout_cases():
    bad = [
        (("recon", "subsets"), 7, "recon.subsets"),
        (("recon", "subsets"), 144, "recon.subsets"),
        (("scanner", "span"), 8, "scanner.span"),
        (("scanner", "max_ring_diff"), 40, "scanner.max_ring_diff"),
        (("scanner", "view_mashing"), 5, "scanner.view_mashing"),
        (("scanner", "n_radial"), 60, "scanner.n_radial"),
        (("scanner", "n_radial"), 400, "scanner.n_radial"),
        (("scanner", "n_radial"), 0, "scanner.n_radial"),
        (("recon", "shape"), [64, 64, 64], "recon.shape[2]"),
    ]
    for path, value, key in bad:
        yield Case("layout", key, mutate(path, value, recon={"algorithm": "fbp"} if key == "recon.shape[2]" else {}))
    yield Case("layout", "recon.algorithm", mutate(("recon", "algorithm"), "fbp", recon={"rebin": "none"}))
    yield Case("layout", "recon.subsets", mutate(("recon", "algorithm"), "map", recon={"subsets": 5}))


def consistency_cases():
    window = lambda a, b: [{"name": "w", "start_min": a, "end_min": b}]  # noqa: E731
    yield Case("consistency", "releases[0].onset_min", mutate((*RELEASE, "onset_min"), 95.0))
    yield Case("consistency", "releases[0].end_min", mutate((*RELEASE, "end_min"), 120.0))
    yield Case("consistency", "releases[0].end_min", mutate((*RELEASE, "end_min"), 40.0))
    yield Case("consistency", "releases[0].peak_min", mutate((*RELEASE, "peak_min"), 40.0, releases={"profile": "gamma"}))
    yield Case("consistency", "releases[0].peak_min", mutate((*RELEASE, "peak_min"), 60.0))
    yield Case("consistency", "releases[0].alpha", mutate((*RELEASE, "alpha"), 4.0))
    yield Case("consistency", "releases[0].end_min", mutate((*RELEASE, "end_min"), 60.0, releases={"profile": "gamma"}))
    yield Case("consistency", "releases[0].magnitude", mutate((*RELEASE, "magnitude"), 1.0))
    yield Case("consistency", "analysis.windows[0]", mutate(("analysis", "windows"), window(50.0, 40.0)))
    yield Case("consistency", "analysis.windows[0]", mutate(("analysis", "windows"), window(10.0, 95.0)))
    yield Case("consistency", "analysis.windows[0]", mutate(("analysis", "windows"), window(10.0, 12.0)))
    yield Case("consistency", "analysis.windows[0].end_min", mutate(("analysis", "windows"), [{"name": "w", "start_min": 10.0}]))
    yield Case("consistency", "analysis.t_star_min", mutate(("analysis", "t_star_min"), 80.0))
    yield Case("consistency", "analysis.models", mutate(("analysis", "models"), ["lpntpet"],
                                                          frames={"durations_min": [30.0, 30.0, 30.0, 30.0]},
                                                          analysis={"windows": window(0.0, 120.0)}))
    yield Case("consistency", "analysis.reference", mutate(("analysis", "reference"), "amygdala_l"))
    yield Case("consistency", "analysis.reference", mutate(("analysis", "reference"), "cerebellum"))
    yield Case("consistency", "tracer.name", mutate(("phantom", "name"), "nema_iec"))
    yield Case("consistency", "phantom.table", mutate(("phantom", "table"), "regions.tsv"))
    yield Case("consistency", "static.activity_bq_ml", mutate(("static", "activity_bq_ml"), {"amygdala_l": 100.0}))
    yield Case("consistency", "releases", {**static_scenario({"background": 1.0}), "releases": BASE["releases"]})
    yield Case("consistency", "static.activity_bq_ml", static_scenario({"sphere_11mm": 1.0}))
    yield Case("consistency", "protocol.dose_mbq", mutate(("protocol", "dose_mbq"), 0.0))
    yield Case("consistency", "physics.scatter_fraction", mutate(("physics", "scatter_fraction"), 1.0))


def file_cases():
    yield Case("file", "phantom.name", mutate(("phantom", "name"), "missing_labels.nii.gz", phantom={"table": "missing.tsv"}),
               error=FileNotFoundError)
    yield Case("file", "phantom.table", mutate(("phantom", "name"), "labels.nii.gz"))
    yield Case("file", "bad.toml", text="name = \n")
    yield Case("file", "bad.toml", text=b'name = "caf\xe9"\n')
    yield Case("file", "bad.toml", text="[recon\nshape = [1, 2, 3]\n")
    yield Case("file", "bad.toml", text="name = 1\nname = 2\n")


def all_cases() -> list[Case]:
    gens = (type_cases, nonfinite_cases, range_cases, size_cases, name_cases, empty_cases, duplicate_cases,
            label_cases, field_of_view_cases, nesting_cases, unknown_cases, layout_cases, consistency_cases, file_cases)
    return [c for g in gens for c in g()]


CASES = all_cases()
IDS = [f"{c.cls}-{i:03d}-{c.key}" for i, c in enumerate(CASES)]


def write(case: Case, folder: Path) -> Path:
    path = folder / "bad.toml"
    if case.text is not None:
        (path.write_bytes if isinstance(case.text, bytes) else path.write_text)(case.text)
    else:
        path.write_text(dumps_toml(case.raw), encoding="utf-8")
    return path


def outcome(case: Case, folder: Path) -> str:
    """``refused`` (the right error naming the key), ``unnamed`` (right error, key missing),
    ``silent`` (accepted) or ``traceback`` (any other exception)."""
    try:
        validate(load_scenario(write(case, folder)))
    except (ScenarioError, FileNotFoundError) as err:
        ok = isinstance(err, case.error) and case.key in str(err)
        return "refused" if ok else "unnamed"
    except Exception:  # noqa: BLE001 - a traceback is what the fuzz looks for
        return "traceback"
    return "silent"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_malformed_scenario_is_refused_naming_the_key(case, tmp_path):
    path = write(case, tmp_path)
    with pytest.raises(case.error) as err:
        validate(load_scenario(path))
    assert case.key in str(err.value), f"{case.key!r} not in: {err.value}"


def test_there_are_enough_cases_of_every_class():
    counts = Counter(c.cls for c in CASES)
    assert sum(counts.values()) >= 200, counts
    assert min(counts.values()) >= 4, counts


def test_every_number_has_a_range_and_every_list_an_element_type():
    for path, (_, types, _, _), rule in _schema_keys():
        if types in (int, _NUM):
            assert rule in RANGES, rule
        if types is list or types == (str, list):
            assert rule in ITEMS, rule


SHIPPED = sorted([*(ROOT / "petsim" / "data" / "scenarios").glob("*.toml"),
                  *(p for p in (ROOT / "examples").glob("*.toml") if not p.name.startswith("study_")),
                  ROOT / "tests" / "data" / "tiny.toml"])


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenarios_still_validate(path):
    validate(load_scenario(path))


@pytest.mark.parametrize("path, value", [
    (("analysis", "reference"), "amygdala_l"),
    (("analysis", "reference"), ["occipital_cortex_l", "occipital_cortex_r"]),
    (("scanner", "n_radial"), 90),
    (("recon", "subsets"), 24),
    (("seed",), 2**63 - 1),
    (("analysis", "regions"), ["amygdala", "thalamus_medial_l"]),
])
def test_values_at_the_edges_are_accepted(path, value):
    raw = mutate(path, value, analysis={"reference_has_binding": True})
    validate(load_scenario(raw))


if __name__ == "__main__":  # outcome per class, e.g. against an older petsim on PYTHONPATH
    import tempfile

    table: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for c in CASES:
            table.setdefault(c.cls, Counter())[outcome(c, Path(tmp))] += 1
    for cls, counts in table.items():
        print(f"{cls:12s} {sum(counts.values()):4d}  " + "  ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    total = sum(table.values(), Counter())
    print(f"{'all':12s} {sum(total.values()):4d}  " + "  ".join(f"{k} {v}" for k, v in sorted(total.items())))
