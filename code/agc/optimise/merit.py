"""The figure of merit: the expected uncertainty on ``ttbar_norm`` from the model's Hessian.

The model is the main measurement's (inputs/cabinetry.yaml) as cabinetry hands it to pyhf: per
region and sample the nominal yields (11 bins); ``ttbar_norm`` (normfactor on ttbar); per region
and bin a ``staterror`` gamma constrained by ``sqrt(sum sumw2) / sum yields`` over the samples;
every NormPlusShape systematic split into a ``normsys`` (the ratio of the varied to the nominal
yield of the region) and a ``histosys`` (the varied shape scaled to the nominal yield), a
one-sided one symmetrised as ``down = 2 nominal - up`` (a ratio below :data:`MIN_NORM_RATIO`,
possible only for a variation beyond twice the nominal yield, is held there); the luminosity as a ``normsys`` of
+/- 3 %. The interpolations are pyhf's ``code4`` (normsys) and ``code4p`` (histosys), as cabinetry
sets them. :func:`pyhf_spec` writes the same model as a pyhf specification, with which the tests
compare.

pyhf's own model cannot be built from traced JAX arrays, so the expected yields and ``-ln L``
are written here with ``jax.numpy`` (formulas of pyhf's interpolators for |alpha| < 1). With
Asimov data (the model's expectation at the nominal parameters) the maximum-likelihood point is
the nominal parameters, so no fit is needed: sigma(ttbar_norm) = sqrt((H^-1)_00) with H the
Hessian of ``-ln L`` there (parameters: ttbar_norm, one alpha per systematic, one gamma per bin).

Shapes: ``nominal``, ``sumw2``: (samples, regions, bins); ``up``, ``down``: (systematics,
samples, regions, bins); yields in events (normalised MC).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

#: pyhf's code4 polynomial coefficients (alpha0 = 1): rows a1..a6, columns as its ``b`` vector.
_CODE4_INVERSE = np.array(
    [
        [15 / 16, -15 / 16, -7 / 16, -7 / 16, 1 / 16, -1 / 16],
        [3 / 2, 3 / 2, -9 / 16, 9 / 16, 1 / 16, 1 / 16],
        [-5 / 8, 5 / 8, 5 / 8, 5 / 8, -1 / 8, 1 / 8],
        [-3 / 2, -3 / 2, 7 / 8, -7 / 8, -1 / 8, -1 / 8],
        [3 / 16, -3 / 16, -3 / 16, -3 / 16, 1 / 16, -1 / 16],
        [1 / 2, 1 / 2, -5 / 16, 5 / 16, 1 / 16, 1 / 16],
    ]
)


#: Smallest varied/nominal yield ratio of a normsys: a symmetrised variation larger than the
#: nominal yield would give a negative ratio (no logarithm for code4); it is held at this.
MIN_NORM_RATIO = 1e-3


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=["nominal", "sumw2", "up", "down"],
    meta_fields=["samples", "systematics"],
)
@dataclass(frozen=True)
class ModelInputs:
    """The model's templates (arrays of :mod:`jax.numpy` or numpy, float64).

    ``samples``: sample names in order, the POI's sample (ttbar) first; ``systematics``: names
    of the up/down pairs; shapes in the module docstring.
    """

    samples: tuple[str, ...]
    systematics: tuple[str, ...]
    nominal: Any
    sumw2: Any
    up: Any
    down: Any


def _safe_ratio(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    """``numerator / denominator``, 1 where the denominator is 0 (no yield: no effect)."""
    ok = denominator > 0
    return jnp.where(ok, numerator / jnp.where(ok, denominator, 1.0), 1.0)


def _split(inputs: ModelInputs) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """cabinetry's NormPlusShape split: (normsys hi, lo) per (syst, sample, region) and the
    histosys (up, down) templates scaled to the nominal yield, per bin."""
    total = jnp.sum(inputs.nominal, axis=-1)
    hi = jnp.maximum(_safe_ratio(jnp.sum(inputs.up, axis=-1), total), MIN_NORM_RATIO)
    lo = jnp.maximum(_safe_ratio(jnp.sum(inputs.down, axis=-1), total), MIN_NORM_RATIO)
    return hi, lo, inputs.up / hi[..., None], inputs.down / lo[..., None]


def _code4(alpha: jax.Array, hi: jax.Array, lo: jax.Array) -> jax.Array:
    """pyhf ``code4`` factor for |alpha| < 1; ``alpha`` (syst,), ``hi``/``lo`` (syst, ...)."""
    log_hi, log_lo = jnp.log(hi), jnp.log(lo)
    b = jnp.stack([hi - 1, lo - 1, log_hi * hi, -log_lo * lo, log_hi**2 * hi, log_lo**2 * lo])
    coefficients = jnp.tensordot(jnp.asarray(_CODE4_INVERSE), b, axes=1)
    a = alpha.reshape((1, -1) + (1,) * (hi.ndim - 1))
    powers = jnp.stack([a**k for k in range(1, 7)])[:, 0]
    return 1.0 + jnp.sum(coefficients * powers, axis=0)


def expected(inputs: ModelInputs, pars: jax.Array) -> jax.Array:
    """Expected yields (samples, regions, bins) at ``pars`` = [ttbar_norm, alphas..., gammas
    (regions x bins, row-major)]."""
    n_syst = len(inputs.systematics)
    nominal = jnp.asarray(inputs.nominal)
    shape = nominal.shape
    mu, alpha = pars[0], pars[1 : 1 + n_syst]
    gamma = pars[1 + n_syst :].reshape(shape[1:])
    hi, lo, up, down = _split(inputs)
    a = alpha[:, None, None, None]
    s = 0.5 * (up - down)
    asym = 0.0625 * ((up - nominal) - (nominal - down))
    delta = a * s + a**2 * (15.0 + a**2 * (3.0 * a**2 - 10.0)) * asym
    norm = jnp.prod(_code4(alpha, hi, lo), axis=0)
    poi = jnp.ones(shape[0]).at[0].set(mu)
    return (nominal + jnp.sum(delta, axis=0)) * norm[..., None] * poi[:, None, None] * gamma


def _stat_sigma(inputs: ModelInputs) -> jax.Array:
    """Relative MC statistical uncertainty per (region, bin): sqrt(sum sumw2) / sum yields."""
    total = jnp.sum(jnp.asarray(inputs.nominal), axis=0)
    return _safe_ratio(jnp.sqrt(jnp.sum(jnp.asarray(inputs.sumw2), axis=0)), total)


def nominal_parameters(inputs: ModelInputs) -> jax.Array:
    """ttbar_norm 1, every alpha 0, every gamma 1."""
    n_gamma = int(np.prod(np.shape(inputs.nominal)[1:]))
    return jnp.concatenate([jnp.ones(1), jnp.zeros(len(inputs.systematics)), jnp.ones(n_gamma)])


def negative_log_likelihood(inputs: ModelInputs, pars: jax.Array, data: jax.Array) -> jax.Array:
    """``-ln L`` (pyhf's, up to constants) for observed ``data`` (regions, bins) with the
    auxiliary data at their nominal values; empty bins (no expectation) are left out."""
    n_syst = len(inputs.systematics)
    lam = jnp.sum(expected(inputs, pars), axis=0)
    used = jnp.sum(jnp.asarray(inputs.nominal), axis=0) > 0
    safe = jnp.where(used, lam, 1.0)
    poisson = jnp.sum(jnp.where(used, safe - data * jnp.log(safe), 0.0))
    alpha = pars[1 : 1 + n_syst]
    gamma = pars[1 + n_syst :].reshape(used.shape)
    sigma = jnp.where(used, _stat_sigma(inputs), 1.0)
    sigma = jnp.where(sigma > 0, sigma, 1.0)
    stat = jnp.sum(jnp.where(used, 0.5 * ((gamma - 1.0) / sigma) ** 2, 0.5 * (gamma - 1.0) ** 2))
    return poisson + 0.5 * jnp.sum(alpha**2) + stat


@jax.jit
def poi_uncertainty(inputs: ModelInputs) -> jax.Array:
    """sigma(ttbar_norm) expected with Asimov data: sqrt((H^-1)_00), H the Hessian of
    ``-ln L`` at the nominal parameters (scalar, differentiable in the templates; jitted).

    With Asimov data n = lambda at the nominal parameters, the Poisson terms' second
    derivatives of lambda drop out of H there, exactly: H = J^T diag(1 / lambda) J plus the
    constraints' curvature (1 per alpha, 1 / sigma^2 per gamma), with J = d lambda / d pars.
    Equal to :func:`asimov_hessian` (the Hessian of :func:`negative_log_likelihood`) with one
    derivative order less to compile and to differentiate.
    """
    pars = nominal_parameters(inputs)
    used = (jnp.sum(jnp.asarray(inputs.nominal), axis=0) > 0).ravel()
    jacobian = jax.jacfwd(lambda p: jnp.sum(expected(inputs, p), axis=0).ravel())(pars)
    lam = jnp.where(used, jnp.sum(expected(inputs, pars), axis=0).ravel(), 1.0)
    weighted = jnp.where(used[:, None], jacobian / lam[:, None], 0.0)
    sigma = jnp.where(used, _stat_sigma(inputs).ravel(), 1.0)
    sigma = jnp.where(sigma > 0, sigma, 1.0)
    constraints = jnp.concatenate([jnp.zeros(1), jnp.ones(len(inputs.systematics)), 1.0 / sigma**2])
    hessian = jacobian.T @ weighted + jnp.diag(constraints)
    return jnp.sqrt(jnp.linalg.inv(hessian)[0, 0])


@jax.jit
def asimov_hessian(inputs: ModelInputs) -> jax.Array:
    """The Hessian of :func:`negative_log_likelihood` at the nominal parameters with Asimov
    data, by automatic differentiation (the reference for :func:`poi_uncertainty`)."""
    pars = nominal_parameters(inputs)
    data = jnp.sum(expected(inputs, pars), axis=0)
    return jax.hessian(lambda p: negative_log_likelihood(inputs, p, data))(pars)


def pyhf_spec(inputs: ModelInputs, regions: tuple[str, ...]) -> dict[str, Any]:
    """The same model as a pyhf specification (numbers as lists): normfactor ``ttbar_norm``,
    ``staterror_<region>``, a normsys + histosys pair per systematic (cabinetry's split)."""
    hi, lo, up, down = (np.asarray(x) for x in _split(inputs))
    nominal, sumw2 = np.asarray(inputs.nominal), np.asarray(inputs.sumw2)
    channels = []
    for r, region in enumerate(regions):
        samples = []
        for s, sample in enumerate(inputs.samples):
            modifiers: list[dict[str, Any]] = [
                {
                    "name": f"staterror_{region}",
                    "type": "staterror",
                    "data": np.sqrt(sumw2[s, r]).tolist(),
                }
            ]
            if s == 0:
                modifiers.append({"name": "ttbar_norm", "type": "normfactor", "data": None})
            for k, name in enumerate(inputs.systematics):
                modifiers.append(
                    {
                        "name": name,
                        "type": "normsys",
                        "data": {"hi": hi[k, s, r], "lo": lo[k, s, r]},
                    }
                )
                modifiers.append(
                    {
                        "name": name,
                        "type": "histosys",
                        "data": {
                            "hi_data": up[k, s, r].tolist(),
                            "lo_data": down[k, s, r].tolist(),
                        },
                    }
                )
            samples.append({"name": sample, "data": nominal[s, r].tolist(), "modifiers": modifiers})
        channels.append({"name": region, "samples": samples})
    return {"channels": channels}
