"""The REANA workflows: reana.yaml (Serial), reana-cwl.yaml + workflow/*.cwl (CWL) and their local runners.

Fast checks of the specifications (expansion as REANA does it, inputs present, parameter names
identical everywhere, cwltool and reana-client validation) and of agc.report.build (the runners'
unit tests are in tests/workflow/test_runners.py), then a
slow end-to-end run of the CWL workflow on the small dataset (one file per sample, the small
model of engine_helpers.write_engine_model) whose outputs must agree bit for bit with the serial
workflow's run (``serial_reference``, conftest.py). The same agreement with the default model and
the ML extension on the embedded default, in and outside the image, is checked by
test_container_runs.py (``make test-container``).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from string import Template
from typing import Any

import nbformat
import numpy as np
import papermill
import pytest
import uproot
import yaml
from engine_helpers import WORKFLOW_STEPS, EngineReference

from agc.core.errors import AGCError
from agc.core.fileio import fresh_directory
from agc.core.parameters import WORKFLOW_PARAMETERS, default, help_text, json_type
from agc.core.parameters import defaults as schema_defaults
from agc.dataset.stage import prepare_dataset
from agc.report.build import build_report
from agc.report.display import cutflow_markdown, fit_markdown
from agc.stats.results import Estimate, FitSummary, ParameterTable
from agc.workflow.runners import CWL_JOB, CWL_WORKFLOW, run_cwl

REPO = Path(__file__).resolve().parents[2]
SERIAL = REPO / "reana.yaml"
CWL = REPO / "reana-cwl.yaml"
JOB = REPO / CWL_JOB
WORKFLOW = REPO / CWL_WORKFLOW
REANA_VENV = REPO / ".venv-reana"
IMAGE_RE = re.compile(r"^docker\.io/[a-z0-9._-]+/[a-z0-9._-]+:\d+\.\d+\.\d+$")


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _serial() -> dict[str, Any]:
    return _yaml(SERIAL)


def _parameters() -> dict[str, Any]:
    return _serial()["inputs"]["parameters"]


def _job_scalars() -> dict[str, Any]:
    return {k: v for k, v in _yaml(JOB).items() if not isinstance(v, dict | list)}


def _papermill_args(tokens: list[str]) -> tuple[str, set[str]]:
    """(notebook file name, parameter names) of a papermill command line given as tokens."""
    start = tokens.index("papermill")
    notebook = Path(tokens[start + 1]).name
    names = {tokens[i + 1] for i in range(start, len(tokens) - 1) if tokens[i] in {"-p", "-r"}}
    return notebook, names


def _notebook_parameters(name: str) -> set[str]:
    return set(papermill.inspect_notebook(str(REPO / "notebooks" / name)))


def _tool_tokens(tool: dict[str, Any], notebook: str | None = None) -> list[str]:
    """The tool's argument tokens; its staged notebook ``$(inputs.ipynb.basename)`` is shown as
    ``notebook`` (the file the workflow wires to it), or as the tool's own notebook name."""
    if notebook is None:
        notebook = _tool_notebook(tool)
    tokens = []
    for item in tool.get("arguments", []):
        value = str(item["valueFrom"] if isinstance(item, dict) else item)
        if value == "$(inputs.ipynb.basename)":
            tokens.append(notebook)
        else:  # "-p use_inference $(inputs.use_inference)": one unquoted argument, three words
            tokens.extend(value.split())
    return tokens


def _tool_notebook(tool: dict[str, Any]) -> str:
    """The notebook the workflow wires to ``tool``'s ``ipynb`` input (via the job file)."""
    job = _yaml(JOB)
    for step in _yaml(WORKFLOW)["steps"].values():
        if _yaml(WORKFLOW.parent / step["run"]) == tool and "ipynb" in step["in"]:
            return Path(job[step["in"]["ipynb"]]["location"]).name
    return "-"


