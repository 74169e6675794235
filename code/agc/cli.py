"""The ``agc`` command line (click): one command per workflow stage, the workflow runners, tools.

A stage command calls its function of :mod:`agc.workflow.stages` with keywords. The options of
the workflow parameters it takes come from the parameter schema (:mod:`agc.core.parameters`):
the option is the parameter's name with dashes (``--max-files``; the schema's own spelling
``--max_files`` is accepted too, as REANA's specifications pass it), its default, help and
validation are the schema's, and a boolean is a ``--flag/--no-flag`` pair that also takes the
``--name true|false`` form. So a parameter means the same thing in reana.yaml, the CWL job file,
a notebook and here.

A command prints a short summary on stdout; with ``--json`` it prints its whole result as one
JSON object instead. Everything else (progress, logs, warnings) goes to stderr. A user mistake
(a bad option, an :class:`~agc.core.errors.AGCError`) is one line on stderr and exit code 2;
``--debug`` (or ``AGC_DEBUG=1``) adds the traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import click

from agc import __version__
from agc.core import parameters as schema
from agc.core.errors import AGCError
from agc.workflow import stages

#: Environment variable that turns on ``--debug`` for every command.
DEBUG_ENV = "AGC_DEBUG"

#: The sections of ``agc --help``, in order: section -> its title.
SECTIONS: dict[str, str] = {
    "run": "Run the whole workflow",
    "stage": "Workflow stages (in the order of reana.yaml)",
    "data": "Datasets and archives",
    "tools": "Maintenance",
}

_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# --------------------------------------------------------------------------- options


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


# --------------------------------------------------------------------------- output


def _short(value: Any) -> str:
    """One value of a summary line: scalars as they are (floats to 4 significant digits),
    small mappings and lists inline, large ones as their size."""
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
        if len(value) <= 3 and all(not isinstance(v, Mapping | list | tuple) for v in value):
            return ", ".join(_short(v) for v in value)
        return f"{len(value)} items"
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
        kwargs.setdefault("context_settings", _CONTEXT)
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
        kwargs.setdefault("context_settings", _CONTEXT)
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


@click.group(cls=AgcGroup, no_args_is_help=True)
@click.version_option(__version__, "--version", prog_name="agc", message="%(prog)s %(version)s")
def agc() -> None:
    """The preserved CMS 2015 ttbar analysis: its workflow stages, runners and tools.

    Each stage command runs one step of the workflow and prints a short summary (--json: the
    whole result as JSON). Run "agc COMMAND --help" for a command's options.
    """


def _overrides(items: Sequence[str]) -> dict[str, str]:
    """``name=value`` items as a dict; a malformed item is an :class:`AGCError`."""
    result: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise AGCError(f"malformed parameter {item!r}: expected name=value")
        result[name] = value
    return result


# --------------------------------------------------------------------------- runners


@agc.command("run-serial", section="run")
@click.argument("spec", default="reana.yaml", metavar="[SPEC]")
@click.option("-p", "--parameter", multiple=True, metavar="NAME=VALUE", help="set a parameter")
@click.option(
    "-o",
    "--option",
    multiple=True,
    metavar="FROM=step|TARGET=step",
    help="REANA operational option: start at or stop after a step",
)
@click.option(
    "--container",
    metavar="IMAGE",
    help="run each command in this image with buildah, as REANA does (make run-container)",
)
@click.option(
    "--workdir",
    default="build/reana-workspace",
    show_default=True,
    metavar="DIR",
    help="the fresh working folder of --container (emptied first)",
)
def run_serial(
    spec: str,
    parameter: tuple[str, ...],
    option: tuple[str, ...],
    container: str | None,
    workdir: str,
) -> Any:
    """Run reana.yaml's serial steps locally, as REANA would.

    SPEC is the serial specification (default reana.yaml). With --container IMAGE each command
    runs in the image over a fresh working folder.
    """
    if container is not None:
        from agc.workflow.container import run_serial_in_container

        return run_serial_in_container(
            spec, container, workdir, _overrides(parameter), options=_overrides(option)
        )
    from agc.workflow.runners import run_serial as run

    return run(spec, _overrides(parameter), options=_overrides(option))


@agc.command("run-cwl", section="run")
@click.option("-p", "--parameter", multiple=True, metavar="NAME=VALUE", help="set a parameter")
@click.option(
    "--provenance",
    is_flag=True,
    help="keep cwltool's provenance (CWLProv) in outputs/cwl-provenance for agc archive",
)
def run_cwl(parameter: tuple[str, ...], provenance: bool) -> Any:
    """Run the CWL workflow locally with cwltool."""
    from agc.workflow.runners import CWL_PROVENANCE
    from agc.workflow.runners import run_cwl as run

    return run(_overrides(parameter), provenance=CWL_PROVENANCE if provenance else None)


@agc.command("check-parameters", hidden=True)
def check_parameters() -> dict[str, Any]:
    """Check the name=value lines on standard input against the parameter schema.

    The first step of the workflow specifications feeds them through a quoted here-document,
    which the shell does not expand.
    """
    return {"parameters": schema.parse_parameter_lines(sys.stdin.read())}


# --------------------------------------------------------------------------- stages


@agc.command(section="stage")
@stage_options("dataset")
@option(
    "--recipe",
    default=stages.DATASET_RECIPE,
    show_default=True,
    metavar="PATH",
    help="recipe of the embedded dataset",
)
def dataset(**options: Any) -> Any:
    """Make sure the inputs exist: dataset.json and per-sample markers."""
    return stages.STAGES["dataset"](**options)


@agc.command(section="stage")
@stage_options("histograms")
@path_option("--output", default="<outdir>/histograms.root", help="the one-pass output")
@path_option("--partial-dir", default="none", help="write per-sample partial outputs here instead")
def histograms(**options: Any) -> Any:
    """NanoAOD -> histograms.root and cutflow.json (one pass unless --partial-dir is given)."""
    return stages.STAGES["histograms"](**options, partials=options["partial_dir"] is not None)


@agc.command(section="stage")
@stage_options("merge")
@path_option("--partial-dir", default="<outdir>/partial", help="the partial outputs")
@path_option("--output", default="<outdir>/histograms.root", help="the merged histograms")
def merge(**options: Any) -> Any:
    """Merge per-sample partial outputs into histograms.root."""
    return stages.STAGES["merge"](**options)


@agc.command(section="stage")
@stage_options("model")
@path_option("--histograms", default="<outdir>/histograms.root", help="the histograms")
@option(
    "--config",
    default=stages.MODEL_CONFIG,
    show_default=True,
    metavar="PATH",
    help="cabinetry configuration",
)
@path_option("--output", default="<outdir>/workspace.json", help="the pyhf workspace")
def model(**options: Any) -> Any:
    """histograms.root -> the pyhf workspace (cabinetry)."""
    return stages.STAGES["model"](**options)


@agc.command(section="stage")
@stage_options("fit")
@path_option(
    "--workspace-file", "workspace", default="<outdir>/workspace.json", help="the pyhf workspace"
)
@path_option("--output", default="<outdir>/fit_results.json", help="the fit results")
@path_option("--plots-dir", default="<outdir>/plots", help="folder of the plots")
def fit(**options: Any) -> Any:
    """Maximum-likelihood fit and the paper plots."""
    return stages.STAGES["fit"](**options)


@agc.command("ml-model", section="stage")
@stage_options("ml-model")
@path_option("--histograms", default="<outdir>/histograms_ml.root", help="the ML histograms")
@option(
    "--config",
    default=stages.ML_MODEL_CONFIG,
    show_default=True,
    metavar="PATH",
    help="ML cabinetry configuration",
)
@path_option("--output", default="<outdir>/ml/workspace_ml.json", help="the ML pyhf workspace")
def ml_model(**options: Any) -> Any:
    """histograms_ml.root -> the ML pyhf workspace (nothing with use_inference false)."""
    return stages.STAGES["ml-model"](**options)


@agc.command("ml-fit", section="stage")
@stage_options("ml-fit")
@path_option(
    "--workspace-file",
    "workspace",
    default="<outdir>/ml/workspace_ml.json",
    help="the ML pyhf workspace",
)
@path_option("--main-fit", default="<outdir>/fit_results.json", help="the main fit's results")
@option(
    "--config",
    default=stages.ML_MODEL_CONFIG,
    show_default=True,
    metavar="PATH",
    help="ML cabinetry configuration",
)
@path_option("--output", default="<outdir>/ml/fit_results_ml.json", help="the ML fit results")
@path_option("--plots-dir", default="<outdir>/ml/plots", help="folder of the ML plots")
def ml_fit(**options: Any) -> Any:
    """Fit of the ML model, its plots and the main fit applied to it (ML validation)."""
    return stages.STAGES["ml-fit"](**options)


@agc.command(section="stage")
@stage_options("ml")
def ml(**options: Any) -> Any:
    """The ML step of the workflows: ml-model, then ml-fit (notebook 04_ml)."""
    return stages.STAGES["ml"](**options)


def _variadic(flag: str, args: list[str]) -> list[str]:
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


class ReinterpretCommand(AgcCommand):
    """``agc reinterpret``: ``--partials`` takes any number of values."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Read ``--partials a b`` as ``--partials a --partials b``, then parse."""
        return super().parse_args(ctx, _variadic("--partials", args))


