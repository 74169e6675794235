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

from agc.bench.events import (
    BENCH_DATA,
    chunk_ranges,
    default_inputs,
    format_report,
    format_stats_report,
    read_columns,
    run_benchmark,
    run_stats_benchmark,
    uproot_floor,
)
from agc.bench.formats import format_format_report, format_inputs, run_format_benchmark
from agc.bench.ml import format_ml_report, ml_breakdown, run_ml_benchmark
from agc.bench.scaleout import (
    SCALE_OUT_SCALE,
    SCALE_OUT_WORKERS,
    dask_scale_out,
    format_scale_out,
    format_scale_out_table,
    run_scale_out,
)

__all__ = [
    "BENCH_DATA",
    "SCALE_OUT_SCALE",
    "SCALE_OUT_WORKERS",
    "chunk_ranges",
    "dask_scale_out",
    "default_inputs",
    "format_format_report",
    "format_inputs",
    "format_ml_report",
    "format_report",
    "format_scale_out",
    "format_scale_out_table",
    "format_stats_report",
    "ml_breakdown",
    "read_columns",
    "run_benchmark",
    "run_format_benchmark",
    "run_ml_benchmark",
    "run_scale_out",
    "run_stats_benchmark",
    "uproot_floor",
]
