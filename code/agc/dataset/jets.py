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

import math
from typing import Any

import numpy as np

from agc.core import compiled
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

    ``p4`` (n, slots, 4) [GeV], ``flavour``, ``valid`` and ``gluon`` (n, slots; gluon default
    all quarks). Slots are first compacted (present partons first, in their order), so the
    result has as many slots as the busiest event. Each merging round of an event finds the
    closest pair of its present partons (pairs in the order (0, 1), (0, 2), ..., (1, 2), ...;
    the first of equally close pairs) and, if closer than ``radius``, adds the second parton's
    four-vector to the first's; the merged flavour is the heaviest (b > c > light), the merged
    gluon flag the harder constituent's (larger pT). Returns four-vectors, flavours, presence and
    gluon flags (n, k). Compiled per event (:func:`_cluster_events`); eta is ``asinh(pz / pT)``
    (0 at pT = 0), phi ``atan2(py, px)``, pT ``hypot(px, py)``, all the C library's.
    """
    gluon = np.zeros(valid.shape, bool) if gluon is None else gluon
    n = valid.shape[0]
    k = max(int(valid.sum(axis=1).max(initial=0)), 1)
    out = (
        np.empty((n, k, 4), p4.dtype),
        np.empty((n, k), flavour.dtype),
        np.empty((n, k), bool),
        np.empty((n, k), bool),
    )
    source = (
        compiled.kernel_array(p4, np.float64),
        compiled.kernel_array(flavour),
        compiled.kernel_array(valid, bool),
        compiled.kernel_array(gluon, bool),
    )
    _cluster_events(source, out, float(radius) ** 2)
    return out


@compiled.njit
def _cluster_events(source, out, r2):  # pragma: no cover - compiled
    """:func:`cluster` of ``source`` = (p4, flavour, valid, gluon) (n, slots) into ``out`` (the
    same, (n, k)): each event's slots compacted, then its merging rounds
    (:func:`_merge_rounds`)."""
    valid = source[2]
    n, slots = valid.shape
    k = out[2].shape[1]
    eta = np.empty(k)
    phi = np.empty(k)
    for e in range(n):
        count = 0
        for s in range(slots):  # present partons first, each group in slot order
            if valid[e, s]:
                _copy_slot(source, e, s, out, count)
                count += 1
        to = count
        for s in range(slots):
            if not valid[e, s] and to < k:
                _copy_slot(source, e, s, out, to)
                to += 1
        if count > 1:
            _merge_rounds(out, e, count, r2, eta, phi)


@compiled.njit
def _copy_slot(source, e, s, out, to):  # pragma: no cover - compiled
    """Slot ``s`` of event ``e`` of ``source`` to its slot ``to`` in ``out``."""
    for x in range(4):
        out[0][e, to, x] = source[0][e, s, x]
    out[1][e, to] = source[1][e, s]
    out[2][e, to] = source[2][e, s]
    out[3][e, to] = source[3][e, s]


@compiled.njit
def _merge_rounds(arrays, e, c, r2, eta, phi):  # pragma: no cover - compiled
    """The merging rounds of event ``e`` over its first ``c`` slots (all present at first) of
    ``arrays`` = (p4, flavour, valid, gluon), in place; ``eta`` and ``phi`` (k,) hold each
    slot's, updated for the merged slot after each round."""
    p4, flavour, valid, gluon = arrays
    for a in range(c):
        _eta_phi(p4, e, a, eta, phi)
    while True:
        best_i, best_j, best = 0, 1, np.inf
        first = True
        for i in range(c - 1):
            for j in range(i + 1, c):
                if valid[e, i] and valid[e, j]:
                    dphi = abs(phi[i] - phi[j])
                    deta = eta[i] - eta[j]
                    dmin = min(dphi, 2 * math.pi - dphi)
                    dr2 = deta * deta + dmin * dmin
                else:
                    dr2 = np.inf
                # numpy's argmin: the first NaN, else the first smallest
                if first or (not math.isnan(best) and (math.isnan(dr2) or dr2 < best)):
                    best_i, best_j, best = i, j, dr2
                first = False
        if not best < r2:
            return
        i, j = best_i, best_j
        if math.hypot(p4[e, j, 0], p4[e, j, 1]) > math.hypot(p4[e, i, 0], p4[e, i, 1]):
            gluon[e, i] = gluon[e, j]
        for x in range(4):
            p4[e, i, x] += p4[e, j, x]
        flavour[e, i] = max(flavour[e, i], flavour[e, j])
        valid[e, j] = False
        _eta_phi(p4, e, i, eta, phi)  # the only slot whose four-vector changed


@compiled.njit
def _eta_phi(p4, e, a, eta, phi):  # pragma: no cover - compiled
    """eta and phi of slot ``a`` of event ``e`` into ``eta[a]``, ``phi[a]``
    (:func:`agc.dataset.fourvectors.eta_of`, :func:`~agc.dataset.fourvectors.phi_of`)."""
    pt = math.hypot(p4[e, a, 0], p4[e, a, 1])
    eta[a] = math.asinh(p4[e, a, 2] / pt if pt > 0 else 0.0)
    phi[a] = math.atan2(p4[e, a, 1], p4[e, a, 0])


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
