"""The numba kernels that walk the node table of :mod:`agc.analysis.treecompile`.

Imported only where inference runs (numba is heavy to import); every kernel is compiled once
per process, cached on disk when numba can write its cache and in memory otherwise.

:func:`walk` keeps :data:`LANES` rows in flight: each lane's node index and float32 margin are
local variables (registers), and one step of a lane (:func:`_step`) is a handful of loads, one
float32 compare, a select and one float32 addition, without a branch; the lanes' independent
load chains overlap in the CPU. It takes rows without NaN (:func:`finite_rows`), which never
need a node's default child; a row with a NaN feature walks alone (:func:`walk_missing`). Node indices and row offsets are unsigned, so numba adds no
negative-index wraparound to the loads.
"""

from __future__ import annotations

import math

import numpy as np

from agc.core import compiled

__all__ = ["LANES", "count", "finite_rows", "sigmoid", "walk", "walk_missing"]

#: Rows walked in lockstep by :func:`walk` (its body names one variable pair per lane).
LANES = 12
#: Steps between two checks of whether every lane reached its terminal node.
STEPS_PER_CHECK = 64
#: xgboost's ``common::Sigmoid`` constants (float32).
SIGMOID_CLIP = np.float32(88.7)
SIGMOID_EPS = np.float32(1e-16)


_jit = compiled.njit


@_jit
def _step(nodes, flat, offset, index, margin):  # pragma: no cover - compiled
    """One node visit of a lane of a row without NaN: (next node index, margin + the node's
    value). The row's feature (float32 at ``flat[offset + feature]``) goes left when below the
    condition, right otherwise (xgboost's ``GetNextNode`` for a value that is not missing)."""
    node = nodes[index]
    value = flat[offset + np.uint64(node["feature"])]
    following = node["left"] if value < node["cond"] else node["right"]
    return np.uint64(following), margin + node["value"]


@_jit
def _lane(starts, idle, n_rows, n_features, row):  # pragma: no cover - compiled
    """(first node, feature offset) of a lane given ``row`` (the idle terminal node and row 0
    past the last row)."""
    if row < n_rows:
        return np.uint64(starts[row]), np.uint64(row) * n_features
    return np.uint64(idle), np.uint64(0)


@_jit
def walk(nodes, starts, x, idle, out):  # pragma: no cover - compiled
    """Float32 margins (to ``out``) of the rows of ``x`` (float32, (rows, features), no NaN:
    :func:`finite_rows`), row ``r`` walking from node ``starts[r]`` until a terminal node (one
    that leads to itself)."""
    n_rows = x.shape[0]
    n_features = np.uint64(x.shape[1])
    flat = x.reshape(-1)
    for first in range(0, n_rows, LANES):
        c0, o0 = _lane(starts, idle, n_rows, n_features, first)
        c1, o1 = _lane(starts, idle, n_rows, n_features, first + 1)
        c2, o2 = _lane(starts, idle, n_rows, n_features, first + 2)
        c3, o3 = _lane(starts, idle, n_rows, n_features, first + 3)
        c4, o4 = _lane(starts, idle, n_rows, n_features, first + 4)
        c5, o5 = _lane(starts, idle, n_rows, n_features, first + 5)
        c6, o6 = _lane(starts, idle, n_rows, n_features, first + 6)
        c7, o7 = _lane(starts, idle, n_rows, n_features, first + 7)
        c8, o8 = _lane(starts, idle, n_rows, n_features, first + 8)
        c9, o9 = _lane(starts, idle, n_rows, n_features, first + 9)
        c10, o10 = _lane(starts, idle, n_rows, n_features, first + 10)
        c11, o11 = _lane(starts, idle, n_rows, n_features, first + 11)
        m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = m8 = m9 = m10 = m11 = np.float32(0.0)
        running = True
        while running:
            for _ in range(STEPS_PER_CHECK):
                c0, m0 = _step(nodes, flat, o0, c0, m0)
                c1, m1 = _step(nodes, flat, o1, c1, m1)
                c2, m2 = _step(nodes, flat, o2, c2, m2)
                c3, m3 = _step(nodes, flat, o3, c3, m3)
                c4, m4 = _step(nodes, flat, o4, c4, m4)
                c5, m5 = _step(nodes, flat, o5, c5, m5)
                c6, m6 = _step(nodes, flat, o6, c6, m6)
                c7, m7 = _step(nodes, flat, o7, c7, m7)
                c8, m8 = _step(nodes, flat, o8, c8, m8)
                c9, m9 = _step(nodes, flat, o9, c9, m9)
                c10, m10 = _step(nodes, flat, o10, c10, m10)
                c11, m11 = _step(nodes, flat, o11, c11, m11)
            running = False
            for c in (c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11):
                running |= nodes[c]["left"] != c
        margins = (m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11)
        for k in range(min(LANES, n_rows - first)):
            out[first + k] = margins[k]


@_jit
def walk_missing(nodes, starts, x, out):  # pragma: no cover - compiled
    """Float32 margins (to ``out``) of the rows of ``x`` (float32, (rows, features), NaN
    allowed: a NaN feature takes the node's default child), one row at a time, adding the
    values of the visited nodes in the order :func:`walk` adds them."""
    for r in range(x.shape[0]):
        index = starts[r]
        margin = np.float32(0.0)
        while nodes[index]["left"] != index:
            node = nodes[index]
            value = x[r, node["feature"]]
            following = node["left"] if value < node["cond"] else node["right"]
            margin += node["value"]
            index = node["missing"] if math.isnan(value) else following
        out[r] = margin


@_jit
def finite_rows(x, out):  # pragma: no cover - compiled
    """Whether each row of ``x`` ((rows, features)) has no NaN, to ``out`` (bool)."""
    for r in range(x.shape[0]):
        ok = True
        for k in range(x.shape[1]):
            ok &= not math.isnan(x[r, k])
        out[r] = ok


@_jit
def sigmoid(margin, out):  # pragma: no cover - compiled
    """xgboost's float32 ``common::Sigmoid`` of each margin, to ``out`` (float32):
    ``1 / (expf(min(-x, 88.7)) + 1 + 1e-16)``."""
    for i in range(margin.shape[0]):
        t = min(-margin[i], SIGMOID_CLIP)  # std::min(-x, 88.7f)
        out[i] = np.float32(1.0) / (np.float32(math.exp(t)) + np.float32(1.0) + SIGMOID_EPS)


@_jit
def count(nodes, starts, x, out):  # pragma: no cover - compiled
    """Nodes (splits and leaves) each row of ``x`` visits from ``starts[r]``, to ``out``."""
    for r in range(x.shape[0]):
        index = starts[r]
        visits = 0
        while nodes[index]["left"] != index:
            node = nodes[index]
            value = x[r, node["feature"]]
            following = node["left"] if value < node["cond"] else node["right"]
            index = node["missing"] if math.isnan(value) else following
            visits += 1
        out[r] = visits
