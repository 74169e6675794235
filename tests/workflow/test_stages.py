"""agc.workflow.stages: one function per stage, parameters validated first, outputs under outdir."""

from __future__ import annotations

import io
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
import uproot
from stats_helpers import write_synthetic_histograms
from toy_nanoaod import write_toy_dataset

from agc.core.errors import AGCError
from agc.core.rootio import reproducible_recreate
from agc.dataset.origin import DataOrigin
from agc.stats.results import Estimate, FitRun, FitSummary, ParameterTable
from agc.workflow import stages

CONFIG = Path(__file__).resolve().parents[2] / "inputs" / "cabinetry.yaml"


@pytest.fixture(scope="module")
def toy_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_dataset(tmp_path_factory.mktemp("toy"))


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in ``tmp_path``: ``outdir`` must be a relative path."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", list(stages.STAGES))
def test_every_stage_validates_its_parameters_before_any_work(in_tmp: Path, name: str) -> None:
    with pytest.raises(AGCError, match=r"'outdir'.*no '\.\.'") as info:
        stages.STAGES[name](outdir="../elsewhere")
    assert "\n" not in str(info.value)
    assert list(in_tmp.iterdir()) == []
    assert not (in_tmp.parent / "elsewhere").exists()


def test_dataset_writes_the_summary_and_sample_markers_under_outdir(
    in_tmp: Path, toy_manifest: Path
) -> None:
    record = stages.dataset(inputs=str(toy_manifest), samples="wjets", outdir="run")
    assert json.loads((in_tmp / "run" / "dataset.json").read_text()) == record.to_dict()
    assert [row.sample for row in record.samples] == ["wjets__nominal"]
    assert [p.name for p in (in_tmp / "run" / "samples").iterdir()] == ["wjets__nominal"]
    with pytest.raises(AGCError, match="'max_files'"):
        stages.dataset(inputs=str(toy_manifest), max_files=0, outdir="run")


def test_histograms_then_merge_equal_one_pass_bit_for_bit(in_tmp: Path, toy_manifest: Path) -> None:
    common: dict[str, Any] = {"inputs": str(toy_manifest), "executor": "iterative"}
    stale = in_tmp / "run" / "partial" / "stale.partial.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    partial = stages.histograms(**common, outdir="run")
    assert not stale.exists(), "the workflow's partial folder is replaced as a whole"
    assert [p.name for p in (in_tmp / "run").iterdir() if p.name.startswith(".partial")] == []
    assert sorted(Path(p).parent.name for p in partial.partials) == ["partial"] * len(
        partial.partials
    )
    merged = stages.merge(outdir="run")
    assert merged.output == str(Path("run") / "histograms.root")
    assert merged.cutflow_output == str(Path("run") / "cutflow.json")

    single = stages.histograms(**common, outdir="single", partials=False)
    assert single.output == str(Path("single") / "histograms.root")
    assert (in_tmp / "single" / "histograms.root").read_bytes() == (
        in_tmp / "run" / "histograms.root"
    ).read_bytes()
    assert (in_tmp / "single" / "cutflow.json").read_bytes() == (
        in_tmp / "run" / "cutflow.json"
    ).read_bytes()

    kept = in_tmp / "mine" / "other.partial.json"
    kept.parent.mkdir()
    kept.write_text("{}")
    stages.histograms(**common, samples="wjets", outdir="run", partial_dir="mine")
    assert kept.exists(), "a partial folder given is not emptied"
    assert (in_tmp / "mine" / "wjets__nominal.partial.json").is_file()


