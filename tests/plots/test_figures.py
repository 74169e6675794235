"""Paper plots (agc.plots.figures): image regression, reproducible files, style handling."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cabinetry
import matplotlib as mpl
import matplotlib.pyplot as plt
import mplhep as hep
import numpy as np
import pytest
from stats_helpers import default_stats_run

from agc.core import physics
from agc.dataset.origin import DataOrigin
from agc.plots.figures import (
    COM_TEV,
    DATA_LABELS,
    DPI,
    LUMI_FB,
    FigureText,
    correlation_figure,
    data_label,
    data_mc_figure,
    has_offset_text,
    is_mc_stat,
    paper_style,
    region_axis,
    save_figure,
    without_mc_stat,
)

PLOTS = (
    "4j1b-CR_prefit",
    "4j2b-SR_prefit",
    "4j1b-CR_postfit",
    "4j2b-SR_postfit",
    "pulls",
    "correlation_matrix",
    "ranking",
)


@pytest.fixture(scope="session")
def default_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return default_stats_run(request, tmp_path_factory)


def test_all_paper_plots_written(default_run: dict) -> None:
    written = sorted(Path(p).name for p in default_run["plots_written"])
    assert written == sorted(f"{stem}.{fmt}" for stem in PLOTS for fmt in ("pdf", "png"))
    for name in written:
        data = (default_run["plots"] / name).read_bytes()
        assert data.startswith(b"%PDF" if name.endswith(".pdf") else b"\x89PNG"), name


@pytest.mark.parametrize("stem", PLOTS)
def test_paper_plot_regression(default_run: dict, stem: str, image_regression) -> None:
    png = (default_run["plots"] / f"{stem}.png").read_bytes()
    image_regression.check(png, basename=f"{stem}_{default_run['source']}", diff_threshold=0.5)


def _figure() -> plt.Figure:
    with paper_style():
        fig, ax = plt.subplots()
        ax.stairs(np.arange(5.0), np.arange(6.0), hatch="//")
        ax.set_xlabel(r"$m_{bjj}$ [GeV]")
    return fig


def test_pdf_and_png_are_byte_reproducible(tmp_path: Path) -> None:
    """Same figure -> same bytes, also from a fresh interpreter (no dates, fixed fonts)."""
    fig = _figure()
    first = save_figure(fig, tmp_path / "a")
    second = save_figure(fig, tmp_path / "b")
    plt.close(fig)
    for x, y in zip(first, second, strict=True):
        assert x.read_bytes() == y.read_bytes()
    assert b"CreationDate" not in first[0].read_bytes()
    code = (
        "import sys; sys.path[:0] = sys.argv[2:]; from pathlib import Path; import matplotlib.pyplot as plt;"
        "from test_figures import _figure; from agc.plots.figures import save_figure;"
        "save_figure(_figure(), Path(sys.argv[1]) / 'c')"
    )
    subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(tmp_path),
            str(Path(__file__).parent),
            str(Path(__file__).parents[1]),
        ],
        check=True,
    )
    for suffix in ("pdf", "png"):
        assert (tmp_path / f"c.{suffix}").read_bytes() == (tmp_path / f"a.{suffix}").read_bytes()


@pytest.mark.parametrize("top", [40.0, 3e6])
def test_figure_is_cropped_as_if_drawn_first(tmp_path: Path, top: float) -> None:
    """save_figure measures a figure without a layout engine once, before any draw: its PNG
    is the bytes of matplotlib's own bbox_inches="tight" (a draw, then the measure), its PDF
    those of the same box, measured with the Agg renderer after a draw."""
    edges = np.array([110.0, 160.0, 210.0, 260.0, 310.0, 360.0])
    yields = {"wjets": top * np.array([0.1, 0.2, 0.1, 0.05, 0.02]), "ttbar": top * np.ones(5)}
    pseudo = 1.1 * (yields["wjets"] + yields["ttbar"])
    text = FigureText("$m_{bjj}$ [GeV]", "4j2b SR", "Pre-fit")
    colors = {"wjets": "tab:green", "ttbar": "tab:red"}
    with paper_style():
        fig = data_mc_figure(edges, yields, 0.05 * pseudo, pseudo, text=text, colors=colors)
        pdf, png = save_figure(fig, tmp_path / "ours")
        fig.savefig(
            tmp_path / "tight.png", dpi=DPI, metadata={"Software": None}, bbox_inches="tight"
        )
        fig.draw_without_rendering()
        box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(
            plt.rcParams["savefig.pad_inches"]
        )
        metadata = {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}
        fig.savefig(tmp_path / "box.pdf", dpi=DPI, metadata=metadata, bbox_inches=box)
        plt.close(fig)
    assert png.read_bytes() == (tmp_path / "tight.png").read_bytes()
    assert pdf.read_bytes() == (tmp_path / "box.pdf").read_bytes()


def test_style_is_scoped() -> None:
    before = dict(mpl.rcParams)
    with paper_style():
        assert mpl.rcParams["font.sans-serif"][0] == "DejaVu Sans"
    assert dict(mpl.rcParams) == before


def test_region_axis_defaults_to_the_card() -> None:
    edges, label = region_axis("4j2b SR", 11)
    np.testing.assert_array_equal(edges, physics.MODEL_BIN_EDGES)
    assert "m_{bjj}" in label
    edges, label = region_axis("other", 3)
    np.testing.assert_array_equal(edges, [0, 1, 2, 3])
    config = {
        "Regions": [{"Name": "other", "Binning": [0.0, 10.0, 20.0, 50.0], "Variable": "x [GeV]"}]
    }
    edges, label = region_axis("other", 3, config)
    assert list(edges) == [0.0, 10.0, 20.0, 50.0]
    assert label == "x [GeV]"


@pytest.mark.parametrize(
    ("origin", "label"),
    [
        (DataOrigin.SYNTHETIC, ["AGC", "Synthetic NanoAOD"]),
        (DataOrigin.CMS_OPEN_DATA, ["CMS", "Simulation Open Data"]),
    ],
)
def test_label_says_what_the_events_are(origin: DataOrigin, label: list[str]) -> None:
    with paper_style():
        fig, ax = plt.subplots()
        data_label(ax, origin)
    texts = [t.get_text() for t in ax.texts]
    plt.close(fig)
    assert sorted(texts) == sorted([*label, r"3.378 $\mathrm{fb^{-1}}$ (13 TeV)"])


@pytest.mark.parametrize("layout", [None, "constrained"])
@pytest.mark.parametrize("top", [30.0, 5e7])
def test_the_label_lands_where_mplhep_puts_it_after_its_own_draws(
    tmp_path: Path, layout: str | None, top: float
) -> None:
    """data_label spares mplhep's draws (data hidden, no canvas draw without a layout engine):
    the saved files are the bytes of a figure labelled by mplhep with every draw it makes."""
    label = DATA_LABELS[DataOrigin.SYNTHETIC]
    files = []
    for name in ("package", "mplhep"):
        with paper_style():
            fig, ax = plt.subplots(layout=layout)
            ax.stairs([0.2 * top, top, 0.5 * top], [0.0, 1.0, 2.0, 3.0], label="ttbar")
            ax.set_xlabel("$H_T$ [GeV]")
            ax.legend()
            if name == "package":
                data_label(ax)
            else:
                size = plt.rcParams["font.size"]
                hep.label.exp_label(
                    exp=label.exp,
                    llabel=label.text,
                    lumi=f"{LUMI_FB:.3f}",
                    com=COM_TEV,
                    ax=ax,
                    fontsize=(size * 1.3, size, size / 1.1, size / 1.3),
                    scilocator_adjust=has_offset_text(ax),
                )
            files.append(save_figure(fig, tmp_path / f"{name}-{layout}-{top:g}"))
            plt.close(fig)
    for ours, theirs in zip(*files, strict=True):
        assert ours.read_bytes() == theirs.read_bytes(), ours.name


@pytest.mark.parametrize(
    ("top", "offset"), [(1.0, False), (3e4, False), (5e7, True), (1000.001, True)]
)
def test_offset_text_is_found_without_drawing(top: float, offset: bool) -> None:
    """A power of ten (5e7) or an offset (ticks 1000.0000-1000.0010) above the y tick labels,
    which mplhep places the label beside; none for plain tick labels."""
    with paper_style():
        fig, ax = plt.subplots()
        ax.set_ylim(top - 0.001 if top == 1000.001 else 0.0, top)
        assert has_offset_text(ax) is offset
        fig.canvas.draw()
        assert bool(ax.yaxis.get_offset_text().get_text()) is offset
    plt.close(fig)


def test_mc_stat_parameters_are_told_apart() -> None:
    assert is_mc_stat("staterror_4j1b-CR[9]")
    assert is_mc_stat("staterror_4j2b SR[0]")
    assert not is_mc_stat("ttbar_norm")
    assert not is_mc_stat("staterror_4j1b-CR")


def _fit_results(labels: list[str], corr: np.ndarray) -> cabinetry.fit.FitResults:
    n = len(labels)
    return cabinetry.fit.FitResults(
        np.arange(n, dtype=float), np.full(n, 0.5), labels, corr, 10.0, 0.5
    )


def test_figure_copy_leaves_out_mc_stat_and_excluded_and_the_results_alone() -> None:
    labels = ["a", "staterror_CR[1]", "c", "d"]
    results = _fit_results(labels, np.arange(16.0).reshape(4, 4))
    copy = without_mc_stat(results, exclude=["d"])
    assert copy.labels == ["a", "c"]
    np.testing.assert_array_equal(copy.corr_mat, [[0.0, 2.0], [8.0, 10.0]])
    np.testing.assert_array_equal(copy.bestfit, [0.0, 2.0])
    assert copy.best_twice_nll == 10.0
    assert results.labels == labels
    ranking = cabinetry.fit.RankingResults(
        *(np.arange(3.0),) * 2, ["b", "staterror_SR[0]", "e"], *(np.ones(3),) * 4
    )
    assert without_mc_stat(ranking).labels == ["b", "e"]
    np.testing.assert_array_equal(without_mc_stat(ranking).bestfit, [0.0, 2.0])


def test_correlation_matrix_shows_the_correlated_systematics_only() -> None:
    labels = ["Luminosity", "staterror_CR[0]", "ME_var", "PS_var", "ttbar_norm"]
    corr = np.eye(5)
    corr[0, 4] = corr[4, 0] = -0.5  # shown
    corr[1, 2] = corr[2, 1] = 0.9  # MC stat.: left out, so ME_var has no correlation left
    corr[3, 4] = corr[4, 3] = 0.05  # below the pruning threshold
    with paper_style(small=True):
        fig = correlation_figure(_fit_results(labels, corr))
    shown = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    plt.close(fig)
    assert shown == ["Luminosity", "ttbar_norm"]


def test_default_fit_correlation_matrix_is_legible(default_run: dict) -> None:
    """The default fit's matrix: no MC-stat. terms, at most 15 parameters."""
    params = default_run["results"]["parameters"]
    results = _fit_results(
        params["labels"], np.asarray(default_run["results"]["correlation_matrix"])
    )
    with paper_style(small=True):
        fig = correlation_figure(results)
    shown = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    plt.close(fig)
    assert 2 <= len(shown) <= 15
    assert not any(name.startswith("staterror") for name in shown)
