"""Paper plots of the fit: pre-/post-fit distributions, pulls, correlations, impacts (CMS style).

Style: ``mplhep.style.CMS`` with matplotlib's bundled DejaVu fonts (the same glyphs on every
machine) and a label that says what the events are (:class:`~agc.dataset.origin.DataOrigin`,
passed down from the run's inputs): "AGC Synthetic NanoAOD" for the package's generated
dataset, "CMS Simulation Open Data" for CMS Open Data inputs (the pseudo-data is simulation),
with 3.378 fb^-1 (13 TeV). The fit-result figures (pulls, correlations, impact ranking) leave
out the per-bin MC-statistics terms ``staterror_<channel>[i]`` (:func:`is_mc_stat`), as
cabinetry's pull plot does: centred at 1 with their own small width, they would show as
pulls of +1 in the ranking's pull panel. Every figure is written as PDF and PNG, atomically,
byte-reproducibly: PNG by Agg, PDF by matplotlib's PDF backend (whatever the interactive
backend), fixed DPI, no dates/producer in the metadata, fixed SVG hash salt.

The numbers come from cabinetry: its model prediction (:func:`agc.stats.prediction.prediction`)
for the stacked distributions (drawn with mplhep), :func:`cabinetry.visualize.pulls`,
``correlation_matrix`` and ``ranking`` for the fit-result figures (drawn in our style, labelled).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import cabinetry
import matplotlib.pyplot as plt
import mplhep as hep
import numpy as np

from agc.core import physics
from agc.core.fileio import atomic_path
from agc.dataset.origin import DataOrigin
from agc.stats.model import load_template
from agc.stats.prediction import prediction
from agc.stats.results import FitRun

#: Integrated luminosity on the plots [/fb].
LUMI_FB: float = physics.LUMI_PB / 1000.0
#: Centre-of-mass energy [TeV].
COM_TEV: int = 13
#: Resolution of the PNG files [dots per inch].
DPI: int = 100
#: Formats every figure is written in.
FORMATS: tuple[str, ...] = ("pdf", "png")
#: Number of parameters shown in the impact ranking.
RANKING_MAX_PARS: int = 20
#: Parameters with no correlation above this are left out of the correlation matrix.
CORRELATION_PRUNING: float = 0.1

#: Observable labels per region key (agc.core.physics.REGIONS).
OBSERVABLE_LABELS: dict[str, str] = {"H_T": r"$H_T$ [GeV]", "m_bjj": r"$m_{bjj}$ [GeV]"}

#: Fixed colours of the card's samples (by cabinetry sample name); others use FALLBACK_COLORS.
SAMPLE_COLORS: dict[str, str] = {
    "ttbar": "#e42536",
    "W+jets": "#5790fc",
    "tW": "#f89c20",
    "single top t-channel": "#964a8b",
    "single top s-channel": "#9c9ca1",
}
FALLBACK_COLORS: tuple[str, ...] = ("#7a21dd", "#2ca02c", "#17becf", "#8c564b", "#bcbd22")
#: Legend text of sample names that have a nicer typeset form.
DISPLAY_LABELS: dict[str, str] = {"ttbar": r"$t\bar{t}$"}

_STYLE_OVERRIDES: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "mathtext.fontset": "dejavusans",
    "savefig.dpi": DPI,
    "figure.dpi": DPI,
    "svg.hashsalt": "agc-ttbar",
    "pdf.compression": 6,
}
#: Smaller base font for cabinetry's fit-result figures (sized for ~12 pt text).
_SMALL_FONT: dict[str, Any] = {
    "font.size": 12,
    "axes.labelsize": 14,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
}


@contextmanager
def paper_style(small: bool = False) -> Iterator[None]:
    """Temporarily apply the CMS paper style (global rcParams are restored afterwards)."""
    styles: list[Any] = [hep.style.CMS, _STYLE_OVERRIDES]
    if small:
        styles.append(_SMALL_FONT)
    with plt.style.context(styles):
        yield


def save_figure(
    fig: Any, stem: str | os.PathLike[str], formats: Sequence[str] = FORMATS
) -> list[Path]:
    """Write ``fig`` to ``<stem>.<fmt>`` for each format, atomically and reproducibly, each
    cropped to the figure's tight bounding box (padded by ``savefig.pad_inches``), found once."""
    paths = []
    bbox = _tight_bbox(fig)
    for fmt in formats:
        path = Path(f"{os.fspath(stem)}.{fmt}")
        metadata: dict[str, Any] = {"Software": None}
        if fmt == "pdf":
            metadata = {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}
        elif fmt == "svg":
            metadata = {"Date": None, "Creator": None}
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=DPI, metadata=metadata, bbox_inches=bbox)
        paths.append(path)
    return paths


