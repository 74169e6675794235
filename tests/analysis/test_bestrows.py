"""Each event's best assignment without finishing every walk: the same rows and scores as the
first maximum of every row's score, on generated, random and edge-case rows (ties, saturated
probabilities, NaN); the bounds it stops walks with hold; xgboost's float32 sigmoid never
decreases, which the floors rely on."""

from __future__ import annotations

import concurrent.futures
import functools
import json

import numpy as np
import pytest
from tests.analysis.test_inference import random_rows

from agc.analysis import treewalk
from agc.analysis.inference import (
    best_rows,
    best_scores,
    effective_rounds,
    forest,
    load_models,
    scores,
)
from agc.analysis.treecompile import best_of_events, build_forest, margins, sigmoid


@pytest.fixture(scope="module")
def models():
    return load_models()


def assert_same_best(models, feats: np.ndarray, even: np.ndarray, event: np.ndarray) -> None:
    """:func:`best_scores` (compiled, stopping walks) gives the rows and scores of the first
    maximum of every row's xgboost score."""
    every = scores(models, feats, even, backend="xgboost")
    expected = best_rows(event, every)
    for backend in ("compiled", "xgboost"):
        rows, score = best_scores(models, feats, even, event, backend)
        assert rows.dtype == np.int64
        assert score.dtype == np.float64
        assert np.array_equal(rows, expected)
        assert np.array_equal(score, every[expected])


def test_random_events_have_the_same_best_rows(models) -> None:
    feats, event, even = random_rows(1000, seed=8)
    assert len(np.unique(event)) > 900
    assert_same_best(models, feats, even, event)


def test_generated_ttbar_events_have_the_same_best_rows(models, tmp_path) -> None:
    """Generated ttbar events, where most rows of an event stop early."""
    from tests.analysis.test_treecompile import file_features

    from agc.dataset.generate import generate_dataset

    generate_dataset(tmp_path, scale=0.03, samples=["ttbar__nominal"])
    feats, even, event = file_features(
        next(tmp_path.glob("ttbar__nominal_*.root")), with_event=True
    )
    assert len(feats) >= 30_000
    f = forest(models)
    _, stopped = walks(f, feats, even, event)
    assert stopped.mean() > 0.5  # the floors do stop most walks
    assert_same_best(models, feats, even, event)


def walks(f, feats, even, event):
    """(margin, stopped) of every row, with the floors :func:`best_of_events` sets: from the
    best row's margin of each event (the highest floor it can set)."""
    from agc.analysis.treecompile import _event_runs, _walk

    full = margins(f, feats, even.astype(np.int64))
    best = best_rows(event, sigmoid(full))
    lowest = np.empty(len(best), dtype=np.float32)
    treewalk.lowest_margins(full[best], lowest)
    floor = np.repeat(lowest.astype(np.float64) - f.slack, _event_runs(event)[1])
    x = np.ascontiguousarray(feats, dtype=np.float32)
    margin, stopped = _walk(f, x, f.roots[even.astype(np.int64)], floor)
    assert np.array_equal(margin[~stopped], full[~stopped])
    assert np.all(full[stopped] < floor[stopped] + f.slack)  # stopped below the floor
    return margin, stopped


def scaled_forest(models, factor: float):
    """The node table of both models with every leaf value times ``factor`` (margins far
    beyond the AGC models', where many float32 probabilities are exactly 1.0)."""
    scaled = []
    for raw in (models.even, models.odd):
        model = json.loads(raw)
        for tree in model["learner"]["gradient_booster"]["model"]["trees"]:
            tree["split_conditions"] = [
                c * factor if lc == -1 else c
                for lc, c in zip(tree["left_children"], tree["split_conditions"], strict=True)
            ]
        scaled.append((json.dumps(model).encode(), effective_rounds(raw)))
    return build_forest(scaled)


def reference_best(f, feats, ensemble, event):
    """The first maximum of every row's probability, and that probability."""
    probability = sigmoid(margins(f, feats, ensemble))
    best = best_rows(event, probability)
    return best, probability[best]


def test_ties_and_saturated_scores_go_to_the_first_row(models) -> None:
    """Equal rows tie; rows whose margins differ but whose float32 probabilities are both 1.0
    tie too, and the first of them is the best even when a later row has the larger margin."""
    f = scaled_forest(models, 20.0)
    feats, _, _ = random_rows(300, seed=4)
    ensemble = np.ones(len(feats), dtype=np.int64)
    margin = margins(f, feats, ensemble)
    saturated = np.flatnonzero(sigmoid(margin) == 1.0)
    assert len(np.unique(margin[saturated])) > 10
    top = saturated[np.argmax(margin[saturated])]
    high = saturated[np.argmin(margin[saturated])]
    low = int(np.argmin(margin))
    rows = feats[[low, high, top, low, low, top, high, low, top]]
    event = np.array([0, 0, 0, 1, 1, 1, 2, 2, 3])
    got, score = best_of_events(f, rows, ensemble[: len(rows)], event)
    assert got.tolist() == [1, 5, 6, 8]
    assert score.tolist() == [1.0, 1.0, 1.0, 1.0]
    assert_same_best(models, rows, np.ones(len(rows), dtype=bool), event)
    # every random event under the scaled model: many ties at 1.0 and at the clipped minimum
    _, event, even = random_rows(300, seed=4)
    ensemble = even.astype(np.int64)
    for got_part, expected_part in zip(
        best_of_events(f, feats, ensemble, event),
        reference_best(f, feats, ensemble, event),
        strict=True,
    ):
        assert np.array_equal(got_part, expected_part)


