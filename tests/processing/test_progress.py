"""Chunk progress of the histogram step (agc.processing.progress): the lines a person watching
``make run`` sees, and that the wrapped executors change nothing in the outputs."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from coffea import processor

from agc.core.config import ProcessingConfig
from agc.core.fileio import sha256_file
from agc.processing.histograms import run_histograms
from agc.processing.progress import ChunkProgress, with_progress


def _lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_a_line_per_tenth_of_the_chunks_and_none_twice() -> None:
    stream = io.StringIO()
    progress = ChunkProgress(20, stream=stream)
    progress.start("test")
    for _ in range(20):
        progress.advance()
    progress.finish(completed=True)
    lines = _lines(stream)
    assert lines[0] == "[agc histograms] 20 chunks to process (test)"
    done = [
        re.match(r"\[agc histograms\] chunks (\d+)/20 \((\d+) %\), [\d.]+ s$", x) for x in lines[1:]
    ]
    assert all(done), lines
    assert [int(m.group(1)) for m in done] == list(range(2, 21, 2))
    assert done[-1].group(2) == "100"


def test_the_last_line_says_where_a_run_stopped() -> None:
    stream = io.StringIO()
    progress = ChunkProgress(30, stream=stream)
    progress.advance()
    progress.finish(completed=False)
    progress.advance()  # a late done callback writes nothing more
    assert re.fullmatch(
        r"\[agc histograms\] stopped after 1/30 chunks, [\d.]+ s", _lines(stream)[-1]
    )
    assert len(_lines(stream)) == 1


def test_a_completed_run_ends_at_the_total_even_before_the_last_callback() -> None:
    stream = io.StringIO()
    progress = ChunkProgress(30, stream=stream)
    progress.advance(2)
    progress.finish(completed=True)
    assert _lines(stream)[-1].startswith("[agc histograms] chunks 30/30 (100 %)")


def test_with_progress_keeps_the_settings_and_leaves_other_executors_alone() -> None:
    futures = processor.FuturesExecutor(workers=3, status=False, retries=2)
    wrapped = with_progress(futures)
    assert isinstance(wrapped, processor.FuturesExecutor)
    assert (wrapped.workers, wrapped.retries, wrapped.status) == (3, 2, False)
    other: Any = object()
    assert with_progress(other) is other


@pytest.mark.parametrize("executor", ["iterative", "futures"])
def test_histogram_runs_write_chunk_progress_and_the_same_bytes(
    executor: str,
    toy_manifest: Path,
    toy_samples: str,
    reference: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", stream)  # where the lines go: the process's stderr
    out = tmp_path / "histograms.root"
    run_histograms(
        toy_manifest,
        out,
        processing=ProcessingConfig(executor=executor, workers=2, chunksize=700),
        samples=toy_samples,
    )
    lines = _lines(stream)
    first = re.fullmatch(r"\[agc histograms\] (\d+) chunks to process \((\w+).*\)", lines[0])
    assert first, lines
    assert first.group(2) == executor
    total = int(first.group(1))
    assert total > 5  # small chunks: several per file
    assert lines[-1].startswith(f"[agc histograms] chunks {total}/{total} (100 %)")
    assert sha256_file(out) == reference["root"]
