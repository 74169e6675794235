"""The local runners of the workflow specifications (agc.workflow.runners) on small specs."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml
from engine_helpers import serial_spec

from agc.core.errors import AGCError
from agc.workflow.runners import (
    CWL_JOB,
    CwlRun,
    CwltoolOptions,
    cwl_job,
    cwltool_command,
    expand_commands,
    progress_line,
    run_cwl,
    run_serial,
)

REPO = Path(__file__).resolve().parents[2]
SERIAL = REPO / "reana.yaml"
JOB = REPO / CWL_JOB


def test_run_serial_rejects_an_undeclared_parameter_listing_the_declared() -> None:
    with pytest.raises(
        AGCError, match=r"unknown parameter 'colour'.*declared: chunksize, executor"
    ) as info:
        run_serial(SERIAL, {"colour": "red"})
    assert "\n" not in str(info.value)


def test_run_serial_checks_values_before_running() -> None:
    with pytest.raises(AGCError, match="'workers'"):
        run_serial(SERIAL, {"workers": "0"})


def test_expand_commands_names_the_step_of_an_undeclared_placeholder() -> None:
    spec = {
        "workflow": {
            "type": "serial",
            "specification": {
                "steps": [
                    {"name": "first", "environment": "x", "commands": ["echo ${outdir}"]},
                    {"name": "second", "environment": "x", "commands": ["echo ${nope}"]},
                ]
            },
        }
    }
    with pytest.raises(AGCError, match=r"step 'second' uses parameter \$\{nope\}"):
        expand_commands(spec, {"outdir": "outputs"})
    with pytest.raises(AGCError, match="not a serial workflow"):
        expand_commands({"workflow": {"type": "cwl"}}, {})


def test_run_serial_runs_commands_like_reana_and_stops_at_the_first_failure(tmp_path: Path) -> None:
    spec = {
        "version": "0.9.4",
        "inputs": {"parameters": {"outdir": "results", "samples": "ttbar,wjets"}},
        "workflow": {
            "type": "serial",
            "specification": {
                "steps": [
                    {
                        "name": "write",
                        "environment": "x",
                        "commands": [
                            "mkdir -p ${outdir} && printf '%s' \"${samples}\" > ${outdir}/samples.txt",
                            "printf '%s' \"$${AGC_ENGINE}\" > ${outdir}/engine.txt",
                            "command -v papermill > ${outdir}/which.txt",
                        ],
                    },
                    {"name": "boom", "environment": "x", "commands": ["exit 3"]},
                    {
                        "name": "never",
                        "environment": "x",
                        "commands": ["touch ${outdir}/never.txt"],
                    },
                ]
            },
        },
    }
    path = tmp_path / "reana.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(AGCError, match=r"^step 2/3 'boom': exit code 3$") as info:
        run_serial(path, {"samples": "ttbar__nominal"})
    assert "\n" not in str(info.value)
    out = tmp_path / "results"
    assert (out / "samples.txt").read_text() == "ttbar__nominal"  # override applied, quotes kept
    assert (out / "engine.txt").read_text() == "serial-local"  # $$ is a literal $ for the shell
    assert Path((out / "which.txt").read_text().strip()).parent == Path(sys.executable).parent
    assert not (out / "never.txt").exists()


def test_run_serial_operational_options_from_and_target(tmp_path: Path) -> None:
    """-o FROM=step / -o TARGET=step select steps as REANA's serial engine does (a signal swap
    on a finished workspace: -p signal=... -o FROM=reinterpret)."""
    steps = [
        {"name": name, "environment": "x", "commands": [f"touch {name}.txt"]}
        for name in ("a", "b", "c")
    ]
    path = serial_spec(tmp_path, steps)
    result = run_serial(path, options={"FROM": "b"})
    assert [s.name for s in result.steps] == ["b", "c"]
    assert result.workdir == str(tmp_path)
    assert [s["name"] for s in result.to_dict()["steps"]] == ["b", "c"]
    assert sorted(p.name for p in tmp_path.glob("*.txt")) == ["b.txt", "c.txt"]
    result = run_serial(path, options={"TARGET": "a"})
    assert [s.name for s in result.steps] == ["a"]
    with pytest.raises(AGCError, match=r"FROM='fit' is not a step; steps: \['a', 'b', 'c'\]"):
        run_serial(path, options={"FROM": "fit"})
    with pytest.raises(AGCError, match="unknown operational option"):
        run_serial(path, options={"CACHE": "off"})
    with pytest.raises(AGCError, match="comes after"):
        run_serial(path, options={"FROM": "c", "TARGET": "a"})


def test_run_serial_names_each_step_the_same_way_and_a_line_when_it_is_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """make run: a line when a step (or command) starts and when it is done, named alike,
    the step's line with the time elapsed and the next step."""
    steps = [
        {"name": "a", "environment": "x", "commands": ["true", "true"]},
        {"name": "b", "environment": "x", "commands": ["true"]},
    ]
    path = serial_spec(tmp_path, steps)
    run_serial(path)
    lines = capsys.readouterr().err.splitlines()
    pattern = r"\[agc run-serial\] (step \d/2 \w+(?: \(command \d/2\))?)(: true| done in .*)"
    found = [re.fullmatch(pattern, line) for line in lines[:-1]]
    assert all(found), lines
    assert [(m.group(1), m.group(2).startswith(":")) for m in found if m] == [
        ("step 1/2 a (command 1/2)", True),
        ("step 1/2 a (command 1/2)", False),
        ("step 1/2 a (command 2/2)", True),
        ("step 1/2 a", False),
        ("step 2/2 b", True),
        ("step 2/2 b", False),
    ]
    assert re.fullmatch(r".* done in [\d.]+ s \([\d.]+ s elapsed; next: b\)", lines[3])
    assert re.fullmatch(r".* done in [\d.]+ s \([\d.]+ s elapsed\)", lines[5])


