"""The ``agc`` command line: one subcommand per stage, the same functions notebooks call.

The subcommands are a table (:data:`COMMANDS`): name -> the function it calls, its help and its
options. A stage subcommand calls its :mod:`agc.workflow.stages` function; its workflow-parameter
options (``--max_files``, ``--chunksize``, ...) are generated from the parameter schema
(:mod:`agc.core.parameters`: name, default, help, and type conversion through
:func:`~agc.core.parameters.coerce`), so a parameter means the same thing in reana.yaml, the CWL
job file, a notebook and here; its other options are declared in the table. The result is printed
as one JSON object on stdout (``to_dict()`` of a typed result); every user-facing failure is one
line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agc import __version__
from agc.core import parameters as schema
from agc.core.errors import AGCError
from agc.workflow import stages


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage dump), exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


@dataclass(frozen=True)
class Option:
    """One command-line option or positional argument (the arguments of ``add_argument``)."""

    flags: tuple[str, ...]
    help: str = ""
    default: Any = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        """Declare the option on ``parser``."""
        parser.add_argument(*self.flags, default=self.default, help=self.help, **self.settings)


@dataclass(frozen=True)
class Command:
    """One subcommand: the function it calls with the parsed options as keywords.

    ``parameters``: workflow parameters whose options come from the schema; ``options``: the
    others; ``keep``: the keys of the result printed (None: all); ``adapt``: turns the parsed
    options into the function's keywords (None: as they are); ``status``: the exit code of a
    result (None: 0)."""

    function: Callable[..., Any]
    help: str
    parameters: tuple[str, ...] = ()
    options: tuple[Option, ...] = ()
    keep: tuple[str, ...] | None = None
    adapt: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    #: the exit code of a result (None: 0), for commands whose result is a verdict
    status: Callable[[Any], int] | None = None


def parameter_type(name: str) -> Callable[[str], Any]:
    """argparse ``type`` of workflow parameter ``name``: coerce and validate one value, so that a
    bad value is rejected with the schema's one-line message before any work."""

    def convert(text: str) -> Any:
        try:
            return schema.validate_parameters({name: schema.coerce(name, text)})[name]
        except AGCError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name  # argparse names the type in some messages
    return convert


def parameter_option(name: str) -> Option:
    """The ``--name`` option of workflow parameter ``name``: default, help and type from the
    schema; a boolean may be given bare (``--skip_bad_files`` = true) or with a value."""
    settings: dict[str, Any] = {"type": parameter_type(name)}
    spec = schema.declared()[name]
    if "enum" in spec:
        settings["metavar"] = "{" + ",".join(spec["enum"]) + "}"
    if schema.json_type(name) == "boolean":
        settings.update(nargs="?", const=True)
    default = schema.default(name)
    return Option(
        (f"--{name}",), f"{schema.help_text(name)} (default: {default!r})", default, settings
    )


def _path(flag: str, help_text: str, **settings: Any) -> Option:
    """A path option whose default (None) the stage function derives from ``outdir``."""
    return Option((flag,), help_text, None, settings)


def _overrides(items: Sequence[str] | None) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise AGCError(f"malformed parameter {item!r}: expected name=value")
        result[name] = value
    return result


# --------------------------------------------------------------------------- non-stage commands


def _generate(
    output: str, recipe: str, scale: float, force: bool, workers: int, format: str = "ttree"
) -> dict[str, str]:
    """``agc generate``: the embedded dataset (:func:`agc.dataset.generate.generate_dataset`),
    as TTree or (``--format rntuple``) RNTuple files."""
    from agc.dataset.generate import generate_dataset

    manifest = generate_dataset(
        output, recipe=recipe, scale=scale, force=force, workers=workers, file_format=format
    )
    return {"manifest": str(manifest)}


def _summary(inputs: str) -> dict[str, Any]:
    """``agc summary``: a dataset read back, per sample (:func:`agc.dataset.generate.summarize`)."""
    from agc.dataset.generate import summarize
    from agc.dataset.manifest import resolve_inputs

    return summarize(resolve_inputs(inputs))


def _run_serial(
    spec: str,
    parameter: list[str] | None,
    option: list[str] | None,
    container: str | None = None,
    workspace: str = "build/reana-workspace",
) -> Any:
    """``agc run-serial``: reana.yaml's steps, locally (:func:`agc.workflow.runners.run_serial`)
    or, with ``--container IMAGE``, in the image over a fresh workspace as REANA runs them
    (:func:`agc.workflow.container.run_serial_in_container`)."""
    if container is not None:
        from agc.workflow.container import run_serial_in_container

        return run_serial_in_container(
            spec, container, workspace, _overrides(parameter), options=_overrides(option)
        )
    from agc.workflow.runners import run_serial as run

    return run(spec, _overrides(parameter), options=_overrides(option))


