"""agc.stats.prediction gives cabinetry's model prediction bit for bit."""

from __future__ import annotations

import copy

import cabinetry
import numpy as np
import pytest
from stats_helpers import small_workspace_spec

from agc.stats.fit import model_and_data
from agc.stats.prediction import correlated_variance, prediction


def _model_with_staterror():
    """The small workspace with an MC-statistics gamma per bin on the background."""
    spec = copy.deepcopy(small_workspace_spec())
    for channel in spec["channels"]:
        background = channel["samples"][1]
        errors = [0.1 * x for x in background["data"]]
        background["modifiers"].append({"name": "staterror", "type": "staterror", "data": errors})
    model, _ = model_and_data(spec)
    return model


def _correlated_results(model, seed: int) -> cabinetry.fit.FitResults:
    """Parameters away from their start, with uncertainties and a full correlation matrix."""
    rng = np.random.default_rng(seed)
    n = model.config.npars
    start = np.asarray(model.config.suggested_init(), dtype=float)
    root = rng.standard_normal((n, n))
    covariance = root @ root.T + n * np.eye(n)
    scale = np.sqrt(np.diag(covariance))
    corr_mat = covariance / np.outer(scale, scale)
    uncertainty = rng.uniform(0.02, 0.3, n)
    return cabinetry.fit.FitResults(
        start + 0.1 * rng.standard_normal(n), uncertainty, model.config.par_names, corr_mat, 0.0
    )


def _assert_same(ours, theirs) -> None:
    assert ours.label == theirs.label
    assert ours.model_yields == theirs.model_yields
    assert ours.total_stdev_model_bins == theirs.total_stdev_model_bins
    assert ours.total_stdev_model_channels == theirs.total_stdev_model_channels


@pytest.mark.parametrize("seed", [None, 1, 2])
def test_prediction_is_cabinetrys_bit_for_bit(seed) -> None:
    """Pre-fit (no correlations) and post-fit with full correlation matrices."""
    model = _model_with_staterror()
    results = None if seed is None else _correlated_results(model, seed)
    ours = prediction(model, fit_results=results)
    theirs = cabinetry.model_utils.prediction(model, fit_results=results)
    _assert_same(ours, theirs)
    assert ours.model is model
    assert prediction(model, fit_results=results, label="x").label == "x"


def test_correlated_variance_sums_in_cabinetrys_order() -> None:
    """The row-by-row sums equal cabinetry's sums of the full (n, n, ...) product exactly,
    on values whose sum depends on the order (spread over 12 decades)."""
    rng = np.random.default_rng(5)
    symmetric = rng.standard_normal((40, 3, 7)) * 10.0 ** rng.integers(-6, 6, (40, 3, 7))
    corr_mat = rng.uniform(-1.0, 1.0, (40, 40))
    product = symmetric[:, np.newaxis, ...] * (corr_mat[..., np.newaxis, np.newaxis] * symmetric)
    expected = np.sum(np.sum(product, axis=1), axis=0)
    assert np.array_equal(correlated_variance(symmetric, corr_mat), expected)
    shuffled = np.sum(np.sum(product[::-1, ::-1], axis=1), axis=0)
    assert not np.array_equal(shuffled, expected)  # the order matters for these values
