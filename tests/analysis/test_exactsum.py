"""The exact three-part accumulation (agc.analysis.exactsum, agc.analysis.processor.fill): grids, the overflow bound
at its edge, refused weights, order independence, agreement with a plain float64 fill, and the dense
fill (bin_index, SumsArray) equal to boost-histogram's fill of every part."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import hist
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agc.analysis import exactsum
from agc.analysis.processor import (
    SUMS,
    SumsArray,
    bin_index,
    empty_sums,
    fill,
    histogram_variations,
)
from agc.core import physics
from agc.core.errors import AGCError
from agc.processing.normalisation import normalised_histograms
from agc.processing.partials import SampleSums, read_partial, write_partial

N_PARTS = len(exactsum.PARTS)


def exact(values: np.ndarray) -> Fraction:
    """The exact rational sum of float64 values."""
    return sum((Fraction(float(v)) for v in np.ravel(values)), Fraction(0))


# -- split ---------------------------------------------------------------------------------------


def test_split_grids_and_accuracy() -> None:
    rng = np.random.default_rng(7)
    x = np.concatenate(
        [
            [0.0, 1.0, 1.025, 0.975, -0.5, 1.0 / 3.0, 2.0**-40, exactsum.MAX_WEIGHT**2],
            rng.uniform(-exactsum.MAX_WEIGHT, exactsum.MAX_WEIGHT, 10_000),
            rng.uniform(0.0, exactsum.MAX_WEIGHT**2, 10_000),  # squared weights
        ]
    )
    parts = exactsum.split(x)
    assert len(parts) == N_PARTS == 3
    for i, (name, part) in enumerate(zip(exactsum.PARTS, parts, strict=True)):
        scale = 2.0 ** exactsum.BITS[name]
        assert np.array_equal(part * scale, np.round(part * scale)), name  # on its grid
        largest = exactsum.MAX_WEIGHT**2 if i == 0 else 0.5 * exactsum.GRID[exactsum.PARTS[i - 1]]
        assert np.abs(part).max() <= largest, name
    # the parts add up to x within half a step of the finest grid (exact rational arithmetic)
    worst = max(
        abs(sum((Fraction(float(part[k])) for part in parts), Fraction(0)) - Fraction(float(v)))
        for k, v in enumerate(x)
    )
    assert worst <= Fraction(1, 2 ** (exactsum.BITS["lo"] + 1))
    assert exactsum.split(1.0) == (1.0, 0.0, 0.0)
    # the combined value is the float64 nearest the exact sum of the parts, here x itself
    assert np.array_equal(exactsum.combine(*parts), x)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.floats(min_value=-exactsum.MAX_WEIGHT, max_value=exactsum.MAX_WEIGHT, allow_nan=False),
        min_size=1,
        max_size=300,
    ),
    st.randoms(use_true_random=False),
)
def test_part_sums_do_not_depend_on_order_or_grouping(weights: list[float], rnd) -> None:
    w = np.array(weights)
    for values in (w, w * w):
        for part in exactsum.split(values):  # every part of w and of w**2
            shuffled = list(part)
            rnd.shuffle(shuffled)
            cut = rnd.randint(0, len(part))
            total = math.fsum(part)  # the exact sum, correctly rounded
            assert Fraction(total) == exact(part)  # ... and it is exact
            assert float(np.sum(part)) == total
            assert sum(shuffled) == total
            assert sum(shuffled[:cut]) + sum(shuffled[cut:]) == total


# -- the bound at its edge -----------------------------------------------------------------------


def test_bound_constants_hold_for_the_full_agc_dataset() -> None:
    assert exactsum.MAX_ENTRIES >= 1_000_000_000  # one bin receiving 1e9 entries
    assert exactsum.MAX_ENTRIES >= 940_160_174  # every event of the AGC dataset in one bin
    assert exactsum.BOUNDS["hi"] >= exactsum.MAX_ENTRIES * exactsum.MAX_WEIGHT**2
    assert exactsum.MAX_ENTRIES * 0.5 * exactsum.GRID["hi"] <= exactsum.BOUNDS["mid"]
    assert exactsum.MAX_ENTRIES * 0.5 * exactsum.GRID["mid"] <= exactsum.BOUNDS["lo"]
    # the largest b-tag weight of a physical jet (pT <= 6.5 TeV at 13 TeV) is well inside
    assert 1 + physics.BTAG_VAR_PER_50GEV * 6500.0 / 50.0 < exactsum.MAX_WEIGHT


def test_fill_stays_exact_at_the_edge_of_the_bound() -> None:
    """A bin that already holds MAX_ENTRIES - 3 entries of the extreme parts (|w| = MAX_WEIGHT:
    hi of w**2 = 2**10; mid and lo at minus half their coarser neighbour's step), then three
    more filled entries with bits on every grid: every part sum equals the exact rational sum,
    in any order of the last additions, and is within its bound."""
    n_before = exactsum.MAX_ENTRIES - 3
    w_max = exactsum.MAX_WEIGHT
    last = np.array([w_max, w_max - 2.0**-20 - 2.0**-45, w_max - 3.0 * 2.0**-30 - 2.0**-50])
    expected = {}
    for which, values in (("sumw", last), ("sumw2", last * last)):
        parts = exactsum.split(values)
        assert all((part != 0).any() for part in parts)  # every grid is used
        top = w_max if which == "sumw" else w_max**2
        before = [float(n_before * top)] + [
            -float(n_before) * 0.5 * exactsum.GRID[exactsum.PARTS[i - 1]] for i in range(1, N_PARTS)
        ]
        expected[which] = (
            before,
            [Fraction(b) + exact(p) for b, p in zip(before, parts, strict=True)],
        )
    for order in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        sums = empty_sums(["nominal"])
        view = sums.view(flow=True)
        for which in SUMS:
            view[0, 0, SUMS.index(which), :, 5] = expected[which][0]
        obs = np.full(3, 135.0)  # index 5 of the flow view: [130, 150)
        for i in order:
            fill(sums, "4j1b", "nominal", obs[i : i + 1], last[i : i + 1])
        view = sums.view(flow=True)
        for which in SUMS:
            got = view[0, 0, SUMS.index(which), :, 5]
            assert [Fraction(float(v)) for v in got] == expected[which][1], which  # exact
        hi_w2 = view[0, 0, SUMS.index("sumw2"), 0, 5]
        assert 0.999 * exactsum.BOUNDS["hi"] < hi_w2 <= exactsum.BOUNDS["hi"]  # at the edge
        for k, part in enumerate(exactsum.PARTS[1:], start=1):
            assert 0.999 * exactsum.BOUNDS[part] < abs(view[0, 0, 1, k, 5]) <= exactsum.BOUNDS[part]
        assert exactsum.within_bounds(view, axis=3)


def test_beyond_the_bound_sums_would_round() -> None:
    """Why the bound matters: one fine step is lost on a sum just past it."""
    for part in exactsum.PARTS:
        bound, step = exactsum.BOUNDS[part], exactsum.GRID[part]
        assert (2.0 * bound) + step == 2.0 * bound  # past the bound: a step is lost
        assert (bound - step) + step == bound
        assert bound - step != bound
    sums = np.zeros((2, N_PARTS))
    assert exactsum.within_bounds(sums, axis=1)
    sums[1, 0] = 2.0 * exactsum.BOUNDS["hi"]
    assert not exactsum.within_bounds(sums, axis=1)


@pytest.mark.parametrize("weight", [exactsum.MAX_WEIGHT + 2.0**-30, -40.0, np.inf, np.nan])
def test_weight_beyond_the_maximum_is_refused(weight: float) -> None:
    sums = empty_sums(["nominal"])
    weights = np.array([1.0, weight, 1.0])
    with pytest.raises(AGCError, match="exactly summable range") as info:
        fill(sums, "4j2b", "nominal", np.array([100.0, 200.0, 300.0]), weights)
    assert "\n" not in str(info.value)
    fill(sums, "4j2b", "nominal", np.array([100.0]), exactsum.MAX_WEIGHT)  # the edge is fine
    fill(sums, "4j2b", "nominal", np.array([100.0]), -exactsum.MAX_WEIGHT)


# -- agreement with a plain float64 fill -----------------------------------------------------------


def analysis_like_weights(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Weights of the analysis' kinds: 1, W+jets 1.025 / 0.975 and b-tag 1 +/- 0.075 pT / 50
    with a steeply falling jet pT spectrum (30 GeV to a few hundred, tail to ~1 TeV)."""
    pt = 30.0 + rng.exponential(60.0, n)
    return {
        "nominal": np.ones(n),
        "scale_var_up": np.full(n, 1.025),
        "scale_var_down": np.full(n, 0.975),
        "btag_var_0_up": 1.0 + 0.075 * pt / 50.0,
        "btag_var_0_down": 1.0 - 0.075 * np.minimum(pt, 660.0) / 50.0,  # down to 0.01
    }


def test_equal_to_plain_float64_fill_and_independent_of_chunking() -> None:
    rng = np.random.default_rng(2015)
    n = 200_000
    observable = rng.uniform(0.0, 600.0, n)  # under- and overflow too
    weights = analysis_like_weights(rng, n)
    labels = sorted(weights)
    norm = physics.XSEC_PB["wjets"] * physics.LUMI_PB / 3_000_000  # a realistic MC weight

    def run(chunks: list[np.ndarray]) -> dict[str, hist.Hist]:
        sums = empty_sums(labels)
        for index in chunks:
            for label in labels:
                fill(sums, "4j1b", label, observable[index], weights[label][index])
        sample = SampleSums(
            "wjets", "nominal", norm / physics.LUMI_PB * 3_000_000, 3_000_000, ["f.root"], sums
        )
        return normalised_histograms([sample])

    one = run([np.arange(n)])
    order = rng.permutation(n)
    shuffled = run(np.array_split(order, 37))
    worst = 0.0
    for label in labels:
        name = "4j1b_wjets" if label == "nominal" else f"4j1b_wjets_{label}"
        plain = hist.Hist(hist.axis.Regular(*physics.FILL_BINNING), storage=hist.storage.Weight())
        plain.fill(observable, weight=weights[label] * norm)
        got = one[name]
        assert np.array_equal(got.values(flow=True), shuffled[name].values(flow=True))
        assert np.array_equal(got.variances(flow=True), shuffled[name].variances(flow=True))
        for ours, ref in (
            (got.values(flow=True), plain.values(flow=True)),
            (got.variances(flow=True), plain.variances(flow=True)),
        ):
            rel = np.abs(ours - ref) / np.abs(ref)
            worst = max(worst, float(rel.max()))
    print(f"largest relative difference to a plain float64 fill: {worst:.3g}")
    assert worst <= 1e-9


# -- the dense fill against boost-histogram ------------------------------------------------------------


def test_bin_index_is_boost_histograms_bin_at_every_edge() -> None:
    nbins, low, high = physics.FILL_BINNING
    edges = np.linspace(low, high, nbins + 1)
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            edges,
            np.nextafter(edges, -np.inf),
            np.nextafter(edges, np.inf),
            [np.nan, np.inf, -np.inf, 0.0, -1e300, 1e300],
            rng.uniform(0.0, 600.0, 20_000),
        ]
    )
    expected = hist.axis.Regular(nbins, low, high).index(values) + 1  # flow bins counted
    assert np.array_equal(bin_index(values), expected)


