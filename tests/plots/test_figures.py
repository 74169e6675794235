"""Paper plots (agc.plots.figures): image regression, reproducible files, style handling."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pytest
from stats_helpers import default_stats_run

from agc.core import physics
from agc.plots.figures import paper_style, region_axis, save_figure

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
