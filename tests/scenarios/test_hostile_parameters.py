"""Hostile parameter values through every engine: nothing they hold is ever run.

Each value tries to run ``touch CANARY`` (quotes, ``$(...)``, backquotes, ``;``, newlines, the
serial spec's marker line, a very long string, ``&&``). For every engine the file CANARY must
never appear:

- the local serial runner (``agc run-serial``) refuses the value before any step: one line, exit 2;
- reana.yaml as REANA's serial engine runs it (``string.Template(command).substitute(parameters)``,
  then ``bash -c "cd <workspace> && <command>"``): its first command refuses the value without
  bash ever parsing it, so REANA stops the workflow there; a value the check accepts is a literal
  word in every later command (run here with stand-ins for papermill and agc that record their
  arguments);
- the CWL tools, run by cwltool as REANA's CWL engine runs them (no check step): every value
  reaches the program as one argument, unchanged; ``agc run-cwl`` refuses it first;
- the Snakefile: ``agc run-snakemake`` refuses the value before Snakemake starts; run by
  Snakemake 7.32.4 itself (.venv-snakemake, as REANA runs it) the first job refuses it, and the
  jobs' shell commands hold it as one shell word.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from string import Template
from typing import Any

import pytest
import yaml

from agc.cli import main as cli_main
from agc.workflow.runners import declared_parameters, expand_commands, load_spec

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SNAKEMAKE = REPO / ".venv-snakemake" / "bin" / "snakemake"
CANARY = "CANARY"

#: id -> a value that runs ``touch CANARY`` if any shell interprets it.
HOSTILE = {
    "double-quote": f'x"; touch {CANARY}; echo "',
    "single-quote": f"x'; touch {CANARY}; echo '",
    "dollar-paren": f"$(touch {CANARY})",
    "backquotes": f"`touch {CANARY}`",
    "semicolon": f"x; touch {CANARY}",
    "newline": f"x\ntouch {CANARY}",
    "marker": f"x\nAGC_PARAMETERS\ntouch {CANARY}\ncat <<'AGC_PARAMETERS'",
    "long": ("x" * 99 + "/") * 30 + f"$(touch {CANARY})",
    "and-and": f"x && touch {CANARY}",
}
#: The values no check may accept (every one but ``and-and``, which no shell quoting breaks).
REFUSED = [name for name in HOSTILE if name != "and-and"]


def _stub_bin(folder: Path, log: Path) -> Path:
    """A folder with ``papermill`` and ``agc`` stand-ins: each appends its arguments (a JSON
    list, one line) to ``log`` and exits 0."""
    folder.mkdir()
    script = (
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(log)!r}, 'a', encoding='utf-8') as f:\n"
        "    f.write(json.dumps([os.path.basename(sys.argv[0]), *sys.argv[1:]]) + '\\n')\n"
    )
    for name in ("papermill", "agc"):
        path = folder / name
        path.write_text(script, encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return folder


def _calls(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def _env(*first: Path) -> dict[str, str]:
    path = os.pathsep.join([*map(str, first), str(VENV_BIN), os.environ["PATH"]])
    return dict(os.environ, PATH=path, MPLBACKEND="Agg")


# --------------------------------------------------------------------------- serial, locally


@pytest.mark.parametrize("name", REFUSED)
def test_run_serial_refuses_before_any_step(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(REPO / "reana.yaml", tmp_path / "reana.yaml")
    for parameter in ("outdir", "samples", "signal"):
        code = cli_main(["run-serial", "reana.yaml", "-p", f"{parameter}={HOSTILE[name]}"])
        err = capsys.readouterr().err
        assert code == 2, err
        assert err.count("\n") == 1, err
        assert err.startswith("agc run-serial: error: reana.yaml: "), err
        assert f"'{parameter}'" in err
        assert not (tmp_path / CANARY).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reana.yaml"], "a step ran"


# --------------------------------------------------------------------------- serial, as REANA


def _reana_commands(spec: Path, parameter: str, value: str) -> list[str]:
    """reana.yaml's commands as REANA's serial engine expands them with ``parameter=value``."""
    loaded = load_spec(spec)
    params = dict(declared_parameters(loaded), **{parameter: value})
    return [command.text for command in expand_commands(loaded, params)]


def _as_reana(workspace: Path, text: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """One expanded command the way REANA's job runs it: ``bash -c "cd <workspace> && ..."``."""
    return subprocess.run(
        ["bash", "-c", f"cd {shlex.quote(str(workspace))} && {text}"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("parameter", ["outdir", "scheduler"])
@pytest.mark.parametrize("name", list(HOSTILE))
def test_reana_serial_engine_runs_no_part_of_a_value(
    name: str, parameter: str, tmp_path: Path
) -> None:
    """The first command refuses the value (REANA stops there); one it accepts reaches every
    later command as a literal argument."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    shutil.copytree(REPO / "inputs", workspace / "inputs")
    value = HOSTILE[name]
    first, *later = _reana_commands(REPO / "reana.yaml", parameter, value)
    checked = _as_reana(workspace, first, _env())
    assert not (workspace / CANARY).exists(), checked.stderr
    if checked.returncode != 0:
        assert checked.returncode == 2
        (line,) = checked.stderr.strip().splitlines()
        assert line.startswith("agc check-parameters: error: "), line
        assert name != "and-and" or parameter != "outdir", line
        return
    assert name not in REFUSED, f"{name!r} passed the check"
    log = tmp_path / "calls.jsonl"
    stubs = _stub_bin(tmp_path / "stubs", log)
    for text in later:
        result = _as_reana(workspace, text, _env(stubs))
        assert result.returncode == 0, result.stderr
    assert not (workspace / CANARY).exists()
    calls = _calls(log)
    assert len(calls) == len(later)
    assert sum(value in call for call in calls) >= 3, "the value is one argument, unchanged"


@pytest.mark.parametrize("spec", ["reana.yaml", "reana-dask.yaml"])
def test_a_run_restarted_at_any_step_checks_the_values_first(spec: str, tmp_path: Path) -> None:
    """``-o FROM=<step>`` skips the earlier steps: every step starts with the same check, which
    refuses a hostile value before the step's own commands run."""
    loaded = load_spec(REPO / spec)
    params = dict(declared_parameters(loaded), outdir=HOSTILE["double-quote"])
    expanded = expand_commands(loaded, params)
    steps = [step["name"] for step in loaded["workflow"]["specification"]["steps"]]
    firsts = {}
    for command in expanded:
        firsts.setdefault(command.step, command.text)
    assert list(firsts) == steps
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    shutil.copytree(REPO / "inputs", workspace / "inputs")
    for step, text in firsts.items():
        assert text.splitlines()[0].endswith('<<<"$BASH_EXECUTION_STRING"; exit'), step
        result = _as_reana(workspace, text, _env())
        assert result.returncode == 2, (step, result.stderr)
        assert not (workspace / CANARY).exists(), step


def test_a_quoted_here_document_does_not_hold_a_value(tmp_path: Path) -> None:
    """Why the first command reads its own text instead: a value with a newline and the
    document's end marker ends a quoted here-document early, and its next line runs (this also
    shows that the CANARY check catches an escape)."""
    command = "cat >/dev/null <<'AGC_PARAMETERS'\nsamples=${samples}\nAGC_PARAMETERS"
    text = Template(command).substitute(samples=HOSTILE["marker"])
    result = _as_reana(tmp_path, text, _env())
    assert (tmp_path / CANARY).exists(), result.stderr


def test_the_first_command_reads_only_its_own_text(tmp_path: Path) -> None:
    """Without $BASH_EXECUTION_STRING (not run by ``bash -c``) the check refuses instead of
    passing on no values; run as REANA does, the check sees every value."""
    shutil.copytree(REPO / "inputs", tmp_path / "inputs")
    first = _reana_commands(REPO / "reana.yaml", "outdir", "outputs")[0]
    assert first.splitlines()[0].endswith('<<<"$BASH_EXECUTION_STRING"; exit')
    script = tmp_path / "first.sh"
    script.write_text(first, encoding="utf-8")
    result = subprocess.run(
        ["bash", str(script)], cwd=tmp_path, env=_env(), capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "no AGC_PARAMETERS line" in result.stderr
    result = _as_reana(tmp_path, first + " --json", _env())  # ' --json' ends the last value
    assert result.returncode == 2, "a changed last line is refused"
    ok = _as_reana(tmp_path, first, _env())
    assert ok.returncode == 0, ok.stderr


# --------------------------------------------------------------------------- CWL


@pytest.mark.parametrize("name", REFUSED[:4])
def test_run_cwl_refuses_before_cwltool(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    code = cli_main(["run-cwl", "-p", f"outdir={HOSTILE[name]}"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1, err
    assert "'outdir'" in err
    assert "cwltool" not in err


def _cwltool(tool: Path, job: dict, folder: Path, stubs: Path) -> subprocess.Popen:
    """cwltool running ``tool`` on ``job`` in ``folder`` (started, not waited for)."""
    folder.mkdir()
    job_file = folder / "job.json"
    job_file.write_text(json.dumps(job), encoding="utf-8")
    command = [
        str(VENV_BIN / "cwltool"),
        "--no-container",
        "--preserve-environment",
        "PATH",
        "--outdir",
        str(folder / "out"),
        "--tmpdir-prefix",
        f"{folder}/tmp/",
        "--tmp-outdir-prefix",
        f"{folder}/work/",
        str(tool),
        str(job_file),
    ]
    return subprocess.Popen(
        command,
        cwd=folder,
        env=_env(stubs),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _file(path: str) -> dict[str, str]:
    return {"class": "File", "location": str(REPO / path)}


#: The string inputs of two CWL tools, and the program each tool runs with them.
CWL_STRINGS = {
    "dataset.cwl": ("papermill", ["inputs", "samples", "outdir", "format"]),
    "reinterpret.cwl": ("agc", ["signal", "inputs", "outdir", "executor", "scheduler"]),
}
CWL_FILES = {
    "dataset.cwl": {
        "ipynb": "notebooks/00_dataset.ipynb",
        "recipe": "inputs/embedded.yaml",
    },
    "reinterpret.cwl": {
        "recipe": "inputs/embedded.yaml",
        "model_config": "inputs/cabinetry.yaml",
    },
}
CWL_OTHERS = {
    "dataset.cwl": {"max_files": 1},
    "reinterpret.cwl": {
        "signal_declarations": [_file("inputs/signals/zprime_500.yaml")],
        "data": [],
        "partials": [],
        "workers": 1,
        "chunksize": 10,
        "max_files": 1,
    },
}


def _cwl_jobs(tool: str) -> list[dict[str, Any]]:
    """Jobs of ``tool`` that together put every hostile value into its string inputs, a
    different value into each input of a job."""
    names = CWL_STRINGS[tool][1]
    values = list(HOSTILE.values())
    jobs = []
    for first in range(0, len(values), len(names)):
        strings = {name: values[(first + i) % len(values)] for i, name in enumerate(names)}
        files = {key: _file(path) for key, path in CWL_FILES[tool].items()}
        jobs.append({**files, **CWL_OTHERS[tool], **strings})
    return jobs


def test_cwl_tools_pass_every_value_as_one_argument(tmp_path: Path) -> None:
    """dataset.cwl (papermill) and reinterpret.cwl (agc), every hostile value in each: the
    program gets each value unchanged, as one argument after its option, and nothing else runs."""
    log = tmp_path / "calls.jsonl"
    stubs = _stub_bin(tmp_path / "stubs", log)
    runs = {
        (tool, index): (
            job,
            _cwltool(REPO / "workflow" / tool, job, tmp_path / f"{tool}{index}", stubs),
        )
        for tool in CWL_STRINGS
        for index, job in enumerate(_cwl_jobs(tool))
    }
    for _, run in runs.values():
        run.wait(timeout=600)
    assert not list(tmp_path.rglob(CANARY)), "a value ran"
    calls = _calls(log)
    for (tool, _), (job, _) in runs.items():
        program, names = CWL_STRINGS[tool]
        flag = "-r" if program == "papermill" else "--{}"
        for call in calls:
            if call[0] != program:
                continue
            if all(job[name] in call for name in names):
                break
        else:
            pytest.fail(f"{tool}: no {program} call with the job's values {job}")
        for name in names:
            if program == "papermill":
                assert call[call.index(name) - 1 : call.index(name) + 2] == [flag, name, job[name]]
            else:
                assert call[call.index(flag.format(name)) + 1] == job[name]
    assert len(calls) == len(runs)


def test_cwl_tools_leave_only_literals_unquoted() -> None:
    """``shellQuote: false`` (the value pasted into the shell command) only on literal words or
    on booleans, which render as true/false."""
    for path in sorted((REPO / "workflow").glob("*.cwl")):
        text = path.read_text(encoding="utf-8")
        tool = yaml.safe_load(text)
        if tool["class"] != "CommandLineTool":
            continue
        booleans = {
            name
            for name, spec in tool["inputs"].items()
            if (spec if isinstance(spec, str) else spec["type"]) == "boolean"
        }
        bindings = [a for a in tool.get("arguments", []) if isinstance(a, dict)]
        bindings += [
            {**spec["inputBinding"], "input": name}
            for name, spec in tool["inputs"].items()
            if isinstance(spec, dict) and "inputBinding" in spec
        ]
        for binding in bindings:
            if binding.get("shellQuote", True):
                continue
            words = " ".join(str(binding.get(k, "")) for k in ("valueFrom", "prefix"))
            used = set(re.findall(r"\$\(inputs\.(\w+)", words)) | {binding.get("input")} - {None}
            assert used <= booleans, f"{path.name}: {binding} pastes {used - booleans}"


# --------------------------------------------------------------------------- Snakemake


def _snakemake(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if not SNAKEMAKE.exists():
        pytest.fail(f"{SNAKEMAKE} missing: create it with `make snakemake`")
    return subprocess.run(
        [str(SNAKEMAKE), "--snakefile", "workflow/Snakefile", "--cores", "1", *args],
        cwd=workspace,
        env=_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def snake_workspace(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    for name in ("workflow", "notebooks", "inputs"):
        shutil.copytree(REPO / name, workspace / name)
    return workspace


def _config(workspace: Path, **values: str) -> list[str]:
    """The configuration arguments of a run with ``values`` over workflow/config.yaml, passed in a
    YAML file as REANA passes ``-p`` values (``--config`` would read each value as YAML)."""
    extra = workspace / "hostile.yaml"
    extra.write_text(yaml.safe_dump(values), encoding="utf-8")
    return ["--configfile", "workflow/config.yaml", str(extra)]


@pytest.mark.parametrize("name", REFUSED)
def test_run_snakemake_refuses_before_snakemake_starts(
    name: str,
    snake_workspace: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(snake_workspace)
    code = cli_main(["run-snakemake", "--snakemake", str(SNAKEMAKE), "-p", f"poi={HOSTILE[name]}"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("agc run-snakemake: error: config.yaml: parameter 'poi' "), err
    assert err.count("\n") == 1, err
    assert not (snake_workspace / "outputs").exists()


@pytest.mark.parametrize("name", ["single-quote", "dollar-paren", "marker", "long"])
def test_snakemake_s_first_job_refuses_the_value(name: str, snake_workspace: Path) -> None:
    result = _snakemake(snake_workspace, *_config(snake_workspace, signal=HOSTILE[name]))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "agc check-parameters: error: " in output
    assert "'signal'" in output or "after 'signal='" in output
    assert not list(snake_workspace.rglob(CANARY)), "a value ran"
    assert not (snake_workspace / "outputs" / "dataset.json").exists()


@pytest.mark.parametrize("name", list(HOSTILE))
def test_snakemake_s_commands_hold_the_value_as_one_word(name: str, snake_workspace: Path) -> None:
    """The first job's command (Snakemake's dry run prints it) holds the value as one shell
    word, in the checked lines and in papermill's arguments."""
    value = HOSTILE[name]
    config = _config(snake_workspace, samples=value)
    result = _snakemake(snake_workspace, "--dry-run", "--printshellcmds", *config)
    assert result.returncode == 0, result.stdout + result.stderr
    start = result.stdout.index("printf '%s\\n' ")
    words = shlex.split(result.stdout[start:].split("\n\n")[0].strip())
    lines = words[2].split("\n")
    assert f"samples={value}" in "\n".join(lines)
    assert words[words.index("samples") + 1] == value
    assert not list(snake_workspace.rglob(CANARY))