@agc.command(
    cls=ReinterpretCommand,
    section="stage",
    keep=("signal", "limits", "processed", "cached", "seeded", "timing_s"),
)
@stage_options("reinterpret")
@option(
    "--poi",
    "signal_poi",
    type=SchemaValue("poi"),
    metavar="POI",
    show_default="mu_sig",
    help="the new signal's strength",
)
@path_option("--config", default="the analysis'", help="cabinetry configuration template")
@option(
    "--partials",
    multiple=True,
    metavar="PATH...",
    help="partial outputs of the main run (files or folders) that may seed the cache"
    " [default: <outdir>/partial]",
)
def reinterpret(partials: tuple[str, ...], **options: Any) -> Any:
    """Swap the signal: new workspace, fit, CLs limits, patchset."""
    given = [path for path in partials if path] if partials else None
    return stages.STAGES["reinterpret"](**options, partials=given)


@agc.command(section="stage")
@stage_options("report")
@path_option("--notebooks-dir", default="<outdir>/notebooks", help="the executed notebooks")
@path_option("--output", default="<outdir>/report.html", help="the report")
def report(**options: Any) -> Any:
    """HTML report of the executed notebooks and provenance.json."""
    return stages.STAGES["report"](**options)


@agc.command(section="stage")
@stage_options("archive")
@path_option("--dest", default="<outdir>/archive", help="the archive folder")
@option("--allow-dirty", is_flag=True, help="archive a dirty git tree (recorded)")
def archive(**options: Any) -> Any:
    """Deposit-ready archive: CITATION, Zenodo, HEPData, BagIt bag."""
    return stages.STAGES["archive"](**options)


