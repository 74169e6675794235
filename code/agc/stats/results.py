"""Typed results of the statistical stage, after cabinetry's ``FitResults``.

:class:`FitSummary` is the content of ``fit_results.json`` (see :mod:`agc.stats.fit`):
:meth:`FitSummary.to_dict` gives exactly the JSON object written, :meth:`FitSummary.from_dict`
reads one back. :class:`FitRun` adds the in-memory objects the figures need (the pyhf model, the
data and cabinetry's fit and ranking results).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Estimate:
    """Best-fit value and HESSE uncertainty of one parameter (units of the parameter)."""

    name: str
    bestfit: float
    uncertainty: float

    def to_dict(self) -> dict[str, Any]:
        """``{"name", "bestfit", "uncertainty"}``."""
        return {"name": self.name, "bestfit": self.bestfit, "uncertainty": self.uncertainty}


@dataclass(frozen=True)
class ParameterTable:
    """Every fitted parameter in pyhf order (all lists have one entry per parameter)."""

    labels: list[str]
    types: list[str]
    bestfit: list[float]
    uncertainty: list[float]
    prefit_uncertainty: list[float]

    def to_dict(self) -> dict[str, Any]:
        """The ``parameters`` object of ``fit_results.json``."""
        return {
            "labels": self.labels,
            "types": self.types,
            "bestfit": self.bestfit,
            "uncertainty": self.uncertainty,
            "prefit_uncertainty": self.prefit_uncertainty,
        }


@dataclass(frozen=True)
class Impacts:
    """Impact of every nuisance parameter on the POI (cabinetry's ranking definition): the shift
    of the POI's best fit when the parameter is fixed at its pre-/post-fit +-1 sigma value."""

    labels: list[str]
    prefit_up: list[float]
    prefit_down: list[float]
    postfit_up: list[float]
    postfit_down: list[float]

    def to_dict(self) -> dict[str, Any]:
        """The ``impacts`` object of ``fit_results.json``."""
        return {
            "labels": self.labels,
            "prefit_up": self.prefit_up,
            "prefit_down": self.prefit_down,
            "postfit_up": self.postfit_up,
            "postfit_down": self.postfit_down,
        }


@dataclass(frozen=True)
class FitSummary:
    """A maximum-likelihood fit: the content of ``fit_results.json``.

    ``correlation_matrix`` is n x n in :attr:`parameters` order; ``best_twice_nll`` is -2 ln L at
    the minimum; ``goodness_of_fit`` the saturated-model p-value (``None`` without degrees of
    freedom); ``fit`` records the minimiser settings, attempt and software versions.
    """

    measurement: str
    poi: Estimate
    parameters: ParameterTable
    correlation_matrix: list[list[float]]
    best_twice_nll: float
    goodness_of_fit: float | None
    impacts: Impacts | None
    fit: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``fit_results.json`` (plain floats, lists)."""
        return {
            "measurement": self.measurement,
            "poi": self.poi.to_dict(),
            "parameters": self.parameters.to_dict(),
            "correlation_matrix": self.correlation_matrix,
            "best_twice_nll": self.best_twice_nll,
            "goodness_of_fit": self.goodness_of_fit,
            "impacts": None if self.impacts is None else self.impacts.to_dict(),
            "fit": self.fit,
        }

    @classmethod
    def from_dict(cls, content: dict[str, Any]) -> FitSummary:
        """Read back the content of a ``fit_results.json`` (the inverse of :meth:`to_dict`)."""
        impacts = content.get("impacts")
        return cls(
            measurement=content["measurement"],
            poi=Estimate(**content["poi"]),
            parameters=ParameterTable(**content["parameters"]),
            correlation_matrix=content["correlation_matrix"],
            best_twice_nll=content["best_twice_nll"],
            goodness_of_fit=content["goodness_of_fit"],
            impacts=None if impacts is None else Impacts(**impacts),
            fit=content["fit"],
        )


@dataclass(frozen=True)
class FitRun:
    """One fit of a workspace as :func:`agc.stats.fit.run_fit` leaves it: the summary written to
    ``fit_results.json`` and the objects the figures (:func:`agc.plots.figures.fit_plots`) need.
    """

    summary: FitSummary
    #: pyhf model and observed data (main bins, then auxiliary data) of the workspace.
    model: Any
    data: list[float]
    #: cabinetry.fit.FitResults (covariance from a fresh HESSE at the minimum).
    fit_results: Any
    #: cabinetry.fit.RankingResults, or None when the impacts were not computed.
    ranking_results: Any = None
