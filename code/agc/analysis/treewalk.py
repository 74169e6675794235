"""The numba kernels that walk the node table of :mod:`agc.analysis.treecompile`.

Imported only where inference runs (numba is heavy to import); every kernel is compiled once
per process, cached on disk when numba can write its cache and in memory otherwise.

:func:`walk` keeps :data:`LANES` rows in flight: each lane's node index and float32 margin are
local variables (registers), and one step of a lane (:func:`_step`, one split) is a handful of
loads, one float32 compare, two selects and one float32 addition, without a branch; the lanes'
independent load chains overlap in the CPU. A lane whose row is done takes the next one at the
following check: done is at the terminal record, or, given the bounds of the table, with a
margin that can no longer reach the row's floor (:func:`_done`). It takes rows without NaN
(:func:`finite_rows`), which never need a split's default edge; a row with a NaN feature walks
alone (:func:`walk_missing`). Record indices and row offsets are unsigned, so numba adds no
negative-index wraparound to the loads.

The floors come from xgboost's float32 sigmoid (:func:`sigmoid_of`) through
:func:`lowest_margins`, which needs the sigmoid never to decrease from one float32 margin to
the next; the tests check that over every float32.
"""

from __future__ import annotations

import math

import numpy as np

from agc.analysis.treelayout import DEFAULT_LEFT, LEFT_LEAF, RIGHT_LEAF
from agc.core import compiled

__all__ = [
    "LANES",
    "count",
    "finite_rows",
    "float32_of_key",
    "key_of_float32",
    "lowest_margins",
    "sigmoid",
    "sigmoid_of",
    "walk",
    "walk_missing",
]

#: Rows in flight in :func:`walk` (its body names one set of variables per lane).
LANES = 12
#: Steps between two checks of whether a lane is done.
STEPS_PER_CHECK = 16
#: xgboost's ``common::Sigmoid`` constants (float32).
SIGMOID_CLIP = np.float32(88.7)
SIGMOID_EPS = np.float32(1e-16)


_jit = compiled.njit


@_jit
def _step(nodes, flat, offset, index, margin):  # pragma: no cover - compiled
    """One split of a lane of a row without NaN: (the record its edge leads to, margin + the
    edge's value). The row's feature (float32 at ``flat[offset + feature]``) goes left when
    below the condition, right otherwise (xgboost's ``GetNextNode`` for a value that is not
    missing)."""
    node = nodes[index]
    value = flat[offset + np.uint64(node["feature"])]
    if value < node["cond"]:
        return np.uint64(node["left"]), margin + node["left_value"]
    return np.uint64(node["right"]), margin + node["right_value"]


@_jit
def _take(rows, shape, row, lane):  # pragma: no cover - compiled
    """The lane (node index, feature offset, row, margin) that takes ``row`` of ``rows`` (start
    nodes, floors, the lanes' floors), lane number ``lane``, whose floor it writes; past the
    last row, one that rests on the idle terminal node with row -1 (floor -inf). ``shape``:
    (idle terminal node, features per row)."""
    starts, floor, lane_floor = rows
    idle, n_features = shape
    if row < starts.shape[0]:
        lane_floor[lane] = floor[row]
        return np.uint64(starts[row]), np.uint64(row) * n_features, row, np.float32(0.0)
    lane_floor[lane] = -np.inf
    return np.uint64(idle), np.uint64(0), -1, np.float32(0.0)


@_jit
def _done(nodes, bound, index, margin, floor):  # pragma: no cover - compiled
    """Whether a lane at node ``index`` with ``margin`` is done: at its terminal node, or with
    ``margin`` plus the most the rest of its walk can add (``bound[index]``) below ``floor``
    (``bound`` None: only at its terminal node; numba then compiles the kernel without the
    second test)."""
    if bound is None:
        return nodes[index]["left"] == index
    return (nodes[index]["left"] == index) | (np.float64(margin) + bound[index] < floor)


@_jit
def _any_done(nodes, bound, indices, margins, floors):  # pragma: no cover - compiled
    """Whether any lane (node ``indices``, ``margins``: tuples; ``floors``: the lanes' floors)
    is done."""
    found = False
    if bound is None:
        for index in indices:
            found |= nodes[index]["left"] == index
        return found
    for k in range(len(indices)):
        found |= _done(nodes, bound, indices[k], margins[k], floors[k])
    return found


