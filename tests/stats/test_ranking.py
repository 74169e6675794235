"""The impact ranking (agc.stats.ranking): cabinetry's definition, any worker count."""

from __future__ import annotations

import cabinetry
import numpy as np

from agc.stats.fit import fit, model_and_data
from agc.stats.fitsettings import FIT_TOLERANCE
from agc.stats.ranking import ranking


def _small_model_spec() -> dict:
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


def test_impacts_follow_cabinetry_ranking_for_any_worker_count() -> None:
    spec = _small_model_spec()
    model, data = model_and_data(spec)
    fit_results, attempt = fit(model, data)
    assert attempt == 0
    serial, _ = ranking(spec, model, fit_results, workers=1)
    parallel, _ = ranking(spec, model, fit_results, workers=2)
    for field in serial._fields:
        assert np.array_equal(
            np.asarray(getattr(serial, field)), np.asarray(getattr(parallel, field))
        ), field
    reference = cabinetry.fit.ranking(
        model,
        data,
        fit_results=fit_results,
        init_pars=list(fit_results.bestfit),
        strategy=1,
        tolerance=FIT_TOLERANCE,
    )
    assert serial.labels == reference.labels
    assert sorted(serial.labels) == ["bkg_norm", "shape", "sig_norm"]
    for field in ("prefit_up", "prefit_down", "postfit_up", "postfit_down"):
        np.testing.assert_allclose(
            getattr(serial, field), getattr(reference, field), rtol=1e-6, atol=1e-9
        )
    assert np.all(np.abs(serial.prefit_up) > 0)
