"""agc.analysis.jer: the compiled generator gives the bits of its recipe written in numpy.

The recipe below is the generator as the package's documentation states it (splitmix64 chains,
53-bit uniforms of two streams, Box-Muller with numpy's float64 ``cos`` and the C library's
``log``); its values are the ones the stored histogram references were made with.
"""

from __future__ import annotations

import numpy as np

from agc.analysis.jer import jer_factors_flat
from agc.core import physics, portablemath

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
STREAMS = (np.uint64(0x243F6A8885A308D3), np.uint64(0x13198A2E03707344))


def splitmix64(x: np.ndarray) -> np.ndarray:
    z = np.asarray(x, dtype=np.uint64) + GOLDEN
    z = (z ^ (z >> np.uint64(30))) * MIX1
    z = (z ^ (z >> np.uint64(27))) * MIX2
    return z ^ (z >> np.uint64(31))


def numpy_recipe(run, lumi, event, n_jets, seed=physics.JER_SEED, sigma=physics.JER_SIGMA):
    with np.errstate(over="ignore"):
        h = splitmix64(np.full(len(event), seed & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64))
        for part in (run, lumi, event):
            h = splitmix64(h ^ np.asarray(part).astype(np.uint64))
        counts = np.asarray(n_jets, dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(counts)))
        index = np.arange(offsets[-1], dtype=np.int64) - np.repeat(offsets[:-1], counts)
        keys = splitmix64(np.repeat(h, counts) ^ index.astype(np.uint64))
        u1, u2 = (
            ((splitmix64(keys ^ s) >> np.uint64(11)).astype(np.float64) + 1.0) * 2.0**-53
            for s in STREAMS
        )
    normal = np.sqrt(-2.0 * portablemath.log(u1)) * np.cos(2.0 * np.pi * u2)
    return 1.0 + sigma * normal


def test_compiled_factors_are_the_numpy_recipe_bit_for_bit() -> None:
    """Random identities, the extremes of each branch's type, other seeds and widths."""
    rng = np.random.default_rng(11)
    n = 50_000
    run = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    lumi = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    event = rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
    run[:3], lumi[:3], event[:3] = [0, 2**32 - 1, 1], [0, 2**32 - 1, 1], [0, 2**64 - 1, 2**63]
    n_jets = rng.poisson(6, n)
    n_jets[:3] = [0, 25, 1]
    for seed, sigma in ((physics.JER_SEED, physics.JER_SIGMA), (0, 0.1), (2**64 - 1, 0.05)):
        got = jer_factors_flat(run, lumi, event, n_jets, seed=seed, sigma=sigma)
        expected = numpy_recipe(run, lumi, event, n_jets, seed, sigma)
        assert got.dtype == np.float64
        assert got.shape == expected.shape
        assert np.array_equal(got, expected)


def test_no_events_and_no_jets() -> None:
    empty = np.zeros(0, dtype=np.uint32)
    assert jer_factors_flat(empty, empty, empty.astype(np.uint64), empty).shape == (0,)
    none = np.zeros(4, dtype=np.int64)
    ids = np.arange(4, dtype=np.uint32)
    assert jer_factors_flat(ids, ids, ids.astype(np.uint64), none).shape == (0,)
