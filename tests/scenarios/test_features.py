"""The Gherkin feature files of ``reana-client test`` (REANA >= 0.95), run here by reana-commons'
own parser (agc.workflow.featurecheck, in .venv-reana-dask) against local runs.

Which file asserts what, and against which run:

- tests/reana/workflow-run.feature (every spec's ``tests.files``): what holds for any finished
  run, whatever its parameters -- finished, its products present, the fit converged, time
  bounds. Run here against the serial run on the small dataset (``serial_reference``, made
  once per session and shared with the engine comparisons).
- tests/reana/default-results.feature (every spec's ``tests.files``): the sha256 of the
  bit-identical outputs of the embedded default with the default parameters, i.e. of `make run`
  and of a REANA run without ``-p``. Checked against the full embedded default's histograms and
  workspace made by the test fixtures (``make test-full``); ``make reana-test`` runs both files
  against ``make run``'s workspace.
- test_features/small-run.feature: the same checksum steps for the small run, its regression
  reference (a feature file of its own: its bytes are not the default's).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from engine_helpers import EngineReference

REPO = Path(__file__).resolve().parents[2]
SPECS = ("reana.yaml", "reana-cwl.yaml", "reana-snakemake.yaml", "reana-dask.yaml")
FEATURES = ("tests/reana/workflow-run.feature", "tests/reana/default-results.feature")
SMALL_RUN = Path(__file__).parent / "test_features" / "small-run.feature"
PARSER = REPO / ".venv-reana-dask" / "bin" / "python"
#: ``the sha256 checksum of the file <name> should be <hex>``
_CHECKSUM = re.compile(r"the sha256 checksum of the file (\S+) should be ([0-9a-f]{64})$")


def checksums(feature: Path) -> dict[str, str]:
    """``{file name: sha256}`` of the checksum steps of ``feature``."""
    found = {}
    for line in feature.read_text(encoding="utf-8").splitlines():
        if match := _CHECKSUM.search(line.strip()):
            found[match[1]] = match[2]
    return found


def run_features(workspace: Path, *features: Path) -> list[dict]:
    """The results of reana-commons' parser on ``features`` against the run in ``workspace``."""
    if not PARSER.exists():
        pytest.fail(f"{PARSER} missing: create it with `make reana-dask`")
    command = [str(PARSER), "-m", "agc.workflow.featurecheck", "--json"]
    result = subprocess.run(
        [*command, "--workspace", str(workspace), *map(str, features)],
        env=dict(os.environ, PYTHONPATH=str(REPO / "code")),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.startswith("["), result.stderr
    return json.loads(result.stdout)


def test_every_spec_lists_the_feature_files() -> None:
    for name in SPECS:
        spec = yaml.safe_load((REPO / name).read_text(encoding="utf-8"))
        assert spec["tests"]["files"] == list(FEATURES), name
    for name in FEATURES:
        assert (REPO / name).is_file(), name


def test_the_checksums_are_of_bit_identical_outputs_only() -> None:
    """histograms.root, cutflow.json and workspace.json reproduce bit for bit on every machine;
    fit_results.json does not (docs/reproducibility.md), so no feature file checks its bytes."""
    for feature in (REPO / FEATURES[1], SMALL_RUN):
        assert sorted(checksums(feature)) == [
            "outputs/cutflow.json",
            "outputs/histograms.root",
            "outputs/workspace.json",
        ], feature


@pytest.mark.slow
def test_the_feature_files_pass_against_the_serial_run(serial_reference: EngineReference) -> None:
    results = run_features(serial_reference.workspace, REPO / FEATURES[0], SMALL_RUN)
    print("\n" + "\n".join(f"{r['result']:<8}{r['feature']}: {r['scenario']}" for r in results))
    assert [r["scenario"] for r in results] == [
        "The workflow finishes",
        "The run leaves its products in the workspace",
        "The fit converges",
        "The run takes the time it should",
        "The bit-identical outputs have their checksums",
    ]
    failed = [r for r in results if r["result"] != "passed"]
    assert not failed, failed


def test_the_default_checksums_are_the_embedded_default_s(
    embedded_histograms: Path, tmp_path: Path
) -> None:
    """default-results.feature against the full embedded default's histograms (the fixture's
    run, futures executor) and the workspace built from them, as `make run` builds it."""
    from agc.stats.model import build_workspace

    workspace = tmp_path / "workspace.json"
    build_workspace(embedded_histograms, workspace, config=REPO / "inputs" / "cabinetry.yaml")
    made = {
        "outputs/histograms.root": embedded_histograms,
        "outputs/cutflow.json": embedded_histograms.parent / "cutflow.json",
        "outputs/workspace.json": workspace,
    }
    expected = checksums(REPO / FEATURES[1])
    for name, path in made.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == expected[name], name
