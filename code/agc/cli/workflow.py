"""The ``agc`` commands of the workflow: its runners and one command per stage, calling the
stage functions of :mod:`agc.workflow.stages` with keywords."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from agc.cli.command import AgcCommand, command, debugging
from agc.cli.options import SchemaValue, option, path_option, stage_options, variadic
from agc.core import parameters as schema
from agc.core.errors import AGCError
from agc.workflow import stages


def overrides(items: Sequence[str]) -> dict[str, str]:
    """``name=value`` items as a dict; a malformed item is an :class:`AGCError`."""
    result: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise AGCError(f"malformed parameter {item!r}: expected name=value")
        result[name] = value
    return result


@command("run-serial", section="run")
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
            spec, container, workdir, overrides(parameter), options=overrides(option)
        )
    from agc.workflow.runners import run_serial as run

    return run(spec, overrides(parameter), options=overrides(option), debug=debugging())


@command("run-cwl", section="run")
@click.option("-p", "--parameter", multiple=True, metavar="NAME=VALUE", help="set a parameter")
@click.option(
    "--provenance",
    is_flag=True,
    help="keep cwltool's provenance (CWLProv) in outputs/cwl-provenance for agc archive",
)
def run_cwl(parameter: tuple[str, ...], provenance: bool) -> Any:
    """Run the CWL workflow locally with cwltool."""
    from agc.workflow.runners import CWL_PROVENANCE, CwltoolOptions
    from agc.workflow.runners import run_cwl as run

    local = CwltoolOptions(provenance=CWL_PROVENANCE if provenance else None)
    return run(overrides(parameter), local=local, debug=debugging())


@command("run-snakemake", section="run")
@click.option("-p", "--parameter", multiple=True, metavar="NAME=VALUE", help="set a parameter")
@click.option(
    "--cores", default=2, show_default=True, type=click.IntRange(min=1), help="jobs at once"
)
@click.option(
    "--snakemake",
    "program",
    metavar="PATH",
    help="the snakemake executable (default: .venv-snakemake/bin/snakemake, make snakemake)",
)
def run_snakemake(parameter: tuple[str, ...], cores: int, program: str | None) -> Any:
    """Run the Snakemake workflow (workflow/Snakefile) locally; outputs in outputs/snakemake."""
    from agc.workflow.snakemake_run import run_snakemake as run

    return run(overrides(parameter), snakemake=program, cores=cores, debug=debugging())


@command("check-parameters", hidden=True)
@click.option(
    "--from-command",
    is_flag=True,
    help="standard input is the text of the command itself; the lines after its "
    "AGC_PARAMETERS line are read (every parameter once)",
)
def check_parameters(from_command: bool) -> dict[str, Any]:
    """Check the name=value lines on standard input against the parameter schema, then what
    they name: the signal declaration, the manifest and its files, the output folder.

    the first command of every reana.yaml step passes its own text ($BASH_EXECUTION_STRING, --from-command) and
    exits before bash reaches the substituted values; the Snakefile pipes quoted lines.
    """
    from agc.workflow.preflight import check_named_inputs

    text = sys.stdin.read()
    if from_command:
        params = schema.parameters_in_command(text)
    else:
        params = schema.parse_parameter_lines(text)
    check_named_inputs(params)
    return {"parameters": params}


@command(section="stage")
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


@command(section="stage")
@stage_options("histograms")
@path_option("--output", default="<outdir>/histograms.root", help="the one-pass output")
@path_option("--partial-dir", default="none", help="write per-sample partial outputs here instead")
def histograms(**options: Any) -> Any:
    """NanoAOD -> histograms.root and cutflow.json (one pass unless --partial-dir is given)."""
    return stages.STAGES["histograms"](**options, partials=options["partial_dir"] is not None)


@command(section="stage")
@stage_options("merge")
@path_option("--partial-dir", default="<outdir>/partial", help="the partial outputs")
@path_option("--output", default="<outdir>/histograms.root", help="the merged histograms")
def merge(**options: Any) -> Any:
    """Merge per-sample partial outputs into histograms.root."""
    return stages.STAGES["merge"](**options)


@command(section="stage")
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


@command(section="stage")
@stage_options("fit")
@path_option(
    "--workspace-file", "workspace", default="<outdir>/workspace.json", help="the pyhf workspace"
)
@path_option("--output", default="<outdir>/fit_results.json", help="the fit results")
@path_option("--plots-dir", default="<outdir>/plots", help="folder of the plots")
def fit(**options: Any) -> Any:
    """Maximum-likelihood fit and the paper plots."""
    return stages.STAGES["fit"](**options)


@command("ml-model", section="stage")
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


@command("ml-fit", section="stage")
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


@command(section="stage")
@stage_options("ml")
def ml(**options: Any) -> Any:
    """The ML step of the workflows: ml-model, then ml-fit (notebook 04_ml)."""
    return stages.STAGES["ml"](**options)


class ReinterpretCommand(AgcCommand):
    """``agc reinterpret``: ``--partials`` takes any number of values."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Read ``--partials a b`` as ``--partials a --partials b``, then parse."""
        return super().parse_args(ctx, variadic("--partials", args))


@command(
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
    from agc.workflow.preflight import resolve_signal

    given = [path for path in partials if path] if partials else None
    options["signal"] = resolve_signal(options["signal"], Path.cwd())
    return stages.STAGES["reinterpret"](**options, partials=given)


@command(
    section="stage",
    keep=("threshold", "optimum", "scan_best", "within_one_grid_step", "seconds", "result"),
)
@stage_options("optimise")
def optimise(**options: Any) -> Any:
    """Optimise a selection threshold by gradient descent through the analysis."""
    return stages.STAGES["optimise"](**options)


@command(section="stage")
@stage_options("report")
@path_option("--notebooks-dir", default="<outdir>/notebooks", help="the executed notebooks")
@path_option("--output", default="<outdir>/report.html", help="the report")
def report(**options: Any) -> Any:
    """HTML report of the executed notebooks and provenance.json."""
    return stages.STAGES["report"](**options)


@command(section="stage")
@stage_options("archive")
@path_option("--dest", default="<outdir>/archive", help="the archive folder")
@option("--allow-dirty", is_flag=True, help="archive a dirty git tree (recorded)")
def archive(**options: Any) -> Any:
    """Deposit-ready archive: CITATION, Zenodo, HEPData, BagIt bag."""
    return stages.STAGES["archive"](**options)
