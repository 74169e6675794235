"""MINUIT (iminuit) fits of a pyhf model: the one place where MIGRAD and HESSE run, with their
settings (:class:`FitSettings`).

Light on purpose (pyhf and iminuit, no cabinetry): the worker processes of the impact ranking
and of the limits import it. Every fit of the statistics stage is one of these:

- :func:`migrad`: MIGRAD from a starting point, the attempts of :data:`SETTINGS` tried in turn
  until one converges (the main fit, the limits' fits);
- :func:`hesse_at`: HESSE at a minimum (the covariance of the main fit,
  :func:`agc.stats.fit.fit`, and the seed of every impact fit);
- :func:`refit`: MIGRAD seeded with the covariance of a HESSE at the best fit, one parameter held
  at a new value (the impact fits; the strategy of iminuit's own ``mncontour``), falling back to
  :func:`migrad` if it does not converge.

Each returns a :class:`MigradResult` with MINUIT's call count and EDM, so the statistics stage can
show how hard each fit was instead of printing MINUIT's warnings.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import iminuit
import numpy as np
import pyhf
import scipy.optimize

if TYPE_CHECKING:
    from agc.stats.autodiff import Derivatives


@dataclass(frozen=True)
class Attempt:
    """One MINUIT configuration of :func:`migrad`: ``strategy`` and the starting point, ``init``
    "given" (the caller's) or "suggested" (the model's suggested initial values, fixed
    parameters keeping their given values)."""

    strategy: int
    init: str


@dataclass(frozen=True)
class FitSettings:
    """The MINUIT settings of every fit of the statistics stage (defaults: :data:`SETTINGS`).

    - ``tolerance``: MIGRAD stops at EDM < 0.002 * tolerance (errordef 1 for -2 ln L), i.e.
      EDM < 2e-7 for 1e-4: every parameter within ~3e-4 of its uncertainty of the minimum,
      tight enough for the reproducibility contract of :mod:`agc.stats.reproducibility`
      (iminuit's default, 0.1, would allow 1e-2 sigma). Costs ~10 % more function calls than
      0.01 on the default model.
    - ``maxiter``: maximum number of function calls of one MIGRAD minimisation.
    - ``attempts``: tried in turn until MIGRAD converges (same inputs -> same path -> same
      result): strategy 1 (pyhf's default without automatic gradients), then the slower but
      more careful strategy 2, each from the given starting point, then from the model's
      suggested initial values.
    - ``refit_strategy``: MINUIT strategy of the impact fits (:func:`refit`). They start from
      the best fit with HESSE's covariance as MIGRAD's first inverse Hessian, so MIGRAD skips
      its own initial second-derivative scan. Strategy 1, not 0: with 0 MIGRAD trusts its
      updated covariance for the EDM and stopped 1.8e-4 short in ttbar_norm on the default
      model's hardest impact fit (ME variation held at its pre-fit -1 sigma), with 1 its
      closing HESSE check agrees with a cold fit to 3e-6; the total calls of all impact fits
      are about the same (72 k).
    - ``hesse_strategy``: the covariance of the main fit is a fresh HESSE at the minimum
      (:func:`agc.stats.fit.final_covariance`), its first steps ``hesse_step_fraction`` of each
      parameter's pre-fit uncertainty (1 % of max(|x|, 1) when unconstrained). MINUIT's own
      HESSE after MIGRAD starts from the steps MIGRAD's path left, so its result depended on
      which attempt converged: on the default model sigma(ttbar_norm) ranged over 5 % (strategy
      2 HESSE over 9 %), while this one agrees with a Richardson-extrapolated central-difference
      Hessian to 0.4 % and moves by 0.25 % between the minima of different attempts.
    """

    tolerance: float = 1e-4
    maxiter: int = 100_000
    attempts: tuple[Attempt, ...] = (
        Attempt(strategy=1, init="given"),
        Attempt(strategy=2, init="given"),
        Attempt(strategy=1, init="suggested"),
        Attempt(strategy=2, init="suggested"),
    )
    refit_strategy: int = 1
    hesse_strategy: int = 1
    hesse_step_fraction: float = 0.1

    def starts(
        self,
        model: Any,
        init_pars: Sequence[float] | None = None,
        fix_pars: Sequence[bool] | None = None,
    ) -> Iterator[tuple[int, Attempt, list[float]]]:
        """``(index in attempts, attempt, starting point)`` of each attempt, in order.

        ``init_pars`` (default: suggested) is the "given" start; for the "suggested" attempts
        the fixed parameters keep their given values. An attempt that would repeat an earlier
        one (same strategy, same start; e.g. when the given start is the suggested one) is
        skipped.
        """
        given = list(init_pars) if init_pars is not None else model.config.suggested_init()
        suggested = model.config.suggested_init()
        if fix_pars is not None:
            suggested = [g if f else s for g, s, f in zip(given, suggested, fix_pars, strict=True)]
        tried: set[tuple[Any, ...]] = set()
        for index, attempt in enumerate(self.attempts):
            start = given if attempt.init == "given" else suggested
            key = (attempt.strategy, *start)
            if key not in tried:
                tried.add(key)
                yield index, attempt, list(start)


#: The settings of every fit (one instance: same inputs -> same fits -> same numbers).
SETTINGS = FitSettings()


def configure_backend() -> None:
    """pyhf's numpy backend with the MINUIT optimiser and the first attempt's settings, in this
    process (our fits call iminuit directly; pyhf's optimiser serves cabinetry's own fits)."""
    pyhf.set_backend(
        "numpy",
        pyhf.optimize.minuit_optimizer(
            verbose=0, strategy=SETTINGS.attempts[0].strategy, tolerance=SETTINGS.tolerance
        ),
    )


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


@dataclass(frozen=True)
class MigradResult:
    """One minimisation: ``fval`` (-2 ln L at the minimum, without any offset), ``values`` (all
    parameters, pyhf order), ``nfcn`` (calls of -2 ln L), ``edm`` (MINUIT's estimated distance to
    the minimum), ``attempt`` (index in :attr:`FitSettings.attempts`; -1 for a
    seeded :func:`refit`)."""

    fval: float
    values: list[float]
    nfcn: int
    edm: float
    attempt: int


def minuit_of(
    model: Any,
    data: Sequence[float],
    start: Sequence[float],
    fixed: Sequence[bool],
    bounds: Sequence[Sequence[float]],
    strategy: int,
    *,
    offset: float = 0.0,
    derivatives: Derivatives | None = None,
) -> iminuit.Minuit:
    """A quiet ``iminuit.Minuit`` of ``-2 ln L - offset`` of ``model`` for ``data`` (errordef 1),
    starting at ``start`` with iminuit's default first steps, ``fixed`` parameters, ``bounds`` and
    MINUIT ``strategy``; tolerance :attr:`FitSettings.tolerance`. With ``derivatives``
    (:func:`agc.stats.autodiff.derivatives` of the same model) MIGRAD uses the exact gradient
    and HESSE the exact Hessian instead of finite differences.

    ``offset`` (a constant, e.g. -2 ln L at the best fit) changes neither the minimum nor the
    covariance; it keeps the cost near 0, where MINUIT's machine-precision limit on the EDM
    (about 3e-8 * |cost|) stays below the EDM goal of 2e-7.
    """

    def cost(pars: Sequence[float]) -> float:
        return float(-2.0 * model.logpdf(pars, data)[0]) - offset

    exact = {}
    if derivatives is not None:
        exact = {"grad": derivatives.gradient, "hessian": derivatives.hessian}
    minuit = iminuit.Minuit(cost, list(start), name=model.config.par_names, **exact)
    minuit.errordef = 1.0  # the cost is -2 ln L
    minuit.fixed = list(fixed)
    minuit.limits = [tuple(b) for b in bounds]
    minuit.strategy = strategy
    minuit.tol = SETTINGS.tolerance
    minuit.print_level = 0
    return minuit


def _result(minuit: iminuit.Minuit, offset: float, nfcn: int, attempt: int) -> MigradResult:
    return MigradResult(
        fval=float(minuit.fval) + offset,
        values=[float(x) for x in minuit.values],
        nfcn=int(nfcn),
        edm=float(minuit.fmin.edm),
        attempt=attempt,
    )


def failed(message: str) -> pyhf.exceptions.FailedMinimization:
    """pyhf's exception for a minimisation that did not converge."""
    return pyhf.exceptions.FailedMinimization(
        scipy.optimize.OptimizeResult(success=False, message=message)
    )


def migrad(
    model: Any,
    data: Sequence[float],
    init: Sequence[float],
    fixed: Sequence[bool],
    bounds: Sequence[Sequence[float]],
    *,
    offset: float = 0.0,
    derivatives: Derivatives | None = None,
) -> MigradResult:
    """Minimum of -2 ln L: MIGRAD only, the attempts of :data:`SETTINGS`
    (:meth:`FitSettings.starts`) tried in turn until one converges. ``nfcn`` counts
    the calls of every attempt. ``pyhf.exceptions.FailedMinimization`` if none converges.
    ``derivatives``: as for :func:`minuit_of`."""
    calls = 0
    for index, attempt, start in SETTINGS.starts(model, init, fixed):
        minuit = minuit_of(
            model,
            data,
            start,
            fixed,
            bounds,
            attempt.strategy,
            offset=offset,
            derivatives=derivatives,
        )
        minuit.migrad(ncall=SETTINGS.maxiter)
        calls += minuit.nfcn
        if minuit.valid:
            return _result(minuit, offset, calls, index)
    raise failed("MIGRAD did not converge")


def hesse_at(
    model: Any,
    data: Sequence[float],
    bestfit: Sequence[float],
    steps: Sequence[float],
    bounds: Sequence[Sequence[float]],
    strategy: int,
    derivatives: Derivatives | None = None,
) -> iminuit.Minuit:
    """A Minuit at ``bestfit`` (the cost offset by -2 ln L there) after HESSE with first steps
    ``steps``: the covariance of the main fit, and the seed of every :func:`refit`. With
    ``derivatives`` HESSE inverts the exact Hessian (the steps are not used)."""
    offset = float(-2.0 * model.logpdf(list(bestfit), data)[0])
    fixed = model.config.suggested_fixed()
    minuit = minuit_of(
        model, data, bestfit, fixed, bounds, strategy, offset=offset, derivatives=derivatives
    )
    minuit.errors = list(steps)
    minuit.hesse()
    return minuit


def conditional_start(seed: iminuit.Minuit, index: int, value: float) -> list[float]:
    """Where the minimum moves when parameter ``index`` is held at ``value``, were -2 ln L
    quadratic with ``seed``'s covariance C: ``best + C[:, index] / C[index, index] * (value -
    best[index])``, inside the bounds. Exact for a Gaussian likelihood; on the default model it
    saves a sixth of the impact fits' calls (72 k -> 59 k)."""
    best = np.asarray(seed.values, dtype=float)
    cov = np.asarray(seed.covariance, dtype=float)
    start = best + cov[:, index] / cov[index, index] * (value - best[index])
    limits = np.asarray([tuple(b) for b in seed.limits], dtype=float)
    return np.clip(start, limits[:, 0], limits[:, 1]).tolist()


def refit(
    seed: iminuit.Minuit,
    model: Any,
    data: Sequence[float],
    index: int,
    value: float,
) -> MigradResult:
    """The fit with parameter ``index`` held at ``value``, the others free, from ``seed`` (a
    :func:`hesse_at` Minuit, not modified): MIGRAD (strategy
    :attr:`FitSettings.refit_strategy`) starts at :func:`conditional_start` with
    HESSE's covariance as its first estimate of the inverse Hessian, so it needs no initial
    second-derivative scan of its own (on the default model ~450 calls per impact fit, where a
    cold strategy-1 start costs ~2,400). If that does not converge, :func:`migrad`'s attempts
    from the best fit with the parameter moved; ``attempt`` is -1 for the seeded fit, else the
    attempt used.
    """
    minuit = copy.deepcopy(seed)
    start_calls = minuit.nfcn
    # The seed's cost is offset by -2 ln L at the best fit (hesse_at): add it back.
    offset = float(-2.0 * model.logpdf(list(seed.values), data)[0])
    minuit.values = conditional_start(seed, index, value)
    minuit.fixto(index, value)
    minuit.strategy = SETTINGS.refit_strategy
    minuit.migrad(ncall=SETTINGS.maxiter)
    calls = minuit.nfcn - start_calls
    if minuit.valid:
        return _result(minuit, offset, calls, -1)
    cold = [float(x) for x in seed.values]
    cold[index] = value
    fixed = model.config.suggested_fixed()
    fixed[index] = True
    bounds = [tuple(b) for b in seed.limits]
    fallback = migrad(model, data, cold, fixed, bounds, offset=offset)
    return MigradResult(
        fallback.fval, fallback.values, fallback.nfcn + calls, fallback.edm, fallback.attempt
    )