def test_dense_fill_equals_boost_histograms_fill_of_every_part() -> None:
    """SumsArray.fill (bincount of the parts, or counts times the part of a scalar weight)
    gives the same doubles as boost-histogram filling each part entry by entry, over chunks,
    and to_hist carries them into the sums histogram."""
    rng = np.random.default_rng(11)
    labels = histogram_variations("wjets", "nominal")
    n = 30_000
    observable = np.where(rng.random(n) < 0.01, np.nan, rng.uniform(0.0, 600.0, n))
    weights = {label: 1.0 + rng.uniform(-0.5, 0.5, n) for label in labels[:3]}
    weights.update(dict.fromkeys(labels[3:5], 1.0))
    weights.update(scale_var_up=1.025, scale_var_down=0.975)
    dense = SumsArray.zeros(labels)
    for chunk in np.array_split(np.arange(n), 7):
        part = SumsArray.zeros(labels)
        for label, weight in weights.items():
            w = weight if np.ndim(weight) == 0 else weight[chunk]
            part.fill("4j2b", label, bin_index(observable[chunk]), w)
        dense = dense + part
    got = dense.to_hist()
    assert list(got.axes["variation"]) == labels
    view = got.view(flow=True)
    r_index = list(got.axes["region"]).index("4j2b")
    for label, weight in weights.items():
        w = np.broadcast_to(np.asarray(weight, dtype=np.float64), observable.shape)
        v_index = labels.index(label)
        for s_index, values in enumerate((w, w * w)):
            for p_index, part_values in enumerate(exactsum.split(values)):
                ref = hist.Hist(
                    hist.axis.Regular(*physics.FILL_BINNING), storage=hist.storage.Double()
                )
                ref.fill(observable, weight=part_values)
                assert np.array_equal(view[r_index, v_index, s_index, p_index], ref.view(flow=True))
    assert not view[list(got.axes["region"]).index("4j1b")].any()
    with pytest.raises(ValueError, match="different regions or variations"):
        dense + SumsArray.zeros(["nominal"])


