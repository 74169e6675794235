"""Non-negative expected yields (agc.stats.positivity): clipped templates, physical bounds."""

from __future__ import annotations

import copy

import numpy as np
import pyhf
import pytest

from agc.stats.positivity import apply_bounds, clip_templates, physical_bounds


def _spec(lo: list[float], hi: list[float], other: list[float]) -> dict:
    """One channel, two bins: a sample with a HistoSys ``shape`` (nominal [10, 2]) and a second
    sample (``other``) without systematics; a free normalisation ``mu`` on the first."""
    return {
        "channels": [
            {
                "name": "SR",
                "samples": [
                    {
                        "name": "signal",
                        "data": [10.0, 2.0],
                        "modifiers": [
                            {"name": "mu", "type": "normfactor", "data": None},
                            {
                                "name": "shape",
                                "type": "histosys",
                                "data": {"lo_data": lo, "hi_data": hi},
                            },
                        ],
                    },
                    {"name": "other", "data": other, "modifiers": []},
                ],
            }
        ],
        "observations": [{"name": "SR", "data": [12.0, 3.0]}],
        "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}],
        "version": "1.0.0",
    }


def test_negative_template_bins_are_clipped_and_named() -> None:
    ws = _spec(lo=[9.0, -0.5], hi=[11.0, 4.5], other=[1.0, 1.0])
    clipped = clip_templates(ws)
    assert clipped == ["SR/signal/shape lo_data: bins [1]"]
    data = ws["channels"][0]["samples"][0]["modifiers"][1]["data"]
    assert data == {"lo_data": [9.0, 0.0], "hi_data": [11.0, 4.5]}
    assert clip_templates(ws) == []  # nothing left to clip


def test_bounds_keep_every_bin_total_non_negative() -> None:
    # bin 2: nominal 2 + other 1, down template 0.5 -> linear below -1: 3 + 1.5 * alpha <= 0
    # for alpha <= -2; bin 1 never goes negative within [-5, 5].
    ws = _spec(lo=[9.0, 0.5], hi=[11.0, 3.5], other=[1.0, 1.0])
    bounds = physical_bounds(ws)
    assert bounds == {"shape": (-1.99, 5.0)}
    model = pyhf.Workspace(ws).model(
        modifier_settings={"histosys": {"interpcode": "code4p"}, "normsys": {"interpcode": "code4"}}
    )
    by_name = dict(zip(model.config.par_order, range(len(model.config.par_order)), strict=True))
    pars = model.config.suggested_init()
    for alpha, finite in ((bounds["shape"][0], True), (-2.01, False)):
        pars[model.config.par_slice("shape").start] = alpha
        expected = model.expected_actualdata(pars)
        assert bool(np.all(expected >= 0)) is finite, alpha
    assert "mu" in by_name


def test_parameters_that_stay_physical_keep_the_default_bounds() -> None:
    ws = _spec(lo=[9.0, 1.8], hi=[11.0, 2.2], other=[1.0, 1.0])
    assert physical_bounds(ws) == {}


def test_bounds_go_into_every_measurement_and_pyhf_uses_them() -> None:
    ws = _spec(lo=[9.0, 0.5], hi=[11.0, 3.5], other=[1.0, 1.0])
    ws["measurements"][0]["config"]["parameters"] = [{"name": "mu", "bounds": [[0.0, 5.0]]}]
    before = copy.deepcopy(ws)
    apply_bounds(ws, physical_bounds(ws))
    assert ws["measurements"][0]["config"]["parameters"] == [
        {"name": "mu", "bounds": [[0.0, 5.0]]},
        {"name": "shape", "bounds": [[-1.99, 5.0]]},
    ]
    model = pyhf.Workspace(ws).model()
    shape = model.config.par_slice("shape").start
    assert tuple(model.config.suggested_bounds()[shape]) == (-1.99, 5.0)
    assert before["channels"] == ws["channels"]


@pytest.mark.parametrize(("other", "low"), [([0.0, 0.0], -1.33), ([5.0, 5.0], -4.66)])
def test_bound_follows_the_other_samples(other: list[float], low: float) -> None:
    """The bound is where the bin's total reaches 0 (2 + other - 1.5 |alpha|): more background,
    wider range."""
    assert physical_bounds(_spec(lo=[9.0, 0.5], hi=[11.0, 3.5], other=other))["shape"][0] == low
