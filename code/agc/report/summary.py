"""The first part of the run report: what the run measured, from what, with which code.

Built from the run's outputs only (``fit_results.json``, ``plots/``, ``cutflow.json``,
``reinterpretation/*/limits.json``, ``provenance.json``, ...), never from the notebooks' cells.
Each section is one small function ``(RunOutputs) -> str | None`` that returns an HTML fragment,
or ``None`` when its output does not exist (the section is then left out); :data:`SECTIONS`
lists them in page order. The fit sections take a :class:`FitOutputs` saying where a fit's
results and plots are, so a second fit (e.g. ``ml/fit_results_ml.json`` with ``ml/plots``) is
one :class:`FitOutputs` and a few entries in :data:`SECTIONS`.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from agc.core import physics
from agc.core.rounding import pdg_round
from agc.report import htmlparts as h
from agc.report.images import png_data_uris
from agc.report.provenancebox import outputs_section, provenance_section
from agc.report.runoutputs import RunOutputs
from agc.stats.results import FitSummary, LimitResult

Section = Callable[[RunOutputs], str | None]


@dataclass(frozen=True)
class FitOutputs:
    """Where one fit's products are, relative to the run's folder, and how to title them.

    ``anchor`` prefixes the sections' ids and the ``data-role`` of its POI value and post-fit
    plots (``<anchor>-poi``, ``<anchor>-postfit``: what the browser test looks for)."""

    title: str
    anchor: str
    results: str = "fit_results.json"
    plots: str = "plots"
    histograms: str | None = "histograms.root"


#: The main measurement (the fit stage).
MAIN_FIT = FitOutputs("Measurement", "fit")
#: The second model, on the BDT's jet-parton assignment features (the ``ml`` step):
#: its 7 channels share the same events, so the fit is a closure check, not a measurement.
ML_FIT = FitOutputs(
    "ML observables (closure check)",
    "ml",
    results="ml/fit_results_ml.json",
    plots="ml/plots",
    histograms=None,
)


def _plots(run: RunOutputs, folder: str, pattern: str) -> list[Path]:
    return sorted(run.path(folder).glob(pattern)) if run.path(folder).is_dir() else []


def _figures(paths: list[Path], *, role: str = "", width: str = "") -> str:
    return "".join(
        h.figure(uri, p.stem.replace("_", " "), role=role, width=width)
        for p, uri in zip(paths, png_data_uris(paths), strict=True)
    )


def _expected(run: RunOutputs, fit: FitOutputs, poi: str) -> str:
    """'expected from the histograms' for the embedded default's ttbar_norm, else ''."""
    dataset = run.json("dataset.json") or {}
    if poi != "ttbar_norm" or dataset.get("inputs") != "embedded":
        return ""
    if fit.histograms is None or not run.exists(fit.histograms):
        return ""
    from agc.stats.histograms import expected_ttbar_norm

    mu, sigma = expected_ttbar_norm(run.path(fit.histograms))
    return (
        f'<p class="agc-expected">expected from the histograms, (D − B) / S: '
        f"{h.escape(mu)} ± {h.escape(sigma)} (MC statistics)</p>"
    )


def _fit_quality(summary: FitSummary) -> dict[str, Any]:
    fit = summary.fit
    diagnostics = fit.get("diagnostics") or {}
    quality: dict[str, Any] = {
        "−2 ln L at the minimum": summary.best_twice_nll,
        "goodness of fit (p-value)": summary.goodness_of_fit,
        "minimisation converged": fit.get("success"),
        "MIGRAD calls / EDM": f"{h.number(diagnostics.get('migrad_calls'))} / "
        f"{h.number(diagnostics.get('migrad_edm'), 2)}",
        "parameters": len(summary.parameters.labels),
    }
    if summary.impacts is not None:
        quality["impact fits (fallbacks)"] = (
            f"{h.number(diagnostics.get('impact_fits'))} ({h.number(fit.get('impact_fallbacks'))})"
        )
    return quality


def result_section(run: RunOutputs, fit: FitOutputs = MAIN_FIT) -> str | None:
    """The POI with its uncertainty (and the value the histograms imply), the fit quality and
    the post-fit distributions of every region: the report's first screen."""
    content = run.json(fit.results)
    if content is None:
        return None
    summary = FitSummary.from_dict(content)
    poi = summary.poi
    value, uncertainty = pdg_round(poi.bestfit, poi.uncertainty)
    box = (
        f'<div class="agc-poi-box"><p class="agc-poi" data-role="{fit.anchor}-poi">'
        f"<span>{html.escape(poi.name)}</span> = <strong>{value}</strong> ± {uncertainty}</p>"
        f"{_expected(run, fit, poi.name)}"
        f"{h.key_values(_fit_quality(summary))}"
        f'<p class="agc-small">measurement <code>{html.escape(summary.measurement)}</code>; '
        f'all numbers in <a href="{run.link(fit.results)}">{html.escape(fit.results)}</a></p>'
        "</div>"
    )
    postfit = _figures(
        _plots(run, fit.plots, "*_postfit.png"), role=f"{fit.anchor}-postfit", width="34%"
    )
    body = f'<div class="agc-row">{box}{postfit}</div>'
    return h.section(fit.anchor, f"{fit.title}: {poi.name}", body)


def prefit_section(run: RunOutputs, fit: FitOutputs = MAIN_FIT) -> str | None:
    """The pre-fit distributions of every region."""
    paths = _plots(run, fit.plots, "*_prefit.png")
    if not paths:
        return None
    body = f'<div class="agc-row">{_figures(paths, width="34%")}</div>'
    return h.section(f"{fit.anchor}-prefit", f"{fit.title}: pre-fit distributions", body)


