"""CLs 95 % upper limits on a signal strength (pyhf, asymptotic qtilde) and their plots.

:func:`upper_limit` scans the parameter of interest over fixed points (:func:`scan_points`,
default 0-10 in steps of 0.25 = the POI bounds of a new signal, :data:`agc.model.POI_BOUNDS`)
with ``pyhf.infer.intervals.upper_limits.upper_limit`` and returns the observed limit and the
expected limit with its 1 and 2 sigma bands, read off the CLs curves by linear interpolation
(pyhf's). Same workspace -> same numbers: numpy backend, MINUIT with fixed settings
(:func:`agc.fit.configure_backend`), fixed scan. All numbers are plain floats.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyhf

from agc.errors import AGCError
from agc.fit import FIT_MAXITER, FIT_TOLERANCE, configure_backend, model_and_data

#: Test size: 95 % CL.
LEVEL: float = 0.05
#: Scan of :func:`scan_points`: 0 to 10 in steps of 1.
SCAN_RANGE: tuple[float, float, int] = (0.0, 10.0, 11)
#: Number of scan points of :func:`scan_range`.
SCAN_POINTS: int = 11
#: An automatic scan is extended (same step) until all limits are bracketed, up to this size.
MAX_SCAN_POINTS: int = 31
_WORKER: dict[str, Any] = {}
#: Keys of the expected band, in pyhf's order (-2, -1, 0, +1, +2 sigma).
BAND_KEYS: tuple[str, ...] = ("-2", "-1", "0", "1", "2")


def scan_points(
    low: float = SCAN_RANGE[0], high: float = SCAN_RANGE[1], n: int = SCAN_RANGE[2]
) -> list[float]:
    """``n`` equidistant signal strengths from ``low`` to ``high`` (plain floats)."""
    return [float(x) for x in np.linspace(low, high, n)]


def scan_range(bestfit: float, uncertainty: float, n: int = SCAN_POINTS) -> list[float]:
    """Deterministic scan for a fit result mu_hat +- sigma: ``n`` points from 0 to
    ``ceil((max(mu_hat, 0) + 6 sigma) / 5) * 5`` (at least 5), which brackets the observed
    limit (~ mu_hat + 2 sigma) and the +2 sigma expected limit (~ 4-5 sigma)."""
    high = max(5.0, math.ceil((max(bestfit, 0.0) + 6.0 * abs(uncertainty)) / 5.0) * 5.0)
    return scan_points(0.0, high, n)


def _init_worker(spec: Mapping[str, Any], strategy: int) -> None:
    pyhf.set_backend(
        "numpy",
        pyhf.optimize.minuit_optimizer(
            verbose=0, strategy=strategy, tolerance=FIT_TOLERANCE, maxiter=FIT_MAXITER
        ),
    )
    model, data = model_and_data(spec)
    _WORKER.update(model=model, data=data)


def _hypotest(task: tuple[float, list[float], list[list[float]]]) -> tuple[float, list[float]]:
    """CLs (observed, expected -2..+2 sigma) at one signal strength (pyhf.infer.hypotest)."""
    mu, init, bounds = task
    model, data = _WORKER["model"], _WORKER["data"]
    obs, exp = pyhf.infer.hypotest(
        mu,
        data,
        model,
        init_pars=init,
        par_bounds=[tuple(b) for b in bounds],
        test_stat="qtilde",
        calctype="asymptotics",
        return_expected_set=True,
    )
    return float(obs), [float(v) for v in np.asarray(exp).ravel()]


def _interpolate(level: float, scan: np.ndarray, cls: np.ndarray) -> float:
    """Signal strength where CLs crosses ``level``: linear interpolation in log CLs between the
    scan points that bracket it (the scan edge if none does)."""
    below = np.flatnonzero(cls < level)
    if below.size == 0:
        return float(scan[-1])
    i = int(below[0])
    if i == 0:
        return float(scan[0])
    x0, x1 = scan[i - 1], scan[i]
    y0, y1 = np.log(max(cls[i - 1], 1e-300)), np.log(max(cls[i], 1e-300))
    return float(x0 + (np.log(level) - y0) * (x1 - x0) / (y1 - y0))


def upper_limit(
    spec: Mapping[str, Any],
    *,
    scan: Sequence[float] | None = None,
    level: float = LEVEL,
    source: str = "workspace",
    workers: int = 2,
    strategy: int = 2,
) -> dict[str, Any]:
    """CLs upper limit on the workspace's POI at ``1 - level`` confidence.

    The POI is scanned over ``scan`` (default :func:`scan_range` around the best fit, then
    extended by the same step until every limit is bracketed, at most
    :data:`MAX_SCAN_POINTS` points) with
    ``pyhf.infer.hypotest`` (asymptotic, qtilde), every fit starting from the best-fit point,
    with MINUIT ``strategy``; the POI's upper bound is widened to the scan's end if needed.
    Scan points are independent, so they run in ``workers`` processes (same numbers for any
    count). Limits: CLs = ``level`` by interpolation (:func:`_interpolate`).

    Returns:
        ``{"poi", "level", "observed", "expected": {"-2".."2"}, "scan", "cls_observed",
        "cls_expected" (per scan point, -2..+2 sigma), "in_scan": bool (all limits bracketed
        by the scan; else they sit at the scan edge), "bestfit", "method"}``.
    """
    configure_backend()
    model, data = model_and_data(spec, source)
    poi_index = model.config.poi_index
    pyhf.set_backend(
        "numpy",
        pyhf.optimize.minuit_optimizer(
            verbose=0, strategy=strategy, tolerance=FIT_TOLERANCE, maxiter=FIT_MAXITER
        ),
    )
    try:
        bestfit, twice_nll = pyhf.infer.mle.fit(data, model, return_fitted_val=True)
    except pyhf.exceptions.FailedMinimization as exc:
        raise AGCError(f"{source}: the free fit of the limit scan failed ({exc})") from None
    bestfit = np.asarray(bestfit, dtype=float)
    scan_given = scan is not None
    if scan is None:
        # sigma of the POI from the curvature: refit with the POI fixed at mu_hat + 1 is costly,
        # so use the Hessian of MINUIT via cabinetry-free pyhf (return_uncertainties).
        fitted = pyhf.infer.mle.fit(
            data, model, init_pars=bestfit.tolist(), return_uncertainties=True
        )
        sigma = float(np.asarray(fitted)[poi_index, 1])
        scan = scan_range(float(bestfit[poi_index]), sigma)
    points = np.asarray([float(x) for x in scan])
    if points.ndim != 1 or points.size < 2 or np.any(np.diff(points) <= 0):
        raise AGCError(f"{source}: the limit scan must be at least 2 increasing values")
    bounds = [list(map(float, b)) for b in model.config.suggested_bounds()]
    bounds[poi_index] = [
        min(bounds[poi_index][0], 0.0),
        max(bounds[poi_index][1], float(points[-1])),
    ]
    init = bestfit.tolist()
    step = float(points[-1] - points[-2])
    extend = not scan_given  # an automatic scan grows until every limit is bracketed
    results: list[tuple[float, list[float]]] = []
    try:
        if workers <= 1:
            _init_worker(spec, strategy)
            pool = None
        else:
            context = multiprocessing.get_context("spawn")
            pool = ProcessPoolExecutor(
                workers,
                mp_context=context,
                initializer=_init_worker,
                initargs=(dict(spec), strategy),
            )
        try:
            todo = [float(mu) for mu in points]
            while todo:
                bounds[poi_index][1] = max(bounds[poi_index][1], todo[-1])
                tasks = [(mu, init, bounds) for mu in todo]
                results += (
                    list(pool.map(_hypotest, tasks)) if pool else [_hypotest(t) for t in tasks]
                )
                last = max(results[-1][0], *results[-1][1])
                if not extend or last < level or len(results) >= MAX_SCAN_POINTS:
                    break
                # Not bracketed yet: the next ``max(workers, 2)`` points, same step.
                todo = [float(points[-1] + step * (i + 1)) for i in range(max(workers, 2))]
                points = np.concatenate([points, todo])
        finally:
            if pool is not None:
                pool.shutdown()
    except pyhf.exceptions.FailedMinimization as exc:
        raise AGCError(f"{source}: a fit of the limit scan failed ({exc})") from None
    finally:
        configure_backend()
    cls_obs = np.asarray([r[0] for r in results])
    cls_exp = np.asarray([r[1] for r in results])
    observed = _interpolate(level, points, cls_obs)
    expected = [_interpolate(level, points, cls_exp[:, i]) for i in range(len(BAND_KEYS))]
    cls_all = np.column_stack([cls_obs, cls_exp])
    in_scan = bool(np.all(cls_all[0] > level) and np.all(cls_all[-1] < level))
    return {
        "poi": model.config.poi_name,
        "level": float(level),
        "observed": observed,
        "expected": dict(zip(BAND_KEYS, expected, strict=True)),
        "bestfit": float(bestfit[poi_index]),
        "twice_nll": float(twice_nll),
        "scan": [float(x) for x in points],
        "cls_observed": [float(v) for v in cls_obs],
        "cls_expected": [[float(v) for v in row] for row in cls_exp],
        "in_scan": in_scan,
        "method": (
            "CLs, asymptotic formulae, test statistic qtilde_mu (pyhf.infer.hypotest on a fixed "
            f"scan, MINUIT strategy {strategy}, fits started at the best fit), limits by "
            "interpolation in log CLs"
        ),
        "versions": {"pyhf": pyhf.__version__},
    }


def scan_plot(
    limits: Mapping[str, Any], stem: str | os.PathLike[str], title: str = ""
) -> list[Path]:
    """The CLs scan (observed, expected with 1/2 sigma bands; pyhf's brazil plot) as PDF + PNG."""
    import matplotlib.pyplot as plt
    from pyhf.contrib.viz import brazil

    from agc.plots import cms_label, paper_style, save_figure

    scan = np.asarray(limits["scan"])
    results = [
        (obs, np.asarray(exp))
        for obs, exp in zip(limits["cls_observed"], limits["cls_expected"], strict=True)
    ]
    with paper_style():
        fig, ax = plt.subplots(figsize=(10, 8))
        brazil.plot_results(scan, results, test_size=limits["level"], ax=ax)
        ax.set_xlabel(rf"signal strength $\mu$ ({limits['poi']})")
        ax.set_ylabel(r"CL$_s$")
        if title:
            ax.set_title(title, loc="left", fontsize=16, pad=34)
        cms_label(ax)
        paths = save_figure(fig, stem)
        plt.close(fig)
    return paths


def mass_plot(
    points: Sequence[Mapping[str, Any]], stem: str | os.PathLike[str], label: str = "mass"
) -> list[Path]:
    """Limit versus ``label`` (e.g. mass [GeV]): expected with 1/2 sigma bands and observed.

    ``points``: ``{label value: ..., "limits": upper_limit result}`` sorted by the label value.
    """
    import matplotlib.pyplot as plt

    from agc.plots import cms_label, paper_style, save_figure

    x = np.asarray([p[label] for p in points], dtype=float)
    exp = {k: np.asarray([p["limits"]["expected"][k] for p in points]) for k in BAND_KEYS}
    obs = np.asarray([p["limits"]["observed"] for p in points])
    with paper_style():
        fig, ax = plt.subplots(figsize=(10, 8))
        ax.fill_between(x, exp["-2"], exp["2"], color="#f5bb54", label=r"expected $\pm 2\sigma$")
        ax.fill_between(x, exp["-1"], exp["1"], color="#607641", label=r"expected $\pm 1\sigma$")
        ax.plot(x, exp["0"], "k--", label="expected")
        ax.plot(x, obs, "ko-", label="observed")
        ax.axhline(1.0, color="red", lw=1, label=r"$\mu = 1$")
        ax.set_xlabel(f"{label} [GeV]" if label == "mass" else label)
        ax.set_ylabel(r"95 % CL upper limit on $\mu$")
        ax.set_yscale("log")
        ax.legend(loc="upper left")
        cms_label(ax)
        paths = save_figure(fig, stem)
        plt.close(fig)
    return paths
