"""The validation report answers the question first: can the release be seen, and with what uncertainty?

No headless browser is available here: the HTML is checked with the standard library's
``html.parser`` (well-formed nesting, section order, text of each section), not rendered.
"""

import json
import re
import struct
from html.parser import HTMLParser
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest

from petsim.cli import main
from petsim.io import read_tsv
from petsim.pipeline.layout import scenario_sha256
from petsim.pipeline.report import fmt, heading, seen, verdict
from petsim.pipeline.scenario import load_scenario

VOID = {"meta", "img", "br", "hr", "link", "input", "source", "wbr", "col"}


class _Outline(HTMLParser):
    """Sections (id, heading, text) in document order, <img> sources, and nesting errors."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.images, self.events = [], [], [], []
        self.sections: list[dict] = []
        self.h1 = None
        self._in = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.events.append(tag)
        if tag == "img":
            self.images.append(attrs.get("src"))
        if tag == "section":
            self.sections.append({"id": attrs.get("id"), "h2": "", "text": ""})
        if tag in ("h1", "h2"):
            self._in = tag
        if "section" in self.stack and self.sections:
            self.sections[-1]["text"] += " "  # cells and list items apart
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "h1":
            self.h1 = (self.h1 or "") + data
        if "section" in self.stack and self.sections:
            sec = self.sections[-1]
            sec["text"] += data
            if self._in == "h2":
                sec["h2"] += data


def _outline(text: str) -> _Outline:
    parser = _Outline()
    parser.feed(text)
    parser.close()
    return parser


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


# ---------------------------------------------------------------- fast checks, no run

def test_numbers_are_formatted_for_people():
    assert fmt(None) == fmt(float("nan")) == fmt(float("inf")) == "n/a"
    assert fmt(-0.0004, "pct") == "0.0" and fmt(-0.0, "sig") == "0" and fmt(-1e-9) != "-0.000"
    assert fmt(-9.998499975, "pct") == "-10.0"
    assert fmt(2.999950000000114) == "3.00" and fmt(0.15) == "0.150" and fmt(0.6431) == "0.643"
    assert fmt(12345.6) == "12,346" and fmt(20000.0) == "20,000"
    assert fmt(0.0312, "p") == "0.031" and fmt(True) == "yes" and fmt("a<b", "text") == "a&lt;b"
    assert fmt(40.0, "min") == "40" and fmt(42.25, "min") == "42.25"
    assert heading("true_bq_ml") == "true (Bq/mL)" and heading("percent_error") == "percent error"
    assert heading("bias_percent") == "bias (%)"


def test_verdict_claims_only_sign_and_half_the_size():
    assert seen(-10.0, -5.0) and seen(-10.0, -30.0)
    assert seen(-10.0, -4.9) is False and seen(-10.0, 3.0) is False
    assert seen(-10.0, None) is None and seen(0.0, -3.0) is None
    assert verdict(-10.0, -8.0, -7.0).startswith("Seen in this realisation")
    assert "more than twice" in verdict(-10.0, -23.4, -7.2)
    assert verdict(-10.0, 2.8, -8.0).startswith("Not seen") and "noise and reconstruction" in verdict(-10.0, 2.8, -8.0)
    assert "not the noise" in verdict(-10.0, -1.0, -2.0)  # even noise-free TACs miss it: the model limits
    assert verdict(-10.0, None, -8.0).startswith("No estimate")


def test_new_figures_draw_pngs(tmp_path):
    from petsim.plot.figures import plot_count_rates, plot_delta_bp, plot_input_function

    p = plot_delta_bp(tmp_path / "d.png", ["a", "b"], ["m1", "m2"], {"a": -10.0, "b": -10.0},
                      {("a", "m1"): -8.0, ("a", "m2"): 3.0, ("b", "m1"): None},
                      {("a", "m1"): -7.0, ("b", "m2"): -6.0})
    t = np.array([0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0])
    q = plot_input_function(tmp_path / "i.png", t, 1e4 * np.exp(-t / 20.0), 0.9e4 * np.exp(-t / 20.0),
                            np.exp(-t / 50.0))
    start, dur = np.array([0.0, 1.0, 3.0, 8.0]), np.array([1.0, 2.0, 5.0, 10.0])
    r = plot_count_rates(tmp_path / "c.png", start, dur, {"trues": 1e5 * dur, "NEC": 5e4 * dur},
                         {"random fraction": [0.1, 0.2, 0.15, 0.1]})
    for path in (p, q, r):
        w, h = _png_size(path)
        assert w > 300 and h > 150 and path.stat().st_size > 5000


# ---------------------------------------------------------------- the report of a tiny run

@pytest.fixture(scope="module")
def tiny_report(tiny_report_run):
    out = tiny_report_run
    index = out / "derivatives" / "petsim" / "report" / "index.html"
    return out, index.read_text(encoding="utf-8")


@pytest.mark.slow
def test_report_opens_with_the_answer_for_each_released_region(tiny_report):
    out, text = tiny_report
    doc = _outline(text)
    assert doc.errors == [] and doc.stack == []  # every element closed, in order
    assert doc.h1 and "tiny" in doc.h1
    after_h1 = doc.events[doc.events.index("h1") + 1:]
    assert after_h1[0] == "section"  # nothing between the title and the first section
    head = doc.sections[0]
    assert head["id"] == "headline" and "release" in head["h2"].lower()
    validation = read_tsv(out / "derivatives" / "petsim" / "sub-01" / "sub-01_desc-validation_bp.tsv")
    # tests/data/tiny.toml releases thalamus_medial (both sides) and amygdala_l
    for region in ("thalamus_medial_l", "thalamus_medial_r", "amygdala_l"):
        assert region in head["text"]
        for model in ("logan_ref", "mrtm2"):
            row = [r for r in validation if r["region"] == region and r["model"] == model][0]
            for key in ("true_percent_delta", "percent_delta", "percent_delta_noisefree_tacs",
                        "percent_delta_ci_low", "percent_delta_ci_high"):
                assert fmt(row[key], "pct") in head["text"], (region, model, key)
            # the bootstrap interval of ΔBP_ND holds its estimate, and "detected" is its exclusion of 0
            assert float(row["delta_BP_ND_ci_low"]) <= float(row["delta_BP_ND"]) <= float(row["delta_BP_ND_ci_high"])
            detected = not float(row["delta_BP_ND_ci_low"]) <= 0.0 <= float(row["delta_BP_ND_ci_high"])
            assert str(row["release_detected"]).lower() == str(detected).lower()
    assert "caudate_l" not in head["text"]  # no release there: not in the headline
    assert "wild bootstrap" in head["text"] and "petsim study" in head["text"]
    assert "excludes zero (detected) in" in head["text"]
    assert "single noise realisation" in head["text"] and "at least half the size" in head["text"]
    ids = [s["id"] for s in doc.sections]
    assert ids.index("figures") < ids.index("validation")  # the long table below the figures
    assert "sub-01_desc-validation_bp.tsv" in doc.sections[ids.index("validation")]["text"]


@pytest.mark.slow
def test_report_figures_exist_and_are_shown(tiny_report):
    out, text = tiny_report
    doc = _outline(text)
    rd = out / "derivatives" / "petsim" / "report"
    for name in ("delta_bp.png", "input_function.png", "count_rates.png"):
        w, h = _png_size(rd / name)
        assert w > 300 and h > 150 and (rd / name).stat().st_size > 10000, name
        assert name in doc.images, name
    assert doc.images.index("delta_bp.png") < doc.images.index("recon_vs_truth.png")
    for src in doc.images:
        assert (rd / src).is_file(), src


@pytest.mark.slow
def test_report_states_its_provenance(tiny_report):
    out, text = tiny_report
    doc = _outline(text)
    prov = [s for s in doc.sections if s["id"] == "provenance"][0]["text"]
    sc = load_scenario(out / "scenario_resolved.toml")
    sha = scenario_sha256(sc.to_json())
    assert sha == json.loads((out / ".petsim" / "simulate.done.json").read_text())["scenario_sha256"]
    assert version("petsim") in prov and sha in prov and "scenario_resolved.toml" in prov
    assert re.search(r"seed\s*11\b", prov)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", prov)


@pytest.mark.slow
def test_report_numbers_are_readable(tiny_report):
    _, text = tiny_report
    assert "-0.000" not in text
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", text)
    assert cells
    for cell in cells:
        assert not re.fullmatch(r"-0(\.0*)?", cell), cell  # no negative zero
        if re.fullmatch(r"-?[\d,]+\.\d+", cell):  # at most 3 decimals
            assert len(cell.split(".")[1]) <= 3, cell
    for raw in ("bias_percent_noisefree_tacs", "percent_delta_uncorrected", "true_BP_ND"):
        assert f"<th>{raw}</th>" not in text  # human headings, not TSV column names


@pytest.mark.slow
def test_report_only_reads_the_run(tiny_report):
    out, _ = tiny_report
    rd = out / "derivatives" / "petsim" / "report"
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and rd not in p.parents
              and ".petsim" not in p.parts}
    assert main(["report", str(out), "--force", "-q"]) == 0
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and rd not in p.parents
             and ".petsim" not in p.parts}
    assert after == before  # nothing outside the report folder was written


def test_the_scenario_line_reads_a_preset_frame_schedule():
    """The demo names its frames by preset (no explicit durations): 28 frames over 90 min."""
    from petsim.pipeline.report import _scenario_text
    from petsim.pipeline.scenario import load_scenario

    text = _scenario_text(load_scenario("demo"))
    assert "28 frames over 90 min" in text