def test_fill_weights_equals_fill_per_region_and_variation() -> None:
    """SumsArray.fill_weights (several regions sharing entries, several weights) gives the same
    bytes as SumsArray.fill region by region and variation by variation, and refuses a weight
    beyond the bound or bins of another shape."""
    rng = np.random.default_rng(12)
    labels = histogram_variations("wjets", "nominal")
    regions = list(physics.ML_FEATURES)[:5]
    n = 5_000
    bins = rng.integers(0, physics.FILL_BINNING[0] + 2, (len(regions), n))
    weights = {label: 1.0 + rng.uniform(-0.5, 0.5, n) for label in labels[:4]}
    weights.update(nominal=1.0, scale_var_up=1.025, scale_var_down=0.975)
    one_by_one = SumsArray.zeros(labels, use_inference=True)
    for region, region_bins in zip(regions, bins, strict=True):
        for label, weight in weights.items():
            one_by_one.fill(region, label, region_bins, weight)
    at_once = SumsArray.zeros(labels, use_inference=True)
    at_once.fill_weights(regions, bins, weights)
    assert at_once.values.tobytes() == one_by_one.values.tobytes()
    assert at_once.values.any()
    with pytest.raises(AGCError, match=r"nominal weight 40\.0 is outside"):
        at_once.fill_weights(regions, bins, {"nominal": np.full(n, 40.0)})
    with pytest.raises(ValueError, match="bins must be"):
        at_once.fill_weights(regions, bins[:2], {"nominal": 1.0})


