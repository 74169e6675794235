"""The run report (agc.report.build and its parts): data-driven sections, captured logs,
compressed images, no JSON dumps -- and, in headless Chromium, what a person sees first."""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from PIL import Image

from agc.core.rounding import pdg_round
from agc.publish.provenance import run_provenance
from agc.report.build import REPORT_TITLE, SYNTHETIC_TITLE, build_report, report_title
from agc.report.display import summary_markdown
from agc.report.images import compress_base64_png, compress_png, png_data_uri, png_data_uris
from agc.report.notebookcells import LOG_LINES, capture_stderr, compress_images
from agc.report.summary import summary_html

#: The report must stay below this size [bytes].
MAX_REPORT_BYTES = 3_000_000
#: The first screen the browser test looks at [px].
WINDOW = (1280, 900)
CABINETRY_LINES = [f"4j1b-CR_Wjets_variation_{i} has empty bins: [10]" for i in range(30)]


def _stage_notebook(path: Path, image: Path | None = None) -> None:
    """An executed stage notebook: papermill metadata, a code cell whose outputs hold library
    log lines on stderr, a Markdown table and (optionally) a plot."""
    book = nbformat.v4.new_notebook()
    book.metadata["papermill"] = {"duration": 2.5, "start_time": "2026-01-01T00:00:00"}
    cell = nbformat.v4.new_code_cell("result = model(outdir=outdir)", execution_count=1)
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="\n".join(CABINETRY_LINES) + "\n"),
        nbformat.v4.new_output("display_data", {"text/markdown": "| a |\n| --- |\n| 1717 |"}),
    ]
    if image is not None:
        encoded = base64.b64encode(image.read_bytes()).decode("ascii")
        cell.outputs.append(nbformat.v4.new_output("display_data", {"image/png": encoded}))
    params = nbformat.v4.new_code_cell("outdir = 'outputs'  # defaults", execution_count=0)
    params.metadata["tags"] = ["parameters"]
    book.cells = [nbformat.v4.new_markdown_cell("# 02 · Statistical model"), params, cell]
    nbformat.write(book, path)