def _tight_bbox(fig: Any) -> Any:
    """The figure's tight bounding box [inches] padded by ``savefig.pad_inches``, measured once
    with the Agg renderer (``bbox_inches="tight"`` draws and measures anew for each format);
    ``"tight"`` without an Agg renderer. Only a figure with a layout engine is drawn first (the
    engine places its axes); a measure updates the ticks and labels it measures."""
    if not hasattr(fig.canvas, "get_renderer"):
        return "tight"
    if fig.get_layout_engine() is not None:
        fig.draw_without_rendering()
    return fig.get_tightbbox(fig.canvas.get_renderer()).padded(plt.rcParams["savefig.pad_inches"])


class DataLabel(NamedTuple):
    """The label of a figure: ``exp`` in bold (the collaboration or project), ``text`` in
    italics after it (what the events are); the luminosity text is the same for every origin."""

    exp: str
    text: str


#: The label of each origin of the events (:class:`~agc.dataset.origin.DataOrigin`).
DATA_LABELS: dict[DataOrigin, DataLabel] = {
    DataOrigin.SYNTHETIC: DataLabel("AGC", "Synthetic NanoAOD"),
    DataOrigin.CMS_OPEN_DATA: DataLabel("CMS", "Simulation Open Data"),
}
#: The luminosity and centre-of-mass energy text, right of the axes.
LUMI_TEXT: str = f"{LUMI_FB:.3f} fb$^{{-1}}$ ({COM_TEV} TeV)"


def has_offset_text(ax: Any) -> bool:
    """Whether the y axis of ``ax`` shows an offset or a power of ten above its tick labels
    (e.g. "1e6"), from its tick formatter at its current ticks, without drawing."""
    formatter = ax.yaxis.get_major_formatter()
    formatter.set_locs(ax.yaxis.get_majorticklocs())
    return bool(formatter.get_offset())


def data_label(ax: Any, origin: DataOrigin = DataOrigin.SYNTHETIC, **kwargs: Any) -> None:
    """The figure's label (:data:`DATA_LABELS` of ``origin``: "AGC Synthetic NanoAOD" or
    "CMS Simulation Open Data") left and "3.378 fb^-1 (13 TeV)" right, drawn by mplhep.

    mplhep draws the whole figure to measure its text: to place the label beside the y axis'
    offset text, which it skips here when the axis shows none (:func:`has_offset_text`), and
    before it places one text beside another (:func:`_measured_without_drawing` spares those
    draws in a figure without a layout engine). The figure's data artists (lines, patches,
    collections, images and texts: e.g. the cell values of the correlation matrix) are hidden
    during the draws that remain. They take no part in the layout or in the label's place, so
    the figure comes out the same, at a fraction of the cost.
    """
    label = DATA_LABELS[origin]
    hidden = [
        artist
        for axes in ax.figure.axes
        for artist in (*axes.lines, *axes.patches, *axes.collections, *axes.images, *axes.texts)
        if artist.get_visible()
    ]
    for artist in hidden:
        artist.set_visible(False)
    try:
        size = plt.rcParams["font.size"]
        kwargs.setdefault("fontsize", (size * 1.3, size, size / 1.1, size / 1.3))  # mplhep.cms's
        kwargs.setdefault("scilocator_adjust", has_offset_text(ax))
        with _measured_without_drawing(ax.figure):
            hep.label.exp_label(
                exp=label.exp,
                llabel=label.text,
                lumi=f"{LUMI_FB:.3f}",
                com=COM_TEV,
                ax=ax,
                **kwargs,
            )
    finally:
        for artist in hidden:
            artist.set_visible(True)


