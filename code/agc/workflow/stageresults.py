"""What the model, fit and report stages return (:mod:`agc.workflow.stages`), and what the
``agc`` command prints of them (``to_dict``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyhf

    from agc.stats.results import FitRun

__all__ = ["FitStageResult", "ModelStageResult", "ReportStageResult"]


@dataclass(frozen=True)
class ModelStageResult:
    """The model stage: the workspace file written and its specification (plain JSON dict);
    ``checked``, the same as the :class:`pyhf.Workspace` that validated it, for a stage that
    fits it next in the same process (the ML step), else ``None``."""

    workspace: Path
    spec: dict[str, Any]
    checked: pyhf.Workspace | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """``{"workspace": path}``, what ``agc model`` prints."""
        return {"workspace": str(self.workspace)}


@dataclass(frozen=True)
class FitStageResult:
    """The fit stage: ``fit_results.json``, the fit itself and the paper plots (PDF and PNG)."""

    fit_results: Path
    run: FitRun
    plots: tuple[Path, ...]
    #: The parameter of interest to show first (the workflow parameter ``poi``).
    poi: str

    def to_dict(self) -> dict[str, Any]:
        """What ``agc fit`` prints: the file, the POI estimate, -2 log L, goodness of fit, plots."""
        return {
            "fit_results": str(self.fit_results),
            "poi": self.run.summary.poi.to_dict(),
            "best_twice_nll": self.run.summary.best_twice_nll,
            "goodness_of_fit": self.run.summary.goodness_of_fit,
            "plots": [str(p) for p in self.plots],
        }


@dataclass(frozen=True)
class ReportStageResult:
    """The report stage: the HTML report of the executed notebooks and ``provenance.json``."""

    report: Path
    provenance: Path

    def to_dict(self) -> dict[str, str]:
        """``{"report": path, "provenance": path}``, what ``agc report`` prints."""
        return {"report": str(self.report), "provenance": str(self.provenance)}
