"""Reproducible per-jet random numbers for the jet energy resolution (JER) variation.

The AGC reference draws ``np.random.normal(1, 0.05)`` per jet without a seed, so its
``pt_res_up`` histograms change on every run. Here the smearing factor of a jet is a pure
function of the jet's identity -- ``(run, luminosityBlock, event, index of the jet in the
event's Jet collection)`` -- and of :data:`agc.core.physics.JER_SEED`: a counter-based generator.
The seed and ``(run, luminosityBlock, event)`` are chained through the splitmix64 finaliser
(vectorised in ``numpy.uint64``, wrapping arithmetic) into an event key, the jet index is mixed
into a jet key, two independent 53-bit uniforms are drawn from the jet key and turned into a
standard normal deviate with the Box-Muller transform.

Consequences: the factor of a jet does not depend on the chunking, the order of events, the
executor or the worker that processes it; re-running gives the same numbers bit for bit.
"""

from __future__ import annotations

import numpy as np

from agc.core import physics, portablemath

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_STREAM_U1 = np.uint64(0x243F6A8885A308D3)  # digits of pi: two independent streams
_STREAM_U2 = np.uint64(0x13198A2E03707344)
_TWO_POW_M53 = 2.0**-53


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser on an array of ``uint64`` (wrapping arithmetic), same shape."""
    z = np.asarray(x, dtype=np.uint64) + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def event_keys(run: np.ndarray, lumi: np.ndarray, event: np.ndarray, seed: int) -> np.ndarray:
    """64-bit hash of each event's identity ``(run, luminosityBlock, event)`` and ``seed``."""
    with np.errstate(over="ignore"):
        h = splitmix64(np.full(len(event), seed & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64))
        for part in (run, lumi, event):
            h = splitmix64(h ^ np.asarray(part).astype(np.uint64))
    return h


def jet_keys(event_key: np.ndarray, jet_index: np.ndarray) -> np.ndarray:
    """64-bit hash of each jet: its event's key (repeated per jet) and its index in the event."""
    with np.errstate(over="ignore"):
        return splitmix64(
            np.asarray(event_key, dtype=np.uint64) ^ np.asarray(jet_index).astype(np.uint64)
        )


def _uniform(h: np.ndarray, stream: np.uint64) -> np.ndarray:
    """Uniform float64 in (0, 1] (53 bits) from hash ``h`` on an independent ``stream``."""
    bits = splitmix64(h ^ stream) >> np.uint64(11)
    return (bits.astype(np.float64) + 1.0) * _TWO_POW_M53


def standard_normal(keys: np.ndarray) -> np.ndarray:
    """Standard normal deviates (float64), one per ``uint64`` key (Box-Muller)."""
    with np.errstate(over="ignore"):
        u1 = _uniform(keys, _STREAM_U1)
        u2 = _uniform(keys, _STREAM_U2)
    return np.sqrt(-2.0 * portablemath.log(u1)) * np.cos(2.0 * np.pi * u2)


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
    offsets = np.concatenate(([0], np.cumsum(counts)))
    jet_index = np.arange(offsets[-1], dtype=np.int64) - np.repeat(offsets[:-1], counts)
    per_jet_event_key = np.repeat(event_keys(run, luminosity_block, event, seed), counts)
    return 1.0 + sigma * standard_normal(jet_keys(per_jet_event_key, jet_index))
