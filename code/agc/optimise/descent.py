"""Gradient descent on the threshold: Adam (optax) on the relaxed figure of merit.

Deterministic: the start is the card's value, the step count and learning rate are the
threshold's (:mod:`agc.optimise.thresholds`), no random numbers; the threshold is kept inside
the scan's grid range after every step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jax.numpy as jnp
import numpy as np
import optax

from agc.optimise.objective import Objective


@dataclass(frozen=True)
class Descent:
    """The path of the descent: ``cuts`` (unit of the cut; the start first), the relaxed
    sigma(ttbar_norm) ``values`` and ``gradients`` at each; ``seconds``: wall time."""

    cuts: tuple[float, ...]
    values: tuple[float, ...]
    gradients: tuple[float, ...]
    seconds: float

    @property
    def optimum(self) -> float:
        """The visited threshold with the smallest relaxed sigma(ttbar_norm)."""
        return self.cuts[int(np.argmin(self.values))]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record."""
        return {
            "cuts": list(self.cuts),
            "values": list(self.values),
            "gradients": list(self.gradients),
            "optimum": self.optimum,
            "seconds": self.seconds,
        }


def descend(objective: Objective, start: float | None = None) -> Descent:
    """Adam from ``start`` (default: the card's value) for the threshold's number of steps."""
    clock = time.perf_counter()
    threshold = objective.threshold
    low, high = threshold.bounds
    optimiser = optax.adam(threshold.learning_rate)
    cut = jnp.asarray(threshold.nominal if start is None else float(start))
    state = optimiser.init(cut)
    cuts, values, gradients = [], [], []
    for _ in range(threshold.steps + 1):
        value, grad = objective.relaxed(float(cut))
        cuts.append(float(cut))
        values.append(value)
        gradients.append(grad)
        updates, state = optimiser.update(jnp.asarray(grad), state)
        cut = jnp.clip(optax.apply_updates(cut, updates), low, high)
    return Descent(tuple(cuts), tuple(values), tuple(gradients), time.perf_counter() - clock)
