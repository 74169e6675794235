"""Relaxed histograms at a very low temperature are the hard-cut histograms of the selection."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from agc.analysis.selection import Collection, select
from agc.core import physics
from agc.optimise.events import hard_view, model_bins
from agc.optimise.templates import histogram, jet_inputs, probabilities

COLD = 1e-9


def _selection_histograms(events, pt: np.ndarray, btag_shift: float = 0.0) -> np.ndarray:
    """(regions, bins) of the card's selection (agc.analysis.selection.select) on ``events``,
    with the b-tag discriminant shifted by ``btag_shift`` (a b-tag cut at 0.5 - shift)."""
    columns = dict(events.jets.columns, btagCSVV2=events.jets.btagCSVV2 + btag_shift)
    jets = Collection(counts=events.jets.counts, columns=columns)
    ones = np.ones(events.n_events, dtype=np.int64)  # every preselected event has one lepton
    chosen = select(None, None, jets, pt, n_leptons=ones)
    out = []
    for region in ("4j1b", "4j2b"):
        bins = model_bins(chosen.regions[region].observable)
        out.append(np.bincount(bins[bins >= 0], minlength=11) * events.norm)
    return np.array(out)


@pytest.mark.parametrize(
    ("name", "cut", "shift", "variation"),
    [
        ("btag", 0.5, 0.0, "nominal"),
        ("btag", 0.3, 0.2, "nominal"),
        ("btag", 0.5, 0.0, "pt_scale_up"),
        ("jet_pt", 30.0, 0.0, "nominal"),
        ("jet_pt", 30.0, 0.0, "pt_res_up"),
    ],
)
def test_cold_relaxed_histograms_are_the_hard_ones(optimise_events, name, cut, shift, variation):
    for events in optimise_events[:2]:
        inputs = jet_inputs(events, variation, name)
        view = hard_view(events, variation, name, cut)
        probs = probabilities(inputs, jnp.asarray(cut), COLD)
        relaxed = np.asarray(histogram(probs, jnp.asarray(view.bins), events.norm)[0])
        expected = _selection_histograms(events, events.jet_pt(variation), shift)
        assert expected.sum() > 0
        np.testing.assert_allclose(relaxed, expected, rtol=1e-12, atol=1e-12)


def test_warm_relaxed_histograms_differ_and_move_with_the_cut(optimise_events) -> None:
    """At the threshold's temperature the weights are not 0/1, and the yield of 4j2b falls as
    the b-tag threshold rises."""
    events = optimise_events[0]
    inputs = jet_inputs(events, "nominal", "btag")
    yields = []
    for cut in (0.4, 0.5, 0.6):
        view = hard_view(events, "nominal", "btag", cut)
        probs = probabilities(inputs, jnp.asarray(cut), 0.02)
        yields.append(float(histogram(probs, jnp.asarray(view.bins), 1.0)[0][1].sum()))
        assert not np.all(np.isin(np.asarray(probs), [0.0, 1.0]))
    assert yields[0] > yields[1] > yields[2]


def test_sample_norm_is_xsec_lumi_over_generated(optimise_events) -> None:
    events = optimise_events[0]
    assert (events.process, events.n_read) == ("ttbar", 300)
    assert events.norm == pytest.approx(physics.XSEC_PB["ttbar"] * physics.LUMI_PB / 300)
    assert 0 < events.n_events < events.n_read  # the lepton and four-jet preselection
