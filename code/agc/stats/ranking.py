"""Impact ranking of the nuisance parameters on the POI (cabinetry's definition), its fits
spread over a pool of worker processes.

Each worker builds the pyhf model once (:func:`_init_worker`, spawn start method, started by
:class:`RankingPool` while the main fit runs) and redoes the main fit's HESSE at the best fit
once (the same inputs give the same covariance in every process); every impact fit is then
:func:`agc.stats.migrad.refit` from that HESSE, so it depends on its inputs only and any worker
count gives the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

import cabinetry
import numpy as np
import pyhf

from agc.core.errors import AGCError
from agc.stats.migrad import MigradResult, hesse_at, refit, started_pool
from agc.stats.minimiser import configure_backend, quiet_fit_logs

_WORKER: dict[str, Any] = {}
#: Which shift of the cabinetry definition each of a parameter's four fits is.
SHIFTS: tuple[str, ...] = ("prefit_up", "prefit_down", "postfit_up", "postfit_down")


@dataclass(frozen=True)
class ImpactFit:
    """One impact fit: ``parameter`` held at best fit + ``shift`` (one of :data:`SHIFTS`),
    MINUIT's calls and EDM, and ``attempt`` (-1: the seeded fit converged; else the index in
    :data:`~agc.stats.fitsettings.FIT_ATTEMPTS` of the fallback used)."""

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
    """Build the model once per process for the impact fits."""
    configure_backend()
    model, data = cabinetry.model_utils.model_and_data(dict(spec))
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


class RankingPool:
    """Worker processes for the impact fits, started early: they import pyhf and build the model
    of ``spec`` while the main fit runs. ``workers <= 1``: no processes, the fits run here. Use
    as a context manager (or call :meth:`close`)."""

    def __init__(self, spec: Mapping[str, Any], workers: int):
        self.spec = dict(spec)
        self.pool = started_pool(workers, _init_worker, (self.spec,))

    def map(
        self,
        tasks: Sequence[tuple[Seed, int, list[float]]],
        meanwhile: Callable[[], object] | None = None,
    ) -> list[Any]:
        """:func:`_impact_task` of every task, in order; ``meanwhile`` runs here while the
        worker processes fit (before the fits when there are none)."""
        if self.pool is not None:
            pending = self.pool.map(_impact_task, tasks)  # every task is submitted now
            if meanwhile is not None:
                meanwhile()
            return list(pending)
        if meanwhile is not None:
            meanwhile()
        _init_worker(self.spec)
        with quiet_fit_logs():
            return [_impact_task(task) for task in tasks]

    def close(self, cancel: bool = False) -> None:
        """Stop the processes (``cancel``: drop the fits not started yet)."""
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=cancel)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(cancel=exc_type is not None)


def ranking(
    model: Any,
    fit_results: Any,
    seed: Seed,
    pool: RankingPool,
    *,
    source: str = "workspace",
    meanwhile: Callable[[], object] | None = None,
) -> tuple[Any, list[ImpactFit]]:
    """Impacts of every nuisance parameter on the POI: (``cabinetry`` RankingResults, the fits).

    The definition of ``cabinetry.fit.ranking``: the parameter is held at its best-fit value
    +- its pre-fit and its post-fit uncertainty and the POI refitted; the impact is the POI's
    shift (0 where the shift is 0: unconstrained or fixed parameters). Each fit is
    :func:`agc.stats.migrad.refit` from the main fit's HESSE (``seed``), run by ``pool``;
    ``meanwhile`` runs in this process while the pool's processes fit (e.g. the fit's plots).
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
        outcome = pool.map(tasks, meanwhile)
    except pyhf.exceptions.FailedMinimization as exc:
        raise AGCError(f"{source}: a fit of the impact ranking failed ({exc})") from None
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
