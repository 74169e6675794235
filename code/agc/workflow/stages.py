"""One function per workflow stage: what the notebooks, the ``agc`` CLI and the tests call.

The stages, in the order of reana.yaml: :func:`dataset`, :func:`histograms`, :func:`merge`,
:func:`model`, :func:`fit`, :func:`ml` (:func:`ml_model`, :func:`ml_fit`), :func:`reinterpret`,
:func:`optimise`, :func:`report`, and :func:`archive` after a
finished run. Each takes the workflow parameters it needs by keyword, under the names and with the
defaults of the parameter schema (:mod:`agc.core.parameters`), validates them before any work,
and calls its subpackage's entry point. Output paths follow the run's layout under ``outdir``::

    <outdir>/dataset.json, samples/          dataset
    <outdir>/partial/*.partial.json          histograms (the workflow's per-sample partials)
    <outdir>/histograms.root, cutflow.json   merge
    <outdir>/workspace.json                  model
    <outdir>/fit_results.json, plots/        fit
    <outdir>/histograms_ml.root              histograms / merge (use_inference)
    <outdir>/ml/workspace_ml.json            ml_model (use_inference; else ml/NOTE.txt)
    <outdir>/ml/fit_results_ml.json, plots/  ml_fit
    <outdir>/reinterpretation/, cache/       reinterpret
    <outdir>/optimise/                       optimise (else optimise/NOTE.txt)
    <outdir>/report.html, provenance.json    report (from <outdir>/notebooks/)
    <outdir>/archive/                        archive

Path keywords (``output``, ``partial_dir``, ...) default to ``None``: the place above.
The histograms and merge stages hold the lock of their output folder
(:func:`agc.core.outputlock.output_lock`: a second run into it is refused, naming the holder)
and write their files as one set (:mod:`agc.core.runset`); the stages that read the set
(model, ml-model, report, archive) refuse one whose files do not belong to one run. The stages
that build and fit models (model, fit, ml-model, ml-fit, reinterpret) send cabinetry's and
pyhf's log records to their step's log (:func:`agc.workflow.steplog.library_logs_of`). Each stage
imports its entry point when called, so a stage loads only its own libraries (the report does not
load coffea) and importing this module stays cheap for the CLI.

Long by design: every step's entry point is here, so that the notebooks, the CLI, the specs and
the tests name one module; each function stays short.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import sys
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agc.core.errors import AGCError
from agc.core.fileio import EXPECTED_WRITE_ERRORS, shown_path
from agc.core.outputlock import output_lock
from agc.core.parameters import WORKFLOW_PARAMETERS, default, validate_parameters
from agc.core.runset import check_set
from agc.core.trackers import stop_resource_trackers
from agc.workflow.stageresults import FitStageResult, ModelStageResult, ReportStageResult
from agc.workflow.steplog import library_logs_of

if TYPE_CHECKING:
    from agc.dataset.stage import DatasetRecord
    from agc.processing.results import HistogramRun
    from agc.publish.archive import ArchiveResult
    from agc.reinterpret.results import ReinterpretationResult

PathLike = str | os.PathLike[str]

#: The run's products under ``outdir`` (reana.yaml ``outputs``).
PARTIAL_DIR = "partial"
HISTOGRAMS = "histograms.root"
CUTFLOW = "cutflow.json"
WORKSPACE = "workspace.json"
FIT_RESULTS = "fit_results.json"
PLOTS_DIR = "plots"
NOTEBOOKS_DIR = "notebooks"
REPORT = "report.html"
ARCHIVE_DIR = "archive"
REINTERPRETATION_DIR = "reinterpretation"
#: The ML model's products: histograms_ml.root beside histograms.root, the rest in ml/.
HISTOGRAMS_ML = "histograms_ml.root"
ML_DIR = "ml"
WORKSPACE_ML = f"{ML_DIR}/workspace_ml.json"
FIT_RESULTS_ML = f"{ML_DIR}/fit_results_ml.json"
ML_PLOTS_DIR = f"{ML_DIR}/plots"
ML_NOTE = f"{ML_DIR}/NOTE.txt"
#: What rewrites the histogram set when a reader finds it mixed (:func:`agc.core.runset.check_set`).
RERUN_MERGE = "rerun the histograms and merge stages into this folder"
#: Inputs of the repository the stages read.
DATASET_RECIPE = "inputs/embedded.yaml"
MODEL_CONFIG = "inputs/cabinetry.yaml"
ML_MODEL_CONFIG = "inputs/cabinetry_ml.yaml"


def _under(outdir: PathLike, path: PathLike | None, name: str) -> Path:
    """``path``, or ``<outdir>/<name>`` when it is None."""
    return Path(path) if path is not None else Path(outdir) / name


def _stage(stage: Callable[..., Any]) -> Callable[..., Any]:
    """``stage`` with the expected OS faults of its writes and reads (full disk, quota,
    permissions, read-only file system: :data:`agc.core.fileio.EXPECTED_WRITE_ERRORS`) as one
    :class:`~agc.core.errors.AGCError` naming the file (else the output folder), and no helper
    process left once it has ended (:func:`agc.core.trackers.stop_resource_trackers`: a notebook
    step's kernel then shuts down at once)."""

    @functools.wraps(stage)
    def run(**options: Any) -> Any:
        try:
            return stage(**options)
        except OSError as exc:
            if exc.errno not in EXPECTED_WRITE_ERRORS:
                raise
            where = exc.filename or options.get("outdir") or default("outdir")
            raise AGCError(f"{shown_path(where)}: {exc.strerror or exc}") from None
        finally:
            stop_resource_trackers()

    return run


@_stage
def dataset(
    *,
    inputs: str = default("inputs"),
    samples: str = default("samples"),
    max_files: int = default("max_files"),
    outdir: str = default("outdir"),
    format: str = default("format"),
    recipe: PathLike = DATASET_RECIPE,
) -> DatasetRecord:
    """Make sure the inputs exist (generating the embedded default from ``recipe``, as ``format``
    files, if needed), write ``<outdir>/dataset.json`` and the per-sample markers
    ``<outdir>/samples/``; return the record of :func:`agc.dataset.stage.prepare_dataset`."""
    from agc.dataset.stage import prepare_dataset

    params = validate_parameters(
        {
            "inputs": inputs,
            "samples": samples,
            "max_files": max_files,
            "outdir": outdir,
            "format": format,
        }
    )
    return prepare_dataset(**params, recipe=recipe)


@_stage
def histograms(
    *,
    inputs: str = default("inputs"),
    samples: str = default("samples"),
    executor: str = default("executor"),
    workers: int = default("workers"),
    chunksize: int = default("chunksize"),
    max_files: int = default("max_files"),
    scheduler: str = default("scheduler"),
    outdir: str = default("outdir"),
    skip_bad_files: bool = default("skip_bad_files"),
    use_inference: bool = default("use_inference"),
    partials: bool = True,
    partial_dir: PathLike | None = None,
    output: PathLike | None = None,
) -> HistogramRun:
    """NanoAOD -> histograms (:func:`agc.processing.histograms.run_histograms`).

    ``partials=True`` (the workflow's stage): one unnormalised partial output per sample in
    ``partial_dir`` -- by default ``<outdir>/partial/``, replaced as a whole when the run
    succeeds (a failed run leaves the previous partials); a folder given is not emptied -- for
    :func:`merge`. ``partials=False``: one pass straight to ``output`` (default
    ``<outdir>/histograms.root``) and ``cutflow.json`` beside it. Per-chunk checkpoints live
    beside ``output`` either way. Returns the run's summary (yields, cut flow, timing, ...).

    Wide by design: the keywords are the workflow parameters under their schema names (what
    papermill injects into the notebook and the CLI passes); they become one
    :class:`~agc.core.config.RunConfig`, validated here once.
    """
    from agc.core.config import RunConfig
    from agc.core.fileio import replaced_directory
    from agc.processing.histograms import run_histograms
    from agc.workflow.preflight import check_entry_counts

    run = RunConfig.from_parameters(
        {
            "inputs": inputs,
            "samples": samples,
            "executor": executor,
            "workers": workers,
            "chunksize": chunksize,
            "max_files": max_files,
            "scheduler": scheduler,
            "outdir": outdir,
            "skip_bad_files": skip_bad_files,
            "use_inference": use_inference,
        }
    )
    check_entry_counts(run.inputs, run.samples, run.processing.max_files, Path.cwd())
    target = _under(run.outdir, output, HISTOGRAMS)
    with output_lock(target.parent, "agc histograms"):
        if not partials or partial_dir is not None:
            folder = Path(partial_dir) if partials else None
            return run_histograms(
                run.inputs, target, run.processing, samples=run.samples, partial_dir=folder
            )
        final = Path(run.outdir) / PARTIAL_DIR
        with replaced_directory(final) as staging:  # a failed run leaves the last partials
            result = run_histograms(
                run.inputs, target, run.processing, samples=run.samples, partial_dir=staging
            )
        moved = [str(final / Path(path).name) for path in result.partials or []]
        return dataclasses.replace(result, partials=moved)


@_stage
def merge(
    *,
    outdir: str = default("outdir"),
    skip_bad_files: bool = default("skip_bad_files"),
    use_inference: bool = default("use_inference"),
    partial_dir: PathLike | None = None,
    output: PathLike | None = None,
) -> HistogramRun:
    """Merge the partial outputs of ``partial_dir`` (default ``<outdir>/partial/``) into
    ``output`` (default ``<outdir>/histograms.root``) and ``cutflow.json`` beside it
    (:func:`agc.processing.histograms.merge_partials`); return the merge summary."""
    from agc.processing.histograms import merge_partials

    params = validate_parameters(
        {"outdir": outdir, "skip_bad_files": skip_bad_files, "use_inference": use_inference}
    )
    target = _under(params["outdir"], output, HISTOGRAMS)
    with output_lock(target.parent, "agc merge"):
        return merge_partials(
            _under(params["outdir"], partial_dir, PARTIAL_DIR),
            target,
            cutflow_output=target.with_name(CUTFLOW),
            skip_bad_files=params["skip_bad_files"],
            use_inference=params["use_inference"],
        )


@_stage
@library_logs_of("model")
def model(
    *,
    outdir: str = default("outdir"),
    signal: str = default("signal"),
    poi: str = default("poi"),
    histograms: PathLike | None = None,
    config: PathLike = MODEL_CONFIG,
    output: PathLike | None = None,
) -> ModelStageResult:
    """``histograms`` (default ``<outdir>/histograms.root``) -> the pyhf workspace ``output``
    (default ``<outdir>/workspace.json``) with the cabinetry configuration ``config``
    (:func:`agc.stats.model.build_workspace`). A signal declaration as ``signal`` is the
    reinterpretation's input: the main measurement stays ttbar
    (:func:`agc.reinterpret.signals.analysis_signal`)."""
    from agc.reinterpret.signals import analysis_signal
    from agc.stats.model import build_workspace

    params = validate_parameters({"outdir": outdir, "signal": signal, "poi": poi})
    target = _under(params["outdir"], output, WORKSPACE)
    source = _under(params["outdir"], histograms, HISTOGRAMS)
    check_set(source, RERUN_MERGE)
    spec = build_workspace(
        source,
        output=target,
        config=config,
        signal=analysis_signal(params["signal"]),
        poi=params["poi"],
    )
    return ModelStageResult(workspace=target, spec=spec)


@_stage
@library_logs_of("fit")
def fit(
    *,
    outdir: str = default("outdir"),
    poi: str = default("poi"),
    workspace: PathLike | None = None,
    output: PathLike | None = None,
    plots_dir: PathLike | None = None,
) -> FitStageResult:
    """Fit ``workspace`` (default ``<outdir>/workspace.json``) to its pseudo-data, write
    ``output`` (default ``<outdir>/fit_results.json``) and the paper plots into ``plots_dir``
    (default ``<outdir>/plots``) (:func:`agc.stats.fit.run_fit`,
    :func:`agc.plots.figures.fit_plots`), labelled for the run's inputs
    (:func:`agc.dataset.origin.run_origin`). ``poi`` is the parameter shown first in reports."""
    from agc.dataset.origin import DataOrigin, run_origin
    from agc.plots.figures import fit_plots, ranking_plot
    from agc.stats.fit import run_fit

    params = validate_parameters({"outdir": outdir, "poi": poi})
    target = _under(params["outdir"], output, FIT_RESULTS)
    folder = _under(params["outdir"], plots_dir, PLOTS_DIR)
    origin = run_origin(params["outdir"]) or DataOrigin.SYNTHETIC
    plots: list[Path] = []
    # The plots that need no impacts are drawn here while the impact fits run in the workers.
    run = run_fit(
        _under(params["outdir"], workspace, WORKSPACE),
        target,
        meanwhile=lambda partial: plots.extend(fit_plots(partial, folder, origin=origin)),
    )
    if run.ranking_results is not None:
        plots += ranking_plot(run.ranking_results, folder, origin=origin)
    _step_log_line(f"[agc fit] {run.summary.convergence_line()}")
    return FitStageResult(fit_results=target, run=run, plots=tuple(plots), poi=params["poi"])


def _step_log_line(line: str) -> None:
    """``line`` on the process's own stderr (the step's log, REANA's job log), not into the
    notebook that called the stage (:func:`agc.core.progress.process_stderr`)."""
    from agc.core.progress import process_stderr

    stderr = process_stderr()
    if stderr is not None:
        stderr.write(line + "\n")
        stderr.flush()


@_stage
@library_logs_of("ml")
def ml_model(
    *,
    outdir: str = default("outdir"),
    use_inference: bool = default("use_inference"),
    histograms: PathLike | None = None,
    config: PathLike = ML_MODEL_CONFIG,
    output: PathLike | None = None,
) -> ModelStageResult | dict[str, Any]:
    """``histograms`` (default ``<outdir>/histograms_ml.root``) -> the pruned ML workspace
    ``output`` (default ``<outdir>/ml/workspace_ml.json``) with the cabinetry configuration
    ``config`` (:func:`agc.stats.mlmodel.build_ml_workspace`). With ``use_inference`` false there
    are no ML histograms: ``<outdir>/ml/NOTE.txt`` says so, a line on stderr too, result ``{}``."""
    params = validate_parameters({"outdir": outdir, "use_inference": use_inference})
    if not params["use_inference"]:
        _note_no_inference(params["outdir"], "ml-model")
        return {}
    from agc.core.fileio import fresh_directory
    from agc.stats.mlmodel import build_ml_workspace

    source = _under(params["outdir"], histograms, HISTOGRAMS_ML)
    if not source.is_file():
        raise AGCError(
            f"{source}: ML histograms not found (the histogram step writes them with "
            "use_inference=true; rerun it so, or run with use_inference=false)"
        )
    check_set(source, RERUN_MERGE)
    target = _under(params["outdir"], output, WORKSPACE_ML)
    if output is None:
        fresh_directory(target.parent)  # no NOTE.txt or plots of an earlier run stay beside it
    checked = build_ml_workspace(source, output=target, config=config)
    return ModelStageResult(workspace=target, spec=dict(checked), checked=checked)


@_stage
@library_logs_of("ml")
def ml_fit(
    *,
    outdir: str = default("outdir"),
    use_inference: bool = default("use_inference"),
    workspace: PathLike | ModelStageResult | None = None,
    main_fit: PathLike | None = None,
    config: PathLike = ML_MODEL_CONFIG,
    output: PathLike | None = None,
    plots_dir: PathLike | None = None,
    figure_pool: Executor | None = None,
) -> FitStageResult | dict[str, Any]:
    """Fit the ML ``workspace`` (default ``<outdir>/ml/workspace_ml.json``) to its pseudo-data
    with the main fit's code (MIGRAD, HESSE at the minimum, both with the exact derivatives of
    :mod:`agc.stats.autodiff`; no impact ranking: 4 fits for each of its ~190 parameters), write
    ``output`` (default ``<outdir>/ml/fit_results_ml.json``) and into ``plots_dir`` (default
    ``<outdir>/ml/plots``) the pre-/post-fit distributions, pulls, correlations and the AGC's ML
    validation: the main fit ``main_fit`` (default ``<outdir>/fit_results.json``) applied to the
    ML model
    (:func:`agc.stats.mlmodel.fit_ml`, :func:`agc.plots.figures.distribution_plots`,
    :mod:`agc.plots.mlfigures`). A second process fits, then draws the pulls, the correlations
    and the post-fit figures of :func:`~agc.plots.mlfigures.worker_channels`, while this one
    draws the figures that need no fit, then the other post-fit ones: ``figure_pool`` (one
    worker, shut down at the end), else one started here. ``workspace`` may be
    :func:`ml_model`'s result: its file, whose content it holds checked (``checked``), is then
    not read and checked again. ``use_inference`` false: as :func:`ml_model`.
    """
    params = validate_parameters({"outdir": outdir, "use_inference": use_inference})
    if not params["use_inference"]:
        _note_no_inference(params["outdir"], "ml-fit")
        return {}
    from agc.dataset.origin import DataOrigin, run_origin
    from agc.plots.figures import distribution_plots
    from agc.plots.mlfigures import fit_result_plots, prefit_and_validation_plots, worker_channels
    from agc.plots.process import figure_process
    from agc.stats.fit import load_model, naming
    from agc.stats.mlmodel import fit_ml, main_fit_results, ml_template, read_fit
    from agc.stats.pyhfmodel import model_and_data

    target = _under(params["outdir"], output, FIT_RESULTS_ML)
    folder = _under(params["outdir"], plots_dir, ML_PLOTS_DIR)
    built = workspace if isinstance(workspace, ModelStageResult) else None
    source = built.workspace if built else _under(params["outdir"], workspace, WORKSPACE_ML)
    checked = built.checked if built else None
    template = ml_template(config)
    origin = run_origin(params["outdir"]) or DataOrigin.SYNTHETIC
    main = main_fit_results(_under(params["outdir"], main_fit, FIT_RESULTS))
    if checked is None:
        checked, model, data = load_model(source)  # bad input fails here, before any work
    else:
        with naming(source):
            model, data = model_and_data(checked)
    with figure_pool or figure_process() as pool:
        fitted = pool.submit(fit_ml, checked, target)
        shared = worker_channels(model.config.channels)
        after = pool.submit(fit_result_plots, checked, target, folder, template, origin, shared)
        plots = prefit_and_validation_plots(model, data, main, folder, template, origin)
        with naming(source):
            fitted.result()
        run = read_fit(target, model, data)
        plots += distribution_plots(
            model,
            data,
            folder,
            fit_results=run.fit_results,
            config=template,
            origin=origin,
            channels=[c for c in model.config.channels if c not in shared],
        )
        plots += after.result()
    return FitStageResult(fit_results=target, run=run, plots=tuple(plots), poi=run.summary.poi.name)


@_stage
def ml(
    *,
    outdir: str = default("outdir"),
    use_inference: bool = default("use_inference"),
) -> FitStageResult | dict[str, Any]:
    """The ML step of the workflows (notebook ``04_ml.ipynb``): :func:`ml_model` then
    :func:`ml_fit` with their default paths under ``outdir``; returns the fit's result, ``{}``
    with ``use_inference`` false (``<outdir>/ml/NOTE.txt``). The fit's second process starts
    first and imports JAX and the plotting libraries while this one builds the model."""
    if not validate_parameters({"use_inference": use_inference})["use_inference"]:
        ml_model(outdir=outdir, use_inference=use_inference)
        return ml_fit(outdir=outdir, use_inference=use_inference)
    from agc.plots.process import warm_figure_process

    with warm_figure_process() as pool:
        built = ml_model(outdir=outdir, use_inference=use_inference)
        return ml_fit(outdir=outdir, use_inference=use_inference, workspace=built, figure_pool=pool)


def _note_no_inference(outdir: str, stage: str) -> None:
    """``<outdir>/ml/NOTE.txt``; the model stage (the first) empties ``<outdir>/ml`` first, so
    no product of an earlier run with inference stays there."""
    from agc.core.fileio import fresh_directory, write_text

    if stage == "ml-model":
        fresh_directory(Path(outdir) / ML_DIR)
    write_text(
        Path(outdir) / ML_NOTE,
        "use_inference=false: no BDT jet-parton assignment, no histograms_ml.root, no ML model\n"
        "or fit. Run with use_inference=true (the default) for them.\n",
    )
    print(
        f"agc {stage}: use_inference is false, nothing to do (see {outdir}/{ML_NOTE})",
        file=sys.stderr,
    )


@_stage
@library_logs_of("reinterpret")
def reinterpret(
    *,
    signal: str = default("signal"),
    inputs: str = default("inputs"),
    outdir: str = default("outdir"),
    executor: str = default("executor"),
    workers: int = default("workers"),
    chunksize: int = default("chunksize"),
    max_files: int = default("max_files"),
    scheduler: str = default("scheduler"),
    signal_poi: str | None = None,
    config: PathLike | None = None,
    partials: list[PathLike] | None = None,
) -> ReinterpretationResult | dict[str, Any]:
    """Swap the signal for the declaration ``signal`` (:func:`agc.reinterpret.pipeline.reinterpret`):
    ``<outdir>/reinterpretation/`` with the new workspace, fit, CLs limits, BkgOnly + PatchSet.

    ``signal_poi``: name of the new signal's strength (default ``mu_sig``); ``config``: cabinetry
    template (default the analysis'); ``partials``: partial outputs that may seed the cache
    (default ``<outdir>/partial``). A ``signal`` that is not a declaration (``ttbar``, the main
    measurement) reinterprets nothing: ``<outdir>/reinterpretation/NOTE.txt`` says so, a line on
    stderr too, and the result is ``{}``.

    Wide by design: the keywords are the workflow parameters under their schema names (what
    papermill injects and the CLI passes) and the three above; the parameters become one
    :class:`~agc.core.config.RunConfig`, validated here once (the swap's sums carry no ML
    features: ``use_inference`` is false).
    """
    from agc.core.config import RunConfig
    from agc.reinterpret.signals import is_declaration

    run = RunConfig.from_parameters(
        {
            "signal": signal,
            "inputs": inputs,
            "outdir": outdir,
            "executor": executor,
            "workers": workers,
            "chunksize": chunksize,
            "max_files": max_files,
            "scheduler": scheduler,
            "use_inference": False,
        }
    )
    if not is_declaration(run.signal):
        _note_nothing_to_reinterpret(run.outdir, run.signal)
        return {}
    from agc.reinterpret import pipeline

    request = pipeline.resolve_request(
        run.signal, run.inputs, **({"poi": signal_poi} if signal_poi is not None else {})
    )
    options: dict[str, Any] = {"partials": partials}
    if config is not None:
        options["config"] = config
    return pipeline.reinterpret(request, outdir=run.outdir, processing=run.processing, **options)


def _note_nothing_to_reinterpret(outdir: str, signal: str) -> None:
    from agc.core.fileio import write_text

    write_text(
        Path(outdir) / REINTERPRETATION_DIR / "NOTE.txt",
        f"signal={signal}: no signal declaration given, nothing reinterpreted.\n"
        "Run with signal=inputs/signals/<name>.yaml (make reinterpret SIGNAL=...).\n",
    )
    print(
        f"agc reinterpret: signal={signal!r} is the main measurement (see fit_results.json);"
        " give a signal declaration such as inputs/signals/zprime_1000.yaml to reinterpret",
        file=sys.stderr,
    )


@_stage
def optimise(
    *,
    optimise_cut: str = default("optimise_cut"),
    inputs: str = default("inputs"),
    outdir: str = default("outdir"),
    max_files: int = default("max_files"),
) -> Any:
    """Optimise the cut ``optimise_cut`` by gradient descent into ``<outdir>/optimise/``
    (:func:`agc.optimise.stage.run_step`, its provenance from
    :func:`agc.publish.provenance.collect`; ``"none"``: only its NOTE.txt, result ``{}``)."""
    from agc.optimise.stage import run_step
    from agc.publish.provenance import collect

    keys = ("optimise_cut", "inputs", "outdir", "max_files")
    values = (optimise_cut, inputs, outdir, max_files)
    return run_step(validate_parameters(dict(zip(keys, values, strict=True))), collect)


@_stage
def report(
    *,
    outdir: str = default("outdir"),
    notebooks_dir: PathLike | None = None,
    output: PathLike | None = None,
) -> ReportStageResult:
    """Write ``<outdir>/provenance.json``, then the report ``output`` (default
    ``<outdir>/report.html``): the run's summary from the outputs in ``outdir``, then the
    executed notebooks of ``notebooks_dir`` (default ``<outdir>/notebooks``)
    (:func:`agc.publish.provenance.run_provenance`, :func:`agc.report.build.build_report`)."""
    from agc.publish.provenance import run_provenance
    from agc.report.build import build_report

    params = validate_parameters({"outdir": outdir})
    check_set(Path(params["outdir"]) / HISTOGRAMS, RERUN_MERGE)
    # provenance.json first: the report's provenance box shows it.
    provenance = Path(run_provenance(params["outdir"]))
    html = build_report(
        _under(params["outdir"], notebooks_dir, NOTEBOOKS_DIR),
        _under(params["outdir"], output, REPORT),
        outdir=params["outdir"],
    )
    return ReportStageResult(report=Path(html), provenance=provenance)


@_stage
def archive(
    *,
    outdir: str = default("outdir"),
    inputs: str = default("inputs"),
    dest: PathLike | None = None,
    allow_dirty: bool = False,
) -> ArchiveResult:
    """The deposit-ready archive of the finished run in ``outdir`` (CITATION, Zenodo and HEPData
    records, BagIt bag) in ``dest`` (default ``<outdir>/archive``); ``allow_dirty`` archives a
    git tree with uncommitted changes (recorded). :func:`agc.publish.archive.build_archive`."""
    from agc.publish.archive import build_archive

    params = validate_parameters({"outdir": outdir, "inputs": inputs})
    check_set(Path(params["outdir"]) / HISTOGRAMS, RERUN_MERGE)
    return build_archive(
        params["outdir"],
        _under(params["outdir"], dest, ARCHIVE_DIR),
        allow_dirty=allow_dirty,
        inputs=params["inputs"],
    )


#: Every stage, by name, in the workflow's order (``archive`` follows a finished run).
STAGES: dict[str, Callable[..., Any]] = {
    "dataset": dataset,
    "histograms": histograms,
    "merge": merge,
    "model": model,
    "fit": fit,
    "ml-model": ml_model,
    "ml-fit": ml_fit,
    "ml": ml,
    "reinterpret": reinterpret,
    "optimise": optimise,
    "report": report,
    "archive": archive,
}


def stage_parameters(stage: Callable[..., Any]) -> tuple[str, ...]:
    """The workflow parameters (schema names) ``stage`` takes, in its signature's order."""
    names = inspect.signature(stage).parameters
    return tuple(name for name in names if name in WORKFLOW_PARAMETERS)
