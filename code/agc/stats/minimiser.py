"""The minimiser of every cabinetry fit: pyhf's numpy backend with MINUIT, the settings of
:data:`agc.stats.fitsettings.FIT_ATTEMPTS` tried in turn, and quiet logs.

Shared by the fit stage (:mod:`agc.stats.fit`), the impact ranking (:mod:`agc.stats.ranking`)
and the free fit of the limits (:mod:`agc.stats.limits`). Imports cabinetry: the limit fits'
worker processes do not import it (they use :func:`agc.stats.limits.migrad`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import cabinetry
import pyhf

from agc.stats.fitsettings import FIT_ATTEMPTS, FIT_MAXITER, attempts


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
) -> tuple[Any, int]:
    """``cabinetry.fit.fit`` with the settings of :data:`FIT_ATTEMPTS`, first that converges.

    Starting points: :func:`agc.stats.fitsettings.attempts` (``init_pars`` is the "given" one,
    default suggested); ``par_bounds`` default to the model's suggested bounds. Returns
    (FitResults, index of the attempt used); raises ``pyhf.exceptions.FailedMinimization`` if
    none converges.
    """
    failure: Exception | None = None
    for attempt, settings, start in attempts(model, init_pars, fix_pars):
        try:
            with _silenced("pyhf.optimize.mixins"):
                results = cabinetry.fit.fit(
                    model,
                    data,
                    init_pars=start,
                    fix_pars=fix_pars,
                    par_bounds=par_bounds,
                    strategy=settings["strategy"],
                    tolerance=settings["tolerance"],
                    maxiter=FIT_MAXITER,
                    goodness_of_fit=goodness_of_fit,
                )
        except pyhf.exceptions.FailedMinimization as exc:
            failure = exc
            continue
        return results, attempt
    assert failure is not None
    raise failure


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
