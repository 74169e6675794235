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
alone (:func:`walk_missing`). Record indices and slot offsets are unsigned, so numba adds no
negative-index wraparound to the loads.

The floors come from xgboost's float32 sigmoid (:func:`sigmoid_of`) through
:func:`lowest_margins`, which needs the sigmoid never to decrease from one float32 margin to
the next; the tests check that over every float32.
"""

from __future__ import annotations

import math

import numpy as np

from agc.analysis.treelayout import DEFAULT_LEFT, LANE_WIDTH, LEFT_LEAF, RIGHT_LEAF
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
def _step(nodes, lanes_x, slot, index, margin):  # pragma: no cover - compiled
    """One split of a lane of a row without NaN: (the record its edge leads to, margin + the
    edge's value). The row's feature (float32 at ``lanes_x[slot + feature]``, the lane's copy
    of its row) goes left when below the condition, right otherwise (xgboost's
    ``GetNextNode`` for a value that is not missing)."""
    node = nodes[index]
    value = lanes_x[slot + np.uint64(node["feature"])]
    if value < node["cond"]:
        return np.uint64(node["left"]), margin + node["left_value"]
    return np.uint64(node["right"]), margin + node["right_value"]


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
def _lanes_of(values):  # pragma: no cover - compiled
    """The first :data:`LANES` items of ``values`` as a tuple (the callers' local variables)."""
    return (
        values[0],
        values[1],
        values[2],
        values[3],
        values[4],
        values[5],
        values[6],
        values[7],
        values[8],
        values[9],
        values[10],
        values[11],
    )


@_jit
def _set_lanes(values, lanes):  # pragma: no cover - compiled
    """``values[k] = lanes[k]`` for each lane ``k`` (``lanes``: a tuple of :data:`LANES`)."""
    (
        values[0],
        values[1],
        values[2],
        values[3],
        values[4],
        values[5],
        values[6],
        values[7],
        values[8],
        values[9],
        values[10],
        values[11],
    ) = lanes


@_jit
def _hand_in(nodes, bound, rows, lanes, outs, following):  # pragma: no cover - compiled
    """Every lane of ``lanes`` whose row is done (:func:`_done`) or that has none yet (row -2)
    gives its margin to ``outs[0]`` and whether its walk stopped before the terminal node to
    ``outs[1]``, then takes the next row of ``rows`` from ``following`` on: its start node, its
    floor and a copy of its features in the lane's slot of ``lanes_x``; past the last row it
    rests on the idle terminal node with row -1. Returns (the next row to take, whether any
    lane has a row). ``rows``: (start nodes, floors, x, idle terminal node); ``lanes``: per lane
    node index, row, margin, floor, and ``lanes_x``."""
    starts, floor, x, idle = rows
    index, taken, margin, lane_floor, lanes_x = lanes
    out, stopped = outs
    busy = False
    for lane in range(LANES):
        row = taken[lane]
        if row == -2 or (
            row >= 0 and _done(nodes, bound, index[lane], margin[lane], lane_floor[lane])
        ):
            if row >= 0:
                out[row] = margin[lane]
                stopped[row] = nodes[index[lane]]["left"] != index[lane]
            margin[lane] = 0.0
            if following < starts.shape[0]:
                index[lane], taken[lane] = starts[following], following
                lane_floor[lane] = floor[following]
                for k in range(min(x.shape[1], LANE_WIDTH)):
                    lanes_x[lane * LANE_WIDTH + k] = x[following, k]
                following += 1
            else:
                index[lane], taken[lane], lane_floor[lane] = idle, -1, -np.inf
        busy |= taken[lane] >= 0
    return following, busy


@_jit
def walk(nodes, bound, rows, x, idle, outs):  # pragma: no cover - compiled
    """Float32 margins (to ``outs[0]``) of the rows of ``x`` (float32, (rows, features), no
    NaN: :func:`finite_rows`; the trees read at most :data:`LANE_WIDTH` features). ``rows``:
    per row its start node and float64 floor; row ``r`` walks from ``starts[r]``, adding to a
    float32 margin from 0, until a terminal node (one that leads to itself), or until its
    margin plus ``bound`` of its node (the most the rest of the walk can add) is below
    ``floor[r]``: the row then stops early and ``outs[1][r]`` is True (``bound`` None: every
    row walks to its terminal node).

    Every :data:`STEPS_PER_CHECK` steps each lane whose row is done hands it in and takes the
    next one (:func:`_hand_in`), so that the lanes stay busy whatever the lengths of their rows'
    walks (a lockstep group of rows would wait for its longest walk: a fifth of the steps).
    Between two checks a lane's node index and margin are local variables, and the features of
    its row sit in the lane's own slot of a small buffer, at a constant offset: the CPU's
    registers then hold the twelve node indices, and the rest of a lane's state waits in small
    arrays."""
    lanes_x = np.zeros(LANES * LANE_WIDTH, dtype=np.float32)
    index, margin = np.empty(LANES, dtype=np.uint64), np.zeros(LANES, dtype=np.float32)
    lanes = (index, np.full(LANES, -2, dtype=np.int64), margin, np.empty(LANES), lanes_x)
    rows = (rows[0], rows[1], x, np.uint64(idle))
    following, busy = _hand_in(nodes, bound, rows, lanes, outs, 0)
    while busy:
        c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11 = _lanes_of(index)
        m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11 = _lanes_of(margin)
        for _ in range(STEPS_PER_CHECK):
            c0, m0 = _step(nodes, lanes_x, np.uint64(0 * LANE_WIDTH), c0, m0)
            c1, m1 = _step(nodes, lanes_x, np.uint64(1 * LANE_WIDTH), c1, m1)
            c2, m2 = _step(nodes, lanes_x, np.uint64(2 * LANE_WIDTH), c2, m2)
            c3, m3 = _step(nodes, lanes_x, np.uint64(3 * LANE_WIDTH), c3, m3)
            c4, m4 = _step(nodes, lanes_x, np.uint64(4 * LANE_WIDTH), c4, m4)
            c5, m5 = _step(nodes, lanes_x, np.uint64(5 * LANE_WIDTH), c5, m5)
            c6, m6 = _step(nodes, lanes_x, np.uint64(6 * LANE_WIDTH), c6, m6)
            c7, m7 = _step(nodes, lanes_x, np.uint64(7 * LANE_WIDTH), c7, m7)
            c8, m8 = _step(nodes, lanes_x, np.uint64(8 * LANE_WIDTH), c8, m8)
            c9, m9 = _step(nodes, lanes_x, np.uint64(9 * LANE_WIDTH), c9, m9)
            c10, m10 = _step(nodes, lanes_x, np.uint64(10 * LANE_WIDTH), c10, m10)
            c11, m11 = _step(nodes, lanes_x, np.uint64(11 * LANE_WIDTH), c11, m11)
        _set_lanes(index, (c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11))
        _set_lanes(margin, (m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11))
        following, busy = _hand_in(nodes, bound, rows, lanes, outs, following)


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
