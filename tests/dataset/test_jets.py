"""Jets of the generator (agc.dataset.jets): clustering and detector-level jets."""

from __future__ import annotations

from typing import Any

import numpy as np

from agc.dataset.fourvectors import p4_ptetaphim, pt_of
from agc.dataset.jets import cluster, pileup_jets, reco_jets


def test_cluster_merges_close_partons_keeps_far_ones() -> None:
    pt = np.array([[50.0, 30.0, 40.0, 10.0]])
    eta = np.array([[0.0, 0.2, 2.0, 0.0]])
    phi = np.array([[0.0, 0.1, 0.0, 3.0]])
    p4 = p4_ptetaphim(pt, eta, phi, 0.0)
    flavour = np.array([[0, 5, 0, 4]], dtype=np.int32)
    valid = np.array([[True, True, True, False]])  # the fourth slot is empty
    gluon = np.array([[False, True, True, False]])
    out_p4, out_flavour, out_valid, out_gluon = cluster(p4, flavour, valid, 0.4, gluon)
    assert out_p4.shape == (1, 3, 4)  # compacted to the busiest event's partons
    assert out_valid.tolist() == [[True, False, True]]
    assert out_flavour[0, 0] == 5  # merged flavour: the heaviest
    assert not out_gluon[0, 0]  # merged type: the harder constituent's (50 GeV quark)
    assert out_gluon[0, 2]
    np.testing.assert_allclose(out_p4[0, 0], p4[0, 0] + p4[0, 1])
    np.testing.assert_allclose(pt_of(out_p4[0, 2]), 40.0)
    # the softer parton (a gluon) in the first slot: still the 50 GeV quark's type
    order = [1, 0, 2, 3]
    swapped = cluster(p4[:, order], flavour[:, order], valid, 0.4, gluon[:, order])[3]
    assert not swapped[0, 0]
    assert not cluster(p4, flavour, valid, 0.4)[3].any()  # default: all quarks


def test_reco_and_pileup_jets_respect_the_acceptance(recipe: dict[str, Any]) -> None:
    det = recipe["detector"]
    rng = np.random.default_rng(11)
    n = 5000
    p4 = p4_ptetaphim(
        rng.uniform(5.0, 200.0, n), rng.uniform(-5.0, 5.0, n), rng.uniform(-3, 3, n), 0.0
    )
    flavour = rng.choice(np.array([0, 4, 5], dtype=np.int32), n)
    jets = reco_jets(rng, p4, flavour, np.arange(n), det, {})
    assert 0 < len(jets["pt"]) < n
    assert np.all(jets["pt"] > det["jets"]["pt_min"])
    assert np.all(np.abs(jets["eta"]) < det["jets"]["abs_eta_max"])
    assert set(np.unique(jets["jetId"])) <= {0, 2, 6}
    b_tag = jets["btag"] > 0.8
    assert np.mean(b_tag[jets["flavour"] == 5]) > np.mean(b_tag[jets["flavour"] == 0])
    pileup = pileup_jets(rng, n, det)
    assert np.all(pileup["flavour"] == 0)
    assert np.all(np.diff(pileup["event"]) >= 0)
    assert np.all(pileup["event"] < n)
