"""The GenPart record of the generator (agc.dataset.genpart): NanoAOD conventions, a consistent
decay tree for every topology, and the AGC's truth labelling through coffea NanoEvents."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

from agc.dataset.events import generate_events
from agc.dataset.fourvectors import p4_ptetaphim, pt_of
from agc.dataset.genpart import HARD_FLAGS, GenRecord, lepton_pdg, quark_pdg
from agc.dataset.manifest import load_manifest
from agc.dataset.partons import parton_level

#: Three times the electric charge of a particle of |pdgId| (quarks, leptons, W).
_CHARGE3 = {1: -1, 2: 2, 3: -1, 4: 2, 5: -1, 6: 2, 11: -3, 12: 0, 13: -3, 14: 0, 15: -3, 16: 0}


def _charge3(pdg: np.ndarray) -> np.ndarray:
    return np.sign(pdg) * np.array([_CHARGE3.get(int(abs(p)), 0) for p in pdg])


def test_record_drops_absent_slots_and_renumbers_mothers() -> None:
    n = 3
    p4 = p4_ptetaphim(np.array([10.0, 20.0, 30.0]), np.zeros(n), np.zeros(n), 0.0)
    record = GenRecord(n)
    top = record.add_resonance(p4, 6)
    extra = record.add(p4, 21, valid=np.array([True, False, True]))
    w = record.add_resonance(p4, 24, top)
    record.add(p4, -11, w, valid=np.array([False, True, True]))
    out = record.branches()
    assert out["GenPart_pdgId"].tolist() == [[6, 21, 24], [6, 24, -11], [6, 21, 24, -11]]
    assert out["GenPart_genPartIdxMother"].tolist() == [[-1, -1, 0], [-1, 0, 1], [-1, -1, 0, 2]]
    assert out["GenPart_statusFlags"].tolist()[0] == [HARD_FLAGS] * 3
    assert out["GenPart_pt"].tolist()[1] == [20.0, 20.0, 20.0]
    assert record.branches(np.array([2]))["GenPart_pdgId"].tolist() == [[6, 21, 24, -11]]
    assert extra == 1
    with pytest.raises(ValueError, match="mother"):
        record.add(p4, 5, mother=7)


def test_pdg_sign_conventions() -> None:
    w_charge = np.array([1, -1])
    assert [x.tolist() for x in lepton_pdg(w_charge, True, False)] == [[-11, 11], [12, -12]]
    assert [x.tolist() for x in lepton_pdg(w_charge, False, True)] == [[-15, 15], [16, -16]]
    assert [x.tolist() for x in quark_pdg(w_charge, False)] == [[2, -2], [-1, 1]]
    assert [x.tolist() for x in quark_pdg(w_charge, True)] == [[4, -4], [-3, 3]]
    assert HARD_FLAGS == 31105  # bits 0, 7, 8, 11, 12, 13, 14, as in the real file


def _flat(arrays: dict[str, Any]) -> dict[str, np.ndarray]:
    """The record flattened, with global mother indices (-1 for none) and event numbers."""
    counts = ak.to_numpy(ak.num(arrays["GenPart_pdgId"]))
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    event = np.repeat(np.arange(len(counts)), counts)
    flat = {
        k[8:]: ak.to_numpy(ak.flatten(v)) for k, v in arrays.items() if k.startswith("GenPart_")
    }
    local = flat["genPartIdxMother"]
    flat["mother"] = np.where(local >= 0, local + offsets[event], -1)
    flat["event"] = event
    flat["local"] = np.arange(len(event)) - offsets[event]
    return flat


@pytest.mark.parametrize(
    ("process", "tops", "leptons"),
    [
        ("ttbar", 2, 1),
        ("zprime_1000", 2, 1),
        ("single_top_t_chan", 1, 1),
        ("single_top_s_chan", 1, 1),
        ("single_top_tW", 1, 1),
        ("wjets", 0, 1),
    ],
)
def test_decay_tree_is_consistent(
    recipe: dict[str, Any], process: str, tops: int, leptons: int
) -> None:
    cfg = recipe["samples"][process]["nominal"]
    arrays = generate_events(cfg, recipe["detector"], np.random.default_rng(21), 2000)
    gp = _flat(arrays)
    pdg, mother, n = gp["pdgId"], gp["mother"], 2000
    assert np.all(gp["genPartIdxMother"] < gp["local"])  # mothers before daughters
    assert np.all(gp["statusFlags"] & (1 << 13))  # every particle is its last copy
    events_of = np.bincount(gp["event"], minlength=n)
    assert np.all(events_of > 0)
    assert np.all(np.bincount(gp["event"][np.abs(pdg) == 6], minlength=n) == tops)
    # one charged lepton from a W per event (e, mu or tau), and its neutrino
    from_w = (mother >= 0) & (np.abs(pdg[np.maximum(mother, 0)]) == 24)
    charged = from_w & np.isin(np.abs(pdg), [11, 13, 15])
    assert np.all(np.bincount(gp["event"][charged], minlength=n) == leptons)
    # t -> W b with matching signs
    for i in np.flatnonzero(np.abs(pdg) == 6)[:200]:
        daughters = np.sort(pdg[mother == i])
        assert daughters.tolist() == sorted([np.sign(pdg[i]) * 24, np.sign(pdg[i]) * 5])
    # W -> two daughters whose charges add up to the W's
    w_index = np.flatnonzero(np.abs(pdg) == 24)
    assert len(w_index) > 0
    for i in w_index[:300]:
        daughters = pdg[mother == i]
        assert len(daughters) == 2
        assert _charge3(daughters).sum() == 3 * np.sign(pdg[i])
    # a tau's decay lepton: same charge as the tau, flagged as a tau decay product
    tau_lepton = (mother >= 0) & (np.abs(pdg[np.maximum(mother, 0)]) == 15)
    assert np.all(np.sign(pdg[tau_lepton]) == np.sign(pdg[mother[tau_lepton]]))
    assert np.all(gp["statusFlags"][tau_lepton] & (1 << 2))
    if process == "zprime_1000":
        assert np.all(pdg[mother[np.abs(pdg) == 6]] == 32)


def test_record_holds_the_partons_before_smearing(recipe: dict[str, Any]) -> None:
    """The b quarks of t -> bW in the record are the generator's b partons (parton slots 0 and
    3 of ttbar) up to NanoAOD's 8-bit mantissa."""
    cfg = recipe["samples"]["ttbar"]["nominal"]
    partons, _ = parton_level(np.random.default_rng(22), 500, cfg)
    p4, flavour, _ = partons.arrays()
    assert np.all(flavour[:, [0, 3]] == 5)
    record = partons.truth.branches()
    b = np.abs(record["GenPart_pdgId"]) == 5
    ours = np.sort(ak.to_numpy(record["GenPart_pt"][b]), axis=1)
    np.testing.assert_allclose(ours, np.sort(pt_of(p4[:, [0, 3]]), axis=1), rtol=2.0**-8)


