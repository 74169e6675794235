"""Jets of the generator: parton clustering, detector smearing, b-tagging, jet ID, pileup jets and
the jets that contain the isolated leptons.

Partons closer than R = 0.4 are merged (closest pair first, Cambridge-Aachen-like), then smeared
(response per flavour, sigma/pT = N/pT (+) S/sqrt(pT) (+) C), given a mass, a jet ID (0/2/6), a
CSVV2 b-tag discriminant drawn from per-flavour Beta distributions (-10 default when no
secondary-vertex information); pileup jets are added, and every reconstructed lepton also
appears as a jet that fails the lepton veto (jetId 2) as in NanoAOD, where leptons are clustered
into AK4 jets. Jets above 15 GeV, |eta| < 4.7 (the recipe's ``detector.jets``).

Every jet carries its ``origin`` (:mod:`agc.dataset.qgl`): quark or gluon (a merged jet takes
the type of its harder constituent), pileup, or lepton jet, from which the quark-gluon
likelihood ``Jet_qgl`` is drawn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agc.dataset.branches import Table
from agc.dataset.fourvectors import P4, eta_of, mass_of, phi_of, pt_of
from agc.dataset.leptons import TAU
from agc.dataset.qgl import GLUON_JET, LEPTON_JET, PILEUP_JET, QUARK_JET
from agc.dataset.sampling import choice

__all__ = ["btag", "cluster", "jet_id", "jet_mass", "lepton_jets", "pileup_jets", "reco_jets"]

JET_ID_VALUES = np.array([0, 2, 6], dtype=np.int32)
BTAG_DEFAULT = -10.0


def cluster(
    p4: P4,
    flavour: np.ndarray,
    valid: np.ndarray,
    radius: float,
    gluon: np.ndarray | None = None,
) -> tuple[P4, np.ndarray, np.ndarray, np.ndarray]:
    """Merge partons closer than ``radius`` in (eta, phi), closest pair first, until none is.

    Vectorised over events; one Python iteration per merging round, each on the events that
    merged in the previous round only. The merged flavour is the heaviest (b > c > light); the
    merged gluon flag (``gluon`` (n, slots), default all quarks) is the harder constituent's
    (larger pT). Slots are first compacted (present partons first), so the result has as many
    slots as the busiest event. Returns four-vectors, flavours, presence and gluon flags.
    """
    gluon = np.zeros(valid.shape, bool) if gluon is None else gluon
    order = np.argsort(~valid, axis=1, kind="stable")
    k = max(int(valid.sum(axis=1).max(initial=0)), 1)
    order = order[:, :k]
    p4 = np.take_along_axis(p4, order[..., None], axis=1)
    flavour = np.take_along_axis(flavour, order, axis=1)
    valid = np.take_along_axis(valid, order, axis=1)
    gluon = np.take_along_axis(gluon, order, axis=1)
    # Events are handled in groups of equal multiplicity c, over the c (c - 1) / 2 pairs of their
    # occupied slots only (the pairs keep the order of the k-slot pairs, so ties resolve alike).
    count = valid.sum(axis=1)
    for c in np.unique(count[count > 1]):
        rows = np.flatnonzero(count == c)
        sub = p4[rows, :c], flavour[rows, :c], valid[rows, :c], gluon[rows, :c]
        _merge_close(*sub, radius)
        p4[rows, :c], flavour[rows, :c], valid[rows, :c], gluon[rows, :c] = sub
    return p4, flavour, valid, gluon


def _merge_close(
    p4: P4, flavour: np.ndarray, valid: np.ndarray, gluon: np.ndarray, radius: float
) -> None:
    """Merging rounds of :func:`cluster` on events with partons in all slots, in place."""
    first, second = np.triu_indices(p4.shape[1], 1)
    r2 = radius**2
    active = np.arange(p4.shape[0])
    while active.size:
        sub, ok = p4[active], valid[active]
        eta, phi = eta_of(sub), phi_of(sub)
        dphi = np.abs(phi[:, first] - phi[:, second])
        dr2 = (eta[:, first] - eta[:, second]) ** 2 + np.minimum(dphi, 2 * np.pi - dphi) ** 2
        dr2[~(ok[:, first] & ok[:, second])] = np.inf
        best = np.argmin(dr2, axis=1)
        merge = dr2[np.arange(active.size), best] < r2
        active, best = active[merge], best[merge]
        i, j = first[best], second[best]
        harder_j = pt_of(p4[active, j]) > pt_of(p4[active, i])
        gluon[active, i] = np.where(harder_j, gluon[active, j], gluon[active, i])
        p4[active, i] += p4[active, j]
        flavour[active, i] = np.maximum(flavour[active, i], flavour[active, j])
        valid[active, j] = False


def jet_id(rng: np.random.Generator, probabilities: Any, size: int) -> np.ndarray:
    """jetId in {0, 2, 6} drawn with ``probabilities`` (3,) or (size, 3)."""
    return choice(rng, np.broadcast_to(np.asarray(probabilities, float), (size, 3)), JET_ID_VALUES)


def btag(
    rng: np.random.Generator, flavour: np.ndarray, eta: np.ndarray, cfg: dict[str, Any]
) -> np.ndarray:
    """CSVV2 discriminant: Beta(alpha, beta) per flavour; -10 without secondary-vertex information."""
    value = np.empty(flavour.shape)
    for flav, name in ((5, "b"), (4, "c"), (0, "light")):
        mask = flavour == flav
        value[mask] = rng.beta(cfg[name]["alpha"], cfg[name]["beta"], int(mask.sum()))
    in_tracker = np.abs(eta) < cfg["tracker_abs_eta"]
    p_default = np.where(in_tracker, cfg["default_fraction"], cfg["forward_default_fraction"])
    return np.where(rng.random(flavour.shape) < p_default, BTAG_DEFAULT, value)


def jet_mass(rng: np.random.Generator, pt: np.ndarray, cfg: dict[str, Any]) -> np.ndarray:
    """Jet mass from hadronisation: pT times a Gamma-distributed m/pT."""
    return pt * rng.gamma(cfg["shape"], cfg["mean"] / cfg["shape"], pt.shape)


def reco_jets(
    rng: np.random.Generator,
    p4: P4,
    flavour: np.ndarray,
    event: np.ndarray,
    det: dict[str, Any],
    shower: dict[str, Any],
    gluon: np.ndarray | None = None,
) -> Table:
    """Smear clustered partons (flat arrays) into jets; drop those below threshold/outside the calorimeter.

    ``gluon`` (flat, bool; default all quarks) gives the jets' ``origin``
    (:data:`agc.dataset.qgl.QUARK_JET` or ``GLUON_JET``).
    """
    jcfg = det["jets"]
    pt, eta, phi = pt_of(p4), eta_of(p4), phi_of(p4)
    res = jcfg["resolution"]
    safe_pt = np.maximum(pt, 1.0)
    sigma = np.sqrt(
        (res["noise"] / safe_pt) ** 2 + res["stochastic"] ** 2 / safe_pt + res["constant"] ** 2
    )
    sigma = sigma * shower.get("resolution", 1.0)
    resp = jcfg["response"]
    mean = np.select([flavour == 5, flavour == 4], [resp["b"], resp["c"]], resp["light"])
    reco_pt = pt * np.maximum(rng.normal(mean * shower.get("response", 1.0), sigma), 0.05)
    eta = eta + rng.normal(0.0, jcfg["angular_resolution"], eta.shape)
    phi = (
        np.mod(phi + rng.normal(0.0, jcfg["angular_resolution"], phi.shape) + np.pi, 2 * np.pi)
        - np.pi
    )
    hadron_mass = jet_mass(rng, reco_pt, jcfg["mass_over_pt"]) * np.where(flavour == 5, 1.15, 1.0)
    mass = np.hypot(mass_of(p4) * reco_pt / np.maximum(pt, 1e-9), hadron_mass)
    ids = jcfg["jet_id"]
    probs = np.where(
        (np.abs(eta) < 2.7)[:, None], np.array(ids["central"]), np.array(ids["forward"])
    )
    jets = {
        "event": event,
        "pt": reco_pt,
        "eta": eta,
        "phi": phi,
        "mass": mass,
        "btag": btag(rng, flavour, eta, det["btag"]),
        "jetId": jet_id(rng, probs, len(pt)),
        "flavour": flavour,
        "origin": np.where(
            np.zeros(pt.shape, bool) if gluon is None else gluon, GLUON_JET, QUARK_JET
        ).astype(np.int8),
    }
    keep = (reco_pt > jcfg["pt_min"]) & (np.abs(eta) < jcfg["abs_eta_max"])
    return {k: v[keep] for k, v in jets.items()}


def pileup_jets(rng: np.random.Generator, n: int, det: dict[str, Any]) -> Table:
    """Soft jets from pileup and the underlying event, flat in eta within the calorimeter."""
    jcfg = det["jets"]
    pcfg = jcfg["pileup"]
    count = np.minimum(rng.poisson(pcfg["mean"], n), int(pcfg.get("max", 5)))
    event = np.repeat(np.arange(n), count)
    size = len(event)
    pt = jcfg["pt_min"] + rng.exponential(pcfg["pt_slope"], size)
    eta = rng.uniform(-jcfg["abs_eta_max"], jcfg["abs_eta_max"], size)
    flavour = np.zeros(size, np.int32)
    return {
        "event": event,
        "pt": pt,
        "eta": eta,
        "phi": rng.uniform(-np.pi, np.pi, size),
        "mass": jet_mass(rng, pt, jcfg["mass_over_pt"]),
        "btag": btag(rng, flavour, eta, det["btag"]),
        "jetId": jet_id(rng, pcfg["jet_id"], size),
        "flavour": flavour,
        "origin": np.full(size, PILEUP_JET, np.int8),
    }


def lepton_jets(rng: np.random.Generator, leptons: Table, det: dict[str, Any]) -> Table:
    """The AK4 jet containing each isolated lepton (mostly fails the lepton veto: jetId 2)."""
    jcfg = det["jets"]
    src = {k: v[leptons["origin"] <= TAU] for k, v in leptons.items()}
    size = len(src["pt"])
    pt = src["pt"] * (1.0 + rng.exponential(jcfg["lepton_jet_extra"], size))
    flavour = np.zeros(size, np.int32)
    jets = {
        "event": src["event"],
        "pt": pt,
        "eta": src["eta"],
        "phi": src["phi"],
        "mass": 0.3 * jet_mass(rng, pt, jcfg["mass_over_pt"]),
        "btag": btag(rng, flavour, src["eta"], det["btag"]),
        "jetId": jet_id(rng, jcfg["jet_id"]["lepton"], size),
        "flavour": flavour,
        "origin": np.full(size, LEPTON_JET, np.int8),
    }
    keep = pt > jcfg["pt_min"]
    return {k: v[keep] for k, v in jets.items()}
