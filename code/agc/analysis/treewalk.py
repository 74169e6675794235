"""The numba kernels that walk the node table of :mod:`agc.analysis.treecompile`.

Imported only where inference runs (numba is heavy to import); every kernel is compiled once
per process, cached on disk when numba can write its cache and in memory otherwise.

:func:`walk` keeps :data:`LANES` rows in flight: each lane's node index and float32 margin are
local variables (registers), and one step of a lane (:func:`_step`) is a handful of loads, one
float32 compare, a select and one float32 addition, without a branch; the lanes' independent
load chains overlap in the CPU. A lane that finishes its row takes the next one at the following
check. It takes rows without NaN (:func:`finite_rows`), which never need a node's default
child; a row with a NaN feature walks alone (:func:`walk_missing`). Node indices and row
offsets are unsigned, so numba adds no negative-index wraparound to the loads.
"""

from __future__ import annotations

import math

import numpy as np

from agc.core import compiled

__all__ = ["LANES", "count", "finite_rows", "sigmoid", "walk", "walk_missing"]

#: Rows in flight in :func:`walk` (its body names one set of variables per lane).
LANES = 12
#: Steps between two checks of whether a lane reached its terminal node.
STEPS_PER_CHECK = 16
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
def _take(starts, idle, n_rows, n_features, row):  # pragma: no cover - compiled
    """(first node, feature offset, row) of a lane that takes ``row``; past the last row the
    idle terminal node, offset 0 and row -1."""
    if row < n_rows:
        return np.uint64(starts[row]), np.uint64(row) * n_features, row
    return np.uint64(idle), np.uint64(0), -1


@_jit
def _hand_in(starts, n_features, out, index, row, margin, following):  # pragma: no cover
    """A lane at its terminal node ``index``: writes its ``row``'s ``margin`` to ``out``, takes
    row ``following`` if there is one, else rests on ``index`` with row -1. Returns (node,
    feature offset, row, margin, next row to hand out)."""
    out[row] = margin
    if following < starts.shape[0]:
        node = np.uint64(starts[following])
        return node, np.uint64(following) * n_features, following, np.float32(0.0), following + 1
    return index, np.uint64(0), -1, np.float32(0.0), following


@_jit
def _any_terminal(nodes, lanes):  # pragma: no cover - compiled
    """Whether any of the node indices ``lanes`` (a tuple) is a terminal node."""
    found = False
    for index in lanes:
        found |= nodes[index]["left"] == index
    return found


@_jit
def walk(nodes, starts, x, idle, out):  # pragma: no cover - compiled
    """Float32 margins (to ``out``) of the rows of ``x`` (float32, (rows, features), no NaN:
    :func:`finite_rows`), row ``r`` walking from node ``starts[r]`` until a terminal node (one
    that leads to itself).

    Every :data:`STEPS_PER_CHECK` steps each lane that has reached its terminal node hands in
    its row and takes the next one (:func:`_hand_in`), so that the lanes stay busy whatever the
    lengths of their rows' walks (a lockstep group of rows would wait for its longest walk: a
    fifth of the steps)."""
    n_rows = x.shape[0]
    n_features = np.uint64(x.shape[1])
    flat = x.reshape(-1)
    c0, o0, r0 = _take(starts, idle, n_rows, n_features, 0)
    c1, o1, r1 = _take(starts, idle, n_rows, n_features, 1)
    c2, o2, r2 = _take(starts, idle, n_rows, n_features, 2)
    c3, o3, r3 = _take(starts, idle, n_rows, n_features, 3)
    c4, o4, r4 = _take(starts, idle, n_rows, n_features, 4)
    c5, o5, r5 = _take(starts, idle, n_rows, n_features, 5)
    c6, o6, r6 = _take(starts, idle, n_rows, n_features, 6)
    c7, o7, r7 = _take(starts, idle, n_rows, n_features, 7)
    c8, o8, r8 = _take(starts, idle, n_rows, n_features, 8)
    c9, o9, r9 = _take(starts, idle, n_rows, n_features, 9)
    c10, o10, r10 = _take(starts, idle, n_rows, n_features, 10)
    c11, o11, r11 = _take(starts, idle, n_rows, n_features, 11)
    m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = m8 = m9 = m10 = m11 = np.float32(0.0)
    following = LANES
    while max(r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11) >= 0:
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
        if _any_terminal(nodes, (c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11)):
            if r0 >= 0 and nodes[c0]["left"] == c0:
                c0, o0, r0, m0, following = _hand_in(starts, n_features, out, c0, r0, m0, following)
            if r1 >= 0 and nodes[c1]["left"] == c1:
                c1, o1, r1, m1, following = _hand_in(starts, n_features, out, c1, r1, m1, following)
            if r2 >= 0 and nodes[c2]["left"] == c2:
                c2, o2, r2, m2, following = _hand_in(starts, n_features, out, c2, r2, m2, following)
            if r3 >= 0 and nodes[c3]["left"] == c3:
                c3, o3, r3, m3, following = _hand_in(starts, n_features, out, c3, r3, m3, following)
            if r4 >= 0 and nodes[c4]["left"] == c4:
                c4, o4, r4, m4, following = _hand_in(starts, n_features, out, c4, r4, m4, following)
            if r5 >= 0 and nodes[c5]["left"] == c5:
                c5, o5, r5, m5, following = _hand_in(starts, n_features, out, c5, r5, m5, following)
            if r6 >= 0 and nodes[c6]["left"] == c6:
                c6, o6, r6, m6, following = _hand_in(starts, n_features, out, c6, r6, m6, following)
            if r7 >= 0 and nodes[c7]["left"] == c7:
                c7, o7, r7, m7, following = _hand_in(starts, n_features, out, c7, r7, m7, following)
            if r8 >= 0 and nodes[c8]["left"] == c8:
                c8, o8, r8, m8, following = _hand_in(starts, n_features, out, c8, r8, m8, following)
            if r9 >= 0 and nodes[c9]["left"] == c9:
                c9, o9, r9, m9, following = _hand_in(starts, n_features, out, c9, r9, m9, following)
            if r10 >= 0 and nodes[c10]["left"] == c10:
                c10, o10, r10, m10, following = _hand_in(
                    starts, n_features, out, c10, r10, m10, following
                )
            if r11 >= 0 and nodes[c11]["left"] == c11:
                c11, o11, r11, m11, following = _hand_in(
                    starts, n_features, out, c11, r11, m11, following
                )


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
