"""Leptons of the generator: the prompt lepton, non-prompt leptons from b/c-hadron decays inside
heavy-flavour jets (soft, non-isolated, displaced) and fake electrons/muons from light jets.

Each candidate gets a resolution, a reconstruction efficiency and acceptance, then an ID
(Electron_cutBased 0-4, Muon_tightId), an isolation and a sip3d drawn per origin, so the
analysis cuts act as on real data (the recipe's ``detector`` section).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agc.dataset.branches import Table
from agc.dataset.fourvectors import eta_of, phi_of, pt_of
from agc.dataset.partons import PromptLepton
from agc.dataset.sampling import choice

__all__ = ["FAKE", "NONPROMPT", "PROMPT", "TAU", "reconstruct_leptons"]

ELECTRON_MASS, MUON_MASS = 0.000511, 0.10566  # [GeV]
# Lepton origins (internal).
PROMPT, TAU, NONPROMPT, FAKE = 0, 1, 2, 3
CUT_BASED_VALUES = np.arange(5, dtype=np.int32)


def _lepton_ids(
    rng: np.random.Generator, origin: np.ndarray, z: np.ndarray, det: dict[str, Any]
) -> Table:
    """ID, isolation and sip3d of lepton candidates according to their origin.

    ``z`` is the lepton's share of its jet's momentum (1 for prompt leptons); the isolation of a
    lepton inside a jet is the rest of the jet's momentum in the cone, relative to the lepton.
    """
    size = origin.shape
    ecfg, mcfg, sip = det["electrons"], det["muons"], det["sip3d"]
    icfg = mcfg["isolation"]
    # isolation (pfRelIso04 for muons; for electrons it enters the cut-based ID)
    iso_prompt = rng.exponential(icfg["prompt"], size)
    tail = rng.random(size) < icfg["prompt_tail_fraction"]
    iso_prompt = np.where(tail, rng.exponential(icfg["prompt_tail"], size), iso_prompt)
    in_jet = np.clip((1.0 - z) / np.maximum(z, 1e-3), 0.0, 50.0) * rng.uniform(0.15, 0.9, size)
    iso = np.select(
        [origin <= TAU, origin == NONPROMPT],
        [iso_prompt, in_jet],
        rng.exponential(icfg["fake"], size),
    )
    # sip3d: |N(0, sigma)| plus an exponential displacement for b/c-hadron decays
    sigma = np.select(
        [origin == PROMPT, origin == TAU, origin == NONPROMPT],
        [sip["prompt"], sip["tau"], sip["nonprompt"]],
        sip["fake"],
    )
    displaced = np.where(
        origin == NONPROMPT, rng.exponential(sip["nonprompt_displacement"], size), 0.0
    )
    prompt_tail = (origin == PROMPT) & (rng.random(size) < sip["prompt_tail_fraction"])
    displaced = np.where(prompt_tail, rng.exponential(sip["prompt_tail"], size), displaced)
    sip3d = np.abs(rng.normal(0.0, 1.0, size)) * sigma + displaced
    # electron cut-based ID (includes isolation): prompt-like if isolated, else mostly failing
    cb = ecfg["cut_based"]
    probs = np.empty((*size, 5))
    probs[...] = np.array(cb["fake"])
    real = origin <= NONPROMPT
    isolated = iso < ecfg["isolation_cut"]
    probs[real & ~isolated] = np.array(cb["nonisolated"])
    probs[real & isolated] = np.array(cb["prompt"])
    tight = mcfg["tight_id"]
    p_tight = np.select(
        [origin <= TAU, origin == NONPROMPT], [tight["prompt"], tight["nonprompt"]], tight["fake"]
    )
    return {
        "iso": iso,
        "sip3d": sip3d,
        "cutBased": choice(rng, probs, CUT_BASED_VALUES),
        "tightId": rng.random(size) < p_tight,
    }


def reconstruct_leptons(
    rng: np.random.Generator, prompt: PromptLepton, jets: Table, det: dict[str, Any]
) -> Table:
    """Reconstructed leptons: the prompt one plus non-prompt (b/c jets) and fake (light jets) ones."""
    n = prompt.p4.shape[0]
    ecfg, mcfg, ncfg = det["electrons"], det["muons"], det["nonprompt"]
    # one candidate per hadronic jet, with a flavour-dependent probability
    flavour = jets["flavour"]
    light_total = ncfg["light_electron"] + ncfg["light_muon"]
    has = rng.random(flavour.shape) < np.select(
        [flavour == 5, flavour == 4], [ncfg["b"], ncfg["c"]], light_total
    )
    src = {k: v[has] for k, v in jets.items()}
    m = len(src["pt"])
    heavy = src["flavour"] >= 4
    e_share = np.where(heavy, 0.5, ncfg["light_electron"] / light_total)
    z = np.where(heavy, rng.beta(ncfg["z_alpha"], ncfg["z_beta"], m), rng.beta(2.0, 2.0, m))
    cand = {
        "event": np.concatenate([np.arange(n), src["event"]]),
        "pt": np.concatenate([pt_of(prompt.p4), src["pt"] * z]),
        "eta": np.concatenate([eta_of(prompt.p4), src["eta"] + rng.normal(0.0, 0.05, m)]),
        "phi": np.concatenate([phi_of(prompt.p4), src["phi"] + rng.normal(0.0, 0.05, m)]),
        "is_e": np.concatenate([prompt.is_electron, rng.random(m) < e_share]),
        "charge": np.concatenate([prompt.charge, np.where(rng.random(m) < 0.5, 1, -1)]).astype(
            np.int32
        ),
        "origin": np.concatenate(
            [np.where(prompt.from_tau, TAU, PROMPT), np.where(heavy, NONPROMPT, FAKE)]
        ),
        "z": np.concatenate([np.ones(n), z]),
    }
    cand["phi"] = np.mod(cand["phi"] + np.pi, 2 * np.pi) - np.pi
    is_e, eta = cand["is_e"], cand["eta"]
    cand["pt"] = cand["pt"] * np.maximum(
        rng.normal(1.0, np.where(is_e, ecfg["resolution"], mcfg["resolution"])), 0.5
    )
    crack = is_e & (np.abs(eta) > 1.4442) & (np.abs(eta) < 1.566)
    eff = np.where(
        crack, ecfg["crack_efficiency"], np.where(is_e, ecfg["efficiency"], mcfg["efficiency"])
    )
    accepted = np.where(
        is_e,
        (cand["pt"] > ecfg["pt_min"]) & (np.abs(eta) < ecfg["abs_eta_max"]),
        (cand["pt"] > mcfg["pt_min"]) & (np.abs(eta) < mcfg["abs_eta_max"]),
    )
    keep = (rng.random(len(eta)) < eff) & accepted
    cand = {k: v[keep] for k, v in cand.items()}
    cand.update(_lepton_ids(rng, cand["origin"], cand["z"], det))
    cand["mass"] = np.where(cand["is_e"], ELECTRON_MASS, MUON_MASS)
    return cand