# --------------------------------------------------------------------------- data and archives


@agc.command(section="data")
@parameter_option("format")
@click.option(
    "--output",
    default="data/embedded",
    show_default=True,
    metavar="DIR",
    help="folder for the ROOT files and manifest.json",
)
@click.option(
    "--recipe",
    default="inputs/embedded.yaml",
    show_default=True,
    metavar="PATH",
    help="dataset recipe (YAML)",
)
@click.option("--scale", default=1.0, show_default=True, help="multiply every sample's event count")
@click.option("--force", is_flag=True, help="regenerate even if present and intact")
# default: agc.dataset.generate.DEFAULT_WORKERS (not imported: keeps start-up light)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(min=1),
    help="processes writing samples (same bytes for any)",
)
def generate(
    format: str, output: str, recipe: str, scale: float, force: bool, workers: int
) -> dict[str, str]:
    """Generate the embedded default dataset (if missing), as TTree or RNTuple files."""
    from agc.dataset.generate import generate_dataset

    manifest = generate_dataset(
        output, recipe=recipe, scale=scale, force=force, workers=workers, file_format=format
    )
    return {"manifest": str(manifest)}


@agc.command("summary", section="data")
@parameter_option("inputs")
def dataset_summary(inputs: str) -> dict[str, Any]:
    """Read a dataset back and print a per-sample summary."""
    from agc.dataset.generate import summarize
    from agc.dataset.manifest import resolve_inputs

    return summarize(resolve_inputs(inputs))


def _check_lines(result: Any) -> str:
    """Every check of an archive verification, one line each."""
    return "\n".join(check.line() for check in result.checks)


@agc.command(
    "verify-archive",
    section="data",
    human=_check_lines,
    status=lambda result: 0 if result.ok else 1,
)
@click.argument("path", default="outputs/archive", metavar="[PATH]")
def verify_archive(path: str) -> Any:
    """Re-check an archive: bag checksums, patchset, HEPData, RO-Crate, SWHID (exit 1 on failure).

    PATH is the archive folder (holding bag/) or the bag (default outputs/archive).
    """
    from agc.publish.verify import verify_archive as verify

    return verify(path)