# --------------------------------------------------------------------------- serial spec


def test_every_serial_command_expands_with_the_declared_parameters() -> None:
    spec = _serial()
    params = _parameters()
    for step in spec["workflow"]["specification"]["steps"]:
        for command in step["commands"]:
            expanded = Template(command).substitute(params)  # what REANA's serial engine does
            # No '$' left for bash but the first command's reference to its own text.
            rest = expanded.replace('"$BASH_EXECUTION_STRING"', "")
            assert "$" not in rest, f"step {step['name']}: unexpanded '$' in {expanded!r}"
            assert "${" in command, (
                "parameters are written ${name}: REANA's validator only sees that form"
            )


def test_serial_steps_environment_and_resources() -> None:
    steps = _serial()["workflow"]["specification"]["steps"]
    assert [s["name"] for s in steps] == WORKFLOW_STEPS
    images = {s["environment"] for s in steps}
    assert len(images) == 1, f"one image for every step, got {images}"
    (image,) = images
    assert IMAGE_RE.match(image), f"explicit version tag (never latest): {image}"
    for step in steps:
        assert re.fullmatch(r"\d+(Mi|Gi)", step["kubernetes_memory_limit"]), step["name"]
        assert isinstance(step["kubernetes_job_timeout"], int)
        assert step["kubernetes_job_timeout"] > 0


def test_serial_notebook_steps_pass_exactly_the_notebook_parameters() -> None:
    for step in _serial()["workflow"]["specification"]["steps"]:
        for command in step["commands"]:
            tokens = shlex.split(command)
            if "papermill" not in tokens:
                continue
            notebook, names = _papermill_args(tokens)
            assert names == _notebook_parameters(notebook), f"step {step['name']} ({notebook})"
            assert f"${{outdir}}/notebooks/{notebook}" in command, "the executed notebook is kept"


@pytest.mark.parametrize("spec", [SERIAL, CWL], ids=lambda p: p.name)
def test_spec_inputs_exist(spec: Path) -> None:
    inputs = _yaml(spec)["inputs"]
    for name in inputs.get("files", []):
        assert (REPO / name).is_file(), f"{spec.name}: inputs.files entry missing: {name}"
    for name in inputs.get("directories", []):
        assert (REPO / name).is_dir(), f"{spec.name}: inputs.directories entry missing: {name}"
    for needed in ("inputs", "notebooks"):
        assert needed in inputs["directories"]
    # The serial steps run the uploaded code (PYTHONPATH=code); the CWL tools run the image's.
    assert ("code" in inputs["directories"]) == (spec == SERIAL)
    assert "pyproject.toml" in inputs["files"]


def test_both_specs_declare_the_same_outputs() -> None:
    serial = _serial()["outputs"]
    cwl = _yaml(CWL)["outputs"]
    assert set(cwl["files"]) == set(serial["files"])
    assert set(cwl["directories"]) <= set(serial["directories"])
    for path in serial["files"] + serial["directories"]:
        assert path.startswith(f"{_parameters()['outdir']}/")
    # The CWL workflow's outputs land, by basename, in outputs/ on REANA.
    workflow = _yaml(WORKFLOW)
    cwl_names = set()
    for name, output in workflow["outputs"].items():
        if name == "logs":  # the steps' library log files: diagnostics, not declared outputs
            continue
        step, _, out = output["outputSource"].partition("/")
        tool = _yaml(WORKFLOW.parent / workflow["steps"][step]["run"])
        glob = tool["outputs"][out]["outputBinding"]["glob"]
        cwl_names.add(Path(glob).name)
    assert {Path(p).name for p in cwl["files"] + cwl["directories"]} == cwl_names


