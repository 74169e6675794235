"""Maximum-likelihood fit of the workspace to the pseudo-data (cabinetry + pyhf + iminuit).

Deterministic by construction: numpy backend, MINUIT (MIGRAD then HESSE, :func:`fit`; for a fit
without impacts optionally with the exact derivatives of :mod:`agc.stats.autodiff`) with fixed
settings (:data:`agc.stats.migrad.SETTINGS`, its attempts tried in a fixed order if MIGRAD does
not converge), starting from the model's suggested initial values; the same workspace gives the same ``fit_results.json`` byte
for byte, whatever the number of worker processes of the impact fits.

``fit_results.json`` (canonical JSON, plain floats):

- ``poi``: name, best-fit value and (HESSE) uncertainty of the parameter of interest;
- ``parameters``: ``labels``, ``types`` (pyhf modifier types, e.g. ``histosys+normsys``),
  ``bestfit``, ``uncertainty``, ``prefit_uncertainty`` (0 for unconstrained), in pyhf order;
- ``correlation_matrix`` (n x n, same order), ``best_twice_nll`` (-2 ln L at the minimum),
  ``goodness_of_fit`` (p-value against the saturated model; ``null`` without degrees of freedom);
- ``impacts``: the impact (cabinetry ranking definition) of every nuisance parameter on the
  POI (pre-/post-fit, up/down), or ``null`` when not requested;
- ``fit``: status (``success``) and the exact minimiser settings and software versions.

The stage is :func:`run_fit`; the MINUIT fits it shares with the impacts and the limits are
:mod:`agc.stats.migrad`, the impact ranking :mod:`agc.stats.ranking` (its worker processes a
:class:`agc.stats.pool.FitPool`). Errors name the workspace file once, where it is read
(:func:`load_workspace`, :func:`load_model`, :func:`run_fit`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, NamedTuple

import cabinetry
import iminuit
import numpy as np
import pyhf
import scipy.stats

from agc.core.errors import AGCError
from agc.core.fileio import write_json
from agc.stats.autodiff import Derivatives, derivatives
from agc.stats.migrad import SETTINGS, MigradResult, configure_backend, hesse_at, migrad
from agc.stats.pyhfmodel import checked_workspace, model_and_data
from agc.stats.ranking import ImpactFit, Seed, ranking, ranking_pool
from agc.stats.results import Estimate, FitRun, FitSummary, Impacts, ParameterTable


def load_workspace(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a pyhf workspace JSON file; :class:`AGCError` naming the file on failure."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise AGCError(f"{path}: cannot read workspace ({exc.strerror or exc})") from None
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AGCError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    if not isinstance(spec, dict):
        raise AGCError(f"{path}: a pyhf workspace must be a JSON object")
    return spec


@contextlib.contextmanager
def naming(source: str | os.PathLike[str] | None) -> Iterator[None]:
    """Prefix ``source: `` to the message of an :class:`AGCError` raised inside: the file a
    caller read, named once there (the functions below it do not know it); ``None``: none."""
    try:
        yield
    except AGCError as exc:
        if source is None:
            raise
        raise AGCError(f"{os.fspath(source)}: {exc}") from None


def load_model(
    path: str | os.PathLike[str],
) -> tuple[pyhf.Workspace, Any, list[float]]:
    """The workspace file ``path`` read (:func:`load_workspace`) and checked against pyhf's
    schema, with its pyhf model and data (:func:`agc.stats.pyhfmodel.model_and_data`):
    ``(workspace, model, data)``; :class:`AGCError` naming the file."""
    spec = load_workspace(path)
    with naming(path):
        workspace = checked_workspace(spec)
        model, data = model_and_data(workspace)
    return workspace, model, data


class MainFit(NamedTuple):
    """How the main fit went: ``migrad`` (calls, EDM, attempt), ``hesse``, the Minuit after the
    HESSE at the minimum, ``seed``, what a worker process needs to redo that HESSE (its
    covariance seeds the impact fits, :func:`agc.stats.migrad.refit`), and ``jax``, the JAX
    version that gave the exact derivatives (``None``: MINUIT's finite differences)."""

    migrad: MigradResult
    hesse: Any
    seed: Seed
    jax: str | None = None


def fit(
    model: Any,
    data: list[float],
    *,
    goodness_of_fit: bool = True,
    exact: Derivatives | None = None,
) -> tuple[cabinetry.fit.FitResults, MainFit]:
    """The maximum-likelihood fit: the minimum with its covariance, as cabinetry results.

    MIGRAD (:func:`agc.stats.migrad.migrad`: the attempts of
    :data:`~agc.stats.migrad.SETTINGS` in turn, from the model's suggested initial values,
    fixed parameters and bounds), then one HESSE at the minimum (:func:`final_covariance`);
    with ``goodness_of_fit`` the saturated-model p-value (:func:`saturated_p_value`; NaN
    without degrees of freedom), else NaN. ``exact``: the model's exact derivatives
    (:func:`agc.stats.autodiff.derivatives`) for MIGRAD and HESSE instead of finite differences.
    Returns (``cabinetry.fit.FitResults``, :class:`MainFit` record of both steps);
    :class:`AGCError` if MIGRAD does not converge or HESSE finds no accurate covariance.
    """
    configure_backend()
    config = model.config
    try:
        minimum = migrad(
            model,
            data,
            config.suggested_init(),
            config.suggested_fixed(),
            config.suggested_bounds(),
            derivatives=exact,
        )
    except pyhf.exceptions.FailedMinimization as exc:
        raise AGCError(f"the maximum-likelihood fit failed ({exc})") from None
    covariance = final_covariance(model, data, minimum.values, exact)
    p_value = saturated_p_value(model, data, minimum.fval) if goodness_of_fit else np.nan
    results = cabinetry.fit.FitResults(
        np.asarray(minimum.values),
        covariance.uncertainty,
        list(config.par_names),
        covariance.correlation,
        minimum.fval,
        goodness_of_fit=p_value,
    )
    jax = None if exact is None else exact.jax_version
    return results, MainFit(minimum, covariance.hesse, covariance.seed, jax)


def hesse_steps(model: Any, bestfit: Any) -> list[float]:
    """First HESSE steps: :attr:`~agc.stats.migrad.FitSettings.hesse_step_fraction` of each
    pre-fit uncertainty, of 10 % of max(|value|, 1) for unconstrained parameters (in their
    units)."""
    prefit = np.asarray(cabinetry.model_utils.prefit_uncertainties(model), dtype=float)
    bestfit = np.asarray(bestfit, dtype=float)
    return (
        SETTINGS.hesse_step_fraction
        * np.where(prefit > 0, prefit, 0.1 * np.maximum(np.abs(bestfit), 1.0))
    ).tolist()


class Covariance(NamedTuple):
    """The HESSE at a minimum: ``uncertainty`` (n,) and ``correlation`` (n, n) in pyhf order,
    the Minuit after HESSE and its :class:`~agc.stats.ranking.Seed`."""

    uncertainty: np.ndarray
    correlation: np.ndarray
    hesse: Any
    seed: Seed


def final_covariance(
    model: Any, data: list[float], bestfit: Sequence[float], exact: Derivatives | None = None
) -> Covariance:
    """Uncertainties and correlations from one HESSE at the minimum ``bestfit``
    (:func:`agc.stats.migrad.hesse_at`), so the numbers depend on the minimum only, not on the
    path MIGRAD took (:attr:`~agc.stats.migrad.FitSettings.hesse_strategy`, first steps
    :func:`hesse_steps`, or the exact Hessian of ``exact``); strategy 2 if that is not
    accurate. Fixed parameters get uncertainty 0, as in cabinetry.
    """
    bestfit = np.asarray(bestfit, dtype=float)
    fixed = model.config.suggested_fixed()
    steps = hesse_steps(model, bestfit)
    bounds = model.config.suggested_bounds()
    for strategy in (SETTINGS.hesse_strategy, 2):
        minuit = hesse_at(model, data, bestfit.tolist(), steps, bounds, strategy, exact)
        if minuit.covariance is not None and minuit.fmin.has_accurate_covar:
            break
    else:
        raise AGCError("HESSE found no accurate covariance at the best fit")
    uncertainty = np.where(fixed, 0.0, np.asarray(minuit.errors, dtype=float))
    corr = np.array(minuit.covariance.correlation(), dtype=float)
    free = ~np.asarray(fixed, dtype=bool)
    corr[free, free] = 1.0  # exactly, by definition (the division leaves 1 - 2e-16)
    return Covariance(uncertainty, corr, minuit, Seed.of(minuit, steps))


def saturated_p_value(model: Any, data: Sequence[float], best_twice_nll: float) -> float:
    """Goodness of fit: the p-value of -2 ln(L / L_sat) for a chi2 with n_bins - n_free
    degrees of freedom (the saturated-model test of ``cabinetry.fit.fit(goodness_of_fit=True)``,
    same numbers); NaN without degrees of freedom.

    L_sat is the likelihood at its largest for these data: every main bin Poisson(n | n), every
    constraint term at the parameters that make its auxiliary datum most likely (the datum for
    a Gaussian constraint, datum / tau for a Poisson one), the others at their initial values.
    n_bins counts the main bins, n_free the free parameters without a constraint term
    (``cabinetry.model_utils.unconstrained_parameter_count``).
    """
    config = model.config
    tensorlib = pyhf.tensorlib
    main, aux = list(data[: config.nmaindata]), list(data[config.nmaindata :])
    main_tensor = tensorlib.astensor(main)
    # cabinetry's order of operations, so the same floats: a sequential sum over the bins.
    poisson_ll = tensorlib.to_numpy(sum(tensorlib.poisson_dist(main_tensor).log_prob(main_tensor)))
    constraint_ll = 0.0
    if config.nauxdata > 0:
        pars = config.suggested_init()
        position = 0
        for name in config.auxdata_order:
            paramset = config.param_set(name)
            n = paramset.n_parameters
            scale = paramset.factors if paramset.pdf_type == "poisson" else [1.0] * n
            pars[config.par_slice(name)] = list(np.asarray(aux[position : position + n]) / scale)
            position += n
        constraint_ll = tensorlib.to_numpy(
            model.constraint_logpdf(tensorlib.astensor(aux), tensorlib.astensor(pars))
        )
    saturated_nll = -(poisson_ll + constraint_ll)
    delta_nll = best_twice_nll / 2 - saturated_nll
    n_dof = sum(
        config.channel_nbins.values()
    ) - cabinetry.model_utils.unconstrained_parameter_count(model)
    if n_dof <= 0:
        return float("nan")
    return float(scipy.stats.chi2.sf(2 * delta_nll, n_dof))


def parameter_types(model: Any) -> list[str]:
    """Modifier type(s) of every parameter in ``model.config.par_names`` order."""
    types: dict[str, set[str]] = {}
    for name, kind in model.config.modifiers:
        types.setdefault(name, set()).add(kind)
    out = []
    for name in model.config.par_order:
        n = model.config.param_set(name).n_parameters
        out += ["+".join(sorted(types.get(name, {"unknown"})))] * n
    return out


def _finite_or_none(value: Any) -> float | None:
    number = float(value)
    return number if np.isfinite(number) else None


def _floats(values: Any) -> list[Any]:
    return np.asarray(values, dtype=float).tolist()


def fit_summary(
    spec: Mapping[str, Any],
    model: Any,
    fit_results: Any,
    ranking_results: Any = None,
    *,
    main: MainFit | None = None,
    impact_fits: Sequence[ImpactFit] = (),
) -> FitSummary:
    """The content of ``fit_results.json`` (see module docstring), with plain floats.

    ``main``: how the main fit went (:func:`fit`); ``impact_fits``: the record of every impact
    fit (:func:`agc.stats.ranking.ranking`); both go into the ``fit`` object.
    """
    labels = list(fit_results.labels)
    poi = model.config.poi_name
    if poi is None:
        raise AGCError("the workspace's measurement has no POI")
    i_poi = labels.index(poi)
    impacts = None
    if ranking_results is not None:
        impacts = Impacts(
            labels=list(ranking_results.labels),
            prefit_up=_floats(ranking_results.prefit_up),
            prefit_down=_floats(ranking_results.prefit_down),
            postfit_up=_floats(ranking_results.postfit_up),
            postfit_down=_floats(ranking_results.postfit_down),
        )
    return FitSummary(
        measurement=spec["measurements"][0]["name"],
        poi=Estimate(
            name=poi,
            bestfit=float(fit_results.bestfit[i_poi]),
            uncertainty=float(fit_results.uncertainty[i_poi]),
        ),
        parameters=ParameterTable(
            labels=labels,
            types=parameter_types(model),
            bestfit=_floats(fit_results.bestfit),
            uncertainty=_floats(fit_results.uncertainty),
            prefit_uncertainty=_floats(cabinetry.model_utils.prefit_uncertainties(model)),
        ),
        correlation_matrix=_floats(fit_results.corr_mat),
        best_twice_nll=float(fit_results.best_twice_nll),
        goodness_of_fit=_finite_or_none(fit_results.goodness_of_fit),
        impacts=impacts,
        fit=_fit_record(main, impact_fits if ranking_results is not None else None),
    )


def _fit_record(main: MainFit | None, impact_fits: Sequence[ImpactFit] | None) -> dict[str, Any]:
    """The ``fit`` object of ``fit_results.json``: settings, attempt, software versions, and
    ``diagnostics`` (MINUIT's calls and EDM of the main fit, the impact fits' call counts and
    every impact fit that needed a fallback, with its calls and EDM; machine-dependent)."""
    index = main.migrad.attempt if main is not None else 0
    attempt = SETTINGS.attempts[index]
    record: dict[str, Any] = {
        "success": True,
        "method": "maximum likelihood (MIGRAD of iminuit on pyhf's -2 ln L, agc.stats.migrad)",
        "backend": "numpy",
        "optimizer": "minuit (MIGRAD; then HESSE at the minimum, see agc.stats.fit.final_covariance)",
        "hesse_strategy": (
            SETTINGS.hesse_strategy if main is None else int(main.hesse.strategy.strategy)
        ),
        "strategy": attempt.strategy,
        "tolerance": SETTINGS.tolerance,
        "init_pars": f"{attempt.init} (suggested_init)",
        "maxiter": SETTINGS.maxiter,
        "attempt": index,
        "impact_strategy": SETTINGS.refit_strategy,
        "impact_fallbacks": sum(f.attempt >= 0 for f in impact_fits or ()),
        "versions": {
            "cabinetry": cabinetry.__version__,
            "pyhf": pyhf.__version__,
            "iminuit": iminuit.__version__,
        },
    }
    if main is not None and main.jax is not None:
        record["derivatives"] = (
            "exact: gradient (MIGRAD) and Hessian (HESSE) by JAX from pyhf's jax backend"
        )
        record["versions"]["jax"] = main.jax
    if main is not None:
        record["diagnostics"] = _diagnostics(main, impact_fits)
    return record


def _diagnostics(main: MainFit, impact_fits: Sequence[ImpactFit] | None) -> dict[str, Any]:
    """MINUIT's effort: calls and EDM of the main fit, calls of the impact fits, fallbacks."""
    out: dict[str, Any] = {
        "migrad_calls": main.migrad.nfcn,
        "migrad_edm": main.migrad.edm,
        "hesse_calls": int(main.hesse.nfcn),
    }
    if impact_fits is not None:
        calls = [f.nfcn for f in impact_fits]
        out["impact_fits"] = len(calls)
        out["impact_calls"] = int(sum(calls))
        out["impact_max_calls"] = max(calls, default=0)
        out["impact_fallback_fits"] = [asdict(f) for f in impact_fits if f.attempt >= 0]
    return out


def run_fit(
    workspace: str | os.PathLike[str] | pyhf.Workspace = "outputs/workspace.json",
    output: str | os.PathLike[str] = "outputs/fit_results.json",
    *,
    impacts: bool = True,
    workers: int = 2,
    meanwhile: Callable[[FitRun], object] | None = None,
    exact_derivatives: bool = False,
) -> FitRun:
    """Fit ``workspace`` to its pseudo-data and write ``output`` (the fit stage's statistics;
    the figures are :func:`agc.plots.figures.fit_plots` of the returned run).

    Args:
        workspace: pyhf workspace JSON (from :func:`agc.stats.model.build_workspace`), or
            one already checked (:func:`load_model`,
            :func:`agc.stats.model.build_checked_workspace`): errors then name no file.
        output: ``fit_results.json`` to write (atomically, canonical JSON).
        impacts: compute the impact ranking (4 fits per nuisance parameter).
        workers: processes for the impact fits, started before the main fit (any number gives
            the same results).
        meanwhile: called with the run without impacts while the impact fits run in the
            worker processes (the fit stage draws the fit's plots there); before returning
            when there are no impacts.
        exact_derivatives: MIGRAD and HESSE with the exact gradient and Hessian
            (:mod:`agc.stats.autodiff`); for a fit without impacts (their worker processes
            use finite differences).

    Returns:
        The :class:`~agc.stats.results.FitRun`: ``summary`` is what ``output`` holds.
    """
    if impacts and exact_derivatives:
        raise ValueError("exact derivatives are for fits without impacts")
    if isinstance(workspace, pyhf.Workspace):
        spec, (model, data), source = workspace, model_and_data(workspace), None
    else:
        (spec, model, data), source = load_model(workspace), workspace
    exact = derivatives(model, data) if exact_derivatives else None
    with ranking_pool(spec, workers if impacts else 0) as pool, naming(source):
        fit_results, main = fit(model, data, exact=exact)
        partial = FitRun(fit_summary(spec, model, fit_results, main=main), model, data, fit_results)
        ranking_results, impact_fits = None, []
        if impacts:
            ranking_results, impact_fits = ranking(
                model,
                fit_results,
                main.seed,
                pool,
                meanwhile=None if meanwhile is None else lambda: meanwhile(partial),
            )
        elif meanwhile is not None:
            meanwhile(partial)
        summary = fit_summary(
            spec, model, fit_results, ranking_results, main=main, impact_fits=impact_fits
        )
    write_json(output, summary.to_dict())
    return FitRun(summary, model, data, fit_results, ranking_results)


def cabinetry_fit_results(content: Mapping[str, Any]) -> cabinetry.fit.FitResults:
    """The content of a ``fit_results.json`` as a :class:`cabinetry.fit.FitResults` (best-fit
    values, HESSE uncertainties, labels, correlation matrix, -2 ln L): for cabinetry's
    predictions, e.g. ``match_fit_results`` onto another model. AGCError when an entry is
    missing or malformed."""
    try:
        pars = content["parameters"]
        return cabinetry.fit.FitResults(
            np.asarray(pars["bestfit"], dtype=float),
            np.asarray(pars["uncertainty"], dtype=float),
            list(pars["labels"]),
            np.asarray(content["correlation_matrix"], dtype=float),
            float(content["best_twice_nll"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AGCError(f"fit_results.json: missing or malformed entry ({exc})") from None
