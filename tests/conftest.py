"""Shared fixtures: the real CMS file in ../shared and the embedded default dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REAL_FILE = SHARED / "data" / "cms_opendata_2015_ttbar_nanoaod_200events.root"
AGC_FILE_LIST = SHARED / "data" / "agc_nanoaod_inputs.json"


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def real_nanoaod() -> Path:
    """The real 200-event CMS Open Data ttbar NanoAOD file (skips when ../shared is absent)."""
    if not REAL_FILE.exists():
        pytest.skip(
            f"real CMS file not available: {REAL_FILE} (../shared is not beside the checkout)"
        )
    return REAL_FILE


@pytest.fixture(scope="session")
def agc_file_list() -> Path:
    """The AGC file list in ../shared (skips when absent)."""
    if not AGC_FILE_LIST.exists():
        pytest.skip(
            f"AGC file list not available: {AGC_FILE_LIST} (../shared is not beside the checkout)"
        )
    return AGC_FILE_LIST


@pytest.fixture(scope="session")
def embedded_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Manifest of the embedded default dataset, generated once per test session."""
    from agc.generate import generate_dataset

    out = tmp_path_factory.mktemp("embedded")
    return generate_dataset(out, recipe=REPO / "inputs" / "embedded.yaml", workers=2)


@pytest.fixture(scope="session")
def embedded_histograms(embedded_manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``histograms.root`` (with ``cutflow.json`` beside it) of the embedded default, made once."""
    from agc.histograms import run_histograms

    out = tmp_path_factory.mktemp("embedded_run")
    run_histograms(
        embedded_manifest, out / "histograms.root", executor="futures", workers=2, checkpoints=False
    )
    return out / "histograms.root"
