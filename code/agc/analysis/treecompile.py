"""An xgboost ``binary:logistic`` tree ensemble flattened into one node table and traversed by
numba-compiled code, giving ``Booster.inplace_predict``'s probabilities bit for bit.

What xgboost 3.2's CPU predictor does (``src/predictor/cpu_predictor.cc``, ``predict_fn.h``,
``src/common/math.h``), and what :func:`probabilities` repeats:

- every feature value is cast to float32; a NaN is missing and follows the node's default
  child, any other value (``±inf`` included) goes left when ``value < split_condition`` in
  float32, right otherwise;
- the margin starts at the base score in margin space (``-logf(1 / base_score - 1)``, 0 for the
  base score 0.5 this module accepts) and the leaf value of each tree is added, tree by tree in
  the model's order, to a float32 accumulator;
- the probability is ``common::Sigmoid`` in float32: ``1 / (expf(min(-margin, 88.7)) + 1 +
  1e-16)``.

Layout (:class:`Forest`): the trees of both parities in one array of 20-byte split records
(:data:`NODE_DTYPE`), each tree's splits in depth-first order. A leaf has no record of its own:
its value sits on the edge that leads to it, in the split above (``left_value``,
``right_value``; 0.0 on an edge to another split, exactly neutral in float32 addition), and that
edge leads to the next tree's first split (after the last tree: a terminal record that points
to itself). A row's whole traversal is one walk through the table -- at every split, the edge
its feature picks, ``margin += edge value``, then the edge's record -- without a branch on the
node kind, one step per split (a tree of ``d`` splits on the path costs ``d`` steps for its
``d + 1`` node visits). A tree that is a single leaf becomes a record whose two edges carry its
value. Several rows walk at once (:mod:`agc.analysis.treewalk`, the numba kernels), whose
independent load chains the CPU overlaps.

Only each event's best assignment is needed downstream (the first row with the largest
probability), so :func:`best_of_events` need not finish every walk. Each record carries a bound,
the largest sum the rest of a walk from it can add (:func:`node_bounds`); float32 rounding can
lift a margin above its exact sum by at most :func:`rounding_slack`. A row is scored first in
each event; a later row whose margin plus its record's bound and the slack falls below the
smallest float32 margin with that row's probability cannot be the best or tie with it, and its
walk stops. The rows and probabilities it returns are those of scoring every row.

The node table is built at run time from the JSON models (:func:`build_forest`); the kernels are
compiled once per process (cached on disk when numba can write its cache, in memory otherwise).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

from agc.analysis.treelayout import DEFAULT_LEFT, LANE_WIDTH, LEFT_LEAF, NODE_DTYPE, RIGHT_LEAF

__all__ = [
    "NODE_DTYPE",
    "Forest",
    "best_of_events",
    "build_forest",
    "first_maxima",
    "margins",
    "node_visits",
    "probabilities",
    "sigmoid",
]

#: Trees of each ensemble in :attr:`Forest.head`.
HEAD_TREES = 2


@dataclass(frozen=True)
class Forest:
    """Tree ensembles as one node table.

    ``nodes``: :data:`NODE_DTYPE` records; ``roots``: int64, the first node of each ensemble
    (``roots[m]`` for ensemble ``m``); ``idle``: a terminal node (where a lane without a row
    waits); ``n_features``: features a row must have; ``bound``: float64 per node, the largest
    sum of the values a walk adds from that node to its terminal node (:func:`node_bounds`);
    ``slack``: the most by which float32 rounding can lift a margin above its exact sum
    (:func:`rounding_slack`); ``head``: the ensembles' first :data:`HEAD_TREES` trees as a
    forest of their own (None in that forest), whose margins pick the row of each event that
    :func:`best_of_events` scores first.
    """

    nodes: np.ndarray
    roots: np.ndarray
    idle: int
    n_features: int
    bound: np.ndarray
    slack: float
    head: Forest | None


def _trees(raw: bytes, n_trees: int) -> tuple[list[dict], int]:
    """The first ``n_trees`` trees and the feature count of a JSON model, which must be a
    single-output ``binary:logistic`` gbtree with numerical splits and base score 0.5."""
    learner = json.loads(raw)["learner"]
    param = learner["learner_model_param"]
    booster = learner["gradient_booster"]
    if learner["objective"]["name"] != "binary:logistic" or booster.get("name") != "gbtree":
        raise ValueError("only binary:logistic gbtree models are supported")
    if float(param["base_score"].strip("[]")) != 0.5 or int(param.get("num_target", 1)) != 1:
        raise ValueError("only models with one output and base_score 0.5 are supported")
    model = booster["model"]
    if any(group != 0 for group in model["tree_info"]):
        raise ValueError("only single-group models are supported")
    trees = model["trees"][:n_trees]
    for tree in trees:
        if any(tree["split_type"]) or int(tree["tree_param"].get("size_leaf_vector", 0)) > 1:
            raise ValueError("categorical splits and vector leaves are not supported")
    return trees, int(param["num_feature"])


def _depth_first(tree: dict) -> list[int]:
    """The node ids of an xgboost JSON tree in depth-first order (node, left, right)."""
    left, right = tree["left_children"], tree["right_children"]
    order, stack = [], [0]
    while stack:
        node = stack.pop()
        order.append(node)
        if left[node] != -1:
            stack += [right[node], left[node]]
    return order


def build_forest(models: list[tuple[bytes, int]]) -> Forest:
    """The node table of ``models``: (xgboost JSON bytes, number of leading trees to use) each,
    in ensemble order, with that of their first :data:`HEAD_TREES` trees as its ``head``. Each
    JSON model is parsed once."""
    parsed = [_trees(raw, n_trees) for raw, n_trees in models]
    ensembles = [trees for trees, _ in parsed]
    n_features = max((n_feat for _, n_feat in parsed), default=0)
    head = _forest([trees[:HEAD_TREES] for trees in ensembles], n_features, None)
    return _forest(ensembles, n_features, head)


def _forest(ensembles: list[list[dict]], n_features: int, head: Forest | None) -> Forest:
    """The :class:`Forest` of ``ensembles`` (each a list of xgboost JSON trees, in order), rows
    of ``n_features`` features, with ``head``."""
    records: list[tuple] = []
    roots = []
    for trees in ensembles:
        roots.append(len(records))
        for tree in trees:
            records += _split_records(tree, len(records))
        terminal = len(records)
        records.append((0.0, 0.0, 0.0, terminal, terminal, 0, 0, 0))
    if len(records) > np.iinfo(np.uint16).max or n_features > LANE_WIDTH:
        raise ValueError(
            f"{len(records)} splits / {n_features} features exceed the node layout "
            f"({np.iinfo(np.uint16).max} / {LANE_WIDTH})"
        )
    nodes = np.array(records, dtype=NODE_DTYPE)
    nodes.flags.writeable = False
    return Forest(
        nodes=nodes,
        roots=np.asarray(roots, dtype=np.int64),
        idle=terminal,
        n_features=n_features,
        bound=node_bounds(nodes),
        slack=rounding_slack(nodes, max(len(trees) for trees in ensembles)),
        head=head,
    )


def _split_records(tree: dict, start: int) -> list[tuple]:
    """The :data:`NODE_DTYPE` records of an xgboost JSON tree whose first record will be at
    index ``start``: its splits in depth-first order, each edge to a leaf carrying the leaf's
    value (float32) to the record after the tree; a tree that is one leaf, one record whose two
    edges carry its value (condition +inf, no leaf bits: one node visit)."""
    left, right = tree["left_children"], tree["right_children"]
    value = np.asarray(tree["split_conditions"], dtype=np.float32)  # a leaf's: its value
    splits = [node for node in _depth_first(tree) if left[node] != -1]
    if not splits:
        after = start + 1
        return [(np.inf, value[0], value[0], after, after, DEFAULT_LEFT, 0, 0)]
    position = {node: start + i for i, node in enumerate(splits)}
    after = start + len(splits)  # the next tree's first split, or the terminal record

    def edge(child: int) -> tuple[float, int, bool]:
        if left[child] == -1:
            return value[child], after, True
        return 0.0, position[child], False

    records = []
    for node in splits:
        left_value, left_next, left_leaf = edge(left[node])
        right_value, right_next, right_leaf = edge(right[node])
        flags = (
            DEFAULT_LEFT * bool(tree["default_left"][node])
            | LEFT_LEAF * left_leaf
            | RIGHT_LEAF * right_leaf
        )
        feature = tree["split_indices"][node]
        records.append(
            (value[node], left_value, right_value, left_next, right_next, flags, feature, 0)
        )
    return records


def node_bounds(nodes: np.ndarray, absolute: bool = False) -> np.ndarray:
    """Per record (float64, read-only) the largest sum of the edge values (their absolute
    values with ``absolute``) a walk adds from it to its terminal record: for a split the
    larger of (edge value + the bound of the edge's record) over its two edges, 0 at a terminal
    record. Edges lead to later records, so one backward pass fills it."""
    bound = np.zeros(len(nodes))
    values = [nodes[k].astype(np.float64) for k in ("left_value", "right_value")]
    if absolute:
        values = [np.abs(v) for v in values]
    left, right = nodes["left"].astype(np.int64), nodes["right"].astype(np.int64)
    for i in range(len(nodes) - 1, -1, -1):
        if left[i] != i:  # a terminal record adds nothing
            bound[i] = max(values[0][i] + bound[left[i]], values[1][i] + bound[right[i]])
    bound.flags.writeable = False
    return bound


def rounding_slack(nodes: np.ndarray, n_trees: int) -> float:
    """An upper bound (float64) on how far a float32 margin, added tree by tree, can lie above
    the exact sum of its at most ``n_trees`` leaf values. Every partial sum stays below the
    largest sum of absolute values along a walk, and each addition rounds by at most half a
    float32 spacing there; one whole spacing per tree covers that and the float64 rounding of
    :func:`node_bounds`."""
    largest = float(node_bounds(nodes, absolute=True).max()) + 1.0
    exponent = math.frexp(largest)[1]  # largest < 2**exponent
    return n_trees * math.ldexp(1.0, exponent - 23)  # float32 spacing at 2**exponent


def margins(forest: Forest, x: np.ndarray, ensemble: np.ndarray) -> np.ndarray:
    """Float32 margin of each row of ``x`` ((rows, n_features), cast to float32 as xgboost
    does), row ``r`` scored by ensemble ``ensemble[r]`` (integer index into ``forest.roots``).

    Rows without NaN walk in lanes (:func:`agc.analysis.treewalk.walk`), the others one by one
    with the default children (``walk_missing``): the same floats, a row's margin depends on the
    row only."""
    x = _float32_rows(forest, x)
    return _walk(forest, x, forest.roots[np.asarray(ensemble, dtype=np.int64)])[0]


def best_of_events(
    forest: Forest, x: np.ndarray, ensemble: np.ndarray, event: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(row index (int64) of each event's best row, its float32 probability): the first row of
    the event with the largest :func:`probabilities`, as from every row's probability, without
    finishing the walks of rows that cannot reach it.

    ``x`` and ``ensemble`` as for :func:`margins`; ``event``: the event of each row, sorted.
    Each event's row with the largest margin after :data:`HEAD_TREES` trees (``forest.head``)
    is scored first (and not again); its probability sets a floor, the smallest float32 margin
    with that probability or more (:func:`agc.analysis.treewalk.lowest_margins`). Any other row stops as soon as its margin
    plus the most its remaining nodes can add (``forest.bound``) and the rounding allowance
    (``forest.slack``) is below the floor: its probability is then below the first row's, and
    it can be neither the best nor tie with it. Rows with a NaN feature always finish."""
    x = _float32_rows(forest, x)
    if len(x) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    from agc.analysis import treewalk

    ensemble = np.asarray(ensemble, dtype=np.int64)
    starts = forest.roots[ensemble]
    head = forest.head or forest
    finite = _finite_rows(x)  # once for the three walks
    candidate = first_maxima(event, _walk(head, x, head.roots[ensemble], finite=finite)[0])
    candidate_margin = _walk(forest, x[candidate], starts[candidate], finite=finite[candidate])[0]
    lowest = np.empty_like(candidate_margin)
    treewalk.lowest_margins(candidate_margin, lowest)
    floor = np.repeat(lowest.astype(np.float64) - forest.slack, _event_runs(event)[1])
    starts[candidate] = forest.idle  # scored already: their walks end where they start
    margin, stopped = _walk(forest, x, starts, floor, finite)
    margin[candidate] = candidate_margin
    probability = sigmoid(margin)
    probability[stopped] = -np.inf
    best = first_maxima(event, probability)
    return best, probability[best]


def first_maxima(event: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Row index (int64) of the first row with the largest of ``values`` in each event that has
    rows, in event order (``event``: the event of each row, sorted)."""
    if len(event) == 0:
        return np.zeros(0, dtype=np.int64)
    starts, counts = _event_runs(event)
    best = np.maximum.reduceat(values, starts)
    first = np.flatnonzero(values == np.repeat(best, counts))
    keep = np.r_[True, event[first][1:] != event[first][:-1]]
    return first[keep]


def _event_runs(event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first row, number of rows) of each event, in event order (``event``: sorted, not
    empty)."""
    starts = np.flatnonzero(np.r_[True, event[1:] != event[:-1]])
    return starts, np.diff(np.r_[starts, len(event)])


def _float32_rows(forest: Forest, x: np.ndarray) -> np.ndarray:
    """``x`` as C-ordered float32 (values beyond the float32 range become +-inf, as xgboost
    casts), checked to have ``forest.n_features`` columns or more."""
    with np.errstate(over="ignore"):
        x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] < forest.n_features:
        raise ValueError(f"x must be (rows, >= {forest.n_features}), got {x.shape}")
    return x


def _finite_rows(x: np.ndarray) -> np.ndarray:
    """Whether each row of ``x`` (float32) has no NaN (bool per row)."""
    from agc.analysis import treewalk  # numba: imported where inference runs

    finite = np.empty(len(x), dtype=bool)
    treewalk.finite_rows(x, finite)
    return finite


def _walk(
    forest: Forest,
    x: np.ndarray,
    starts: np.ndarray,
    floor: np.ndarray | None = None,
    finite: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(float32 margin, whether it stopped below its floor) of each row of ``x`` (float32),
    walking from ``starts`` with float64 ``floor``s (:func:`agc.analysis.treewalk.walk`; None:
    every walk to its end, the kernel compiled without the floor test); rows with a NaN feature
    walk to the end with the default children. ``finite``: :func:`_finite_rows` of ``x`` if
    the caller has it."""
    from agc.analysis import treewalk  # numba: imported where inference runs

    if floor is None:
        bound, floor = None, np.full(len(x), -np.inf)
    else:
        bound = forest.bound

    margin = np.empty(len(x), dtype=np.float32)
    stopped = np.zeros(len(x), dtype=bool)
    if finite is None:
        finite = _finite_rows(x)
    if finite.all():
        treewalk.walk(forest.nodes, bound, (starts, floor), x, forest.idle, (margin, stopped))
        return margin, stopped
    rows = np.flatnonzero(finite)
    part, part_stopped = np.empty(len(rows), dtype=np.float32), np.zeros(len(rows), dtype=bool)
    treewalk.walk(
        forest.nodes,
        bound,
        (starts[rows], floor[rows]),
        x[rows],
        forest.idle,
        (part, part_stopped),
    )
    margin[rows], stopped[rows] = part, part_stopped
    rows = np.flatnonzero(~finite)
    part = np.empty(len(rows), dtype=np.float32)
    treewalk.walk_missing(forest.nodes, starts[rows], x[rows], part)
    margin[rows] = part
    return margin, stopped


def probabilities(forest: Forest, x: np.ndarray, ensemble: np.ndarray) -> np.ndarray:
    """Float32 probability of each row (:func:`margins`, then xgboost's float32 sigmoid)."""
    return sigmoid(margins(forest, x, ensemble))


def sigmoid(margin: np.ndarray) -> np.ndarray:
    """xgboost's float32 ``common::Sigmoid`` of each margin (float32 in, float32 out)."""
    margin = np.ascontiguousarray(margin, dtype=np.float32)
    out = np.empty_like(margin)
    from agc.analysis import treewalk

    treewalk.sigmoid(margin, out)
    return out


def node_visits(forest: Forest, x: np.ndarray, ensemble: np.ndarray) -> np.ndarray:
    """Nodes (splits and leaves, int64) each row visits in its ensemble's trees, as xgboost
    walks them (the compiled walk takes one step per split; arguments as for
    :func:`margins`)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.empty(len(x), dtype=np.int64)
    from agc.analysis import treewalk

    treewalk.count(forest.nodes, forest.roots[np.asarray(ensemble, dtype=np.int64)], x, out)
    return out