def test_a_failed_histogram_run_leaves_the_previous_partials(
    in_tmp: Path, toy_manifest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The merge and a later signal swap read <outdir>/partial: a run that fails midway (here
    after writing one partial output) must not leave it empty or half-replaced."""
    from agc.processing import histograms as processing_histograms

    first = stages.histograms(inputs=str(toy_manifest), executor="iterative", outdir="run")
    folder = in_tmp / "run" / "partial"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert sorted(before) == sorted(Path(p).name for p in first.partials)

    def fails_midway(*args: Any, partial_dir: Path, **kwargs: Any) -> Any:
        (Path(partial_dir) / "wjets__nominal.partial.json").write_text("{}")
        raise AGCError("input file x.root: disk full")

    monkeypatch.setattr(processing_histograms, "run_histograms", fails_midway)
    with pytest.raises(AGCError, match="disk full"):
        stages.histograms(inputs=str(toy_manifest), executor="iterative", outdir="run")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in (in_tmp / "run").iterdir() if p.name.startswith(".partial")] == []


def test_model_builds_the_main_measurement_also_for_a_signal_declaration(in_tmp: Path) -> None:
    write_synthetic_histograms(in_tmp / "run" / "histograms.root")
    result = stages.model(outdir="run", config=CONFIG)
    assert result.workspace == Path("run") / "workspace.json"
    assert json.loads(result.workspace.read_text()) == result.spec
    assert result.to_dict() == {"workspace": str(Path("run") / "workspace.json")}
    first = result.workspace.read_bytes()
    again = stages.model(outdir="run", signal="inputs/signals/zprime_1000.yaml", config=CONFIG)
    assert again.workspace.read_bytes() == first


def _with_empty_bins(path: Path) -> None:
    """The synthetic histograms with the first model bin of 4j1b single top s-channel empty."""
    write_synthetic_histograms(path)
    with uproot.open(path) as source:
        histograms = {key: source[key].to_hist() for key in source.keys(cycle=False)}
    for name, histogram in histograms.items():
        if name.startswith("4j1b_single_top_s_chan"):
            histogram.view()["value"][3:5] = 0.0  # 110-150 GeV: the first bin of the model
            histogram.view()["variance"][3:5] = 0.0
    with reproducible_recreate(path) as sink:
        for name in sorted(histograms):
            sink[name] = histograms[name]


def test_cabinetry_s_warnings_go_to_the_step_log_not_the_terminal(
    in_tmp: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    process = io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", process)
    _with_empty_bins(in_tmp / "run" / "histograms.root")
    stages.model(outdir="run", config=CONFIG)
    logged = (in_tmp / "run" / "logs" / "model.log").read_text().splitlines()
    assert logged
    assert all(line.startswith("WARNING - cabinetry.histo - ") for line in logged)
    assert "4j1b-CR_single-top-s-channel has empty bins: [0]" in "\n".join(logged)
    shown = capsys.readouterr()
    assert shown.out == ""
    assert shown.err == ""
    assert not [r for r in caplog.records if r.name.startswith(("cabinetry", "pyhf"))]
    assert process.getvalue() == (
        f"[agc model] {len(logged)} cabinetry/pyhf log lines in "
        f"{Path('run') / 'logs' / 'model.log'}\n"
    )
    assert logging.getLogger("cabinetry").propagate  # as it was before the stage


def _fake_run() -> FitRun:
    summary = FitSummary(
        measurement="m",
        poi=Estimate("ttbar_norm", 0.97, 0.1),
        parameters=ParameterTable(
            labels=["ttbar_norm"],
            types=["normfactor"],
            bestfit=[0.97],
            uncertainty=[0.1],
            prefit_uncertainty=[0.0],
        ),
        correlation_matrix=[[1.0]],
        best_twice_nll=12.5,
        goodness_of_fit=0.4,
        impacts=None,
        fit={},
    )
    return FitRun(summary=summary, model=None, data=[], fit_results=None)


def test_fit_wires_workspace_results_and_plots_under_outdir(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agc.plots.figures
    import agc.stats.fit

    seen: dict[str, Any] = {}
    run = _fake_run()

    def run_fit(workspace: Path, output: Path, meanwhile: Any) -> FitRun:
        seen["fit"] = (workspace, output)
        meanwhile(run)  # the stage draws the plots while the impact fits run
        return run

    def fit_plots(got: FitRun, plots_dir: Path, origin: DataOrigin) -> list[Path]:
        seen["plots"] = (got, plots_dir, origin)
        return [Path(plots_dir) / "pulls.pdf"]

    monkeypatch.setattr(agc.stats.fit, "run_fit", run_fit)
    monkeypatch.setattr(agc.plots.figures, "fit_plots", fit_plots)
    # a run on a manifest that no generator wrote: the figures say CMS Open Data
    Path("run").mkdir()
    Path("run", "dataset.json").write_text(json.dumps({"inputs": "agc_inputs.json"}))
    result = stages.fit(outdir="run", poi="mu_sig")
    assert seen == {
        "fit": (Path("run") / "workspace.json", Path("run") / "fit_results.json"),
        "plots": (run, Path("run") / "plots", DataOrigin.CMS_OPEN_DATA),
    }
    assert result.poi == "mu_sig"
    assert result.to_dict() == {
        "fit_results": str(Path("run") / "fit_results.json"),
        "poi": run.summary.poi.to_dict(),
        "best_twice_nll": 12.5,
        "goodness_of_fit": 0.4,
        "plots": [str(Path("run") / "plots" / "pulls.pdf")],
    }


def test_reinterpret_without_a_declaration_leaves_a_note(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert stages.reinterpret(signal="ttbar", outdir="run") == {}
    note = in_tmp / "run" / "reinterpretation" / "NOTE.txt"
    assert note.read_text().splitlines() == [
        "signal=ttbar: no signal declaration given, nothing reinterpreted.",
        "Run with signal=inputs/signals/<name>.yaml (make reinterpret SIGNAL=...).",
    ]
    assert "is the main measurement" in capsys.readouterr().err


def _executed_notebook(path: Path, value: int) -> None:
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    book.metadata["papermill"] = {"start_time": time.time(), "parameters": {"outdir": "run"}}
    cell = nbformat.v4.new_code_cell(f"x = {value}\nx", execution_count=1)
    cell.outputs = [
        nbformat.v4.new_output("execute_result", {"text/plain": str(value)}, execution_count=1)
    ]
    book.cells = [nbformat.v4.new_markdown_cell("# Stage"), cell]
    nbformat.write(book, path)


def test_report_renders_the_run_s_notebooks_and_writes_provenance(in_tmp: Path) -> None:
    (in_tmp / "run" / "notebooks").mkdir(parents=True)
    _executed_notebook(in_tmp / "run" / "notebooks" / "00_dataset.ipynb", 1717)
    result = stages.report(outdir="run")
    assert result.report == Path("run") / "report.html"
    assert result.provenance == Path("run") / "provenance.json"
    assert "1717" in result.report.read_text()
    assert json.loads(result.provenance.read_text())
    assert result.to_dict() == {
        "report": str(Path("run") / "report.html"),
        "provenance": str(Path("run") / "provenance.json"),
    }


def test_archive_refuses_an_incomplete_run_naming_what_is_missing(in_tmp: Path) -> None:
    (in_tmp / "run").mkdir()
    with pytest.raises(AGCError, match=r"histograms\.root") as info:
        stages.archive(outdir="run")
    assert "\n" not in str(info.value)
    assert not (in_tmp / "run" / "archive").exists()


def test_stage_parameters_are_the_schema_names_in_signature_order() -> None:
    assert stages.stage_parameters(stages.merge) == ("outdir", "skip_bad_files", "use_inference")
    assert stages.stage_parameters(stages.model) == ("outdir", "signal", "poi")
    assert stages.stage_parameters(stages.histograms) == (
        "inputs",
        "samples",
        "executor",
        "workers",
        "chunksize",
        "max_files",
        "scheduler",
        "outdir",
        "skip_bad_files",
        "use_inference",
    )
    assert stages.stage_parameters(stages.ml) == ("outdir", "use_inference")


# ----------------------------------------------------------------------------- ML


def test_ml_stages_without_inference_leave_a_note_and_nothing_stale(in_tmp: Path) -> None:
    stale = in_tmp / "run" / "ml" / "workspace_ml.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    assert stages.ml(outdir="run", use_inference=False) == {}
    assert [p.name for p in (in_tmp / "run" / "ml").iterdir()] == ["NOTE.txt"]
    assert "use_inference=false" in (in_tmp / "run" / "ml" / "NOTE.txt").read_text()
    assert stages.ml_fit(outdir="run", use_inference="false") == {}
    with pytest.raises(AGCError, match="'use_inference'"):
        stages.ml_model(outdir="run", use_inference="maybe")


def test_ml_stages_name_a_missing_input(in_tmp: Path) -> None:
    with pytest.raises(AGCError, match=r"run/histograms_ml\.root: ML histograms not found") as info:
        stages.ml_model(outdir="run")
    assert "use_inference=false" in str(info.value)
    assert "\n" not in str(info.value)
    (in_tmp / "run" / "ml").mkdir(parents=True)
    (in_tmp / "run" / "ml" / "workspace_ml.json").write_text("{}")
    with pytest.raises(AGCError, match=r"main fit results not found: run/fit_results\.json"):
        stages.ml_fit(outdir="run")
    assert not (in_tmp / "run" / "ml" / "fit_results_ml.json").exists()


@pytest.mark.jax  # the ML fit's exact derivatives
def test_ml_stage_writes_the_workspace_fit_and_plots_with_the_main_fit_s_validation(
    in_tmp: Path,
) -> None:
    """The ML stages on a stand-in histograms_ml.root after a main fit (synthetic histograms;
    a configuration keeping three of the ML channels, for speed): every product where the
    workflows expect it; the second process draws the post-fit figures of two channels, this
    one of the third, and those drawn in the second process are those drawn in this one."""
    import yaml
    from ml_helpers import ML_CONFIG, write_ml_histograms

    from agc.plots.mlfigures import fit_result_plots, worker_channels
    from agc.stats.fit import load_model, run_fit
    from agc.stats.mlmodel import ml_template

    write_synthetic_histograms(in_tmp / "run" / "histograms.root")
    write_ml_histograms(in_tmp / "run" / "histograms_ml.root")
    stages.model(outdir="run", config=CONFIG)
    run_fit(in_tmp / "run" / "workspace.json", in_tmp / "run" / "fit_results.json", impacts=False)
    config = yaml.safe_load(ML_CONFIG.read_text(encoding="utf-8"))
    kept = ["Feature0", "Feature4", "Feature6"]
    config["Regions"] = [
        r for r in config["Regions"] if r["Name"] in kept or r["Name"] not in KEPT_ML
    ]
    (in_tmp / "ml.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    model = stages.ml_model(outdir="run", config="ml.yaml")
    assert [c["name"] for c in model.spec["channels"]] == kept
    assert json.loads(model.workspace.read_text()) == model.spec == dict(model.checked)
    result = stages.ml_fit(outdir="run", config="ml.yaml")
    ml = in_tmp / "run" / "ml"
    assert result.fit_results == Path("run/ml/fit_results_ml.json")
    saved = json.loads((ml / "fit_results_ml.json").read_text())
    assert saved == result.run.summary.to_dict()
    assert saved["poi"]["name"] == "ttbar_norm"
    expected = {"pulls", "correlation_matrix"} | {
        f"{c}_{stage}" for c in kept for stage in ("prefit", "postfit", "mainfit_validation")
    }
    names = sorted(p.name for p in result.plots)
    assert names == sorted(f"{stem}.{fmt}" for stem in expected for fmt in ("pdf", "png"))
    assert sorted(p.name for p in (ml / "plots").iterdir()) == names
    again = fit_result_plots(
        load_model(ml / "workspace_ml.json")[0],
        ml / "fit_results_ml.json",
        in_tmp / "here",
        ml_template("ml.yaml"),
        channels=worker_channels(kept),
    )
    assert worker_channels(kept) == ("Feature0", "Feature4")
    assert {p.name for p in again} == {
        f"{stem}.{fmt}"
        for stem in ("pulls", "correlation_matrix", "Feature0_postfit", "Feature4_postfit")
        for fmt in ("pdf", "png")
    }
    for path in again:
        assert path.read_bytes() == (ml / "plots" / path.name).read_bytes(), path.name


#: The channels the ML model keeps (the AGC's; agc.stats.mlmodel.PRUNED_CHANNELS are the others).
KEPT_ML = ("Feature0", "Feature1", "Feature2", "Feature4", "Feature5", "Feature6", "Feature7")
