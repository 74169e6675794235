"""The compiled BDTs against xgboost's ``inplace_predict``: the same float32 scores bit for bit on
real, generated and random features and on the edge cases of the traversal (a value equal to a
split condition or one float32 step beside it, NaN, +-inf, float64 values that round onto a
condition), and xgboost's float32 sigmoid over the whole margin range."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from coffea.nanoevents import NanoEventsFactory
from tests.analysis.test_inference import random_rows

from agc.analysis.assignment import lepton_columns, objects_of
from agc.analysis.inference import (
    best_scores,
    boosters,
    effective_rounds,
    forest,
    load_models,
    scores,
)
from agc.analysis.mlfeatures import assignments, features
from agc.analysis.processor import AGCSchema, collections
from agc.analysis.selection import select
from agc.analysis.treecompile import build_forest, margins, node_visits, probabilities, sigmoid
from agc.analysis.treelayout import LANE_WIDTH
from agc.core import physics


@pytest.fixture(scope="module")
def models():
    return load_models()


def xgboost_margins(models, feats: np.ndarray, even: np.ndarray) -> np.ndarray:
    """xgboost's float32 margins (the model trained on the other parity, effective rounds)."""
    model_even, model_odd = boosters(models)
    out = np.empty(len(feats), dtype=np.float32)
    for mask, booster, raw in ((even, model_odd, models.odd), (~even, model_even, models.even)):
        out[mask] = booster.inplace_predict(
            feats[mask], iteration_range=(0, effective_rounds(raw)), predict_type="margin"
        )
    return out


def assert_identical(models, feats: np.ndarray, even: np.ndarray) -> None:
    """Compiled margins and scores equal xgboost's bit for bit."""
    ensemble = even.astype(np.int64)
    got_margin = margins(forest(models), feats, ensemble)
    assert got_margin.dtype == np.float32
    assert np.array_equal(got_margin, xgboost_margins(models, feats, even), equal_nan=True)
    compiled = scores(models, feats, even)
    reference = scores(models, feats, even, backend="xgboost")
    assert compiled.dtype == reference.dtype == np.float64
    assert np.array_equal(compiled, reference)


def file_features(path, entries: int | None = None, with_event: bool = False) -> tuple:
    """Features and parity of every assignment of the 4j2b events of a NanoAOD file (and the
    event of each, with ``with_event``)."""
    events = NanoEventsFactory.from_root(
        {str(path): "Events"}, schemaclass=AGCSchema, entry_stop=entries, mode="eager"
    ).events()
    el, mu, jets = collections(events, ml=True)
    region = select(el, mu, jets, keep_jets=(physics.ML_REGION,)).regions[physics.ML_REGION]
    lepton = {k: v[region.mask] for k, v in lepton_columns(el, mu).items()}
    objects = objects_of(region.jets, lepton)
    rows = assignments(objects.counts)
    even = (events.event.to_numpy()[region.mask] % 2 == 0)[rows.event]
    return (
        (features(objects, rows), even, rows.event)
        if with_event
        else (features(objects, rows), even)
    )


def leading_lepton(collection, field: str) -> np.ndarray:
    """Per event the ``field`` of the first object of ``collection`` (NaN if it has none)."""
    values = np.append(np.asarray(getattr(collection, field)), np.float32(np.nan))
    first = np.where(collection.counts > 0, collection.offsets[:-1], len(values) - 1)
    return values[first]


def test_real_cms_events_score_as_with_xgboost(models, real_nanoaod) -> None:
    """Every jet of the 200 real events (none of which is in 4j2b) with its leading muon, or
    electron: real float32 kinematics, b-tags and qgl in every assignment."""
    events = NanoEventsFactory.from_root(
        {str(real_nanoaod): "Events"}, schemaclass=AGCSchema, mode="eager"
    ).events()
    el, mu, jets = collections(events, ml=True)
    lepton = {}
    for field in ("pt", "eta", "phi", "mass"):
        muon, electron = leading_lepton(mu, field), leading_lepton(el, field)
        lepton[field] = np.where(np.isnan(muon), np.nan_to_num(electron), muon)
    objects = objects_of(jets, lepton)
    rows = assignments(objects.counts)
    feats = features(objects, rows)
    even = (events.event.to_numpy() % 2 == 0)[rows.event]
    assert len(feats) > 4_000
    assert even.any()
    assert (~even).any()
    assert_identical(models, feats, even)


def test_generated_ttbar_events_score_as_with_xgboost(models, tmp_path) -> None:
    from agc.dataset.generate import generate_dataset

    manifest = json.loads(
        generate_dataset(tmp_path, scale=0.1, samples=["ttbar__nominal"]).read_text()
    )
    path = tmp_path / manifest["ttbar"]["nominal"]["files"][0]["path"]
    feats, even = file_features(path)
    assert len(feats) >= 100_000
    assert_identical(models, feats, even)


def test_random_events_score_as_with_xgboost(models) -> None:
    feats, _, even = random_rows(1000, seed=8)
    assert len(feats) >= 100_000
    assert_identical(models, feats, even)


