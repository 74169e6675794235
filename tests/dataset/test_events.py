"""One block of events (agc.dataset.events): randomness, preselection and physical content."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from agc.core import physics
from agc.dataset.branches import BRANCH_TYPES
from agc.dataset.events import generate_events
from agc.dataset.manifest import load_manifest


def _arrays(path: str | Path) -> dict[str, Any]:
    with uproot.open(path) as handle:
        return handle["Events"].arrays(library="ak")


def test_seed_and_sample_change_the_events(recipe: dict[str, Any]) -> None:
    det = recipe["detector"]

    def jets(seed: int, process: str = "ttbar") -> ak.Array:
        cfg = recipe["samples"][process]["nominal"]
        return generate_events(cfg, det, np.random.Generator(np.random.PCG64(seed)), 200)["Jet_pt"]

    assert ak.array_equal(jets(1), jets(1))  # two independent generations
    assert not ak.array_equal(jets(1), jets(2))
    assert not ak.array_equal(jets(1), jets(1, "wjets"))


def test_ml_branches_draw_from_their_own_stream(recipe: dict[str, Any]) -> None:
    """Another auxiliary stream changes Jet_qgl (and W+jets' gluon/quark record) only: every
    other branch keeps its values, so adding the ML branches moved no earlier draw."""
    det = recipe["detector"]
    new = ("Jet_qgl", "GenPart_pdgId")
    for process in ("ttbar", "wjets"):
        cfg = recipe["samples"][process]["nominal"]
        one, two = (
            generate_events(cfg, det, np.random.default_rng(9), 1000, aux=np.random.default_rng(a))
            for a in (1, 2)
        )
        default = generate_events(cfg, det, np.random.default_rng(9), 1000)
        assert not ak.array_equal(one["Jet_qgl"], two["Jet_qgl"])
        for name in one:
            if name not in new:
                assert ak.array_equal(one[name], two[name]), name
                assert ak.array_equal(one[name], default[name]), name
        pdg_equal = ak.array_equal(one["GenPart_pdgId"], two["GenPart_pdgId"])
        assert pdg_equal == (process == "ttbar")  # W+jets' light partons: gluon or quark


def test_preselection_keeps_every_event_that_can_be_selected(recipe: dict[str, Any]) -> None:
    """Same random numbers with and without the preselection: the kept events are the full
    events, and every event that the selection with jet pT x 1.5 (beyond the JES x1.03 and
    10 sigma of the JER variation) would select is kept."""
    det, pre = recipe["detector"], recipe["preselection"]
    for process in ("ttbar", "wjets"):
        cfg = recipe["samples"][process]["nominal"]
        full = generate_events(cfg, det, np.random.Generator(np.random.PCG64(5)), 3000)
        kept = generate_events(cfg, det, np.random.Generator(np.random.PCG64(5)), 3000, pre)
        index = kept["index"]
        assert 0 < len(index) < 3000
        assert np.array_equal(full["index"], np.arange(3000))
        for name, value in kept.items():
            if name != "index":
                assert ak.array_equal(value, full[name][index]), name
        electron = (
            (full["Electron_pt"] > physics.ELECTRON_PT_MIN)
            & (abs(full["Electron_eta"]) < physics.ELECTRON_ABS_ETA_MAX)
            & (full["Electron_cutBased"] == 4)
            & (full["Electron_sip3d"] < 4)
        )
        muon = (
            (full["Muon_pt"] > physics.MUON_PT_MIN)
            & (abs(full["Muon_eta"]) < physics.MUON_ABS_ETA_MAX)
            & full["Muon_tightId"]
            & (full["Muon_sip3d"] < 4)
            & (full["Muon_pfRelIso04_all"] < 0.15)
        )
        jet = (
            (full["Jet_pt"] * 1.5 > physics.JET_PT_MIN)
            & (abs(full["Jet_eta"]) < physics.JET_ABS_ETA_MAX)
            & ((full["Jet_jetId"] & 4) != 0)
        )
        loose = (ak.sum(electron, axis=1) + ak.sum(muon, axis=1) == 1) & (ak.sum(jet, axis=1) >= 4)
        selectable = np.flatnonzero(ak.to_numpy(loose))
        assert len(selectable) > 0
        assert set(selectable.tolist()) <= set(index.tolist()), process


def test_object_content_is_physical(small_manifest: Path) -> None:
    manifest = load_manifest(small_manifest)
    paths = [f["path"] for f in manifest["ttbar"]["nominal"]["files"]]
    a = {k: ak.concatenate([_arrays(p)[k] for p in paths]) for k in BRANCH_TYPES}
    central = (a["Jet_pt"] > 30) & (abs(a["Jet_eta"]) < 2.4)
    flavour, btag = (
        a["Jet_hadronFlavour"][central],
        a["Jet_btagCSVV2"][central] > physics.BTAG_CSVV2_MIN,
    )
    eff = {f: float(ak.mean(btag[flavour == f])) for f in (5, 4, 0)}
    print("b-tag efficiency (b, c, light):", eff)
    assert 0.7 < eff[5] < 0.95
    assert 0.15 < eff[4] < 0.45
    assert 0.01 < eff[0] < 0.1
    assert set(np.unique(ak.flatten(a["Jet_jetId"]))) == {0, 2, 6}
    assert float(ak.mean(ak.flatten(a["Jet_jetId"]) == 6)) > 0.6
    assert ak.min(a["Jet_pt"]) > 15.0
    assert ak.max(abs(a["Jet_eta"])) < 4.7
    assert set(np.unique(ak.flatten(a["Electron_cutBased"]))) <= set(range(5))
    assert set(np.unique(ak.flatten(a["Muon_tightId"]))) == {False, True}
    assert set(np.unique(ak.flatten(a["Electron_charge"]))) == {-1, 1}
    assert ak.all(a["Muon_pfRelIso04_all"] >= 0)
    assert ak.all(a["Electron_sip3d"] >= 0)
    n_b = ak.sum(flavour == 5, axis=1)
    assert float(ak.mean(n_b)) > 1.0  # two b quarks per ttbar event, most in acceptance
