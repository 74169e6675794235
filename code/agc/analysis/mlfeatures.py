"""Jet-parton assignment features of the AGC's machine-learning extension, vectorised.

In every 4j2b event each assignment of the leading (first, in NanoAOD order) ``n = min(n_jets,
6)`` selected jets to (W jet 1, W jet 2, b of the hadronic top, b of the leptonic top) is a row of
20 features (:data:`agc.core.physics.ML_FEATURES`, the AGC's ``utils/ml.py`` ``get_features``):

====  ==========================================================================================
0     dR(lepton, b_lep), with the AGC's plain phi difference (not wrapped into [-pi, pi])
1-3   dR(W1, W2), dR(W1, b_had), dR(W2, b_had) (same plain phi difference)
4-7   mass of lepton + b_lep, of W1 + W2, of W1 + W2 + b_had, pT of W1 + W2 + b_had [GeV]
8-11  pT of W1, W2, b_had, b_lep [GeV]
12-15 btagCSVV2 of W1, W2, b_had, b_lep
16-19 qgl of W1, W2, b_had, b_lep
====  ==========================================================================================

The assignments per jet count are the AGC's ``get_permutations_dict`` (:func:`permutations`):
ordered 4-tuples of distinct jets in ``itertools.product`` order, of which the AGC keeps, of two
assignments that differ only by swapping the W jets, the later one -- 12, 60 and 180 rows for 4,
5 and 6 jets. No Python loop runs over events: the rows of all events with the same ``n`` are
built at once. Everything is float64 (the AGC computes in the files' float32 where its inputs
are float32; the features here are the same quantities, evaluated more precisely).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np

from agc.core import physics

__all__ = ["Assignments", "Objects", "assignments", "features", "permutations"]

#: Jets in an assignment: W jet 1, W jet 2, b of the hadronic top, b of the leptonic top.
N_ROLES = 4


@functools.cache
def permutations(n_jets: int) -> np.ndarray:
    """The AGC's assignments of ``n_jets`` (4..6) jets: int64 array (rows, 4) of jet positions
    (W1, W2, b_had, b_lep), in the AGC's order (``get_permutations_dict``)."""
    if not N_ROLES <= n_jets <= physics.ML_MAX_N_JETS:
        raise ValueError(f"n_jets must be in [4, {physics.ML_MAX_N_JETS}], got {n_jets}")
    ordered = [p for p in itertools.product(range(n_jets), repeat=N_ROLES) if len(set(p)) == 4]
    labels = [_labels(p, n_jets) for p in ordered]
    # The AGC keeps an assignment if an earlier one has the same labels (W jets exchangeable).
    kept = [p for i, p in enumerate(ordered) if labels[i] in labels[:i]]
    out = np.array(kept, dtype=np.int64)
    out.flags.writeable = False
    return out


def _labels(perm: tuple[int, ...], n_jets: int) -> tuple[int, ...]:
    """Per-jet label of an assignment: 24 (W jet), 6 (b_had), -6 (b_lep), 100 (unused)."""
    label = [100] * n_jets
    label[perm[0]] = label[perm[1]] = 24
    label[perm[2]], label[perm[3]] = 6, -6
    return tuple(label)


@dataclass(frozen=True)
class Objects:
    """The inputs of the features for ``n_events`` events, flat float64 numpy arrays.

    Jets: the selected jets of the events, in NanoAOD order, ``counts`` (int64, n_events) per
    event, columns ``pt`` [GeV] (varied for a jet-pT variation), ``eta``, ``phi``, ``mass``
    [GeV], ``btag`` (btagCSVV2), ``qgl``. Lepton: the one selected lepton of each event,
    ``lepton_pt``/``_eta``/``_phi``/``_mass`` (length n_events).
    """

    counts: np.ndarray
    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    mass: np.ndarray
    btag: np.ndarray
    qgl: np.ndarray
    lepton_pt: np.ndarray
    lepton_eta: np.ndarray
    lepton_phi: np.ndarray
    lepton_mass: np.ndarray

    @property
    def n_events(self) -> int:
        """Number of events."""
        return len(self.counts)


