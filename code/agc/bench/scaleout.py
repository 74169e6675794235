"""Every executor side by side (``agc bench scaleout``) and the Dask speed-up of a second worker
(``agc bench dask``)."""

from __future__ import annotations

import math
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from agc.bench.events import default_inputs, timed_histograms, uproot_floor
from agc.core.config import ProcessingConfig
from agc.core.fileio import sha256_file
from agc.dataset.generate import DEFAULT_WORKERS, generate_dataset
from agc.dataset.manifest import Manifest
from agc.processing.histograms import check_inputs, run_histograms

# --------------------------------------------------------------------------- Dask scale-out

#: Dask worker counts of the scale-out figures (single-threaded worker processes).
SCALE_OUT_WORKERS = (1, 2)
#: Recipe scale of the scale-out dataset: about 2.2 M events in the files (1.66 M at scale 1).
SCALE_OUT_SCALE = 1.3


def _fastest(events: int, timings: list[float], cpus: list[dict[str, float]]) -> dict[str, Any]:
    """The record of ``events`` processed in repeated runs of wall times ``timings`` [s] and CPU
    seconds ``cpus`` (``{"main", "workers"}`` each): the fastest run's seconds and events/s,
    every run's seconds, and the CPU of the run that used the least."""
    seconds = min(timings)
    return {
        "events": events,
        "seconds": seconds,
        "all_seconds": timings,
        "events_per_s": events / seconds if seconds > 0 else math.inf,
        "cpu_s": min(cpus, key=lambda cpu: cpu["main"] + cpu["workers"]),
    }


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

    timings, cpus = [], []
    with local_cluster(workers) as cluster, distributed.Client(cluster) as client:
        client.run(importlib.import_module, "agc.analysis.processor")
        for attempt in range(repeats):
            before = (main_cpu(), sum(client.run(time.process_time).values()))
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
            after = (main_cpu(), sum(client.run(time.process_time).values()))
            cpus.append({"main": after[0] - before[0], "workers": after[1] - before[1]})
    return {"workers": workers, **_fastest(summary.events_processed, timings, cpus)}


