"""The exact derivatives of -2 ln L (agc.stats.autodiff) and the fits that use them."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import numpy as np
import pyhf
import pytest
from stats_helpers import small_workspace_spec

from agc.stats.autodiff import XLA_ONE_THREAD, derivatives, import_jax
from agc.stats.fit import model_and_data, run_fit
from agc.stats.migrad import configure_backend
from agc.stats.reproducibility import fit_deviations, violations

pytestmark = pytest.mark.jax


def test_jax_gets_the_one_thread_flags_beside_the_user_s(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false")
    import_jax()
    import_jax()
    expected = ["--xla_cpu_enable_fast_math=false", *XLA_ONE_THREAD]
    assert os.environ["XLA_FLAGS"].split() == expected


def _spec_with_staterror() -> dict:
    """The small workspace with an MC-statistics gamma per bin on the background (the kind of
    parameter most of the ML model's are)."""
    spec = copy.deepcopy(small_workspace_spec())
    for channel in spec["channels"]:
        background = channel["samples"][1]
        errors = [0.1 * x for x in background["data"]]
        background["modifiers"].append({"name": "staterror", "type": "staterror", "data": errors})
    return spec


def _twice_nll(model, data, pars) -> float:
    return float(-2.0 * model.logpdf(np.asarray(pars, dtype=float), data)[0])


def _points(model) -> list[np.ndarray]:
    """The suggested start and two points around it, inside the bounds."""
    start = np.asarray(model.config.suggested_init(), dtype=float)
    rng = np.random.default_rng(7)
    return [start] + [start + 0.05 * rng.standard_normal(len(start)) for _ in range(2)]


@pytest.fixture(scope="module")
def small() -> tuple:
    """(spec, numpy model, data, derivatives, -2 ln L at :func:`_points` before and after the
    derivatives were compiled)."""
    configure_backend()
    spec = _spec_with_staterror()
    model, data = model_and_data(spec)
    before = [_twice_nll(model, data, p) for p in _points(model)]
    exact = derivatives(model, data)
    after = [_twice_nll(model, data, p) for p in _points(model)]
    return spec, model, data, exact, (before, after)


def test_gradient_is_the_central_difference_of_pyhfs_numpy_likelihood(small) -> None:
    _, model, data, exact, _ = small
    step = 1e-5
    for point in _points(model):
        numeric = [
            (_twice_nll(model, data, point + step * e) - _twice_nll(model, data, point - step * e))
            / (2 * step)
            for e in np.eye(len(point))
        ]
        np.testing.assert_allclose(exact.gradient(point), numeric, rtol=1e-6, atol=1e-6)


def test_hessian_is_the_central_difference_of_the_gradient_and_exactly_symmetric(small) -> None:
    _, model, _, exact, _ = small
    step = 1e-6
    for point in _points(model):
        hessian = exact.hessian(point)
        columns = [
            (exact.gradient(point + step * e) - exact.gradient(point - step * e)) / (2 * step)
            for e in np.eye(len(point))
        ]
        np.testing.assert_allclose(hessian, np.array(columns).T, rtol=1e-6, atol=1e-6)
        assert np.array_equal(hessian, hessian.T)


def test_pyhf_is_left_on_numpy_and_existing_models_unchanged(small) -> None:
    before, after = small[-1]
    tensorlib, optimizer = pyhf.get_backend()
    assert tensorlib.name == "numpy"
    assert optimizer.name == "minuit"
    assert after == before


def test_derivatives_are_those_of_the_model_built_with_the_jax_backend(small) -> None:
    """Precomputing the modifiers' tensors inside the trace computes the same function as
    building the model with pyhf's JAX backend (its documented use), to rounding."""
    import jax

    spec, model, _, exact, _ = small
    backend = pyhf.get_backend()
    pyhf.set_backend("jax")
    try:
        jax_model, jax_data = model_and_data(spec)
        observed = pyhf.tensorlib.astensor(jax_data)

        def twice_nll(pars):
            return -2.0 * jax_model.logpdf(pars, observed)[0]

        gradient, hessian = jax.jit(jax.grad(twice_nll)), jax.jit(jax.hessian(twice_nll))
        for point in _points(model):
            np.testing.assert_allclose(exact.gradient(point), gradient(point), rtol=1e-12)
            np.testing.assert_allclose(exact.hessian(point), hessian(point), rtol=1e-12)
    finally:
        pyhf.set_backend(*backend)


def _fit(spec: dict, folder: Path, name: str, exact: bool) -> dict:
    workspace = folder / "workspace.json"
    workspace.write_text(json.dumps(spec))
    out = folder / f"{name}.json"
    run_fit(workspace, out, impacts=False, exact_derivatives=exact)
    return json.loads(out.read_text())


def test_exact_fit_meets_the_contract_with_the_finite_difference_fit(tmp_path: Path) -> None:
    """The same minimum and covariance within the reproducibility contract; MIGRAD needs a
    fraction of the calls; the record names the derivatives; a second run gives the same
    bytes."""
    spec = _spec_with_staterror()
    numeric = _fit(spec, tmp_path, "numeric", exact=False)
    exact = _fit(spec, tmp_path, "exact", exact=True)
    assert violations(fit_deviations(exact, numeric)) == []
    assert exact["fit"]["derivatives"].startswith("exact")
    assert "jax" in exact["fit"]["versions"]
    assert "derivatives" not in numeric["fit"]
    calls = exact["fit"]["diagnostics"]["migrad_calls"]
    assert calls < numeric["fit"]["diagnostics"]["migrad_calls"] / 2
    again = _fit(spec, tmp_path, "again", exact=True)
    assert again == exact


def test_exact_derivatives_are_refused_with_impacts(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace.json"
    workspace.write_text(json.dumps(small_workspace_spec()))
    with pytest.raises(ValueError, match="without impacts"):
        run_fit(workspace, tmp_path / "fit.json", impacts=True, exact_derivatives=True)