@_jit
def _hand_in(lanes, lane, following, lane_number):  # pragma: no cover - compiled
    """A lane (node index, row, margin), lane number ``lane_number``, whose row is done: the
    margin goes to ``outs[0]`` and whether the walk stopped before the terminal node to
    ``outs[1]``; returns the lane that takes row ``following`` (:func:`_take`) and the row after
    it. ``lanes``: (nodes, rows, outs, shape) of :func:`walk`."""
    nodes, rows, outs, shape = lanes
    index, row, margin = lane
    out, stopped = outs
    out[row] = margin
    stopped[row] = nodes[index]["left"] != index
    return (*_take(rows, shape, following, lane_number), following + 1)


@_jit
def walk(nodes, bound, rows, x, idle, outs):  # pragma: no cover - compiled
    """Float32 margins (to ``outs[0]``) of the rows of ``x`` (float32, (rows, features), no
    NaN: :func:`finite_rows`). ``rows``: per row its start node and float64 floor; row ``r``
    walks from ``starts[r]``, adding to a float32 margin from 0, until a terminal node (one
    that leads to itself), or until its margin plus ``bound`` of its node (the most the rest
    of the walk can add) is below ``floor[r]``: the row then stops early and ``outs[1][r]`` is
    True (``bound`` None: every row walks to its terminal node).

    Every :data:`STEPS_PER_CHECK` steps each lane whose row is done hands it in and takes the
    next one (:func:`_hand_in`), so that the lanes stay busy whatever the lengths of their rows'
    walks (a lockstep group of rows would wait for its longest walk: a fifth of the steps).
    The lanes' floors, needed only at a check, wait in a small array rather than in registers,
    which the steps need."""
    shape = (np.uint64(idle), np.uint64(x.shape[1]))
    lane_floor = np.empty(LANES)
    rows = (rows[0], rows[1], lane_floor)
    lanes = (nodes, rows, outs, shape)
    flat = x.reshape(-1)
    c0, o0, r0, m0 = _take(rows, shape, 0, 0)
    c1, o1, r1, m1 = _take(rows, shape, 1, 1)
    c2, o2, r2, m2 = _take(rows, shape, 2, 2)
    c3, o3, r3, m3 = _take(rows, shape, 3, 3)
    c4, o4, r4, m4 = _take(rows, shape, 4, 4)
    c5, o5, r5, m5 = _take(rows, shape, 5, 5)
    c6, o6, r6, m6 = _take(rows, shape, 6, 6)
    c7, o7, r7, m7 = _take(rows, shape, 7, 7)
    c8, o8, r8, m8 = _take(rows, shape, 8, 8)
    c9, o9, r9, m9 = _take(rows, shape, 9, 9)
    c10, o10, r10, m10 = _take(rows, shape, 10, 10)
    c11, o11, r11, m11 = _take(rows, shape, 11, 11)
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
        if _any_done(
            nodes,
            bound,
            (c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11),
            (m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11),
            lane_floor,
        ):
            if _done(nodes, bound, c0, m0, lane_floor[0]) and r0 >= 0:
                c0, o0, r0, m0, following = _hand_in(lanes, (c0, r0, m0), following, 0)
            if _done(nodes, bound, c1, m1, lane_floor[1]) and r1 >= 0:
                c1, o1, r1, m1, following = _hand_in(lanes, (c1, r1, m1), following, 1)
            if _done(nodes, bound, c2, m2, lane_floor[2]) and r2 >= 0:
                c2, o2, r2, m2, following = _hand_in(lanes, (c2, r2, m2), following, 2)
            if _done(nodes, bound, c3, m3, lane_floor[3]) and r3 >= 0:
                c3, o3, r3, m3, following = _hand_in(lanes, (c3, r3, m3), following, 3)
            if _done(nodes, bound, c4, m4, lane_floor[4]) and r4 >= 0:
                c4, o4, r4, m4, following = _hand_in(lanes, (c4, r4, m4), following, 4)
            if _done(nodes, bound, c5, m5, lane_floor[5]) and r5 >= 0:
                c5, o5, r5, m5, following = _hand_in(lanes, (c5, r5, m5), following, 5)
            if _done(nodes, bound, c6, m6, lane_floor[6]) and r6 >= 0:
                c6, o6, r6, m6, following = _hand_in(lanes, (c6, r6, m6), following, 6)
            if _done(nodes, bound, c7, m7, lane_floor[7]) and r7 >= 0:
                c7, o7, r7, m7, following = _hand_in(lanes, (c7, r7, m7), following, 7)
            if _done(nodes, bound, c8, m8, lane_floor[8]) and r8 >= 0:
                c8, o8, r8, m8, following = _hand_in(lanes, (c8, r8, m8), following, 8)
            if _done(nodes, bound, c9, m9, lane_floor[9]) and r9 >= 0:
                c9, o9, r9, m9, following = _hand_in(lanes, (c9, r9, m9), following, 9)
            if _done(nodes, bound, c10, m10, lane_floor[10]) and r10 >= 0:
                c10, o10, r10, m10, following = _hand_in(lanes, (c10, r10, m10), following, 10)
            if _done(nodes, bound, c11, m11, lane_floor[11]) and r11 >= 0:
                c11, o11, r11, m11, following = _hand_in(lanes, (c11, r11, m11), following, 11)


