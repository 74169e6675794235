"""The maximum-likelihood fit (agc.stats.fit): known answers, bad input, determinism, physics check."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import cabinetry
import numpy as np
import pytest
import scipy.optimize
import scipy.special
from stats_helpers import (
    CARD_YIELDS,
    default_stats_run,
    rounded,
    small_workspace_spec,
    synthetic_contents,
    write_synthetic_histograms,
)

from agc.core.errors import AGCError
from agc.core.fileio import write_json
from agc.plots.figures import fit_plots
from agc.stats.fit import (
    fit,
    load_workspace,
    model_and_data,
    run_fit,
    saturated_p_value,
)
from agc.stats.histograms import expected_ttbar_norm
from agc.stats.reproducibility import fit_deviations, violations


@pytest.fixture(scope="session")
def default_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return default_stats_run(request, tmp_path_factory)


def _counting_workspace(channels: list[tuple[float, float, float]]) -> dict:
    """Channels of one bin each: (signal, background, observed); signal scaled by free ``mu``."""
    return {
        "channels": [
            {
                "name": f"ch{i}",
                "samples": [
                    {
                        "name": "signal",
                        "data": [s],
                        "modifiers": [{"name": "mu", "type": "normfactor", "data": None}],
                    },
                    {"name": "background", "data": [b], "modifiers": []},
                ],
            }
            for i, (s, b, _) in enumerate(channels)
        ],
        "observations": [{"name": f"ch{i}", "data": [n]} for i, (_, _, n) in enumerate(channels)],
        "measurements": [
            {
                "name": "counting",
                "config": {
                    "poi": "mu",
                    "parameters": [{"name": "mu", "bounds": [[0.0, 10.0]], "inits": [1.0]}],
                },
            }
        ],
        "version": "1.0.0",
    }


def _twice_nll(mu: float, channels: list[tuple[float, float, float]]) -> float:
    """-2 ln L of independent Poisson counts (continuous in n, as pyhf)."""
    total = 0.0
    for s, b, n in channels:
        lam = mu * s + b
        total += 2 * (lam - n * math.log(lam) + scipy.special.gammaln(n + 1))
    return total


def test_one_bin_counting_experiment_known_answer(tmp_path: Path) -> None:
    channels = [(10.0, 50.0, 70.0)]
    ws = tmp_path / "ws.json"
    write_json(ws, _counting_workspace(channels))
    results = run_fit(ws, tmp_path / "fit.json", impacts=False).summary.to_dict()
    # MLE: mu = (n - b) / s; curvature: sigma = sqrt(n) / s. MINUIT's HESSE error of a bounded
    # parameter (mu in [0, 10]) goes through its internal sine transformation: ~1 % off here.
    assert results["poi"]["name"] == "mu"
    assert results["poi"]["bestfit"] == pytest.approx(2.0, rel=1e-4)
    assert results["poi"]["uncertainty"] == pytest.approx(math.sqrt(70.0) / 10.0, rel=1e-2)
    assert results["best_twice_nll"] == pytest.approx(_twice_nll(2.0, channels), abs=1e-6)
    assert results["goodness_of_fit"] is None  # no degrees of freedom
    assert results["fit"]["success"] is True
    on_disk = json.loads((tmp_path / "fit.json").read_text())
    assert on_disk == {k: v for k, v in results.items() if k != "plots"}


def test_two_channel_fit_matches_independent_minimisation(tmp_path: Path) -> None:
    channels = [(10.0, 50.0, 70.0), (20.0, 10.0, 25.0), (5.0, 100.0, 98.0)]
    ws = tmp_path / "ws.json"
    write_json(ws, _counting_workspace(channels))
    results = run_fit(ws, tmp_path / "fit.json", impacts=False).summary.to_dict()
    reference = scipy.optimize.minimize_scalar(
        lambda m: _twice_nll(m, channels),
        bounds=(0, 10),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert results["poi"]["bestfit"] == pytest.approx(reference.x, rel=1e-4)
    assert results["best_twice_nll"] == pytest.approx(reference.fun, abs=1e-6)
    # Curvature: sigma^2 = 2 / (d^2(-2 ln L)/dmu^2) = 1 / sum(n s^2 / lam^2).
    mu = reference.x
    sigma = 1 / math.sqrt(sum(n * s**2 / (mu * s + b) ** 2 for s, b, n in channels))
    assert results["poi"]["uncertainty"] == pytest.approx(sigma, rel=1e-2)
    assert results["parameters"]["types"] == ["normfactor"]
    assert results["correlation_matrix"] == [[1.0]]
    p_value = results["goodness_of_fit"]
    assert 0.0 < p_value < 1.0


def _with_poisson_constraint(spec: dict) -> dict:
    """``spec`` with a shapesys (Poisson-constrained, one parameter per bin) on channel A's
    background and a staterror (Gaussian) on channel B's signal."""
    spec = json.loads(json.dumps(spec))
    a_background = spec["channels"][0]["samples"][1]
    a_background["modifiers"].append(
        {"name": "bkg_shape", "type": "shapesys", "data": [5.0, 4.0, 6.0]}
    )
    b_signal = spec["channels"][1]["samples"][0]
    b_signal["modifiers"].append({"name": "stat_B", "type": "staterror", "data": [0.4, 1.0, 0.5]})
    return spec