def _label_fraction(path: str) -> tuple[int, int]:
    """(4j2b events, events whose four leading jets get the labels W, W, top_had, top_lep).

    A straightforward re-implementation of the labelling in the AGC's
    ``jetassignment_training.py`` ``training_filter``, after its ``JetClassifier`` selection
    (one tight lepton, >= 4 jets, >= 2 with CSVV2 >= 0.5; the leading four jets).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        events = NanoEventsFactory.from_root(
            {path: "Events"}, schemaclass=NanoAODSchema, mode="eager"
        ).events()
    el, mu = events.Electron, events.Muon
    el = el[(el.pt > 30) & (abs(el.eta) < 2.1) & (el.cutBased == 4) & (el.sip3d < 4)]
    mu = mu[
        (mu.pt > 30)
        & (abs(mu.eta) < 2.1)
        & mu.tightId
        & (mu.sip3d < 4)
        & (mu.pfRelIso04_all < 0.15)
    ]
    jets = events.Jet[
        (events.Jet.pt > 30) & (abs(events.Jet.eta) < 2.4) & events.Jet.isTightLeptonVeto
    ]
    selected = (
        ((ak.num(el) + ak.num(mu)) == 1)
        & (ak.num(jets) >= 4)
        & (ak.sum(jets.btagCSVV2 >= 0.5, axis=1) >= 2)
    )
    jets, genparts = jets[selected][:, :4], events.GenPart[selected]
    # candidates: quarks whose distinct parent is a top or a W, last copies
    genparts = genparts[~ak.is_none(genparts.distinctParent, axis=1)]
    parent = genparts.distinctParent
    genparts = genparts[(abs(parent.pdgId) == 6) | (abs(parent.pdgId) == 24)]
    genparts = genparts[(abs(genparts.pdgId) > 0) & (abs(genparts.pdgId) < 7)]
    genparts = genparts[genparts.hasFlags("isLastCopy")]
    nearest_parent = jets.nearest(genparts, threshold=0.4).distinctParent
    grandchildren = abs(ak.flatten(nearest_parent.distinctChildren.distinctChildren.pdgId, axis=-1))
    lepton_like = (grandchildren > 10) & (grandchildren < 19)
    neutrino = ak.sum(lepton_like & (grandchildren % 2 == 0), axis=-1) > 0
    charged = ak.sum(lepton_like & (grandchildren % 2 == 1), axis=-1) > 0
    labels = np.abs(ak.fill_none(nearest_parent.pdgId, 100).to_numpy())
    labels[ak.fill_none(neutrino & charged, False).to_numpy()] = -6
    return len(labels), int(np.sum(labels.sum(axis=1) == 48))


def test_agc_truth_labelling_through_nanoevents(small_manifest: Path) -> None:
    """In 4j2b ttbar events, the AGC's labelling finds W, W, top_had and top_lep jets (label sum
    48) in a fraction like the AGC's ttbar (roughly 20-40 %); measured 40 % on the first file."""
    path = load_manifest(small_manifest)["ttbar"]["nominal"]["files"][0]["path"]
    total, labelled = _label_fraction(path)
    print(f"4j2b events {total}, labelled {labelled} ({labelled / total:.3f})")
    assert total > 200
    assert 0.2 < labelled / total < 0.6
