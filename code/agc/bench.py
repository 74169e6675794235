"""Throughput of the event-processing stage next to its physical floor.

:func:`run_benchmark` times, in the same run and on the same files, chunks and number of
workers:

- the processor: :func:`agc.processing.histograms.run_histograms` end to end (coffea Runner, selection
  with all systematic variations, histogram filling, writing the outputs), and
- the floor: reading and decompressing just the columns the analysis needs
  (:data:`agc.core.physics.BRANCHES_READ`) with uproot, chunk by chunk, nothing else.

The ratio processor/floor (events/s over events/s) says how close the analysis runs to the
cost of I/O alone (1.0 = free physics). The peak resident memory (RSS) of the processes that ran
chunks and of the driver is reported next to it. Figures are printed, never asserted: timings
depend on the machine and its load.

:func:`run_format_benchmark` does both on the same events written as TTree and as RNTuple files
(the ``format`` of :func:`agc.dataset.generate.generate_dataset`), with the files' sizes and
whether the two ``histograms.root`` are byte-identical.
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

from agc.core import physics
from agc.core.errors import AGCError
from agc.core.fileio import sha256_file
from agc.dataset.branches import FORMATS
from agc.dataset.generate import DEFAULT_WORKERS, generate_dataset
from agc.dataset.manifest import fileset as make_fileset
from agc.processing.histograms import EXECUTORS, check_inputs, load_inputs, run_histograms

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
    if executor not in EXECUTORS:
        raise AGCError(f"unknown executor '{executor}'; choose one of {', '.join(EXECUTORS)}")
    source = default_inputs(scale) if inputs is None else inputs
    manifest = load_inputs(source)
    files = check_inputs(make_fileset(manifest, samples, max_files))
    # Warm the page cache so neither measurement pays the first read from disk.
    for path in files:
        with open(path, "rb") as handle:
            while handle.read(1 << 24):
                pass
    floor = uproot_floor(files, executor=executor, workers=workers, chunksize=chunksize)
    with tempfile.TemporaryDirectory(prefix="agc-bench-") as tmp:
        start = time.perf_counter()
        summary = run_histograms(
            manifest,
            Path(tmp) / "histograms.root",
            samples=samples,
            executor=executor,
            workers=workers,
            chunksize=chunksize,
            max_files=max_files,
        )
        seconds = time.perf_counter() - start
        digest = sha256_file(Path(tmp) / "histograms.root")
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
