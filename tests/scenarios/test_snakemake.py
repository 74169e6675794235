"""The Snakemake workflow: reana-snakemake.yaml + workflow/Snakefile (+ workflow/config.yaml).

Fast checks of the specification as REANA reads it (reana-commons' own Snakefile loader, in
.venv-reana): the parameters and defaults of the schema, one image, REANA resources per rule,
the notebooks' parameters; `reana-client validate` without warnings; bad values stopped by the
first job; reana-commons 0.95's validation (Snakemake 9). Then a slow run with Snakemake 9.27.0
(.venv-snakemake9, REANA 0.95; the one with 7.32.4, .venv-snakemake, REANA 0.9, in make
test-full) on the small dataset, up to the workspace, whose outputs must agree bit for bit with the serial workflow's run
(reana.yaml, ``serial_reference`` in conftest.py, made once; the CWL workflow is compared with it
in test_workflow.py).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import papermill
import pytest
import yaml
from engine_helpers import WORKFLOW_STEPS, EngineReference

from agc.core.parameters import WORKFLOW_PARAMETERS
from agc.core.parameters import defaults as schema_defaults
from agc.workflow.runners import runner_environment

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "reana-snakemake.yaml"
SERIAL = REPO / "reana.yaml"
SNAKEFILE = REPO / "workflow" / "Snakefile"
CONFIG = REPO / "workflow" / "config.yaml"
SNAKEMAKE = REPO / ".venv-snakemake" / "bin" / "snakemake"
#: Each Snakemake the workflow runs under: version -> (its environment, the make target making it).
#: 7.32.4 is REANA 0.9's engine, 9.27.0 REANA 0.95's.
SNAKEMAKES = {
    "7.32.4": (REPO / ".venv-snakemake", "snakemake"),
    "9.27.0": (REPO / ".venv-snakemake9", "snakemake9"),
}
#: The Snakemake whose end-to-end run make test runs; the runs under the others repeat it in
#: make test-full (CI's own leg).
NEWEST_SNAKEMAKE = "9.27.0"
REANA_VENV = REPO / ".venv-reana"
#: reana-commons 0.95's validation of a submitted specification (environment/validate-reana-dask.py).
VALIDATOR = REPO / "environment" / "validate-reana-dask.py"
#: What Snakemake itself logs during `reana-client validate`'s dry run, which reana-client 0.9.6
#: echoes with a "[WARNING]" prefix for any Snakefile (not a finding about the specification;
#: "Nothing to be done" when a finished run's outputs are in the repository).
SNAKEMAKE_LOG_ECHO = re.compile(
    r"^\[WARNING\] (Building DAG of jobs\.\.\.|Job stats:"
    r"|Nothing to be done \(all requested files are present and up to date\)\.)$"
)


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _require(path: Path, make_target: str) -> Path:
    if not path.exists():
        pytest.fail(f"{path} missing: create it with `make {make_target}`")
    return path


def _upload(target: Path) -> Path:
    """What `reana-client upload` sends for reana-snakemake.yaml (its inputs' directories and
    files, and the spec), copied into ``target``."""
    target.mkdir(exist_ok=True)
    inputs = _yaml(SPEC)["inputs"]
    for name in inputs["directories"]:
        shutil.copytree(
            REPO / name, target / name, ignore=shutil.ignore_patterns("__pycache__", ".*")
        )
    for name in [*inputs["files"], SPEC.name]:
        shutil.copy2(REPO / name, target / name)
    return target


@pytest.fixture(scope="module")
def uploaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The upload in a fresh folder, as REANA validates and runs it in a new workspace."""
    return _upload(tmp_path_factory.mktemp("upload"))


@pytest.fixture(scope="module")
def reana_steps(uploaded: Path) -> dict[str, dict[str, Any]]:
    """The rules as REANA reads the Snakefile (reana_commons.snakemake.snakemake_load, the
    loader of `reana-client validate` and of the server), by name."""
    python = _require(REANA_VENV / "bin" / "python", "reana-client")
    code = (
        "import json, sys\n"
        "from reana_commons.snakemake import snakemake_load\n"
        "spec = snakemake_load('workflow/Snakefile', input='workflow/config.yaml', workdir='.')\n"
        # reana-client sends the loaded specification as JSON (json.dumps, no default)
        "print('STEPS=' + json.dumps(spec['steps']))\n"
    )
    env = dict(os.environ, PATH=os.pathsep.join([str(python.parent), os.environ["PATH"]]))
    result = subprocess.run(
        [str(python), "-c", code],
        cwd=uploaded,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("STEPS="))
    return {step["name"]: step for step in json.loads(line.removeprefix("STEPS="))}