def parameters_section(run: RunOutputs, fit: FitOutputs = MAIN_FIT) -> str | None:
    """Pulls, the impact ranking and the correlations; every parameter in a collapsed table."""
    content = run.json(fit.results)
    if content is None:
        return None
    table = FitSummary.from_dict(content).parameters
    rows = [
        {"parameter": label, "type": kind, "best fit": value, "uncertainty": err}
        for label, kind, value, err in zip(
            table.labels, table.types, table.bestfit, table.uncertainty, strict=True
        )
    ]
    names = ("pulls.png", "ranking.png", "correlation_matrix.png")
    paths = [run.path(f"{fit.plots}/{n}") for n in names if run.exists(f"{fit.plots}/{n}")]
    body = (
        f'<div class="agc-row">{_figures(paths, width="32%")}</div>'
        f"{h.details(f'all {len(rows)} parameters', h.table(rows))}"
    )
    return h.section(f"{fit.anchor}-parameters", f"{fit.title}: pulls, impacts, correlations", body)


def validation_section(run: RunOutputs, fit: FitOutputs = ML_FIT) -> str | None:
    """The AGC's ML validation: the main fit's parameters applied to the ML model."""
    paths = _plots(run, fit.plots, "*_mainfit_validation.png")
    if not paths:
        return None
    body = (
        '<p class="agc-small">the main measurement\'s best-fit parameters applied to the model of '
        "the BDT-assignment features (cabinetry <code>match_fit_results</code>)</p>"
        f'<div class="agc-row">{_figures(paths, width="24%")}</div>'
    )
    return h.section(f"{fit.anchor}-validation", f"{fit.title}: main fit applied", body)


def _weighted_events(value: Any) -> str:
    """Expected events for the weighted cut flow: one decimal, thousands in thin spaces."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,.1f}".replace(",", "\u202f")
    return h.number(value)


def cutflow_section(run: RunOutputs) -> str | None:
    """The cut flow (``cutflow.json``): per sample the raw events after each selection step
    and, when the file has them, the weighted events (``weighted``: raw count x the sample's
    xsec * lumi / N_generated) next to it."""
    content = run.json("cutflow.json")
    if not isinstance(content, dict) or not isinstance(content.get("samples"), dict):
        return None
    steps = content.get("steps") or list(
        dict.fromkeys(s for row in content["samples"].values() for s in row)
    )
    rows = [{"sample": name, **counts} for name, counts in sorted(content["samples"].items())]
    raw = h.table(rows, ["sample", *steps])
    body = '<p class="agc-small">unweighted events</p>' + raw
    weighted = content.get("weighted")
    if isinstance(weighted, dict) and weighted:
        rows = [
            {"sample": name, **{step: _weighted_events(v) for step, v in counts.items()}}
            for name, counts in sorted(weighted.items())
        ]
        caption = (
            f"weighted events (xsec × lumi / N_generated per event, "
            f"{h.number(physics.LUMI_PB / 1000.0)} fb⁻¹)"
        )
        body = (
            '<div class="agc-row">'
            f'<div><p class="agc-small">unweighted events</p>{raw}</div>'
            f'<div><p class="agc-small">{h.escape(caption)}</p>'
            f"{h.table(rows, ['sample', *steps])}</div></div>"
        )
    skipped = content.get("skipped_files") or []
    body += f'<p class="agc-small">input files skipped: {len(skipped)}</p>'
    if skipped:
        body += h.table(skipped)
    return h.section("cutflow", "Cut flow", body)


def limits_section(run: RunOutputs) -> str | None:
    """The CLs upper limits of every reinterpreted signal, with their limit plots."""
    files = sorted(run.path("reinterpretation").glob("*/limits.json"))
    if not files:
        return None
    rows, figures = [], []
    for path in files:
        content = run.json(os.path.relpath(path, run.outdir))
        limit = LimitResult.from_dict(content)
        labels = ", ".join(f"{k} {h.number(v)}" for k, v in (content.get("labels") or {}).items())
        rows.append(
            {
                "signal": path.parent.name,
                "labels": labels,
                "POI": limit.poi,
                "CL": f"{100 * (1 - limit.level):.0f} %",
                "observed": limit.observed,
                "expected": limit.expected["0"],
                "expected ±1σ": f"{h.number(limit.expected['-1'])} – "
                f"{h.number(limit.expected['1'])}",
                "expected ±2σ": f"{h.number(limit.expected['-2'])} – "
                f"{h.number(limit.expected['2'])}",
                "converged": limit.converged,
            }
        )
        figures += _plots(run, os.path.relpath(path.parent, run.outdir), "*.png")
    body = h.table(rows) + f'<div class="agc-row">{_figures(figures, width="40%")}</div>'
    body += '<p class="agc-small">upper limits on the signal strength (1 = the declared '
    body += "cross-section); CLs, asymptotic formulae (pyhf)</p>"
    return h.section("limits", "Reinterpretation: upper limits", body)


#: The sections of the report's first part, in page order.
SECTIONS: list[Section] = [
    partial(result_section, fit=MAIN_FIT),
    partial(prefit_section, fit=MAIN_FIT),
    partial(parameters_section, fit=MAIN_FIT),
    limits_section,
    partial(result_section, fit=ML_FIT),
    partial(validation_section, fit=ML_FIT),
    partial(parameters_section, fit=ML_FIT),
    cutflow_section,
    provenance_section,
    outputs_section,
]


def summary_html(outdir: str | os.PathLike[str], sections: list[Section] | None = None) -> str:
    """The report's first part for the run in ``outdir``: every section of ``sections``
    (default :data:`SECTIONS`) whose output exists, in order ('' when none does)."""
    run = RunOutputs(Path(outdir))
    parts = [part for section in (sections or SECTIONS) if (part := section(run))]
    return "\n".join(parts)