def main_cpu() -> float:
    """CPU seconds [s] (user + system) this process has used so far, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu() -> float:
    """CPU seconds [s] (user + system) of this process' children that ended and were waited
    for (a futures run's worker processes, once its pool is shut down)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
    each run, so its start-up is counted. Adds the ``histograms.root`` sha256 of the runs and
    the CPU seconds of this process and of the worker processes (the run with the least)."""
    timings, digests, events, cpus = [], set(), 0, []
    for _ in range(repeats):
        processing = ProcessingConfig(executor=executor, workers=workers, chunksize=chunksize)
        before = (main_cpu(), children_cpu())
        seconds, summary, digest = timed_histograms(manifest, processing, samples)
        cpus.append({"main": main_cpu() - before[0], "workers": children_cpu() - before[1]})
        timings.append(seconds)
        digests.add(digest)
        events = summary.events_processed
    return {**_fastest(events, timings, cpus), "digests": digests}


def time_in_fresh_process(
    source: str, executor: str, workers: int, chunksize: int, samples: str, repeats: int
) -> dict[str, Any]:
    """:func:`_time_local` of the manifest ``source``, each of the ``repeats`` runs in a new
    Python process, as an ``agc histograms`` run has it: no thread left by earlier runs (uproot's
    I/O thread, the progress monitor), so the futures workers can be forked
    (:func:`agc.processing.executors.fork_context`). Adds ``"start"``: how each process would
    start a futures pool (``"fork"`` or ``"loky"``, the set of them joined by ``/``)."""
    import json
    import subprocess
    import sys

    args = json.dumps([source, executor, workers, chunksize, samples])
    code = (
        "import json\n"
        "from agc.bench.scaleout import time_here\n"
        f"print(json.dumps(time_here(*json.loads({args!r}))))\n"
    )
    runs = []
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"timing {executor} in a new process failed:\n{done.stderr}")
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    fastest = min(runs, key=lambda run: run["seconds"])
    return {
        **fastest,
        "all_seconds": [run["seconds"] for run in runs],
        "cpu_s": min((run["cpu_s"] for run in runs), key=lambda cpu: sum(cpu.values())),
        "digests": {digest for run in runs for digest in run["digests"]},
        "start": "/".join(sorted({run["start"] for run in runs})),
    }


def time_here(
    source: str, executor: str, workers: int, chunksize: int, samples: str
) -> dict[str, Any]:
    """One :func:`_time_local` run in this process, JSON-ready (the digests as a list), with
    how a futures pool would start here (``"start"``: ``"fork"`` or ``"loky"``)."""
    from agc.processing.executors import fork_context

    start = "fork" if fork_context() is not None else "loky"
    run = _time_local(Manifest.of(source), executor, workers, chunksize, samples, 1)
    return {**run, "digests": sorted(run["digests"]), "start": start}


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
    """The scale-out table in one run: events/s of the iterative executor (1 process) and
    futures (2 processes), each in a new Python process as an ``agc histograms`` run, and Dask (1 and 2 single-threaded worker processes on a ``LocalCluster``
    started before the timing, as a REANA cluster is), each the fastest of ``repeats`` runs, next
    to the uproot read floor of the same columns in one process.

    Per-core efficiency is events/s per worker over the iterative process' events/s (1.0: a
    worker is as fast as one plain process); the speed-up is events/s over the iterative
    process' events/s. Next to these wall-clock figures, each run's CPU seconds (this process,
    its workers) and its events per CPU second over the iterative process': a figure the
    machine's other load hardly moves. ``inputs``: a manifest; ``None``: the embedded recipe at
    ``scale`` under ``data/bench`` (:func:`default_inputs`). Returns ``{"input", "files",
    "events", "chunksize", "repeats", "floor": {"seconds", "events_per_s"}, "runs":
    [{"executor", "workers", "events", "seconds", "all_seconds", "events_per_s", "speedup",
    "per_core", "cpu_s": {"main", "workers"}, "cpu_efficiency", "load_average" (1-minute, as
    the row started)}], "futures_start": "fork" | "loky" (how the futures workers started),
    "identical": bool (every run's ``histograms.root`` the same bytes), "cpus",
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
            load = os.getloadavg()[0]
            if executor == "dask":
                run = _time_dask_digests(
                    manifest, workers, chunksize, samples, Path(folder), repeats
                )
            else:
                run = time_in_fresh_process(
                    str(source), executor, workers, chunksize, samples, repeats
                )
            runs.append({"executor": executor, **run, "workers": workers, "load_average": load})
    load_after = os.getloadavg()[0]
    base = runs[0]["events_per_s"]
    digests = set().union(*(run.pop("digests") for run in runs))
    futures_start = next(run.pop("start") for run in runs if run["executor"] == "futures")
    for run in runs:
        run.pop("start", None)
    for run in runs:
        run["speedup"] = run["events_per_s"] / base
        run["per_core"] = run["speedup"] / run["workers"]
        run["cpu_efficiency"] = _cpu_total(runs[0]) / _cpu_total(run)
    return {
        "input": str(source),
        "files": len(files),
        "events": runs[0]["events"],
        "chunksize": chunksize,
        "repeats": repeats,
        "floor": {"seconds": floor["seconds"], "events_per_s": floor["events_per_s"]},
        "runs": runs,
        "futures_start": futures_start,
        "identical": len(digests) == 1,
        "cpus": os.cpu_count(),
        "load_average": [load_before, load_after],
        "measured_at": measured_at,
    }


def _cpu_total(run: dict[str, Any]) -> float:
    """CPU seconds [s] of a run, its main process and its workers."""
    return run["cpu_s"]["main"] + run["cpu_s"]["workers"]


def format_scale_out_table(result: dict[str, Any]) -> str:
    """The scale-out table as markdown: events/s, speed-up and per-core efficiency against the
    iterative process, the ratio to the read floor, CPU seconds and events per CPU second
    against the iterative process, and the load, of every run."""
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
        f"futures workers started by: {result['futures_start']}",
        "",
        (
            "| how | workers | seconds | events/s | speed-up, against one iterative process "
            "| per core, against one iterative process | per core, against the read floor "
            "| CPU s (main + workers) | events per CPU s, against iterative | 1-min load |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in result["runs"]:
        per_worker = run["events_per_s"] / run["workers"]
        cpu = run["cpu_s"]
        lines.append(
            f"| {run['executor']} | {run['workers']} | {run['seconds']:.2f} "
            f"| {run['events_per_s']:,.0f} | {run['speedup']:.2f}x | {run['per_core']:.2f} "
            f"| {per_worker / floor:.2f} | {cpu['main']:.2f} + {cpu['workers']:.2f} "
            f"| {run['cpu_efficiency']:.2f} | {run['load_average']:.2f} |"
        )
    lines.append(
        f"| uproot read floor (one process) | 1 | {result['floor']['seconds']:.2f} "
        f"| {floor:,.0f} | | | 1.00 | | | |"
    )
    verdict = "byte-identical" if result["identical"] else "DIFFERENT"
    lines += ["", f"histograms.root of every run: {verdict}"]
    return "\n".join(lines)