@_jit
def _edge(node, value):  # pragma: no cover - compiled
    """(record, value added, whether it leads to a leaf) of the edge a feature ``value``
    (float32, NaN allowed: the default edge) takes at split ``node``."""
    nan = math.isnan(value)
    if (nan and node["flags"] & DEFAULT_LEFT != 0) or (not nan and value < node["cond"]):
        return node["left"], node["left_value"], node["flags"] & LEFT_LEAF != 0
    return node["right"], node["right_value"], node["flags"] & RIGHT_LEAF != 0


@_jit
def walk_missing(nodes, starts, x, out):  # pragma: no cover - compiled
    """Float32 margins (to ``out``) of the rows of ``x`` (float32, (rows, features), NaN
    allowed: a NaN feature takes the split's default edge), one row at a time, adding the
    edge values in the order :func:`walk` adds them."""
    for r in range(x.shape[0]):
        index = starts[r]
        margin = np.float32(0.0)
        while nodes[index]["left"] != index:
            node = nodes[index]
            index, added, _ = _edge(node, x[r, node["feature"]])
            margin += added
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
def sigmoid_of(margin):  # pragma: no cover - compiled
    """xgboost's float32 ``common::Sigmoid`` of one float32 margin:
    ``1 / (expf(min(-x, 88.7)) + 1 + 1e-16)``."""
    t = min(-margin, SIGMOID_CLIP)  # std::min(-x, 88.7f)
    return np.float32(1.0) / (np.float32(math.exp(t)) + np.float32(1.0) + SIGMOID_EPS)


@_jit
def sigmoid(margin, out):  # pragma: no cover - compiled
    """:func:`sigmoid_of` each margin (float32), to ``out`` (float32)."""
    for i in range(margin.shape[0]):
        out[i] = sigmoid_of(margin[i])


@_jit
def float32_of_key(key, buffer):  # pragma: no cover - compiled
    """The float32 whose place in the order of all float32 values is ``key`` (int64: 0 is +0.0,
    -1 is -0.0, each step the adjacent float32), through ``buffer`` (one float32)."""
    bits = buffer.view(np.int32)
    bits[0] = np.int32(key if key >= 0 else -(key + 1) - 2147483648)
    return buffer[0]


@_jit
def key_of_float32(value, buffer):  # pragma: no cover - compiled
    """The inverse of :func:`float32_of_key` (``value``: float32, not NaN)."""
    buffer[0] = value
    bits = np.int64(buffer.view(np.int32)[0])
    return bits if bits >= 0 else -(bits & 0x7FFFFFFF) - 1


@_jit
def lowest_margins(margin, out):  # pragma: no cover - compiled
    """For each float32 ``margin``, the smallest float32 whose :func:`sigmoid_of` is at least
    the margin's (to ``out``, float32; -inf when every float32 is): a bisection over the float32
    values from -inf to the margin, exact as the sigmoid never decreases (tested over its whole
    range)."""
    buffer = np.empty(1, dtype=np.float32)
    for e in range(margin.shape[0]):
        target = sigmoid_of(margin[e])
        low = key_of_float32(np.float32(-np.inf), buffer) - 1  # below -inf: never reaches it
        high = key_of_float32(margin[e], buffer)  # reaches it
        while high - low > 1:
            middle = low + (high - low) // 2
            if sigmoid_of(float32_of_key(middle, buffer)) >= target:
                high = middle
            else:
                low = middle
        out[e] = float32_of_key(high, buffer)


@_jit
def count(nodes, starts, x, out):  # pragma: no cover - compiled
    """Nodes (splits and leaves) each row of ``x`` visits from ``starts[r]`` as xgboost walks
    the trees, to ``out``: every split, and the leaf at the end of each edge that leads to one
    (a tree that is one leaf: its record, one visit)."""
    for r in range(x.shape[0]):
        index = starts[r]
        visits = 0
        while nodes[index]["left"] != index:
            node = nodes[index]
            index, _, leaf = _edge(node, x[r, node["feature"]])
            visits += 1 + leaf
        out[r] = visits