@pytest.mark.parametrize("kind", ["gaussian", "poisson", "no_auxdata"])
def test_goodness_of_fit_is_cabinetrys(kind: str) -> None:
    """The saturated-model p-value is cabinetry's, float for float, at our fit's -2 ln L: with
    Gaussian constraints only, with Poisson (shapesys) ones, and without auxiliary data.
    (cabinetry's own function is private: called here only, as the reference.)"""
    spec = {
        "gaussian": small_workspace_spec(),
        "poisson": _with_poisson_constraint(small_workspace_spec()),
        "no_auxdata": _counting_workspace([(10.0, 50.0, 70.0), (20.0, 10.0, 25.0)]),
    }[kind]
    model, data = model_and_data(spec)
    results, _ = fit(model, data)
    expected = float(cabinetry.fit._goodness_of_fit(model, data, results.best_twice_nll))
    assert 0.0 < expected < 1.0
    assert saturated_p_value(model, data, results.best_twice_nll) == expected
    assert results.goodness_of_fit == expected
    # A worse fit gives a smaller p-value: the formula is not a constant.
    worse = saturated_p_value(model, data, results.best_twice_nll + 4.0)
    assert worse < expected
    assert worse == float(cabinetry.fit._goodness_of_fit(model, data, results.best_twice_nll + 4.0))


def test_fit_returns_the_minimum_with_its_covariance() -> None:
    """One call gives the best fit, HESSE's uncertainties and correlations (fixed parameters: 0,
    free ones: a unit diagonal) and the record of both steps."""
    spec = small_workspace_spec()
    spec["measurements"][0]["config"]["parameters"] = [{"name": "bkg_norm", "fixed": True}]
    model, data = model_and_data(spec)
    results, main = fit(model, data, goodness_of_fit=False)
    fixed = model.config.suggested_fixed()
    assert list(results.bestfit) == main.migrad.values
    assert results.best_twice_nll == main.migrad.fval
    assert np.isnan(results.goodness_of_fit)
    for i, is_fixed in enumerate(fixed):
        assert (results.uncertainty[i] == 0.0) == is_fixed
    free = ~np.asarray(fixed)
    assert np.all(np.diag(results.corr_mat)[free] == 1.0)
    np.testing.assert_allclose(results.uncertainty[free], np.asarray(main.hesse.errors)[free])
    assert main.seed.bestfit == tuple(results.bestfit)


def test_bad_workspace_input(tmp_path: Path) -> None:
    with pytest.raises(AGCError, match=r"absent\.json: cannot read workspace"):
        run_fit(tmp_path / "absent.json", tmp_path / "fit.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"channels": [\n')
    with pytest.raises(AGCError, match=r"broken.json: invalid JSON at line \d+"):
        run_fit(broken, tmp_path / "fit.json")
    spec = _counting_workspace([(10.0, 50.0, 70.0)])
    del spec["observations"]
    invalid = tmp_path / "invalid.json"
    write_json(invalid, spec)
    with pytest.raises(AGCError, match=r"invalid\.json: invalid pyhf workspace") as info:
        run_fit(invalid, tmp_path / "fit.json")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "fit.json").exists()


def test_expected_ttbar_norm_from_histograms(tmp_path: Path) -> None:
    path = write_synthetic_histograms(tmp_path / "h.root")
    contents = synthetic_contents()
    d = b = s = 0.0
    for region in CARD_YIELDS:
        model_bins = slice(3, None)  # fill bins from 110 GeV on
        d += contents[f"{region}_pseudodata"][0][model_bins].sum()
        s += contents[f"{region}_ttbar"][0][model_bins].sum()
        b += sum(
            contents[f"{region}_{p}"][0][model_bins].sum()
            for p in CARD_YIELDS[region]
            if p != "ttbar"
        )
    mu, sigma = expected_ttbar_norm(path)
    assert mu == pytest.approx((d - b) / s, rel=1e-12)
    assert 0 < sigma < 0.05
    with pytest.raises(AGCError, match="missing histogram '4j1b_zprime_1000'"):
        expected_ttbar_norm(path, signal="zprime_1000")


# ----------------------------------------------------------------------------- default chain