def test_cwl_workflow_collects_the_library_log_of_every_step_that_writes_one() -> None:
    """Each stage decorated with ``library_logs_of(step)`` writes ``<outdir>/logs/<step>.log``:
    its CWL tool declares that file as an optional output, and the workflow's ``logs`` output
    collects them all (a CWL step's outdir is discarded after the step)."""
    import inspect

    from agc.workflow import stages

    logged = set(re.findall(r'@library_logs_of\("(\w+)"\)', inspect.getsource(stages)))
    assert logged == {"model", "fit", "ml", "reinterpret"}
    workflow = _yaml(WORKFLOW)
    sources = workflow["outputs"]["logs"]["outputSource"]
    assert sorted(sources) == sorted(f"{step}/log" for step in logged)
    for step in logged:
        assert "log" in workflow["steps"][step]["out"]
        tool = _yaml(WORKFLOW.parent / workflow["steps"][step]["run"])
        log = tool["outputs"]["log"]
        assert log["type"] == "File?"
        assert log["outputBinding"]["glob"] == f"$(inputs.outdir)/logs/{step}.log"


def test_cwl_tools_take_no_directory_inputs_no_directory_listings_nothing_writable() -> None:
    """REANA's CWL engine fails on Directory inputs, Directories in InitialWorkDirRequirement and
    writable entries (REANA's documentation, supported systems): every tool takes Files."""
    for path in sorted(WORKFLOW.parent.glob("*.cwl")):
        document = _yaml(path)
        for name, spec in document["inputs"].items():
            kind = json.dumps(spec["type"] if isinstance(spec, dict) else spec)
            assert "Directory" not in kind, f"{path.name}: input {name} is a Directory"
        listing = (document.get("requirements") or {}).get("InitialWorkDirRequirement", {})
        assert "writable" not in json.dumps(listing), f"{path.name}: a writable entry"
    for name, value in _yaml(JOB).items():
        entries = value if isinstance(value, list) else [value]
        for entry in entries:
            if isinstance(entry, dict):
                assert entry["class"] == "File", f"reana-cwl-job.yaml: {name} is not a File"
                assert (REPO / entry["location"]).is_file(), f"reana-cwl-job.yaml: {name}"


def test_cwl_spec_points_at_the_job_file_and_workflow() -> None:
    spec = _yaml(CWL)
    assert spec["workflow"] == {"type": "cwl", "file": str(CWL_WORKFLOW)}
    assert spec["inputs"]["parameters"] == {"input": CWL_JOB}
    assert JOB.parent == REPO, "the job file sits at the repository root"


# --------------------------------------------------------------------------- parameter names


#: CWL types of the schema's JSON types.
CWL_TYPES = {"string": "string", "integer": "int", "boolean": "boolean"}


def test_reana_yaml_declares_exactly_the_schema_s_parameters_and_defaults() -> None:
    declared = _parameters()
    assert list(declared) == list(WORKFLOW_PARAMETERS), "names (and order) differ from the schema"
    assert declared == schema_defaults(), "reana.yaml inputs.parameters differ from the schema"


def test_cwl_job_file_holds_the_schema_s_defaults() -> None:
    assert _job_scalars() == schema_defaults(), "reana-cwl-job.yaml differs from the schema"
    assert set(_yaml(WORKFLOW)["inputs"]) == set(_yaml(JOB)), "job file and workflow inputs differ"


def test_cwl_workflow_inputs_have_the_schema_s_types_defaults_and_docs() -> None:
    inputs = _yaml(WORKFLOW)["inputs"]
    scalars = {k: v for k, v in inputs.items() if v["type"] not in {"Directory", "File", "File[]"}}
    assert list(scalars) == list(WORKFLOW_PARAMETERS)
    for name, spec in scalars.items():
        assert spec == {
            "type": CWL_TYPES[json_type(name)],
            "default": default(name),
            "doc": help_text(name),
        }, f"workflow.cwl input {name}"


