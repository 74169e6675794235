"""Figures of the ML model: the AGC's "ML validation".

The AGC checks its main fit on the ML observables: the main fit's result (``fit_results.json``:
best-fit values and correlations of the parameters the two models share, by name) is applied to
the ML model with ``cabinetry.model_utils.match_fit_results`` -- parameters the main model lacks,
the ML channels' MC statistical gammas, stay at their pre-fit values -- and the prediction is
drawn against the pseudo-data of every ML channel. The ML model's own pre-/post-fit figures,
pulls and correlations (:func:`prefit_and_validation_plots`, :func:`fit_result_plots`) are drawn
with the main model's figure code (:mod:`agc.plots.figures`), the ones after the fit from its
files, so that the ML stage can share them between two processes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cabinetry
import pyhf

from agc.dataset.origin import DataOrigin
from agc.plots.figures import correlation_plot, distribution_plots, pulls_plot

#: The label drawn on the validation figures; file suffix ``_mainfit_validation``.
VALIDATION_STAGE: str = "Main-fit validation"


def validation_plots(
    model: Any,
    data: Sequence[float],
    main_fit: Any,
    plots_dir: str | os.PathLike[str],
    *,
    config: Mapping[str, Any] | None = None,
    origin: DataOrigin = DataOrigin.SYNTHETIC,
) -> list[Path]:
    """The main fit applied to the ML ``model``: one data/MC figure per channel (PDF and PNG),
    ``<plots_dir>/<channel>_mainfit_validation.{pdf,png}``.

    Args:
        model: the pyhf model of the ML workspace; ``data`` its observations (+ auxdata).
        main_fit: the main fit as :class:`cabinetry.fit.FitResults`
            (:func:`agc.stats.mlmodel.main_fit_results`).
        config: the ML cabinetry configuration (binning, axis labels).
        origin: what the events are (the figures' label).
    """
    matched = cabinetry.model_utils.match_fit_results(model, main_fit)
    Path(plots_dir).mkdir(parents=True, exist_ok=True)
    return distribution_plots(
        model,
        data,
        plots_dir,
        fit_results=matched,
        config=config,
        stage=VALIDATION_STAGE,
        origin=origin,
    )


def prefit_and_validation_plots(
    model: Any,
    data: Sequence[float],
    main_fit: Any,
    plots_dir: str | os.PathLike[str],
    config: Mapping[str, Any] | None = None,
    origin: DataOrigin = DataOrigin.SYNTHETIC,
) -> list[Path]:
    """The ML figures that need no ML fit: the pre-fit distributions of the ML ``model`` (with
    its ``data``) and :func:`validation_plots` with the main fit ``main_fit``
    (:class:`cabinetry.fit.FitResults`), labelled for ``origin``. The ML fit stage draws them
    while its second process fits."""
    Path(plots_dir).mkdir(parents=True, exist_ok=True)
    paths = distribution_plots(model, data, plots_dir, config=config, origin=origin)
    return paths + validation_plots(model, data, main_fit, plots_dir, config=config, origin=origin)


def fit_result_plots(
    workspace: pyhf.Workspace,
    fit_results: str | os.PathLike[str],
    plots_dir: str | os.PathLike[str],
    config: Mapping[str, Any] | None = None,
    origin: DataOrigin = DataOrigin.SYNTHETIC,
    channels: Sequence[str] = (),
) -> list[Path]:
    """For a second process: pulls (free normalisations left out, as in
    :func:`agc.plots.figures.paper_plots`), the correlation matrix and the post-fit
    distributions of ``channels`` of the fit written to ``fit_results`` (``fit_results_ml.json``)
    of ``workspace`` (checked: the build's, or the file's read by
    :func:`agc.stats.fit.load_model`), labelled for ``origin``."""
    from agc.stats.fit import cabinetry_fit_results
    from agc.stats.mlmodel import fit_content
    from agc.stats.pyhfmodel import model_and_data

    content = fit_content(fit_results, "ML fit results")
    results = cabinetry_fit_results(content)
    parameters = content["parameters"]
    free = [
        label
        for label, kind in zip(parameters["labels"], parameters["types"], strict=True)
        if kind in ("normfactor", "shapefactor")
    ]
    Path(plots_dir).mkdir(parents=True, exist_ok=True)
    paths = pulls_plot(results, plots_dir, exclude=free, origin=origin)
    paths += correlation_plot(results, plots_dir, origin=origin)
    if channels:
        model, data = model_and_data(workspace)
        paths += distribution_plots(
            model,
            data,
            plots_dir,
            fit_results=results,
            config=config,
            origin=origin,
            channels=channels,
        )
    return paths


def worker_channels(channels: Sequence[str]) -> tuple[str, ...]:
    """The channels whose post-fit figures the ML stage's second process draws, after the fit,
    the pulls and the correlations: all but the last quarter (at least the last one), which the
    stage's own process draws once it has drawn the two figures per channel that need no fit
    (the fit, pulls and correlations take about as long as those)."""
    return tuple(channels[: len(channels) - max(1, len(channels) // 4)])
