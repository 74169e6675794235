"""Typed results of the reinterpretation, after :mod:`agc.stats.results`.

:class:`LimitsSummary` is the content of ``<outdir>/reinterpretation/summary.json`` (the limits of
every signal point published against one BkgOnly); :class:`ReinterpretationResult` is what
:func:`agc.reinterpret.pipeline.reinterpret` returns. ``to_dict()`` gives exactly the JSON object
written (or printed by ``agc reinterpret``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from agc.stats.results import FitSummary

#: Keys of a point's limits that :meth:`ReinterpretationResult.to_dict` reports.
RESULT_LIMIT_KEYS = ("poi", "observed", "expected", "converged")


@dataclass(frozen=True)
class PointLimits:
    """The limits of one signal point: ``signal`` (process name), ``labels`` (label values, e.g.
    ``{"mass": 1000.0}`` in GeV) and ``limits`` (the observed and expected limits on the signal
    strength, ``converged``, ``poi`` and ``level`` taken from the point's ``limits.json``)."""

    signal: str
    labels: dict[str, float]
    limits: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """``{"signal", <label>: value ..., "limits"}`` (the labels flattened, as in summary.json)."""
        return {"signal": self.signal, **self.labels, "limits": self.limits}


@dataclass(frozen=True)
class LimitsSummary:
    """The content of ``summary.json``: the sha256 of the BkgOnly workspace the points were made
    against and their limits, sorted by mass (then name)."""

    bkg_only_sha256: str
    points: list[PointLimits]

    def to_dict(self) -> dict[str, Any]:
        """``{"bkg_only_sha256", "points": [...]}``."""
        return {
            "bkg_only_sha256": self.bkg_only_sha256,
            "points": [point.to_dict() for point in self.points],
        }


@dataclass(frozen=True)
class StageTimes:
    """Wall time [s] of each step of one reinterpretation (rounded to ms)."""

    histograms: float
    model: float
    fit: float
    limits_and_plot: float
    total: float

    def to_dict(self) -> dict[str, float]:
        """``{"histograms", "model", "fit", "limits_and_plot", "total"}``."""
        return asdict(self)


@dataclass(frozen=True)
class ReinterpretationResult:
    """One signal swap.

    ``signal``: process name of the signal (``"ttbar"`` for the default measurement);
    ``declaration``: the declaration file (``None`` for ttbar); ``processed`` / ``cached`` /
    ``seeded``: sample keys processed now / taken from the cache / of those, seeded from the main
    run's partial outputs; ``cache_keys``: sample key -> cache key. Paths (strings):
    ``histograms``, ``workspace`` (the fitted one), ``bkg_only``, ``patchset`` (``None`` without
    any patch), ``summary`` (summary.json) and ``plots`` (written figures). ``bkg_only_sha256``:
    pyhf digest of BkgOnly.json; ``fit``: the free fit of the workspace; ``limits``: the content
    of the point's limits.json (``None`` for ttbar); ``timing_s``: wall times; ``lumi_pb``: the
    integrated luminosity [pb^-1].
    """

    signal: str
    declaration: str | None
    processed: list[str]
    cached: list[str]
    seeded: list[str]
    cache_keys: dict[str, str]
    histograms: str
    workspace: str
    bkg_only: str
    bkg_only_sha256: str
    patchset: str | None
    fit: FitSummary
    limits: dict[str, Any] | None
    plots: list[str]
    summary: str
    timing_s: StageTimes
    lumi_pb: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the swap (``fit``: POI and -2 ln L only; ``limits``: POI,
        observed, expected and converged only)."""
        return {
            "signal": self.signal,
            "declaration": self.declaration,
            "processed": self.processed,
            "cached": self.cached,
            "seeded": self.seeded,
            "cache_keys": self.cache_keys,
            "histograms": self.histograms,
            "workspace": self.workspace,
            "bkg_only": self.bkg_only,
            "bkg_only_sha256": self.bkg_only_sha256,
            "patchset": self.patchset,
            "fit": {"poi": self.fit.poi.to_dict(), "best_twice_nll": self.fit.best_twice_nll},
            "limits": None
            if self.limits is None
            else {k: self.limits[k] for k in RESULT_LIMIT_KEYS},
            "plots": self.plots,
            "summary": self.summary,
            "timing_s": self.timing_s.to_dict(),
            "lumi_pb": self.lumi_pb,
        }
