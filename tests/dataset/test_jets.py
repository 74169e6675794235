"""Jets of the generator (agc.dataset.jets): clustering and detector-level jets."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from agc.dataset.fourvectors import eta_of, p4_ptetaphim, phi_of, pt_of
from agc.dataset.jets import cluster, pileup_jets, reco_jets
from agc.dataset.partons import parton_level
from agc.dataset.seeds import aux_rng, block_rng, sample_seed


def _cluster_in_numpy(
    p4: np.ndarray, flavour: np.ndarray, valid: np.ndarray, radius: float, gluon: np.ndarray
) -> tuple[np.ndarray, ...]:
    """The clustering of :func:`agc.dataset.jets.cluster` in numpy, vectorised over events:
    the bits the compiled one must give."""
    order = np.argsort(~valid, axis=1, kind="stable")[:, : max(int(valid.sum(1).max()), 1)]
    p4 = np.take_along_axis(p4, order[..., None], axis=1)
    flavour, valid, gluon = (np.take_along_axis(a, order, axis=1) for a in (flavour, valid, gluon))
    count = valid.sum(axis=1)
    for c in np.unique(count[count > 1]):
        rows = np.flatnonzero(count == c)
        sub = p4[rows, :c], flavour[rows, :c], valid[rows, :c], gluon[rows, :c]
        first, second = np.triu_indices(c, 1)
        active = np.arange(len(rows))
        while active.size:
            eta, phi = eta_of(sub[0][active]), phi_of(sub[0][active])
            dphi = np.abs(phi[:, first] - phi[:, second])
            dr2 = (eta[:, first] - eta[:, second]) ** 2 + np.minimum(dphi, 2 * np.pi - dphi) ** 2
            dr2[~(sub[2][active][:, first] & sub[2][active][:, second])] = np.inf
            best = np.argmin(dr2, axis=1)
            merge = dr2[np.arange(active.size), best] < radius**2
            active, best = active[merge], best[merge]
            i, j = first[best], second[best]
            harder_j = pt_of(sub[0][active, j]) > pt_of(sub[0][active, i])
            sub[3][active, i] = np.where(harder_j, sub[3][active, j], sub[3][active, i])
            sub[0][active, i] += sub[0][active, j]
            sub[1][active, i] = np.maximum(sub[1][active, i], sub[1][active, j])
            sub[2][active, j] = False
        p4[rows, :c], flavour[rows, :c], valid[rows, :c], gluon[rows, :c] = sub
    return p4, flavour, valid, gluon


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


@pytest.mark.parametrize("process", ["ttbar", "wjets", "single_top_tW", "zprime_2000"])
def test_the_compiled_clustering_gives_the_bits_of_numpys(
    recipe: dict[str, Any], process: str
) -> None:
    cfg = recipe["samples"][process]["nominal"]
    seed = sample_seed(recipe["seed"], process, "nominal")
    partons, _ = parton_level(block_rng(seed, 0), 4000, cfg, aux_rng(seed, 0))
    p4, flavour, valid = partons.arrays()
    gluon = partons.gluons()
    # coincident partons: two at one place, three at one place (three pairs tied at distance
    # 0: the first pair merges first); a parton along the beam (pT 0)
    p4[:3, 1] = p4[:3, 0]
    three = np.flatnonzero(valid[:, :3].all(axis=1))[3:6]
    p4[three, 1] = p4[three, 2] = p4[three, 0]
    p4[3, 0, :2] = 0.0
    compiled = cluster(p4, flavour, valid, 0.4, gluon)
    expected = _cluster_in_numpy(p4, flavour, valid, 0.4, gluon)
    assert compiled[2].sum() < valid.sum()  # some partons merged
    for got, want in zip(compiled, expected, strict=True):
        assert got.dtype == want.dtype
        assert got.shape == want.shape
        assert got.tobytes() == want.tobytes()


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