def _papermill_flags(tokens: list[str]) -> dict[str, tuple[str, str]]:
    """name -> (flag, value token) of every -r / -p of a papermill command given as tokens."""
    start = tokens.index("papermill")
    return {
        tokens[i + 1]: (tokens[i], tokens[i + 2])
        for i in range(start, len(tokens) - 2)
        if tokens[i] in {"-p", "-r"}
    }


def _papermill_commands() -> list[tuple[str, list[str]]]:
    """(where, tokens) of every papermill command of reana.yaml and of the CWL tools."""
    found = []
    for step in _serial()["workflow"]["specification"]["steps"]:
        for command in step["commands"]:
            tokens = shlex.split(command)
            if "papermill" in tokens:
                found.append((f"reana.yaml step {step['name']}", tokens))
    for name, step in _yaml(WORKFLOW)["steps"].items():
        tokens = _tool_tokens(_yaml(WORKFLOW.parent / step["run"]))
        if "papermill" in tokens:
            found.append((f"CWL step {name}", tokens))
    return found


def test_papermill_passes_schema_parameters_with_r_for_strings_and_p_otherwise() -> None:
    commands = _papermill_commands()
    assert len(commands) == 14, [where for where, _ in commands]
    for where, tokens in commands:
        for name, (flag, value) in _papermill_flags(tokens).items():
            assert name in WORKFLOW_PARAMETERS, f"{where}: {name} is not in the schema"
            expected = "-r" if json_type(name) == "string" else "-p"
            assert flag == expected, f"{where}: {name} is a {json_type(name)}, passed with {flag}"
            assert value in {f"${{{name}}}", f"$(inputs.{name})"}, f"{where}: {name} = {value}"


def _agc_arguments(tokens: list[str]) -> list[str]:
    """The arguments of the ``agc`` call in ``tokens`` (up to a shell operator or redirection)."""
    args: list[str] = []
    for token in tokens[tokens.index("agc") + 1 :]:
        if token in {"&&", "||", "|", ";"} or token.startswith(("<", ">")):
            break
        args.append(token)
    return args


def _default_text(match: re.Match[str]) -> str:
    value = default(match.group(1) or match.group(2))
    return str(value).lower() if isinstance(value, bool) else str(value)


def test_agc_commands_of_the_specs_parse_and_pass_each_parameter_its_own_value() -> None:
    from agc.cli import commands

    known = commands()
    lines = [
        shlex.split(command)
        for step in _serial()["workflow"]["specification"]["steps"]
        for command in step["commands"]
    ]
    for step in _yaml(WORKFLOW)["steps"].values():
        lines.append(_tool_tokens(_yaml(WORKFLOW.parent / step["run"])))
    checked = 0
    for tokens in lines:
        if "agc" not in tokens:
            continue
        name, *args = _agc_arguments(tokens)
        for flag, value in itertools.pairwise([*args, ""]):
            parameter = flag[2:].replace("-", "_")
            if flag.startswith("--") and parameter in WORKFLOW_PARAMETERS:
                checked += 1
                assert value in {f"${{{parameter}}}", f"$(inputs.{parameter})"}, f"{flag} {value}"
        values = [
            re.sub(r"^\$\{(\w+)\}$|^\$\(inputs\.(\w+)\)$", _default_text, arg) for arg in args
        ]
        known[name].make_context(name, values)  # a click error fails the test
    assert checked >= 10


