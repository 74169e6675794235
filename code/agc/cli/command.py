"""The command and group classes of ``agc``: every command takes ``--json`` and ``--debug``,
runs with stdout sent to stderr and prints its result as a short summary (or JSON); a user
mistake is one line on stderr and exit code 2."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import click

from agc.cli.options import AliasedOption
from agc.core import parameters as schema
from agc.core.errors import AGCError

#: Environment variable that turns on ``--debug`` for every command.
DEBUG_ENV = "AGC_DEBUG"

#: The sections of ``agc --help``, in order: section -> its title.
SECTIONS: dict[str, str] = {
    "run": "Run the whole workflow",
    "stage": "Workflow stages (in the order of reana.yaml)",
    "data": "Datasets and archives",
    "tools": "Maintenance",
}

#: click settings of every command: ``-h`` as ``--help``, help up to 100 columns wide.
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _short(value: Any) -> str:
    """One value of a summary line: scalars as they are (floats to 4 significant digits),
    small mappings and lists inline, a list of named records (e.g. steps) as their names,
    large ones as their size."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if value is None or isinstance(value, str | int | bool | os.PathLike):
        return str(value)
    if isinstance(value, Mapping):
        if len(value) <= 4 and all(
            not isinstance(v, Mapping | list | tuple) for v in value.values()
        ):
            return ", ".join(f"{k}={_short(v)}" for k, v in value.items())
        return f"{len(value)} entries"
    if isinstance(value, list | tuple):
        names = [v.get("name") for v in value if isinstance(v, Mapping)]
        if value and len(names) == len(value) and all(isinstance(n, str) for n in names):
            return ", ".join(names)
        if len(value) <= 3 and all(not isinstance(v, Mapping | list | tuple) for v in value):
            return ", ".join(_short(v) for v in value)
        return f"{len(value)} item{'' if len(value) == 1 else 's'}"
    return str(value)


def as_data(result: Any) -> Any:
    """``to_dict()`` of a typed result, other results as they are."""
    return result.to_dict() if hasattr(result, "to_dict") else result


def summary(data: Any) -> str:
    """The short human summary of a result's data: one ``key: value`` line per entry."""
    if isinstance(data, Mapping):
        return "\n".join(f"{key}: {_short(value)}" for key, value in data.items())
    return "" if data is None else str(data)


