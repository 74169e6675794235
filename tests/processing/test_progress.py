"""Chunk progress of the histogram step (agc.processing.progress): the wrapped coffea executors
count every chunk on the project's bar and change nothing in the outputs."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from coffea import processor

from agc.core import progress
from agc.core.config import ProcessingConfig
from agc.core.fileio import sha256_file
from agc.core.progress import PROGRESS_ENV
from agc.processing.histograms import run_histograms
from agc.processing.progress import with_progress


def test_with_progress_keeps_the_settings_and_leaves_other_executors_alone() -> None:
    futures = processor.FuturesExecutor(workers=3, status=False, retries=2)
    wrapped = with_progress(futures)
    assert isinstance(wrapped, processor.FuturesExecutor)
    assert (wrapped.workers, wrapped.retries, wrapped.status) == (3, 2, False)
    other: Any = object()
    assert with_progress(other) is other


def _run(
    executor: str, manifest: Path, samples: str, out: Path, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", stream)  # where the lines go: the process's stderr
    run_histograms(
        manifest,
        out,
        processing=ProcessingConfig(executor=executor, workers=2, chunksize=700),
        samples=samples,
    )
    return stream.getvalue().splitlines()


@pytest.mark.parametrize("executor", ["iterative", "futures"])
def test_histogram_runs_count_their_chunks_and_write_the_same_bytes(
    executor: str,
    toy_manifest: Path,
    toy_samples: str,
    reference: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "histograms.root"
    lines = _run(executor, toy_manifest, toy_samples, out, monkeypatch)
    pattern = rf"\[agc progress\] histograms \({executor}.*\): (\d+)/(\d+) chunks \((\d+) %\) .*"
    found = [re.fullmatch(pattern, line) for line in lines]
    assert found, lines
    assert all(found), lines
    first, last = found[0], found[-1]
    assert first
    assert last
    total = int(first.group(2))
    assert total > 5  # small chunks: several per file
    assert int(first.group(1)) == 0
    assert (int(last.group(1)), int(last.group(3))) == (total, 100)
    assert sha256_file(out) == reference["root"]


@pytest.mark.parametrize("executor", ["iterative", "futures"])
def test_every_finished_chunk_is_counted_once(
    executor: str,
    toy_manifest: Path,
    toy_samples: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(progress, "LOG_INTERVAL_S", 0.0)  # a line per update
    lines = _run(executor, toy_manifest, toy_samples, tmp_path / "h.root", monkeypatch)
    counts = [int(line.split(": ")[1].split("/")[0]) for line in lines]
    total = int(lines[0].split("/")[1].split(" ")[0])
    if executor == "iterative":
        assert counts == list(range(total + 1))
    else:  # done callbacks from the pool's thread: in order, none twice, maybe some merged
        assert counts == sorted(set(counts))
        assert counts[0] == 0
        assert counts[-1] == total
        assert len(counts) > 2


def test_histogram_runs_write_no_progress_with_agc_progress_0(
    toy_manifest: Path,
    toy_samples: str,
    reference: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PROGRESS_ENV, "0")
    out = tmp_path / "histograms.root"
    assert _run("iterative", toy_manifest, toy_samples, out, monkeypatch) == []
    assert sha256_file(out) == reference["root"]
