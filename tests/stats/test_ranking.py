"""The impact ranking (agc.stats.ranking): cabinetry's definition, any worker count."""

from __future__ import annotations

import io
import os
import sys
from typing import Any

import cabinetry
import numpy as np
import pytest
from stats_helpers import small_workspace_spec

from agc.stats.fit import fit, model_and_data
from agc.stats.migrad import SETTINGS
from agc.stats.ranking import ranking, ranking_pool
from agc.stats.reproducibility import IMPACT_POI_SIGMA, IMPACT_REL


def _ranking(spec: dict, workers: int, meanwhile=None) -> tuple:
    model, data = model_and_data(spec)
    fit_results, main = fit(model, data)
    seed = main.seed
    with ranking_pool(spec, workers) as pool:
        results, fits = ranking(model, fit_results, seed, pool, meanwhile=meanwhile)
    return model, data, fit_results, main, results, fits


def test_impacts_follow_cabinetry_ranking_for_any_worker_count() -> None:
    spec = small_workspace_spec()
    model, data, fit_results, main, serial, fits = _ranking(spec, workers=1)
    assert main.migrad.attempt == 0
    _, _, _, _, parallel, parallel_fits = _ranking(spec, workers=2)
    for field in serial._fields:
        assert np.array_equal(
            np.asarray(getattr(serial, field)), np.asarray(getattr(parallel, field))
        ), field
    assert fits == parallel_fits  # same calls, EDM and attempt in every fit
    assert len(fits) == 3 * 4
    assert all(f.attempt == -1 for f in fits)  # every seeded fit converged
    reference = cabinetry.fit.ranking(
        model,
        data,
        fit_results=fit_results,
        init_pars=list(fit_results.bestfit),
        strategy=1,
        tolerance=SETTINGS.tolerance,
    )
    assert serial.labels == reference.labels
    assert sorted(serial.labels) == ["bkg_norm", "shape", "sig_norm"]
    # Two minimisations to the same EDM goal agree within the reproducibility contract of
    # the impacts (agc.stats.reproducibility), not bit for bit: cabinetry starts cold.
    sigma_poi = fit_results.uncertainty[model.config.poi_index]
    for field in ("prefit_up", "prefit_down", "postfit_up", "postfit_down"):
        ours, theirs = getattr(serial, field), getattr(reference, field)
        allowed = IMPACT_POI_SIGMA * sigma_poi + IMPACT_REL * np.abs(theirs)
        assert np.all(np.abs(ours - theirs) <= allowed), (field, ours, theirs)
    assert np.all(np.abs(serial.prefit_up) > 0)


@pytest.mark.parametrize("workers", [1, 2])
def test_meanwhile_runs_once_and_changes_nothing(workers: int) -> None:
    """``meanwhile`` (the fit stage's plots) runs once, here, while the pool fits (ProcessPool
    submits every task before it returns), and the impacts are those of a ranking without it."""
    seen = []
    spec = small_workspace_spec()
    *_, with_plots, _ = _ranking(spec, workers, meanwhile=lambda: seen.append(os.getpid()))
    *_, without, _ = _ranking(spec, workers)
    assert seen == [os.getpid()]
    for field in without._fields:
        assert np.array_equal(np.asarray(getattr(with_plots, field)), getattr(without, field))


@pytest.mark.parametrize("workers", [1, 2])
def test_the_ranking_counts_its_parameters_on_the_progress_bar(
    workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", stream)  # the progress bar's stream
    *_, results, _ = _ranking(small_workspace_spec(), workers)
    lines = stream.getvalue().splitlines()
    total = len(results.labels)
    assert lines[0].startswith(f"[agc progress] impact ranking: 0/{total} parameters (0 %)")
    assert lines[-1].startswith(f"[agc progress] impact ranking: {total}/{total} parameters")


def test_refit_falls_back_when_the_seeded_fit_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """A seeded impact fit that does not converge is redone with migrad's attempts, and says so."""
    import agc.stats.migrad as migrad_module

    spec = small_workspace_spec()
    model, data = model_and_data(spec)
    fit_results, main = fit(model, data)
    index = model.config.par_names.index("shape")
    good = migrad_module.refit(main.hesse, model, data, index, fit_results.bestfit[index] + 1.0)
    assert good.attempt == -1

    class NeverValid:
        def __init__(self, minuit: Any) -> None:
            self._minuit = minuit

        def __getattr__(self, name: str) -> Any:
            return False if name == "valid" else getattr(self._minuit, name)

    real_deepcopy = migrad_module.copy.deepcopy
    monkeypatch.setattr(migrad_module.copy, "deepcopy", lambda m: NeverValid(real_deepcopy(m)))
    fallback = migrad_module.refit(main.hesse, model, data, index, fit_results.bestfit[index] + 1.0)
    assert fallback.attempt == 0
    assert fallback.nfcn > good.nfcn
    assert abs(fallback.values[model.config.poi_index] - good.values[model.config.poi_index]) < 1e-4