# --------------------------------------------------------------------------- specification


def test_spec_points_at_the_snakefile_and_its_configuration() -> None:
    spec = _yaml(SPEC)
    assert spec["workflow"] == {"type": "snakemake", "file": "workflow/Snakefile"}
    assert spec["inputs"]["parameters"] == {"input": "workflow/config.yaml"}
    for name in spec["inputs"]["files"]:
        assert (REPO / name).is_file(), name
    for name in spec["inputs"]["directories"]:
        assert (REPO / name).is_dir(), name
    # The jobs share the workspace and run the uploaded code, as the serial steps do.
    assert set(_yaml(SERIAL)["inputs"]["directories"]) | {"workflow"} == set(
        spec["inputs"]["directories"]
    )
    assert spec["outputs"] == _yaml(SERIAL)["outputs"]


def test_config_holds_the_schema_s_parameters_and_defaults() -> None:
    config = _yaml(CONFIG)
    assert list(config) == list(WORKFLOW_PARAMETERS)
    assert config == schema_defaults()
    listed = re.search(r"^PARAMETERS = (\[.*?\])$", SNAKEFILE.read_text(), re.MULTILINE | re.DOTALL)
    assert listed is not None
    assert yaml.safe_load(listed.group(1)) == list(WORKFLOW_PARAMETERS)


def test_every_rule_has_the_image_and_reana_resources(reana_steps: dict[str, Any]) -> None:
    assert sorted(reana_steps) == sorted(WORKFLOW_STEPS)
    image = _yaml(SERIAL)["workflow"]["specification"]["steps"][0]["environment"]
    serial = {s["name"]: s for s in _yaml(SERIAL)["workflow"]["specification"]["steps"]}
    for name, step in reana_steps.items():
        assert step["environment"] == image, name
        assert step["kubernetes_memory_limit"] == serial[name]["kubernetes_memory_limit"], name
        (command,) = step["commands"]
        assert "PYTHONPATH=code" in command or "{PAPERMILL}" in command, name
    text = SNAKEFILE.read_text(encoding="utf-8")
    assert (
        'PAPERMILL = "PYTHONPATH=code papermill -k python3 --engine agc-nbclient --no-progress-bar"'
        in text
    )
    for name, step in serial.items():
        block = text[text.index(f" {name}:\n") :]
        timeout = re.search(r"kubernetes_job_timeout=(\d+)", block)
        assert timeout is not None
        assert int(timeout.group(1)) == step["kubernetes_job_timeout"], name


def test_papermill_commands_pass_exactly_the_notebook_parameters(
    reana_steps: dict[str, Any],
) -> None:
    checked = 0
    for name, step in reana_steps.items():
        tokens = shlex.split(step["commands"][0])
        if "{PAPERMILL}" not in tokens:
            continue
        start = tokens.index("{PAPERMILL}")
        notebook = tokens[start + 1]
        flags = {
            tokens[i + 1]: (tokens[i], tokens[i + 2])
            for i in range(start, len(tokens) - 2)
            if tokens[i] in {"-p", "-r"}
        }
        expected = set(papermill.inspect_notebook(str(REPO / notebook)))
        assert set(flags) == expected, f"rule {name} ({notebook})"
        for parameter, (flag, value) in flags.items():
            kind = type(schema_defaults()[parameter])
            assert flag == ("-r" if kind is str else "-p"), f"{name}: {parameter}"
            if parameter == "samples" and name == "histograms":
                assert value == "{wildcards.sample}"
            else:
                assert value == f"{{params.{parameter}}}", f"{name}: {parameter} = {value}"
        checked += 1
    assert checked == 7