@pytest.fixture(scope="module")
def report_run(run_outputs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's complete run with an executed notebook, provenance.json and
    report.html (the report stage's order: provenance first)."""
    outdir = tmp_path_factory.mktemp("report") / "outputs"
    shutil.copytree(run_outputs, outdir, ignore=shutil.ignore_patterns("archive"))
    (outdir / "notebooks").mkdir()
    _stage_notebook(outdir / "notebooks" / "02_model.ipynb", outdir / "plots" / "pulls.png")
    run_provenance(outdir)
    build_report(outdir / "notebooks", outdir / "report.html")
    return outdir


# --------------------------------------------------------------------------- without a browser


def test_sections_appear_only_when_their_outputs_exist(tmp_path: Path) -> None:
    assert summary_html(tmp_path) == ""
    (tmp_path / "cutflow.json").write_text(
        json.dumps({"samples": {"ttbar__nominal": {"all": 7, "4j2b": 3}}, "steps": ["all", "4j2b"]})
    )
    page = summary_html(tmp_path)
    assert 'id="cutflow"' in page
    assert "<td>ttbar__nominal</td><td>7</td><td>3</td>" in page
    assert 'id="fit"' not in page
    assert 'id="limits"' not in page


def test_cutflow_shows_weighted_events_next_to_raw(tmp_path: Path) -> None:
    cutflow = {
        "samples": {"ttbar__nominal": {"all": 7000, "4j2b": 3}},
        "steps": ["all", "4j2b"],
        "weighted": {"ttbar__nominal": {"all": 1234.5678, "4j2b": 0.52911}},
        "skipped_files": [],
    }
    (tmp_path / "cutflow.json").write_text(json.dumps(cutflow))
    page = summary_html(tmp_path)
    raw = page.index("<td>ttbar__nominal</td><td>7\u202f000</td><td>3</td>")
    weighted = page.index("<td>ttbar__nominal</td><td>1\u202f234.6</td><td>0.5</td>")
    assert raw < weighted
    assert "weighted events (xsec × lumi / N_generated per event, 3.378 fb⁻¹)" in page


def test_the_title_says_when_the_events_are_synthetic(tmp_path: Path) -> None:
    assert report_title(tmp_path) == REPORT_TITLE  # no dataset record: no claim
    (tmp_path / "dataset.json").write_text(json.dumps({"inputs": "embedded"}))
    assert report_title(tmp_path) == SYNTHETIC_TITLE
    manifest = tmp_path / "cms" / "nanoaod.json"
    manifest.parent.mkdir()
    manifest.write_text("{}")
    (tmp_path / "dataset.json").write_text(json.dumps({"inputs": str(manifest)}))
    assert report_title(tmp_path) == REPORT_TITLE
    (manifest.parent / "generation.json").write_text("{}")  # what agc generate leaves
    assert report_title(tmp_path) == SYNTHETIC_TITLE


def test_the_report_leads_with_the_result(report_run: Path) -> None:
    page = (report_run / "report.html").read_text(encoding="utf-8")
    assert f"<title>{html.escape(report_title(report_run))}</title>" in page
    fit = json.loads((report_run / "fit_results.json").read_text())
    poi = fit["poi"]
    first = page.index('data-role="fit-poi"')
    assert first < page.index('data-role="fit-postfit"') < page.index('id="notebooks"')
    value, uncertainty = pdg_round(poi["bestfit"], poi["uncertainty"])
    assert f"<strong>{value}</strong> ± {uncertainty}" in page[first : first + 400]
    assert "expected from the histograms" not in page  # not the embedded default's record
    for anchor in ("fit-prefit", "fit-parameters", "cutflow", "provenance", "outputs"):
        assert f'id="{anchor}"' in page
    assert page.index('id="provenance"') < page.index('id="notebooks"')
    assert "outdir = &#x27;outputs&#x27;  # defaults" not in page  # the parameters cell is gone
    assert "<script src=" not in page  # nothing from the network
    assert (report_run / "report.html").stat().st_size < MAX_REPORT_BYTES


def test_stderr_becomes_one_collapsed_log_box() -> None:
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="kept\n"),
        nbformat.v4.new_output("stream", name="stderr", text="\n".join(CABINETRY_LINES[:20])),
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: late\n"),
    ]
    lines = capture_stderr(cell, "02_model.ipynb")
    assert len(lines) == 21
    assert [o["output_type"] for o in cell.outputs] == ["stream", "display_data"]
    box = cell.outputs[1]["data"]["text/html"]
    assert box.startswith('<details class="agc-log"><summary>log of 02_model.ipynb: 21 lines')
    assert CABINETRY_LINES[LOG_LINES - 1] in box
    assert CABINETRY_LINES[LOG_LINES] not in box
    assert f"… {21 - LOG_LINES} more lines" in box


def test_compressed_plots_are_smaller_images_of_the_same_size(run_outputs: Path) -> None:
    original = (run_outputs / "plots" / "pulls.png").read_bytes()
    smaller = compress_png(original)
    assert len(smaller) < len(original)
    with Image.open(io.BytesIO(smaller)) as new, Image.open(io.BytesIO(original)) as old:
        assert new.size == old.size


def test_images_compressed_together_are_each_as_compressed_alone(run_outputs: Path) -> None:
    paths = sorted((run_outputs / "plots").glob("*.png"))[:4]
    assert len(paths) == 4
    alone = [png_data_uri(path) for path in paths]
    compress_png.cache_clear()
    assert png_data_uris(paths) == alone
    encoded = [base64.b64encode(path.read_bytes()).decode("ascii") for path in paths]
    cell = nbformat.v4.new_code_cell("show_images(plots)")
    cell.outputs = [
        nbformat.v4.new_output("display_data", {"image/png": image, "text/plain": path.name})
        for image, path in zip(encoded, paths, strict=True)
    ]
    cell.outputs.insert(2, nbformat.v4.new_output("stream", name="stdout", text="between\n"))
    compress_png.cache_clear()
    compress_images(cell)
    shown = [o["data"]["image/png"] for o in cell.outputs if o["output_type"] == "display_data"]
    assert shown == [compress_base64_png(image) for image in encoded]
    assert cell.outputs[2]["text"] == "between\n"


