"""Throughput of the event-processing stage next to its physical floor.

:func:`run_benchmark` times, in the same run and on the same files, chunks and number of
workers:

- the processor: :func:`agc.processing.histograms.run_histograms` end to end (coffea Runner, selection
  with all systematic variations, histogram filling, writing the outputs), and
- the floor: reading and decompressing just the columns the analysis needs
  (:data:`agc.core.physics.BRANCHES_READ`) with uproot, chunk by chunk, nothing else.

The ratio processor/floor (events/s over events/s) says how close the analysis runs to the
cost of I/O alone (1.0 = free physics). The peak resident memory (RSS) of the processes that ran
chunks and of the driver is reported next to it. :func:`dask_scale_out` times the processor on
the Dask executor with 1 and 2 workers on a generated dataset of ~2.2 M events (the speed-up of
adding a worker). Figures are printed, never asserted: timings depend on the machine and its load.

:func:`run_format_benchmark` does both on the same events written as TTree and as RNTuple files
(the ``format`` of :func:`agc.dataset.generate.generate_dataset`), with the files' sizes and
whether the two ``histograms.root`` are byte-identical. :func:`run_ml_benchmark` times the
histogram stage without and with the BDT inference of the ML extension, breaks one ttbar chunk
down into selection, assignments, features and BDT (the compiled trees and xgboost side by side,
per assignment and per tree node visited), and measures the BDT's assignment accuracy.
"""

from __future__ import annotations

import concurrent.futures
import math
import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import uproot
from coffea.nanoevents import NanoEventsFactory

from agc.analysis.assignment import lepton_columns, objects_of
from agc.analysis.inference import BACKENDS, forest, load_models, scores
from agc.analysis.mlfeatures import assignments, features
from agc.analysis.mltruth import assignment_accuracy
from agc.analysis.processor import AGCSchema, collections
from agc.analysis.selection import select
from agc.analysis.treecompile import node_visits
from agc.core import physics
from agc.core.config import ProcessingConfig
from agc.core.errors import AGCError
from agc.core.fileio import sha256_file
from agc.dataset.branches import FORMATS
from agc.dataset.generate import DEFAULT_WORKERS, generate_dataset
from agc.dataset.manifest import Manifest
from agc.processing.histograms import check_inputs, run_histograms

#: Where the default benchmark input (the embedded recipe at a given scale) is generated.
BENCH_DATA = Path("data") / "bench"


def chunk_ranges(num_entries: int, chunksize: int) -> list[tuple[int, int]]:
    """Entry ranges [start, stop) as coffea's Runner cuts a file of ``num_entries`` entries:
    ``n = max(round(N / chunksize), 1)`` chunks of ``ceil(N / n)`` entries."""
    if num_entries == 0:
        return [(0, 0)]
    n = max(round(num_entries / chunksize), 1)
    size = math.ceil(num_entries / n)
    return [(start, min(start + size, num_entries)) for start in range(0, num_entries, size)]


def read_columns(path: str, start: int, stop: int) -> int:
    """Read and decompress the analysis columns of entries [start, stop) of ``path``; return the
    number of entries read (the floor's unit of work)."""
    with uproot.open(path) as handle:
        arrays = handle["Events"].arrays(
            list(physics.BRANCHES_READ), entry_start=start, entry_stop=stop
        )
    return len(arrays)


def uproot_floor(
    files: dict[str, int], *, executor: str = "futures", workers: int = 2, chunksize: int = 100_000
) -> dict[str, Any]:
    """Time reading the needed columns of ``files`` ({path: entries}) chunk by chunk, with
    ``workers`` processes unless ``executor`` is ``iterative``. Returns events, seconds, events/s."""
    tasks = [
        (path, a, b) for path, n in sorted(files.items()) for a, b in chunk_ranges(n, chunksize)
    ]
    start = time.perf_counter()
    if executor == "iterative" or workers == 1:
        events = sum(read_columns(*task) for task in tasks)
    else:
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=context
        ) as pool:
            events = sum(pool.map(read_columns, *zip(*tasks, strict=True)))
    seconds = time.perf_counter() - start
    return {
        "events": events,
        "seconds": seconds,
        "events_per_s": events / seconds if seconds > 0 else math.inf,
    }


