"""Impact ranking of the nuisance parameters on the POI (cabinetry's definition), its fits
spread over a pool of worker processes.

Each worker builds the pyhf model once (:func:`_init_worker`, spawn start method, started by
:func:`ranking_pool` while the main fit runs) and redoes the main fit's HESSE at the best fit
once (the same inputs give the same covariance in every process); every impact fit is then
:func:`agc.stats.migrad.refit` from that HESSE, so it depends on its inputs only and any worker
count gives the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cabinetry
import numpy as np
import pyhf

from agc.core.errors import AGCError
from agc.core.progress import bar
from agc.stats.migrad import MigradResult, configure_backend, hesse_at, refit
from agc.stats.pool import FitPool
from agc.stats.pyhfmodel import model_and_data

_WORKER: dict[str, Any] = {}
#: Which shift of the cabinetry definition each of a parameter's four fits is.
SHIFTS: tuple[str, ...] = ("prefit_up", "prefit_down", "postfit_up", "postfit_down")


@dataclass(frozen=True)
class ImpactFit:
    """One impact fit: ``parameter`` held at best fit + ``shift`` (one of :data:`SHIFTS`),
    MINUIT's calls and EDM, and ``attempt`` (-1: the seeded fit converged; else the index in
    :attr:`~agc.stats.migrad.FitSettings.attempts` of the fallback used)."""

    parameter: str
    shift: str
    nfcn: int
    edm: float
    attempt: int


@dataclass(frozen=True)
class Seed:
    """What a worker needs to rebuild the main fit's HESSE: best fit, first steps and bounds
    (pyhf order), and the HESSE strategy."""

    bestfit: tuple[float, ...]
    steps: tuple[float, ...]
    bounds: tuple[tuple[float, float], ...]
    strategy: int

    @classmethod
    def of(cls, minuit: Any, steps: Sequence[float]) -> Seed:
        """The seed of the HESSE Minuit ``minuit`` (from :func:`agc.stats.migrad.hesse_at`)."""
        return cls(
            tuple(float(x) for x in minuit.values),
            tuple(float(x) for x in steps),
            tuple((float(lo), float(hi)) for lo, hi in minuit.limits),
            int(minuit.strategy.strategy),
        )


def _init_worker(spec: Mapping[str, Any]) -> None:
    """Build the model once per process for the impact fits (a :class:`pyhf.Workspace`
    ``spec``: checked where it was made, not again, :mod:`agc.stats.pyhfmodel`)."""
    configure_backend()
    model, data = model_and_data(spec)
    _WORKER.update(model=model, data=data, seeds={})


def _seed_minuit(seed: Seed) -> Any:
    """The HESSE Minuit of ``seed`` in this process (computed once per seed)."""
    cache = _WORKER["seeds"]
    if seed not in cache:
        cache[seed] = hesse_at(
            _WORKER["model"], _WORKER["data"], seed.bestfit, seed.steps, seed.bounds, seed.strategy
        )
    return cache[seed]


def _impact_task(task: tuple[Seed, int, list[float]]) -> list[MigradResult | None]:
    """The fits with parameter ``i`` held at each of ``values`` (``None``: no shift to fit)."""
    seed, i_par, values = task
    minuit = _seed_minuit(seed)
    model, data = _WORKER["model"], _WORKER["data"]
    return [
        None if value == seed.bestfit[i_par] else refit(minuit, model, data, i_par, value)
        for value in values
    ]


def ranking_pool(spec: Mapping[str, Any], workers: int) -> FitPool:
    """The :class:`~agc.stats.pool.FitPool` of the impact fits: ``workers`` processes that
    import pyhf and build the model of ``spec`` now, while the main fit runs."""
    return FitPool(workers, _init_worker, (spec,))


def ranking(
    model: Any,
    fit_results: Any,
    seed: Seed,
    pool: FitPool,
    *,
    meanwhile: Callable[[], object] | None = None,
) -> tuple[Any, list[ImpactFit]]:
    """Impacts of every nuisance parameter on the POI: (``cabinetry`` RankingResults, the fits).

    The definition of ``cabinetry.fit.ranking``: the parameter is held at its best-fit value
    +- its pre-fit and its post-fit uncertainty and the POI refitted; the impact is the POI's
    shift (0 where the shift is 0: unconstrained or fixed parameters). Each fit is
    :func:`agc.stats.migrad.refit` from the main fit's HESSE (``seed``), run by ``pool`` (the
    :func:`ranking_pool` of this model's workspace); ``meanwhile`` runs in this process while
    the pool's processes fit (e.g. the fit's plots). The parameters done show on the
    progress bar (:func:`agc.core.progress.bar`).
    """
    labels = list(model.config.par_names)
    poi_index = model.config.poi_index
    bestfit = np.asarray(fit_results.bestfit, dtype=float)
    postfit = np.asarray(fit_results.uncertainty, dtype=float)
    prefit = np.asarray(cabinetry.model_utils.prefit_uncertainties(model), dtype=float)
    keep = [i for i in range(len(labels)) if i != poi_index]
    tasks = [
        (
            seed,
            i,
            [
                float(x)
                for x in bestfit[i]
                + np.array([1, -1, 1, -1]) * np.repeat([prefit[i], postfit[i]], 2)
            ],
        )
        for i in keep
    ]
    try:
        with bar(desc="impact ranking", total=len(tasks), unit="parameters") as shown:
            outcome = pool.map(_impact_task, tasks, meanwhile, shown)
    except pyhf.exceptions.FailedMinimization as exc:
        raise AGCError(f"a fit of the impact ranking failed ({exc})") from None
    poi = bestfit[poi_index]
    impacts = np.array(
        [[0.0 if r is None else r.values[poi_index] - poi for r in fits] for fits in outcome]
    )
    results = cabinetry.fit.RankingResults(
        bestfit[keep],
        postfit[keep],
        [labels[i] for i in keep],
        *(impacts[:, k] for k in range(4)),
    )
    record = [
        ImpactFit(labels[i], shift, r.nfcn, r.edm, r.attempt)
        for i, fits in zip(keep, outcome, strict=True)
        for shift, r in zip(SHIFTS, fits, strict=True)
        if r is not None
    ]
    return results, record