# -- the partial output format -----------------------------------------------------------------------


def test_partial_output_round_trips_and_old_format_is_refused(tmp_path: Path) -> None:
    labels = histogram_variations("wjets", "nominal")
    sums = empty_sums(labels)
    rng = np.random.default_rng(3)
    for label in labels:
        fill(sums, "4j2b", label, rng.uniform(50, 550, 500), 1.0 + rng.uniform(-0.5, 0.5, 500))
    sample = SampleSums("wjets", "nominal", 100.0, 1000, ["a.root"], sums)
    path = write_partial(tmp_path / "wjets__nominal.partial.json", sample)
    data = json.loads(path.read_text())
    assert data["format"] == "agc-histograms-partial/2"
    assert data["accumulation"]["parts"] == ["hi", "mid", "lo"]
    assert data["accumulation"]["grid"] == {"hi": 2.0**-12, "mid": 2.0**-35, "lo": 2.0**-58}
    assert data["accumulation"]["value"] == "(lo + mid) + hi"
    assert np.array_equal(read_partial(path).sums.view(flow=True), sums.view(flow=True))

    data["format"] = "agc-histograms-partial/1"
    old = tmp_path / "old.partial.json"
    old.write_text(json.dumps(data))
    with pytest.raises(AGCError, match="format 'agc-histograms-partial/1' is not") as info:
        read_partial(old)
    assert "\n" not in str(info.value)

    data["format"] = "agc-histograms-partial/2"
    data["accumulation"]["grid"]["lo"] = 2.0**-32
    other = tmp_path / "other.partial.json"
    other.write_text(json.dumps(data))
    with pytest.raises(AGCError, match=r"accumulation .* differs") as info:
        read_partial(other)
    assert "\n" not in str(info.value)
