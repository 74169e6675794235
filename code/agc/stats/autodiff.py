"""The exact gradient and Hessian of a workspace's -2 ln L, for MINUIT (:mod:`agc.stats.migrad`).

pyhf builds the same likelihood with its JAX backend, and JAX differentiates it
(``jax.grad``, ``jax.hessian``) and compiles both, in float64. MINUIT then needs no
finite differences: MIGRAD takes the gradient, HESSE the Hessian. On the ML model (187
parameters, most of them one MC-statistics gamma per bin) that replaces ~50,000 evaluations of
-2 ln L by ~100 and makes the covariance exact rather than a finite-difference estimate (which
agrees with it to the ~1 % of :data:`agc.stats.reproducibility.UNCERTAINTY_REL`).

JAX is imported here only, when a fit asks for derivatives. The model is built with the caller's
pyhf backend; pyhf's backend (process-wide) is JAX only while -2 ln L is traced, so the tensors
that pyhf's modifiers precompute when the backend changes are traced into the compiled functions
instead of being computed op by op (JAX compiles each eager op on its own: about 2 s for the ML
model). The caller's backend (tensor library and optimiser) is back when a trace ends; the
compiled functions no longer depend on it.
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
    model, data = cabinetry.model_utils.model_and_data(dict(spec))

    def twice_nll(pars: Any) -> Any:
        # traced only: the model's tensors are precomputed with JAX inside the trace
        pyhf.set_backend("jax")
        try:
            return -2.0 * model.logpdf(pars, pyhf.tensorlib.astensor(data))[0]
        finally:
            pyhf.set_backend(*backend)

    gradient = jax.jit(jax.grad(twice_nll))
    hessian = jax.jit(jax.hessian(twice_nll))
    start = np.asarray(model.config.suggested_init(), dtype=np.float64)
    gradient(start).block_until_ready()  # traced with the JAX backend, compiled
    hessian(start).block_until_ready()
    return Derivatives(
        gradient=lambda pars: np.asarray(gradient(np.asarray(pars, dtype=np.float64))),
        hessian=lambda pars: np.asarray(hessian(np.asarray(pars, dtype=np.float64))),
        jax_version=jax.__version__,
    )
