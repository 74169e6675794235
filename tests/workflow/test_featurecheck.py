"""Gherkin feature files against a local run (agc.workflow.featurecheck): the data fetcher's
answers (:class:`LocalRun`, in this environment) and reana-commons 0.95's own parser running
feature files with it (in .venv-reana-dask, as ``make reana-test`` does)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from agc.workflow import steplog
from agc.workflow.featurecheck import LOG_DIR, LocalRun, human_size
from agc.workflow.runrecord import RunRecorder, record_path

REPO = Path(__file__).resolve().parents[2]
REANA_COMMONS = REPO / ".venv-reana-dask" / "bin" / "python"
PRODUCT = b"histograms\n" * 100


def _run(workspace: Path, ok: bool = True) -> Path:
    """A workspace as a local run leaves it: its spec, one product, two step logs, the record;
    besides them a hidden folder and a __pycache__ that are not the workspace's files."""
    (workspace / "outputs" / LOG_DIR).mkdir(parents=True)
    (workspace / "reana.yaml").write_text(
        "version: 0.9.4\ninputs:\n  parameters:\n    outdir: outputs\n"
        "workflow:\n  type: serial\noutputs:\n  files:\n    - outputs/histograms.root\n"
    )
    (workspace / "outputs" / "histograms.root").write_bytes(PRODUCT)
    for hidden in (".venv/bin/python", "code/__pycache__/x.pyc"):
        (workspace / hidden).parent.mkdir(parents=True, exist_ok=True)
        (workspace / hidden).write_text("not uploaded\n")
    recorder = RunRecorder(record_path(workspace / "outputs" / LOG_DIR), "reana.yaml", "serial")
    for step, text in (("histograms", "filled 4 histograms\n"), ("fit", "fit converged: x\n")):
        recorder.step_started(step, f"agc {step}")
        (workspace / "outputs" / LOG_DIR / f"{step}.log").write_text(text)
        recorder.step_finished(ok=ok or step == "histograms", last=True)
        if not ok:
            break
    recorder.run_finished(ok)
    return workspace


def test_the_fetcher_reads_the_logs_where_the_runners_write_them() -> None:
    assert LOG_DIR == steplog.LOG_DIR


def test_files_are_the_workspace_s_but_hidden_ones_and_caches(tmp_path: Path) -> None:
    run = LocalRun(_run(tmp_path), "reana.yaml")
    names = [row["name"] for row in run.list_files("w")]
    assert names == [
        "outputs/histograms.root",
        "outputs/logs/fit.log",
        "outputs/logs/histograms.log",
        "outputs/logs/workflow.json",
        "reana.yaml",
    ]
    (row,) = run.list_files("w", file_name="outputs/*.root")
    assert row["size"] == {"raw": len(PRODUCT), "human_readable": "1.07 KiB"}
    assert run.list_files("w", file_name="/outputs/histograms.root") == [row]
    assert run.list_files("w", file_name="outputs/none.root") == []


def test_disk_usage_totals_the_files_or_lists_files_and_folders(tmp_path: Path) -> None:
    run = LocalRun(_run(tmp_path), "reana.yaml")
    files = run.list_files("w")
    total = sum(row["size"]["raw"] for row in files)
    (summary,) = run.get_workflow_disk_usage("w", {"summarize": True})["disk_usage_info"]
    assert summary["size"]["raw"] == total
    listing = {
        row["name"]: row["size"]["raw"]
        for row in run.get_workflow_disk_usage("w", {"summarize": False})["disk_usage_info"]
    }
    assert listing["/outputs/histograms.root"] == len(PRODUCT)
    assert listing["/outputs"] == total - listing["/reana.yaml"]
    assert listing["/outputs/logs"] == listing["/outputs"] - len(PRODUCT)
    assert not any(".venv" in name or "__pycache__" in name for name in listing)


def test_download_gives_a_workspace_file_and_nothing_outside_it(tmp_path: Path) -> None:
    run = LocalRun(_run(tmp_path / "ws"), "reana.yaml")
    (tmp_path / "secret.txt").write_text("outside\n")
    assert run.download_file("w", "/outputs/histograms.root") == (
        PRODUCT,
        "histograms.root",
        False,
    )
    for name in ("../secret.txt", "outputs/none.root", "outputs"):
        with pytest.raises(FileNotFoundError):
            run.download_file("w", name)


