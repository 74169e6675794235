"""The maximum-likelihood fit as cabinetry results: pyhf's numpy backend, MINUIT through
:mod:`agc.stats.migrad`, cabinetry's ``FitResults`` and goodness of fit, and quiet logs.

Shared by the fit stage (:mod:`agc.stats.fit`) and the free fit of the limits
(:mod:`agc.stats.limits`). Imports cabinetry: the limits' worker processes do not import it
(they use :mod:`agc.stats.migrad`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import cabinetry
import numpy as np
import pyhf

from agc.stats.fitsettings import FIT_ATTEMPTS
from agc.stats.migrad import MigradResult, migrad


def configure_backend() -> None:
    """pyhf numpy backend with the MINUIT optimiser and our first settings.

    (cabinetry installs its own MINUIT optimiser for each fit; strategy and tolerance are
    passed to every fit explicitly.)
    """
    first = FIT_ATTEMPTS[0]
    pyhf.set_backend(
        "numpy",
        pyhf.optimize.minuit_optimizer(
            verbose=0, strategy=first["strategy"], tolerance=first["tolerance"]
        ),
    )


def minimise(
    model: Any,
    data: list[float],
    *,
    init_pars: list[float] | None = None,
    fix_pars: list[bool] | None = None,
    par_bounds: list[tuple[float, float]] | None = None,
    goodness_of_fit: bool = False,
) -> tuple[Any, MigradResult]:
    """The maximum-likelihood fit: :func:`agc.stats.migrad.migrad` (MIGRAD with the settings of
    :data:`FIT_ATTEMPTS` in turn, from ``init_pars``, default the model's suggested initial
    values) as a ``cabinetry.fit.FitResults``.

    Its ``uncertainty`` and ``corr_mat`` are left empty (zeros, identity): the covariance is one
    HESSE at the minimum (:func:`agc.stats.fit.final_covariance`). ``goodness_of_fit``: the
    saturated-model p-value of ``cabinetry.fit.fit``. Returns (FitResults, the MIGRAD record);
    raises ``pyhf.exceptions.FailedMinimization`` if no attempt converges.
    """
    init = init_pars if init_pars is not None else model.config.suggested_init()
    fixed = fix_pars if fix_pars is not None else model.config.suggested_fixed()
    bounds = par_bounds if par_bounds is not None else model.config.suggested_bounds()
    result = migrad(model, data, init, fixed, bounds)
    n = len(result.values)
    p_value = np.nan
    if goodness_of_fit:
        # cabinetry's own saturated-model test (what cabinetry.fit.fit(goodness_of_fit=True) calls)
        with _silenced("cabinetry.fit"):
            p_value = float(cabinetry.fit._goodness_of_fit(model, data, result.fval))
    fit_results = cabinetry.fit.FitResults(
        np.asarray(result.values),
        np.zeros(n),
        list(model.config.par_names),
        np.identity(n),
        result.fval,
        goodness_of_fit=p_value,
    )
    return fit_results, result


@contextlib.contextmanager
def _silenced(name: str) -> Iterator[None]:
    """Mute logger ``name`` (pyhf logs every failed MIGRAD with a traceback; we retry instead)."""
    logger = logging.getLogger(name)
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


@contextlib.contextmanager
def quiet_fit_logs() -> Iterator[None]:
    """Silence cabinetry's/pyhf's per-fit INFO reports (MIGRAD tables) during the impact fits."""
    loggers = [logging.getLogger(name) for name in ("cabinetry", "pyhf")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