def _check_parameters() -> dict[str, Any]:
    """``agc check-parameters``: the ``name=value`` lines on standard input, checked against the
    parameter schema (:func:`agc.core.parameters.parse_parameter_lines`); reana.yaml's first
    command feeds them through a quoted here-document, which the shell does not expand."""
    from agc.core.parameters import parse_parameter_lines

    return {"parameters": parse_parameter_lines(sys.stdin.read())}


def _run_cwl(parameter: list[str] | None, provenance: bool = False) -> Any:
    """``agc run-cwl``: the CWL workflow with cwltool (:func:`agc.workflow.runners.run_cwl`);
    ``--provenance`` also keeps cwltool's research object in outputs/cwl-provenance."""
    from agc.workflow.runners import CWL_PROVENANCE
    from agc.workflow.runners import run_cwl as run

    return run(_overrides(parameter), provenance=CWL_PROVENANCE if provenance else None)


def _verify_archive(path: str) -> Any:
    """``agc verify-archive PATH``: every check of the archive, one line each (on stderr, as
    all but the JSON result); exit 1 when one fails (:func:`agc.publish.verify.verify_archive`)."""
    from agc.publish.verify import verify_archive

    result = verify_archive(path)
    for check in result.checks:
        print(check.line(), flush=True)
    return result


def _bench(**options: Any) -> dict[str, Any]:
    """``agc bench``: print the throughput table (on stderr, as all but the JSON result) and
    return the figures (:func:`agc.bench.run_benchmark`; ``options`` are its keywords)."""
    from agc.bench import format_report, run_benchmark

    result = run_benchmark(options.pop("inputs"), **options)
    print(format_report(result), flush=True)
    return result


def _bench_stats(**options: Any) -> dict[str, Any]:
    """``agc bench-stats``: print the statistics-stage figures (:func:`agc.bench.run_stats_benchmark`)."""
    from agc.bench import format_stats_report, run_stats_benchmark

    result = run_stats_benchmark(**options)
    print(format_stats_report(result), flush=True)
    return result


def _bench_dask(**options: Any) -> dict[str, Any]:
    """``agc bench-dask``: print the Dask scale-out table (events/s at 1 and 2 workers, on
    stderr) and return the figures (:func:`agc.bench.dask_scale_out`)."""
    from agc.bench import dask_scale_out, format_scale_out

    result = dask_scale_out(options.pop("inputs"), **options)
    print(format_scale_out(result), flush=True)
    return result


def _bench_ml(**options: Any) -> dict[str, Any]:
    """``agc bench-ml``: events/s without and with the BDT inference, the breakdown of one ttbar
    chunk and the assignment accuracy (:func:`agc.bench.run_ml_benchmark`)."""
    from agc.bench import format_ml_report, run_ml_benchmark

    result = run_ml_benchmark(**options)
    print(format_ml_report(result), flush=True)
    return result


def _bench_formats(**options: Any) -> dict[str, Any]:
    """``agc bench-formats``: the same events as TTree and RNTuple files, read floor and
    processor rate of each and the file sizes (:func:`agc.bench.run_format_benchmark`)."""
    from agc.bench import format_format_report, run_format_benchmark

    result = run_format_benchmark(**options)
    print(format_format_report(result), flush=True)
    return result


def _stage(name: str, help_text: str, options: tuple[Option, ...] = (), **settings: Any) -> Command:
    """The subcommand of stage ``name``: the schema's options for the workflow parameters the
    stage function takes, then ``options``."""
    function = stages.STAGES[name]
    parameters = stages.stage_parameters(function)
    return Command(function, help_text, parameters, options, **settings)


def _histograms_mode(options: dict[str, Any]) -> dict[str, Any]:
    """``agc histograms`` writes ``--output`` in one pass unless ``--partial_dir`` is given."""
    return {**options, "partials": options["partial_dir"] is not None}


_PARAMETER = Option(
    ("-p", "--parameter"),
    "override a parameter",
    settings={"action": "append", "metavar": "NAME=VALUE"},
)

