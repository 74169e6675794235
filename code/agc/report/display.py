"""What the stage notebooks show: stage results as Markdown tables, the fit's result line and figures.

The notebooks only orchestrate and display; these helpers turn the stages' results (summaries,
cut flows, workspaces, :class:`~agc.stats.results.FitSummary`) into Markdown for ``IPython``'s
``Markdown`` display, and show the plots a stage wrote.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from agc.core.rounding import pdg_round
from agc.stats.results import FitSummary


def _format(value: Any) -> str:
    if isinstance(value, float):
        if math.isfinite(value) and value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.4g}"
        return f"{value:.4f}".rstrip("0").rstrip(".") if math.isfinite(value) else str(value)
    return str(value).replace("|", "\\|")


def markdown_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A Markdown table of ``rows`` (dicts); columns default to the keys in first-seen order."""
    rows = list(rows)
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(_format(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def json_block(data: Any) -> str:
    """``data`` as an indented JSON code block (Markdown)."""
    return "```json\n" + json.dumps(data, indent=1, sort_keys=True, default=str) + "\n```"


def _nested_markdown(value: Any) -> str:
    """A nested summary entry as Markdown: a mapping of mappings or a list of mappings as a
    table, a mapping of scalars as a key/value table, a list of scalars as a list; JSON else."""
    if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
        return mapping_markdown(value, "name")
    if isinstance(value, dict) and not any(isinstance(v, dict | list) for v in value.values()):
        return markdown_table([{"key": k, "value": v} for k, v in value.items()], ["key", "value"])
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return markdown_table(value) if value else "none"
    if isinstance(value, list) and not any(isinstance(v, dict | list) for v in value):
        return ", ".join(f"`{v}`" for v in value) if value else "none"
    return json_block(value)


def summary_markdown(summary: Mapping[str, Any]) -> str:
    """A stage summary: scalar entries as a key/value table, each nested entry under its name
    as a table (mappings of mappings, lists of mappings), a key/value table (mappings of
    scalars) or a list (lists of scalars); deeper structures as JSON."""
    scalars = [{"key": k, "value": v} for k, v in summary.items() if not isinstance(v, dict | list)]
    nested = {k: v for k, v in summary.items() if isinstance(v, dict | list)}
    parts = [markdown_table(scalars, ["key", "value"])] if scalars else []
    parts += [f"**{key}**\n\n{_nested_markdown(value)}" for key, value in nested.items()]
    return "\n\n".join(parts)


def mapping_markdown(
    mapping: Mapping[str, Mapping[str, Any]],
    key: str = "sample",
    columns: Sequence[str] | None = None,
) -> str:
    """``{name: {column: value}}`` as a table with one row per name (sorted)."""
    rows = [{key: name, **values} for name, values in sorted(mapping.items())]
    if columns is None:
        columns = list(dict.fromkeys(c for values in mapping.values() for c in values))
    return markdown_table(rows, [key, *columns])


def cutflow_markdown(path: str | os.PathLike[str]) -> str:
    """The cut flow ``cutflow.json`` (``{"samples": {sample: {step: events}}, "steps": [...]}``)
    as a table of samples x selection steps, followed by the weighted events (its
    ``weighted`` table: raw count x xsec * lumi / N_generated) when the file has them; other
    layouts are shown as JSON."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    samples = data.get("samples") if isinstance(data, dict) else None
    if isinstance(samples, dict) and all(isinstance(v, dict) for v in samples.values()):
        steps = data.get("steps") if isinstance(data.get("steps"), list) else None
        text = mapping_markdown(samples, "sample", steps)
        weighted = data.get("weighted")
        if isinstance(weighted, dict) and all(isinstance(v, dict) for v in weighted.values()):
            rounded = {
                name: {step: f"{value:.1f}" for step, value in counts.items()}
                for name, counts in weighted.items()
            }
            text = (
                f"**unweighted events**\n\n{text}\n\n**weighted events** "
                f"(xsec * lumi / N_generated per event)\n\n"
                + mapping_markdown(rounded, "sample", steps)
            )
        return text
    return json_block(data)


def readback_markdown(readback: Mapping[str, Any]) -> str:
    """The read-back summary of a dataset (:func:`agc.dataset.readback.summarize`) as a table."""
    samples = readback.get("samples")
    if isinstance(samples, dict) and all(isinstance(v, dict) for v in samples.values()):
        return mapping_markdown(samples, "sample")
    return json_block(dict(readback))


def workspace_markdown(workspace: Mapping[str, Any]) -> str:
    """Channels, bins, samples and parameters of a pyhf workspace."""
    import pyhf

    ws = pyhf.Workspace(dict(workspace))
    model = ws.model()
    rows = [
        {
            "channel": channel,
            "bins": model.config.channel_nbins[channel],
            "samples": ", ".join(ws.samples),
        }
        for channel in ws.channels
    ]
    head = (
        f"Measurement `{ws.measurement_names[0]}`, parameter of interest "
        f"`{model.config.poi_name}`, {model.config.npars} parameters, "
        f"{len(model.config.modifiers)} modifiers.\n\n"
    )
    return head + markdown_table(rows, ["channel", "bins", "samples"])


def fit_markdown(fit: FitSummary, poi: str | None = None) -> str:
    """A fit (the content of ``fit_results.json``) as Markdown: the parameter of
    interest, -2 log L at the minimum and the goodness of fit, then a table of every parameter
    (best fit, uncertainty, type), the POI (``poi``, default the fit's) first."""
    poi = poi or fit.poi.name
    value, uncertainty = pdg_round(fit.poi.bestfit, fit.poi.uncertainty)
    head = [
        f"**{fit.poi.name} = {value} ± {uncertainty}**",
        f"-2 log L at the minimum: {_format(fit.best_twice_nll)}",
    ]
    if fit.goodness_of_fit is not None:
        head.append(f"goodness-of-fit p-value: {_format(fit.goodness_of_fit)}")
    table = fit.parameters
    rows = [
        {
            "parameter": f"**{label}**" if label == poi else label,
            "best fit": value,
            "uncertainty": err,
            "type": kind,
        }
        for label, value, err, kind in zip(
            table.labels, table.bestfit, table.uncertainty, table.types, strict=True
        )
    ]
    rows.sort(key=lambda row: not row["parameter"].startswith("**"))
    columns = ["parameter", "best fit", "uncertainty", "type"]
    return "\n\n".join([*head, markdown_table(rows, columns)])


def plot_nominal(histograms: str | os.PathLike[str]) -> Any:
    """Stacked nominal distributions with the pseudo-data, one panel per region (a Figure)."""
    import matplotlib.pyplot as plt
    import mplhep

    from agc.core import physics
    from agc.processing.histograms import read_histograms

    hists = read_histograms(histograms)
    fig, axes = plt.subplots(1, len(physics.REGIONS), figsize=(6 * len(physics.REGIONS), 4.5))
    for ax, (region, observable) in zip(axes, physics.REGIONS.items(), strict=True):
        names = [p for p in physics.VARIATIONS if f"{region}_{p}" in hists]
        stack = [hists[f"{region}_{p}"] for p in names]
        if stack:
            mplhep.histplot(stack, ax=ax, stack=True, histtype="fill", label=names)
        if f"{region}_pseudodata" in hists:
            mplhep.histplot(
                hists[f"{region}_pseudodata"],
                ax=ax,
                histtype="errorbar",
                color="black",
                label="pseudo-data",
            )
        ax.set_xlabel(f"{observable} [GeV]")
        ax.set_ylabel("events / bin")
        ax.set_title(region)
        ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def show_images(folder: str | os.PathLike[str], pattern: str = "*.png") -> list[Path]:
    """Display every image of ``folder`` (name order) in the notebook; return their paths."""
    from IPython.display import Image, Markdown, display

    paths = sorted(Path(folder).glob(pattern))
    for path in paths:
        display(Markdown(f"**{path.name}**"), Image(filename=str(path)))
    return paths
