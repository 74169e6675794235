"""One block of events: partons -> jets and leptons -> NanoAOD branches (no per-event loop).

The steps, all vectorised over the block: the parton level (:mod:`agc.dataset.partons`), jets
(:mod:`agc.dataset.jets`), leptons (:mod:`agc.dataset.leptons`), an optional preselection and the
jagged NanoAOD branches (:mod:`agc.dataset.branches`). Entry point: :func:`generate_events`.

The branches of the machine-learning extension, ``Jet_qgl`` (:mod:`agc.dataset.qgl`) and the
``GenPart`` record of the hard process (:mod:`agc.dataset.genpart`), draw their random numbers
from a second stream (``aux``), so every other branch is the same with or without them.

Preselection (optional recipe section): only the generated events that can pass the analysis
selection are returned (a necessary condition, looser than the JES/JER-varied selections); the
random numbers do not depend on it, so histograms equal those of the full sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agc.core import physics
from agc.dataset.branches import ELECTRON_COLUMNS, JET_COLUMNS, MUON_COLUMNS, Table, jagged
from agc.dataset.jets import cluster, lepton_jets, pileup_jets, reco_jets
from agc.dataset.leptons import reconstruct_leptons
from agc.dataset.partons import parton_level
from agc.dataset.qgl import quark_gluon_likelihood

__all__ = ["generate_events"]


def generate_events(
    cfg: dict[str, Any],
    detector: dict[str, Any],
    rng: np.random.Generator,
    n: int,
    preselection: dict[str, Any] | None = None,
    aux: np.random.Generator | None = None,
) -> dict[str, Any]:
    """Generate ``n`` events of one sample; returns the NanoAOD branches (no event identity).

    ``cfg`` is the sample's recipe entry, ``detector`` the recipe's ``detector`` section.
    Values: flat numpy arrays and jagged awkward arrays (events, var) keyed by branch name, plus
    ``"index"``: the position (0..n-1) of each returned event among the ``n`` generated. With
    ``preselection`` (the recipe's section), only events that can pass the analysis selection are
    returned (:func:`_preselected`); the random numbers drawn do not depend on it.
    ``aux``: the second stream (``Jet_qgl``, W+jets' parton types; default ``rng.spawn(1)[0]``,
    what :func:`agc.dataset.seeds.aux_rng` gives for a block).
    """
    aux = rng.spawn(1)[0] if aux is None else aux
    partons, lepton = parton_level(rng, n, cfg, aux)
    radius = detector["jets"]["cluster_radius"]
    p4, flavour, valid, gluon = cluster(*partons.arrays(), radius, partons.gluons())
    event = np.nonzero(valid)[0]
    hadronic = reco_jets(
        rng, p4[valid], flavour[valid], event, detector, cfg.get("shower", {}), gluon[valid]
    )
    leptons = reconstruct_leptons(rng, lepton, hadronic, detector)
    parts = [hadronic, pileup_jets(rng, n, detector), lepton_jets(rng, leptons, detector)]
    jets = {key: np.concatenate([p[key] for p in parts]) for key in hadronic}
    jets["qgl"] = quark_gluon_likelihood(aux, jets, detector["qgl"])
    index = np.arange(n)
    if preselection is not None:
        index = np.flatnonzero(_preselected(jets, leptons, n, preselection))
        jets, leptons, n = _keep_events(jets, index, n), _keep_events(leptons, index, n), len(index)
    electrons = {k: v[leptons["is_e"]] for k, v in leptons.items()}
    muons = {k: v[~leptons["is_e"]] for k, v in leptons.items()}
    return {
        "index": index,
        "genWeight": np.ones(n, np.float32),
        **jagged(jets, n, JET_COLUMNS),
        **jagged(electrons, n, ELECTRON_COLUMNS),
        **jagged(muons, n, MUON_COLUMNS),
        **partons.truth.branches(None if preselection is None else index),
    }


def _preselected(jets: Table, leptons: Table, n: int, cfg: dict[str, Any]) -> np.ndarray:
    """Events (bool, (n,)) that can pass the analysis selection: a necessary condition only.

    At least ``cfg["leptons"]`` leptons passing the card's tight electron/muon selection
    (lepton momenta are not varied by any systematic) and at least ``cfg["jets"]`` jets with the
    tight-lepton-veto ID, |eta| < ``jet_abs_eta_max`` and pT > ``jet_pt_min`` [GeV]; the pT
    threshold sits below the analysis' 30 GeV by more than the JES (x1.03) and 10 standard
    deviations of the JER (x N(1, 0.05)) variations, so no varied selection loses an event.
    """
    is_e = leptons["is_e"]
    tight = np.where(
        is_e,
        (leptons["cutBased"] == physics.ELECTRON_CUTBASED_TIGHT)
        & (np.abs(leptons["eta"]) < physics.ELECTRON_ABS_ETA_MAX)
        & (leptons["pt"] > physics.ELECTRON_PT_MIN)
        & (leptons["sip3d"] < physics.ELECTRON_SIP3D_MAX),
        leptons["tightId"]
        & (np.abs(leptons["eta"]) < physics.MUON_ABS_ETA_MAX)
        & (leptons["pt"] > physics.MUON_PT_MIN)
        & (leptons["sip3d"] < physics.MUON_SIP3D_MAX)
        & (leptons["iso"] < physics.MUON_RELISO_MAX),
    )
    good = (
        ((jets["jetId"] & physics.JET_ID_TIGHT_LEPTON_VETO_BIT) != 0)
        & (np.abs(jets["eta"]) < cfg["jet_abs_eta_max"])
        & (jets["pt"] > cfg["jet_pt_min"])
    )
    n_lep = np.bincount(leptons["event"][tight], minlength=n)
    n_jet = np.bincount(jets["event"][good], minlength=n)
    return (n_lep >= cfg["leptons"]) & (n_jet >= cfg["jets"])


def _keep_events(table: Table, index: np.ndarray, n: int) -> Table:
    """Objects of the events ``index`` (sorted), renumbered 0..len(index)-1."""
    new_number = np.full(n, -1, np.int64)
    new_number[index] = np.arange(len(index))
    event = new_number[table["event"]]
    keep = event >= 0
    out = {k: v[keep] for k, v in table.items()}
    out["event"] = event[keep]
    return out
