"""The ``agc`` command line: a table of subcommands, options generated from the parameter schema."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from agc import cli
from agc.core import parameters
from agc.core.errors import AGCError
from agc.workflow import stages

#: Every subcommand and option name of the CLI before the table (README, Makefile, specs and
#: tests use them): each must still parse.
OPTIONS_BEFORE: dict[str, list[str]] = {
    "generate": ["--output", "--recipe", "--scale", "--force", "--workers"],
    "summary": ["--inputs"],
    "histograms": [
        "--inputs",
        "--samples",
        "--executor",
        "--workers",
        "--chunksize",
        "--max_files",
        "--scheduler",
        "--output",
        "--partial_dir",
        "--skip_bad_files",
    ],
    "merge": ["--partial_dir", "--output", "--skip_bad_files"],
    "model": ["--histograms", "--config", "--signal", "--poi", "--output"],
    "fit": ["--workspace", "--output", "--plots_dir"],
    "report": ["--outdir", "--notebooks_dir", "--output"],
    "reinterpret": [
        "--signal",
        "--inputs",
        "--outdir",
        "--poi",
        "--executor",
        "--workers",
        "--chunksize",
        "--max_files",
        "--scheduler",
        "--config",
        "--partials",
    ],
    "archive": ["--outdir", "--dest", "--inputs", "--allow_dirty"],
    "run-serial": ["--parameter", "-p", "--option", "-o"],
    "run-cwl": ["--parameter", "-p"],
    "bench": ["--inputs", "--scale", "--executor", "--workers", "--chunksize"],
}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _actions(sub: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {flag: a for a in sub._actions for flag in a.option_strings}


def test_every_stage_has_its_subcommand_calling_the_stage_function() -> None:
    for name, function in stages.STAGES.items():
        assert name in cli.COMMANDS, f"no agc subcommand for stage {name}"
        assert cli.COMMANDS[name].function is function, name
    assert list(stages.STAGES) == [
        "dataset",
        "histograms",
        "merge",
        "model",
        "fit",
        "ml-model",
        "ml-fit",
        "ml",
        "reinterpret",
        "report",
        "archive",
    ]


def test_the_parser_has_exactly_the_table_s_subcommands() -> None:
    assert list(_subparsers()) == list(cli.COMMANDS)


@pytest.mark.parametrize("name", list(stages.STAGES))
def test_stage_options_are_the_stage_s_workflow_parameters_from_the_schema(name: str) -> None:
    sub = _subparsers()[name]
    generated = {a.dest for a in sub._actions if a.dest in parameters.WORKFLOW_PARAMETERS}
    assert generated == set(stages.stage_parameters(stages.STAGES[name]))
    for dest in generated:
        action = _actions(sub)[f"--{dest}"]
        assert action.dest == dest
        assert action.default == parameters.default(dest), f"agc {name} --{dest}"
        assert parameters.help_text(dest) in action.help


#: Options named like a workflow parameter that mean something else (checked to stay few).
OTHER_MEANING = {
    ("bench", "inputs"),
    ("bench-dask", "inputs"),
}  # None: a dataset generated at --scale


def test_every_option_default_named_after_a_parameter_is_the_schema_s() -> None:
    seen: set[str] = set()
    others: set[tuple[str, str]] = set()
    for name, sub in _subparsers().items():
        for action in sub._actions:
            if (name, action.dest) in OTHER_MEANING:
                others.add((name, action.dest))
            elif action.dest in parameters.WORKFLOW_PARAMETERS:
                seen.add(action.dest)
                assert f"--{action.dest}" in action.option_strings, f"agc {name}"
                assert action.default == parameters.default(action.dest), (
                    f"agc {name} --{action.dest}: default {action.default!r}"
                )
    assert seen == set(parameters.WORKFLOW_PARAMETERS), "a workflow parameter has no agc option"
    assert others == OTHER_MEANING


def test_stage_functions_take_the_schema_s_defaults() -> None:
    for name, function in stages.STAGES.items():
        signature = inspect.signature(function).parameters
        for parameter in stages.stage_parameters(function):
            assert signature[parameter].default == parameters.default(parameter), (
                f"stages.{name}({parameter}=...)"
            )
            assert signature[parameter].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize(
    ("command", "options"), [(c, o) for c, opts in OPTIONS_BEFORE.items() for o in opts]
)
def test_every_option_name_of_before_still_exists(command: str, options: str) -> None:
    assert options in _actions(_subparsers()[command]), f"agc {command} {options}"


@pytest.mark.parametrize(
    ("args", "name", "value"),
    [
        (["--workers", "0"], "workers", "0"),
        (["--chunksize", "ten"], "chunksize", "ten"),
        (["--max_files", "0"], "max_files", "0"),
        (["--executor", "spark"], "executor", "spark"),
        (["--scheduler", "my-laptop"], "scheduler", "my-laptop"),
        (["--skip_bad_files", "maybe"], "skip_bad_files", "maybe"),
        (["--outdir", "../elsewhere"], "outdir", "../elsewhere"),
    ],
)
def test_bad_values_are_the_schema_s_one_line_message_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], name: str, value: str
) -> None:
    with pytest.raises(AGCError) as expected:
        parameters.validate_parameters({name: value})
    with pytest.raises(SystemExit) as info:
        cli.main(["histograms", *args])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err == f"agc histograms: error: argument --{name}: {expected.value}\n"


def test_boolean_options_are_flags_or_take_a_value() -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["merge"]).skip_bad_files is False
    assert parser.parse_args(["merge", "--skip_bad_files"]).skip_bad_files is True
    assert parser.parse_args(["merge", "--skip_bad_files", "false"]).skip_bad_files is False
    assert parser.parse_args(["merge", "--skip_bad_files", "yes"]).skip_bad_files is True


def _record(monkeypatch: pytest.MonkeyPatch, name: str, result: Any = None) -> list[dict]:
    """Replace the function of subcommand ``name`` by one recording its keywords."""
    calls: list[dict[str, Any]] = []

    def record(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return {} if result is None else result

    command = dataclasses.replace(cli.COMMANDS[name], function=record)
    monkeypatch.setitem(cli.COMMANDS, name, command)
    return calls


def test_histograms_is_one_pass_unless_a_partial_dir_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _record(monkeypatch, "histograms")
    assert cli.main(["histograms", "--workers", "3", "--output", "h.root"]) == 0
    assert cli.main(["histograms", "--partial_dir", "p"]) == 0
    one_pass, partials = calls
    defaults = {
        name: parameters.default(name) for name in stages.stage_parameters(stages.histograms)
    }
    assert one_pass == {
        **defaults,
        "workers": 3,
        "output": "h.root",
        "partial_dir": None,
        "partials": False,
    }
    assert partials["partials"] is True
    assert partials["partial_dir"] == "p"


def test_library_functions_get_keywords_never_a_namespace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _record(monkeypatch, "archive")
    assert cli.main(["archive", "--dest", "d", "--allow_dirty"]) == 0
    assert calls == [{"outdir": "outputs", "inputs": "embedded", "dest": "d", "allow_dirty": True}]
    calls = _record(monkeypatch, "reinterpret")
    assert cli.main(["reinterpret", "--poi", "mu_x", "--partials", "a", "b"]) == 0
    (kwargs,) = calls
    assert kwargs["signal_poi"] == "mu_x"
    assert kwargs["partials"] == ["a", "b"]
    assert not any(isinstance(v, argparse.Namespace) for v in kwargs.values())


def test_typed_results_print_their_to_dict(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    result = stages.ReportStageResult(report=Path("r.html"), provenance=Path("p.json"))
    _record(monkeypatch, "report", result)
    assert cli.main(["report"]) == 0
    assert json.loads(capsys.readouterr().out) == {"report": "r.html", "provenance": "p.json"}


def test_reinterpret_prints_only_its_summary_keys(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _record(monkeypatch, "reinterpret", {"signal": "z", "limits": None, "plots": ["x.pdf"]})
    assert cli.main(["reinterpret", "--signal", "inputs/signals/z.yaml"]) == 0
    assert json.loads(capsys.readouterr().out) == {"signal": "z", "limits": None}


def test_reinterpret_without_a_declaration_writes_the_note_and_prints_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(["reinterpret", "--signal", "ttbar", "--outdir", "run"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "signal='ttbar' is the main measurement" in err
    note = (tmp_path / "run" / "reinterpretation" / "NOTE.txt").read_text()
    assert note.startswith("signal=ttbar: no signal declaration given, nothing reinterpreted.")


def test_a_library_error_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["summary", "--inputs", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("agc summary: error: ")
    assert err.count("\n") == 1
    assert "missing.json" in err


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_every_subcommand_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main([name, "--help"])
    assert info.value.code == 0
    assert cli.COMMANDS[name].help in " ".join(capsys.readouterr().out.split())
