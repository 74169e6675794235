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
5 and 6 jets. The rows of all events are written in one compiled pass over the events
(:func:`_fill_assignments`, numba), in event order.

Arithmetic and dtypes are the AGC's, so that the features equal its values bit for bit (a
feature that rounds differently can cross a split threshold of the BDT, which compares float32,
and change the chosen assignment, or cross a histogram bin edge): the AGC computes on
NanoAOD's float32 columns -- float32 throughout for the nominal pT; for a varied pT (float32
times a float64 factor) the terms with pT in float64 -- with the formulas of the libraries it
calls: the distances from awkward arithmetic on the columns, lepton + b_lep as scikit-hep
vector's ``Momentum4D`` sum (:func:`_lepton_jet_mass`), the hadronic sums as coffea's ``Jet``
sums in (px, py, pz, E) with vector's component formulas (:func:`_energy`; the mass
``copysign(sqrt(|E**2 - (px**2 + py**2 + pz**2)|), ...)``). The lepton-jet features and the
jets' (px, py, pz, E) are computed once per jet (numpy, with sinh, arcsinh and float64 exp from
the C library, :mod:`agc.core.portablemath`), the distances and W-pair sums once per
jet pair of an event and the hadronic top once per (W pair, b_had), in one compiled pass over
the rows (:func:`_fill_rows`, numba): the same operations on the same values, so the same bits.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np

from agc.core import compiled, physics, portablemath

__all__ = ["Assignments", "Objects", "assignments", "features", "permutations"]

#: Jets in an assignment: W jet 1, W jet 2, b of the hadronic top, b of the leptonic top.
N_ROLES = 4
#: Most jets of an event the assignments use (the size of the per-event pair tables).
_N_MAX = physics.ML_MAX_N_JETS


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
    """The inputs of the features for ``n_events`` events, flat numpy arrays in the dtypes
    the AGC computes with (:func:`features` computes in these dtypes).

    Jets: the selected jets of the events, in NanoAOD order, ``counts`` (int64, n_events) per
    event, columns ``pt`` [GeV] (float32 as read, float64 when varied for a jet-pT variation),
    ``eta``, ``phi``, ``mass`` [GeV], ``btag`` (btagCSVV2), ``qgl`` (float32 as read). Lepton:
    the one selected lepton of each event, ``lepton_pt``/``_eta``/``_phi``/``_mass`` (length
    n_events, float32 as read).
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
    table, starts = _permutation_table()
    sizes = np.diff(starts)
    rows = int(sizes[n_used].sum())
    event = np.empty(rows, dtype=np.int64)
    jets = np.empty((rows, N_ROLES), dtype=np.int64)
    compiled.once(_fill_assignments)(offsets, n_used, table, starts, event, jets)
    return Assignments(event=event, jets=jets)


@functools.cache
def _permutation_table() -> tuple[np.ndarray, np.ndarray]:
    """(:func:`permutations` of 4..6 jets one after the other, int64 (rows, 4); where the
    assignments of ``n`` jets start in it, int64, indexed by n = 0..7: rows ``starts[n]`` to
    ``starts[n + 1] - 1``, none for fewer than 4 jets)."""
    sizes = [len(permutations(n)) if n >= N_ROLES else 0 for n in range(_N_MAX + 1)]
    starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    table = np.concatenate([permutations(n) for n in range(N_ROLES, _N_MAX + 1)])
    return table, starts


def _fill_assignments(offsets, n_used, table, starts, event, jets):  # pragma: no cover - numba
    """Write the assignments of each event, in event order, to ``event`` (its event) and
    ``jets`` (flat jet indices ``offsets[e]`` + the positions of the rows of ``table`` for its
    ``n_used[e]`` jets, from ``starts[n]`` to ``starts[n + 1] - 1``)."""
    r = 0
    for e in range(n_used.shape[0]):
        for p in range(starts[n_used[e]], starts[n_used[e] + 1]):
            event[r] = e
            for k in range(table.shape[1]):
                jets[r, k] = offsets[e] + table[p, k]
            r += 1


def _delta_r_plain(
    eta1: np.ndarray, phi1: np.ndarray, eta2: np.ndarray, phi2: np.ndarray
) -> np.ndarray:
    """sqrt(d_eta**2 + d_phi**2) with the plain phi difference, in the inputs' dtype (AGC)."""
    return np.sqrt((eta1 - eta2) ** 2 + (phi1 - phi2) ** 2)


