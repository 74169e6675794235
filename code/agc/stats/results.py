"""Typed results of the statistical stage, after cabinetry's ``FitResults``.

:class:`FitSummary` is the content of ``fit_results.json`` (see :mod:`agc.stats.fit`):
:meth:`FitSummary.to_dict` gives exactly the JSON object written, :meth:`FitSummary.from_dict`
reads one back. :class:`FitRun` adds the in-memory objects the figures need (the pyhf model, the
data and cabinetry's fit and ranking results). :class:`LimitResult` is a CLs upper limit
(:func:`agc.stats.limits.upper_limit`): :meth:`LimitResult.to_dict` is the limit part of
``limits.json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Estimate:
    """Best-fit value and HESSE uncertainty of one parameter (units of the parameter)."""

    name: str
    bestfit: float
    uncertainty: float

    def to_dict(self) -> dict[str, Any]:
        """``{"name", "bestfit", "uncertainty"}``."""
        return asdict(self)


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
        return asdict(self)


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
        return asdict(self)


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
        return asdict(self)

    def convergence_line(self) -> str:
        """The fit's outcome in one line for its step's log: ``fit converged: MIGRAD (EDM 3e-09,
        1234 calls, attempt 0), HESSE covariance; ttbar_norm = 1.0412 +- 0.0687`` (what the
        ``fit`` record holds of EDM, calls and attempt; a fit that does not converge stops with
        an error before there is a summary)."""
        diagnostics = self.fit.get("diagnostics", {})
        effort = []
        if "migrad_edm" in diagnostics:
            effort.append(f"EDM {diagnostics['migrad_edm']:.2g}")
        if "migrad_calls" in diagnostics:
            effort.append(f"{diagnostics['migrad_calls']} calls")
        if "attempt" in self.fit:
            effort.append(f"attempt {self.fit['attempt']}")
        detail = f" ({', '.join(effort)})" if effort else ""
        return (
            f"fit converged: MIGRAD{detail}, HESSE covariance; "
            f"{self.poi.name} = {self.poi.bestfit:.4f} +- {self.poi.uncertainty:.4f}"
        )

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


@dataclass(frozen=True)
class LimitPoint:
    """One tested signal strength ``mu`` of a limit computation (units of the POI).

    ``sqrt_q`` / ``sqrt_qa``: square roots of the qtilde_mu test statistic of the data / of the
    background-only Asimov data; ``cls_observed`` (None, like ``sqrt_q``, where the data were not
    fitted) and ``cls_expected`` (5 values, -2..+2 sigma) the asymptotic CLs there.
    """

    mu: float
    sqrt_q: float | None
    sqrt_qa: float
    cls_observed: float | None
    cls_expected: list[float]

    def to_dict(self) -> dict[str, Any]:
        """``{"mu", "sqrt_q", "sqrt_qa", "cls_observed", "cls_expected"}``."""
        return asdict(self)


@dataclass(frozen=True)
class LimitResult:
    """A CLs upper limit on the POI at confidence ``1 - level`` (see :mod:`agc.stats.limits`).

    The limits and ``bestfit`` / ``sigma_hat`` (the POI's free-fit value and HESSE uncertainty)
    are in units of the signal strength (1 = the declared cross-section); ``expected`` maps the
    band keys "-2".."2" (sigma) to the expected limit; ``twice_nll`` is -2 ln L of the free fit;
    ``points`` are the fitted mu values in increasing order; ``rounds`` / ``fits`` count the
    rounds and MINUIT fits made, ``converged`` says whether every limit reached ``rtol``.
    """

    poi: str
    level: float
    observed: float
    expected: dict[str, float]
    bestfit: float
    sigma_hat: float
    twice_nll: float
    points: list[LimitPoint]
    rounds: int
    fits: int
    converged: bool
    rtol: float
    method: str
    versions: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the limit (``limits.json`` adds the signal's name and labels)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, content: dict[str, Any]) -> LimitResult:
        """Read back :meth:`to_dict`'s object, e.g. a ``limits.json`` (other keys are ignored)."""
        return cls(
            poi=content["poi"],
            level=content["level"],
            observed=content["observed"],
            expected=content["expected"],
            bestfit=content["bestfit"],
            sigma_hat=content["sigma_hat"],
            twice_nll=content["twice_nll"],
            points=[LimitPoint(**point) for point in content["points"]],
            rounds=content["rounds"],
            fits=content["fits"],
            converged=content["converged"],
            rtol=content["rtol"],
            method=content["method"],
            versions=content["versions"],
        )
