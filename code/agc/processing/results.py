"""Typed result of the processing stage, after cabinetry's ``FitResults``.

:class:`HistogramRun` is what :func:`agc.processing.histograms.run_histograms`,
:func:`agc.processing.histograms.merge_partials` and
:func:`agc.processing.output.write_histograms` return; :meth:`HistogramRun.to_dict` gives
exactly the JSON object the CLI prints (the same keys, in the same order, as the dict these
functions returned before they were typed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ProcessorStats:
    """How the coffea processor ran (:func:`agc.processing.histograms.run_histograms` only).

    ``chunks``: ``{"computed", "resumed", "failed", "total"}`` chunk counts (resumed = loaded
    from a checkpoint); ``peak_rss_mb``: ``{"workers", "driver"}`` peak resident memory [MB] of
    the processes that ran chunks and of this process; ``checkpoint_dir``: where per-chunk
    checkpoints were kept (None: none); ``wall_time_s`` [s]; ``events_per_s`` [events/s].
    """

    executor: str
    workers: int
    chunksize: int
    chunks: dict[str, int]
    peak_rss_mb: dict[str, float]
    checkpoint_dir: str | None
    wall_time_s: float
    events_per_s: float

    def to_dict(self) -> dict[str, Any]:
        """``{"executor", "workers", "chunksize", "chunks", "peak_rss_mb", "checkpoint_dir",
        "wall_time_s", "events_per_s"}``."""
        return {
            "executor": self.executor,
            "workers": self.workers,
            "chunksize": self.chunksize,
            "chunks": self.chunks,
            "peak_rss_mb": self.peak_rss_mb,
            "checkpoint_dir": self.checkpoint_dir,
            "wall_time_s": self.wall_time_s,
            "events_per_s": self.events_per_s,
        }


@dataclass(frozen=True)
class HistogramRun:
    """What the processing stage produced.

    Always set: ``cutflow`` (``{sample: {step: events}}``), ``n_generated``
    (``{sample: N_generated}`` of the files processed), ``skipped_files`` (each ``{"sample",
    "path", "nevts", "reason"}``), ``normalisation_note`` (what N_generated counts) and
    ``events_processed``.

    The three shapes:

    - final files written (a run without ``partial_dir``, a merge, :func:`write_histograms`):
      ``output`` and ``cutflow_output`` (paths), ``ml_output`` (``histograms_ml.root``, when
      the ML features were filled), ``yields`` (normalised nominal yields
      ``{region: {process: sum of weights}}``) and ``exact`` (every bin's part sums within
      their exact bound);
    - ``partials``: the partial outputs written (a run with ``partial_dir``) or merged;
    - ``samples`` (sample keys) and ``processor`` (:class:`ProcessorStats`): a run of the
      processor (:func:`agc.processing.histograms.run_histograms`).

    Fields of a shape that does not apply are None.
    """

    cutflow: dict[str, dict[str, int]]
    n_generated: dict[str, int]
    skipped_files: list[dict[str, Any]]
    normalisation_note: str
    events_processed: int
    output: str | None = None
    ml_output: str | None = None
    cutflow_output: str | None = None
    yields: dict[str, dict[str, float]] | None = None
    exact: bool | None = None
    partials: list[str] | None = None
    samples: list[str] | None = None
    processor: ProcessorStats | None = None

    @property
    def chunks(self) -> dict[str, int] | None:
        """Chunk counts of the processor run (None for a merge)."""
        return None if self.processor is None else self.processor.chunks

    @property
    def peak_rss_mb(self) -> dict[str, float] | None:
        """Peak RSS [MB] of the processor run (None for a merge)."""
        return None if self.processor is None else self.processor.peak_rss_mb

    def to_dict(self) -> dict[str, Any]:
        """The summary as a JSON object: final files first (or the partial outputs written),
        then cut flow, normalisation, the partial outputs merged, samples and processor stats."""
        written = self.output is not None
        out: dict[str, Any] = {}
        if not written and self.partials is not None:
            out["partials"] = self.partials
        if written:
            out["output"] = self.output
            if self.ml_output is not None:
                out["ml_output"] = self.ml_output
            out.update(cutflow_output=self.cutflow_output, yields=self.yields)
        out["cutflow"] = self.cutflow
        if written:
            out["exact"] = self.exact
        out.update(
            n_generated=self.n_generated,
            skipped_files=self.skipped_files,
            normalisation_note=self.normalisation_note,
        )
        if written and self.partials is not None:
            out["partials"] = self.partials
        if self.samples is not None:
            out["samples"] = self.samples
        out["events_processed"] = self.events_processed
        if self.processor is not None:
            out.update(self.processor.to_dict())
        return out
