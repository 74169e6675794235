"""Impact ranking of the nuisance parameters on the POI (cabinetry's definition), its fits
spread over a pool of worker processes.

Each worker builds the pyhf model once (:func:`_init_worker`, spawn start method) and refits the
POI with one parameter held at a shifted value (:func:`_impact_task`); every fit depends on its
inputs only, so any worker count gives the same numbers.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import cabinetry
import numpy as np
import pyhf

from agc.core.errors import AGCError
from agc.stats.minimiser import configure_backend, minimise, quiet_fit_logs

_WORKER: dict[str, Any] = {}


def _init_worker(spec: Mapping[str, Any]) -> None:
    """Build the model once per process for the impact fits."""
    configure_backend()
    model, data = cabinetry.model_utils.model_and_data(dict(spec))
    _WORKER.update(model=model, data=data)


def _impact_task(task: tuple[int, list[float], list[float]]) -> tuple[list[float], int]:
    """POI shifts for one parameter held at each of ``values``; (shifts, fallback count)."""
    i_par, bestfit, values = task
    model, data = _WORKER["model"], _WORKER["data"]
    poi_index = model.config.poi_index
    fix_pars = model.config.suggested_fixed()
    fix_pars[i_par] = True
    shifts, fallbacks = [], 0
    for value in values:
        if value == bestfit[i_par]:  # no pre-fit constraint (or fixed): no impact
            shifts.append(0.0)
            continue
        init = list(bestfit)
        init[i_par] = value
        results, attempt = minimise(model, data, init_pars=init, fix_pars=fix_pars)
        shifts.append(float(results.bestfit[poi_index] - bestfit[poi_index]))
        fallbacks += attempt > 0
    return shifts, fallbacks


def ranking(
    spec: Mapping[str, Any],
    model: Any,
    fit_results: Any,
    *,
    workers: int = 1,
    source: str = "workspace",
) -> tuple[Any, int]:
    """Impacts of every nuisance parameter on the POI: (``cabinetry`` RankingResults, fallbacks).

    The definition of ``cabinetry.fit.ranking``: the parameter is held at its best-fit value
    +- its pre-fit and its post-fit uncertainty and the POI refitted; the impact is the POI's
    shift. Each fit starts from the best-fit point and uses :func:`minimise` (cabinetry's own
    ranking stops at the first fit above MINUIT's EDM goal). The ~4 fits per parameter are
    independent, so they run in ``workers`` processes; every fit depends on its inputs only,
    so any worker count gives the same numbers. ~1 s per fit, ~130 fits for the default model.
    """
    labels = list(model.config.par_names)
    poi_index = model.config.poi_index
    bestfit = np.asarray(fit_results.bestfit, dtype=float).tolist()
    postfit = np.asarray(fit_results.uncertainty, dtype=float)
    prefit = np.asarray(cabinetry.model_utils.prefit_uncertainties(model), dtype=float)
    tasks = [
        (
            i,
            bestfit,
            [
                bestfit[i] + prefit[i],
                bestfit[i] - prefit[i],
                bestfit[i] + postfit[i],
                bestfit[i] - postfit[i],
            ],
        )
        for i in range(len(labels))
        if i != poi_index
    ]
    try:
        if workers <= 1:
            _init_worker(spec)
            with quiet_fit_logs():
                outcome = [_impact_task(task) for task in tasks]
        else:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(
                workers, mp_context=context, initializer=_init_worker, initargs=(dict(spec),)
            ) as pool:
                outcome = list(pool.map(_impact_task, tasks))
    except pyhf.exceptions.FailedMinimization as exc:
        raise AGCError(f"{source}: a fit of the impact ranking failed ({exc})") from None
    impacts = np.asarray([shifts for shifts, _ in outcome], dtype=float).reshape(len(tasks), 4)
    keep = [i for i in range(len(labels)) if i != poi_index]
    results = cabinetry.fit.RankingResults(
        np.asarray(bestfit)[keep],
        postfit[keep],
        [labels[i] for i in keep],
        impacts[:, 0],
        impacts[:, 1],
        impacts[:, 2],
        impacts[:, 3],
    )
    return results, int(sum(n for _, n in outcome))
