"""The papermill engine of the workflows: registered under the name the specs use, papermill's
nbclient engine with the kernel stopped at once after the last cell, and named by every
papermill call of every workflow."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import papermill.engines
import yaml

from agc.workflow.notebookengine import SHUTDOWN, AGCEngine

ROOT = Path(__file__).resolve().parents[2]


def test_the_engine_is_registered_as_agc_nbclient() -> None:
    assert papermill.engines.papermill_engines.get_engine("agc-nbclient") is AGCEngine
    assert issubclass(AGCEngine, papermill.engines.NBClientEngine)


class _Client:
    """Stands in for papermill's notebook client: records its settings."""

    seen: ClassVar[dict] = {}

    def __init__(self, nb_man, **kwargs) -> None:
        _Client.seen = kwargs

    def execute(self) -> str:
        return "executed"


def test_the_kernel_is_stopped_at_once_unless_the_caller_says_otherwise(monkeypatch) -> None:
    monkeypatch.setattr(papermill.engines, "PapermillNotebookClient", _Client)
    assert AGCEngine.execute_managed_notebook(None, "python3") == "executed"
    assert _Client.seen["shutdown_kernel"] == SHUTDOWN == "immediate"
    assert _Client.seen["kernel_name"] == "python3"
    AGCEngine.execute_managed_notebook(None, "python3", shutdown_kernel="graceful")
    assert _Client.seen["shutdown_kernel"] == "graceful"


def _papermill_calls() -> dict[str, list[str]]:
    """Every papermill call of the serial specs, the Snakefile and the CWL tools, by file."""
    calls: dict[str, list[str]] = {}
    for name in ("reana.yaml", "reana-dask.yaml"):
        steps = yaml.safe_load((ROOT / name).read_text())["workflow"]["specification"]["steps"]
        commands = [c for s in steps for c in s["commands"] if "papermill " in c]
        calls[name] = [c[c.index("papermill ") :] for c in commands]
    snakefile = (ROOT / "workflow" / "Snakefile").read_text()
    calls["Snakefile"] = re.findall(r'^PAPERMILL = "(.*)"$', snakefile, flags=re.MULTILINE)
    for tool in sorted((ROOT / "workflow").glob("*.cwl")):
        arguments = yaml.safe_load(tool.read_text()).get("arguments", [])
        words = [a["valueFrom"] if isinstance(a, dict) else str(a) for a in arguments]
        if "papermill" in words:
            calls[tool.name] = [" ".join(words[words.index("papermill") :])]
    return calls


def test_every_workflow_runs_its_notebooks_with_the_engine() -> None:
    calls = _papermill_calls()
    cwl = [name for name in calls if name.endswith(".cwl")]
    assert len(cwl) == 7  # the CWL tools that run a notebook
    assert len(calls["reana.yaml"]) == len(calls["reana-dask.yaml"]) == 7
    assert len(calls["Snakefile"]) == 1
    for file, commands in calls.items():
        for command in commands:
            assert "-k python3 --engine agc-nbclient " in command, (file, command)
