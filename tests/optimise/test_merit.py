"""The figure of merit: equal to pyhf's model (code4/code4p, Asimov Hessian), and its gradient."""

from __future__ import annotations

import jax
import numpy as np
import pyhf
import pytest

from agc.optimise.merit import ModelInputs, asimov_hessian, poi_uncertainty, pyhf_spec


def _inputs(scale: float = 1.0, seed: int = 3) -> ModelInputs:
    rng = np.random.default_rng(seed)
    n_samples, n_regions, n_bins, n_syst = 3, 2, 4, 3
    nominal = rng.uniform(5, 50, (n_samples, n_regions, n_bins))
    up = nominal * rng.uniform(0.85, 1.2, (n_syst, n_samples, n_regions, n_bins))
    down = nominal * rng.uniform(0.85, 1.2, (n_syst, n_samples, n_regions, n_bins))
    sumw2 = nominal * rng.uniform(0.05, 0.3, nominal.shape)
    return ModelInputs(
        ("ttbar", "b1", "b2"), ("s0", "s1", "s2"), nominal * scale, sumw2, up * scale, down * scale
    )


def _pyhf_sigma(inputs: ModelInputs) -> float:
    """sigma(ttbar_norm) of pyhf's own model of :func:`pyhf_spec` (JAX backend, Asimov)."""
    backend = pyhf.get_backend()
    pyhf.set_backend("jax")
    try:
        model = pyhf.Model(
            pyhf_spec(inputs, ("r0", "r1")),
            poi_name="ttbar_norm",
            modifier_settings={
                "normsys": {"interpcode": "code4"},
                "histosys": {"interpcode": "code4p"},
            },
        )
        pars = jax.numpy.asarray(model.config.suggested_init())
        data = model.expected_data(pars)
        hessian = jax.jit(jax.hessian(lambda p: -model.logpdf(p, data)[0]))(pars)
        index = model.config.poi_index
        return float(np.sqrt(np.linalg.inv(np.asarray(hessian))[index, index]))
    finally:
        pyhf.set_backend(*backend)


def test_poi_uncertainty_is_pyhfs() -> None:
    inputs = _inputs()
    assert float(poi_uncertainty(inputs)) == pytest.approx(_pyhf_sigma(inputs), rel=1e-10)


def test_fisher_form_is_the_autodiff_hessian() -> None:
    """J^T diag(1/lambda) J + constraints equals the Hessian of -ln L at the Asimov point."""
    inputs = _inputs(seed=5)
    sigma = float(np.sqrt(np.linalg.inv(np.asarray(asimov_hessian(inputs)))[0, 0]))
    assert float(poi_uncertainty(inputs)) == pytest.approx(sigma, rel=1e-10)


def test_gradient_matches_finite_difference() -> None:
    """d sigma / d (a common scale of the templates) against a central difference."""

    def sigma(scale: float) -> float:
        return poi_uncertainty(_inputs(scale))

    grad = float(jax.grad(sigma)(1.0))
    h = 1e-5
    finite = (float(sigma(1 + h)) - float(sigma(1 - h))) / (2 * h)
    assert grad == pytest.approx(finite, rel=1e-6)
    assert grad < 0  # more events, smaller uncertainty


def test_empty_sample_region_adds_nothing() -> None:
    """A sample without yield in a region (no normsys ratio) leaves sigma finite."""
    inputs = _inputs()
    nominal = np.array(inputs.nominal)
    up, down = np.array(inputs.up), np.array(inputs.down)
    nominal[2, 1], up[:, 2, 1], down[:, 2, 1] = 0.0, 0.0, 0.0
    emptied = ModelInputs(inputs.samples, inputs.systematics, nominal, inputs.sumw2, up, down)
    assert np.isfinite(float(poi_uncertainty(emptied)))
