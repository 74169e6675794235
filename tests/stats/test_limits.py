"""CLs limits (agc.stats.limits) against pyhf's own calculators and limit finder, on small models."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from typing import Any

import pyhf
import pytest

from agc.core.errors import AGCError
from agc.stats.fit import model_and_data
from agc.stats.limits import cls, cls_curves, expected_targets, upper_limit
from agc.stats.migrad import configure_backend
from agc.stats.results import LimitResult


def simple_spec(observed: list[float], poi_low: float = 0.0) -> dict[str, Any]:
    """Three bins, signal + background with uncorrelated background uncertainties (pyhf)."""
    model = pyhf.simplemodels.uncorrelated_background(
        signal=[5.0, 8.0, 3.0], bkg=[50.0, 40.0, 20.0], bkg_uncertainty=[5.0, 6.0, 4.0]
    )
    spec = json.loads(json.dumps(pyhf.Workspace.build(model, observed)))
    if poi_low != 0.0:
        spec["measurements"][0]["config"]["parameters"] = [
            {"name": "mu", "bounds": [[poi_low, 10.0]], "inits": [1.0]}
        ]
    return spec


@pytest.mark.parametrize("mu", [0.5, 1.0, 2.5, 6.0])
def test_cls_equals_pyhf_asymptotic_calculator(mu: float) -> None:
    """Same test statistics in, same CLs out as pyhf's AsymptoticCalculator (qtilde)."""
    configure_backend()
    model, data = model_and_data(simple_spec([60.0, 45.0, 19.0]))
    calc = pyhf.infer.calculators.AsymptoticCalculator(data, model, test_stat="qtilde")
    teststat = calc.teststatistic(mu)
    sb, b = calc.distributions(mu)
    _, _, expected_cls = calc.expected_pvalues(sb, b)
    observed_cls = calc.pvalues(teststat, sb, b)[2]
    q = pyhf.infer.test_statistics.qmu_tilde(
        mu,
        data,
        model,
        model.config.suggested_init(),
        model.config.suggested_bounds(),
        model.config.suggested_fixed(),
    )
    obs, exp = cls(math.sqrt(float(q)), float(calc.sqrtqmuA_v))
    assert obs == pytest.approx(float(observed_cls), rel=1e-9)
    assert exp == pytest.approx([float(v) for v in expected_cls], rel=1e-9)


def test_expected_targets_give_cls_at_the_level() -> None:
    targets = expected_targets(0.05)
    assert targets == sorted(targets)  # -2 sigma band first
    for index, target in enumerate(targets):
        assert cls(0.0, target)[1][index] == pytest.approx(0.05, rel=1e-12)


@pytest.mark.parametrize("observed", [[52.0, 45.0, 19.0], [40.0, 30.0, 15.0], [70.0, 60.0, 30.0]])
def test_upper_limit_equals_pyhf_toms748_scan(observed: list[float]) -> None:
    """Limits equal pyhf's root-finding limits (toms748 on hypotest) to the requested 1e-3
    (deficit, compatible and excess data)."""
    spec = simple_spec(observed)
    result = upper_limit(spec, workers=1)
    configure_backend()
    model, data = model_and_data(spec)
    obs, exp = pyhf.infer.intervals.upper_limits.toms748_scan(
        data, model, 0.0, 10.0, rtol=1e-6, test_stat="qtilde"
    )
    assert result.converged
    assert result.observed == pytest.approx(float(obs), rel=1e-3)
    assert list(result.expected.values()) == pytest.approx([float(e) for e in exp], rel=1e-3)
    # each fitted point is also exact: the curves pass through them
    point = next(p for p in result.points if p.cls_observed is not None)
    curve_obs, curve_exp = cls_curves(result, [point.mu])
    assert curve_obs[0] == pytest.approx(point.cls_observed, rel=1e-9)
    assert list(curve_exp[0]) == pytest.approx(point.cls_expected, rel=1e-9)


def test_upper_limit_is_the_same_for_any_worker_count() -> None:
    spec = simple_spec([52.0, 45.0, 19.0])
    assert upper_limit(spec, workers=1) == upper_limit(spec, workers=2)


@pytest.mark.parametrize("workers", [1, 2])
def test_the_limit_scan_counts_its_fits_on_the_progress_bar(
    workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", stream)  # the progress bar's stream
    result = upper_limit(simple_spec([52.0, 45.0, 19.0]), workers=workers)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[agc progress] limit scan: 0/? fixed-mu fits")
    fixed = result.fits - 2  # the free fit and the background-only fit are not in the scan
    assert lines[-1].startswith(f"[agc progress] limit scan: {fixed}/? fixed-mu fits")


def test_upper_limit_needs_a_poi_bounded_at_zero() -> None:
    with pytest.raises(AGCError, match="lower bound must be 0"):
        upper_limit(simple_spec([52.0, 45.0, 19.0], poi_low=-5.0), workers=1)


def test_limit_result_reads_back_from_its_json() -> None:
    """``to_dict`` is the object of ``limits.json`` (key order included); ``from_dict`` inverts
    it, also with the signal's keys that ``limits.json`` adds."""
    result = upper_limit(simple_spec([52.0, 45.0, 19.0]), workers=1)
    content = json.loads(json.dumps(result.to_dict()))
    assert list(content) == [
        "poi", "level", "observed", "expected", "bestfit", "sigma_hat", "twice_nll", "points",
        "rounds", "fits", "converged", "rtol", "method", "versions",
    ]  # fmt: skip
    assert list(content["expected"]) == ["-2", "-1", "0", "1", "2"]
    assert LimitResult.from_dict({"signal": "zprime", "labels": {}, **content}) == result


def test_limit_fit_processes_do_not_import_cabinetry() -> None:
    """The limit fits' worker processes (spawned) import pyhf, iminuit and agc.stats.migrad
    through agc.stats.limits only: neither cabinetry nor matplotlib."""
    # In each process: import agc.stats.limits (the worker's tasks are its functions), then list
    # the heavy modules loaded.
    code = """
from agc.stats.pool import FitPool
HEAVY = ["cabinetry", "matplotlib", "agc.stats.fit"]
LOADED = "[__import__('agc.stats.limits')] and [m for m in %r if m in __import__('sys').modules]"
LOADED %= HEAVY
with FitPool(2) as pool:
    print(eval(LOADED), pool.pool.submit(eval, LOADED).result())
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split("\n")[0] == "[] []"