def _validate(workspace: Path) -> subprocess.CompletedProcess[str]:
    """`reana-client validate -f reana-snakemake.yaml` in ``workspace``."""
    client = _require(REANA_VENV / "bin" / "reana-client", "reana-client")
    env = dict(os.environ, PATH=os.pathsep.join([str(client.parent), os.environ["PATH"]]))
    return subprocess.run(
        [str(client), "validate", "-f", SPEC.name],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_reana_client_validates_without_warnings(uploaded: Path) -> None:
    result = _validate(uploaded)
    output = result.stdout + result.stderr
    print(output)
    assert result.returncode == 0, output
    assert "Valid REANA specification file" in output
    assert "Workflow parameters and commands appear valid" in output
    findings = [
        line
        for line in output.splitlines()
        if re.search(r"WARNING|ERROR|Warning", line) and not SNAKEMAKE_LOG_ECHO.match(line)
    ]
    assert not findings, "\n".join(findings)


#: Two samples of a local run, and the outputs each workflow leaves under outputs/ (in the order
#: its steps write them; a name ending in / is a folder).
RUN_SAMPLES = ("ttbar__nominal", "wjets__nominal")
#: What both workflows write after the histograms, in order.
AFTER_HISTOGRAMS = (
    "histograms.root",
    "cutflow.json",
    "notebooks/01_merge.ipynb",
    "workspace.json",
    "notebooks/02_statistical_model.ipynb",
    "fit_results.json",
    "plots/",
    "notebooks/03_fit.ipynb",
    "ml/",
    "notebooks/04_ml.ipynb",
    "reinterpretation/",
    "optimise/",
    "notebooks/05_optimise.ipynb",
    "report.html",
    "provenance.json",
)
SERIAL_RUN_OUTPUTS = (
    "dataset.json",
    "notebooks/00_dataset.ipynb",
    *(f"samples/{sample}" for sample in RUN_SAMPLES),
    *(f"partial/{sample}.partial.json" for sample in RUN_SAMPLES),
    "notebooks/01_histograms.ipynb",
    *AFTER_HISTOGRAMS,
)
SNAKEMAKE_RUN_OUTPUTS = (
    "jobs/dataset.done",
    "dataset.json",
    "notebooks/00_dataset.ipynb",
    *(f"samples/{sample}" for sample in RUN_SAMPLES),
    *(f"jobs/{sample}/partial/" for sample in RUN_SAMPLES),
    *(f"notebooks/01_histograms__{sample}.ipynb" for sample in RUN_SAMPLES),
    *AFTER_HISTOGRAMS,
)


def _leave_outputs(workspace: Path, names: tuple[str, ...]) -> None:
    """Create ``outputs/<name>`` for each name, each one second newer than the one before and
    than every input (as a run writes them)."""
    start = time.time() + 10
    for index, name in enumerate(names):
        path = workspace / "outputs" / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("{}\n", encoding="utf-8")
        os.utime(path, (start + index, start + index))


@pytest.mark.parametrize(
    "left",
    [SERIAL_RUN_OUTPUTS[:3], SERIAL_RUN_OUTPUTS, SNAKEMAKE_RUN_OUTPUTS],
    ids=["first-serial-step", "serial-run", "snakemake-run"],
)
def test_reana_client_validates_in_place_after_a_local_run(
    tmp_path: Path, left: tuple[str, ...]
) -> None:
    """The outputs a local run leaves (outputs/notebooks/ among them) do not make the dataset
    checkpoint look done while the jobs after it still have to run, which reana-commons 0.9's
    DAG loader cannot update ("Something went wrong")."""
    workspace = _upload(tmp_path / "checkout")
    _leave_outputs(workspace, left)
    result = _validate(workspace)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Workflow parameters and commands appear valid" in output


def test_reana_commons_095_validates_the_spec_with_snakemake_9(uploaded: Path) -> None:
    """REANA 0.95's validation of the specification reana-client 0.95 submits: the Snakefile
    loaded by its loader with Snakemake 9.27.0 (.venv-snakemake9), then checked as a server
    checks it (schema, parameters, JSON form, inputs)."""
    venv, target = SNAKEMAKES["9.27.0"]
    python = _require(venv / "bin" / "python", target)
    env = dict(os.environ, PATH=os.pathsep.join([str(python.parent), os.environ["PATH"]]))
    result = subprocess.run(
        [str(python), str(VALIDATOR), SPEC.name],
        cwd=uploaded,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "Valid REANA specification file: reana-snakemake.yaml (reana-commons 0.95" in result.stdout
    )


def _snakemake(
    workspace: Path, *args: str, program: Path = SNAKEMAKE
) -> subprocess.CompletedProcess[str]:
    command = [
        str(_require(program, "snakemake")),
        "--snakefile",
        "workflow/Snakefile",
        "--cores",
        "2",
        *args,
    ]
    return subprocess.run(
        command,
        cwd=workspace,
        env=runner_environment("snakemake-local"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )


def _workspace(folder: Path, *names: str) -> Path:
    """A REANA-like workspace: the spec's inputs the run needs, nothing else."""
    folder.mkdir()
    for name in names:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, folder / name)
        else:
            shutil.copy(source, folder / name)
    return folder


def test_without_the_configuration_the_workflow_says_what_to_pass(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws", "workflow", "notebooks", "inputs")
    result = _snakemake(workspace, "--dry-run")
    assert result.returncode != 0
    assert "--configfile workflow/config.yaml" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [("executor=bogus", "accepted: iterative, futures, dask"), ("samples=ttbar;id", "'samples'")],
)
def test_the_first_job_refuses_bad_values(tmp_path: Path, value: str, message: str) -> None:
    workspace = _workspace(tmp_path / "ws", "workflow", "notebooks", "inputs")
    result = _snakemake(workspace, "--configfile", "workflow/config.yaml", "--config", value)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert message in output
    assert "Error in rule dataset" in output
    assert not (workspace / "outputs" / "dataset.json").exists()
    assert not (workspace / "outputs" / "jobs").exists(), "no histogram job may start"


# --------------------------------------------------------------------------- end to end (slow)


@pytest.mark.slow
@pytest.mark.parametrize(
    "version",
    [v if v == NEWEST_SNAKEMAKE else pytest.param(v, marks=pytest.mark.full) for v in SNAKEMAKES],
)
def test_snakemake_and_serial_workflows_agree_bit_for_bit(
    serial_reference: EngineReference, tmp_path: Path, version: str
) -> None:
    """The Snakemake workflow up to the workspace (the fit reads nothing else: its bytes follow)
    under each Snakemake of :data:`SNAKEMAKES`, with the serial reference run's parameters and
    inputs (the small dataset, one file per sample, the iterative executor, the small model);
    its outputs against the serial run's (the one run of the session)."""
    venv, target = SNAKEMAKES[version]
    program = _require(venv / "bin" / "snakemake", target)
    shown = subprocess.run([str(program), "--version"], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == version
    snake_ws = _workspace(tmp_path / "snakemake", "notebooks", "workflow")
    shutil.copytree(serial_reference.workspace / "inputs", snake_ws / "inputs")  # its model
    t0 = time.perf_counter()
    config = [f"{name}={value}" for name, value in serial_reference.overrides.items()]
    # the target first: --config takes every word after it
    target = "outputs/workspace.json"
    result = _snakemake(
        snake_ws,
        target,
        "--configfile",
        "workflow/config.yaml",
        "--config",
        *config,
        program=program,
    )
    t_snake = time.perf_counter() - t0
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    print(
        f"\nserial workflow: {serial_reference.run.seconds:.1f} s; "
        f"Snakemake {version}: {t_snake:.1f} s"
    )
    # The dataset checkpoint's target (touched by Snakemake) marks it done: nothing reruns.
    again = _snakemake(
        snake_ws,
        target,
        "--dry-run",
        "--configfile",
        "workflow/config.yaml",
        "--config",
        *config,
        program=program,
    )
    assert "Nothing to be done" in again.stdout + again.stderr, again.stdout + again.stderr

    serial_out, snake_out = serial_reference.outputs, snake_ws / "outputs"
    samples = [
        row["sample"] for row in json.loads((serial_out / "dataset.json").read_text())["samples"]
    ]
    assert sorted(p.name for p in (snake_out / "notebooks").glob("01_histograms__*")) == sorted(
        f"01_histograms__{sample}.ipynb" for sample in samples
    ), "one histogram job per sample"
    assert sorted(p.name for p in (snake_out / "partial").iterdir()) == sorted(
        p.name for p in (serial_out / "partial").iterdir()
    )
    for name in ("histograms.root", "cutflow.json", "workspace.json", "dataset.json"):
        assert (serial_out / name).read_bytes() == (snake_out / name).read_bytes(), (
            f"{name} differs between the serial and Snakemake workflows"
        )