def test_stage_summaries_are_tables_not_json_dumps() -> None:
    text = summary_markdown(
        {
            "events_processed": 10,
            "chunks": {"computed": 2, "total": 2},
            "cutflow": {"ttbar__nominal": {"all": 7, "4j2b": 3}},
            "samples": ["ttbar__nominal"],
            "skipped_files": [],
        }
    )
    assert "```json" not in text
    assert "| ttbar__nominal | 7 | 3 |" in text
    assert "| total | 2 |" in text
    assert "**skipped_files**\n\nnone" in text


# --------------------------------------------------------------------------- in a real browser

#: Run after the page has loaded (images included): what a person sees, as JSON in the DOM.
CHECK_SCRIPT = """
<script>
window.addEventListener("load", () => {
  const h = window.innerHeight;
  const inView = (sel) => [...document.querySelectorAll(sel)].map((e) => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.top >= 0 && r.bottom <= h;
  });
  const images = [...document.images];
  const result = {
    viewport: [window.innerWidth, h],
    images: images.length,
    broken: images.filter((i) => !(i.complete && i.naturalWidth > 0)).map((i) => i.alt),
    poi: inView('[data-role="fit-poi"]'),
    poi_text: (document.querySelector('[data-role="fit-poi"]') || {}).textContent,
    postfit: inView('[data-role="fit-postfit"]'),
    stderr: document.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]').length,
    logs: [...document.querySelectorAll("details.agc-log summary")].map((s) => s.textContent),
  };
  const pre = document.createElement("pre");
  pre.id = "agc-browser-check";
  pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
});
</script>
"""


def _chromium() -> str:
    """The Chromium executable; a skip with the reason when there is none (an error under CI)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    reason = "headless Chromium is not installed (apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}: CI must install it (.ci/run)")
    pytest.skip(reason)


def _headless(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--virtual-time-budget=10000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def test_in_headless_chromium_the_first_screen_holds_the_result(
    report_run: Path, tmp_path: Path
) -> None:
    chromium = _chromium()
    page = (report_run / "report.html").read_text(encoding="utf-8")
    checked = report_run / "report-checked.html"  # the report plus the check script
    checked.write_text(page.replace("</body>", CHECK_SCRIPT + "</body>"), encoding="utf-8")
    dom = _headless(chromium, tmp_path / "profile", "--dump-dom", checked.as_uri()).stdout
    found = re.search(r'<pre id="agc-browser-check">(.*?)</pre>', dom, re.DOTALL)
    assert found, dom[-2000:]
    result = json.loads(html.unescape(found.group(1)))
    print(json.dumps(result, indent=1))
    assert result["images"] >= 6  # post-fit, pre-fit (2 regions each), pulls, correlations
    assert result["broken"] == []
    assert result["poi"] == [True]
    fit = json.loads((report_run / "fit_results.json").read_text())
    value, uncertainty = pdg_round(fit["poi"]["bestfit"], fit["poi"]["uncertainty"])
    assert result["poi_text"] == f"{fit['poi']['name']} = {value} ± {uncertainty}"  # PDG rounding
    assert result["postfit"] == [True, True]  # both regions' post-fit plots on the first screen
    assert result["stderr"] == 0
    assert result["logs"] == ["log of 02_model.ipynb: 30 lines on stderr (30 distinct)"]
    shot = tmp_path / "first-screen.png"
    _headless(chromium, tmp_path / "profile", f"--screenshot={shot}", checked.as_uri())
    with Image.open(shot) as image:
        assert image.size == WINDOW
        assert len(image.getcolors(1 << 24) or []) > 50  # drawn, not a blank page


def test_provenance_names_the_bdt_models_when_the_ml_histograms_exist(tmp_path: Path) -> None:
    from agc.core import physics

    run_provenance(tmp_path)
    assert "ml_models" not in json.loads((tmp_path / "provenance.json").read_text())
    (tmp_path / "histograms_ml.root").write_bytes(b"")
    run_provenance(tmp_path)
    record = json.loads((tmp_path / "provenance.json").read_text())
    assert record["ml_models"]["sha256"] == physics.ML_MODEL_SHA256