def test_run_serial_passes_the_steps_progress_lines_on_to_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A step's progress lines (agc.core.progress) reach the terminal; its other output stays
    in its log."""
    progress = "[agc progress] generate: 3/9 files (33 %) [00:01<00:02]"
    steps = [{"name": "a", "environment": "x", "commands": [f"echo '{progress}'; echo other"]}]
    run_serial(serial_spec(tmp_path, steps))
    err = capsys.readouterr().err.splitlines()
    assert progress in err
    assert "other" not in err
    log = (tmp_path / "outputs" / "logs" / "a.log").read_text().splitlines()
    assert log[1:] == [progress, "other"]


def test_run_serial_reports_the_steps_that_target_and_from_chose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = [{"name": name, "environment": "x", "commands": ["true"]} for name in ("a", "b", "c")]
    path = serial_spec(tmp_path, steps)
    run_serial(path, options={"TARGET": "a"})
    assert (
        capsys.readouterr()
        .err.splitlines()[-1]
        .startswith("[agc run-serial] 1 of 3 steps done (TARGET=a) in ")
    )
    run_serial(path, options={"FROM": "b", "TARGET": "b"})
    assert "] 1 of 3 steps done (FROM=b, TARGET=b) in " in capsys.readouterr().err
    run_serial(path)
    assert capsys.readouterr().err.splitlines()[-1].startswith("[agc run-serial] all 3 steps done")


def _failing_notebook_step(message: str, folder: Path) -> str:
    """A command printing what a failed papermill run prints: the kernel's transport notice,
    papermill's traceback, the notebook's traceback ending with ``AGCError: message``."""
    lines = [
        "[IPKernelApp] WARNING | Kernel is running over TCP without encryption. All ...",
        "Traceback (most recent call last):",
        '  File "papermill/execute.py", line 1, in raise_for_execution_errors',
        "papermill.exceptions.PapermillExecutionError: ",
        "-" * 75,
        'Exception encountered at "In [2]":',
        "\x1b[0;31mAGCError\x1b[0m                                  Traceback",
        f"\x1b[0;31mAGCError\x1b[0m: {message}",
    ]
    script = folder / "fail.py"
    script.write_text(
        "import sys\n"
        + "".join(f"print({line!r}, file=sys.stderr)\n" for line in lines)
        + "sys.exit(1)\n"
    )
    return f"{sys.executable} {script}"


@pytest.mark.parametrize("debug", [False, True])
def test_run_serial_ends_with_the_step_s_own_error_and_keeps_its_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], debug: bool
) -> None:
    """The failed step's one-line error is the run's error; the traceback is in the step's log
    (and on stderr only with debug); the kernel's transport notice is nowhere."""
    message = "manifest.json: sample 'ttbar__nominal': x.txt is not a ROOT file"
    steps = [
        {"name": "dataset", "environment": "x", "commands": ["echo fine"]},
        {
            "name": "histograms",
            "environment": "x",
            "commands": [_failing_notebook_step(message, tmp_path)],
        },
    ]
    path = serial_spec(tmp_path, steps)
    with pytest.raises(AGCError) as info:
        run_serial(path, debug=debug)
    assert str(info.value) == f"step 2/2 'histograms': {message}"
    err = capsys.readouterr().err
    assert ("Traceback" in err) is debug
    assert "IPKernelApp" not in err
    log = (tmp_path / "outputs" / "logs" / "histograms.log").read_text()
    assert "PapermillExecutionError" in log
    assert "IPKernelApp" not in log
    assert (tmp_path / "outputs" / "logs" / "dataset.log").read_text() == "$ echo fine\nfine\n"
    assert "its log: " in err.splitlines()[-1]


def test_progress_line_numbers_the_step_among_all_and_names_the_next_one_run() -> None:
    line = progress_line("b", 2.04, 3.06, ["a", "b", "c", "d"], ["b", "c"])
    assert line == "[agc run-serial] step 2/4 b done in 2.0 s (3.1 s elapsed; next: c)"
    line = progress_line("c", 1.0, 4.0, ["a", "b", "c", "d"], ["b", "c"])
    assert line == "[agc run-serial] step 3/4 c done in 1.0 s (4.0 s elapsed)"