def test_cwl_steps_wire_parameters_by_name_and_tools_pass_the_notebook_parameters() -> None:
    workflow = _yaml(WORKFLOW)
    declared = set(_parameters())
    for step_name, step in workflow["steps"].items():
        tool = _yaml(WORKFLOW.parent / step["run"])
        for name, source in step["in"].items():
            assert name in tool["inputs"], f"step {step_name}: tool has no input {name}"
            if name in declared and isinstance(source, str):
                assert source == name, f"step {step_name}: parameter {name} wired from {source}"
        tokens = _tool_tokens(tool)
        if "papermill" in tokens:
            notebook, names = _papermill_args(tokens)
            notebook = re.sub(r"__\$\(inputs\.samples\)", "", notebook)
            # Booleans are passed through an input binding ("-p name True" only when true).
            flags = {
                str(spec["inputBinding"]["prefix"]).split()[1]
                for spec in tool["inputs"].values()
                if isinstance(spec, dict)
                and str(spec.get("inputBinding", {}).get("prefix", "")).startswith("-p ")
            }
            assert names | flags == _notebook_parameters(notebook), (
                f"CWL step {step_name} ({notebook})"
            )
            for name in names:
                position = tokens.index(name, tokens.index("papermill"))
                assert tokens[position + 1] == f"$(inputs.{name})", f"{step_name}: {name}"
        hints = step["hints"]["reana"]
        assert re.fullmatch(r"\d+(Mi|Gi)", hints["kubernetes_memory_limit"])
        assert int(hints["kubernetes_job_timeout"]) > 0
        docker = tool["hints"]["DockerRequirement"]["dockerPull"]
        assert docker == _serial()["workflow"]["specification"]["steps"][0]["environment"]
        assert "DockerRequirement" not in tool.get("requirements", {}), (
            "a hint, so --no-container works"
        )
    assert workflow["steps"]["histograms"]["scatter"] == "samples"


# --------------------------------------------------------------------------- validators


