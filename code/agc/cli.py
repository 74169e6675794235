"""The ``agc`` command line: one subcommand per stage, the same functions notebooks call.

Option names are the workflow parameter names (``--max_files``, ``--chunksize``, ...), so a
parameter means the same thing in reana.yaml, the CWL job file, a notebook and here.
Every user-facing failure is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from agc import __version__
from agc.core.errors import AGCError
from agc.core.parameters import EXECUTORS

#: Defaults of the shared workflow parameters (reana.yaml declares the same).
DEFAULTS: dict[str, Any] = {
    "inputs": "embedded",
    "samples": "all",
    "executor": "futures",
    "workers": 2,
    "chunksize": 100_000,
    "max_files": -1,
    "scheduler": "",
    "outdir": "outputs",
    "signal": "ttbar",
    "poi": "ttbar_norm",
    "skip_bad_files": False,
}


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage dump), exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _boolean(text: str) -> bool:
    from agc.core.parameters import coerce

    try:
        return bool(coerce("skip_bad_files", text))
    except AGCError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _max_files(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected -1 (all) or a positive integer, got {text!r}"
        ) from None
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError(f"expected -1 (all) or a positive integer, got {value}")
    return value


def _add_processing(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--inputs", default=DEFAULTS["inputs"], help="manifest (AGC layout) or 'embedded'"
    )
    parser.add_argument(
        "--samples", default=DEFAULTS["samples"], help="'all' or comma list of process[__variation]"
    )
    parser.add_argument("--executor", default=DEFAULTS["executor"], choices=EXECUTORS)
    parser.add_argument("--workers", type=_positive_int, default=DEFAULTS["workers"])
    parser.add_argument(
        "--chunksize", type=_positive_int, default=DEFAULTS["chunksize"], help="events per chunk"
    )
    parser.add_argument(
        "--max_files",
        type=_max_files,
        default=DEFAULTS["max_files"],
        help="files per sample, -1 = all",
    )
    parser.add_argument(
        "--scheduler",
        default=DEFAULTS["scheduler"],
        help="dask scheduler address; '' = LocalCluster",
    )


def _overrides(items: Sequence[str] | None) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise AGCError(f"malformed parameter {item!r}: expected name=value")
        result[name] = value
    return result


def build_parser() -> argparse.ArgumentParser:
    """The ``agc`` argument parser (also read by the tests that check parameter names)."""
    parser = _Parser(prog="agc", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"agc {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    p = sub.add_parser("generate", help="generate the embedded default dataset (if missing)")
    p.add_argument(
        "--output", default="data/embedded", help="folder for the ROOT files and manifest.json"
    )
    p.add_argument("--recipe", default="inputs/embedded.yaml")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every sample's event count")
    p.add_argument("--force", action="store_true", help="regenerate even if present and intact")
    p.add_argument(  # default: agc.dataset.generate.DEFAULT_WORKERS (not imported: keeps start-up light)
        "--workers", type=int, default=2, help="processes writing samples (same bytes for any)"
    )

    p = sub.add_parser("summary", help="read a dataset back and print a per-sample summary")
    p.add_argument("--inputs", default=DEFAULTS["inputs"])

    p = sub.add_parser("histograms", help="NanoAOD -> histograms.root and cutflow.json")
    _add_processing(p)
    p.add_argument("--output", default="outputs/histograms.root")
    p.add_argument(
        "--partial_dir", default=None, help="write per-sample partial outputs here instead"
    )
    p.add_argument(
        "--skip_bad_files",
        type=_boolean,
        nargs="?",
        const=True,
        default=False,
        help="skip unreadable files (listed in cutflow.json/provenance) instead of stopping",
    )

    p = sub.add_parser("merge", help="merge per-sample partial outputs into histograms.root")
    p.add_argument("--partial_dir", default="outputs/partial")
    p.add_argument("--output", default="outputs/histograms.root")
    p.add_argument(
        "--skip_bad_files",
        type=_boolean,
        nargs="?",
        const=True,
        default=False,
        help="accept partial outputs that skipped bad files",
    )

    p = sub.add_parser("model", help="histograms.root -> pyhf workspace (cabinetry)")
    p.add_argument("--histograms", default="outputs/histograms.root")
    p.add_argument("--config", default="inputs/cabinetry.yaml")
    p.add_argument("--signal", default=DEFAULTS["signal"])
    p.add_argument("--poi", default=DEFAULTS["poi"])
    p.add_argument("--output", default="outputs/workspace.json")

    p = sub.add_parser("fit", help="maximum-likelihood fit and paper plots")
    p.add_argument("--workspace", default="outputs/workspace.json")
    p.add_argument("--output", default="outputs/fit_results.json")
    p.add_argument("--plots_dir", default="outputs/plots")

    p = sub.add_parser("report", help="HTML report of the executed notebooks and provenance.json")
    p.add_argument("--outdir", default=DEFAULTS["outdir"], help="the run's output folder")
    p.add_argument("--notebooks_dir", default=None, help="default: <outdir>/notebooks")
    p.add_argument("--output", default=None, help="default: <outdir>/report.html")

    p = sub.add_parser(
        "reinterpret", help="swap the signal: new workspace, fit, CLs limits, patchset"
    )
    from agc.reinterpret.pipeline import add_arguments as _reinterpret_arguments

    _reinterpret_arguments(p)

    p = sub.add_parser(
        "archive", help="deposit-ready archive: CITATION, Zenodo, HEPData, BagIt bag"
    )
    p.add_argument("--outdir", default=DEFAULTS["outdir"], help="the finished run's output folder")
    p.add_argument("--dest", default="outputs/archive")
    p.add_argument("--inputs", default=DEFAULTS["inputs"])
    p.add_argument("--allow_dirty", action="store_true", help="archive a dirty git tree (recorded)")

    p = sub.add_parser("run-serial", help="run reana.yaml's serial steps locally, as REANA would")
    p.add_argument("spec", nargs="?", default="reana.yaml")
    p.add_argument(
        "-p", "--parameter", action="append", metavar="NAME=VALUE", help="override a parameter"
    )
    p.add_argument(
        "-o",
        "--option",
        action="append",
        metavar="FROM=step|TARGET=step",
        help="REANA operational option: start at / stop after a step",
    )

    p = sub.add_parser("run-cwl", help="run the CWL workflow locally with cwltool")
    p.add_argument(
        "-p", "--parameter", action="append", metavar="NAME=VALUE", help="override a parameter"
    )

    p = sub.add_parser("bench", help="print processor throughput next to the uproot read floor")
    p.add_argument(
        "--inputs", default=None, help="manifest; default: a generated dataset of --scale"
    )
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--executor", default="futures", choices=EXECUTORS)
    p.add_argument("--workers", type=_positive_int, default=2)
    p.add_argument("--chunksize", type=_positive_int, default=DEFAULTS["chunksize"])
    return parser


def _dispatch(args: argparse.Namespace) -> Any:
    if args.command == "generate":
        from agc.dataset.generate import generate_dataset

        return {
            "manifest": str(
                generate_dataset(
                    args.output,
                    recipe=args.recipe,
                    scale=args.scale,
                    force=args.force,
                    workers=args.workers,
                )
            )
        }
    if args.command == "summary":
        from agc.dataset.manifest import resolve_inputs
        from agc.dataset.readback import summarize

        return summarize(resolve_inputs(args.inputs)).to_dict()
    if args.command == "histograms":
        from agc.dataset.manifest import resolve_inputs
        from agc.processing.histograms import run_histograms

        return run_histograms(
            resolve_inputs(args.inputs),
            args.output,
            samples=args.samples,
            executor=args.executor,
            workers=args.workers,
            chunksize=args.chunksize,
            max_files=args.max_files,
            scheduler=args.scheduler,
            partial_dir=args.partial_dir,
            skip_bad_files=args.skip_bad_files,
        ).to_dict()
    if args.command == "merge":
        from agc.processing.histograms import merge_partials

        return merge_partials(
            args.partial_dir, args.output, skip_bad_files=args.skip_bad_files
        ).to_dict()
    if args.command == "model":
        from agc.stats.model import build_workspace

        build_workspace(
            args.histograms, args.output, config=args.config, signal=args.signal, poi=args.poi
        )
        return {"workspace": args.output}
    if args.command == "fit":
        from agc.plots.figures import fit_plots
        from agc.stats.fit import run_fit

        run = run_fit(args.workspace, args.output)
        plots = fit_plots(run, args.plots_dir)
        return {
            "fit_results": args.output,
            "poi": run.summary.poi.to_dict(),
            "best_twice_nll": run.summary.best_twice_nll,
            "goodness_of_fit": run.summary.goodness_of_fit,
            "plots": [str(p) for p in plots],
        }
    if args.command == "report":
        from agc.publish.provenance import run_provenance
        from agc.publish.report import build_report

        notebooks = args.notebooks_dir or f"{args.outdir}/notebooks"
        report = build_report(notebooks, args.output or f"{args.outdir}/report.html")
        return {"report": str(report), "provenance": str(run_provenance(args.outdir))}
    if args.command == "reinterpret":
        from agc.reinterpret.pipeline import main as reinterpret_main
        from agc.reinterpret.signals import is_declaration

        if not is_declaration(args.signal):
            from pathlib import Path

            from agc.core.fileio import write_text

            write_text(
                Path(args.outdir) / "reinterpretation" / "NOTE.txt",
                f"signal={args.signal}: no signal declaration given, nothing reinterpreted.\n"
                "Run with signal=inputs/signals/<name>.yaml (make reinterpret SIGNAL=...).\n",
            )
            print(
                f"agc reinterpret: signal={args.signal!r} is the main measurement (see fit_results.json);"
                " give a signal declaration such as inputs/signals/zprime_1000.yaml to reinterpret",
                file=sys.stderr,
            )
            return {}
        result = reinterpret_main(args)
        keep = ("signal", "limits", "processed", "cached", "seeded", "timing_s")
        return {key: result[key] for key in keep if key in result}
    if args.command == "archive":
        from agc.publish.archive import main as archive_main

        return archive_main(args)
    if args.command == "run-serial":
        from agc.workflow.runners import run_serial

        return run_serial(args.spec, _overrides(args.parameter), options=_overrides(args.option))
    if args.command == "run-cwl":
        from agc.workflow.runners import run_cwl

        return run_cwl(_overrides(args.parameter))
    if args.command == "bench":
        from agc.bench import main as bench_main

        return bench_main(args)
    raise AGCError(f"unknown command {args.command!r}")  # pragma: no cover (argparse rejects it)


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
    try:
        with _stdout_is_stderr():
            result = _dispatch(args)
    except AGCError as exc:
        print(f"agc {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"agc {args.command}: interrupted", file=sys.stderr)
        return 130
    if isinstance(result, dict) and result:
        json.dump(result, sys.stdout, indent=2, sort_keys=True, default=str)
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
