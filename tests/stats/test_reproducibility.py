"""The reproducibility contract (agc.stats.reproducibility): the comparisons themselves, on small
hand-made results."""

from __future__ import annotations

import math

import pytest

from agc.stats import reproducibility
from agc.stats.reproducibility import (
    BESTFIT_SIGMA,
    LIMIT_BAND,
    Deviation,
    fit_deviations,
    limit_deviations,
    spread,
    violations,
)


def _fit(bestfit: float = 1.0, sigma: float = 0.1, impact: float = 0.02) -> dict:
    return {
        "poi": {"name": "mu", "bestfit": bestfit, "uncertainty": sigma},
        "parameters": {
            "labels": ["mu", "theta"],
            "bestfit": [bestfit, 0.3],
            "uncertainty": [sigma, 0.9],
        },
        "correlation_matrix": [[1.0, -0.2], [-0.2, 1.0]],
        "best_twice_nll": 148.5,
        "goodness_of_fit": 0.4,
        "impacts": {
            "labels": ["theta"],
            "prefit_up": [impact],
            "prefit_down": [-impact],
            "postfit_up": [impact],
            "postfit_down": [-impact],
        },
    }


def test_identical_results_use_nothing_of_the_tolerance() -> None:
    deviations = fit_deviations(_fit(), _fit())
    # 2 best fits, 2 uncertainties, 1 correlation, -2 ln L, p-value, 4 impacts
    assert len(deviations) == 11
    assert all(d.used == 0.0 for d in deviations)


def test_best_fit_tolerance_is_a_fraction_of_its_uncertainty() -> None:
    inside = _fit(bestfit=1.0 + 0.9 * BESTFIT_SIGMA * 0.1)
    outside = _fit(bestfit=1.0 + 1.1 * BESTFIT_SIGMA * 0.1)
    assert not [d for d in violations(fit_deviations(inside, _fit())) if d.family == "bestfit"]
    bad = violations(fit_deviations(outside, _fit()))
    assert [d.output for d in bad] == ["bestfit[mu]"]
    assert "bestfit[mu]" in str(bad[0])
    assert "allowed" in str(bad[0])


def test_impacts_have_an_absolute_and_a_relative_part() -> None:
    ref = _fit(impact=0.02)
    allowed = reproducibility.IMPACT_POI_SIGMA * 0.1 + reproducibility.IMPACT_REL * 0.02
    near = _fit(impact=0.02 + 0.9 * allowed)
    far = _fit(impact=0.02 + 1.1 * allowed)
    assert not violations(fit_deviations(near, ref))
    assert {d.family for d in violations(fit_deviations(far, ref))} == {
        "impact_prefit_up",
        "impact_prefit_down",
        "impact_postfit_up",
        "impact_postfit_down",
    }


def test_nan_against_a_number_violates_and_nan_against_nan_does_not() -> None:
    assert violations([Deviation("x", math.nan, 1.0, 1.0)])
    assert not violations([Deviation("x", math.nan, math.nan, 1.0)])
    no_gof = _fit()
    no_gof["goodness_of_fit"] = None
    assert [d.output for d in violations(fit_deviations(no_gof, _fit()))] == ["goodness_of_fit"]


def test_structural_differences_are_not_tolerated() -> None:
    other = _fit()
    other["parameters"]["labels"] = ["mu", "phi"]
    with pytest.raises(ValueError, match="parameters differ"):
        fit_deviations(other, _fit())
    no_impacts = {**_fit(), "impacts": None}
    with pytest.raises(ValueError, match="impacts present on one side"):
        fit_deviations(no_impacts, _fit())


def _limits(shift: float = 0.0) -> dict:
    return {
        "observed": 14.0 + shift,
        "expected": {"-2": 4.8, "-1": 6.9, "0": 10.5, "1": 17.7 + shift, "2": 31.3},
    }


def test_limits_to_a_fraction_of_the_expected_band() -> None:
    allowed = LIMIT_BAND * (17.7 - 6.9) / 2
    assert not violations(limit_deviations(_limits(0.9 * allowed), _limits()))
    bad = violations(limit_deviations(_limits(1.1 * allowed), _limits()))
    assert [d.output for d in bad] == ["limit_observed", "limit_expected[1]"]


def test_spread_keeps_the_worst_of_every_family() -> None:
    a = fit_deviations(_fit(bestfit=1.0001), _fit())
    b = fit_deviations(_fit(bestfit=1.00005), _fit())
    rows = {row.family: row for row in spread([a, b])}
    assert rows["bestfit"].count == 4
    assert rows["bestfit"].max_abs_diff == pytest.approx(1e-4)
    assert rows["bestfit"].worst == "bestfit[mu]"
    assert rows["uncertainty"].max_used == 0.0
    assert "bestfit" in reproducibility.format_spread(rows.values())
