"""Events/s of the histogram stage next to the uproot read floor (``agc bench events``), and the
statistics stage's fit rates (``agc bench stats``)."""

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
from agc.core.config import ProcessingConfig
from agc.core.errors import AGCError
from agc.core.fileio import sha256_file
from agc.dataset.generate import generate_dataset
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


def timed_histograms(
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
    seconds, summary, digest = timed_histograms(manifest, processing, samples)
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


def timed(function: Any) -> tuple[float, Any]:
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
    seconds, runs = timed(lambda: [fit(model, data) for _ in range(repeats)])
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