def test_rows_with_nan_and_single_row_events(models) -> None:
    feats, event, even = random_rows(200, seed=9)
    feats = feats.copy()
    feats[::7, 3] = np.nan
    feats[::11] = np.nan
    assert_same_best(models, feats, even, event)
    first = np.flatnonzero(np.r_[True, event[1:] != event[:-1]])
    assert_same_best(models, feats[first], even[first], event[first])
    rows, score = best_of_events(forest(models), feats[:0], even[:0], event[:0])
    assert rows.shape == score.shape == (0,)


def test_node_bounds_hold_every_walk(models) -> None:
    """No row's margin exceeds the bound of its first record plus the rounding allowance, and a
    split's bound is at least each edge's value plus the bound of the record it leads to."""
    f = forest(models)
    feats, _, even = random_rows(300, seed=3)
    ensemble = even.astype(np.int64)
    assert np.all(margins(f, feats, ensemble) <= f.bound[f.roots[ensemble]] + f.slack)
    split = f.nodes["left"] != np.arange(len(f.nodes))
    assert split.sum() == len(f.nodes) - len(f.roots)  # one terminal record per ensemble
    for edge in ("left", "right"):
        after = f.bound[f.nodes[edge][split].astype(np.int64)]
        assert np.all(f.bound[split] >= f.nodes[f"{edge}_value"][split] + after)
    assert 0 < f.slack < 1e-2


def test_lowest_margins_are_the_first_float32_of_their_probability() -> None:
    rng = np.random.default_rng(2)
    margin = np.concatenate(
        [
            rng.uniform(-100, 100, 20_000),
            rng.normal(0, 3, 20_000),
            [0.0, -0.0, 16.6, 16.7, 88.7, -88.7, -89.0, 1e-30, -1e-30, 3.4e38, -3.4e38],
        ]
    ).astype(np.float32)
    lowest = np.empty_like(margin)
    treewalk.lowest_margins(margin, lowest)
    target = sigmoid(margin)
    assert np.all(lowest <= margin)
    assert np.array_equal(sigmoid(lowest), target)
    below = np.nextafter(lowest, np.float32(-np.inf))
    finite = np.isfinite(lowest)
    assert np.all(sigmoid(below[finite]) < target[finite])
    assert np.all(sigmoid(np.float32([-np.inf, -3.4e38])) == target[~finite][:, None])


@functools.cache
def order_check():
    """A compiled ``check(first, last)``: whether :func:`agc.analysis.treewalk.sigmoid_of`
    never decreases over the float32 values of order keys ``first``..``last``."""
    import numba

    sigmoid_of, of_key = treewalk.sigmoid_of, treewalk.float32_of_key

    @numba.njit(nogil=True)
    def check(first, last):  # pragma: no cover - compiled
        buffer = np.empty(1, dtype=np.float32)
        previous = sigmoid_of(of_key(first, buffer))
        for key in range(first + 1, last + 1):
            value = sigmoid_of(of_key(key, buffer))
            if value < previous:
                return False
            previous = value
        return True

    check(0, 1)
    return check


def test_sigmoid_never_decreases() -> None:
    """Over every float32 margin. Below -88.7 the sigmoid is constant (its argument is
    clipped); between -2**-26 and 2**-26 it is 0.5 (``expf`` lies within one float32 step of 1,
    and 1 + that rounds to 2); above 2**7, ``expf(-margin)`` underflows to 0 and it is 1. The
    rest, about 560 million values, is checked one by one (two threads)."""
    buffer = np.empty(1, dtype=np.float32)

    def key(value: float) -> int:
        return treewalk.key_of_float32(np.float32(value), buffer)

    tiny = np.float32(2.0**-26)
    constants = {
        "clipped": np.float32([-np.inf, -3.4e38, -1e3, -89.0, -88.7]),
        "half": np.float32([-tiny, -1e-30, -0.0, 0.0, 1e-30, tiny]),
        "one": np.float32([2.0**7, 1e3, 3.4e38, np.inf]),
    }
    for values in constants.values():
        assert len(set(sigmoid(values).tolist())) == 1
    spans = [(key(-88.7), key(-tiny)), (key(tiny), key(2.0**7))]
    pieces = [
        (start, min(start + 2**26, end))
        for first, last in spans
        for start in range(first, last, 2**26)
        for end in [last]
    ]
    check = order_check()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        assert all(pool.map(lambda span: check(*span), pieces))