def test_cwl_job_applies_typed_overrides_and_absolute_locations() -> None:
    job = cwl_job(JOB, {"max_files": "1", "samples": "ttbar"})
    assert (job["max_files"], job["samples"], job["workers"]) == (1, "ttbar", 2)
    files = [job["notebook_dataset"], job["recipe"], *job["signal_declarations"]]
    for entry in files:
        assert entry["class"] == "File"
        assert Path(entry["location"]).is_absolute()
        assert Path(entry["location"]).is_file()
    with pytest.raises(AGCError, match=r"unknown parameter 'colour'.*declared: chunksize"):
        cwl_job(JOB, {"colour": "red"})
    with pytest.raises(AGCError, match="'max_files'"):
        cwl_job(JOB, {"max_files": "0"})


def test_run_cwl_failure_leaves_the_previous_outputs(tmp_path: Path) -> None:
    tool = {
        "cwlVersion": "v1.2",
        "class": "CommandLineTool",
        "baseCommand": ["false"],
        "inputs": {"outdir": "string"},
        "outputs": {},
    }
    (tmp_path / "fail.cwl").write_text(yaml.safe_dump(tool))
    (tmp_path / "job.yaml").write_text("outdir: outputs\n")
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("previous run")
    with pytest.raises(AGCError, match=r"CWL workflow fail\.cwl failed \(cwltool exit code 1\)"):
        run_cwl(
            workdir=tmp_path,
            job_file=tmp_path / "job.yaml",
            workflow=tmp_path / "fail.cwl",
            outdir=target,
        )
    assert sorted(p.name for p in target.iterdir()) == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fail.cwl", "job.yaml", "logs", "out"]
    assert "permanentFail" in (tmp_path / "logs" / "out.log").read_text()


def test_run_cwl_names_the_failed_step_and_its_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A step whose command ends with an agc error line: the run's error is that line's
    message with the step's name; cwltool's log and the traceback stay in the log file."""
    script = (
        "import sys; print('Traceback (most recent call last):', file=sys.stderr); "
        "print('AGCError: inputs.json: file x.root is not a ROOT file', file=sys.stderr); "
        "print('agc histograms: error: inputs.json: file x.root is not a ROOT file', "
        "file=sys.stderr); sys.exit(2)"
    )
    tool = {
        "class": "CommandLineTool",
        "baseCommand": [sys.executable, "-c", script],
        "inputs": {},
        "outputs": {},
    }
    workflow = {
        "cwlVersion": "v1.2",
        "class": "Workflow",
        "inputs": {"outdir": "string"},
        "outputs": {},
        "steps": {"histograms": {"run": tool, "in": {}, "out": []}},
    }
    (tmp_path / "wf.cwl").write_text(yaml.safe_dump(workflow))
    (tmp_path / "job.yaml").write_text("outdir: outputs\n")
    with pytest.raises(AGCError) as info:
        run_cwl(
            workdir=tmp_path,
            job_file=tmp_path / "job.yaml",
            workflow=tmp_path / "wf.cwl",
            outdir=tmp_path / "out",
        )
    assert str(info.value) == (
        "CWL workflow wf.cwl, step 'histograms': inputs.json: file x.root is not a ROOT file"
    )
    assert "Traceback" not in capsys.readouterr().err
    assert "Traceback" in (tmp_path / "logs" / "out.log").read_text()


def test_cwltool_command_keeps_the_preserved_variables(tmp_path: Path) -> None:
    env = {"PATH": "/bin", "AGC_ENGINE": "cwl-local", "SECRET": "x"}
    command = cwltool_command(
        Path("wf.cwl"),
        Path("job.json"),
        outdir=tmp_path / "o",
        scratch=tmp_path / "s",
        env=env,
        local=CwltoolOptions(parallel=False, cwltool=Path("cwltool")),
    )
    assert command[:4] == ["cwltool", "--no-container", "--outdir", str(tmp_path / "o")]
    assert "--parallel" not in command
    kept = [command[i + 1] for i, arg in enumerate(command) if arg == "--preserve-environment"]
    assert kept == ["PATH", "AGC_ENGINE"]
    assert command[-2:] == ["wf.cwl", "job.json"]


def test_run_cwl_collects_the_outputs(tmp_path: Path) -> None:
    """A one-step workflow writing a file: the typed result names it, inside ``outdir``."""
    tool = {
        "cwlVersion": "v1.2",
        "class": "CommandLineTool",
        "baseCommand": ["touch", "made.txt"],
        "inputs": {"outdir": "string"},
        "outputs": {"made": {"type": "File", "outputBinding": {"glob": "made.txt"}}},
    }
    (tmp_path / "ok.cwl").write_text(yaml.safe_dump(tool))
    (tmp_path / "job.yaml").write_text("outdir: outputs\n")
    result = run_cwl(
        workdir=tmp_path,
        job_file=tmp_path / "job.yaml",
        workflow=tmp_path / "ok.cwl",
        outdir=tmp_path / "out",
    )
    assert isinstance(result, CwlRun)
    assert result.outputs == {"made": str(tmp_path / "out" / "made.txt")}
    assert (tmp_path / "out" / "made.txt").is_file()
    assert json.loads(json.dumps(result.to_dict()))["outdir"] == str(tmp_path / "out")
