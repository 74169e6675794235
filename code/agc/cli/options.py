"""The options of the ``agc`` commands: hidden snake_case spellings beside the dashed ones, and
the options of the workflow parameters, generated from the parameter schema."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from agc.core import parameters as schema
from agc.core.errors import AGCError
from agc.workflow import stages


class AliasedOption(click.Option):
    """A click option with hidden spellings (``aliases``): accepted on the command line, left
    out of ``--help`` and of error messages, which name the first visible spelling."""

    def __init__(self, *args: Any, aliases: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aliases = tuple(aliases)

    def _visible(self, flags: Sequence[str]) -> list[str]:
        return [flag for flag in flags if flag not in self.aliases]

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        """The help row without the hidden spellings."""
        opts, secondary = self.opts, self.secondary_opts
        self.opts, self.secondary_opts = self._visible(opts), self._visible(secondary)
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts, self.secondary_opts = opts, secondary

    def get_error_hint(self, ctx: click.Context | None) -> str:
        """The option's first visible spelling, quoted."""
        visible = self._visible(self.opts)
        return f"'{visible[0]}'" if visible else super().get_error_hint(ctx)


def _snake(flag: str) -> str:
    """``--max-files`` -> ``--max_files`` (the schema's spelling)."""
    return "--" + flag[2:].replace("-", "_")


def option(*flags: str, **settings: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``click.option`` whose dashed long flags (``--partial-dir``) also accept their
    snake_case spelling (``--partial_dir``) as a hidden alias."""
    aliases = [_snake(flag) for flag in flags if flag.startswith("--") and "-" in flag[2:]]
    return click.option(*flags, *aliases, cls=AliasedOption, aliases=aliases, **settings)


class SchemaValue(click.ParamType):
    """The value of workflow parameter ``parameter``: converted to its JSON type and validated
    against the schema, so a bad value is refused with the schema's message before any work."""

    def __init__(self, parameter: str) -> None:
        self.parameter = parameter
        self.name = schema.json_type(parameter)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The typed, validated value; a refused one fails with the schema's message."""
        try:
            checked = {self.parameter: schema.coerce(self.parameter, value)}
            return schema.validate_parameters(checked)[self.parameter]
        except AGCError as exc:
            self.fail(str(exc), param, ctx)


def parameter_option(name: str, **settings: Any) -> Callable[[Callable[..., Any]], Any]:
    """The option of workflow parameter ``name``: ``--name-with-dashes`` (and the hidden
    ``--name``), default and help from the schema; a boolean is ``--name/--no-name`` and its
    snake_case spelling takes a value (``--skip_bad_files false``, see :class:`AgcCommand`)."""
    flag = "--" + name.replace("_", "-")
    settings = {
        "default": schema.default(name),
        "help": schema.help_text(name),
        "show_default": True,
        **settings,
    }
    if schema.json_type(name) == "boolean":
        return click.option(f"{flag}/--no-{flag[2:]}", name, cls=AliasedOption, **settings)
    spec = schema.declared()[name]
    settings.setdefault("metavar", "[" + "|".join(spec["enum"]) + "]" if "enum" in spec else None)
    settings.setdefault("type", SchemaValue(name))
    aliases = [f"--{name}"] if f"--{name}" != flag else []
    return click.option(flag, *aliases, name, cls=AliasedOption, aliases=aliases, **settings)


def stage_options(stage: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options of the workflow parameters stage ``stage`` takes, in its signature's order."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        for name in reversed(stages.stage_parameters(stages.STAGES[stage])):
            function = parameter_option(name)(function)
        return function

    return decorate


def path_option(*flags: str, default: str, **settings: Any) -> Any:
    """A path option whose value, when not given, the stage derives from ``outdir``
    (``default`` is what ``--help`` shows)."""
    return option(*flags, default=None, show_default=default, metavar="PATH", **settings)


def processing_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The executor, workers and chunksize options (schema parameters)."""
    for name in ("chunksize", "workers", "executor"):
        function = parameter_option(name)(function)
    return function


def variadic(flag: str, args: list[str]) -> list[str]:
    """``FLAG a b c`` -> ``FLAG a FLAG b FLAG c`` (click options take one value each; the CWL
    step passes one flag followed by every file); ``FLAG`` alone -> ``FLAG=`` (an empty list)."""
    out: list[str] = []
    index = 0
    while index < len(args):
        token = args[index]
        index += 1
        if token != flag:
            out.append(token)
            continue
        values = []
        while index < len(args) and not args[index].startswith("-"):
            values.append(args[index])
            index += 1
        out += [f"{flag}={value}" for value in values] or [f"{flag}="]
    return out