# --------------------------------------------------------------------------- benchmarks


@agc.group(section="tools", no_args_is_help=True)
def bench() -> None:
    """Throughput benchmarks: events, formats, dask, ml, stats (figures printed)."""


def _report_of(name: str) -> Callable[[Any], str]:
    """The ``agc.bench`` function ``name`` that formats a benchmark's figures (lazy import)."""

    def human(result: Any) -> str:
        from agc import bench as benchmarks

        return str(getattr(benchmarks, name)(result))

    return human


def _processing_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The executor, workers and chunksize options (schema parameters)."""
    for name in ("chunksize", "workers", "executor"):
        function = parameter_option(name)(function)
    return function


@bench.command("events", human=_report_of("format_report"))
@click.option("--inputs", metavar="MANIFEST", help="manifest [default: a generated dataset]")
@click.option(
    "--scale",
    default=1.0,
    show_default=True,
    help="event-count factor of the generated dataset",
)
@_processing_options
def bench_events(inputs: str | None, **options: Any) -> dict[str, Any]:
    """Processor throughput next to the uproot read floor."""
    from agc.bench import run_benchmark

    return run_benchmark(inputs, **options)


@bench.command("formats", human=_report_of("format_format_report"))
@click.option(
    "--scale",
    default=1.0,
    show_default=True,
    help="event-count factor of the generated datasets",
)
@_processing_options
def bench_formats(**options: Any) -> dict[str, Any]:
    """TTree vs RNTuple: read floor, processor rate and file size on the same events."""
    from agc.bench import run_format_benchmark

    return run_format_benchmark(**options)


@bench.command("dask", human=_report_of("format_scale_out"))
@click.option(
    "--inputs", metavar="MANIFEST", help="manifest [default: a generated temporary dataset]"
)
@click.option(
    "--scale",
    default=1.3,
    show_default=True,
    help="event-count factor of the generated dataset (1.3: about 2.2 M events)",
)
@parameter_option("chunksize")
def bench_dask(inputs: str | None, **options: Any) -> dict[str, Any]:
    """Events/s on the Dask executor with 1 and 2 workers, and the speed-up."""
    from agc.bench import dask_scale_out

    return dask_scale_out(inputs, **options)


@bench.command("ml", human=_report_of("format_ml_report"))
@click.option("--inputs", default="embedded", show_default=True, help="manifest")
@_processing_options
def bench_ml(**options: Any) -> dict[str, Any]:
    """Events/s without and with the BDT inference, and the BDT's assignment accuracy."""
    from agc.bench import run_ml_benchmark

    return run_ml_benchmark(**options)


@bench.command("stats", human=_report_of("format_stats_report"))
@option(
    "--workspace-file",
    "workspace",
    default="outputs/workspace.json",
    show_default=True,
    metavar="PATH",
    help="the pyhf workspace",
)
@click.option("--repeats", default=3, show_default=True, help="main fits timed")
def bench_stats(**options: Any) -> dict[str, Any]:
    """The statistics stage's figures: fits/s, calls per fit, impact ranking wall time."""
    from agc.bench import run_stats_benchmark

    return run_stats_benchmark(**options)


# --------------------------------------------------------------------------- entry point


def _message(exc: click.ClickException) -> str:
    """The one-line message of a click error; suggested options without hidden spellings."""
    if isinstance(exc, click.NoSuchOption) and exc.possibilities:
        shown = {
            p.replace("_", "-") if p.replace("_", "-") in exc.possibilities else p: None
            for p in exc.possibilities
        }
        exc.possibilities = list(shown)
    return " ".join(exc.format_message().split())


def commands(group: click.Group = agc, prefix: str = "") -> dict[str, click.Command]:
    """Every leaf command by its full name (``"histograms"``, ``"bench events"``)."""
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(commands(command, f"{prefix}{name} "))
        else:
            found[prefix + name] = command
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``agc`` console script; returns the exit code. The result is the only
    thing written to stdout; logs and warnings go to stderr."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return int(agc.main(args, prog_name="agc", standalone_mode=False) or 0)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
        return 2
    except click.ClickException as exc:
        where = exc.ctx.command_path if getattr(exc, "ctx", None) else "agc"
        click.echo(f"{where}: error: {_message(exc)}", err=True)
        return exc.exit_code
    except click.Abort:
        click.echo("agc: interrupted", err=True)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
