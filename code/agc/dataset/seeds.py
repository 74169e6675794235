"""Seeds and event identity of the generator: every random number follows from the recipe.

One ``np.random.Generator(np.random.PCG64(...))`` per block of events, seeded from
``(recipe seed, sample name, block index)`` through sha256 (never Python's ``hash``), so event
*i* of a sample depends only on the recipe, not on the file split or the number of processes.

Event identity: ``run`` = 1 (MC), ``luminosityBlock`` = :func:`lumi_base` of the sample +
i // :data:`EVENTS_PER_LUMI`, ``event`` = luminosityBlock * 100 + i % 100 + 1: unique within a
sample and distinct between samples (what the reproducible JER smearing keys on).

Auxiliary stream: the branches added for the machine-learning extension (``Jet_qgl``, the
quark/gluon type of W+jets partons) draw from a second generator per block, :func:`aux_rng`, the
first child of the block's seed sequence, so no draw of :func:`block_rng` moves and every
earlier branch keeps its values.
"""

from __future__ import annotations

import hashlib

import numpy as np

from agc.dataset.manifest import sample_key

__all__ = ["EVENTS_PER_LUMI", "aux_rng", "block_rng", "lumi_base", "sample_seed"]

#: Events per luminosity block (as in the real file: event = lumi * 100 + k).
EVENTS_PER_LUMI = 100


def sample_seed(seed: int, process: str, variation: str) -> int:
    """128-bit seed of one sample: sha256 of ``"{seed}/{process}__{variation}"`` (stable everywhere)."""
    digest = hashlib.sha256(f"{seed}/{sample_key(process, variation)}".encode()).digest()
    return int.from_bytes(digest[:16], "little")


def block_rng(seed: int, block: int) -> np.random.Generator:
    """The random-number generator of block ``block`` of the sample seeded with ``seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(block,))))


def aux_rng(seed: int, block: int) -> np.random.Generator:
    """The auxiliary generator of block ``block``: the first child of its seed sequence (what
    ``block_rng(seed, block).spawn(1)[0]`` gives), independent of the block's main stream."""
    child = np.random.SeedSequence(seed, spawn_key=(block, 0))
    return np.random.Generator(np.random.PCG64(child))


def lumi_base(process: str, variation: str) -> int:
    """First luminosity block of a sample (distinct ranges per sample, room for 1e7 events)."""
    digest = hashlib.sha256(f"lumi/{sample_key(process, variation)}".encode()).digest()
    return 1 + (int.from_bytes(digest[:4], "little") % 40_000) * 100_000