@dataclass(frozen=True)
class Assignments:
    """All assignments of a set of events: ``event`` (int64, rows) the event of each row, in
    event order, and ``jets`` (int64, (rows, 4)) the flat jet index of W1, W2, b_had, b_lep."""

    event: np.ndarray
    jets: np.ndarray


def assignments(counts: np.ndarray) -> Assignments:
    """The assignments of every event with at least 4 jets (``counts``: jets per event).

    Events with more than :data:`~agc.core.physics.ML_MAX_N_JETS` jets use their first ones.
    """
    counts = np.asarray(counts, dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(counts)))[:-1]
    n_used = np.minimum(counts, physics.ML_MAX_N_JETS)
    events, jets = [], []
    for n in range(N_ROLES, physics.ML_MAX_N_JETS + 1):
        which = np.flatnonzero(n_used == n)
        perms = permutations(n)
        events.append(np.repeat(which, len(perms)))
        jets.append((offsets[which][:, None, None] + perms[None, :, :]).reshape(-1, N_ROLES))
    event = np.concatenate(events)
    order = np.argsort(event, kind="stable")
    return Assignments(event=event[order], jets=np.concatenate(jets)[order])


def _delta_r_plain(
    eta1: np.ndarray, phi1: np.ndarray, eta2: np.ndarray, phi2: np.ndarray
) -> np.ndarray:
    """sqrt(d_eta**2 + d_phi**2) with the plain phi difference, as the AGC computes it."""
    return np.sqrt((eta1 - eta2) ** 2 + (phi1 - phi2) ** 2)


def _cartesian(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """(px, py, pz, E) [GeV] of (pt, eta, phi, mass), shape (4, len(pt))."""
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return np.stack((px, py, pz, np.sqrt(px * px + py * py + pz * pz + mass * mass)))


def _mass(p4: np.ndarray) -> np.ndarray:
    """Invariant mass [GeV] of (px, py, pz, E) rows; 0 where rounding makes m**2 negative."""
    m2 = p4[3] ** 2 - p4[0] ** 2 - p4[1] ** 2 - p4[2] ** 2
    return np.sqrt(np.maximum(m2, 0.0))


def features(objects: Objects, rows: Assignments) -> np.ndarray:
    """The 20 features (float64, shape (rows, 20), AGC order) of every assignment in ``rows``."""
    w1, w2, bh, bl = (rows.jets[:, k] for k in range(N_ROLES))
    o = objects
    lep = rows.event
    jet_p4 = _cartesian(o.pt, o.eta, o.phi, o.mass)
    lep_p4 = _cartesian(o.lepton_pt, o.lepton_eta, o.lepton_phi, o.lepton_mass)
    w_pair = jet_p4[:, w1] + jet_p4[:, w2]
    top_had = w_pair + jet_p4[:, bh]
    out = np.empty((len(lep), 20))
    out[:, 0] = _delta_r_plain(o.lepton_eta[lep], o.lepton_phi[lep], o.eta[bl], o.phi[bl])
    out[:, 1] = _delta_r_plain(o.eta[w1], o.phi[w1], o.eta[w2], o.phi[w2])
    out[:, 2] = _delta_r_plain(o.eta[w1], o.phi[w1], o.eta[bh], o.phi[bh])
    out[:, 3] = _delta_r_plain(o.eta[w2], o.phi[w2], o.eta[bh], o.phi[bh])
    out[:, 4] = _mass(lep_p4[:, lep] + jet_p4[:, bl])
    out[:, 5] = _mass(w_pair)
    out[:, 6] = _mass(top_had)
    out[:, 7] = np.hypot(top_had[0], top_had[1])
    for first, column in ((8, o.pt), (12, o.btag), (16, o.qgl)):
        for k, jet in enumerate((w1, w2, bh, bl)):
            out[:, first + k] = column[jet]
    return out
