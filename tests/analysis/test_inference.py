"""The BDT inference: models checked, deterministic scores, the AGC's tie rule, exact binning."""

from __future__ import annotations

import shutil
from pathlib import Path

import hist
import numpy as np
import pytest
from tests.analysis.test_mlfeatures import objects_of, random_events

from agc.analysis.assignment import fill_values
from agc.analysis.inference import best_rows, boosters, effective_rounds, load_models, scores
from agc.analysis.mlfeatures import assignments, features
from agc.core import physics
from agc.core.errors import AGCError


@pytest.fixture(scope="module")
def models():
    return load_models()


def test_models_are_the_agcs_and_a_changed_model_is_refused(models, tmp_path: Path) -> None:
    assert models.sha256 == physics.ML_MODEL_SHA256
    shutil.copytree(physics.ML_MODEL_DIR, tmp_path / "m")
    target = tmp_path / "m" / "model_odd.json"
    target.chmod(0o644)
    target.write_bytes(target.read_bytes().replace(b"0.", b"1.", 1))
    with pytest.raises(AGCError, match=r"model_odd\.json: sha256 .* is not the AGC model"):
        load_models(tmp_path / "m")
    (tmp_path / "m" / "model_even.json").unlink()
    with pytest.raises(AGCError, match=r"cannot read BDT model .*model_even\.json"):
        load_models(tmp_path / "m")


def random_rows(n_events: int = 200, seed: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    jets, leptons = random_events(n_events, seed)
    rows = assignments(np.asarray([len(j) for j in jets.pt]))
    return features(objects_of(jets, leptons), rows), rows.event, rows.event % 2 == 0


def test_effective_rounds_give_the_same_floats_as_all_rounds(models) -> None:
    feats, _, _ = random_rows()
    model_even, model_odd = boosters(models)
    for raw, booster in ((models.even, model_even), (models.odd, model_odd)):
        rounds = effective_rounds(raw)
        assert 0 < rounds < booster.num_boosted_rounds()
        full = booster.inplace_predict(feats)
        cut = booster.inplace_predict(feats, iteration_range=(0, rounds))
        assert np.array_equal(full, cut)
        shorter = booster.inplace_predict(feats, iteration_range=(0, rounds - 1))
        assert not np.array_equal(full, shorter)  # the last counted tree does contribute


def test_scores_use_the_model_trained_on_the_other_parity(models) -> None:
    feats, _, even = random_rows()
    model_even, model_odd = boosters(models)
    got = scores(models, feats, even)
    assert np.array_equal(got[even], model_odd.inplace_predict(feats[even]))
    assert np.array_equal(got[~even], model_even.inplace_predict(feats[~even]))
    assert np.all((got > 0) & (got < 1))


def test_scores_do_not_depend_on_how_rows_are_split(models) -> None:
    feats, _, even = random_rows()
    whole = scores(models, feats, even)
    pieces = np.concatenate(
        [scores(models, feats[i : i + 97], even[i : i + 97]) for i in range(0, len(feats), 97)]
    )
    assert np.array_equal(whole, pieces)


def test_best_rows_take_the_first_maximum_per_event() -> None:
    event = np.array([0, 0, 0, 2, 2, 5])
    score = np.array([0.1, 0.7, 0.7, 0.9, 0.2, 0.3])
    assert best_rows(event, score).tolist() == [1, 3, 5]
    assert best_rows(np.zeros(0, np.int64), np.zeros(0)).tolist() == []


@pytest.mark.parametrize(("low", "high"), [(0.0, 6.0), (50.0, 300.0), (25.0, 300.0), (-1.0, 1.0)])
def test_fill_values_land_in_the_bin_of_the_agc_axis(low: float, high: float) -> None:
    nbins, fill_low, fill_high = physics.FILL_BINNING
    edges = np.linspace(low, high, nbins + 1)
    near = np.concatenate([np.nextafter(edges, -np.inf), edges, np.nextafter(edges, np.inf)])
    rng = np.random.default_rng(3)
    values = np.concatenate(
        [near, rng.uniform(low - 1, high + 1, 5000), [np.nan, np.inf, -np.inf, low, high]]
    )
    agc = hist.Hist(hist.axis.Regular(nbins, low, high)).fill(values)
    ours = hist.Hist(hist.axis.Regular(nbins, fill_low, fill_high)).fill(
        fill_values(values, low, high)
    )
    assert np.array_equal(agc.values(flow=True), ours.values(flow=True))
