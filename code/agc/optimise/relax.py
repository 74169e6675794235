"""Relaxed cuts: a hard cut ``x > cut`` becomes the weight ``sigmoid((x - cut) / temperature)``.

The weight goes to 0 for ``x << cut`` and to 1 for ``x >> cut``, and to the hard cut's 0/1 as
the temperature goes to 0 (at ``x == cut`` exactly it is 1/2 for every temperature). From the
per-jet probabilities of being selected (``p_pass``) and of being b-tagged once selected
(``p_tag``), :func:`region_probabilities` gives each event's probability of entering each
region by exact counting over its jets: a dynamic programme over the states (selected jets,
capped at 4) x (b-tagged selected jets, capped at 2), one jet at a time. With 0/1 inputs it is
the hard selection's 0/1.

Shapes: per-jet arrays are padded to (n_events, max_jets) (:func:`padded`); padding jets have
``p_pass = 0``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

#: States of the counting: selected jets 0..4 (4 = "4 or more"), b-tags 0..2 (2 = "2 or more").
MAX_JETS_STATE = 4
MAX_TAGS_STATE = 2


def sigmoid_weight(x: jax.Array, cut: jax.Array, temperature: float) -> jax.Array:
    """``sigmoid((x - cut) / temperature)``, same shape as ``x`` (float64); ``temperature`` > 0
    in the unit of ``x``."""
    return jax.nn.sigmoid((x - cut) / temperature)


def padded(counts: np.ndarray, values: np.ndarray, fill: float = 0.0) -> np.ndarray:
    """Flat per-jet ``values`` (length ``counts.sum()``) as (n_events, max(counts)), ``fill``
    after each event's jets; at least one column."""
    counts = np.asarray(counts, dtype=np.int64)
    width = max(int(counts.max(initial=0)), 1)
    starts = np.concatenate(([0], np.cumsum(counts)))[:-1]
    position = np.arange(len(values)) - np.repeat(starts, counts)
    out = np.full((len(counts), width), fill, dtype=np.asarray(values).dtype)
    out[np.repeat(np.arange(len(counts)), counts), position] = values
    return out


def _shift(state: jax.Array, axis: int, cap: int) -> jax.Array:
    """``state`` moved one step up ``axis`` (1 or 2: the count + 1), the entry ``cap`` absorbing."""

    def part(start: int, stop: int) -> jax.Array:
        return state[:, start:stop] if axis == 1 else state[:, :, start:stop]

    zero = jnp.zeros_like(part(0, 1))
    top = part(cap - 1, cap) + part(cap, cap + 1)
    return jnp.concatenate([zero, part(0, cap - 1), top], axis=axis)


def region_probabilities(p_pass: jax.Array, p_tag: jax.Array) -> jax.Array:
    """Probability of each event to be in ``4j1b`` (>= 4 selected jets, exactly one b-tagged)
    and ``4j2b`` (>= 4 selected, >= 2 b-tagged), shape (n_events, 2), float64.

    ``p_pass``: (n_events, n_jets), probability that a jet is selected; ``p_tag``: same shape,
    probability that it is b-tagged given that it is selected; the jets are independent.
    """
    n_events = p_pass.shape[0]
    state = jnp.zeros((n_events, MAX_JETS_STATE + 1, MAX_TAGS_STATE + 1))
    state = state.at[:, 0, 0].set(1.0)

    def add_jet(state: jax.Array, jet: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, None]:
        passes, tags = jet
        tagged = (passes * tags)[:, None, None]
        untagged = (passes * (1.0 - tags))[:, None, None]
        failed = (1.0 - passes)[:, None, None]
        more_jets = _shift(state, 1, MAX_JETS_STATE)
        return (
            failed * state + untagged * more_jets + tagged * _shift(more_jets, 2, MAX_TAGS_STATE),
            None,
        )

    state, _ = jax.lax.scan(add_jet, state, (p_pass.T, p_tag.T))
    return jnp.stack([state[:, MAX_JETS_STATE, 1], state[:, MAX_JETS_STATE, 2]], axis=1)
