"""The processing cache key's code version covers exactly the processing layers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agc.core import codeversion


@pytest.fixture
def package_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the agc sources that code_hash reads instead of the installed package."""
    copy = tmp_path / "agc"
    shutil.copytree(codeversion.package_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(codeversion, "package_dir", lambda: copy)
    return copy


@pytest.mark.parametrize(
    ("edited", "changes_processing"),
    [
        ("analysis/selection.py", True),
        ("processing/run.py", True),
        ("core/physics.py", True),
        ("core/schemas/histograms_partial.schema.json", True),
        ("dataset/manifest.py", True),
        ("stats/fit.py", False),
        ("plots/figures.py", False),
        ("reinterpret/pipeline.py", False),
        ("publish/provenance.py", False),
        ("workflow/runners.py", False),
        ("report/summary.py", False),
        ("cli/__init__.py", False),
    ],
)
def test_processing_hash_follows_the_processing_layers(
    package_copy: Path, edited: str, changes_processing: bool
) -> None:
    before = (codeversion.processing_hash(), codeversion.code_hash())
    with (package_copy / edited).open("a") as handle:
        handle.write("\n")
    after = (codeversion.processing_hash(), codeversion.code_hash())
    assert (before[0] != after[0]) is changes_processing
    assert before[1] != after[1]  # the whole-package version always moves


def test_processing_layers_exist() -> None:
    root = codeversion.package_dir()
    for name in codeversion.PROCESSING_LAYERS:
        assert (root / name / "__init__.py").is_file(), name
