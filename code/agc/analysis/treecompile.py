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

Layout (:class:`Forest`): the trees of both parities in one array of 16-byte node records
(:data:`NODE_DTYPE`), each tree in depth-first order. A leaf's three successors are the root of
the next tree (the last tree's: a terminal node that points to itself), so a row's whole
traversal is one walk through the table -- ``margin += node.value`` at every node (0 for a
split, exactly neutral in float32 addition) then the next node -- without a branch on the node
kind. Several rows walk at once (:mod:`agc.analysis.treewalk`, the numba kernels), whose
independent load chains the CPU overlaps.

The node table is built at run time from the JSON models (:func:`build_forest`); the kernels are
compiled once per process (cached on disk when numba can write its cache, in memory otherwise).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

__all__ = [
    "NODE_DTYPE",
    "Forest",
    "build_forest",
    "margins",
    "node_visits",
    "probabilities",
    "sigmoid",
]

#: One node: split condition (float32), value added to the margin (the leaf value, 0.0 for a
#: split), the next node when the feature is below the condition, when it is not and when it is
#: missing (uint16 node indices: the two AGC models have 55 k nodes), the feature index.
NODE_DTYPE = np.dtype(
    [
        ("cond", np.float32),
        ("value", np.float32),
        ("left", np.uint16),
        ("right", np.uint16),
        ("missing", np.uint16),
        ("feature", np.uint8),
        ("pad", np.uint8),
    ]
)


@dataclass(frozen=True)
class Forest:
    """Tree ensembles as one node table.

    ``nodes``: :data:`NODE_DTYPE` records; ``roots``: int64, the first node of each ensemble
    (``roots[m]`` for ensemble ``m``); ``idle``: a terminal node (where a lane without a row
    waits); ``n_features``: features a row must have.
    """

    nodes: np.ndarray
    roots: np.ndarray
    idle: int
    n_features: int


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
    in ensemble order."""
    records: list[tuple] = []
    roots = []
    n_features = 0
    for raw, n_trees in models:
        trees, n_feat = _trees(raw, n_trees)
        n_features = max(n_features, n_feat)
        roots.append(len(records))
        for tree in trees:
            order = _depth_first(tree)
            start = len(records)
            position = {node: start + i for i, node in enumerate(order)}
            after = start + len(order)  # the next tree's root, or the ensemble's terminal node
            cond = np.asarray(tree["split_conditions"], dtype=np.float32)
            for node in order:
                lc, rc = tree["left_children"][node], tree["right_children"][node]
                if lc == -1:
                    records.append((0.0, cond[node], after, after, after, 0, 0))
                else:
                    left, right = position[lc], position[rc]
                    missing = left if tree["default_left"][node] else right
                    feature = tree["split_indices"][node]
                    records.append((cond[node], 0.0, left, right, missing, feature, 0))
        terminal = len(records)
        records.append((0.0, 0.0, terminal, terminal, terminal, 0, 0))
    if len(records) > np.iinfo(np.uint16).max or n_features > np.iinfo(np.uint8).max:
        raise ValueError(f"{len(records)} nodes / {n_features} features exceed the node layout")
    nodes = np.array(records, dtype=NODE_DTYPE)
    nodes.flags.writeable = False
    return Forest(
        nodes=nodes, roots=np.asarray(roots, dtype=np.int64), idle=terminal, n_features=n_features
    )


def margins(forest: Forest, x: np.ndarray, ensemble: np.ndarray) -> np.ndarray:
    """Float32 margin of each row of ``x`` ((rows, n_features), cast to float32 as xgboost
    does), row ``r`` scored by ensemble ``ensemble[r]`` (integer index into ``forest.roots``).

    Rows without NaN walk in lanes (:func:`agc.analysis.treewalk.walk`), the others one by one
    with the default children (``walk_missing``): the same floats, a row's margin depends on the
    row only."""
    with np.errstate(over="ignore"):  # beyond the float32 range: +-inf, as xgboost casts
        x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] < forest.n_features:
        raise ValueError(f"x must be (rows, >= {forest.n_features}), got {x.shape}")
    starts = forest.roots[np.asarray(ensemble, dtype=np.int64)]
    out = np.empty(len(x), dtype=np.float32)
    from agc.analysis import treewalk  # numba: imported where inference runs

    finite = np.empty(len(x), dtype=bool)
    treewalk.finite_rows(x, finite)
    if finite.all():
        treewalk.walk(forest.nodes, starts, x, forest.idle, out)
        return out
    for rows, kernel in ((np.flatnonzero(finite), "walk"), (np.flatnonzero(~finite), "missing")):
        part = np.empty(len(rows), dtype=np.float32)
        if kernel == "walk":
            treewalk.walk(forest.nodes, starts[rows], x[rows], forest.idle, part)
        else:
            treewalk.walk_missing(forest.nodes, starts[rows], x[rows], part)
        out[rows] = part
    return out


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
    """Nodes (splits and leaves, int64) each row visits in its ensemble's trees (the work the
    traversal does; arguments as for :func:`margins`)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.empty(len(x), dtype=np.int64)
    from agc.analysis import treewalk

    treewalk.count(forest.nodes, forest.roots[np.asarray(ensemble, dtype=np.int64)], x, out)
    return out
