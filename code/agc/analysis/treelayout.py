"""The record of one split in the node table of :mod:`agc.analysis.treecompile`, shared with
the numba kernels of :mod:`agc.analysis.treewalk` (which read it) without importing numba."""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_LEFT", "LANE_WIDTH", "LEFT_LEAF", "NODE_DTYPE", "RIGHT_LEAF"]

#: The most features a row may have: the compiled walk copies a row's features into a slot
#: of this many float32 (:func:`agc.analysis.treewalk.walk`).
LANE_WIDTH = 32

#: Bits of a record's ``flags``: the missing value takes the left edge; the left / right edge
#: leads to a leaf (the end of its tree, for counting node visits).
DEFAULT_LEFT, LEFT_LEAF, RIGHT_LEAF = 1, 2, 4

#: One split: its condition (float32), the value its left and right edges add to the margin
#: (a leaf's value, 0.0 towards a split), the records the edges lead to (uint16: the two AGC
#: models have 27 k splits), :data:`DEFAULT_LEFT` and the leaf bits, the feature index.
NODE_DTYPE = np.dtype(
    [
        ("cond", np.float32),
        ("left_value", np.float32),
        ("right_value", np.float32),
        ("left", np.uint16),
        ("right", np.uint16),
        ("flags", np.uint8),
        ("feature", np.uint8),
        ("pad", np.uint16),
    ]
)
