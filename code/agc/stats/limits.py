"""CLs 95 % upper limits on a signal strength (pyhf asymptotics, test statistic qtilde_mu).

The numbers are those of ``pyhf.infer.hypotest(mu, ..., test_stat="qtilde",
calctype="asymptotics")`` (arXiv:1007.1727): CLs from the observed ``sqrt(q_mu)`` and the
Asimov ``sqrt(q_mu,A)``, turned into p-values by pyhf's
:class:`~pyhf.infer.calculators.AsymptoticTestStatDistribution` (:func:`cls`). What differs is how
few fits they cost. ``hypotest`` runs five fits per tested mu, three of which do not depend on mu
(the free fit to the data, the background-only fit that makes the Asimov data, the free fit to
the Asimov data); :func:`upper_limit` does those once and then one fit with mu fixed per
dataset and tested mu:

- expected limits: CLs_exp depends on mu only through ``sqrt(q_mu,A)``, so the limit of band
  ``n`` is where ``sqrt(q_mu,A)`` reaches a closed-form target (:func:`expected_targets`), found
  with Asimov fits only;
- observed limit: root of CLs_obs(mu) = 0.05 (data and Asimov fit at each tested mu).

Both are solved by the same iteration: ``sqrt(q_mu,A) = mu / sigma_A(mu)`` with ``sigma_A``
interpolated between the fitted points (piecewise power law, extended with the end slopes; the
first guess is MINUIT's ``sigma(mu_hat)``), and ``sqrt(q_mu) = (mu - mu_hat) / sigma(mu)`` with
the ratio ``sigma / sigma_A`` interpolated (1 before the first data fit). The model's roots are
fitted next, until every root lies within :data:`RTOL` of a fitted point (2-5 rounds of 1-7 fits
for the models here). The fits of one round are independent and run in ``workers`` processes;
each starts at the parameters fitted at the nearest mu of the same dataset in an earlier round
(else the dataset's best fit), so the sequence of fits, and every number, is the same for any
worker count. Fits: :func:`agc.stats.migrad.migrad` (MINUIT with the settings and fallbacks of
every fit, :data:`agc.stats.migrad.SETTINGS`; the free fit is :func:`agc.stats.fit.fit`'s), in the
worker processes of a :class:`~agc.stats.pool.FitPool`. Checked
against ``pyhf.infer.intervals.upper_limits.toms748_scan`` (tests/stats/test_limits.py). All numbers
are plain floats.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pyhf
from pyhf.infer.calculators import AsymptoticTestStatDistribution
from scipy.optimize import brentq
from scipy.stats import norm
from tqdm import tqdm

from agc.core.errors import AGCError
from agc.core.progress import bar
from agc.stats.migrad import SETTINGS, configure_backend, migrad, minuit_of
from agc.stats.pool import FitPool
from agc.stats.results import FitSummary, LimitPoint, LimitResult

# agc.stats.fit (cabinetry) is imported where needed: the fit processes import this module and
# need pyhf, iminuit and agc.stats.migrad only.

log = logging.getLogger(__name__)

#: Test size: 95 % CL.
LEVEL: float = 0.05
#: Relative precision of every limit: the iteration stops when each limit of the interpolation
#: model lies within ``RTOL * limit`` of a fitted point.
RTOL: float = 1e-3
#: At most this many rounds of fits (a round refits every limit not yet converged).
MAX_ROUNDS: int = 12
#: The first round fits the Asimov data at this multiple of the highest first guess too, so
#: that the high bands are interpolated, not extrapolated, from the second round on.
FAR: float = 4.0
#: Keys of the expected band, in pyhf's order (-2, -1, 0, +1, +2 sigma).
BAND_KEYS: tuple[str, ...] = ("-2", "-1", "0", "1", "2")
#: Shifts of the background-only test statistic for those keys (pyhf's ``expected_value``).
_NSIGMA: tuple[int, ...] = (2, 1, 0, -1, -2)


def cls(sqrt_q: float, sqrt_qa: float) -> tuple[float, list[float]]:
    """CLs observed and expected (-2..+2 sigma) from ``sqrt(q_mu)`` and ``sqrt(q_mu,A)`` (> 0).

    The qtilde_mu branch of ``pyhf.infer.calculators.AsymptoticCalculator`` (``teststatistic``,
    ``distributions`` with the normal base distribution, ``pvalues``, ``expected_pvalues``).
    """
    if sqrt_q <= sqrt_qa:
        teststat = sqrt_q - sqrt_qa
    else:
        teststat = (sqrt_q**2 - sqrt_qa**2) / (2.0 * sqrt_qa)
    sb = AsymptoticTestStatDistribution(-sqrt_qa)
    b = AsymptoticTestStatDistribution(0.0)

    def ratio(value: Any) -> float:
        return float(sb.pvalue(value) / b.pvalue(value))

    return ratio(teststat), [ratio(b.expected_value(n)) for n in _NSIGMA]


def expected_targets(level: float = LEVEL) -> list[float]:
    """``sqrt(q_mu,A)`` at which the expected CLs of each band (-2..+2 sigma) equals ``level``.

    Expected band ``n``: CLs = Phi(-(n + s)) / Phi(-n) with s = sqrt(q_mu,A), so
    s = Phi^-1(1 - level Phi(-n)) - n.
    """
    return [float(norm.isf(level * norm.cdf(-n)) - n) for n in _NSIGMA]


def _sigma_model(points: Sequence[tuple[float, float]], fallback: float) -> Any:
    """sigma(mu) from ``(mu, sigma)`` points (mu > 0): piecewise linear in (log mu, log sigma),
    extended with the slopes of the end segments (a power law: sigma is constant in the
    Gaussian regime and grows like sqrt(mu) where the signal dominates); one point: constant."""
    if not points:
        return lambda mu: fallback
    ordered = sorted(points)
    xs = np.log([p[0] for p in ordered])
    ys = np.log([p[1] for p in ordered])
    if len(xs) == 1:
        return lambda mu: float(np.exp(ys[0]))
    low_slope = (ys[1] - ys[0]) / (xs[1] - xs[0])
    high_slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])

    def sigma(mu: float) -> float:
        x = math.log(mu)
        if x < xs[0]:
            return float(np.exp(ys[0] + low_slope * (x - xs[0])))
        if x > xs[-1]:
            return float(np.exp(ys[-1] + high_slope * (x - xs[-1])))
        return float(np.exp(np.interp(x, xs, ys)))

    return sigma


def _root(func: Any, low: float, scale: float) -> float:
    """Root of the increasing ``func`` above ``low`` (bracket grown by doubling)."""
    high = low + scale
    for _ in range(200):
        if func(high) > 0:
            break
        high = low + 2.0 * (high - low)
    else:
        raise AGCError("limit: no sign change of the CLs model (sigma of the POI is not finite?)")
    return float(brentq(func, low, high, xtol=1e-12 * high, rtol=1e-12, maxiter=500))


class _Model:
    """The interpolation model of ``sqrt(q_mu,A)`` and ``sqrt(q_mu)`` from the fitted points.

    ``mu_hat`` / ``sigma_hat``: the POI's free-fit value (clipped at 0) and uncertainty;
    ``q_asimov`` / ``q_data``: -2 ln lambda(mu) fitted so far, keyed by mu.
    """

    def __init__(
        self,
        mu_hat: float,
        sigma_hat: float,
        q_asimov: Mapping[float, float],
        q_data: Mapping[float, float],
    ) -> None:
        self.mu_hat = max(mu_hat, 0.0)
        self.sigma0 = sigma_hat
        asimov = [(mu, mu / math.sqrt(q)) for mu, q in q_asimov.items() if mu > 0 and q > 0]
        self.sigma_a = _sigma_model(asimov, self.sigma0)
        # sigma(mu) of the data follows sigma_A(mu) closely: interpolate their ratio (linear in
        # log mu, flat outside; 1 before any data fit, the Asimov approximation).
        ratios = sorted(
            (math.log(mu), (mu - self.mu_hat) / math.sqrt(q) / self.sigma_a(mu))
            for mu, q in q_data.items()
            if mu > self.mu_hat and q > 0
        )
        self.ratio = (
            (lambda mu: float(np.interp(math.log(mu), *zip(*ratios, strict=True))))
            if ratios
            else (lambda mu: 1.0)
        )

    def sigma(self, mu: float) -> float:
        return self.sigma_a(mu) * self.ratio(mu)

    def sqrt_qa(self, mu: float) -> float:
        return mu / self.sigma_a(mu)

    def sqrt_q(self, mu: float) -> float:
        return max(mu - self.mu_hat, 0.0) / self.sigma(mu)

    def cls(self, mu: float) -> tuple[float, list[float]]:
        return cls(self.sqrt_q(mu), self.sqrt_qa(mu))

    def limits(self, level: float) -> tuple[float, list[float]]:
        """(observed, expected -2..+2 sigma) roots of the model."""
        scale = self.sigma0
        expected = [
            _root(lambda mu, t=target: self.sqrt_qa(mu) - t, 1e-12 * scale, scale)
            for target in expected_targets(level)
        ]
        low = self.mu_hat if self.mu_hat > 0 else 1e-12 * scale
        observed = _root(
            lambda mu: math.log(level) - math.log(max(self.cls(mu)[0], 1e-300)), low, scale
        )
        return observed, expected


#: MINUIT strategy of the first try of every fixed-POI fit: a limit needs -2 ln L at the minimum,
#: which strategy 0 reaches to the same EDM goal without strategy 1's closing HESSE (about half
#: of a strategy-1 fit's calls here); if it does not converge, :func:`agc.stats.migrad.migrad`'s
#: attempts follow.
LIMIT_FIT_STRATEGY: int = 0


def _fixed_fit(task: tuple[Any, ...]) -> tuple[float, list[float]]:
    """Fit of ``data`` with the POI fixed at ``mu``, starting at ``init``: (-2 ln L, parameters).
    ``task = (model, data, init, mu)``."""
    model, data, init, mu = task
    poi = model.config.poi_index
    init = list(init)
    init[poi] = mu
    fixed = model.config.suggested_fixed()
    fixed[poi] = True
    bounds = [tuple(b) for b in model.config.suggested_bounds()]
    bounds[poi] = (min(bounds[poi][0], mu), max(bounds[poi][1], mu))
    minuit = minuit_of(model, data, init, fixed, bounds, LIMIT_FIT_STRATEGY)
    minuit.migrad(ncall=SETTINGS.maxiter)
    if minuit.valid:
        return float(minuit.fval), [float(x) for x in minuit.values]
    result = migrad(model, data, init, fixed, bounds)
    return result.fval, result.values


def _start(fitted: Mapping[float, list[float]], default: list[float], mu: float) -> list[float]:
    """Starting point of a fit at ``mu``: the parameters fitted at the nearest mu (in log mu)
    of the same dataset, else ``default`` (its best fit)."""
    if not fitted:
        return default
    nearest = min(fitted, key=lambda x: (abs(math.log(x / mu)), x))
    return fitted[nearest]


def _missing(evaluated: Mapping[float, float], mu: float, rtol: float) -> bool:
    return not any(abs(mu - x) <= rtol * mu for x in evaluated)


class _FreeFit(NamedTuple):
    """The free fit to the data: parameters and uncertainties (pyhf order), -2 ln L."""

    bestfit: list[float]
    uncertainty: list[float]
    twice_nll: float


class _Dataset(NamedTuple):
    """One dataset of the scan: its bins (main then auxiliary), the parameters of its free fit
    (the start of its first fits) and -2 ln L there (the reference of its q_mu)."""

    data: list[float]
    bestfit: list[float]
    twice_nll: float


@dataclass
class _Scan:
    """The limit computation so far: -2 ln lambda(mu) (``q``) and the fitted parameters per
    dataset ("data", "asimov") and tested mu, and the rounds of fits made."""

    mu_hat: float
    sigma_hat: float
    q: dict[str, dict[float, float]] = field(default_factory=lambda: {"data": {}, "asimov": {}})
    fitted: dict[str, dict[float, list[float]]] = field(
        default_factory=lambda: {"data": {}, "asimov": {}}
    )
    rounds: int = 0

    def model(self) -> _Model:
        return _Model(self.mu_hat, self.sigma_hat, self.q["asimov"], self.q["data"])

    def tasks(self, observed: float, expected: list[float], rtol: float) -> list[tuple[str, float]]:
        """The fits of the next round, ``(dataset, mu)`` sorted. First round (nothing fitted,
        guesses from sigma(mu_hat) only): the -2, 0 and +2 sigma guesses and a point far above
        them span the range; from the second round on, every limit not yet within ``rtol`` of a
        fitted point."""
        wanted = expected if self.rounds else [expected[0], expected[2], FAR * expected[4]]
        # CLs_obs at mu needs both datasets fitted there: the data decide for both.
        return sorted(
            {("asimov", mu) for mu in wanted if _missing(self.q["asimov"], mu, rtol)}
            | {
                (name, observed)
                for name in ("data", "asimov")
                if _missing(self.q["data"], observed, rtol)
            }
        )

    def add(self, name: str, mu: float, twice_nll: float, pars: list[float], ref: float) -> None:
        """Record the fit of dataset ``name`` at ``mu`` (-2 ln L ``twice_nll`` at ``pars``;
        ``ref``: -2 ln L of the dataset's free fit)."""
        self.fitted[name][mu] = pars
        # qtilde_mu: 0 where mu_hat > mu; -2 ln lambda clipped at 0 (pyhf).
        q = 0.0 if name == "data" and self.mu_hat > mu else max(twice_nll - ref, 0.0)
        self.q[name][mu] = q

    def points(self) -> list[LimitPoint]:
        """Every fitted mu (all have an Asimov fit) with its test statistics and CLs values."""
        points = []
        for mu in sorted(self.q["asimov"]):
            sqrt_qa = math.sqrt(self.q["asimov"][mu])
            sqrt_q = math.sqrt(self.q["data"][mu]) if mu in self.q["data"] else None
            obs, exp = cls(sqrt_q if sqrt_q is not None else 0.0, sqrt_qa)
            points.append(
                LimitPoint(
                    mu=mu,
                    sqrt_q=sqrt_q,
                    sqrt_qa=sqrt_qa,
                    cls_observed=obs if sqrt_q is not None else None,
                    cls_expected=exp,
                )
            )
        return points


def _free_fit(model: Any, data: list[float], free_fit: FitSummary | None) -> _FreeFit:
    """The free fit to the data: ``free_fit``'s numbers if given, else fitted here (the fit of
    :func:`agc.stats.fit.fit`: MIGRAD, then HESSE at the minimum)."""
    if free_fit is not None:
        return _FreeFit(
            bestfit=[float(x) for x in free_fit.parameters.bestfit],
            uncertainty=[float(x) for x in free_fit.parameters.uncertainty],
            twice_nll=float(free_fit.best_twice_nll),
        )
    from agc.stats.fit import fit
    from agc.stats.migrad import quiet_fit_logs

    with quiet_fit_logs():
        result, _ = fit(model, data, goodness_of_fit=False)
    return _FreeFit(
        bestfit=[float(x) for x in result.bestfit],
        uncertainty=[float(x) for x in result.uncertainty],
        twice_nll=float(result.best_twice_nll),
    )


def _datasets(model: Any, data: list[float], free: _FreeFit) -> dict[str, _Dataset]:
    """The observed data and the Asimov data of the background-only hypothesis (as pyhf's
    ``generate_asimov_data``: the fit with mu = 0, from the free fit's parameters)."""
    poi = model.config.poi_index
    fixed = model.config.suggested_fixed()
    fixed[poi] = True
    init_b = list(free.bestfit)
    init_b[poi] = 0.0
    asimov_pars = migrad(model, data, init_b, fixed, model.config.suggested_bounds()).values
    # Every term of the likelihood is at its maximum at the generating parameters, so the free
    # fit to the Asimov data ends there: its -2 ln L needs no fit.
    asimov = [float(x) for x in model.expected_data(asimov_pars)]
    return {
        "data": _Dataset([float(x) for x in data], free.bestfit, free.twice_nll),
        "asimov": _Dataset(asimov, asimov_pars, float(-2.0 * model.logpdf(asimov_pars, asimov)[0])),
    }


def _iterate(
    scan: _Scan,
    model: Any,
    datasets: Mapping[str, _Dataset],
    fitter: FitPool,
    *,
    level: float,
    rtol: float,
    shown: tqdm | None = None,
) -> tuple[float, list[float], bool]:
    """Rounds of fits until every root of the interpolation model lies within ``rtol`` of a
    fitted point (or :data:`MAX_ROUNDS`): (observed, expected -2..+2 sigma, converged);
    ``shown``: the progress bar counting the fits."""
    while True:
        observed, expected = scan.model().limits(level)
        tasks = scan.tasks(observed, expected, rtol)
        if not tasks:
            return observed, expected, True
        if scan.rounds == MAX_ROUNDS:
            log.warning("limits not converged to %g after %d rounds", rtol, scan.rounds)
            return observed, expected, False
        scan.rounds += 1
        log.debug("round %d: %s", scan.rounds, tasks)
        jobs = [
            (model, datasets[name].data, _start(scan.fitted[name], datasets[name].bestfit, mu), mu)
            for name, mu in tasks
        ]
        fitted = fitter.map(_fixed_fit, jobs, shown=shown)
        for (name, mu), (value, pars) in zip(tasks, fitted, strict=True):
            scan.add(name, mu, value, pars, datasets[name].twice_nll)


def _method(rtol: float) -> str:
    return (
        "CLs, asymptotic formulae, test statistic qtilde_mu (pyhf's AsymptoticCalculator "
        "p-values); limits = roots of the asymptotic CLs with sigma(mu) interpolated between "
        f"fixed-POI MINUIT fits, iterated to a relative precision of {rtol:g}"
    )


def upper_limit(
    spec: Mapping[str, Any],
    *,
    level: float = LEVEL,
    workers: int = 2,
    rtol: float = RTOL,
    free_fit: FitSummary | None = None,
    pool: FitPool | None = None,
) -> LimitResult:
    """CLs upper limit on the workspace's POI at ``1 - level`` confidence (see module docstring).

    Args:
        spec: pyhf workspace; its POI must have lower bound 0 (qtilde_mu).
        level: test size (0.05: 95 % CL).
        workers: processes for the fits of one round (same numbers for any count).
        rtol: relative precision of the limits.
        free_fit: the free fit of this workspace when already done (the summary of
            :func:`agc.stats.fit.run_fit`: same fit, same numbers).
        pool: a running :class:`~agc.stats.pool.FitPool` to use (then ``workers`` is
            ignored); default: one of ``workers`` processes, started here and closed at the end.

    Returns:
        The :class:`~agc.stats.results.LimitResult` (POI values in units of the signal
        strength, 1 = the declared cross-section); its ``to_dict()`` is the limit part of
        ``limits.json``.

    Raises:
        AGCError: invalid workspace or failed fit; the message does not name the workspace
            (the caller that read it adds its file name).
    """
    from agc.stats.fit import model_and_data

    configure_backend()
    model, data = model_and_data(spec)
    poi = model.config.poi_index
    if model.config.suggested_bounds()[poi][0] != 0:
        raise AGCError("the POI's lower bound must be 0 for qtilde_mu")
    # The pool's processes start while this one fits.
    fitter = pool if pool is not None else FitPool(workers)
    try:
        free = _free_fit(model, data, free_fit)
        datasets = _datasets(model, data, free)
        scan = _Scan(mu_hat=float(free.bestfit[poi]), sigma_hat=float(free.uncertainty[poi]))
        if not (math.isfinite(scan.sigma_hat) and scan.sigma_hat > 0):
            raise AGCError(f"the POI's uncertainty at the best fit is {scan.sigma_hat}")
        # the number of fits is known only at the end: the bar counts them
        with bar(desc="limit scan", unit="fixed-mu fits") as shown:
            observed, expected, converged = _iterate(
                scan, model, datasets, fitter, level=level, rtol=rtol, shown=shown
            )
    except pyhf.exceptions.FailedMinimization as exc:
        raise AGCError(f"a fit of the limit computation failed ({exc})") from None
    finally:
        if fitter is not pool:
            fitter.close()
        configure_backend()
    return LimitResult(
        poi=model.config.poi_name,
        level=float(level),
        observed=observed,
        expected=dict(zip(BAND_KEYS, expected, strict=True)),
        bestfit=scan.mu_hat,
        sigma_hat=scan.sigma_hat,
        twice_nll=free.twice_nll,
        points=scan.points(),
        rounds=scan.rounds,
        fits=(free_fit is None) + 1 + sum(len(v) for v in scan.fitted.values()),
        converged=converged,
        rtol=rtol,
        method=_method(rtol),
        versions={"pyhf": pyhf.__version__},
    )


def cls_curves(limits: LimitResult, mu: Sequence[float]) -> tuple[Any, Any]:
    """CLs observed (n,) and expected (n, 5) at ``mu`` from the fitted points of ``limits``
    (the interpolation model of :func:`upper_limit`; exact at the fitted points)."""
    model = _Model(
        limits.bestfit,
        limits.sigma_hat,
        {p.mu: p.sqrt_qa**2 for p in limits.points},
        {p.mu: p.sqrt_q**2 for p in limits.points if p.sqrt_q is not None},
    )
    values = [model.cls(float(x)) for x in mu]
    return np.asarray([v[0] for v in values]), np.asarray([v[1] for v in values])
