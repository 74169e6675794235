"""The relaxed figure of merit's gradient through histograms, model and Hessian."""

from __future__ import annotations

import numpy as np
import pytest

from agc.optimise.objective import Objective
from agc.optimise.thresholds import threshold

#: Shares the compiled figure of merit of the toy dataset (one jit cache per process).
pytestmark = pytest.mark.xdist_group("optimise_toy")


@pytest.fixture(scope="module")
def objective(optimise_events) -> Objective:
    return Objective.of(optimise_events, threshold("btag"))


def test_gradient_is_the_finite_difference_of_the_relaxed_value(objective: Objective) -> None:
    """With the hard part (bins, b-tag weights) held at the cut, autodiff's d sigma / d cut is
    the central difference of the relaxed sigma."""
    cut, h = 0.5, 1e-5
    views = objective.views(cut)
    value, grad = objective.relaxed(cut, views)
    above, _ = objective.relaxed(cut + h, views)
    below, _ = objective.relaxed(cut - h, views)
    assert np.isfinite(value)
    assert value > 0
    assert grad == pytest.approx((above - below) / (2 * h), rel=1e-4, abs=1e-8)
    assert objective.hard(cut, views) > 0
