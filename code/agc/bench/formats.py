"""The same events as TTree and as RNTuple (``agc bench formats``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agc.bench.events import BENCH_DATA, run_benchmark
from agc.dataset.branches import FORMATS
from agc.dataset.generate import DEFAULT_WORKERS, generate_dataset

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
