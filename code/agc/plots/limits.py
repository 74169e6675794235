"""Figures of the CLs limits: CLs versus the POI (brazil plot) and limits versus the signal mass.

:func:`scan_plot` draws one :class:`~agc.stats.results.LimitResult` (of
:func:`agc.stats.limits.upper_limit`; the curves come from :func:`agc.stats.limits.cls_curves`,
the asymptotic formulae through the fitted points); :func:`mass_plot` draws the limits of several
signal points, as the reinterpretation's summary lists them (JSON read back from disk).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agc.dataset.origin import DataOrigin
from agc.plots.figures import data_label, paper_style, save_figure
from agc.stats.limits import BAND_KEYS, cls_curves
from agc.stats.results import LimitResult


def scan_plot(
    limits: LimitResult,
    stem: str | os.PathLike[str],
    title: str = "",
    origin: DataOrigin = DataOrigin.SYNTHETIC,
) -> list[Path]:
    """CLs versus the POI (pyhf's brazil plot: observed, expected with 1/2 sigma bands) as
    PDF + PNG; curves from :func:`cls_curves`, markers at the fitted points; labelled for
    ``origin`` (:func:`agc.plots.figures.data_label`)."""
    import matplotlib.pyplot as plt
    from pyhf.contrib.viz import brazil

    high = 1.25 * max(limits.observed, limits.expected["2"])
    grid = np.linspace(high / 200.0, high, 200)
    obs, exp = cls_curves(limits, grid)
    fitted = [p for p in limits.points if p.cls_observed is not None]
    with paper_style():
        fig, ax = plt.subplots(figsize=(12, 8))
        brazil.plot_results(grid, list(zip(obs, exp, strict=True)), test_size=limits.level, ax=ax)
        ax.plot(
            [p.mu for p in limits.points],
            [p.cls_expected[2] for p in limits.points],
            "kx",
            label="fitted (Asimov)",
        )
        ax.plot([p.mu for p in fitted], [p.cls_observed for p in fitted], "ko", label="fitted")
        ax.set_xlabel(rf"signal strength $\mu$ ({limits.poi})")
        ax.set_ylabel(r"CL$_s$")
        ax.set_ylim(0, 1.05)
        ax.legend(loc="upper right")
        if title:
            ax.set_title(title, loc="left", fontsize=16, pad=34)
        data_label(ax, origin)
        paths = save_figure(fig, stem)
        plt.close(fig)
    return paths


def mass_plot(
    points: Sequence[Mapping[str, Any]],
    stem: str | os.PathLike[str],
    label: str = "mass",
    origin: DataOrigin = DataOrigin.SYNTHETIC,
) -> list[Path]:
    """Limit versus ``label`` (e.g. mass [GeV]): expected with 1/2 sigma bands and observed;
    labelled for ``origin`` (:func:`agc.plots.figures.data_label`).

    ``points``: the rows of the reinterpretation summary, sorted by the label value:
    ``{label: value, "limits": {"observed": ..., "expected": {"-2".."2"}, ...}}`` (the keys of
    :meth:`agc.stats.results.LimitResult.to_dict`; only these two are read).
    """
    import matplotlib.pyplot as plt

    x = np.asarray([p[label] for p in points], dtype=float)
    exp = {k: np.asarray([p["limits"]["expected"][k] for p in points]) for k in BAND_KEYS}
    obs = np.asarray([p["limits"]["observed"] for p in points])
    with paper_style():
        fig, ax = plt.subplots(figsize=(12, 8))
        ax.fill_between(x, exp["-2"], exp["2"], color="#f5bb54", label=r"expected $\pm 2\sigma$")
        ax.fill_between(x, exp["-1"], exp["1"], color="#607641", label=r"expected $\pm 1\sigma$")
        ax.plot(x, exp["0"], "k--", label="expected")
        ax.plot(x, obs, "ko-", label="observed")
        ax.axhline(1.0, color="red", lw=1, label=r"$\mu = 1$")
        ax.set_xlabel(f"{label} [GeV]" if label == "mass" else label)
        ax.set_ylabel(r"95 % CL upper limit on $\mu$")
        ax.set_yscale("log")
        ax.legend(loc="upper left")
        data_label(ax, origin)
        paths = save_figure(fig, stem)
        plt.close(fig)
    return paths
