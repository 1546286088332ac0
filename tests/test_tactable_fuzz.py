"""Broken TAC tables, sidecars and ``petsim fit`` arguments, generated: each must be refused with exit code 2,
a message that names the file (or the argument) and the line, column or key at fault, and no traceback.

Every case fails in validation, before any fit, so the whole file runs in a few seconds.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass

import pytest

from petsim.cli import main

TABLE = "sub-01_desc-x_tacs.tsv"
SIDECAR = "sub-01_desc-x_tacs.json"
REF = "sub-01_label-cb_desc-x_tacs.tsv"
HEADER = ["frame_start", "frame_end", "cerebellum", "putamen", "caudate"]
ROWS = [  # s, s, Bq/mL x 3
    ["0", "60", "1000", "1100", "1050"],
    ["60", "120", "5000", "5600", "5300"],
    ["120", "240", "4000", "5200", "4700"],
    ["240", "600", "3000", "4600", "3900"],
    ["600", "1200", "2000", "3900", "3000"],
    ["1200", "1800", "1500", "3400", "2500"],
]


@dataclass
class Case:
    """Files to write (name -> text or bytes), arguments after ``fit`` ({d} is the folder) and the words the
    message must hold."""

    name: str
    files: dict
    args: list
    words: list
    kind: str = "table"


def text(header=HEADER, rows=ROWS, sep="\t") -> str:
    return "".join(sep.join(r) + "\n" for r in [header, *rows])


def with_cell(row: int, col: int, value: str, rows=ROWS) -> list:
    out = [list(r) for r in rows]
    out[row][col] = value
    return out


def table_case(name, body, words, args=("--ref", "cerebellum"), kind="table", **files) -> Case:
    return Case(name, {TABLE: body, **files}, ["{d}/" + TABLE, *args], [TABLE, *words], kind)


def encoding_cases():
    latin1 = text().replace("caudate", "caudé").encode("latin-1")
    in_row = text().encode().replace(b"5200", b"52\xe900")  # putamen, line 4
    yield table_case("latin1-header", latin1, ["byte position 45", "line 1", "UTF-8"], kind="encoding")
    yield table_case("latin1-row", in_row, ["line 4", "UTF-8", "0xe9"], kind="encoding")
    yield table_case("utf16-no-bom", text().encode("utf-16-le"), ["NUL", "UTF-8"], kind="encoding")
    yield table_case("gzip", gzip.compress(text().encode()), ["NUL"], kind="encoding")
    yield table_case("utf16-truncated", b"\xff\xfe" + text().encode("utf-16-le") + b"\x00", ["UTF-16"],
                     kind="encoding")
    yield table_case("spaces", text(sep=" "), ["spaces", "tab"], kind="encoding")
    yield table_case("spaces-aligned", text(sep="   "), ["spaces"], kind="encoding")
    yield table_case("empty", "", ["empty"], kind="encoding")
    yield table_case("blank-lines", "\n \n\t\n", ["empty"], kind="encoding")


def header_cases():
    renamed = lambda old, new: [new if h == old else h for h in HEADER]  # noqa: E731
    yield table_case("no-frame-start", text(renamed("frame_start", "start")), ["'frame_start'"], kind="header")
    yield table_case("no-frame-end", text(renamed("frame_end", "stop")), ["'frame_end'"], kind="header")
    yield table_case("case-frame-start", text(renamed("frame_start", "Frame_Start")),
                     ["'frame_start'", "'Frame_Start' looks like it"], kind="header")
    yield table_case("dup-region", text(renamed("caudate", "putamen")), ["'putamen'", "twice", "columns 4 and 5"],
                     kind="header")
    yield table_case("dup-after-strip", text(renamed("caudate", " putamen ")), ["'putamen'", "twice"],
                     kind="header")
    yield table_case("dup-frame", text(renamed("cerebellum", "frame_end")), ["'frame_end'", "twice"],
                     kind="header")
    yield table_case("unnamed-with-values", text(renamed("caudate", "")), ["column 5", "no name"], kind="header")
    only_frames = [r[:2] for r in ROWS]
    yield table_case("only-frames", text(HEADER[:2], only_frames), ["no region column"], kind="header")
    all_na = [r[:2] + ["n/a"] * 3 for r in ROWS]
    yield table_case("all-na", text(HEADER, all_na), ["no region column", "n/a"], kind="header")
    yield table_case("header-only", text(rows=[]), ["0 frame(s)"], kind="header")


def row_cases():
    for row in (0, 3, 5):
        line = f"line {row + 2}"
        extra = [list(r) for r in ROWS]
        extra[row].append("7")
        yield table_case(f"extra-field-{row}", text(rows=extra), [line, "6 field(s)"], kind="row")
        short = [list(r) for r in ROWS]
        short[row].pop()
        yield table_case(f"missing-field-{row}", text(rows=short), [line, "4 field(s)"], kind="row")
        for label, value, words in (("word", "abc", ["not a number"]), ("underscore", "1_000", ["not a number"]),
                                    ("inf", "inf", ["not a finite"]), ("huge", "1e300", ["not a finite"]),
                                    ("quote", '"12', ["cannot be split"])):
            yield table_case(f"{label}-{row}", text(rows=with_cell(row, 3, value)), [line, *words], kind="row")
        yield table_case(f"partial-na-{row}", text(rows=with_cell(row, 4, "n/a")), ["'caudate'", line, "n/a"],
                         kind="row")
    mixed = text().splitlines()
    mixed[3] = mixed[3].replace("\t", ",")
    yield table_case("mixed-separators", "\n".join(mixed) + "\n", ["line 4", "commas", "tab-separated"], kind="row")
    semicolon = text(rows=with_cell(2, 3, "5200,5"), sep=";")
    yield table_case("decimal-comma", semicolon, ["line 4", "'putamen'", "decimal comma"], kind="row")


def time_cases():
    bad = {
        "negative-start": (0, 0, "-30", "'frame_start'", "before injection"),
        "end-before-start": (2, 1, "100", "'frame_end'", "before or when it starts"),
        "zero-duration": (3, 1, "240", "'frame_end'", "before or when it starts"),
        "overlap": (3, 0, "200", "'frame_start'", "overlap"),
        "unsorted": (4, 0, "100", "'frame_start'", "time order"),
        "end-1e12": (5, 1, "1e12", "'frame_end'", "after 100000 s"),
        "end-ms": (5, 1, "1800000", "'frame_end'", "27.8 h"),
        "start-na": (2, 0, "n/a", "'frame_start'", "not a time"),
        "end-inf": (4, 1, "inf", "'frame_end'", "not a time"),
        "end-nan": (1, 1, "nan", "'frame_end'", "not a time"),
    }
    for name, (row, col, value, column, words) in bad.items():
        yield table_case(name, text(rows=with_cell(row, col, value)), [f"line {row + 2}", column, words], kind="time")
    many = [[str(60 * i), str(60 * i + 60), "1", "2", "3"] for i in range(10_001)]
    yield table_case("10001-frames", text(rows=many), ["10001", "at most 10000"], kind="time")
    yield table_case("one-frame", text(rows=ROWS[:1]), ["1 frame(s)"], kind="time")
    dur = [r[:2] + [str(float(r[1]) - float(r[0]))] + r[2:] for r in ROWS]
    dur[2][2] = "60"
    yield table_case("frame-duration", text(HEADER[:2] + ["frame_duration"] + HEADER[2:], dur),
                     ["line 4", "'frame_duration'"], kind="time")


def sidecar_cases():
    def case(name, sidecar, words):
        body = sidecar if isinstance(sidecar, (str, bytes)) else json.dumps(sidecar)
        return Case(name, {TABLE: text(), SIDECAR: body}, ["{d}/" + TABLE, "--ref", "cerebellum"],
                    [SIDECAR, *words], "sidecar")

    yield case("json-syntax", '{"Units": "kBq/mL",}', ["line 1", "not valid JSON"])
    yield case("json-list", [1, 2], ["JSON object"])
    yield case("json-deep", "[" * 100_000, ["nested"])
    yield case("json-latin1", '{"Units": "kBq/mL", "x": "é"}'.encode("latin-1"), ["byte position", "UTF-8"])
    yield case("unit-suv", {"Units": "SUV"}, ["'SUV'", "'cerebellum'", "top-level Units"])
    yield case("unit-column", {"caudate": {"Units": "g/mL"}}, ["'caudate'", "'g/mL'"])
    yield case("unit-not-text", {"putamen": {"Units": 1000}}, ["'putamen'.Units"])
    yield case("unit-time", {"frame_start": {"Units": "hours"}}, ["'frame_start'", "'hours'"])
    yield case("unit-mbq-typo", {"Units": "KBq/mL"}, ["'KBq/mL'"])
    yield case("frame-times-differ", {"FrameTimesStart": [0, 60, 120, 240, 600, 1300]}, ["FrameTimesStart[5]"])
    yield case("frame-duration-len", {"FrameDuration": [60, 60]}, ["FrameDuration", "2 values"])
    yield case("frame-times-text", {"FrameTimesStart": "0,60"}, ["FrameTimesStart", "list of numbers"])
    minutes = {"frame_start": {"Units": "min"}, "frame_end": {"Units": "min"}}
    yield case("minutes-too-late", minutes, ["'frame_end'", "after 100000 s"])


def argument_cases():
    ref_two = text(HEADER[:4], [r[:4] for r in ROWS])
    ref_one = lambda rows: text(HEADER[:2] + ["cb"], [r[:3] for r in rows])  # noqa: E731
    shifted = [list(r) for r in ROWS]
    shifted[3][1] = "660"
    shifted[4][0] = "660"

    def case(name, args, words, **files):
        return Case(name, {TABLE: text(), **files}, ["{d}/" + TABLE, *args], words, "argument")

    yield case("ref-empty", ["--ref", ""], ["--ref", "empty"])
    yield case("ref-blank", ["--ref", "  "], ["--ref", "empty"])
    yield case("ref-missing", [], ["--ref", "--ref-file"])
    yield case("ref-typo", ["--ref", "cerebelum"], [TABLE, "--ref 'cerebelum'", "did you mean 'cerebellum'"])
    yield case("ref-case", ["--ref", "Cerebellum"], [TABLE, "did you mean 'cerebellum'"])
    yield case("ref-frame-column", ["--ref", "frame_start"], [TABLE, "frame-time column"])
    yield case("ref-na", ["--ref", "caudate"], [TABLE, "'caudate'", "n/a in every frame"],
               **{TABLE: text(rows=[r[:4] + ["n/a"] for r in ROWS])})
    yield case("ref-and-ref-file", ["--ref", "cerebellum", "--ref-file", "{d}/" + REF], ["--ref-file", "--ref"],
               **{REF: ref_one(ROWS)})
    yield case("ref-file-missing", ["--ref-file", "{d}/nothing.tsv"], ["--ref-file", "nothing.tsv"])
    yield case("ref-file-two-columns", ["--ref-file", "{d}/" + REF], [REF, "exactly one region column"],
               **{REF: ref_two})
    yield case("ref-file-frames", ["--ref-file", "{d}/" + REF], [REF, "data row 4", "240-660 s", "same frames"],
               **{REF: ref_one(shifted)})
    yield case("ref-file-count", ["--ref-file", "{d}/" + REF], [REF, "5 frames"], **{REF: ref_one(ROWS[:5])})
    yield case("ref-file-same-name", ["--ref-file", "{d}/" + REF], [REF, "'putamen'", "also a column"],
               **{REF: text(HEADER[:2] + ["putamen"], [r[:3] for r in ROWS])})
    yield case("ref-file-broken", ["--ref-file", "{d}/" + REF], [REF, "line 3", "'cb'"],
               **{REF: ref_one(with_cell(1, 2, "x"))})
    yield case("region-typo", ["--ref", "cerebellum", "--region", "putamn"], [TABLE, "--region 'putamn'",
                                                                              "did you mean 'putamen'"])
    yield case("only-the-reference", ["--ref", "c"], [TABLE, "no region left to fit"],
               **{TABLE: text(HEADER[:2] + ["cerebellum", "caudate"], [r[:2] + r[2:5:2] for r in ROWS])})
    yield case("region-empty", ["--ref", "cerebellum", "--region", ""], ["--region", "empty"])
    yield case("window-reversed", ["--ref", "cerebellum", "--window", "20", "5"], ["--window", "end must be after"])
    yield case("window-seconds", ["--ref", "cerebellum", "--window", "600", "1800"],
               [TABLE, "--window 600 min", "600s"])
    yield case("t-star-seconds", ["--ref", "cerebellum", "--t-star", "1200", "--model", "logan_ref"],
               [TABLE, "--t-star 1200 min", "1200s"])
    for flag, values in (("--window", ["abc", "5"]), ("--window", ["nan", "5"]), ("--window", ["-5", "10"]),
                         ("--t-star", ["-1"]), ("--t-star", ["inf"]), ("--half-life", ["0"]),
                         ("--half-life", ["nan"]), ("--k2-ref", ["-0.1"]), ("--k2-ref", ["inf"]),
                         ("--model", ["srtmm"]), ("--weights", ["poisson"])):
        yield case(f"{flag[2:]}-{values[0]}", ["--ref", "cerebellum", flag, *values], [f"argument {flag}"])
    yield case("output-exists", ["--ref", "cerebellum"], ["sub-01_desc-xfit_bp.tsv", "exists", "--force"],
               **{"sub-01_desc-xfit_bp.tsv": "region\tmodel\tBP_ND\n"})
    yield case("figure-exists", ["--ref", "cerebellum"], ["sub-01_region-putamen_desc-xfit_tac.png", "--force"],
               **{"sub-01_region-putamen_desc-xfit_tac.png": b"png"})
    yield case("out-dir-is-file", ["--ref", "cerebellum", "-o", "{d}/afile"], ["-o", "afile", "not a folder"],
               afile="x")
    yield Case("path-missing", {}, ["{d}/none_tacs.tsv", "--ref", "cerebellum"], ["none_tacs.tsv", "does not exist"],
               "argument")
    yield Case("path-empty-dir", {"sub/readme.txt": "x"}, ["{d}/sub", "--ref", "cerebellum"],
               ["sub", "desc-recon_tacs.tsv"], "argument")


CASES = [*encoding_cases(), *header_cases(), *row_cases(), *time_cases(), *sidecar_cases(), *argument_cases()]


def test_enough_cases_of_every_kind():
    kinds = {}
    for c in CASES:
        kinds[c.kind] = kinds.get(c.kind, 0) + 1
    assert len(CASES) >= 50 and len({c.name for c in CASES}) == len(CASES)
    assert min(kinds.values()) >= 8, kinds


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_broken_input_is_refused_with_a_message(case, tmp_path, capsys):
    for name, body in case.files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body if isinstance(body, bytes) else body.encode())
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    args = ["fit", *(a.replace("{d}", str(tmp_path)) for a in case.args)]
    try:
        rc = main(args)
    except SystemExit as stop:  # argparse refuses bad argument values itself
        rc = stop.code
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    for word in case.words:
        assert word in err, f"{word!r} not in {err!r}"
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before  # refused before writing anything
