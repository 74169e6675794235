"""Random draws of the generator (agc.dataset.sampling): the distributions they promise."""

from __future__ import annotations

import numpy as np

from agc.dataset.sampling import (
    BREIT_WIGNER_CUT,
    breit_wigner,
    choice,
    cos_theta_1pc2,
    power_law,
)


def test_breit_wigner_is_truncated_and_centred() -> None:
    masses = breit_wigner(np.random.default_rng(1), 100_000, 80.4, 2.1)
    assert np.all(np.abs(masses - 80.4) <= BREIT_WIGNER_CUT * 2.1 + 1e-9)
    assert abs(np.median(masses) - 80.4) < 0.05
    # half of a Cauchy distribution lies within +- width / 2 (truncation removes ~6 % tails)
    assert 0.5 < np.mean(np.abs(masses - 80.4) < 1.05) < 0.56


def test_cos_theta_follows_one_plus_cos_squared() -> None:
    c = cos_theta_1pc2(np.random.default_rng(2), 200_000)
    assert np.all(np.abs(c) <= 1.0 + 1e-12)
    assert abs(np.mean(c)) < 0.01
    assert abs(np.mean(c**2) - 0.4) < 0.005  # <cos^2> = 2/5 for density ~ 1 + cos^2


def test_power_law_threshold_cap_and_index() -> None:
    pt = power_law(np.random.default_rng(4), (200_000,), 20.0, 4.0)
    assert pt.min() >= 20.0
    assert pt.max() <= 3000.0
    # P(pT > 2 pt_min) = 2^-(index - 1) = 1/8
    assert abs(np.mean(pt > 40.0) - 0.125) < 0.005


def test_choice_uses_per_element_probabilities() -> None:
    rng = np.random.default_rng(5)
    probabilities = np.tile([[1.0, 0.0, 3.0], [0.0, 1.0, 0.0]], (50_000, 1, 1))  # unnormalised
    values = choice(rng, probabilities, np.array([0, 2, 6]))
    assert values.shape == (50_000, 2)
    assert set(np.unique(values[:, 0])) == {0, 6}
    assert abs(np.mean(values[:, 0] == 6) - 0.75) < 0.01
    assert np.all(values[:, 1] == 2)
