"""MINUIT settings of every fit, and the starting point of each attempt.

Light on purpose (no cabinetry, no plotting): the limit fits' worker processes import it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

#: MINUIT tolerance: MIGRAD stops at EDM < 0.002 * tolerance (errordef 1 for -2 ln L), i.e.
#: EDM < 2e-7: every parameter within ~3e-4 of its uncertainty of the minimum, tight enough for
#: the reproducibility contract of :mod:`agc.stats.reproducibility` (iminuit's default, 0.1, would
#: allow 1e-2 sigma). Costs ~10 % more function calls than 0.01 on the default model.
FIT_TOLERANCE: float = 1e-4
#: Maximum number of function calls of one MIGRAD minimisation.
FIT_MAXITER: int = 100_000
#: MINUIT strategy of the impact fits (:func:`agc.stats.migrad.refit`): they start from the best
#: fit with HESSE's covariance as MIGRAD's first inverse Hessian, so MIGRAD skips its own initial
#: second-derivative scan. Strategy 1, not 0: with 0 MIGRAD trusts its updated covariance for the
#: EDM and stopped 1.8e-4 short in ttbar_norm on the default model's hardest impact fit (ME
#: variation held at its pre-fit -1 sigma), with 1 its closing HESSE check agrees with a cold
#: fit to 3e-6; the total calls of all impact fits are about the same (72 k).
REFIT_STRATEGY: int = 1
#: MINUIT settings tried in turn until MIGRAD converges (same inputs -> same path -> same result):
#: strategy 1 (pyhf's default without automatic gradients), then the slower but more careful
#: strategy 2, each from the given starting point, then from the model's suggested initial values.
FIT_ATTEMPTS: tuple[dict[str, Any], ...] = (
    {"strategy": 1, "tolerance": FIT_TOLERANCE, "init": "given"},
    {"strategy": 2, "tolerance": FIT_TOLERANCE, "init": "given"},
    {"strategy": 1, "tolerance": FIT_TOLERANCE, "init": "suggested"},
    {"strategy": 2, "tolerance": FIT_TOLERANCE, "init": "suggested"},
)


def attempts(
    model: Any,
    init_pars: Sequence[float] | None = None,
    fix_pars: Sequence[bool] | None = None,
) -> Iterator[tuple[int, dict[str, Any], list[float]]]:
    """``(index in FIT_ATTEMPTS, settings, starting point)`` of each attempt, in order.

    ``init_pars`` (default: suggested) is the "given" start; for the "suggested" attempts the
    fixed parameters keep their given values. An attempt that would repeat an earlier one
    (same settings, same start; e.g. when the given start is the suggested one) is skipped.
    """
    given = list(init_pars) if init_pars is not None else model.config.suggested_init()
    suggested = model.config.suggested_init()
    if fix_pars is not None:
        suggested = [g if f else s for g, s, f in zip(given, suggested, fix_pars, strict=True)]
    tried: set[tuple[Any, ...]] = set()
    for index, settings in enumerate(FIT_ATTEMPTS):
        start = given if settings["init"] == "given" else suggested
        key = (settings["strategy"], settings["tolerance"], *start)
        if key not in tried:
            tried.add(key)
            yield index, settings, list(start)


#: The covariance of the main fit: a fresh HESSE (strategy 1) at the minimum, its first steps a
#: fixed fraction of each parameter's pre-fit uncertainty (1 % of max(|x|, 1) when unconstrained).
#: MINUIT's own HESSE after MIGRAD starts from the steps MIGRAD's path left, so its result
#: depended on which attempt converged: on the default model sigma(ttbar_norm) ranged over 5 %
#: (strategy 2 HESSE over 9 %), while this one agrees with a Richardson-extrapolated central-
#: difference Hessian to 0.4 % and moves by 0.25 % between the minima of different attempts
#: (measured on the default model's ttbar_norm).
HESSE_STRATEGY: int = 1
#: First HESSE step, as a fraction of the pre-fit uncertainty.
HESSE_STEP_FRACTION: float = 0.1
