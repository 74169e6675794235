"""The serial workflow's run that the other engines' runs are compared with (fixture
``serial_reference`` in tests/scenarios/conftest.py), and the engine workspace it runs in."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from agc.workflow.runners import CWL_JOB, SerialRun, run_serial

REPO = Path(__file__).resolve().parents[1]
SERIAL = REPO / "reana.yaml"
MODEL_CONFIG = Path("inputs") / "cabinetry.yaml"
#: The jobs of every workflow engine, in the serial workflow's order (the Snakefile's rules but
#: ``all``, which only collects).
WORKFLOW_STEPS = [
    "dataset",
    "histograms",
    "merge",
    "model",
    "fit",
    "ml",
    "reinterpret",
    "optimise",
    "report",
]
#: The systematics of the engine comparison's model, one of each kind of inputs/cabinetry.yaml:
#: a symmetrised variation sample of ttbar, a symmetrised per-event jet variation of every
#: sample, an up/down event weight, a variation of one background, a normalisation.
ENGINE_SYSTEMATICS = (
    "ME variation",
    "Jet energy scale",
    "b-tag NP 1",
    "W+jets scale variations",
    "Luminosity",
)


@dataclass(frozen=True)
class EngineReference:
    """A finished serial run: its ``overrides`` (``-p name=value``, which every engine compared
    with it takes too), its ``workspace`` (the spec's inputs, with the model of
    :func:`write_engine_model` when ``small_model``), its ``outputs`` folder and the runner's
    record ``run``."""

    overrides: dict[str, str]
    workspace: Path
    outputs: Path
    run: SerialRun


def write_engine_model(inputs: Path) -> Path:
    """Replace ``inputs / "cabinetry.yaml"`` with the same measurement (regions, samples, POI)
    restricted to :data:`ENGINE_SYSTEMATICS` and without the per-bin MC statistical
    uncertainties (``DisableStaterror``): 6 parameters instead of 34, so the fit step's impact
    ranking (4 fits per nuisance parameter) on the 1 % dataset's sparse templates costs 20 fits
    instead of 132. Every engine of a comparison runs this same file."""
    path = inputs / MODEL_CONFIG.name
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["Systematics"] = [s for s in config["Systematics"] if s["Name"] in ENGINE_SYSTEMATICS]
    assert [s["Name"] for s in config["Systematics"]] == list(ENGINE_SYSTEMATICS)
    for sample in config["Samples"]:
        if not sample.get("Data", False):
            sample["DisableStaterror"] = True
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def engine_workspace(folder: Path, small_model: bool) -> Path:
    """A REANA-like workspace ``folder / "workspace"``: what reana.yaml's and reana-cwl-job.yaml's
    runs read (notebooks/, inputs/, workflow/, both specifications), nothing else; with
    ``small_model`` its inputs/cabinetry.yaml is :func:`write_engine_model`'s."""
    workspace = folder / "workspace"
    workspace.mkdir()
    for name in ("notebooks", "inputs", "workflow"):
        shutil.copytree(REPO / name, workspace / name)
    for name in (SERIAL.name, CWL_JOB):
        shutil.copy(REPO / name, workspace / name)
    if small_model:
        write_engine_model(workspace / "inputs")
    return workspace


def serial_spec(folder: Path, steps: list[dict]) -> Path:
    """A minimal serial reana.yaml with ``steps`` in ``folder``."""
    spec = {
        "version": "0.9.4",
        "inputs": {"parameters": {}},
        "workflow": {"type": "serial", "specification": {"steps": steps}},
    }
    path = folder / "reana.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def run_serial_reference(
    manifest: Path, folder: Path, use_inference: bool, small_model: bool = False
) -> EngineReference:
    """Every step of reana.yaml in the workspace of :func:`engine_workspace` on the dataset of
    ``manifest``: one file per sample, the iterative executor (equality across executors is
    tested in tests/processing/test_histograms.py and tests/scenarios/test_reproducibility.py),
    with or without the ML extension, with the default model or the small one."""
    overrides = {
        "inputs": str(manifest.resolve()),
        "max_files": "1",
        "executor": "iterative",
        "use_inference": str(use_inference).lower(),
    }
    workspace = engine_workspace(folder, small_model)
    run = run_serial(workspace / SERIAL.name, overrides)
    return EngineReference(
        overrides=overrides, workspace=workspace, outputs=workspace / "outputs", run=run
    )
