"""The figure of merit as a function of one threshold: hard (the scan) and relaxed (with its
gradient), sigma(ttbar_norm) of :mod:`agc.optimise.merit` from the templates of
:mod:`agc.optimise.templates`."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from agc.optimise.events import HardView, SampleEvents, SampleLabel
from agc.optimise.merit import poi_uncertainty
from agc.optimise.templates import JetInputs, model_inputs, sample_inputs, sample_views
from agc.optimise.thresholds import Threshold

jax.config.update("jax_enable_x64", True)


def _sigma(
    cut: jax.Array,
    inputs: Any,
    views: Any,
    labels: tuple[SampleLabel, ...],
    temperature: float | None,
) -> jax.Array:
    """sigma(ttbar_norm) of the templates at ``cut`` (hard with ``temperature=None``)."""
    return poi_uncertainty(model_inputs(labels, inputs, views, cut, temperature))


@functools.partial(jax.jit, static_argnames=("labels",))
def _hard(cut: jax.Array, inputs: Any, views: Any, labels: tuple[SampleLabel, ...]) -> jax.Array:
    """:func:`_sigma` with hard cuts, compiled once per sample labels and array shapes."""
    return _sigma(cut, inputs, views, labels, None)


@functools.partial(jax.jit, static_argnames=("labels", "temperature"))
def _relaxed(
    cut: jax.Array,
    inputs: Any,
    views: Any,
    labels: tuple[SampleLabel, ...],
    temperature: float,
) -> tuple[jax.Array, jax.Array]:
    """(:func:`_sigma` relaxed, its derivative in ``cut``): forward mode, as the threshold is
    one number (lighter to compile than reverse mode's stored residuals)."""

    def sigma(c: jax.Array) -> jax.Array:
        return _sigma(c, inputs, views, labels, temperature)

    return jax.jvp(sigma, (cut,), (jnp.ones_like(cut),))


@dataclass(frozen=True)
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

    def hard(self, cut: float, views: list[dict[str, HardView]] | None = None) -> float:
        """sigma(ttbar_norm) with the hard cut at ``cut`` (``views``: :meth:`views` at ``cut``,
        computed when not given)."""
        views = self.views(cut) if views is None else views
        labels = tuple(s.label for s in self.samples)
        return float(_hard(jnp.asarray(float(cut)), self.inputs, views, labels))

    def relaxed(
        self, cut: float, views: list[dict[str, HardView]] | None = None
    ) -> tuple[float, float]:
        """(sigma(ttbar_norm), d sigma / d cut) with the cut relaxed at the threshold's
        temperature (unit of the gradient: 1 / unit of the cut)."""
        views = self.views(cut) if views is None else views
        labels = tuple(s.label for s in self.samples)
        temperature = self.threshold.temperature
        value, grad = _relaxed(jnp.asarray(float(cut)), self.inputs, views, labels, temperature)
        return float(value), float(grad)
