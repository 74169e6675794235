"""The workflow parameters: one schema for reana.yaml, the CWL job file, notebooks and the CLI.

``schemas/parameters.schema.json`` is the one source of every workflow parameter's name, JSON
type, default and help (``"default"`` and ``"description"`` of each property); the specs, the
notebooks' ``parameters`` cells and the CLI options are checked against it by the tests, and the
stage functions (:mod:`agc.workflow.stages`) and the CLI take their defaults from it.

Parameters arrive as strings (``-p name=value``, papermill, the job file) or typed (YAML, a
notebook's ``parameters`` cell); :func:`coerce` turns strings into the declared types and
:func:`validate_parameters` checks them against the schema before any work starts, naming the key
and the accepted values on error.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from agc.core.errors import AGCError
from agc.core.validation import load_schema, validate

#: Characters that could end the shell quoting a workflow step puts a value in (reana.yaml's
#: commands are expanded by string substitution and run with ``bash -c``): refused in every
#: string parameter (the schema's ``$defs/shellSafe``).
SHELL_UNSAFE = frozenset("\"'$`\\;") | frozenset(map(chr, [*range(32), 127]))

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def declared() -> dict[str, Any]:
    """Name -> JSON-schema property of every known parameter (a copy: safe to modify)."""
    return copy.deepcopy(load_schema("parameters")["properties"])


#: The workflow parameters in the schema's order (reana.yaml ``inputs.parameters`` declares the
#: same names in the same order).
WORKFLOW_PARAMETERS: tuple[str, ...] = tuple(declared())

#: The event-processing executors (the schema's enum of ``executor``): one definition for the
#: CLI, the histogram stage and the benchmarks.
EXECUTORS: tuple[str, ...] = tuple(declared()["executor"]["enum"])


def _spec(name: str) -> dict[str, Any]:
    spec = load_schema("parameters")["properties"].get(name)
    if spec is None:
        raise AGCError(f"unknown parameter '{name}'; known: {', '.join(sorted(declared()))}")
    return spec


def defaults() -> dict[str, Any]:
    """Name -> default value of every workflow parameter (a new dict on each call)."""
    return {name: _spec(name)["default"] for name in WORKFLOW_PARAMETERS}


def default(name: str) -> Any:
    """The default value of parameter ``name``."""
    return _spec(name)["default"]


def help_text(name: str) -> str:
    """The one-line help (schema ``description``) of parameter ``name``."""
    return str(_spec(name)["description"])


def json_type(name: str) -> str:
    """The JSON type of parameter ``name``: ``"string"``, ``"integer"`` or ``"boolean"``."""
    return str(_spec(name)["type"])


def coerce(name: str, value: Any) -> Any:
    """Convert a string value to the type parameter ``name`` declares (int, bool or str)."""
    kind = _spec(name).get("type")
    if not isinstance(value, str):
        return value
    if kind == "integer":
        try:
            return int(value.strip())
        except ValueError:
            raise AGCError(f"parameter '{name}' must be an integer, got {value!r}") from None
    if kind == "boolean":
        lowered = value.strip().lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE
        raise AGCError(f"parameter '{name}' must be true or false, got {value!r}")
    return value


def refuse_shell_escapes(parameters: dict[str, Any]) -> None:
    """Raise :class:`AGCError` naming the first string parameter holding a character of
    :data:`SHELL_UNSAFE` (a value that could escape the quoting of a workflow command)."""
    for name, value in parameters.items():
        if not isinstance(value, str):
            continue
        bad = sorted({c for c in value if c in SHELL_UNSAFE})
        if bad:
            shown = ", ".join(repr(c) for c in bad)
            raise AGCError(
                f"parameter '{name}' contains {shown}: quotes, $, backquotes, backslashes, ';' "
                "and control characters (newlines) are refused, they could escape the shell "
                "quoting of the workflow's commands"
            )


def validate_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """Coerce and validate ``parameters``; return the typed dict or raise :class:`AGCError`.

    A string holding a character that could escape a step's shell quoting is refused first
    (:func:`refuse_shell_escapes`), then the schema is checked."""
    refuse_shell_escapes(parameters)
    typed = {name: coerce(name, value) for name, value in parameters.items()}
    try:
        validate(typed, "parameters", "parameters")
    except AGCError as exc:
        # Add the accepted values for enumerations to the one-line message.
        for name, spec in declared().items():
            if f"'{name}'" in str(exc) and "enum" in spec:
                raise AGCError(f"{exc} (accepted: {', '.join(map(str, spec['enum']))})") from None
        raise
    return typed


def parse_parameter_lines(text: str) -> dict[str, Any]:
    """The ``name=value`` lines of ``text`` (what ``agc check-parameters`` reads on standard
    input), validated with :func:`validate_parameters`; a line without ``=`` (a value that held a
    newline), an unknown or a repeated name is refused."""
    lines = text.splitlines()
    refuse_continued_lines(lines)
    return parameter_lines(lines)


def parameter_lines(lines: list[str]) -> dict[str, Any]:
    """:func:`parse_parameter_lines` of the lines ``lines`` (each ``name=value``)."""
    found: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        name, sep, value = line.partition("=")
        if not sep or not name:
            raise AGCError(f"parameters line {number}: expected name=value, got {line!r}")
        if name in found:
            raise AGCError(f"parameter '{name}' given twice (line {number})")
        found[name] = value
    return validate_parameters(found)


def refuse_continued_lines(lines: list[str]) -> None:
    """Raise :class:`AGCError` when a value of the ``name=value`` lines ``lines`` runs onto a
    next line: a line after the first that does not start a parameter not seen yet."""
    names = [line.partition("=")[0] for line in lines]
    for number, (line, name) in enumerate(zip(lines, names, strict=True)):
        fresh = "=" in line and name in WORKFLOW_PARAMETERS and name not in names[:number]
        if not fresh and number > 0:
            raise AGCError(
                f"a parameter value holds a newline (line {number + 1} after {COMMAND_MARKER}, "
                f"after '{names[number - 1]}='): refused, it could escape the shell quoting of "
                "the workflow's commands"
            )


#: The line of a workflow command after which its ``name=value`` lines follow
#: (:func:`parameters_in_command`).
COMMAND_MARKER = "AGC_PARAMETERS"


def parameters_in_command(text: str) -> dict[str, Any]:
    """The parameter values written into a workflow command's own text ``text``, validated.

    the first command of every reana.yaml step is ``agc check-parameters --from-command
    <<<"$BASH_EXECUTION_STRING"; exit`` followed by the line :data:`COMMAND_MARKER` and one
    ``name=${name}`` line per parameter: bash runs the first line and exits, so it never parses
    the substituted values, and this reads them from the command text bash was given. Every
    workflow parameter must appear exactly once and nothing else may follow: a value holding a
    newline adds a line, which is refused (:func:`parse_parameter_lines`); no marker (the command
    text was not passed) is refused too.
    """
    lines = text.split("\n")
    if COMMAND_MARKER not in lines:
        raise AGCError(
            f"no {COMMAND_MARKER} line in the command text on standard input (bash sets "
            "$BASH_EXECUTION_STRING only for bash -c)"
        )
    block = lines[lines.index(COMMAND_MARKER) + 1 :]
    if block and block[-1] == "":  # the newline a here-string adds
        block.pop()
    refuse_continued_lines(block)
    found = parameter_lines(block)
    missing = [name for name in WORKFLOW_PARAMETERS if name not in found]
    if missing:
        raise AGCError(f"parameters {missing} are missing after the {COMMAND_MARKER} line")
    return found


def markdown_table() -> str:
    """The parameters as the Markdown table of the README (name, default, meaning), from the
    schema; tests/core/test_parameters.py checks that the README holds exactly this table."""
    rows = ["| name | default | meaning |", "| --- | --- | --- |"]
    for name in WORKFLOW_PARAMETERS:
        value = json.dumps(default(name)) if default(name) == "" else str(default(name))
        if isinstance(default(name), bool):
            value = str(default(name)).lower()
        rows.append(f"| `{name}` | `{value}` | {help_text(name)} |")
    return "\n".join(rows)
