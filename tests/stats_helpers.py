"""Test helper: a small, deterministic, realistic ``histograms.root`` for the statistical model.

It carries every name the model needs (``{region}_{process}``, ``{region}_{process}_{variation}``,
``{region}_pseudodata``) with the fill binning of the card (25 bins, 50-550 GeV), yields from the
card's table of normalised yields and smooth analytic shapes (m_bjj peaking at the top mass in
4j2b, H_T peaking near 260 GeV in 4j1b). Variation sizes follow the card (ME_var +19 %, PS_var
-4 %, scaleup +5 %, scaledown -8 %, pt_scale_up +5 %, btag_var_0_up +21 %, wjets scale_var
+-2.5 %). No random numbers: the same call writes the same bytes.

Used by tests/stats/test_model.py, tests/stats/test_fit.py and tests/plots/test_figures.py while
(or where) the histogram stage's real output is not needed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import hist
import numpy as np

from agc.core import physics
from agc.core.rootio import reproducible_recreate
from agc.plots.figures import fit_plots
from agc.stats.fit import run_fit
from agc.stats.model import build_workspace

#: The card's normalised yields per region and process (ANALYSIS.md, last table).
CARD_YIELDS: dict[str, dict[str, float]] = {
    "4j1b": {
        "ttbar": 23448.0,
        "wjets": 5965.0,
        "single_top_tW": 1785.0,
        "single_top_t_chan": 558.0,
        "single_top_s_chan": 8.1,
    },
    "4j2b": {
        "ttbar": 52429.0,
        "wjets": 1992.0,
        "single_top_tW": 2360.0,
        "single_top_t_chan": 1004.0,
        "single_top_s_chan": 18.8,
    },
}

#: Average event weight per process: sets the MC statistical variance (sumw2 = w * sumw).
MEAN_WEIGHT: dict[str, float] = {
    "ttbar": 0.08,
    "wjets": 1.6,
    "single_top_tW": 0.05,
    "single_top_t_chan": 0.12,
    "single_top_s_chan": 0.01,
}

ALT_TTBAR = {"scaledown": 0.92, "scaleup": 1.05, "ME_var": 1.19, "PS_var": 0.96}
BTAG_SIZE = (0.21, 0.12, 0.07, 0.04)


def _centres() -> np.ndarray:
    n, lo, hi = physics.FILL_BINNING
    edges = np.linspace(lo, hi, n + 1)
    return 0.5 * (edges[1:] + edges[:-1])


def _shape(region: str, process: str, scale: float = 1.0, width: float = 1.0) -> np.ndarray:
    """Unit-normalised analytic shape on the fill bins; ``scale`` stretches the observable."""
    x = _centres() / scale
    if region == "4j2b" and process.startswith(("ttbar", "single_top", "zprime")):
        peak, sigma = (180.0, 30.0 * width) if not process.startswith("zprime") else (300.0, 80.0)
        core = np.exp(-0.5 * ((x - peak) / sigma) ** 2)
        tail = (x / 100.0) ** 2 * np.exp(-x / 90.0)
        y = 0.55 * core / core.sum() + 0.45 * tail / tail.sum()
    else:
        mode = 260.0 if process != "wjets" else 200.0
        sigma = 0.35 * width
        y = np.exp(-0.5 * ((np.log(x) - math.log(mode) - sigma**2) / sigma) ** 2) / x
    return y / y.sum()


def _tilt(slope: float) -> np.ndarray:
    x = _centres()
    return 1.0 + slope * (x - 300.0) / 250.0


def synthetic_contents(
    signals: Iterable[str] = (),
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Name -> (sum of weights, sum of squared weights) per fill bin for every histogram."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for region, yields in CARD_YIELDS.items():
        processes = dict(yields)
        for signal in signals:
            processes[signal] = 0.02 * yields["ttbar"]
        for process, total in processes.items():
            w = MEAN_WEIGHT.get(process, 0.01)
            nominal = total * _shape(region, process)

            def put(name: str, values: np.ndarray, weight: float = w) -> None:
                out[name] = (values, weight * values)

            put(f"{region}_{process}", nominal)
            put(f"{region}_{process}_pt_scale_up", 1.05 * total * _shape(region, process, 1.03))
            put(f"{region}_{process}_pt_res_up", 0.99 * total * _shape(region, process, 1.0, 1.12))
            for i, size in enumerate(BTAG_SIZE):
                s = size if region == "4j2b" else size / 2
                put(
                    f"{region}_{process}_btag_var_{i}_up", (1 + s) * nominal * _tilt(0.02 * (i + 1))
                )
                put(
                    f"{region}_{process}_btag_var_{i}_down",
                    (1 - s) * nominal * _tilt(-0.02 * (i + 1)),
                )
            if process == "wjets":
                for name, factor in physics.WJETS_SCALE_VAR.items():
                    put(f"{region}_wjets_{name}", factor * nominal)
            if process == "ttbar":
                for variation, factor in ALT_TTBAR.items():
                    slope = {"ME_var": 0.06, "PS_var": -0.04}.get(variation, 0.02)
                    put(f"{region}_ttbar_{variation}", factor * nominal * _tilt(slope))
        me, me_var = out[f"{region}_ttbar_ME_var"]
        ps, ps_var = out[f"{region}_ttbar_PS_var"]
        wj, wj_var = out[f"{region}_wjets"]
        out[f"{region}_pseudodata"] = ((me + ps) / 2 + wj, (me_var + ps_var) / 4 + wj_var)
    return out


def write_synthetic_histograms(
    path: str | Path, *, signals: Iterable[str] = (), drop: Iterable[str] = ()
) -> Path:
    """Write the synthetic ``histograms.root`` (TH1D, 25 bins 50-550 GeV, sumw2) to ``path``.

    ``signals`` adds BSM signal processes (e.g. ``"zprime_1000"``) with all object/weight
    variations; ``drop`` leaves out the named histograms (to test missing-histogram errors).
    """
    n, lo, hi = physics.FILL_BINNING
    dropped = set(drop)
    contents = synthetic_contents(signals)
    with reproducible_recreate(path) as sink:
        for name in sorted(contents):
            if name in dropped:
                continue
            values, variances = contents[name]
            h = hist.Hist(
                hist.axis.Regular(n, lo, hi, name="observable"), storage=hist.storage.Weight()
            )
            h.view()["value"] = values
            h.view()["variance"] = variances
            sink[name] = h
    return Path(path)


def rounded(value: Any, digits: int = 8) -> Any:
    """``value`` with every float rounded to ``digits`` significant digits (for data_regression)."""
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v, digits) for v in value]
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    return value


# ----------------------------------------------------------------------------- default chain

REPO = Path(__file__).resolve().parents[1]
CABINETRY_CONFIG = REPO / "inputs" / "cabinetry.yaml"
_RUNS: dict[str, dict[str, Any]] = {}


def default_histograms(request: Any, base: Path) -> tuple[Path, str]:
    """The default histograms.root and its source: "embedded" or "synthetic".

    "embedded": the histograms of the embedded default dataset (conftest's
    ``embedded_histograms``, made once per session), once the histogram stage and the generator
    exist; until then the synthetic histograms of this module.
    """
    try:
        from agc.dataset.generate import generate_dataset  # noqa: F401 (optional stage)
        from agc.processing.histograms import run_histograms  # noqa: F401 (optional stage)
    except ImportError:
        return write_synthetic_histograms(base / "histograms.root"), "synthetic"
    return request.getfixturevalue("embedded_histograms"), "embedded"


def default_stats_run(request: Any, tmp_path_factory: Any) -> dict[str, Any]:
    """histograms -> workspace -> fit with impacts and plots, once per test session.

    Shared by tests/stats/test_fit.py and tests/plots/test_figures.py (module-level cache: the
    expensive impact ranking runs once). Prints the time of each stage.
    """
    if "default" not in _RUNS:
        base = tmp_path_factory.mktemp("stats_default")
        t0 = time.perf_counter()
        histograms, source = default_histograms(request, base)
        t1 = time.perf_counter()
        workspace = base / "workspace.json"
        build_workspace(histograms, workspace, config=CABINETRY_CONFIG)
        t2 = time.perf_counter()
        run = run_fit(workspace, base / "fit_results.json")
        plots = fit_plots(run, base / "plots", config=CABINETRY_CONFIG)
        results = run.summary.to_dict()
        t3 = time.perf_counter()
        poi = results["poi"]
        print(
            f"\n[stats] source={source}: histograms {t1 - t0:.1f} s, model {t2 - t1:.1f} s, "
            f"fit+impacts+plots {t3 - t2:.1f} s; {poi['name']} = {poi['bestfit']:.4f} +- {poi['uncertainty']:.4f}"
        )
        _RUNS["default"] = {
            "source": source,
            "base": base,
            "histograms": histograms,
            "workspace": workspace,
            "results": results,
            "plots": base / "plots",
            "plots_written": plots,
        }
    return _RUNS["default"]


def small_workspace_spec() -> dict[str, Any]:
    """Two channels x three bins, a free signal strength and three constrained nuisances."""
    signal = [5.0, 12.0, 6.0]
    background = [50.0, 40.0, 30.0]
    return {
        "channels": [
            {
                "name": name,
                "samples": [
                    {
                        "name": "signal",
                        "data": [scale * x for x in signal],
                        "modifiers": [
                            {"name": "mu", "type": "normfactor", "data": None},
                            {
                                "name": "sig_norm",
                                "type": "normsys",
                                "data": {"hi": 1.1, "lo": 0.92},
                            },
                            {
                                "name": "shape",
                                "type": "histosys",
                                "data": {
                                    "hi_data": [scale * x * 1.05 for x in signal],
                                    "lo_data": [scale * x * 0.96 for x in signal],
                                },
                            },
                        ],
                    },
                    {
                        "name": "background",
                        "data": [scale * x for x in background],
                        "modifiers": [
                            {
                                "name": "bkg_norm",
                                "type": "normsys",
                                "data": {"hi": 1.05, "lo": 0.95},
                            }
                        ],
                    },
                ],
            }
            for name, scale in (("A", 1.0), ("B", 0.5))
        ],
        "observations": [
            {"name": "A", "data": [58.0, 57.0, 38.0]},
            {"name": "B", "data": [26.0, 28.0, 19.0]},
        ],
        "measurements": [{"name": "small", "config": {"poi": "mu", "parameters": []}}],
        "version": "1.0.0",
    }


def assert_same_model(ours: tuple[Any, list[float]], theirs: tuple[Any, list[float]]) -> None:
    """Two pyhf (model, data) pairs are one model: the same data, specification and parameter
    order, and the same log-likelihood bit for bit at two parameter points."""
    (model, data), (other, other_data) = ours, theirs
    assert data == other_data
    assert model.spec == other.spec
    assert model.config.par_order == other.config.par_order
    for pars in (model.config.suggested_init(), np.linspace(0.5, 1.5, model.config.npars)):
        assert model.logpdf(pars, data) == other.logpdf(pars, other_data)
