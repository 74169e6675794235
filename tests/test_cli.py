"""The ``agc`` command line (click): stage commands with options generated from the parameter
schema, the spellings the specifications use, one-line errors, short output or ``--json``."""

from __future__ import annotations

import ast
import inspect
import itertools
import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from agc import cli
from agc.core import parameters
from agc.core.errors import AGCError
from agc.workflow import stages

REPO = Path(__file__).resolve().parents[1]


def _command(name: str) -> click.Command:
    return cli.commands()[name]


def _parse(line: str) -> dict[str, Any]:
    """The keywords ``agc LINE`` would call its function with (parsed, not run)."""
    tokens = shlex.split(line)
    names = list(cli.commands())
    name = next(n for n in sorted(names, key=len, reverse=True) if f"{line} ".startswith(f"{n} "))
    args = tokens[len(name.split()) :]
    with _command(name).make_context(name, args) as ctx:
        params = dict(ctx.params)
    params.pop("as_json")
    params.pop("debug")
    return params


def _record(monkeypatch: pytest.MonkeyPatch, stage: str, result: Any = None) -> list[dict]:
    """Replace stage function ``stage`` by one recording its keywords."""
    calls: list[dict[str, Any]] = []

    def record(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return {} if result is None else result

    monkeypatch.setitem(stages.STAGES, stage, record)
    return calls


def _parameter_options(command: click.Command) -> dict[str, click.Option]:
    return {
        p.name: p
        for p in command.params
        if isinstance(p, click.Option) and p.name in parameters.WORKFLOW_PARAMETERS
    }


# --------------------------------------------------------------------------- commands


def test_every_stage_has_its_command_calling_the_stage_function(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
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
        "optimise",
        "report",
        "archive",
    ]
    for name in stages.STAGES:
        calls = _record(monkeypatch, name)
        assert cli.main([name]) == 0, name
        assert len(calls) == 1, f"agc {name} did not call stages.STAGES[{name!r}]"


def test_maintenance_commands_are_grouped_and_internal_ones_hidden(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert [n for n in cli.commands() if n.startswith("bench")] == [
        "bench events",
        "bench scaleout",
        "bench formats",
        "bench dask",
        "bench ml",
        "bench stats",
    ]
    assert cli.main(["--help"]) == 0
    listing = capsys.readouterr().out
    assert "check-parameters" not in listing
    assert re.search(r"^  bench +Throughput benchmarks", listing, re.MULTILINE)
    assert not re.search(r"^  bench-", listing, re.MULTILINE)
    assert listing.index("run-serial") < listing.index("dataset") < listing.index("archive")


def test_check_parameters_is_hidden_but_works(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.commands()["check-parameters"].hidden
    monkeypatch.setattr(sys, "stdin", _Stdin("max_files=2\nskip_bad_files=true\n"))
    assert cli.main(["check-parameters", "--json"]) == 0
    parsed = json.loads(capsys.readouterr().out)
    assert parsed == {"parameters": {"max_files": 2, "skip_bad_files": True}}
    monkeypatch.setattr(sys, "stdin", _Stdin("max_files=0\n"))
    assert cli.main(["check-parameters"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("agc check-parameters: error: ")
    assert err.count("\n") == 1


def test_check_parameters_checks_what_the_parameters_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing signal declaration is the first step's one-line error, with a suggestion."""
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(sys, "stdin", _Stdin("signal=inputs/signals/zprime_1001.yaml\n"))
    assert cli.main(["check-parameters"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "agc check-parameters: error: signal declaration not found: "
        "inputs/signals/zprime_1001.yaml; did you mean inputs/signals/"
    )
    assert "inputs/signals/zprime_1000.yaml" in err
    assert err.endswith("?\n")
    assert err.count("\n") == 1


class _Stdin:
    def __init__(self, text: str) -> None:
        self.text = text

    def read(self) -> str:
        return self.text


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize("name", list(stages.STAGES))
def test_stage_options_are_the_stage_s_workflow_parameters_from_the_schema(name: str) -> None:
    options = _parameter_options(_command(name))
    assert set(options) == set(stages.stage_parameters(stages.STAGES[name]))
    for parameter, option in options.items():
        dashed = "--" + parameter.replace("_", "-")
        assert option.opts[0] == dashed, f"agc {name} {option.opts}"
        assert option.default == parameters.default(parameter), f"agc {name} {dashed}"
        assert option.help == parameters.help_text(parameter)
        if parameters.json_type(parameter) == "boolean":
            assert option.secondary_opts == [f"--no-{dashed[2:]}"]


#: Options named like a workflow parameter that mean something else (checked to stay few).
OTHER_MEANING = {
    ("bench events", "inputs"),
    ("bench scaleout", "inputs"),
    ("bench dask", "inputs"),
    ("bench ml", "inputs"),
}


def test_every_option_named_after_a_parameter_has_the_schema_s_default() -> None:
    seen: set[str] = set()
    others: set[tuple[str, str]] = set()
    for name, command in cli.commands().items():
        for param in command.params:
            if (name, param.name) in OTHER_MEANING:
                others.add((name, str(param.name)))
            elif param.name in parameters.WORKFLOW_PARAMETERS:
                seen.add(param.name)
                assert param.default == parameters.default(param.name), f"agc {name}"
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


#: Command lines in the snake_case spellings of the specifications, Makefile and README, with
#: what each must parse to.
SNAKE_CASE = [
    (
        "histograms --max_files 3 --partial_dir p --skip_bad_files",
        {"max_files": 3, "partial_dir": "p", "skip_bad_files": True},
    ),
    ("merge --partial_dir p --skip_bad_files false", {"partial_dir": "p", "skip_bad_files": False}),
    ("merge --skip_bad_files=true", {"skip_bad_files": True}),
    ("histograms --use_inference false --workers 3", {"use_inference": False, "workers": 3}),
    ("fit --plots_dir p", {"plots_dir": "p"}),
    ("report --notebooks_dir n", {"notebooks_dir": "n"}),
    ("ml-fit --main_fit f.json", {"main_fit": "f.json"}),
    ("archive --allow_dirty", {"allow_dirty": True}),
    (
        "reinterpret --signal inputs/signals/z.yaml --max_files 1 --scheduler ''",
        {"signal": "inputs/signals/z.yaml", "max_files": 1, "scheduler": ""},
    ),
]

DASHED = [
    (
        "histograms --max-files 3 --partial-dir p --skip-bad-files --no-use-inference",
        {"max_files": 3, "partial_dir": "p", "skip_bad_files": True, "use_inference": False},
    ),
    ("merge --no-skip-bad-files", {"skip_bad_files": False}),
    ("merge", {"skip_bad_files": False, "use_inference": True}),
    ("archive --allow-dirty --dest d", {"allow_dirty": True, "dest": "d"}),
    ("fit --workspace-file w.json", {"workspace": "w.json"}),
    (
        "run-serial reana.yaml --workdir w -p a=1 -p b=2",
        {"workdir": "w", "parameter": ("a=1", "b=2")},
    ),
    ("reinterpret --partials a b --poi mu_x", {"partials": ("a", "b"), "signal_poi": "mu_x"}),
    ("reinterpret --partials a --partials b", {"partials": ("a", "b")}),
    ("bench stats --workspace-file w.json --repeats 1", {"workspace": "w.json", "repeats": 1}),
]


@pytest.mark.parametrize(("line", "expected"), SNAKE_CASE + DASHED)
def test_dashed_and_snake_case_spellings_parse(line: str, expected: dict[str, Any]) -> None:
    params = _parse(line)
    assert {key: params[key] for key in expected} == expected


def test_hidden_spellings_stay_out_of_help_and_suggestions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["histograms", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--max-files" in text
    assert "--skip-bad-files / --no-skip-bad-files" in text
    assert "--max_files" not in text
    assert "--partial_dir" not in text
    assert cli.main(["histograms", "--max-file", "2"]) == 2
    err = capsys.readouterr().err
    assert "Did you mean" in err
    assert "'--max-files'" in err
    assert "--max_files" not in err


def test_the_workspace_file_and_the_container_workdir_have_distinct_names() -> None:
    fit = {opt for p in _command("fit").params for opt in p.opts}
    serial = {opt for p in _command("run-serial").params for opt in p.opts}
    assert "--workspace-file" in fit
    assert "--workdir" in serial
    assert "--workspace" not in fit | serial


@pytest.mark.parametrize(
    ("args", "name", "value"),
    [
        (["--workers", "0"], "workers", "0"),
        (["--chunksize", "ten"], "chunksize", "ten"),
        (["--max-files", "0"], "max_files", "0"),
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
    assert cli.main(["histograms", *args]) == 2
    dashed = name.replace("_", "-")
    err = capsys.readouterr().err
    assert err == f"agc histograms: error: Invalid value for '--{dashed}': {expected.value}\n"


@pytest.mark.parametrize(
    ("args", "suggestion"),
    [
        (["histogram"], "Did you mean 'histograms'?"),
        (["bench-ml"], "Did you mean 'bench ml'?"),
        (["bench", "stat"], "Did you mean 'stats'?"),
        (["fit", "--workspace", "w.json"], "Did you mean '--workspace-file'?"),
        (["merge", "--skip-bad-file"], "'--skip-bad-files'"),
    ],
)
def test_mistyped_commands_and_options_get_a_suggestion_in_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], suggestion: str
) -> None:
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert suggestion in err


# --------------------------------------------------------------------------- calls and output


def test_histograms_is_one_pass_unless_a_partial_dir_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _record(monkeypatch, "histograms")
    assert cli.main(["histograms", "--workers", "3", "--output", "h.root"]) == 0
    assert cli.main(["histograms", "--partial-dir", "p"]) == 0
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


def test_stage_functions_get_their_keywords(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _record(monkeypatch, "archive")
    assert cli.main(["archive", "--dest", "d", "--allow-dirty"]) == 0
    assert calls == [{"outdir": "outputs", "inputs": "embedded", "dest": "d", "allow_dirty": True}]
    calls = _record(monkeypatch, "reinterpret")
    assert cli.main(["reinterpret", "--poi", "mu_x", "--partials", "a", "b"]) == 0
    assert cli.main(["reinterpret"]) == 0
    assert cli.main(["reinterpret", "--partials"]) == 0
    given, absent, empty = calls
    assert given["signal_poi"] == "mu_x"
    assert given["partials"] == ["a", "b"]
    assert absent["partials"] is None
    assert absent["signal_poi"] is None
    assert empty["partials"] == []
    calls = _record(monkeypatch, "fit")
    assert cli.main(["fit", "--workspace-file", "w.json", "--plots-dir", "p"]) == 0
    assert calls[0]["workspace"] == "w.json"
    assert calls[0]["plots_dir"] == "p"


def test_a_short_summary_by_default_and_the_result_as_json_with_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    result = stages.ReportStageResult(report=Path("r.html"), provenance=Path("p.json"))
    _record(monkeypatch, "report", result)
    assert cli.main(["report"]) == 0
    assert capsys.readouterr().out == "report: r.html\nprovenance: p.json\n"
    assert cli.main(["report", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"report": "r.html", "provenance": "p.json"}


def test_the_summary_abbreviates_large_values() -> None:
    text = cli.summary(
        {
            "output": "h.root",
            "value": 1.23456789,
            "poi": {"name": "mu", "value": 1.0},
            "cutflow": {str(i): {"all": i} for i in range(9)},
            "plots": [f"p{i}.pdf" for i in range(12)],
            "steps": [{"name": "dataset", "seconds": 1.0}, {"name": "histograms", "seconds": 2.0}],
            "ranking": [{"rank": 1}],
        }
    )
    assert text.splitlines() == [
        "output: h.root",
        "value: 1.235",
        "poi: name=mu, value=1",
        "cutflow: 9 entries",
        "plots: 12 items",
        "steps: dataset, histograms",
        "ranking: 1 item",
    ]


def test_reinterpret_prints_only_its_summary_keys(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _record(monkeypatch, "reinterpret", {"signal": "z", "limits": None, "plots": ["x.pdf"]})
    assert cli.main(["reinterpret", "--signal", "inputs/signals/z.yaml", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"signal": "z", "limits": None}


def test_reinterpret_resolves_a_bare_signal_name_or_suggests_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    calls = _record(monkeypatch, "reinterpret")
    assert cli.main(["reinterpret", "--signal", "zprime_1000"]) == 0
    assert calls[0]["signal"] == "inputs/signals/zprime_1000.yaml"
    assert cli.main(["reinterpret", "--signal", "zprime_100"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "agc reinterpret: error: signal 'zprime_100' is neither 'ttbar' nor a signal "
        "declaration; did you mean inputs/signals/zprime_1000.yaml"
    )
    assert err.count("\n") == 1
    assert len(calls) == 1


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


def test_bench_prints_its_table_or_with_json_its_figures(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import agc.bench

    figures = {"executor": "iterative", "events": 10}
    calls: list[tuple[Any, dict]] = []
    monkeypatch.setattr(agc.bench, "run_benchmark", lambda i, **o: calls.append((i, o)) or figures)
    monkeypatch.setattr(agc.bench, "format_report", lambda r: f"TABLE {r['events']}")
    assert cli.main(["bench", "events", "--executor", "iterative", "--workers", "1"]) == 0
    assert capsys.readouterr().out == "TABLE 10\n"
    assert calls[0] == (
        None,
        {"scale": 1.0, "executor": "iterative", "workers": 1, "chunksize": 100000},
    )
    assert cli.main(["bench", "events", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == figures


def test_a_library_error_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["summary", "--inputs", str(tmp_path / "missing.json")]
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("agc summary: error: ")
    assert err.count("\n") == 1
    assert "missing.json" in err
    assert cli.main([*args, "--debug"]) == 2
    debug = capsys.readouterr().err
    assert debug.startswith("Traceback (most recent call last):")
    assert debug.endswith(err)
    monkeypatch.setenv(cli.DEBUG_ENV, "1")
    assert cli.main(args) == 2
    assert capsys.readouterr().err == debug


def test_stdout_carries_only_the_result(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """What a library writes straight to file descriptor 1 (MINUIT's C++ warnings) goes to
    stderr, so ``agc ... --json > result.json`` stays valid JSON."""
    import os

    def noisy(**kwargs: Any) -> dict[str, Any]:
        os.write(1, b"W MnPosDef Matrix forced pos-def\n")
        print("a progress line")
        return {"ok": True}

    monkeypatch.setattr(_command("summary"), "callback", noisy)
    assert cli.main(["summary", "--json"]) == 0
    out, err = capfd.readouterr()
    assert json.loads(out) == {"ok": True}
    assert "MnPosDef" in err
    assert "a progress line" in err


# --------------------------------------------------------------------------- help and callers


def _all_help_pages() -> list[list[str]]:
    return [[], ["bench"], *([*name.split()] for name in cli.commands())]


@pytest.mark.parametrize("args", _all_help_pages(), ids=" ".join)
def test_help_has_no_markup(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([*args, "--help"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Usage: agc")
    for markup in ("``", ":func:", ":mod:", ":class:", ":data:", ":meth:", "issue #"):
        assert markup not in text, f"agc {' '.join(args)} --help shows {markup}"


def test_every_agc_call_of_the_makefile_parses() -> None:
    """The Makefile's ``$(BIN)/agc ...`` lines name existing commands and options."""
    lines = re.findall(r"\$\(BIN\)/agc ([^\n;|&]+)", (REPO / "Makefile").read_text())
    assert len(lines) >= 10
    for line in lines:
        without_lists = re.sub(r"\$\((PARAMS|ARCHIVE_ARGS|REPRODUCE_ARGS)\)", "", line)
        counts = re.sub(r"\$\(\w+_CORES\)", "2", without_lists)
        _parse(re.sub(r"\$\(\w+\)", "x", counts).strip())


def test_every_agc_call_of_the_snakefile_parses() -> None:
    """The Snakefile's ``agc`` calls (its rules' shell strings, ``{params.name}`` being the
    parameter ``name``) parse; a workflow-parameter option gets its own parameter's value."""
    text = (REPO / "workflow" / "Snakefile").read_text()
    shells = [
        "".join(ast.literal_eval(line.strip()) for line in block.splitlines() if line.strip())
        for block in re.findall(r"^    shell:\n((?:        \".*\"\n)+)", text, re.MULTILINE)
    ]
    calls = [re.split(r" (?:&&|\|) ", s.split(" agc ", 1)[1])[0] for s in shells if " agc " in s]
    assert len(calls) == 3
    for call in calls:
        for flag, value in itertools.pairwise(shlex.split(call)):
            if flag.startswith("--"):
                assert value == f"{{params.{flag[2:].replace('-', '_')}}}", call
        _parse(re.sub(r"\{params\.(\w+)\}", _default_word, call))


def _default_word(match: re.Match[str]) -> str:
    """The default of the parameter named by ``match`` as one shell word."""
    return shlex.quote(str(parameters.default(match.group(1))))
