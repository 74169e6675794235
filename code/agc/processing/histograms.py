"""Event processing stage: NanoAOD -> ``histograms.root`` and ``cutflow.json``.

The stage's entry points: :func:`run_histograms` runs :class:`agc.analysis.processor.AGCProcessor`
with coffea's ``processor.Runner`` on the iterative, futures or dask executor
(:mod:`agc.processing.run`) and writes (:mod:`agc.processing.output`)

- ``histograms.root`` (byte-reproducible, atomic): one TH1D per ``{region}_{process}``
  (nominal) or ``{region}_{process}_{variation}``, plus ``{region}_pseudodata`` =
  (ttbar ME_var + ttbar PS_var) / 2 + wjets nominal, all with the fill binning (25 bins,
  50-550 GeV, flow bins and sumw2 filled), normalised to ``xsec * lumi / N_generated``
  (:mod:`agc.processing.normalisation`); keys in sorted order, plus a TObjString ``provenance``
  (the text ``provenance.json`` or the JSON of ``metadata``);
- ``cutflow.json``: events after each selection step per sample (integers);
- with ``use_inference`` (the AGC's ``USE_INFERENCE``), ``histograms_ml.root``: the 20 features
  of the best BDT jet-parton assignment of every 4j2b event, for every variation
  (:mod:`agc.analysis.assignment`, :mod:`agc.analysis.inference`), named and binned as the
  AGC's ``save_ml_histograms`` writes them;

or one partial output per sample (:mod:`agc.processing.partials`), which
:func:`merge_partials` turns into the same two files. Both return a
:class:`~agc.processing.results.HistogramRun`.

Exactness: the processor accumulates every unnormalised weight (and squared weight) split into
three fixed-point parts, ``hi``, ``mid`` and ``lo`` on the grids 2**-12, 2**-35 and 2**-58
(:mod:`agc.analysis.exactsum`), whose sums are exact doubles up to 2**31 entries per bin with
|weight| <= 32, so results are the same bit for bit for any executor, worker count, chunk size
or merge order, and equal to a plain float64 fill up to float64 rounding (the split loses at
most 2**-59 per entry). A bin's value ``(lo + mid) + hi`` and the normalisation are computed
once per bin when the final file is written. Partial outputs hold the exact unnormalised part
sums; :func:`merge_partials` adds them and writes the same bytes as a single pass.

Robustness:

- every local input is checked before any processing
  (:func:`agc.processing.inputs.check_file`: exists, manifest size and sha256, complete ROOT
  file, ``Events`` tree, every branch read); the first bad file stops the run with one line
  naming it (:mod:`agc.processing.errors`) -- unless ``skip_bad_files=True``, which skips bad
  files and lists each (sample, path, manifest ``nevts``, reason) in the summary's
  ``skipped_files``, in ``cutflow.json`` and in the partial outputs. A file is processed whole
  or not at all: the processor's output is kept per file
  (:class:`agc.analysis.processor.FileResolvedProcessor`) and a file whose chunks do not cover
  all its entries exactly once (a chunk failed mid-file) is dropped entirely. N_generated of a
  sample is the sum of ``nevts`` of the files *processed*, and the summary's
  ``normalisation_note`` says so;
- per-chunk checkpoints (:mod:`agc.processing.checkpoint`, default
  ``<output folder>/.checkpoints``) let a killed run resume with bit-identical outputs; they are
  deleted after the final write;
- every output is written atomically (temporary name, then rename).

Also importable from here, for the stage's callers:
:func:`~agc.processing.inputs.check_inputs`, :func:`~agc.processing.output.write_histograms`,
:func:`~agc.processing.output.read_histograms`, :data:`~agc.processing.partials.PARTIAL_SUFFIX`
and :data:`~agc.core.parameters.EXECUTORS`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agc.core.config import ProcessingConfig
from agc.core.errors import AGCError
from agc.core.parameters import EXECUTORS
from agc.dataset.manifest import Manifest, SelectedSample
from agc.processing.cachekey import cache_key, hashed, key_inputs
from agc.processing.checkpoint import CHECKPOINT_DIRNAME
from agc.processing.inputs import check_inputs
from agc.processing.normalisation import cutflow_dict, normalisation_summary
from agc.processing.output import read_histograms, write_histograms
from agc.processing.partials import (
    PARTIAL_SUFFIX,
    SampleSums,
    read_partial,
    sorted_skipped,
    write_partial,
)
from agc.processing.results import HistogramRun, ProcessorStats
from agc.processing.run import run_processor

__all__ = [
    "EXECUTORS",
    "PARTIAL_SUFFIX",
    "HistogramRun",
    "check_inputs",
    "merge_partials",
    "read_histograms",
    "run_histograms",
    "write_histograms",
]


def _write_partials(
    samples: list[SampleSums],
    inputs: list[SelectedSample],
    partial_dir: str | os.PathLike[str],
) -> HistogramRun:
    """One ``{sample}.partial.json`` per sample in ``partial_dir``, each (unless it skipped
    files) with its cache key (:mod:`agc.processing.cachekey`, from the checked ``inputs``):
    what a later signal swap may take from the cache."""
    checked = {sample.key: sample for sample in inputs}
    for s in samples:
        if not s.skipped:
            s.cache_key = cache_key(key_inputs(hashed(checked[s.key]), s.use_inference))
    partials = Path(partial_dir)
    paths = [write_partial(partials / f"{s.key}{PARTIAL_SUFFIX}", s) for s in samples]
    return HistogramRun(
        partials=[str(p) for p in paths],
        cutflow=cutflow_dict(samples)["samples"],
        events_processed=sum(s.cutflow.get("all", 0) for s in samples),
        **normalisation_summary(samples),
    )


def run_histograms(
    inputs: Manifest | str | os.PathLike[str] | dict[str, Any],
    output: str | os.PathLike[str] = "outputs/histograms.root",
    processing: ProcessingConfig | None = None,
    *,
    samples: str | list[str] = "all",
    partial_dir: str | os.PathLike[str] | None = None,
    cutflow_output: str | os.PathLike[str] | None = None,
    metadata: dict[str, Any] | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
) -> HistogramRun:
    """NanoAOD -> ``histograms.root`` + ``cutflow.json`` (or per-sample partials).

    ``inputs``: a :class:`~agc.dataset.manifest.Manifest`, a manifest path in the AGC layout,
    ``"embedded"`` or a manifest dict (loaded and validated once, here).
    ``processing``: a :class:`~agc.core.config.ProcessingConfig` (default: its defaults):
    executor, workers, chunk size, ``max_files`` (files per sample), scheduler,
    ``skip_bad_files`` (skip and list bad input files instead of stopping at the first one;
    N_generated then counts the processed files only, see the summary's
    ``normalisation_note``), ``use_inference`` (also score the jet-parton assignments of every
    4j2b event with the BDTs and write ``histograms_ml.root`` beside ``output``) and
    ``checkpoints`` (keep per-chunk checkpoints in ``checkpoint_dir``, default
    ``<folder of output>/.checkpoints``, so that a killed run resumes; they are deleted once the
    outputs are written).
    ``samples``: ``"all"`` or comma list of ``process`` / ``process__variation``.
    With ``partial_dir``, one ``{sample}.partial.json`` per sample is written there instead of
    the final files (merge them with :func:`merge_partials`). ``metadata`` is embedded as JSON
    in the ``provenance`` key (default: the text ``provenance.json``).

    Returns a :class:`~agc.processing.results.HistogramRun`: output paths (or the partial
    outputs), normalised nominal yields per region and process, cut flow, N_generated per
    sample, skipped files and the normalisation note, events processed, and the processor's
    :class:`~agc.processing.results.ProcessorStats`: chunk counts (computed / resumed from
    checkpoints / failed), peak RSS [MB] of the worker processes and of this process, wall time
    [s] and throughput [events/s].
    """
    start = time.perf_counter()
    processing = processing if processing is not None else ProcessingConfig()
    selection = Manifest.of(inputs).select(samples, processing.max_files)
    folder = None
    if processing.checkpoints:
        folder = (
            Path(checkpoint_dir) if checkpoint_dir else Path(output).parent / CHECKPOINT_DIRNAME
        )
    run = run_processor(selection, processing, checkpoint_dir=folder)
    if partial_dir is not None:
        summary = _write_partials(run.samples, run.inputs, partial_dir)
    else:
        summary = write_histograms(run.samples, output, cutflow_output, metadata=metadata)
    run.remove_checkpoints()
    wall = time.perf_counter() - start
    n_events = summary.events_processed
    stats = ProcessorStats(
        executor=processing.executor,
        workers=processing.workers,
        chunksize=processing.chunksize,
        chunks=run.chunks,
        peak_rss_mb={k: round(v / 1024, 1) for k, v in run.peak_rss_kb.items()},
        checkpoint_dir=str(folder) if folder is not None else None,
        wall_time_s=round(wall, 3),
        events_per_s=round(n_events / wall, 1) if wall > 0 else math.inf,
    )
    return dataclasses.replace(summary, samples=[s.key for s in run.samples], processor=stats)


def _partial_paths(
    partial_paths_or_dir: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
) -> list[Path]:
    """The partial outputs named by a folder (its ``*.partial.json``), a file or a list, sorted."""
    if isinstance(partial_paths_or_dir, (str, os.PathLike)):
        folder = Path(partial_paths_or_dir)
        if folder.is_dir():
            paths = sorted(folder.glob(f"*{PARTIAL_SUFFIX}"))
            if not paths:
                raise AGCError(f"no partial outputs (*{PARTIAL_SUFFIX}) in {folder}")
        else:
            paths = [folder]
    else:
        paths = [Path(p) for p in partial_paths_or_dir]
        if not paths:
            raise AGCError("no partial outputs given to merge")
    return sorted(paths)


def merge_partials(
    partial_paths_or_dir: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    output: str | os.PathLike[str] = "outputs/histograms.root",
    cutflow_output: str | os.PathLike[str] | None = None,
    *,
    metadata: dict[str, Any] | None = None,
    skip_bad_files: bool = False,
    use_inference: bool | None = None,
) -> HistogramRun:
    """Merge partial outputs (a folder of ``*.partial.json`` or a list of files) into the final
    ``histograms.root`` and ``cutflow.json``; the bytes equal a single pass over the same samples.

    A partial output that lists skipped input files (written by a run with
    ``skip_bad_files=True``) is refused unless ``skip_bad_files=True`` is given here too; the
    skipped files are then carried into ``cutflow.json`` and the summary. ``use_inference``:
    True requires the ML features in every partial output (and writes ``histograms_ml.root``),
    False leaves them out, None (default) writes them when every partial output has them.
    Returns a :class:`~agc.processing.results.HistogramRun` with the final-file fields and
    ``partials``."""
    paths = _partial_paths(partial_paths_or_dir)
    samples = [read_partial(p) for p in paths]
    if use_inference:
        for path, sample in zip(paths, samples, strict=True):
            if not sample.use_inference:
                raise AGCError(
                    f"partial output {path} holds no ML features (made with use_inference=false):"
                    " re-run the histogram step with use_inference=true"
                )
    if not skip_bad_files:
        for path, sample in zip(paths, samples, strict=True):
            if sample.skipped:
                first = sorted_skipped(sample.skipped)[0]
                raise AGCError(
                    f"partial output {path} lists {len(sample.skipped)} skipped input file(s) "
                    f"(first: {first['path']}): merge with skip_bad_files=True to accept them"
                )
    summary = write_histograms(
        samples, output, cutflow_output, metadata=metadata, use_inference=use_inference
    )
    return dataclasses.replace(summary, partials=[str(p) for p in paths])