def test_status_and_logs_come_from_the_run_s_record(tmp_path: Path) -> None:
    run = LocalRun(_run(tmp_path), "reana.yaml")
    status = run.get_workflow_status("w")
    record = run.record()
    assert status["status"] == "finished"
    assert status["progress"]["run_started_at"] == record.started_at
    assert status["progress"]["run_finished_at"] == record.finished_at
    logs = json.loads(run.get_workflow_logs("w")["logs"])
    assert [job["job_name"] for job in logs["job_logs"].values()] == ["histograms", "fit"]
    assert "step fit: finished" in logs["workflow_logs"]
    (fit,) = json.loads(run.get_workflow_logs("w", steps=["fit"])["logs"])["job_logs"].values()
    assert (fit["logs"], fit["cmd"], fit["status"]) == ("fit converged: x\n", "agc fit", "finished")
    assert fit["started_at"] == record.steps[1].started_at
    assert run.get_workflow_specification("w")["parameters"] == {"outdir": "outputs"}


def test_without_a_record_the_fetcher_says_to_run_the_workflow(tmp_path: Path) -> None:
    run = LocalRun(tmp_path, "reana.yaml")
    with pytest.raises(FileNotFoundError, match="make run"):
        run.get_workflow_status("w")


@pytest.mark.parametrize(
    ("size", "shown"), [(0, "0 Bytes"), (1023, "1023 Bytes"), (1536, "1.5 KiB"), (3 << 30, "3 GiB")]
)
def test_sizes_read_as_reana_shows_them(size: int, shown: str) -> None:
    assert human_size(size) == shown


# --------------------------------------------------------------------------- REANA's parser

FEATURE = """\
Feature: A small run
    Scenario: It finished
        When the workflow execution completes
        Then the workflow status should be finished

    Scenario: Its product has its checksum
        When the workflow is finished
        Then the sha256 checksum of the file outputs/histograms.root should be {sha256}
        And the workspace should include "outputs/histograms.root"
        And the job logs for the fit step should contain "fit converged"
        And the workflow run duration should be less than 5 minutes

    Scenario: A product it never wrote
        When the workflow is finished
        Then the workspace should include "outputs/report.html"
"""


def run_parser(workspace: Path, feature: Path) -> tuple[int, list[dict]]:
    """``python -m agc.workflow.featurecheck --json`` in .venv-reana-dask: exit code, results."""
    if not REANA_COMMONS.exists():
        pytest.fail(f"{REANA_COMMONS} missing: create it with `make reana-dask`")
    command = [str(REANA_COMMONS), "-m", "agc.workflow.featurecheck", "--json"]
    result = subprocess.run(
        [*command, "--workspace", str(workspace), str(feature)],
        env=dict(os.environ, PYTHONPATH=str(REPO / "code")),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.startswith("["), result.stderr
    return result.returncode, json.loads(result.stdout)


def test_reana_s_parser_passes_fails_and_skips_scenarios_on_a_local_run(tmp_path: Path) -> None:
    workspace = _run(tmp_path / "ws")
    feature = tmp_path / "small.feature"
    good = hashlib.sha256(PRODUCT).hexdigest()
    feature.write_text(FEATURE.format(sha256=good))
    code, results = run_parser(workspace, feature)
    assert code == 1, "one scenario fails"
    assert [(r["scenario"], r["result"]) for r in results] == [
        ("It finished", "passed"),
        ("Its product has its checksum", "passed"),
        ("A product it never wrote", "failed"),
    ]
    assert "outputs/report.html" in results[2]["error"]

    feature.write_text(FEATURE.format(sha256=hashlib.sha256(b"other").hexdigest()))
    _, results = run_parser(workspace, feature)
    assert results[1]["result"] == "failed"
    assert good in results[1]["error"], "the checksum error names the actual checksum"


def test_reana_s_parser_sees_a_failed_run_as_failed(tmp_path: Path) -> None:
    workspace = _run(tmp_path / "ws", ok=False)
    feature = tmp_path / "small.feature"
    feature.write_text(FEATURE.format(sha256="0" * 64))
    code, results = run_parser(workspace, feature)
    assert code == 1
    assert [r["result"] for r in results] == ["failed", "skipped", "skipped"]
    assert 'Its status is "failed"' in results[0]["error"]
