"""The report as a reader sees it: rendered by headless Chromium, the answer comes first and every figure loads.

tests/test_report.py checks the HTML with a parser; here a browser lays the page out. Chromium runs as a
subprocess (no Python dependency): ``--dump-dom`` after an injected script has written what the browser
rendered into the page, and ``--screenshot``. Without a Chromium binary the tests are skipped, unless
``PETSIM_REQUIRE_BROWSER=1`` (``.ci/run`` sets it when Chromium is installed), which makes the skip a
failure. ``PETSIM_CHROMIUM`` names the binary instead of looking it up on ``PATH``.
"""

import html
import json
import os
import re
import shutil
import signal
import struct
import subprocess
from pathlib import Path

import pytest

from petsim.pipeline.layout import RunLayout
from petsim.pipeline.report import fmt, headline_rows
from petsim.pipeline.scenario import load_scenario

TIMEOUT_S = 60
WINDOW = (1280, 2000)

# Headless and offline: without the networking flags Chromium tries to reach Google's servers.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         f"--window-size={WINDOW[0]},{WINDOW[1]}"]

# Runs on window 'load' (every image loaded or failed) and writes what the browser rendered into the DOM,
# where --dump-dom prints it.
PROBE = """<script>
window.addEventListener('load', function () {
  var first = document.querySelector('body > section');
  var out = {
    h1: document.querySelector('h1').innerText,
    first_section: first.id,
    heading: first.querySelector('h2').innerText,
    text: first.innerText,
    top: first.getBoundingClientRect().top,
    viewport_height: window.innerHeight,
    table: Array.from(first.querySelectorAll('#headline-table tbody tr'),
                      function (tr) { return Array.from(tr.cells, function (c) { return c.innerText; }); }),
    n_images: document.images.length,
    images: Array.from(document.images, function (img) {
      return {src: img.getAttribute('src'), complete: img.complete, naturalWidth: img.naturalWidth,
              naturalHeight: img.naturalHeight, width: img.getBoundingClientRect().width};
    })
  };
  var pre = document.createElement('pre');
  pre.id = 'browser-check';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""

#: Figures the report of a dynamic scenario with a release embeds (petsim/pipeline/report.py, make_figures).
FIGURES = ("delta_bp.png", "input_function.png", "count_rates.png", "recon_vs_truth.png", "tacs.png", "logan.png",
           "bp_scatter.png")


def find_chromium() -> str | None:
    """The Chromium binary: ``PETSIM_CHROMIUM`` if set (None if it is not an executable file), else the
    first of chromium, chromium-browser and google-chrome on ``PATH``."""
    override = os.environ.get("PETSIM_CHROMIUM")
    if override:
        return override if os.path.isfile(override) and os.access(override, os.X_OK) else None
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


def run_chromium(binary: str, args: list[str], profile: Path) -> str:
    """Run Chromium with ``args`` and a fresh profile folder; its stdout.

    Chromium starts renderer and GPU processes: on a timeout the whole process group is killed so that
    none is left behind.
    """
    proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, encoding="utf-8", errors="replace", start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"Chromium did not finish within {TIMEOUT_S} s: {binary} {' '.join(args)}")
    assert proc.returncode == 0, f"Chromium exited with {proc.returncode}:\n{err[-3000:]}"
    return out


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def chromium() -> str:
    """The browser, or a skip (a failure with ``PETSIM_REQUIRE_BROWSER=1``)."""
    binary = find_chromium()
    if binary is None:
        where = os.environ.get("PETSIM_CHROMIUM") or "chromium, chromium-browser or google-chrome on PATH"
        reason = f"no Chromium ({where}) to render the report; Debian: apt-get install chromium"
        if os.environ.get("PETSIM_REQUIRE_BROWSER") == "1":
            pytest.fail(f"PETSIM_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return binary


@pytest.fixture(scope="module")
def tiny_report(chromium, tiny_report_run):
    """The shared run of tests/data/tiny.toml (conftest) and its report folder. Asks for the browser
    first, so that a skip costs no simulation."""
    return tiny_report_run, tiny_report_run / "derivatives" / "petsim" / "report"


@pytest.mark.slow
def test_the_browser_shows_the_answer_first_and_loads_every_figure(chromium, tiny_report, tmp_path):
    out, report = tiny_report
    page = tmp_path / "report"
    shutil.copytree(report, page)  # the probe goes into a copy: the run's report stays as written
    index = page / "index.html"
    text = index.read_text(encoding="utf-8")
    assert text.count("</head>") == 1
    index.write_text(text.replace("</head>", PROBE + "</head>"), encoding="utf-8")

    dom = run_chromium(chromium, ["--dump-dom", index.as_uri()], tmp_path / "profile")
    found = re.search(r'<pre id="browser-check">(.*?)</pre>', dom, re.S)
    assert found, f"the probe wrote nothing on 'load'; Chromium printed:\n{dom[:2000]}"
    seen = json.loads(html.unescape(found.group(1)))

    # The headline: the first section, on the first screen, saying what the run's files say.
    assert "tiny" in seen["h1"]
    assert seen["first_section"] == "headline" and seen["heading"] == "Can the release be seen?"
    assert 0 <= seen["top"] < seen["viewport_height"] / 2
    rows = headline_rows(RunLayout(out), load_scenario(out / "scenario_resolved.toml"))
    judged = [r for r in rows if r["seen"] is not None]
    n_seen = sum(bool(r["seen"]) for r in judged)
    assert judged and f"the release is seen in {n_seen} of {len(judged)} region-and-model pairs" in seen["text"]
    expected = [[r["region"], r["model"], fmt(r["true"], "pct"), fmt(r["estimate"], "pct"),
                 f"{fmt(r['ci'][0], 'pct')} to {fmt(r['ci'][1], 'pct')}", "yes" if r["detected"] else "no",
                 fmt(r["attainable"], "pct"), r["verdict"]] for r in rows]
    assert seen["table"] == expected
    # tests/data/tiny.toml releases thalamus_medial (both sides) and amygdala_l
    assert {r[0] for r in seen["table"]} == {"thalamus_medial_l", "thalamus_medial_r", "amygdala_l"}
    assert "wild bootstrap" in seen["text"]

    # The figures: every <img> decoded from its PNG and laid out, the ΔBP figure first.
    images = seen["images"]
    assert seen["n_images"] == len(images) == text.count("<img ")
    srcs = [img["src"] for img in images]
    assert srcs[0] == "delta_bp.png" and set(FIGURES) <= set(srcs), srcs
    for img in images:
        assert img["complete"] and img["naturalWidth"] > 0 and img["width"] > 0, img
        assert (img["naturalWidth"], img["naturalHeight"]) == _png_size(page / img["src"]), img


@pytest.mark.slow
def test_the_report_screenshot_is_not_blank(chromium, tiny_report, tmp_path):
    from matplotlib.image import imread

    _, report = tiny_report
    shot = tmp_path / "report.png"
    run_chromium(chromium, [f"--screenshot={shot}", (report / "index.html").as_uri()], tmp_path / "profile")
    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (WINDOW[1], WINDOW[0])
    assert pixels.var() > 0
    assert (pixels.min(axis=-1) < 0.9).mean() > 0.01  # text and figures, not a white page
    # The first screen reaches the ΔBP figure and the input function: their colours, beyond the text's greys.
    colour = pixels.max(axis=-1) - pixels.min(axis=-1)
    assert (colour > 0.4).mean() > 1e-3
