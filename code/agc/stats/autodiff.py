"""The exact gradient and Hessian of a workspace's -2 ln L, for MINUIT (:mod:`agc.stats.migrad`).

pyhf builds the same likelihood with its JAX backend, and JAX differentiates it and compiles,
in float64, one function: the gradient and, along a direction ``u``, the Hessian times ``u``
(forward-mode over ``jax.grad``). MINUIT then needs no finite differences: MIGRAD takes the
gradient (``u = 0``), MIGRAD and HESSE the Hessian, one column per unit vector (all dispatched
before the first is read), symmetrised, and kept for a second request at the same point. On the ML
model (187 parameters, most of them one MC-statistics gamma per bin) that replaces ~50,000
evaluations of -2 ln L by ~100 and makes the covariance exact rather than a finite-difference
estimate (which agrees with it to the ~1 % of :data:`agc.stats.reproducibility.UNCERTAINTY_REL`).
One compiled function costs about half of what ``jax.grad`` and ``jax.hessian`` compiled
apart cost; the gradient is the same bit for bit, the Hessian agrees with ``jax.hessian``'s to
~1e-14 relative.

JAX is imported here only, when a fit asks for derivatives. The model is the caller's, built
with the caller's pyhf backend; pyhf's backend (process-wide) is JAX only while -2 ln L is
traced, so the tensors that pyhf's modifiers precompute when the backend changes are traced
into the compiled function instead of being computed op by op (JAX compiles each eager op on
its own: about 2 s for the ML model). The caller's backend (tensor library and optimiser) is
back when the trace ends; the compiled function no longer depends on it.

XLA runs the compiled function on one thread (:data:`XLA_ONE_THREAD`): its sums do not depend
on how many cores a machine has, and the ML step's fit leaves the second core to the figures
drawn beside it (its thread pool took 0.3 s of CPU from them in a 2 s fit).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
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


#: XLA's flags for one CPU thread (Eigen's thread pool off), added to ``XLA_FLAGS`` before
#: JAX starts its CPU backend; a backend started earlier in the process keeps its threads.
XLA_ONE_THREAD: tuple[str, ...] = (
    "--xla_cpu_multi_thread_eigen=false",
    "intra_op_parallelism_threads=1",
)


def import_jax() -> None:
    """Import JAX (about 0.9 s) with :data:`XLA_ONE_THREAD`, e.g. in a worker process while it
    waits for its first fit."""
    flags = os.environ.get("XLA_FLAGS", "").split()
    os.environ["XLA_FLAGS"] = " ".join([*flags, *(f for f in XLA_ONE_THREAD if f not in flags)])
    import jax  # noqa: F401


def derivatives(model: Any, data: Sequence[float]) -> Derivatives:
    """The compiled gradient and Hessian of -2 ln L of the pyhf ``model`` with its ``data``
    (observations and auxdata: the model and data of :func:`agc.stats.pyhfmodel.model_and_data`,
    cabinetry's interpolation codes)."""
    import_jax()
    import jax

    jax.config.update("jax_enable_x64", True)
    backend = pyhf.get_backend()

    def twice_nll(pars: Any) -> Any:
        # traced only: the model's tensors are precomputed with JAX inside the trace
        pyhf.set_backend("jax")
        try:
            return -2.0 * model.logpdf(pars, pyhf.tensorlib.astensor(data))[0]
        finally:
            pyhf.set_backend(*backend)

    def gradient_and_curvature(pars: Any, direction: Any) -> Any:
        return jax.jvp(jax.grad(twice_nll), (pars,), (direction,))

    compiled = jax.jit(gradient_and_curvature)
    still = np.zeros(model.config.npars, dtype=np.float64)
    start = np.asarray(model.config.suggested_init(), dtype=np.float64)
    compiled(start, still)[0].block_until_ready()  # traced with the JAX backend, compiled

    def gradient(pars: Sequence[float]) -> np.ndarray:
        return np.asarray(compiled(np.asarray(pars, dtype=np.float64), still)[0])

    last: dict[bytes, np.ndarray] = {}  # HESSE asks twice at the minimum

    def hessian(pars: Sequence[float]) -> np.ndarray:
        point = np.asarray(pars, dtype=np.float64)
        key = point.tobytes()
        if key not in last:
            pending = [compiled(point, unit)[1] for unit in np.eye(len(still))]  # dispatched
            matrix = np.stack([np.asarray(column) for column in pending], axis=1)
            last.clear()
            last[key] = (matrix + matrix.T) / 2.0
        return last[key].copy()

    return Derivatives(gradient=gradient, hessian=hessian, jax_version=jax.__version__)
