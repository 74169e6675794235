"""The typed result of the processing stage (agc.processing.results.HistogramRun): frozen, and
``to_dict`` gives the summary the CLI prints, with the same keys in the same order as before
the result was typed, for a final run, a run writing partial outputs and a merge."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from agc.core.config import ProcessingConfig
from agc.processing.histograms import merge_partials, run_histograms
from agc.processing.results import HistogramRun

FILES = ["output", "cutflow_output", "yields", "cutflow", "exact"]
NORMALISATION = ["n_generated", "skipped_files", "normalisation_note"]
STATS = [
    "executor",
    "workers",
    "chunksize",
    "chunks",
    "peak_rss_mb",
    "checkpoint_dir",
    "wall_time_s",
    "events_per_s",
]
FINAL_RUN = [*FILES, *NORMALISATION, "samples", "events_processed", *STATS]
PARTIAL_RUN = ["partials", "cutflow", *NORMALISATION, "samples", "events_processed", *STATS]
MERGE = [*FILES, *NORMALISATION, "partials", "events_processed"]


def test_final_run_summary(reference: dict[str, Any]) -> None:
    run = reference["summary"]
    summary = run.to_dict()
    assert list(summary) == FINAL_RUN
    assert summary["output"] == str(reference["path"])
    assert summary["chunks"] == run.chunks == run.processor.chunks
    assert set(summary["peak_rss_mb"]) == {"workers", "driver"}
    assert summary["events_processed"] == sum(c["all"] for c in summary["cutflow"].values())
    json.dumps(summary)  # plain JSON types only
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.exact = False  # type: ignore[misc]


def test_partial_run_and_merge_summaries(toy_manifest: Path, tmp_path: Path) -> None:
    run = run_histograms(
        toy_manifest,
        processing=ProcessingConfig(executor="iterative", checkpoints=False),
        samples="wjets,single_top_tW",
        partial_dir=tmp_path / "partial",
    )
    assert list(run.to_dict()) == PARTIAL_RUN
    assert run.output is None
    assert run.processor is not None
    assert run.processor.checkpoint_dir is None
    merged = merge_partials(tmp_path / "partial", tmp_path / "histograms.root")
    assert list(merged.to_dict()) == MERGE
    assert merged.processor is None
    assert merged.chunks is None
    assert merged.partials == sorted(run.partials or [])
    assert merged.events_processed == run.events_processed
    assert merged.cutflow == run.cutflow


def test_optional_fields_are_left_out() -> None:
    bare = HistogramRun(
        cutflow={}, n_generated={}, skipped_files=[], normalisation_note="", events_processed=0
    )
    assert list(bare.to_dict()) == ["cutflow", *NORMALISATION, "events_processed"]
