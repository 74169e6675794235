"""Fixtures shared by the processing tests: the toy dataset's single-pass reference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agc.core.config import ProcessingConfig
from agc.core.fileio import sha256_file
from agc.processing.histograms import run_histograms

#: The toy samples the reference run processes (~6k events).
TOY_SAMPLES = "ttbar,wjets,single_top_tW,zprime_1000"  # the toy_samples fixture's


@pytest.fixture(scope="session")
def reference(toy_manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The toy samples of :data:`TOY_SAMPLES` in a single pass, iterative executor, one chunk
    per file: ``{"summary": HistogramRun, "root", "cutflow": sha256 of the outputs, "path"}``."""
    out = tmp_path_factory.mktemp("reference") / "histograms.root"
    summary = run_histograms(
        toy_manifest,
        out,
        processing=ProcessingConfig(executor="iterative", chunksize=100_000),
        samples=TOY_SAMPLES,
    )
    return {
        "summary": summary,
        "root": sha256_file(out),
        "cutflow": sha256_file(out.with_name("cutflow.json")),
        "path": out,
    }