def test_default_fit_results(default_run: dict) -> None:
    results = default_run["results"]
    on_disk = json.loads((default_run["base"] / "fit_results.json").read_text())
    assert on_disk == {k: v for k, v in results.items() if k != "plots"}
    assert results["measurement"] == "CMS_ttbar"
    assert results["poi"]["name"] == "ttbar_norm"
    assert results["fit"]["success"] is True
    pars = results["parameters"]
    n = len(pars["labels"])
    assert len(pars["types"]) == len(pars["bestfit"]) == len(pars["uncertainty"]) == n
    assert pars["types"][pars["labels"].index("ttbar_norm")] == "normfactor"
    assert pars["types"][pars["labels"].index("Luminosity")] == "normsys"
    assert pars["types"][pars["labels"].index("Jet energy scale")] == "histosys+normsys"
    corr = np.asarray(results["correlation_matrix"])
    assert corr.shape == (n, n)
    np.testing.assert_allclose(np.diag(corr), 1.0, atol=1e-9)
    np.testing.assert_allclose(corr, corr.T, atol=1e-12)
    impacts = results["impacts"]
    assert set(impacts["labels"]) == set(pars["labels"]) - {"ttbar_norm"}
    assert math.isfinite(results["best_twice_nll"])


def test_default_workspace_regression(default_run: dict, data_regression) -> None:
    ws = json.loads(default_run["workspace"].read_text())
    data_regression.check(rounded(ws), basename=f"workspace_{default_run['source']}")


def test_default_fit_regression(default_run: dict, contract_regression) -> None:
    """Every minimiser output against the stored reference, under the reproducibility contract
    (agc.stats.reproducibility: best fits to 2e-3 of their uncertainty, uncertainties to 1 %, ...)."""
    results = default_run["results"]
    keep = ("poi", "parameters", "correlation_matrix", "best_twice_nll", "goodness_of_fit")
    obtained = {key: results[key] for key in (*keep, "impacts")}
    contract_regression.check(obtained, f"fit_results_{default_run['source']}", fit_deviations)


def test_fit_contract_is_not_vacuous(default_run: dict) -> None:
    """The contract compares every number and catches a move of one tenth of a sigma."""
    results = default_run["results"]
    n = len(results["parameters"]["labels"])
    deviations = fit_deviations(results, results)
    assert len(deviations) == 2 * n + n * (n - 1) // 2 + 2 + 4 * (n - 1)
    assert not violations(deviations)
    moved = json.loads(json.dumps(results))
    i = moved["parameters"]["labels"].index("ttbar_norm")
    moved["parameters"]["bestfit"][i] += 0.1 * moved["parameters"]["uncertainty"][i]
    assert [d.output for d in violations(fit_deviations(moved, results))] == ["bestfit[ttbar_norm]"]


def test_physics_check_ttbar_norm(default_run: dict) -> None:
    """The fitted ttbar_norm agrees with what the pseudo-data contains, within twice its
    uncertainty.

    The naive ratio (D - B) / S holds every nuisance parameter at its nominal value, whereas the
    fit profiles them: normalisation-changing ones (luminosity, the b-tag NPs) are pulled by up
    to ~1.7 sigma on the embedded default and move ttbar_norm by about one sigma against the
    ratio. A wrong normalisation (a missing filter efficiency, a wrong cross-section) moves it by
    far more."""
    expected, expected_unc = expected_ttbar_norm(default_run["histograms"])
    results = default_run["results"]
    poi = results["poi"]
    pars = results["parameters"]
    pulls = {
        label: value
        for label, value, kind in zip(pars["labels"], pars["bestfit"], pars["types"], strict=True)
        if kind == "normsys" or kind.startswith("histosys")
    }
    print(
        f"\n[physics] ttbar_norm fit {poi['bestfit']:.4f} +- {poi['uncertainty']:.4f}, "
        f"expected {expected:.4f} +- {expected_unc:.4f} ({default_run['source']}); "
        f"luminosity pull {pulls.get('Luminosity', 0.0):+.2f}"
    )
    assert abs(poi["bestfit"] - expected) < 2 * poi["uncertainty"]


def test_fit_is_reproducible(default_run: dict, tmp_path: Path) -> None:
    """A second fit (without the slow impacts) gives the same numbers and the same plot bytes."""
    rerun = run_fit(default_run["workspace"], tmp_path / "fit.json", impacts=False)
    written = fit_plots(rerun, tmp_path / "plots")
    again = rerun.summary.to_dict()
    first = default_run["results"]
    for key in ("poi", "parameters", "correlation_matrix", "best_twice_nll", "goodness_of_fit"):
        assert again[key] == first[key], key
    assert again["impacts"] is None
    per_run = ("impact_fallbacks", "diagnostics")  # about the impact fits, not done here
    fit_settings = {k: v for k, v in first["fit"].items() if k not in per_run}
    assert {k: v for k, v in again["fit"].items() if k not in per_run} == fit_settings
    main_fit = ("migrad_calls", "migrad_edm", "hesse_calls")  # the same path, call for call
    assert {k: again["fit"]["diagnostics"][k] for k in main_fit} == {
        k: first["fit"]["diagnostics"][k] for k in main_fit
    }
    produced = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert produced == sorted(p.name for p in written)
    assert not any(name.startswith(".") for name in produced)  # no temporary files left
    for name in produced:
        assert (tmp_path / "plots" / name).read_bytes() == (
            default_run["plots"] / name
        ).read_bytes(), name


