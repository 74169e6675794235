"""The BDT's assignment accuracy on generated ttbar events (agc.analysis.mltruth).

Chance would pick the true assignment in about 1 of the ~38 scored per event; the AGC's BDT on
features and truth labels that fit together does far better. A feature in the wrong column or a
truth label off by one jet brings it down towards chance, so the test fails on either.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agc.analysis.inference import load_models
from agc.analysis.mltruth import AssignmentAccuracy, assignment_accuracy
from agc.dataset.manifest import load_manifest


@pytest.fixture(scope="module")
def ttbar_file(small_embedded_manifest: Path) -> str:
    """The ttbar nominal file of the session's small dataset (the embedded recipe at 1 %)."""
    return load_manifest(small_embedded_manifest)["ttbar"]["nominal"]["files"][0]["path"]


def test_the_bdt_finds_the_true_partons_far_above_chance(ttbar_file: str) -> None:
    result = assignment_accuracy([ttbar_file], load_models(), chunksize=700)
    print(f"{result} accuracy {result.accuracy:.3f}")
    assert result.events > 300
    assert 0.3 < result.matchable / result.events < 0.8
    assert 0.6 < result.accuracy < 0.95  # 0.666 measured; 0.50 with pt_w1 and btag_w1 swapped


def test_accuracy_counts_add_up() -> None:
    total = AssignmentAccuracy(10, 6, 4) + AssignmentAccuracy(5, 2, 1)
    assert total == AssignmentAccuracy(15, 8, 5)
    assert total.accuracy == pytest.approx(5 / 8)
    assert AssignmentAccuracy(3, 0, 0).accuracy != AssignmentAccuracy(3, 0, 0).accuracy  # NaN
