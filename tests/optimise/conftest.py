"""Fixtures of the optimise tests: a toy dataset with every sample the model needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from agc.dataset.manifest import Manifest

#: Every nominal process of the model and two ttbar alternatives, 300 toy events each.
OPTIMISE_SAMPLES = [
    (process, variation, [300], None)
    for process, variation in (
        ("ttbar", "nominal"),
        ("ttbar", "ME_var"),
        ("ttbar", "PS_var"),
        ("wjets", "nominal"),
        ("single_top_s_chan", "nominal"),
        ("single_top_t_chan", "nominal"),
        ("single_top_tW", "nominal"),
    )
]


@pytest.fixture(scope="session")
def optimise_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Manifest of the toy dataset of :data:`OPTIMISE_SAMPLES` (tests/toy_nanoaod.py)."""
    from toy_nanoaod import write_toy_dataset

    return write_toy_dataset(tmp_path_factory.mktemp("optimise_toy"), OPTIMISE_SAMPLES)


@pytest.fixture(scope="session")
def optimise_events(optimise_manifest: Path) -> list:
    """The toy dataset read by :func:`agc.optimise.events.read_events`."""
    from agc.optimise.events import read_events

    return read_events(Manifest.load(optimise_manifest))
