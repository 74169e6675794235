"""The typed results of the statistical stage (agc.stats.results): to_dict is the JSON written,
from_dict reads it back."""

from __future__ import annotations

import json
from pathlib import Path

from agc.core.fileio import canonical_json
from agc.stats.results import FitSummary, LimitPoint, LimitResult

FIT_REFERENCE = Path(__file__).parent / "test_fit" / "fit_results_embedded.json"


def test_fit_summary_round_trips_the_stored_fit_results() -> None:
    """The stored reference holds the minimiser outputs of fit_results.json (the contract's
    part); with the measurement and fit records it is a whole fit_results.json."""
    stored = json.loads(FIT_REFERENCE.read_text(encoding="utf-8"))
    content = {"measurement": "ttbar", **stored, "fit": {"success": True, "attempt": 0}}
    summary = FitSummary.from_dict(content)
    assert summary.to_dict() == content
    assert summary.poi.name == content["poi"]["name"]


def test_convergence_line_names_the_minimiser_s_effort_and_the_poi() -> None:
    """The line the fit step writes to its log (the feature files' "fit converged")."""
    stored = json.loads(FIT_REFERENCE.read_text(encoding="utf-8"))
    diagnostics = {"migrad_calls": 812, "migrad_edm": 3.14e-9, "hesse_calls": 90}
    fit = {"success": True, "attempt": 1, "diagnostics": diagnostics}
    summary = FitSummary.from_dict({"measurement": "ttbar", **stored, "fit": fit})
    poi = summary.poi
    assert summary.convergence_line() == (
        f"fit converged: MIGRAD (EDM 3.1e-09, 812 calls, attempt 1), HESSE covariance; "
        f"{poi.name} = {poi.bestfit:.4f} +- {poi.uncertainty:.4f}"
    )
    bare = FitSummary.from_dict({"measurement": "ttbar", **stored, "fit": {"attempt": 0}})
    assert bare.convergence_line().startswith("fit converged: MIGRAD (attempt 0), HESSE")
    empty = FitSummary.from_dict({"measurement": "ttbar", **stored, "fit": {}})
    assert empty.convergence_line().startswith("fit converged: MIGRAD, HESSE covariance; ")


def _limit() -> LimitResult:
    return LimitResult(
        poi="mu_sig",
        level=0.05,
        observed=1.5,
        expected={"-2": 0.6, "-1": 0.8, "0": 1.1, "1": 1.6, "2": 2.2},
        bestfit=0.1,
        sigma_hat=0.5,
        twice_nll=42.0,
        points=[
            LimitPoint(mu=1.1, sqrt_q=None, sqrt_qa=1.9, cls_observed=None, cls_expected=[0.1] * 5),
            LimitPoint(mu=1.5, sqrt_q=2.0, sqrt_qa=2.6, cls_observed=0.05, cls_expected=[0.2] * 5),
        ],
        rounds=3,
        fits=9,
        converged=True,
        rtol=1e-3,
        method="CLs",
        versions={"pyhf": "0"},
    )


def test_limit_result_to_dict_is_plain_json_and_reads_back() -> None:
    limit = _limit()
    content = json.loads(canonical_json(limit.to_dict()))
    assert content == limit.to_dict()
    assert content["points"][0] == {
        "mu": 1.1,
        "sqrt_q": None,
        "sqrt_qa": 1.9,
        "cls_observed": None,
        "cls_expected": [0.1] * 5,
    }
    # limits.json adds the signal's name and labels: ignored on reading
    assert LimitResult.from_dict({"signal": "zprime", "labels": {"mass": 1000}, **content}) == limit
