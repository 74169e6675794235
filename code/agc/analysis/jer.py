"""Reproducible per-jet random numbers for the jet energy resolution (JER) variation.

The AGC reference draws ``np.random.normal(1, 0.05)`` per jet without a seed, so its
``pt_res_up`` histograms change on every run. Here the smearing factor of a jet is a pure
function of the jet's identity -- ``(run, luminosityBlock, event, index of the jet in the
event's Jet collection)`` -- and of :data:`agc.core.physics.JER_SEED`: a counter-based generator.
The seed and ``(run, luminosityBlock, event)`` are chained through the splitmix64 finaliser
(``uint64``, wrapping arithmetic) into an event key, the jet index is mixed into a jet key, two
independent 53-bit uniforms are drawn from the jet key and turned into a standard normal deviate
with the Box-Muller transform (the C library's ``log`` and ``cos``). numba compiles the loop
(:func:`_factors`); ``tests/analysis/test_jer.py`` holds the same recipe in numpy and checks the
bits.

Consequences: the factor of a jet does not depend on the chunking, the order of events, the
executor or the worker that processes it; re-running gives the same numbers bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

from agc.core import compiled, physics

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_STREAM_U1 = np.uint64(0x243F6A8885A308D3)  # digits of pi: two independent streams
_STREAM_U2 = np.uint64(0x13198A2E03707344)
_TWO_POW_M53 = 2.0**-53


@compiled.njit
def _splitmix64(x):  # pragma: no cover - compiled
    """The splitmix64 finaliser of one ``uint64`` (wrapping arithmetic)."""
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@compiled.njit
def _factors(run, lumi, event, counts, seed, sigma, out):  # pragma: no cover - compiled
    """``1 + sigma * N(0, 1)`` of every jet to ``out`` (float64, jets in order): the event key
    chains ``seed``, run, lumi and event through :func:`_splitmix64`, the jet key mixes in the
    jet's index, the uniforms ``((bits >> 11) + 1) * 2**-53`` of two streams, then Box-Muller
    ``sqrt(-2 log u1) cos(2 pi u2)``."""
    jet = 0
    seeded = _splitmix64(np.uint64(seed))  # the same first link for every event
    for e in range(counts.shape[0]):
        key = _splitmix64(seeded ^ np.uint64(run[e]))
        key = _splitmix64(key ^ np.uint64(lumi[e]))
        key = _splitmix64(key ^ np.uint64(event[e]))
        for index in range(counts[e]):
            h = _splitmix64(key ^ np.uint64(index))
            u1 = (np.float64(_splitmix64(h ^ _STREAM_U1) >> np.uint64(11)) + 1.0) * _TWO_POW_M53
            u2 = (np.float64(_splitmix64(h ^ _STREAM_U2) >> np.uint64(11)) + 1.0) * _TWO_POW_M53
            normal = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
            out[jet] = 1.0 + sigma * normal
            jet += 1


def jer_factors_flat(
    run: np.ndarray,
    luminosity_block: np.ndarray,
    event: np.ndarray,
    n_jets: np.ndarray,
    *,
    seed: int = physics.JER_SEED,
    sigma: float = physics.JER_SIGMA,
) -> np.ndarray:
    """Per-jet JER smearing factors ``N(1, sigma)`` as one flat float64 array (all jets in order).

    ``run``, ``luminosity_block``, ``event`` and ``n_jets`` are flat per-event arrays (the
    NanoAOD branches ``run``, ``luminosityBlock``, ``event`` and ``nJet``). Jet ``j`` of an event
    gets the factor of the key ``(run, luminosityBlock, event, j)``, independent of other events.
    """
    counts = np.asarray(n_jets, dtype=np.int64)
    out = np.empty(int(counts.sum()), dtype=np.float64)
    _factors(
        np.asarray(run),
        np.asarray(luminosity_block),
        np.asarray(event),
        counts,
        np.uint64(seed & 0xFFFFFFFFFFFFFFFF),
        float(sigma),
        out,
    )
    return out