@contextmanager
def _measured_without_drawing(fig: Any) -> Iterator[None]:
    """Within the block, drawing ``fig``'s canvas does nothing if ``fig`` has no layout engine.

    mplhep's ``append_text`` draws the whole canvas before it measures a text to place another
    beside it. Without a layout engine a draw moves no axes, and a text's extent needs only the
    canvas's renderer, so the label lands where it would after the draws (the same bytes in
    every saved figure). With a layout engine (cabinetry's pulls, correlation and ranking
    figures) the draw lays the axes out first, and it stays.
    """
    if fig.get_layout_engine() is not None:
        yield
        return
    canvas = fig.canvas
    canvas.draw = lambda *args, **kwargs: None  # shadows the method on this canvas only
    try:
        yield
    finally:
        del canvas.draw


_STATERROR = re.compile(r"staterror_.+\[\d+\]")


def is_mc_stat(name: str) -> bool:
    """Whether ``name`` is a per-bin MC-statistics parameter (``staterror_<channel>[i]``)."""
    return _STATERROR.fullmatch(name) is not None


# --------------------------------------------------------------------------- distributions


def region_axis(
    channel: str, n_bins: int, config: Mapping[str, Any] | None = None
) -> tuple[np.ndarray, str]:
    """Bin edges [GeV] and axis label of a channel, from the cabinetry config or the card."""
    if config is not None:
        for region in config.get("Regions", []):
            if region.get("Name") == channel:
                edges = np.asarray(region.get("Binning", physics.MODEL_BIN_EDGES), dtype=float)
                if edges.size == n_bins + 1:
                    return edges, region.get("Variable", "observable")
    key = channel.split(maxsplit=1)[0] if channel else ""
    edges = np.asarray(physics.MODEL_BIN_EDGES, dtype=float)
    if key in physics.REGIONS and edges.size == n_bins + 1:
        observable = physics.REGIONS[key]
        return edges, OBSERVABLE_LABELS.get(observable, observable)
    return np.arange(n_bins + 1, dtype=float), "bin"


