"""The exact gradient and Hessian of a workspace's -2 ln L, for MINUIT (:mod:`agc.stats.migrad`).

pyhf builds the same likelihood with its JAX backend, and JAX differentiates it
(``jax.grad``, ``jax.hessian``) and compiles both, in float64. MINUIT then needs no
finite differences: MIGRAD takes the gradient, HESSE the Hessian. On the ML model (187
parameters, most of them one MC-statistics gamma per bin) that replaces ~50,000 evaluations of
-2 ln L by ~100 and makes the covariance exact rather than a finite-difference estimate (which
agrees with it to the ~1 % of :data:`agc.stats.reproducibility.UNCERTAINTY_REL`).

JAX is imported here only, when a fit asks for derivatives. pyhf's backend is process-wide: it
is JAX while the functions are traced and compiled, and the caller's again (tensor library and
optimiser) before :func:`derivatives` returns; the compiled functions no longer depend on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyhf


@dataclass(frozen=True)
class Derivatives:
    """-2 ln L's ``gradient`` (n,) and ``hessian`` (n, n) at a parameter point (n floats in
    pyhf order; fixed parameters included), float64 numpy arrays; ``jax_version`` for the
    fit's record."""

    gradient: Callable[[Sequence[float]], np.ndarray]
    hessian: Callable[[Sequence[float]], np.ndarray]
    jax_version: str


def derivatives(spec: Mapping[str, Any]) -> Derivatives:
    """The compiled gradient and Hessian of -2 ln L of the workspace ``spec`` with its own
    data (the model as :func:`agc.stats.fit.model_and_data` builds it: cabinetry's
    interpolation codes)."""
    import cabinetry
    import jax

    jax.config.update("jax_enable_x64", True)
    backend = pyhf.get_backend()
    pyhf.set_backend("jax")
    try:
        model, data = cabinetry.model_utils.model_and_data(dict(spec))
        observed = pyhf.tensorlib.astensor(data)

        def twice_nll(pars: Any) -> Any:
            return -2.0 * model.logpdf(pars, observed)[0]

        gradient = jax.jit(jax.grad(twice_nll))
        hessian = jax.jit(jax.hessian(twice_nll))
        start = np.asarray(model.config.suggested_init(), dtype=np.float64)
        gradient(start).block_until_ready()  # traced with the JAX backend, compiled
        hessian(start).block_until_ready()
    finally:
        pyhf.set_backend(*backend)
    return Derivatives(
        gradient=lambda pars: np.asarray(gradient(np.asarray(pars, dtype=np.float64))),
        hessian=lambda pars: np.asarray(hessian(np.asarray(pars, dtype=np.float64))),
        jax_version=jax.__version__,
    )