def _debugging(flag: bool) -> bool:
    return flag or os.environ.get(DEBUG_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def debugging() -> bool:
    """True inside a command run with ``--debug`` (or :data:`DEBUG_ENV` set)."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx.meta.get(DEBUG_ENV)) if ctx is not None else _debugging(False)


@contextlib.contextmanager
def _stdout_is_stderr() -> Iterator[None]:
    """Inside, stdout is stderr: ``sys.stdout`` and file descriptor 1 (also for child
    processes), so that what libraries write to stdout (MINUIT's C++ warnings, progress lines)
    does not mix with the result printed on stdout afterwards."""
    with contextlib.redirect_stdout(sys.stderr):
        try:
            saved = os.dup(1)
            os.dup2(2, 1)
        except OSError:  # no usable descriptors (embedded use): leave them alone
            yield
            return
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


class AgcCommand(click.Command):
    """A command of ``agc``: adds ``--json`` and ``--debug``, runs the callback with stdout sent
    to stderr, then prints the result (``human(result)``, or its data as JSON with ``--json``).

    ``section``: where ``agc --help`` lists it; ``keep``: the keys of the result printed (None:
    all); ``human``: the text printed without ``--json`` (None: :func:`summary`); ``status``: the
    exit code of a result (None: 0). A snake_case boolean flag followed by a value
    (``--skip_bad_files false``) is read as ``--skip-bad-files`` / ``--no-skip-bad-files``."""

    def __init__(
        self,
        *args: Any,
        section: str = "tools",
        keep: Sequence[str] | None = None,
        human: Callable[[Any], str] | None = None,
        status: Callable[[Any], int] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("context_settings", CONTEXT_SETTINGS)
        super().__init__(*args, **kwargs)
        self.section = section
        self.keep = tuple(keep) if keep is not None else None
        self.human = human
        self.status = status
        self.params += [
            click.Option(["--json", "as_json"], is_flag=True, help="print the result as JSON"),
            click.Option(["--debug"], is_flag=True, help=f"show tracebacks (also {DEBUG_ENV}=1)"),
        ]

    def _value_flags(self) -> dict[str, AliasedOption]:
        """``--snake_name`` -> the boolean ``--flag/--no-flag`` option it stands for."""
        return {
            f"--{param.name}": param
            for param in self.params
            if isinstance(param, AliasedOption) and param.is_bool_flag and param.secondary_opts
        }

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Rewrite ``--snake_name [true|false]`` to the flag pair, then parse."""
        flags = self._value_flags()
        rewritten: list[str] = []
        tokens = iter(enumerate(args))
        for index, token in tokens:
            name, _, value = token.partition("=")
            param = flags.get(name)
            if param is None or token == "--":
                rewritten.append(token)
                continue
            if not value and index + 1 < len(args) and not args[index + 1].startswith("-"):
                value = args[index + 1]
                next(tokens)
            try:
                on = schema.coerce(str(param.name), value) if value else True
            except AGCError as exc:
                raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
            rewritten.append(param.opts[0] if on else param.secondary_opts[0])
        return super().parse_args(ctx, rewritten)

    def printable(self, result: Any) -> Any:
        """What is printed of ``result``: its data, only the ``keep`` keys when declared."""
        data = as_data(result)
        if self.keep is not None and isinstance(data, Mapping):
            data = {key: data[key] for key in self.keep if key in data}
        return data

    def invoke(self, ctx: click.Context) -> int:
        """Run the callback; print its result; return the exit code (2 on a user error)."""
        as_json = ctx.params.pop("as_json", False)
        debug = _debugging(ctx.params.pop("debug", False))
        ctx.meta[DEBUG_ENV] = debug
        try:
            with _stdout_is_stderr():
                result = super().invoke(ctx)
        except AGCError as exc:
            if debug:
                traceback.print_exc()
            click.echo(f"{ctx.command_path}: error: {exc}", err=True)
            return 2
        except KeyboardInterrupt:
            click.echo(f"{ctx.command_path}: interrupted", err=True)
            return 130
        data = self.printable(result)
        if as_json:
            if data:
                click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
        elif data:
            text = self.human(result) if self.human is not None else summary(data)
            if text:
                click.echo(text)
        return self.status(result) if self.status is not None else 0


class AgcGroup(click.Group):
    """A group listing its commands in the order declared, by section; a mistyped command is
    answered with the closest names (click's ``NoSuchCommand``)."""

    command_class = AgcCommand

    def __init__(self, *args: Any, section: str = "tools", **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", CONTEXT_SETTINGS)
        super().__init__(*args, **kwargs)
        self.section = section

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """The command named by ``args[0]``; a dashed name of a grouped command
        (``bench-ml``) is answered with its spelling (``bench ml``)."""
        try:
            return super().resolve_command(ctx, args)
        except click.NoSuchCommand as exc:
            head, _, tail = exc.command_name.partition("-")
            group = self.commands.get(head)
            if isinstance(group, click.Group) and tail in group.commands:
                exc.possibilities = [f"{head} {tail}"]
            raise

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The commands in the order they were added."""
        return list(self.commands)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """One help section per :data:`SECTIONS` entry."""
        visible = [(n, c) for n, c in self.commands.items() if not c.hidden]
        if not visible:
            return
        width = max(len(name) for name, _ in visible)
        sections = {getattr(command, "section", "tools") for _, command in visible}
        for section, title in SECTIONS.items():
            rows = [
                (name.ljust(width), command.get_short_help_str(limit=200))
                for name, command in visible
                if getattr(command, "section", "tools") == section
            ]
            if rows:
                with formatter.section(title if len(sections) > 1 else "Commands"):
                    formatter.write_dl(rows)


AgcGroup.group_class = AgcGroup


def command(name: str | None = None, **settings: Any) -> Callable[[Callable[..., Any]], Any]:
    """``click.command`` making an :class:`AgcCommand` (or ``settings["cls"]``)."""
    settings.setdefault("cls", AgcCommand)
    return click.command(name, **settings)
