"""A mistake in the inputs, run through each local workflow runner (serial, CWL, Snakemake): the
run ends with the failed step's own one-line error and exit code 2, the tracebacks stay in the
step's log file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from engine_helpers import WORKFLOW_STEPS

from agc.cli import main as cli_main
from agc.core.errors import AGCError
from agc.workflow.runners import run_cwl

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = REPO / ".venv-snakemake" / "bin" / "snakemake"


@pytest.fixture
def not_root_manifest(tmp_path: Path) -> Path:
    """A manifest whose one ttbar file starts as a ROOT file does (so the checks made before
    any step pass it) but is not one: the histogram step fails on it."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "notes.root").write_bytes(b"root" + b" this is not a ROOT file\n")
    manifest = tmp_path / "not_root.json"
    entry = {"nevts_total": 10, "xsec": 1.0, "files": [{"path": "data/notes.root", "nevts": 10}]}
    manifest.write_text(json.dumps({"ttbar": {"nominal": entry}}))
    return manifest


ERROR = "cannot read ROOT file {path} (sample ttbar__nominal): "


@pytest.mark.slow
def test_serial_run_ends_with_the_step_s_one_line_error(
    not_root_manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    for name in ("notebooks", "inputs"):
        shutil.copytree(REPO / name, workspace / name)
    shutil.copy(REPO / "reana.yaml", workspace / "reana.yaml")
    args = ["-p", f"inputs={not_root_manifest}", "-p", "samples=ttbar", "-p", "workers=1"]
    assert cli_main(["run-serial", str(workspace / "reana.yaml"), *args]) == 2
    err = capsys.readouterr().err.splitlines()
    bad = not_root_manifest.parent / "data" / "notes.root"
    assert err[-1].startswith(
        f"agc run-serial: error: step 2/{len(WORKFLOW_STEPS)} 'histograms' (command 2/2): "
        + ERROR.format(path=bad)
    )
    assert err[-2].endswith("its log: " + str(workspace / "outputs" / "logs" / "histograms.log"))
    assert not any("Traceback" in line or "IPKernelApp" in line for line in err)
    log = (workspace / "outputs" / "logs" / "histograms.log").read_text()
    assert "PapermillExecutionError" in log
    assert "IPKernelApp" not in log


@pytest.mark.slow
def test_cwl_run_ends_with_the_failed_step_and_its_one_line_error(
    not_root_manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    overrides = {"inputs": str(not_root_manifest), "samples": "ttbar", "workers": "1"}
    with pytest.raises(AGCError) as info:
        run_cwl(overrides, workdir=REPO, outdir=tmp_path / "out" / "cwl")
    bad = not_root_manifest.parent / "data" / "notes.root"
    assert str(info.value).startswith(
        "CWL workflow workflow.cwl, step 'histograms': " + ERROR.format(path=bad)
    )
    assert "\n" not in str(info.value)
    assert "Traceback" not in capsys.readouterr().err
    log = (tmp_path / "out" / "logs" / "cwl.log").read_text()
    assert "permanentFail" in log
    assert "IPKernelApp" not in log


def test_snakemake_run_ends_with_the_failed_rule_and_its_one_line_error(
    not_root_manifest: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if not SNAKEMAKE.exists():
        pytest.fail(f"{SNAKEMAKE} missing: create it with `make snakemake`")
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    for name in ("workflow", "notebooks", "inputs"):
        shutil.copytree(REPO / name, workspace / name)
    monkeypatch.chdir(workspace)
    args = ["-p", f"inputs={not_root_manifest}", "-p", "samples=ttbar", "-p", "workers=1"]
    assert cli_main(["run-snakemake", "--snakemake", str(SNAKEMAKE), *args]) == 2
    err = capsys.readouterr().err.splitlines()
    bad = not_root_manifest.parent / "data" / "notes.root"
    assert err[-1].startswith(
        "agc run-snakemake: error: Snakemake workflow, rule 'histograms': " + ERROR.format(path=bad)
    )
    assert err[-2].endswith("its log: outputs/logs/snakemake.log")
    assert not any("Traceback" in line or "IPKernelApp" in line for line in err)
    log = (workspace / "outputs" / "logs" / "snakemake.log").read_text()
    assert "Error in rule histograms" in log
    assert "PapermillExecutionError" in log
    assert "IPKernelApp" not in log