#: Every subcommand: name -> the function, its help and its options.
COMMANDS: dict[str, Command] = {
    "generate": Command(
        _generate,
        "generate the embedded default dataset (if missing)",
        ("format",),
        options=(
            Option(("--output",), "folder for the ROOT files and manifest.json", "data/embedded"),
            Option(("--recipe",), "dataset recipe (YAML)", "inputs/embedded.yaml"),
            Option(("--scale",), "multiply every sample's event count", 1.0, {"type": float}),
            Option(
                ("--force",),
                "regenerate even if present and intact",
                False,
                {"action": "store_true"},
            ),
            # default: agc.dataset.generate.DEFAULT_WORKERS (not imported: keeps start-up light)
            Option(
                ("--workers",), "processes writing samples (same bytes for any)", 2, {"type": int}
            ),
        ),
    ),
    "summary": Command(
        _summary,
        "read a dataset back and print a per-sample summary",
        options=(Option(("--inputs",), schema.help_text("inputs"), schema.default("inputs")),),
    ),
    "dataset": _stage(
        "dataset",
        "make sure the inputs exist: dataset.json and per-sample markers",
        options=(Option(("--recipe",), "recipe of the embedded dataset", stages.DATASET_RECIPE),),
    ),
    "histograms": _stage(
        "histograms",
        "NanoAOD -> histograms.root and cutflow.json",
        options=(
            _path("--output", "one-pass output (default: <outdir>/histograms.root)"),
            _path("--partial_dir", "write per-sample partial outputs here instead"),
        ),
        adapt=_histograms_mode,
    ),
    "merge": _stage(
        "merge",
        "merge per-sample partial outputs into histograms.root",
        options=(
            _path("--partial_dir", "default: <outdir>/partial"),
            _path("--output", "default: <outdir>/histograms.root"),
        ),
    ),
    "model": _stage(
        "model",
        "histograms.root -> pyhf workspace (cabinetry)",
        options=(
            _path("--histograms", "default: <outdir>/histograms.root"),
            Option(("--config",), "cabinetry configuration", stages.MODEL_CONFIG),
            _path("--output", "default: <outdir>/workspace.json"),
        ),
    ),
    "fit": _stage(
        "fit",
        "maximum-likelihood fit and paper plots",
        options=(
            _path("--workspace", "default: <outdir>/workspace.json"),
            _path("--output", "default: <outdir>/fit_results.json"),
            _path("--plots_dir", "default: <outdir>/plots"),
        ),
    ),
    "ml-model": _stage(
        "ml-model",
        "histograms_ml.root -> the ML pyhf workspace (issue #21; nothing with use_inference false)",
        options=(
            _path("--histograms", "default: <outdir>/histograms_ml.root"),
            Option(("--config",), "ML cabinetry configuration", stages.ML_MODEL_CONFIG),
            _path("--output", "default: <outdir>/ml/workspace_ml.json"),
        ),
    ),
    "ml-fit": _stage(
        "ml-fit",
        "fit of the ML model, its plots and the main fit applied to it (ML validation)",
        options=(
            _path("--workspace", "default: <outdir>/ml/workspace_ml.json"),
            _path("--main_fit", "the main fit, default: <outdir>/fit_results.json"),
            Option(("--config",), "ML cabinetry configuration", stages.ML_MODEL_CONFIG),
            _path("--output", "default: <outdir>/ml/fit_results_ml.json"),
            _path("--plots_dir", "default: <outdir>/ml/plots"),
        ),
    ),
    "ml": _stage("ml", "the ML step of the workflows: ml-model, then ml-fit (notebook 04_ml)"),
    "reinterpret": _stage(
        "reinterpret",
        "swap the signal: new workspace, fit, CLs limits, patchset",
        options=(
            Option(
                ("--poi",),
                "the new signal's strength (default: mu_sig)",
                None,
                {"dest": "signal_poi", "metavar": "POI", "type": parameter_type("poi")},
            ),
            _path("--config", "cabinetry configuration template (default: the analysis')"),
            _path(
                "--partials",
                "partial outputs of the main run (files or folders) that may "
                "seed the cache (default: <outdir>/partial)",
                nargs="*",
            ),
        ),
        keep=("signal", "limits", "processed", "cached", "seeded", "timing_s"),
    ),
    "report": _stage(
        "report",
        "HTML report of the executed notebooks and provenance.json",
        options=(
            _path("--notebooks_dir", "default: <outdir>/notebooks"),
            _path("--output", "default: <outdir>/report.html"),
        ),
    ),
    "archive": _stage(
        "archive",
        "deposit-ready archive: CITATION, Zenodo, HEPData, BagIt bag",
        options=(
            _path("--dest", "default: <outdir>/archive"),
            Option(
                ("--allow_dirty",),
                "archive a dirty git tree (recorded)",
                False,
                {"action": "store_true"},
            ),
        ),
    ),
    "verify-archive": Command(
        _verify_archive,
        "re-check an archive: bag checksums, patchset, HEPData, RO-Crate, SWHID (exit 1 on failure)",
        options=(
            Option(
                ("path",),
                "the archive folder (holding bag/) or the bag",
                "outputs/archive",
                {"nargs": "?"},
            ),
        ),
        status=lambda result: 0 if result.ok else 1,
    ),
    "run-serial": Command(
        _run_serial,
        "run reana.yaml's serial steps locally, as REANA would",
        options=(
            Option(("spec",), "the serial specification", "reana.yaml", {"nargs": "?"}),
            _PARAMETER,
            Option(
                ("-o", "--option"),
                "REANA operational option: start at / stop after a step",
                settings={"action": "append", "metavar": "FROM=step|TARGET=step"},
            ),
            Option(
                ("--container",),
                "run each command in this image with buildah, as REANA does (make run-container)",
                settings={"metavar": "IMAGE"},
            ),
            Option(
                ("--workspace",),
                "the fresh workspace of --container (replaced)",
                "build/reana-workspace",
            ),
        ),
    ),
    "check-parameters": Command(
        _check_parameters, "check name=value lines on stdin against the parameter schema"
    ),
    "run-cwl": Command(
        _run_cwl,
        "run the CWL workflow locally with cwltool",
        options=(
            _PARAMETER,
            Option(
                ("--provenance",),
                "keep cwltool's provenance (CWLProv) in outputs/cwl-provenance for agc archive",
                False,
                {"action": "store_true"},
            ),
        ),
    ),
    "bench": Command(
        _bench,
        "print processor throughput next to the uproot read floor",
        options=(
            Option(("--inputs",), "manifest; default: a generated dataset of --scale"),
            Option(
                ("--scale",), "event-count factor of the generated dataset", 1.0, {"type": float}
            ),
            parameter_option("executor"),
            parameter_option("workers"),
            parameter_option("chunksize"),
        ),
    ),
    "bench-stats": Command(
        _bench_stats,
        "print the statistics stage's figures: fits/s, calls per fit, impact ranking wall time",
        options=(
            Option(("--workspace",), "pyhf workspace", "outputs/workspace.json"),
            Option(("--repeats",), "main fits timed", 3, {"type": int}),
        ),
    ),
    "bench-dask": Command(
        _bench_dask,
        "print events/s on the Dask executor with 1 and 2 workers, and the speed-up",
        options=(
            Option(("--inputs",), "manifest; default: a generated dataset of --scale (temporary)"),
            Option(
                ("--scale",),
                "event-count factor of the generated dataset (1.3: ~2.2 M events)",
                1.3,
                {"type": float},
            ),
            parameter_option("chunksize"),
        ),
    ),
    "bench-ml": Command(
        _bench_ml,
        "print events/s without and with the BDT inference, and the BDT's assignment accuracy",
        options=(
            Option(("--inputs",), "manifest", "embedded"),
            parameter_option("executor"),
            parameter_option("workers"),
            parameter_option("chunksize"),
        ),
    ),
    "bench-formats": Command(
        _bench_formats,
        "TTree vs RNTuple: read floor, processor rate and file size on the same events",
        options=(
            Option(
                ("--scale",), "event-count factor of the generated datasets", 1.0, {"type": float}
            ),
            parameter_option("executor"),
            parameter_option("workers"),
            parameter_option("chunksize"),
        ),
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The ``agc`` argument parser, built from :data:`COMMANDS` (also read by the tests)."""
    parser = _Parser(prog="agc", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"agc {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.help, description=command.help)
        for parameter in command.parameters:
            parameter_option(parameter).add_to(p)
        for option in command.options:
            option.add_to(p)
    return parser


def _dispatch(args: argparse.Namespace) -> Any:
    """Call the function of ``args.command`` with the parsed options as keywords."""
    options = {k: v for k, v in vars(args).items() if k != "command"}
    command = COMMANDS[args.command]
    if command.adapt is not None:
        options = command.adapt(options)
    return command.function(**options)


def printable(command: str, result: Any) -> Any:
    """What ``agc <command>`` prints of ``result``: ``to_dict()`` of a typed result, a mapping as
    it is, only the command's ``keep`` keys when it declares them."""
    if hasattr(result, "to_dict"):
        result = result.to_dict()
    keep = COMMANDS[command].keep
    if keep is not None and isinstance(result, Mapping):
        result = {key: result[key] for key in keep if key in result}
    return result


@contextlib.contextmanager
def _stdout_is_stderr() -> Iterator[None]:
    """Inside, stdout is stderr: ``sys.stdout`` and file descriptor 1 (also for child
    processes), so that what is written to stdout (MINUIT's C++ warnings, progress lines) does
    not mix with the JSON result that :func:`main` prints to stdout afterwards."""
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``agc`` console script; returns the exit code. The result (a JSON
    object) is the only thing written to stdout; logs and warnings go to stderr."""
    parser = build_parser()
    args = parser.parse_args(argv)
    status = COMMANDS[args.command].status
    try:
        with _stdout_is_stderr():
            raw = _dispatch(args)
            result = printable(args.command, raw)
    except AGCError as exc:
        print(f"agc {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"agc {args.command}: interrupted", file=sys.stderr)
        return 130
    if isinstance(result, Mapping) and result:
        json.dump(result, sys.stdout, indent=2, sort_keys=True, default=str)
        sys.stdout.write("\n")
    return status(raw) if status is not None else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
