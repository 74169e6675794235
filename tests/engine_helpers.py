"""The serial workflow's run that the other engines' runs are compared with (fixture
``serial_reference`` in tests/scenarios/conftest.py)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from agc.workflow.runners import SerialRun, run_serial

REPO = Path(__file__).resolve().parents[1]
SERIAL = REPO / "reana.yaml"


@dataclass(frozen=True)
class EngineReference:
    """A finished serial run: its ``overrides`` (``-p name=value``, which every engine compared
    with it takes too), its ``outputs`` folder and the runner's record ``run``."""

    overrides: dict[str, str]
    outputs: Path
    run: SerialRun


def run_serial_reference(manifest: Path, folder: Path, use_inference: bool) -> EngineReference:
    """Every step of reana.yaml in a REANA-like workspace ``folder / "workspace"`` (the spec's
    inputs, nothing else) on the dataset of ``manifest``: one file per sample, the iterative
    executor (equality across executors is tested in tests/processing/test_histograms.py and
    tests/scenarios/test_reproducibility.py), with or without the ML extension."""
    overrides = {
        "inputs": str(manifest.resolve()),
        "max_files": "1",
        "executor": "iterative",
        "use_inference": str(use_inference).lower(),
    }
    workspace = folder / "workspace"
    workspace.mkdir()
    for name in ("notebooks", "inputs"):
        shutil.copytree(REPO / name, workspace / name)
    shutil.copy(SERIAL, workspace / SERIAL.name)
    run = run_serial(workspace / SERIAL.name, overrides)
    return EngineReference(overrides=overrides, outputs=workspace / "outputs", run=run)