def _p_squared(pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """|p|**2 [GeV**2] of (pt, eta) as vector computes it: pt**2 * (0.5 * (1 + e**2) / e)**2
    with e = exp(-eta) (vector ``mag2.rhophi_eta``)."""
    e = portablemath.exp(-eta)
    inv_sin_theta = 0.5 * (1 + e**2) / e
    return pt**2 * inv_sin_theta**2


def _energy(pt: np.ndarray, eta: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """E [GeV] of (pt, eta, mass) as vector computes it (``t.rhophi_eta_tau``)."""
    return np.sqrt(np.maximum(np.copysign(mass**2, mass) + _p_squared(pt, eta), 0))


def _signed_mass(squared: np.ndarray) -> np.ndarray:
    """copysign(sqrt(|m**2|), m**2) [GeV], vector's mass of a four-vector (``tau``)."""
    return np.copysign(np.sqrt(np.absolute(squared)), squared)


def _lepton_jet_mass(lepton: tuple[np.ndarray, ...], jet: tuple[np.ndarray, ...]) -> np.ndarray:
    """Mass [GeV] of lepton + jet, each (pt, eta, phi, mass), as vector's ``Momentum4D`` sum
    computes it: the azimuthal sum relative to the lepton's phi, z from pt * sinh(eta), the
    sum's eta = arcsinh(z / pt), E from each (pt, eta, mass), m**2 = E**2 - |p|**2."""
    pt1, eta1, phi1, m1 = lepton
    pt2, eta2, phi2, m2 = jet
    diff = phi2 - phi1
    u, v = pt2 * np.cos(diff), pt2 * np.sin(diff)
    pt = np.sqrt((pt1 + u) ** 2 + v**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = portablemath.arcsinh(
            (pt1 * portablemath.sinh(eta1) + pt2 * portablemath.sinh(eta2)) / pt
        )
    energy = _energy(pt1, eta1, m1) + _energy(pt2, eta2, m2)
    return _signed_mass(energy**2 - _p_squared(pt, eta))


def features(objects: Objects, rows: Assignments, dtype: type = np.float64) -> np.ndarray:
    """The 20 features (shape (rows, 20), AGC order) of every assignment in ``rows``.

    The arithmetic is the AGC's, in the dtypes of ``objects`` (:class:`Objects`): the values
    equal, bit for bit, what ``get_features`` gives on the same columns on a CPU without AVX-512,
    on any CPU (:mod:`agc.core.portablemath`). They are stored as
    ``dtype``: float64 (the values themselves), or float32 (each value rounded to the nearest
    float32, as ``astype(np.float32)`` rounds it: what the BDTs compare), which halves the
    memory the rows take. The transcendental
    functions run per jet (numpy and :mod:`agc.core.portablemath`); the compiled :func:`_fill_rows` takes the per-jet quantities
    and computes, per event, the table of jet-pair distances and W-pair sums once and the
    hadronic top once per (W pair, b_had), with the same operations in the same order as the
    AGC's per-row arithmetic.
    """
    o = objects
    jet_event = np.repeat(np.arange(o.n_events), o.counts)
    lepton = tuple(
        column[jet_event] for column in (o.lepton_pt, o.lepton_eta, o.lepton_phi, o.lepton_mass)
    )
    lepton_dr = _delta_r_plain(lepton[1], lepton[2], o.eta, o.phi)
    lepton_mass = _lepton_jet_mass(lepton, (o.pt, o.eta, o.phi, o.mass))
    p4 = np.stack(
        [
            o.pt * np.cos(o.phi),
            o.pt * np.sin(o.phi),
            o.pt * portablemath.sinh(o.eta),
            _energy(o.pt, o.eta, o.mass),
        ]
    )
    per_jet = np.stack([o.pt, o.btag, o.qgl, lepton_dr, lepton_mass]).astype(np.float64)
    offsets = np.concatenate(([0], np.cumsum(o.counts)))[:-1]
    out = np.empty((len(rows.event), 20), dtype=dtype)
    compiled.once(_fill_rows)(
        np.ascontiguousarray(rows.jets, dtype=np.int64),
        np.ascontiguousarray(rows.event, dtype=np.int64),
        offsets.astype(np.int64),
        np.asarray(o.counts, dtype=np.int64),
        np.ascontiguousarray(o.eta),
        np.ascontiguousarray(o.phi),
        p4,
        per_jet,
        out,
    )
    return out


def _fill_rows(
    jets, event, offsets, counts, eta, phi, p4, per_jet, out
):  # pragma: no cover - numba
    """Write the 20 features of each row (``jets``: (rows, 4) flat jet indices W1, W2, b_had,
    b_lep; ``event``: sorted event per row; ``offsets``, ``counts``: first jet and jets per
    event) to ``out`` ((rows, 20), float64, or float32: each value rounded when stored).

    Per event (at most :data:`~agc.core.physics.ML_MAX_N_JETS` jets used): ``dr[i, j]`` the
    plain-phi distance of jets i, j (float32, as the AGC's awkward arithmetic); ``pair[:, i, j]``
    the cartesian W-pair sum ``p4[i] + p4[j]`` (dtype of ``p4``; addition is commutative in IEEE
    arithmetic, so one table serves both W orders) and its mass. The hadronic top ``pair + p4[b]``
    is recomputed only when (W1, W2, b_had) changes between consecutive rows.
    ``per_jet``: (5, jets) pT, btag, qgl, dR(lepton, jet), mass(lepton + jet).
    """
    n_max = _N_MAX
    dr = np.empty((n_max, n_max), dtype=eta.dtype)
    pair = np.empty((4, n_max, n_max), dtype=p4.dtype)
    pair_mass = np.empty((n_max, n_max), dtype=p4.dtype)
    current = -1
    start = 0
    last = (-1, -1, -1)
    top_mass = pair_mass[0, 0]
    top_pt = top_mass
    for r in range(jets.shape[0]):
        if event[r] != current:
            current = event[r]
            start = offsets[current]
            n = min(n_max, counts[current])
            for i in range(n):
                for j in range(n):
                    d_eta = eta[start + i] - eta[start + j]
                    d_phi = phi[start + i] - phi[start + j]
                    dr[i, j] = np.sqrt(d_eta * d_eta + d_phi * d_phi)
                    for c in range(4):
                        pair[c, i, j] = p4[c, start + i] + p4[c, start + j]
                    px, py, pz, e = pair[0, i, j], pair[1, i, j], pair[2, i, j], pair[3, i, j]
                    m2 = e * e - (px * px + py * py + pz * pz)
                    pair_mass[i, j] = np.copysign(np.sqrt(np.abs(m2)), m2)
            last = (-1, -1, -1)
        w1 = jets[r, 0] - start
        w2 = jets[r, 1] - start
        bh = jets[r, 2] - start
        bl = jets[r, 3] - start
        if (w1, w2, bh) != last:
            last = (w1, w2, bh)
            px = pair[0, w1, w2] + p4[0, start + bh]
            py = pair[1, w1, w2] + p4[1, start + bh]
            pz = pair[2, w1, w2] + p4[2, start + bh]
            e = pair[3, w1, w2] + p4[3, start + bh]
            m2 = e * e - (px * px + py * py + pz * pz)
            top_mass = np.copysign(np.sqrt(np.abs(m2)), m2)
            top_pt = np.sqrt(px * px + py * py)
        out[r, 0] = per_jet[3, start + bl]
        out[r, 1] = dr[w1, w2]
        out[r, 2] = dr[w1, bh]
        out[r, 3] = dr[w2, bh]
        out[r, 4] = per_jet[4, start + bl]
        out[r, 5] = pair_mass[w1, w2]
        out[r, 6] = top_mass
        out[r, 7] = top_pt
        for k in range(4):
            jet = jets[r, k]
            out[r, 8 + k] = per_jet[0, jet]
            out[r, 12 + k] = per_jet[1, jet]
            out[r, 16 + k] = per_jet[2, jet]