def split_conditions(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(feature, float32 condition) of every split of a model's trees."""
    trees = json.loads(raw)["learner"]["gradient_booster"]["model"]["trees"]
    feature, cond = [], []
    for tree in trees:
        split = np.asarray(tree["left_children"]) != -1
        feature.append(np.asarray(tree["split_indices"])[split])
        cond.append(np.asarray(tree["split_conditions"], dtype=np.float32)[split])
    return np.concatenate(feature), np.concatenate(cond)


def test_values_on_and_beside_every_split_condition_score_as_with_xgboost(models) -> None:
    base, _, _ = random_rows(40, seed=2)
    for raw, parity in ((models.even, False), (models.odd, True)):
        feature, cond = split_conditions(raw)
        c64 = cond.astype(np.float64)
        variants = [
            c64,  # exactly on the condition: goes right
            np.nextafter(cond, np.float32(-np.inf)).astype(np.float64),  # one step below: left
            np.nextafter(cond, np.float32(np.inf)).astype(np.float64),
            np.nextafter(c64, -np.inf),  # float64 just below: rounds onto the condition
            np.nextafter(c64, np.inf),
        ]
        rows = []
        for i, values in enumerate(variants):
            x = base[(np.arange(len(cond)) + i) % len(base)].copy()
            x[np.arange(len(cond)), feature] = values
            rows.append(x)
        feats = np.concatenate(rows)
        # model_even scores odd events, model_odd even ones
        assert_identical(models, feats, np.full(len(feats), parity))


def test_missing_and_infinite_values_score_as_with_xgboost(models) -> None:
    feats, _, even = random_rows(60, seed=4)
    rng = np.random.default_rng(9)
    special = np.array([np.nan, np.inf, -np.inf, 1e300, -1e300, 0.0, -0.0])
    hit = rng.random(feats.shape) < 0.15
    feats[hit] = rng.choice(special, hit.sum())
    feats[:20] = np.nan  # rows with every feature missing
    assert np.isnan(feats).any(axis=1).mean() > 0.3
    assert_identical(models, feats, even)


def test_sigmoid_is_xgboosts_over_the_margin_range(models) -> None:
    model = json.loads(models.even)
    tree = model["learner"]["gradient_booster"]["model"]["trees"][0]
    left = np.asarray(tree["left_children"])
    tree["split_conditions"] = [
        0.0 if lc == -1 else c for lc, c in zip(left, tree["split_conditions"], strict=True)
    ]
    raw = json.dumps(model).encode()
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(bytearray(raw))
    rng = np.random.default_rng(1)
    margin = np.concatenate(
        [
            rng.uniform(-100, 100, 400_000),
            rng.normal(0, 3, 400_000),
            np.linspace(-89, -88, 10_001),
            [0.0, -0.0, 88.7, -88.7, 1e-30, -1e-30, 3.4e38, -3.4e38],
        ]
    ).astype(np.float32)
    x = np.zeros((len(margin), 20), dtype=np.float32)
    expected = booster.inplace_predict(x, iteration_range=(0, 1), base_margin=margin)
    zero_leaves = build_forest([(raw, 1)])
    assert np.array_equal(sigmoid(margin), expected)
    assert np.array_equal(margins(zero_leaves, x[:100], np.zeros(100, np.int64)), np.zeros(100))


def test_compiled_scores_do_not_depend_on_row_blocks(models) -> None:
    feats, _, even = random_rows(50, seed=6)
    whole = scores(models, feats, even)
    for size in (1, 7, 8, 9, 12, 13, 1000):
        pieces = [
            scores(models, feats[i : i + size], even[i : i + size]) for i in range(0, 300, size)
        ]
        assert np.array_equal(np.concatenate(pieces)[:300], whole[:300])
    assert scores(models, feats[:0], even[:0]).shape == (0,)


def test_columns_past_the_models_features_are_ignored(models) -> None:
    """Rows wider than the models' 20 features, wider than a lane's slot too, with NaN and
    junk in the extra columns, score as their first 20 columns do."""
    feats, _, even = random_rows(30, seed=12)
    feats[::9, 5] = np.nan
    rng = np.random.default_rng(13)
    extra = rng.normal(size=(len(feats), 17)) * 1e3
    extra[::4, 3] = np.nan
    wide = np.hstack([feats, extra])
    assert wide.shape[1] > LANE_WIDTH >= feats.shape[1]
    assert np.array_equal(scores(models, wide, even), scores(models, feats, even))
    best = best_scores(models, wide, even, np.arange(len(feats)) // 7)
    expected = best_scores(models, feats, even, np.arange(len(feats)) // 7)
    assert all(np.array_equal(a, b) for a, b in zip(best, expected, strict=True))


def node_depths(tree: dict) -> np.ndarray:
    """Depth (root 0) of every node id of an xgboost JSON tree."""
    depth = np.zeros(len(tree["left_children"]), dtype=np.int64)
    for node in range(1, len(depth)):  # a child's id is larger than its parent's
        depth[node] = depth[tree["parents"][node]] + 1
    return depth


def xgboost_visits(models, feats: np.ndarray, even: np.ndarray) -> np.ndarray:
    """Per row the nodes xgboost visits: per tree, the path from the root to the leaf it lands
    on (``pred_leaf``), over the effective rounds of the model of the other parity."""
    import xgboost

    model_even, model_odd = boosters(models)
    out = np.zeros(len(feats), dtype=np.int64)
    for mask, booster, raw in ((even, model_odd, models.odd), (~even, model_even, models.even)):
        rounds = effective_rounds(raw)
        trees = json.loads(raw)["learner"]["gradient_booster"]["model"]["trees"][:rounds]
        leaves = booster.predict(
            xgboost.DMatrix(feats[mask], missing=np.nan),
            pred_leaf=True,
            iteration_range=(0, rounds),
        ).astype(np.int64)
        depth = [node_depths(tree)[leaves[:, t]] for t, tree in enumerate(trees)]
        out[mask] = (np.stack(depth, axis=1) + 1).sum(axis=1)
    return out


def test_node_visits_are_xgboosts_path_lengths(models) -> None:
    feats, _, even = random_rows(40, seed=3)
    feats[::13, 2] = np.nan
    visits = node_visits(forest(models), feats, even.astype(np.int64))
    assert np.array_equal(visits, xgboost_visits(models, feats, even))
    assert visits.min() > 2 * effective_rounds(models.odd)


def test_a_tree_that_is_one_leaf_scores_as_with_xgboost(models) -> None:
    """A boosting round whose tree is a single leaf adds its value to every row and counts one
    node visit, as in xgboost."""
    from agc.analysis.inference import ModelBytes

    model = json.loads(models.even)
    tree = model["learner"]["gradient_booster"]["model"]["trees"][1]
    n_nodes = len(tree["left_children"])
    for key, value in tree.items():
        if isinstance(value, list) and len(value) == n_nodes:
            tree[key] = value[:1]
    tree.update(left_children=[-1], right_children=[-1], split_conditions=[0.125])
    tree["tree_param"]["num_nodes"] = "1"
    raw = json.dumps(model).encode()
    stump = ModelBytes(even=raw, odd=raw)
    feats, _, even = random_rows(20, seed=5)
    feats[::7, 4] = np.nan
    assert_identical(stump, feats, even)
    visits = node_visits(forest(stump), feats, even.astype(np.int64))
    assert np.array_equal(visits, xgboost_visits(stump, feats, even))


def test_unsupported_models_and_backends_are_refused(models) -> None:
    model = json.loads(models.even)
    model["learner"]["learner_model_param"]["base_score"] = "3E-1"
    with pytest.raises(ValueError, match=r"base_score 0\.5"):
        build_forest([(json.dumps(model).encode(), 3)])
    wide = json.loads(models.even)
    wide["learner"]["learner_model_param"]["num_feature"] = "33"
    with pytest.raises(ValueError, match="33 features exceed"):
        build_forest([(json.dumps(wide).encode(), 3)])
    model["learner"]["objective"]["name"] = "reg:squarederror"
    with pytest.raises(ValueError, match="binary:logistic"):
        build_forest([(json.dumps(model).encode(), 3)])
    feats, _, even = random_rows(5, seed=1)
    with pytest.raises(ValueError, match="backend"):
        scores(models, feats, even, backend="onnx")
    with pytest.raises(ValueError, match="x must be"):
        probabilities(forest(models), feats[:, :5], even.astype(np.int64))


def nearest_float32(text: str) -> np.float32:
    """The float32 nearest the decimal ``text`` (ties to even), in exact rational arithmetic."""
    exact = Fraction(text)
    guess = np.float32(float(text))
    candidates = [
        np.nextafter(guess, np.float32(-np.inf)),
        guess,
        np.nextafter(guess, np.float32(np.inf)),
    ]
    distances = [abs(Fraction(float(c)) - exact) for c in candidates]
    best = min(distances)
    ties = [c for c, d in zip(candidates, distances, strict=True) if d == best]
    return min(ties, key=lambda c: int(np.array(c).view(np.uint32)) & 1)


def test_json_numbers_become_the_nearest_float32(models) -> None:
    """Through a float64 the model's decimal numbers round to the float32 xgboost parses them
    to (the nearest one), for every split condition and leaf value of both models: exactly
    (rational arithmetic) where the float64 lies near the midpoint of two float32s, where a
    double rounding could go the other way; elsewhere the float64 is on the decimal's side."""
    for raw in (models.even, models.odd):
        trees = json.loads(raw, parse_float=str)["learner"]["gradient_booster"]["model"]["trees"]
        texts = np.concatenate([np.asarray(t["split_conditions"], dtype=object) for t in trees])
        as64 = np.asarray([float(t) for t in texts])
        ours = as64.astype(np.float32)
        toward = np.nextafter(ours, np.where(as64 > ours, np.inf, -np.inf).astype(np.float32))
        midpoint = (ours.astype(np.float64) + toward.astype(np.float64)) / 2
        near = np.abs(as64 - midpoint) <= np.abs(as64) * 2.0**-50
        assert len(texts) > 20_000
        for i in np.flatnonzero(near):
            assert ours[i] == nearest_float32(texts[i])
