"""The ML statistical model: ``histograms_ml.root`` -> ``workspace_ml.json``.

The AGC's second model (``cabinetry_config_ml.yml``): one channel per BDT feature of the best
jet-parton assignment in 4j2b events, the samples, systematics and POI of the main model. Its
configuration is ``inputs/cabinetry_ml.yaml`` (the AGC file adapted, see its header). Like the AGC
pipeline, only the channels Feature0, 1, 2, 4, 5, 6 and 7 are kept (:data:`PRUNED_CHANNELS`, the
AGC's ``pyhf.Workspace.prune`` list); they are left out before the templates are built, which
gives the workspace the AGC's prune gives, without building 13 channels to drop them.

Everything else is the main model's code (:func:`agc.stats.model.build_workspace`): the same
cabinetry template builder (the fill binning is the model binning here), the same non-negative
yields (:mod:`agc.stats.positivity`), canonical JSON. The AGC applies the main fit to this model
("ML validation"); :func:`main_fit_results` reads that fit back for it. :func:`fit_ml` fits the ML
workspace in a worker process, :func:`read_fit` reads that fit back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agc.core.errors import AGCError
from agc.core.fileio import read_input_text
from agc.stats.model import build_checked_workspace, load_template, validate_config
from agc.stats.results import FitRun, FitSummary

if TYPE_CHECKING:
    import pyhf

#: The ML model's cabinetry configuration template.
ML_CONFIG = "inputs/cabinetry_ml.yaml"
#: Channels the AGC pipeline prunes from the ML workspace (ttbar_analysis_pipeline.py).
PRUNED_CHANNELS: tuple[str, ...] = (
    "Feature3",
    *(f"Feature{i}" for i in range(8, 20)),
)


def ml_template(
    config: str | os.PathLike[str] | Mapping[str, Any] = ML_CONFIG,
    pruned: tuple[str, ...] = PRUNED_CHANNELS,
) -> dict[str, Any]:
    """The ML configuration template without the ``pruned`` regions, validated by cabinetry.

    :class:`AGCError` naming the configuration if a pruned channel is not one of its regions
    (a renamed region would otherwise be kept silently) or if no region is left.
    """
    source = str(config) if not isinstance(config, Mapping) else "ML cabinetry config"
    template = load_template(config)
    validate_config(template, source)
    names = [region["Name"] for region in template["Regions"]]
    unknown = sorted(set(pruned) - set(names))
    if unknown:
        raise AGCError(f"{source}: pruned channels {unknown} are not regions of the config")
    template["Regions"] = [r for r in template["Regions"] if r["Name"] not in pruned]
    if not template["Regions"]:
        raise AGCError(f"{source}: every region is pruned, nothing to fit")
    return template


def build_ml_workspace(
    histograms: str | os.PathLike[str],
    output: str | os.PathLike[str] = "outputs/ml/workspace_ml.json",
    config: str | os.PathLike[str] | Mapping[str, Any] = ML_CONFIG,
) -> pyhf.Workspace:
    """Build the pruned ML workspace from ``histograms`` (``histograms_ml.root``) and write it to
    ``output`` (:func:`agc.stats.model.build_checked_workspace` with :func:`ml_template`;
    cabinetry's templates go to ``<output folder>/histograms_cabinetry``). Returns it checked,
    as a :class:`pyhf.Workspace` (as a dict, the file's content)."""
    return build_checked_workspace(histograms, output, config=ml_template(config))


def fit_ml(workspace: pyhf.Workspace, output: str | os.PathLike[str]) -> None:
    """Fit the ML ``workspace`` (checked: :func:`build_ml_workspace`'s, or the file's read by
    :func:`agc.stats.fit.load_model`) and write
    ``output`` (``fit_results_ml.json``): the main fit's code with the exact derivatives and no
    impact ranking (:func:`agc.stats.fit.run_fit`). Returns nothing, for a worker process;
    :func:`read_fit` reads the fit back."""
    from agc.stats.fit import run_fit

    run_fit(workspace, output, impacts=False, exact_derivatives=True)


def read_fit(path: str | os.PathLike[str], model: Any, data: list[float]) -> FitRun:
    """The fit written to ``path`` (``fit_results.json`` layout) as the
    :class:`~agc.stats.results.FitRun` of the pyhf ``model`` and ``data`` it fitted: the
    summary and the cabinetry results those of :func:`agc.stats.fit.run_fit` (JSON keeps every
    float; a goodness of fit written as null is NaN again), no ranking."""
    import numpy as np

    from agc.stats.fit import cabinetry_fit_results

    content = fit_content(path, "fit results")
    summary = FitSummary.from_dict(content)
    p_value = np.nan if summary.goodness_of_fit is None else summary.goodness_of_fit
    results = cabinetry_fit_results(content)._replace(goodness_of_fit=p_value)
    return FitRun(summary, model, data, results)


def main_fit_results(path: str | os.PathLike[str]) -> Any:
    """The main fit's ``fit_results.json`` as a :class:`cabinetry.fit.FitResults` (best-fit
    values, HESSE uncertainties, labels, correlation matrix, -2 ln L), e.g. for
    ``cabinetry.model_utils.match_fit_results`` onto the ML model."""
    from agc.stats.fit import cabinetry_fit_results

    return cabinetry_fit_results(fit_content(path, "main fit results"))


def fit_content(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    """The JSON object of ``path`` if it has the whole ``fit_results.json`` layout, else
    :class:`AGCError` naming the file (``what`` it is in the message of a missing file)."""
    import json

    text = read_input_text(path, what)
    try:
        content = json.loads(text)
        FitSummary.from_dict(content)  # the whole layout, not only what cabinetry needs
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise AGCError(f"{path}: not a fit_results.json ({type(exc).__name__}: {exc})") from None
    return content
