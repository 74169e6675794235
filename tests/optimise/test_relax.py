"""Sigmoid weights and the region probabilities of the relaxed selection."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from agc.optimise.relax import padded, region_probabilities, sigmoid_weight


def test_sigmoid_weight_limits() -> None:
    """Far below the cut 0, far above 1, at the cut 1/2; a tiny temperature is the step."""
    x = np.array([0.0, 0.49, 0.5, 0.51, 1.0])
    wide = np.asarray(sigmoid_weight(x, 0.5, 1e-3))
    assert wide[0] == pytest.approx(0.0, abs=1e-12)
    assert wide[-1] == pytest.approx(1.0, abs=1e-12)
    assert wide[2] == 0.5
    step = np.asarray(sigmoid_weight(x, 0.5, 1e-9))
    assert step.tolist() == [0.0, 0.0, 0.5, 1.0, 1.0]
    assert np.all(np.diff(np.asarray(sigmoid_weight(x, 0.5, 0.1))) > 0)


def _brute_force(p_pass: np.ndarray, p_tag: np.ndarray) -> np.ndarray:
    """P(4j1b), P(4j2b) of one event by summing over every outcome of every jet."""
    result = np.zeros(2)
    for outcome in itertools.product(range(3), repeat=len(p_pass)):  # 0 out, 1 in, 2 in + tag
        prob = 1.0
        for j, o in enumerate(outcome):
            prob *= (
                (1 - p_pass[j]) if o == 0 else p_pass[j] * (p_tag[j] if o == 2 else 1 - p_tag[j])
            )
        n_jets, n_tags = sum(o > 0 for o in outcome), sum(o == 2 for o in outcome)
        if n_jets >= 4:
            result[0] += prob * (n_tags == 1)
            result[1] += prob * (n_tags >= 2)
    return result


@pytest.mark.parametrize("n_jets", [3, 4, 6, 7])
def test_region_probabilities_match_brute_force(n_jets: int) -> None:
    rng = np.random.default_rng(n_jets)
    p_pass, p_tag = rng.uniform(size=(2, 4, n_jets))
    got = np.asarray(region_probabilities(p_pass, p_tag))
    expected = np.array([_brute_force(p_pass[e], p_tag[e]) for e in range(4)])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_region_probabilities_of_hard_inputs_are_the_selection() -> None:
    """0/1 inputs give the hard selection's 0/1: >= 4 jets with exactly one / at least two tags."""
    rng = np.random.default_rng(7)
    passes = rng.integers(0, 2, (200, 7)).astype(float)
    tags = rng.integers(0, 2, (200, 7)).astype(float)
    got = np.asarray(region_probabilities(passes, tags))
    n_jets, n_tags = passes.sum(axis=1), (passes * tags).sum(axis=1)
    assert got[:, 0].tolist() == ((n_jets >= 4) & (n_tags == 1)).astype(float).tolist()
    assert got[:, 1].tolist() == ((n_jets >= 4) & (n_tags >= 2)).astype(float).tolist()
    assert 0 < got.sum() < 200


def test_padded_places_each_events_jets_in_its_row() -> None:
    out = padded(np.array([2, 0, 3]), np.array([1.0, 2.0, 3.0, 4.0, 5.0]), fill=-1.0)
    assert out.tolist() == [[1.0, 2.0, -1.0], [-1.0, -1.0, -1.0], [3.0, 4.0, 5.0]]
