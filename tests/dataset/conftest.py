"""Fixtures of the generator's tests: the default recipe and a small generated dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agc.dataset.generate import generate_dataset
from agc.dataset.recipe import load_recipe

#: Samples and scale of the small dataset: ttbar nominal 24000 events in 6 files, wjets 12000 in
#: 4, zprime_1000 100 (generated; the files hold the preselected ones).
SMALL_SAMPLES = ["ttbar__nominal", "wjets", "zprime_1000"]
SMALL_SCALE = 0.01


@pytest.fixture(scope="session")
def recipe(repo: Path) -> dict[str, Any]:
    """The default recipe, ``inputs/embedded.yaml``."""
    return load_recipe(repo / "inputs" / "embedded.yaml")


@pytest.fixture(scope="session")
def small_manifest(tmp_path_factory: pytest.TempPathFactory, recipe: dict[str, Any]) -> Path:
    """A small dataset (three samples at 1 % of the default) generated once per session."""
    return generate_dataset(
        tmp_path_factory.mktemp("small"), recipe=recipe, scale=SMALL_SCALE, samples=SMALL_SAMPLES
    )