def default_inputs(scale: float = 1.0) -> Path:
    """Manifest of the embedded recipe generated at ``scale`` under ``data/bench`` (generated if missing)."""
    return generate_dataset(BENCH_DATA / f"scale-{scale:g}", scale=scale)


def _timed_histograms(
    manifest: Manifest, processing: ProcessingConfig, samples: str
) -> tuple[float, Any, str]:
    """(seconds, summary, sha256 of histograms.root) of one histogram-stage run of ``samples``
    into a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="agc-bench-") as tmp:
        start = time.perf_counter()
        summary = run_histograms(
            manifest, Path(tmp) / "histograms.root", processing, samples=samples
        )
        seconds = time.perf_counter() - start
        return seconds, summary, sha256_file(Path(tmp) / "histograms.root")


def run_benchmark(
    inputs: str | os.PathLike[str] | dict[str, Any] | None = None,
    *,
    scale: float = 1.0,
    samples: str = "all",
    executor: str = "futures",
    workers: int = 2,
    chunksize: int = 100_000,
    max_files: int = -1,
) -> dict[str, Any]:
    """Events/s of the processor and of the uproot read floor on the same input, and their ratio.

    ``inputs``: manifest path / ``"embedded"`` / loaded manifest; ``None`` generates the embedded
    recipe at ``scale`` (:func:`default_inputs`). The floor runs first so both see warm page
    caches alike. Returns ``{"input", "files", "events", "executor", "workers", "chunksize",
    "floor": {...}, "processor": {...}, "ratio", "peak_rss_mb": {"workers", "driver"},
    "size_mb", "histograms_sha256"}`` (seconds, events/s, MB; the driver's figure is this
    process' peak so far; ``size_mb``: the input files' total size [10^6 bytes]).
    """
    processing = ProcessingConfig(
        executor=executor, workers=workers, chunksize=chunksize, max_files=max_files
    )
    source = default_inputs(scale) if inputs is None else inputs
    manifest = Manifest.of(source)
    files = check_inputs(manifest.select(samples, max_files))
    # Warm the page cache so neither measurement pays the first read from disk.
    for path in files:
        with open(path, "rb") as handle:
            while handle.read(1 << 24):
                pass
    floor = uproot_floor(files, executor=executor, workers=workers, chunksize=chunksize)
    seconds, summary, digest = _timed_histograms(manifest, processing, samples)
    events = summary.events_processed
    processor_rate = events / seconds if seconds > 0 else math.inf
    return {
        "input": str(source) if not isinstance(source, dict) else "<manifest>",
        "files": len(files),
        "events": events,
        "executor": executor,
        "workers": workers,
        "chunksize": chunksize,
        "columns": len(physics.BRANCHES_READ),
        "floor": floor,
        "processor": {"events": events, "seconds": seconds, "events_per_s": processor_rate},
        "ratio": processor_rate / floor["events_per_s"] if floor["events_per_s"] else math.nan,
        "peak_rss_mb": summary.peak_rss_mb,
        "size_mb": sum(os.path.getsize(path) for path in files) / 1e6,
        "histograms_sha256": digest,
    }


def format_report(result: dict[str, Any]) -> str:
    """The benchmark as a small printable table."""
    floor, proc = result["floor"], result["processor"]
    floor_label = f"uproot floor (read {result['columns']} columns)"
    lines = [
        (
            f"AGC event-processing benchmark: {result['events']:,} events in {result['files']} "
            f"files ({result['input']})"
        ),
        f"  executor={result['executor']} workers={result['workers']} chunksize={result['chunksize']:,}",
        f"  {'':34s} {'seconds':>9s} {'events/s':>12s}",
        f"  {'processor (coffea, full analysis)':34s} {proc['seconds']:9.2f} {proc['events_per_s']:12,.0f}",
        f"  {floor_label:34s} {floor['seconds']:9.2f} {floor['events_per_s']:12,.0f}",
        f"  ratio processor / floor: {result['ratio']:.2f}",
    ]
    if "peak_rss_mb" in result:
        rss = result["peak_rss_mb"]
        lines.append(
            f"  peak RSS [MB]: {rss['workers']:.0f} (processes running chunks), "
            f"{rss['driver']:.0f} (driver)"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- statistics stage


def _timed(function: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def _pyhf_optimizer_fit(model: Any, data: list[float]) -> dict[str, Any]:
    """One MIGRAD + HESSE through pyhf's MINUIT optimiser (strategy 1, our tolerance; what
    ``cabinetry.fit.fit`` ran before): seconds, calls, success."""
    import pyhf

    from agc.stats.migrad import SETTINGS

    pyhf.set_backend(
        "numpy", pyhf.optimize.minuit_optimizer(strategy=1, tolerance=SETTINGS.tolerance)
    )
    start = time.perf_counter()
    try:
        _, result = pyhf.infer.mle.fit(
            data, model, return_uncertainties=True, return_result_obj=True
        )
        calls, success = int(result.minuit.nfcn), True
    except pyhf.exceptions.FailedMinimization as exc:
        calls, success = int(getattr(exc.result, "nfev", 0) or 0), False
    return {"seconds": time.perf_counter() - start, "calls": calls, "success": success}


def run_stats_benchmark(
    workspace: str | os.PathLike[str] = "outputs/workspace.json", repeats: int = 3
) -> dict[str, Any]:
    """Figures of the statistics stage on ``workspace`` (default: the last ``make run``'s).

    - main fit (:func:`agc.stats.fit.fit`: MIGRAD + HESSE) ``repeats`` times: fits/s, calls;
    - the same fit through pyhf's MINUIT optimiser (the previous path) once: calls and time;
    - the impact ranking (:func:`agc.stats.ranking.ranking`, pool started as in the fit stage)
      with 1 and 2 worker processes: wall time, fits, calls per fit.
    """
    import numpy as np

    from agc.stats.fit import fit, load_model
    from agc.stats.ranking import ranking, ranking_pool

    if not Path(workspace).is_file():
        raise AGCError(f"{workspace}: workspace not found (run `make run` first)")
    spec, model, data = load_model(workspace)
    seconds, runs = _timed(lambda: [fit(model, data) for _ in range(repeats)])
    fit_results, main = runs[-1]
    previous = _pyhf_optimizer_fit(model, data)
    seed = main.seed
    rankings = {}
    for workers in (1, 2):
        start = time.perf_counter()
        with ranking_pool(spec, workers) as pool:
            _, fits = ranking(model, fit_results, seed, pool)
        calls = [f.nfcn for f in fits]
        rankings[str(workers)] = {
            "seconds": time.perf_counter() - start,
            "fits": len(fits),
            "calls_per_fit": float(np.mean(calls)),
            "max_calls": int(max(calls)),
            "fallbacks": sum(f.attempt >= 0 for f in fits),
        }
    return {
        "workspace": os.fspath(workspace),
        "parameters": len(model.config.par_names),
        "main_fit": {
            "fits_per_s": repeats / seconds,
            "migrad_calls": main.migrad.nfcn,
            "hesse_calls": int(main.hesse.nfcn),
            "ms_per_call": 1e3 * seconds / repeats / (main.migrad.nfcn + main.hesse.nfcn),
        },
        "pyhf_optimizer_fit": previous,
        "ranking": rankings,
        "speedup_2_workers": rankings["1"]["seconds"] / rankings["2"]["seconds"],
    }


def format_stats_report(result: dict[str, Any]) -> str:
    """The statistics benchmark as a small printable table."""
    main, old = result["main_fit"], result["pyhf_optimizer_fit"]
    lines = [
        f"AGC statistics benchmark: {result['workspace']} ({result['parameters']} parameters)",
        (
            f"  main fit (MIGRAD + HESSE): {main['fits_per_s']:.2f} fits/s, "
            f"{main['migrad_calls']:,} + {main['hesse_calls']:,} calls, "
            f"{main['ms_per_call']:.3f} ms per call of -2 ln L"
        ),
        (
            f"  same fit via pyhf's optimiser: {old['seconds']:.2f} s, {old['calls']:,} calls"
            + ("" if old["success"] else " (FAILED to converge)")
        ),
        f"  {'impact ranking':18s} {'seconds':>8s} {'fits':>5s} {'calls/fit':>10s} {'max':>7s}",
    ]
    for workers, row in result["ranking"].items():
        lines.append(
            f"  {workers + ' worker(s)':18s} {row['seconds']:8.2f} {row['fits']:5d} "
            f"{row['calls_per_fit']:10.0f} {row['max_calls']:7,d}"
        )
    lines.append(f"  ranking speed-up with 2 workers: {result['speedup_2_workers']:.2f}x")
    return "\n".join(lines)


# --------------------------------------------------------------------------- Dask scale-out

#: Dask worker counts of the scale-out figures (single-threaded worker processes).
SCALE_OUT_WORKERS = (1, 2)
#: Recipe scale of the scale-out dataset: about 2.2 M events in the files (1.66 M at scale 1).
SCALE_OUT_SCALE = 1.3


def _time_on_dask(
    manifest: Manifest, workers: int, chunksize: int, samples: str, tmp: Path, repeats: int
) -> dict[str, Any]:
    """Events/s of :func:`run_histograms` on a fresh dask ``LocalCluster`` of ``workers``
    single-threaded processes (:func:`agc.processing.executors.local_cluster`), which first
    import the analysis (not timed): the fastest of ``repeats`` runs (the machine's other load
    only ever slows a run down)."""
    import importlib

    import distributed

    from agc.processing.executors import local_cluster

    timings = []
    with local_cluster(workers) as cluster, distributed.Client(cluster) as client:
        client.run(importlib.import_module, "agc.analysis.processor")
        for attempt in range(repeats):
            start = time.perf_counter()
            summary = run_histograms(
                manifest,
                tmp / f"dask-{workers}-{attempt}" / "histograms.root",
                ProcessingConfig(
                    executor="dask", scheduler=cluster.scheduler_address, chunksize=chunksize
                ),
                samples=samples,
            )
            timings.append(time.perf_counter() - start)
    events = summary.events_processed
    seconds = min(timings)
    return {
        "workers": workers,
        "events": events,
        "seconds": seconds,
        "all_seconds": timings,
        "events_per_s": events / seconds if seconds > 0 else math.inf,
    }


def dask_scale_out(
    inputs: str | os.PathLike[str] | None = None,
    *,
    scale: float = SCALE_OUT_SCALE,
    workers: tuple[int, ...] = SCALE_OUT_WORKERS,
    chunksize: int = 100_000,
    samples: str = "all",
    repeats: int = 2,
) -> dict[str, Any]:
    """Events/s of the processor on the Dask executor with each number of ``workers`` (one
    ``LocalCluster`` of single-threaded processes each, on the same files; the fastest of
    ``repeats`` runs), and each speed-up over the first.

    ``inputs``: a manifest; ``None`` generates the embedded recipe at ``scale`` into a temporary
    folder (removed afterwards; ~2.2 M events at the default scale). Returns ``{"input", "files",
    "events", "chunksize", "repeats", "runs": [{"workers", "events", "seconds" (fastest),
    "all_seconds", "events_per_s"}],
    "speedup": {workers: ratio}, "cpus", "load_average": [before, after] (1-minute load),
    "measured_at" (UTC, ISO 8601)}``.
    """
    import datetime as dt

    from agc.dataset.generate import DEFAULT_WORKERS

    with tempfile.TemporaryDirectory(prefix="agc-bench-dask-") as folder:
        tmp = Path(folder)
        source = inputs
        if source is None:
            source = generate_dataset(tmp / "data", scale=scale, workers=DEFAULT_WORKERS)
        manifest = Manifest.of(source)
        files = check_inputs(manifest.select(samples))
        measured_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        load_before = os.getloadavg()[0]
        runs = [_time_on_dask(manifest, n, chunksize, samples, tmp, repeats) for n in workers]
        load_after = os.getloadavg()[0]
    base = runs[0]["events_per_s"]
    return {
        "input": str(source) if inputs is not None else f"embedded recipe, scale {scale:g}",
        "files": len(files),
        "events": runs[0]["events"],
        "chunksize": chunksize,
        "repeats": repeats,
        "runs": runs,
        "speedup": {str(run["workers"]): run["events_per_s"] / base for run in runs},
        "cpus": os.cpu_count(),
        "load_average": [load_before, load_after],
        "measured_at": measured_at,
    }


def format_scale_out(result: dict[str, Any]) -> str:
    """The Dask scale-out figures as a small printable table."""
    lines = [
        (
            f"Dask scale-out: {result['events']:,} events in {result['files']} files "
            f"({result['input']}), chunksize={result['chunksize']:,}, "
            f"fastest of {result['repeats']} runs"
        ),
        (
            f"  measured {result['measured_at']} on {result['cpus']} CPUs, 1-minute load "
            f"{result['load_average'][0]:.2f} before, {result['load_average'][1]:.2f} after"
        ),
        f"  {'dask workers':>12s} {'seconds':>9s} {'events/s':>12s} {'speed-up':>9s}",
    ]
    for run in result["runs"]:
        speedup = result["speedup"][str(run["workers"])]
        lines.append(
            f"  {run['workers']:12d} {run['seconds']:9.2f} {run['events_per_s']:12,.0f} "
            f"{speedup:8.2f}x"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- scale-out table

#: The runs of the scale-out table, in its order: (executor, worker processes).
SCALE_OUT_TABLE: tuple[tuple[str, int], ...] = (
    ("iterative", 1),
    ("futures", 2),
    ("dask", 1),
    ("dask", 2),
)


def _time_local(
    manifest: Manifest, executor: str, workers: int, chunksize: int, samples: str, repeats: int
) -> dict[str, Any]:
    """Events/s of :func:`run_histograms` (checkpoints on, as a run has them) on the iterative
    or futures executor, the fastest of ``repeats`` runs; the futures pool is started inside
    each run, so its start-up is counted. Adds the ``histograms.root`` sha256 of the runs."""
    timings, digests, events = [], set(), 0
    for _ in range(repeats):
        processing = ProcessingConfig(executor=executor, workers=workers, chunksize=chunksize)
        seconds, summary, digest = _timed_histograms(manifest, processing, samples)
        timings.append(seconds)
        digests.add(digest)
        events = summary.events_processed
    seconds = min(timings)
    return {
        "events": events,
        "seconds": seconds,
        "all_seconds": timings,
        "events_per_s": events / seconds if seconds > 0 else math.inf,
        "digests": digests,
    }


def _time_dask_digests(
    manifest: Manifest, workers: int, chunksize: int, samples: str, tmp: Path, repeats: int
) -> dict[str, Any]:
    """:func:`_time_on_dask` plus the sha256 of the ``histograms.root`` it wrote."""
    run = _time_on_dask(manifest, workers, chunksize, samples, tmp, repeats)
    written = sorted(tmp.glob(f"dask-{workers}-*/histograms.root"))
    return {**run, "digests": {sha256_file(path) for path in written}}


def run_scale_out(
    inputs: str | os.PathLike[str] | None = None,
    *,
    scale: float = 1.0,
    chunksize: int = 100_000,
    samples: str = "all",
    repeats: int = 2,
) -> dict[str, Any]:
    """The scale-out table in one run: events/s of the iterative executor (1 process), futures
    (2 processes) and Dask (1 and 2 single-threaded worker processes on a ``LocalCluster``
    started before the timing, as a REANA cluster is), each the fastest of ``repeats`` runs, next
    to the uproot read floor of the same columns in one process.

    Per-core efficiency is events/s per worker over the iterative process' events/s (1.0: a
    worker is as fast as one plain process). ``inputs``: a manifest; ``None``: the embedded
    recipe at ``scale`` under ``data/bench`` (:func:`default_inputs`). Returns ``{"input",
    "files", "events", "chunksize", "repeats", "floor": {"seconds", "events_per_s"}, "runs":
    [{"executor", "workers", "events", "seconds", "all_seconds", "events_per_s",
    "per_core"}], "identical": bool (every run's ``histograms.root`` the same bytes), "cpus",
    "load_average": [before, after] (1-minute), "measured_at" (UTC, ISO 8601)}``.
    """
    import datetime as dt

    source = default_inputs(scale) if inputs is None else inputs
    manifest = Manifest.of(source)
    files = check_inputs(manifest.select(samples))
    for path in files:  # warm the page cache: no run pays the first read from disk
        with open(path, "rb") as handle:
            while handle.read(1 << 24):
                pass
    measured_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    load_before = os.getloadavg()[0]
    floor = min(
        (uproot_floor(files, executor="iterative", chunksize=chunksize) for _ in range(repeats)),
        key=lambda result: result["seconds"],
    )
    runs = []
    with tempfile.TemporaryDirectory(prefix="agc-bench-scaleout-") as folder:
        for executor, workers in SCALE_OUT_TABLE:
            if executor == "dask":
                run = _time_dask_digests(
                    manifest, workers, chunksize, samples, Path(folder), repeats
                )
            else:
                run = _time_local(manifest, executor, workers, chunksize, samples, repeats)
            runs.append({"executor": executor, **run, "workers": workers})
    load_after = os.getloadavg()[0]
    base = runs[0]["events_per_s"]
    digests = set().union(*(run.pop("digests") for run in runs))
    for run in runs:
        run["per_core"] = run["events_per_s"] / run["workers"] / base
    return {
        "input": str(source),
        "files": len(files),
        "events": runs[0]["events"],
        "chunksize": chunksize,
        "repeats": repeats,
        "floor": {"seconds": floor["seconds"], "events_per_s": floor["events_per_s"]},
        "runs": runs,
        "identical": len(digests) == 1,
        "cpus": os.cpu_count(),
        "load_average": [load_before, load_after],
        "measured_at": measured_at,
    }


def format_scale_out_table(result: dict[str, Any]) -> str:
    """The scale-out table as markdown: events/s, per-core efficiency against the iterative
    process and the ratio to the read floor of every run."""
    floor = result["floor"]["events_per_s"]
    lines = [
        (
            f"Scale-out: {result['events']:,} events in {result['files']} files "
            f"({result['input']}), chunksize={result['chunksize']:,}, fastest of "
            f"{result['repeats']} runs"
        ),
        (
            f"measured {result['measured_at']} on {result['cpus']} CPUs, 1-minute load "
            f"{result['load_average'][0]:.2f} before, {result['load_average'][1]:.2f} after"
        ),
        "",
        (
            "| how | workers | seconds | events/s | per core, against one iterative process "
            "| per core, against the read floor |"
        ),
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for run in result["runs"]:
        per_worker = run["events_per_s"] / run["workers"]
        lines.append(
            f"| {run['executor']} | {run['workers']} | {run['seconds']:.2f} "
            f"| {run['events_per_s']:,.0f} | {run['per_core']:.2f} | {per_worker / floor:.2f} |"
        )
    lines.append(
        f"| uproot read floor (one process) | 1 | {result['floor']['seconds']:.2f} "
        f"| {floor:,.0f} | | 1.00 |"
    )
    verdict = "byte-identical" if result["identical"] else "DIFFERENT"
    lines += ["", f"histograms.root of every run: {verdict}"]
    return "\n".join(lines)


# -- TTree vs RNTuple ----------------------------------------------------------------------------


def format_inputs(scale: float, file_format: str) -> Path:
    """Manifest of the embedded recipe at ``scale`` as ``file_format`` files under ``data/bench``
    (the TTree one is :func:`default_inputs`' folder; generated if missing)."""
    suffix = "" if file_format == "ttree" else f"-{file_format}"
    return generate_dataset(
        BENCH_DATA / f"scale-{scale:g}{suffix}",
        scale=scale,
        workers=DEFAULT_WORKERS,
        file_format=file_format,
    )


def run_format_benchmark(
    inputs: dict[str, str | os.PathLike[str]] | None = None,
    *,
    scale: float = 1.0,
    samples: str = "all",
    executor: str = "futures",
    workers: int = 2,
    chunksize: int = 100_000,
) -> dict[str, Any]:
    """:func:`run_benchmark` on the same events as TTree and as RNTuple files.

    ``inputs``: ``{format: manifest}`` of the same events in each of
    :data:`agc.dataset.branches.FORMATS`; ``None`` generates the embedded recipe at ``scale`` in
    both (:func:`format_inputs`). Returns ``{"formats": {format: run_benchmark result},
    "identical_histograms": bool}`` (the two ``histograms.root`` byte for byte).
    """
    results = {}
    for file_format in FORMATS:
        manifest = format_inputs(scale, file_format) if inputs is None else inputs[file_format]
        results[file_format] = run_benchmark(
            manifest, samples=samples, executor=executor, workers=workers, chunksize=chunksize
        )
    digests = {result["histograms_sha256"] for result in results.values()}
    return {"formats": results, "identical_histograms": len(digests) == 1}


def format_format_report(result: dict[str, Any]) -> str:
    """The TTree vs RNTuple benchmark as a markdown table (events/s of the read floor and of the
    processor, file sizes) and the identity verdict."""
    formats = result["formats"]
    first = next(iter(formats.values()))
    lines = [
        (
            f"TTree vs RNTuple: the same {first['events']:,} events, executor={first['executor']} "
            f"workers={first['workers']} chunksize={first['chunksize']:,}"
        ),
        "",
        "| format | files | size [MB] | read floor [events/s] | processor [events/s] | ratio |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in formats.items():
        lines.append(
            f"| {name} | {r['files']} | {r['size_mb']:.1f} | {r['floor']['events_per_s']:,.0f} "
            f"| {r['processor']['events_per_s']:,.0f} | {r['ratio']:.2f} |"
        )
    verdict = "byte-identical" if result["identical_histograms"] else "DIFFERENT"
    lines += ["", f"histograms.root of the two formats: {verdict}"]
    return "\n".join(lines)


# --------------------------------------------------------------------------- ML extension


def _ml_breakdown(path: str, entries: int) -> dict[str, Any]:
    """Seconds of the selection, the assignments, the features and the BDT scores (compiled and
    xgboost, the same run) on the first ``entries`` of one file (nominal jets, one process,
    best of three after a warm-up call that compiles), the assignments scored and the tree
    nodes their traversal visits."""
    models = load_models()
    events = NanoEventsFactory.from_root(
        {path: "Events"}, schemaclass=AGCSchema, entry_stop=entries, mode="eager"
    ).events()
    el, mu, jets = collections(events, ml=True)
    t_select, sel = _timed(lambda: select(el, mu, jets, keep_jets=(physics.ML_REGION,)))
    region = sel.regions[physics.ML_REGION]
    lepton = {k: v[region.mask] for k, v in lepton_columns(el, mu).items()}
    objects = objects_of(region.jets, lepton)
    t_assign, rows = _best_of(lambda: assignments(objects.counts))
    t_features, feats = _best_of(lambda: features(objects, rows))
    even = (events.event.to_numpy()[region.mask] % 2 == 0)[rows.event]
    t_scores = {
        b: _best_of(lambda b=b: scores(models, feats, even, backend=b))[0] for b in BACKENDS
    }
    cpu_scores = {
        b: _best_of(lambda b=b: scores(models, feats, even, backend=b), clock=time.process_time)[0]
        for b in BACKENDS
    }
    visits = int(node_visits(forest(models), feats, even.astype("int64")).sum())
    return {
        "events": len(events),
        "events_4j2b": int(region.mask.sum()),
        "assignments": len(rows.event),
        "node_visits": visits,
        "select_s": t_select,
        "assignments_s": t_assign,
        "features_s": t_features,
        "scores_s": t_scores,
        "scores_cpu_s": cpu_scores,
    }


def _best_of(function: Any, repeats: int = 3, clock: Any = time.perf_counter) -> tuple[float, Any]:
    """(fewest seconds of ``clock`` (wall time; ``time.process_time``: this process's CPU time,
    which a loaded machine inflates less) over ``repeats`` calls after one warm-up call, the
    value)."""
    value = function()
    times = []
    for _ in range(repeats):
        start = clock()
        function()
        times.append(clock() - start)
    return min(times), value


def run_ml_benchmark(
    inputs: str | os.PathLike[str] | dict[str, Any] = "embedded",
    *,
    samples: str = "all",
    executor: str = "futures",
    workers: int = 2,
    chunksize: int = 100_000,
    accuracy_events: int = 200_000,
) -> dict[str, Any]:
    """Events/s of the histogram stage without and with the BDT inference on the same input, the
    ratio of their times and the share the inference adds (with - without) / without, a
    per-step breakdown (:func:`_ml_breakdown`) on one ttbar
    chunk, and the BDT's assignment accuracy on ``accuracy_events`` ttbar nominal events
    (:func:`agc.analysis.mltruth.assignment_accuracy`)."""

    manifest = Manifest.of(inputs)
    check_inputs(manifest.select(samples))
    seconds = {}
    events = 0
    for ml in (False, True):
        processing = ProcessingConfig(
            executor=executor,
            workers=workers,
            chunksize=chunksize,
            checkpoints=False,
            use_inference=ml,
        )
        seconds[ml], summary, _ = _timed_histograms(manifest, processing, samples)
        events = summary.events_processed
    ttbar = [str(f["path"]) for f in manifest["ttbar"]["nominal"]["files"]]
    accuracy = assignment_accuracy(ttbar[:1], load_models(), max_events=accuracy_events)
    return {
        "events": events,
        "executor": executor,
        "workers": workers,
        "without": {"seconds": seconds[False], "events_per_s": events / seconds[False]},
        "with": {"seconds": seconds[True], "events_per_s": events / seconds[True]},
        "inference_share": (seconds[True] - seconds[False]) / seconds[False],
        "ratio": seconds[True] / seconds[False],
        "breakdown": _ml_breakdown(ttbar[0], min(chunksize, accuracy_events)),
        "accuracy": {
            "events_4j2b": accuracy.events,
            "matchable": accuracy.matchable,
            "correct": accuracy.correct,
            "accuracy": accuracy.accuracy,
        },
    }


def format_ml_report(result: dict[str, Any]) -> str:
    """The ML benchmark as printable lines."""
    off, on, b, acc = result["without"], result["with"], result["breakdown"], result["accuracy"]
    n_rows, visits = b["assignments"], b["node_visits"]
    lines = [
        (
            f"AGC ML extension: {result['events']:,} events, executor={result['executor']} "
            f"workers={result['workers']}"
        ),
        f"  histogram stage without inference: {off['seconds']:8.2f} s {off['events_per_s']:12,.0f} events/s",
        f"  histogram stage with inference:    {on['seconds']:8.2f} s {on['events_per_s']:12,.0f} events/s",
        (
            f"  with / without: {result['ratio']:.2f}x "
            f"(inference share (with - without) / without: {result['inference_share']:.0%})"
        ),
        (
            f"  one ttbar chunk ({b['events']:,} events, {b['events_4j2b']:,} in 4j2b, "
            f"{n_rows:,} assignments, {visits / max(n_rows, 1):,.0f} tree nodes visited per "
            f"assignment), one process: selection {b['select_s']:.3f} s, assignments "
            f"{b['assignments_s']:.3f} s, features {b['features_s']:.3f} s"
        ),
    ]
    for backend, seconds in b["scores_s"].items():
        cpu = b["scores_cpu_s"][backend]
        lines.append(
            f"    BDT {backend:>8}: {seconds:7.3f} s {seconds / max(n_rows, 1) * 1e9:8,.0f} ns per "
            f"assignment {seconds / max(visits, 1) * 1e9:6.2f} ns per node visit "
            f"(CPU time: {cpu / max(visits, 1) * 1e9:.2f} ns)"
        )
    lines.append(
        f"  assignment accuracy (ttbar nominal, {acc['events_4j2b']:,} 4j2b events): "
        f"{acc['matchable']:,} matchable, {acc['correct']:,} correct = {acc['accuracy']:.1%}"
    )
    return "\n".join(lines)