def test_cwltool_validates_the_workflow() -> None:
    cwltool = Path(sys.executable).parent / "cwltool"
    result = subprocess.run(
        [str(cwltool), "--validate", str(WORKFLOW)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "is valid CWL" in result.stdout + result.stderr


@pytest.mark.parametrize("spec", [SERIAL, CWL], ids=lambda p: p.name)
def test_reana_client_validates_without_warnings(spec: Path) -> None:
    client = REANA_VENV / "bin" / "reana-client"
    if not client.exists():
        pytest.fail(
            f"{client} missing: create it with `make reana-client` (environment/reana-client.txt)"
        )
    env = dict(os.environ)
    # reana-client calls `cwltool --pack` / `--validate --strict` from PATH: its own pinned cwltool.
    env["PATH"] = os.pathsep.join([str(client.parent), env.get("PATH", "")])
    result = subprocess.run(
        [str(client), "validate", "-f", spec.name],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    print(output)
    assert result.returncode == 0, output
    assert "Valid REANA specification file" in output, output
    assert not re.search(r"WARNING|ERROR|Warning", output), output


def test_fresh_directory_empties_a_previous_run(tmp_path: Path) -> None:
    folder = tmp_path / "outputs" / "partial"
    folder.mkdir(parents=True)
    (folder / "stale.partial.json").write_text("{}")
    assert fresh_directory(folder) == folder
    assert list(folder.iterdir()) == []


def _tiny_manifest(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    manifest: dict[str, Any] = {}
    for process, variation, files in [
        ("ttbar", "nominal", 2),
        ("ttbar", "PS_var", 1),
        ("wjets", "nominal", 1),
    ]:
        entries = []
        for i in range(files):
            path = data / f"{process}__{variation}_{i}.root"
            path.write_bytes(b"not read by the dataset stage")
            entries.append({"path": path.name, "nevts": 10 + i})
        manifest.setdefault(process, {})[variation] = {
            "nevts_total": sum(e["nevts"] for e in entries),
            "files": entries,
        }
    path = data / "manifest.json"
    path.write_text(json.dumps(manifest))
    return path


def test_prepare_dataset_summarises_a_manifest_and_writes_sample_markers(tmp_path: Path) -> None:
    manifest = _tiny_manifest(tmp_path)
    outdir = tmp_path / "outputs"
    (outdir / "samples").mkdir(parents=True)
    (outdir / "samples" / "stale__sample").write_text("")
    record = prepare_dataset(str(manifest), samples="ttbar", max_files=1, outdir=str(outdir))
    assert [row.sample for row in record.samples] == ["ttbar__nominal", "ttbar__PS_var"]
    assert [row.files for row in record.samples] == [1, 1]
    assert [row.events for row in record.samples] == [10, 10]
    assert record.readback is None
    assert json.loads((outdir / "dataset.json").read_text()) == record.to_dict()
    assert sorted(p.name for p in (outdir / "samples").iterdir()) == [
        "ttbar__PS_var",
        "ttbar__nominal",
    ]
    (manifest.parent / "wjets__nominal_0.root").unlink()
    with pytest.raises(AGCError, match=r"input file of sample 'wjets__nominal' not found"):
        prepare_dataset(str(manifest), samples="all", outdir=str(outdir))


def _executed_notebook(path: Path, title: str, value: int) -> None:
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    book.metadata["papermill"] = {"start_time": time.time()}
    cell = nbformat.v4.new_code_cell(f"x = {value}\nx", execution_count=1)
    cell.metadata["execution"] = {"iopub.execute_input": str(time.time())}
    cell.outputs = [
        nbformat.v4.new_output("execute_result", {"text/plain": str(value)}, execution_count=1)
    ]
    book.cells = [nbformat.v4.new_markdown_cell(f"# {title}"), cell]
    nbformat.write(book, path)


def test_build_report_joins_executed_notebooks_reproducibly(tmp_path: Path) -> None:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _executed_notebook(folder / "01_second.ipynb", "Second stage", 4242)
    _executed_notebook(folder / "00_first.ipynb", "First stage", 1717)
    first = build_report(folder, tmp_path / "a" / "report.html").read_text()
    _executed_notebook(folder / "00_first.ipynb", "First stage", 1717)  # new timestamps
    second = build_report(folder, tmp_path / "b" / "report.html").read_text()
    assert first == second
    assert first.index("First stage") < first.index("Second stage")
    assert "1717" in first
    assert "4242" in first
    with pytest.raises(AGCError, match="no executed notebooks"):
        build_report(tmp_path / "empty", tmp_path / "c.html")


def test_report_helpers_render_stage_results(tmp_path: Path) -> None:
    cutflow = tmp_path / "cutflow.json"
    cutflow.write_text(
        json.dumps(
            {
                "samples": {
                    "wjets__nominal": {"all": 9, "4j2b": 1},
                    "ttbar__nominal": {"all": 7, "4j2b": 3},
                },
                "steps": ["all", "4j2b"],
            }
        )
    )
    lines = cutflow_markdown(cutflow).splitlines()
    assert lines[0] == "| sample | all | 4j2b |"
    assert lines[2:] == ["| ttbar__nominal | 7 | 3 |", "| wjets__nominal | 9 | 1 |"]
    summary = FitSummary(
        measurement="m",
        poi=Estimate("ttbar_norm", 0.97, 0.1),
        parameters=ParameterTable(
            labels=["lumi", "ttbar_norm"],
            types=["normsys", "normfactor"],
            bestfit=[0.1, 0.97],
            uncertainty=[0.9, 0.1],
            prefit_uncertainty=[1.0, 0.0],
        ),
        correlation_matrix=[[1.0, 0.0], [0.0, 1.0]],
        best_twice_nll=12.5,
        goodness_of_fit=None,
        impacts=None,
        fit={},
    )
    text = fit_markdown(summary)
    assert text.startswith("**ttbar_norm = 0.97 ± 0.10**")  # PDG rounding
    assert "-2 log L at the minimum: 12.5" in text
    assert "goodness-of-fit" not in text
    assert text.index("| **ttbar_norm** | 0.97 | 0.1 | normfactor |") < text.index("| lumi |")
    assert FitSummary.from_dict(summary.to_dict()) == summary


# --------------------------------------------------------------------------- end to end (slow)


def _histogram_arrays(path: Path) -> dict[str, tuple[np.ndarray, ...]]:
    with uproot.open(path) as handle:
        classes = handle.classnames(recursive=False, cycle=False)
        result = {}
        for name, cls in sorted(classes.items()):
            if cls.startswith("TH1"):
                h = handle[name]
                result[name] = (
                    h.values(flow=True),
                    h.variances(flow=True),
                    h.axis().edges(flow=False),
                )
        return result


@pytest.mark.slow
def test_serial_and_cwl_workflows_agree_bit_for_bit(
    serial_reference: EngineReference, tmp_path: Path
) -> None:
    """The CWL workflow with the serial reference run's parameters and inputs (the small dataset,
    one file per sample, the iterative executor, which keeps each of the nine scattered jobs
    cheap; the small model)."""
    assert_cwl_agrees_with(serial_reference, tmp_path / "cwl")


def assert_cwl_agrees_with(serial_reference: EngineReference, outdir: Path) -> None:
    """Run the CWL workflow with the parameters of ``serial_reference`` into ``outdir``: the same
    products, notebooks, plots and bytes as the serial run."""
    serial_out = serial_reference.outputs
    t0 = time.perf_counter()
    # reana-cwl-job.yaml of the reference's workspace: the same notebooks and inputs (model)
    cwl = run_cwl(serial_reference.overrides, workdir=serial_reference.workspace, outdir=outdir)
    t_cwl = time.perf_counter() - t0
    cwl_out = Path(cwl.outdir)
    print(f"\nserial workflow: {serial_reference.run.seconds:.1f} s\nCWL workflow: {t_cwl:.1f} s")

    for name in (
        "histograms.root",
        "cutflow.json",
        "workspace.json",
        "fit_results.json",
        "dataset.json",
        "report.html",
    ):
        assert (serial_out / name).is_file(), f"serial run did not write {name}"
        assert (cwl_out / name).is_file(), f"CWL run did not write {name}"
    for out in (serial_out, cwl_out):  # the same report whichever engine ran
        page = (out / "report.html").read_text(encoding="utf-8")
        assert page.count('data-role="fit-poi"') == 1
        assert page.count('data-role="fit-postfit"') == 2
        assert 'id="provenance"' in page
        assert 'data-mime-type="application/vnd.jupyter.stderr"' not in page
    assert sorted(p.name for p in (serial_out / "notebooks").iterdir()) == [
        "00_dataset.ipynb",
        "01_histograms.ipynb",
        "01_merge.ipynb",
        "02_statistical_model.ipynb",
        "03_fit.ipynb",
        "04_ml.ipynb",
        "05_optimise.ipynb",
    ]
    cwl_notebooks = sorted(p.name for p in (cwl_out / "notebooks").iterdir())
    scattered = [n for n in cwl_notebooks if n.startswith("01_histograms__")]
    assert len(scattered) == len(json.loads((serial_out / "dataset.json").read_text())["samples"])
    assert [n for n in cwl_notebooks if n not in scattered] == [
        "00_dataset.ipynb",
        "01_merge.ipynb",
        "02_statistical_model.ipynb",
        "03_fit.ipynb",
        "04_ml.ipynb",
        "05_optimise.ipynb",
    ]
    assert sorted(p.name for p in (cwl_out / "plots").iterdir()) == sorted(
        p.name for p in (serial_out / "plots").iterdir()
    )

    serial_hists = _histogram_arrays(serial_out / "histograms.root")
    cwl_hists = _histogram_arrays(cwl_out / "histograms.root")
    assert serial_hists, "no histograms written"
    assert list(serial_hists) == list(cwl_hists)
    for name, arrays in serial_hists.items():
        for a, b in zip(arrays, cwl_hists[name], strict=True):
            assert np.array_equal(a, b), f"{name} differs between the serial and CWL runs"
    for name in ("cutflow.json", "workspace.json", "fit_results.json", "dataset.json"):
        assert (serial_out / name).read_bytes() == (cwl_out / name).read_bytes(), f"{name} differs"