def sample_colors(samples: Sequence[str]) -> dict[str, str]:
    """A fixed colour per sample name (card samples fixed, others from a fixed palette)."""
    colors = {}
    extra = iter(FALLBACK_COLORS * (1 + len(samples) // len(FALLBACK_COLORS)))
    for name in samples:
        colors[name] = SAMPLE_COLORS.get(name) or next(extra)
    return colors


class _Bins(NamedTuple):
    """The per-bin numbers of a data/MC figure: ``edges`` [GeV] shape (n+1,), the others (n,)."""

    edges: np.ndarray
    #: Summed MC prediction and its total uncertainty [events].
    total: np.ndarray
    unc: np.ndarray
    #: Pseudo-data [events] and its error bars sqrt(N).
    data: np.ndarray
    data_err: np.ndarray


class FigureText(NamedTuple):
    """What a data/MC figure says: the observable's axis label ``variable``, the ``region``
    and fit ``stage`` drawn in the corner, and the ``origin`` of the events (the label,
    :func:`data_label`)."""

    variable: str
    region: str
    stage: str
    origin: DataOrigin = DataOrigin.SYNTHETIC


def data_mc_figure(
    edges: np.ndarray,
    yields: Mapping[str, np.ndarray],
    total_stdev: np.ndarray,
    data: np.ndarray,
    *,
    text: FigureText,
    colors: Mapping[str, str],
) -> Any:
    """Stacked MC (bottom -> top in ``yields`` order), uncertainty band, pseudo-data and ratio.

    Args:
        edges: bin edges [GeV], shape (n+1,).
        yields: sample name -> expected events per bin, shape (n,).
        total_stdev: total model uncertainty per bin [events], shape (n,).
        data: pseudo-data events per bin, shape (n,); error bars are sqrt(N).
        text: axis label, region, stage and the events' origin.
    """
    names = list(yields)
    stack = [np.asarray(yields[n], dtype=float) for n in names]
    data = np.asarray(data, dtype=float)
    bins = _Bins(
        edges=edges,
        total=np.sum(stack, axis=0),
        unc=np.asarray(total_stdev, dtype=float),
        data=data,
        data_err=np.sqrt(np.clip(data, 0.0, None)),
    )
    fig, (ax, rax) = plt.subplots(
        2, 1, figsize=(10, 10), sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.06}
    )
    _draw_stack(ax, bins, stack, names, colors)
    _label_stack(ax, bins, names, text)
    _draw_ratio(rax, bins, text.variable)
    return fig


def _draw_stack(
    ax: Any, bins: _Bins, stack: list[np.ndarray], names: list[str], colors: Mapping[str, str]
) -> None:
    """Upper panel: the stacked samples, the hatched uncertainty band and the pseudo-data."""
    hep.histplot(
        stack,
        bins=bins.edges,
        stack=True,
        histtype="fill",
        label=[DISPLAY_LABELS.get(n, n) for n in names],
        color=[colors[n] for n in names],
        edgecolor="black",
        linewidth=0.5,
        ax=ax,
    )
    ax.stairs(
        bins.total + bins.unc,
        bins.edges,
        baseline=bins.total - bins.unc,
        fill=True,
        facecolor="none",
        edgecolor="dimgray",
        hatch="////",
        linewidth=0,
        label="Uncertainty",
    )
    hep.histplot(
        bins.data,
        bins=bins.edges,
        histtype="errorbar",
        yerr=bins.data_err,
        color="black",
        label="Pseudo-data",
        ax=ax,
    )


def _label_stack(ax: Any, bins: _Bins, names: list[str], text: FigureText) -> None:
    """Upper panel: axis label (events per bin width), ranges, legend, region/stage, label."""
    widths = np.diff(bins.edges)
    unit = (
        f" / {widths[0]:g} GeV"
        if np.allclose(widths, widths[0]) and "GeV" in text.variable
        else " / bin"
    )
    ax.set_ylabel("Events" + unit)
    top = max(float(np.max(bins.total + bins.unc)), float(np.max(bins.data + bins.data_err)), 1e-9)
    ax.set_ylim(0.0, 1.6 * top)
    ax.set_xlim(bins.edges[0], bins.edges[-1])
    by_label = dict(zip(*ax.get_legend_handles_labels()[::-1], strict=True))
    legend = ["Pseudo-data", "Uncertainty", *(DISPLAY_LABELS.get(n, n) for n in names[::-1])]
    ax.legend([by_label[n] for n in legend], legend, loc="upper right", fontsize=18)
    corner = f"{text.region}\n{text.stage}"
    ax.text(0.04, 0.95, corner, transform=ax.transAxes, va="top", ha="left", fontsize=20)
    data_label(ax, text.origin, loc=0, fontsize=(24, 20, 20, 18))


def _draw_ratio(rax: Any, bins: _Bins, variable: str) -> None:
    """Lower panel: pseudo-data / prediction with the relative uncertainty band."""
    safe = np.where(bins.total > 0, bins.total, np.nan)
    rel = bins.unc / safe
    rax.stairs(
        1 + rel,
        bins.edges,
        baseline=1 - rel,
        fill=True,
        facecolor="none",
        edgecolor="dimgray",
        hatch="////",
        linewidth=0,
    )
    rax.axhline(1.0, color="black", linestyle="--", linewidth=1)
    centres = 0.5 * (bins.edges[1:] + bins.edges[:-1])
    rax.errorbar(
        centres, bins.data / safe, yerr=bins.data_err / safe, fmt="o", color="black", markersize=6
    )
    rax.set_ylim(0.5, 1.5)
    rax.set_ylabel("Data / Pred.")
    rax.set_xlabel(variable)


def distribution_plots(
    model: Any,
    data: Sequence[float],
    plots_dir: str | os.PathLike[str],
    *,
    fit_results: Any = None,
    config: Mapping[str, Any] | None = None,
    stage: str | None = None,
    origin: DataOrigin = DataOrigin.SYNTHETIC,
    channels: Sequence[str] | None = None,
) -> list[Path]:
    """Pre-fit (``fit_results=None``) or post-fit stacked distributions of the ``channels``
    (default: every channel of the model). Files: ``<plots_dir>/<channel>_prefit.{pdf,png}`` /
    ``_postfit``, channel spaces -> "-"; ``stage`` (default "Pre-fit" / "Post-fit") is the label
    drawn and, lower case without hyphens and spaces, the file suffix; ``origin`` says what the
    events are (the label)."""
    predicted = prediction(model, fit_results=fit_results)
    if stage is None:
        stage = "Pre-fit" if fit_results is None else "Post-fit"
    main = np.asarray(data[: model.config.nmaindata], dtype=float)
    samples = list(model.config.samples)
    totals = np.sum([np.sum(np.asarray(ch), axis=1) for ch in predicted.model_yields], axis=0)
    order = [samples[i] for i in np.argsort(totals, kind="stable")]  # smallest at the bottom
    colors = sample_colors(sorted(samples))
    paths = []
    for i_ch, channel in enumerate(model.config.channels):
        if channels is not None and channel not in channels:
            continue
        ch_data = main[model.config.channel_slices[channel]]
        edges, variable = region_axis(channel, ch_data.size, config)
        ch_yields = {s: np.asarray(predicted.model_yields[i_ch][samples.index(s)]) for s in order}
        total_stdev = np.asarray(predicted.total_stdev_model_bins[i_ch][-1])
        with paper_style():
            fig = data_mc_figure(
                edges,
                ch_yields,
                total_stdev,
                ch_data,
                text=FigureText(variable, channel, stage, origin),
                colors=colors,
            )
            suffix = stage.lower().replace("-", "").replace(" ", "_")
            stem = Path(plots_dir) / f"{channel.replace(' ', '-')}_{suffix}"
            paths += save_figure(fig, stem)
            plt.close(fig)
    return paths


# --------------------------------------------------------------------------- fit results


def _label_cabinetry_figure(fig: Any, origin: DataOrigin, min_width: float = 8.0) -> None:
    width, height = fig.get_size_inches()
    if width < min_width:  # room for the label and the luminosity side by side
        fig.set_size_inches(min_width, height)
    data_label(fig.axes[0], origin, loc=0, fontsize=(15, 12, 12, 12))


def without_mc_stat(results: Any, exclude: Sequence[str] = ()) -> Any:
    """A copy of cabinetry's :class:`~cabinetry.fit.FitResults` or
    :class:`~cabinetry.fit.RankingResults` for a figure: the parameters that are neither
    MC-statistics terms (:func:`is_mc_stat`) nor in ``exclude``, with their per-parameter
    arrays (and rows and columns of ``corr_mat``). The results written to disk are untouched."""
    n_pars = len(results.labels)
    keep = np.asarray(
        [
            i
            for i, name in enumerate(results.labels)
            if not is_mc_stat(name) and name not in exclude
        ],
        dtype=int,
    )
    changes: dict[str, Any] = {"labels": [results.labels[i] for i in keep]}
    for name in results._fields:
        value = getattr(results, name)
        if name == "corr_mat":
            changes[name] = np.asarray(value)[np.ix_(keep, keep)]
        elif isinstance(value, np.ndarray) and value.shape[:1] == (n_pars,):
            changes[name] = value[keep]
    return results._replace(**changes)


def pulls_plot(
    fit_results: Any,
    plots_dir: str | os.PathLike[str],
    exclude: Sequence[str] = (),
    origin: DataOrigin = DataOrigin.SYNTHETIC,
) -> list[Path]:
    """Nuisance-parameter pulls (cabinetry; MC-statistics, fixed and ``exclude`` parameters
    left out)."""
    with paper_style(small=True):
        fig = cabinetry.visualize.pulls(
            without_mc_stat(fit_results, exclude), save_figure=False, close_figure=False
        )
        _label_cabinetry_figure(fig, origin)
        paths = save_figure(fig, Path(plots_dir) / "pulls")
        plt.close(fig)
    return paths


def correlation_figure(fit_results: Any, origin: DataOrigin = DataOrigin.SYNTHETIC) -> Any:
    """Correlation matrix figure (cabinetry) of the parameters other than the per-bin
    MC-statistics terms that have some |correlation| >= :data:`CORRELATION_PRUNING` with
    another one; the caller closes it."""
    fig = cabinetry.visualize.correlation_matrix(
        without_mc_stat(fit_results),
        pruning_threshold=CORRELATION_PRUNING,
        save_figure=False,
        close_figure=False,
    )
    _label_cabinetry_figure(fig, origin)
    return fig


def correlation_plot(
    fit_results: Any, plots_dir: str | os.PathLike[str], origin: DataOrigin = DataOrigin.SYNTHETIC
) -> list[Path]:
    """:func:`correlation_figure` as ``<plots_dir>/correlation_matrix.{pdf,png}``."""
    with paper_style(small=True):
        fig = correlation_figure(fit_results, origin)
        paths = save_figure(fig, Path(plots_dir) / "correlation_matrix")
        plt.close(fig)
    return paths


def ranking_plot(
    ranking_results: Any,
    plots_dir: str | os.PathLike[str],
    max_pars: int = RANKING_MAX_PARS,
    origin: DataOrigin = DataOrigin.SYNTHETIC,
) -> list[Path]:
    """Impact of the leading ``max_pars`` nuisance parameters on the POI (cabinetry ranking
    plot), the MC-statistics terms left out as in the pulls (:func:`without_mc_stat`)."""
    with paper_style(small=True):
        fig = cabinetry.visualize.ranking(
            without_mc_stat(ranking_results),
            max_pars=max_pars,
            save_figure=False,
            close_figure=False,
        )
        _label_ranking(fig, origin)
        paths = save_figure(fig, Path(plots_dir) / "ranking")
        plt.close(fig)
    return paths


def _label_ranking(fig: Any, origin: DataOrigin) -> None:
    # The ranking legend sits above the axes: the label goes in a strip below the x axis.
    label = DATA_LABELS[origin]
    engine = fig.get_layout_engine()
    left, bottom, width, height = engine.get()["rect"]
    strip = 0.4 / fig.get_size_inches()[1]  # 0.4 inch
    engine.set(rect=(left, bottom + strip, width, height - strip))
    fig.text(0.01, 0.008, label.exp, fontsize=16, fontweight="bold", ha="left", va="bottom")
    # "AGC" and "CMS" are about as wide: the italic text follows at a fixed place
    fig.text(0.085, 0.008, label.text, fontsize=13, fontstyle="italic", ha="left", va="bottom")
    fig.text(0.99, 0.008, LUMI_TEXT, fontsize=12, ha="right", va="bottom")


def paper_plots(
    model: Any,
    data: Sequence[float],
    fit_results: Any,
    plots_dir: str | os.PathLike[str],
    *,
    ranking_results: Any = None,
    config: Mapping[str, Any] | None = None,
    origin: DataOrigin = DataOrigin.SYNTHETIC,
) -> list[Path]:
    """All paper plots into ``plots_dir``, labelled for ``origin``; returns the written files
    (PDF and PNG).

    The pull plot leaves out the free normalisations (NormFactors: no pre-fit constraint).
    """
    Path(plots_dir).mkdir(parents=True, exist_ok=True)
    paths = distribution_plots(model, data, plots_dir, config=config, origin=origin)
    paths += distribution_plots(
        model, data, plots_dir, fit_results=fit_results, config=config, origin=origin
    )
    free = [name for name, kind in model.config.modifiers if kind in ("normfactor", "shapefactor")]
    paths += pulls_plot(fit_results, plots_dir, exclude=sorted(set(free)), origin=origin)
    paths += correlation_plot(fit_results, plots_dir, origin=origin)
    if ranking_results is not None:
        paths += ranking_plot(ranking_results, plots_dir, origin=origin)
    return paths


def fit_plots(
    run: FitRun,
    plots_dir: str | os.PathLike[str],
    config: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    origin: DataOrigin = DataOrigin.SYNTHETIC,
) -> list[Path]:
    """The paper plots of one fit (:func:`agc.stats.fit.run_fit`) into ``plots_dir``.

    ``config``: cabinetry config (path or dict) for the binning and axis labels; ``None`` uses
    the card's (agc.core.physics.MODEL_BIN_EDGES, H_T / m_bjj). ``origin``: what the events are
    (the figures' label; the default is that of the embedded default dataset). Returns the PDF
    and PNG files.
    """
    return paper_plots(
        run.model,
        run.data,
        run.fit_results,
        plots_dir,
        ranking_results=run.ranking_results,
        config=None if config is None else load_template(config),
        origin=origin,
    )