#: What the default model's impacts must agree with cabinetry.fit.ranking to.
CABINETRY_RANKING_ABS = 1e-4


def cabinetry_impacts(
    model: Any, data: list[float], fit_results: cabinetry.fit.FitResults
) -> tuple[dict[str, np.ndarray], list[str]]:
    """``cabinetry.fit.ranking``'s loop (cold refits from the best fit, each parameter fixed at
    its four shifts, ``custom_fit=True``, tolerance 1e-3) with cabinetry's public ``fit``: the
    impacts per shift, and the labels of the refits that needed a second try. A cold strategy-1
    refit can end with MINUIT declaring the minimum invalid on one machine's floating-point path
    and not on another's; cabinetry's ranking then stops. Such a refit is repeated with strategy
    2 (more careful derivatives), which is the same minimum, reached more carefully."""
    poi = model.config.poi_index
    prefit = cabinetry.model_utils.prefit_uncertainties(model)
    fixed = model.config.suggested_fixed()
    impacts: dict[str, list[float]] = {f: [] for f in IMPACT_FIELDS}
    retried = []
    for i, label in enumerate(fit_results.labels):
        if i == poi:
            continue
        best, post = fit_results.bestfit[i], fit_results.uncertainty[i]
        for field, value in zip(
            IMPACT_FIELDS,
            (best + prefit[i], best - prefit[i], best + post, best - post),
            strict=True,
        ):
            if value == best:
                impacts[field].append(0.0)
                continue
            init = list(fit_results.bestfit)
            init[i] = value
            hold = [*fixed[:i], True, *fixed[i + 1 :]]
            options = {"init_pars": init, "fix_pars": hold, "tolerance": 1e-3, "custom_fit": True}
            try:
                refit = cabinetry.fit.fit(model, data, strategy=1, **options)
            except ValueError:
                retried.append(f"{label} {field}")
                refit = cabinetry.fit.fit(model, data, strategy=2, **options)
            impacts[field].append(refit.bestfit[poi] - fit_results.bestfit[poi])
    return {f: np.asarray(v) for f, v in impacts.items()}, retried


IMPACT_FIELDS = ("prefit_up", "prefit_down", "postfit_up", "postfit_down")


@pytest.mark.slow
def test_default_impacts_agree_with_cabinetry_ranking(default_run: dict) -> None:
    """Every impact of the default model against cabinetry's own refits, to 1e-4.

    cabinetry refits cold (strategy 1) from the best fit, as ``cabinetry.fit.ranking`` does
    (:func:`cabinetry_impacts`). It runs with ``custom_fit=True`` (iminuit on pyhf's -2 ln L, as
    our fits) and tolerance 1e-3: through pyhf's optimiser, or at our 1e-4, its fits end at
    MINUIT's machine-accuracy limit (about 3e-8 |-2 ln L| = 5e-6 > the EDM goal) and fail. At
    EDM < 2e-6 its POI is within sqrt(1e-6) sigma_POI ~ 7e-5 of the minimum, inside the 1e-4
    compared here. ~2 minutes: 132 cold fits with HESSE each."""
    results = default_run["results"]
    model, data = model_and_data(load_workspace(default_run["workspace"]))
    pars = results["parameters"]
    fit_results = cabinetry.fit.FitResults(
        np.asarray(pars["bestfit"]),
        np.asarray(pars["uncertainty"]),
        pars["labels"],
        np.asarray(results["correlation_matrix"]),
        results["best_twice_nll"],
    )
    reference, retried = cabinetry_impacts(model, data, fit_results)
    labels = [label for i, label in enumerate(pars["labels"]) if i != model.config.poi_index]
    assert labels == results["impacts"]["labels"]
    worst = {}
    for field in IMPACT_FIELDS:
        diff = np.abs(np.asarray(results["impacts"][field]) - reference[field])
        worst[field] = (float(diff.max()), labels[int(diff.argmax())])
    print(f"\n[ranking] |ours - cabinetry|, largest per shift: {worst}; retried: {retried}")
    assert len(retried) <= 4, retried  # a rare machine-dependent retry, not a habit
    assert all(value <= CABINETRY_RANKING_ABS for value, _ in worst.values()), worst
