"""The figure of merit as a function of one threshold: hard (the scan) and relaxed (with its
gradient), sigma(ttbar_norm) of :mod:`agc.optimise.merit` from the templates of
:mod:`agc.optimise.templates`."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from agc.optimise.events import HardView, SampleEvents
from agc.optimise.merit import poi_uncertainty
from agc.optimise.templates import JetInputs, model_inputs, sample_inputs, sample_views
from agc.optimise.thresholds import Threshold

jax.config.update("jax_enable_x64", True)


@dataclass(frozen=True, eq=False)
class Objective:
    """sigma(ttbar_norm) of the model built from ``samples`` with ``threshold`` at a value.

    ``inputs``: per sample, the threshold-independent jet inputs (:func:`sample_inputs`).
    """

    samples: tuple[SampleEvents, ...]
    threshold: Threshold
    inputs: tuple[dict[str, JetInputs], ...]

    @classmethod
    def of(cls, samples: Sequence[SampleEvents], threshold: Threshold) -> Objective:
        """The objective of ``samples`` (:func:`agc.optimise.events.read_events`)."""
        inputs = tuple(sample_inputs(s, threshold.name) for s in samples)
        return cls(tuple(samples), threshold, inputs)

    def views(self, cut: float) -> list[dict[str, HardView]]:
        """What the hard selection at ``cut`` fixes, per sample (bins, b-tag weights)."""
        return [sample_views(s, self.threshold.name, cut) for s in self.samples]

    @functools.cached_property
    def _compiled(self) -> dict[str, Callable[..., Any]]:
        """The jitted hard value and relaxed value-and-gradient, (cut, inputs, views) -> ..."""

        def value(temperature: float | None) -> Callable[..., jax.Array]:
            def sigma(cut: jax.Array, inputs: Any, views: Any) -> jax.Array:
                templates = model_inputs(self.samples, inputs, views, cut, temperature)
                return poi_uncertainty(templates)

            return sigma

        relaxed = value(self.threshold.temperature)

        def value_and_derivative(cut: jax.Array, inputs: Any, views: Any) -> Any:
            # One scalar input: forward mode, lighter to compile than reverse mode's residuals.
            return jax.jvp(lambda c: relaxed(c, inputs, views), (cut,), (jnp.ones_like(cut),))

        return {"hard": jax.jit(value(None)), "relaxed": jax.jit(value_and_derivative)}

    def hard(self, cut: float, views: list[dict[str, HardView]] | None = None) -> float:
        """sigma(ttbar_norm) with the hard cut at ``cut`` (``views``: :meth:`views` at ``cut``,
        computed when not given)."""
        views = self.views(cut) if views is None else views
        return float(self._compiled["hard"](jnp.asarray(float(cut)), self.inputs, views))

    def relaxed(
        self, cut: float, views: list[dict[str, HardView]] | None = None
    ) -> tuple[float, float]:
        """(sigma(ttbar_norm), d sigma / d cut) with the cut relaxed at the threshold's
        temperature (unit of the gradient: 1 / unit of the cut)."""
        views = self.views(cut) if views is None else views
        value, grad = self._compiled["relaxed"](jnp.asarray(float(cut)), self.inputs, views)
        return float(value), float(grad)
