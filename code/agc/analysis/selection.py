"""Object and event selection, observables and systematic weights of the physics card.

Pure functions, no coffea and no I/O. Conventions: momenta and masses in GeV; per-event results
are flat ``numpy`` arrays of length ``n_events``.

Object cuts (:func:`electron_mask`, :func:`muon_mask`, :func:`jet_mask`, :func:`btag_mask`) take
anything whose fields are attributes -- an awkward record array (jagged, ``n_events * var``) or a
:class:`Collection` of flat numpy columns -- and return a boolean mask of the same shape. The
event selection (:func:`select`) works on :class:`Collection` objects, i.e. flat numpy columns plus
per-event counts, which keeps the per-chunk cost close to the cost of reading the columns; it
accepts awkward record arrays too (converted with :meth:`Collection.from_awkward`).

Jet pT variations (JES ``pt_scale_up``, JER ``pt_res_up``) enter as a separate ``jet_pt`` column
that replaces the jets' pT before anything is computed, as the AGC analysis pipeline does
(``jets["pt"] = jets.pt * factor`` in ``TtbarAnalysis.process``): the object selection, the
b-tag counts, H_T and the m_bjj trijet four-momenta all use the varied pT. A jet's eta, phi and
mass are unchanged, so its px, py, pz scale with the pT and E = sqrt(p**2 + m**2). (The AGC
comment that the jet energy scale / resolution "is not propagated to this observable" belongs to
its ML training script, not to the analysis.)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import awkward as ak
import numpy as np

from agc.core import compiled, physics

#: Cut-flow steps, in order: events after each selection step.
CUTFLOW_STEPS: tuple[str, ...] = ("all", "1_lepton", "ge4_jets", "4j1b", "4j2b")

ELECTRON_FIELDS: tuple[str, ...] = ("pt", "eta", "cutBased", "sip3d")
MUON_FIELDS: tuple[str, ...] = ("pt", "eta", "tightId", "sip3d", "pfRelIso04_all")
JET_FIELDS: tuple[str, ...] = ("pt", "eta", "phi", "mass", "btagCSVV2", "jetId")
#: The jet columns each region's observable reads besides the pT: none for H_T, the
#: four-momentum and the b-tag discriminant for m_bjj.
REGION_JET_FIELDS: dict[str, tuple[str, ...]] = {
    "4j1b": (),
    "4j2b": ("eta", "phi", "mass", "btagCSVV2"),
}


# -- flat collections -------------------------------------------------------------------------


@dataclass(frozen=True)
class Collection:
    """One object collection as flat numpy columns (one entry per object) plus per-event counts.

    ``counts``: int64, length n_events; every column has length ``counts.sum()``. Columns are
    attributes (``jets.pt``), like the fields of an awkward record array.
    """

    counts: np.ndarray
    columns: dict[str, np.ndarray]

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["columns"][name]
        except KeyError:
            raise AttributeError(name) from None

    @classmethod
    def from_awkward(cls, array: Any, fields: Iterable[str]) -> Collection:
        """Flatten the given fields of a jagged record array (``n_events * var * record``)."""
        counts = ak.to_numpy(ak.num(array[next(iter(fields))], axis=1)).astype(np.int64)
        columns = {f: ak.to_numpy(ak.flatten(array[f], axis=1)) for f in fields}
        return cls(counts=counts, columns=columns)

    @property
    def n_events(self) -> int:
        """Number of events."""
        return len(self.counts)

    @cached_property
    def offsets(self) -> np.ndarray:
        """Start of each event's objects, plus the total (length n_events + 1, int64)."""
        return np.concatenate(([0], np.cumsum(self.counts)))

    @cached_property
    def event_index(self) -> np.ndarray:
        """Event number (0..n_events-1) of each object."""
        return np.repeat(np.arange(self.n_events), self.counts)

    def of_events(self, events: np.ndarray) -> Collection:
        """The objects of the events where ``events`` (bool per event) is True."""
        per_object = events[self.event_index]
        columns = {k: v[per_object] for k, v in self.columns.items()}
        return Collection(counts=self.counts[events], columns=columns)

    def count(self, mask: np.ndarray) -> np.ndarray:
        """Number of objects per event passing the flat boolean ``mask`` (int64, exact)."""
        out = np.empty(self.n_events, dtype=np.int64)
        compiled.once(_count)(self.offsets, np.asarray(mask, dtype=bool), out)
        return out


def _as_collection(array: Any, fields: tuple[str, ...]) -> Collection:
    return array if isinstance(array, Collection) else Collection.from_awkward(array, fields)


# -- objects ----------------------------------------------------------------------------------


def electron_mask(electrons: Any) -> Any:
    """Tight electrons: pT > 30, |eta| < 2.1, cutBased == 4, sip3d < 4 (bool, shape of the fields)."""
    return (
        (electrons.pt > physics.ELECTRON_PT_MIN)
        & (abs(electrons.eta) < physics.ELECTRON_ABS_ETA_MAX)
        & (electrons.cutBased == physics.ELECTRON_CUTBASED_TIGHT)
        & (electrons.sip3d < physics.ELECTRON_SIP3D_MAX)
    )


def muon_mask(muons: Any) -> Any:
    """Tight isolated muons: pT > 30, |eta| < 2.1, tightId, sip3d < 4, pfRelIso04_all < 0.15."""
    return (
        (muons.pt > physics.MUON_PT_MIN)
        & (abs(muons.eta) < physics.MUON_ABS_ETA_MAX)
        & (muons.tightId != 0)
        & (muons.sip3d < physics.MUON_SIP3D_MAX)
        & (muons.pfRelIso04_all < physics.MUON_RELISO_MAX)
    )


def jet_mask(jets: Any, jet_pt: Any = None) -> Any:
    """Selected jets: pT > 30, |eta| < 2.4, tight-lepton-veto jet ID ``(jetId & 4) != 0``.

    ``jet_pt`` (same shape as ``jets.pt``, GeV) replaces ``jets.pt`` for a pT variation.
    """
    pt = jets.pt if jet_pt is None else jet_pt
    return (
        (pt > physics.JET_PT_MIN)
        & (abs(jets.eta) < physics.JET_ABS_ETA_MAX)
        & ((jets.jetId & physics.JET_ID_TIGHT_LEPTON_VETO_BIT) != 0)
    )


def btag_mask(btag: Any) -> Any:
    """b-tagged: ``btagCSVV2 > 0.5``."""
    return btag > physics.BTAG_CSVV2_MIN


def n_selected_leptons(electrons: Any, muons: Any) -> np.ndarray:
    """Number of selected electrons plus muons per event (int64, length n_events)."""
    el = _as_collection(electrons, ELECTRON_FIELDS)
    mu = _as_collection(muons, MUON_FIELDS)
    return el.count(electron_mask(el)) + mu.count(muon_mask(mu))


# -- observables ------------------------------------------------------------------------------


def h_t(jets: Any, mask: np.ndarray | None = None, jet_pt: np.ndarray | None = None) -> np.ndarray:
    """H_T [GeV] per event (float64): scalar sum of the pT of the jets passing ``mask``.

    ``jets``: :class:`Collection` or jagged record array; ``mask``: flat bool per jet (default:
    all jets); ``jet_pt``: flat varied pT (default ``jets.pt``). Sums run over each event's jets
    in order, so an event's H_T does not depend on the other events.
    """
    jets = _as_collection(jets, ("pt",))
    pt = np.asarray(jets.pt if jet_pt is None else jet_pt, dtype=np.float64)
    if mask is not None:
        pt = np.where(mask, pt, 0.0)
    return np.bincount(jets.event_index, weights=pt, minlength=jets.n_events)


def m_bjj(
    jets: Any, mask: np.ndarray | None = None, jet_pt: np.ndarray | None = None
) -> np.ndarray:
    """m_bjj [GeV] per event (float64): mass of the three-jet combination with the largest
    vector-sum pT among the combinations with at least one b-tagged jet.

    ``jets`` (:class:`Collection` or jagged record array) has ``pt``, ``eta``, ``phi``, ``mass``,
    ``btagCSVV2``; ``mask`` (flat bool per jet) picks the jets to combine (default: all);
    ``jet_pt`` (flat, one per jet, GeV) replaces ``jets.pt`` for a pT variation (default
    ``jets.pt``): each jet's four-momentum is then built from the varied pT with its eta, phi and
    mass unchanged. Events without such a combination give NaN. Ties in pT go to the first
    combination in ``ak.combinations`` order (jets in their NanoAOD order).
    """
    jets = _as_collection(jets, JET_FIELDS)
    columns = [
        np.asarray(jets.pt if jet_pt is None else jet_pt, dtype=np.float64),
        *(np.asarray(getattr(jets, f), dtype=np.float64) for f in ("eta", "phi", "mass")),
        np.asarray(btag_mask(jets.btagCSVV2), dtype=bool),
    ]
    counts = jets.counts
    if mask is not None:
        keep = np.asarray(mask, dtype=bool)
        counts = jets.count(keep)
        columns = [column[keep] for column in columns]
    out = np.full(jets.n_events, np.nan)
    starts = np.concatenate(([0], np.cumsum(counts)))[:-1]
    compiled.once(_trijets)(starts, counts, *columns, out)
    return out


def _trijets(starts, counts, pt, eta, phi, mass, tagged, out):  # pragma: no cover - compiled
    """m_bjj of each event to ``out`` (float64, left NaN for an event without a triplet with a
    b-tagged jet): its jets ``starts[e]`` to ``starts[e] + counts[e] - 1`` of the flat float64
    ``pt``, ``eta``, ``phi``, ``mass`` and bool ``tagged``.

    Each jet's ``px = pt cos(phi)``, ``py = pt sin(phi)``, ``pz = pt sinh(eta)`` (the C
    library's functions: numpy's float64 ``sin`` and ``cos`` and :func:`agc.core.portablemath.sinh`)
    and ``E = sqrt(px*px + py*py + pz*pz + mass*mass)``. The triplets in ``ak.combinations``
    order; the chosen one has the largest ``sx*sx + sy*sy`` among those with a b-tagged jet (the
    others count as -1), the first of equal values, a NaN before any number (``numpy.argmax``'s
    rules). Each sum adds the three jets in order, and the mass is ``sqrt(max(e*e - x*x - y*y -
    z*z, 0))``, NaN staying NaN: the float64 operations of numpy's expressions, in their order.
    """
    px = pt * np.cos(phi)
    py = pt * np.sin(phi)
    pz = np.empty_like(pt)
    energy = np.empty_like(pt)
    for jet in range(pt.shape[0]):
        pz[jet] = pt[jet] * math.sinh(eta[jet])
        energy[jet] = math.sqrt(
            px[jet] * px[jet] + py[jet] * py[jet] + pz[jet] * pz[jet] + mass[jet] * mass[jet]
        )
    for event in range(counts.shape[0]):
        n = counts[event]
        first = starts[event]
        best = -1.0
        a = b = c = -1
        for i in range(first, first + n - 2):
            for j in range(i + 1, first + n - 1):
                for k in range(j + 1, first + n):
                    value = -1.0
                    if tagged[i] or tagged[j] or tagged[k]:
                        sx = px[i] + px[j] + px[k]
                        sy = py[i] + py[j] + py[k]
                        value = sx * sx + sy * sy
                    if a < 0 or (not math.isnan(best) and (math.isnan(value) or value > best)):
                        best, a, b, c = value, i, j, k
        if a >= 0 and (tagged[a] or tagged[b] or tagged[c]):
            x = px[a] + px[b] + px[c]
            y = py[a] + py[b] + py[c]
            z = pz[a] + pz[b] + pz[c]
            e = energy[a] + energy[b] + energy[c]
            m2 = e * e - x * x - y * y - z * z
            out[event] = 0.0 if m2 < 0.0 else math.sqrt(m2)


def _count(offsets, mask, out):  # pragma: no cover - compiled
    """Number of ``mask`` (flat bool) entries in each event's range ``offsets[e]`` to
    ``offsets[e + 1] - 1``, to ``out`` (int64, n_events)."""
    for event in range(out.shape[0]):
        n = 0
        for i in range(offsets[event], offsets[event + 1]):
            if mask[i]:
                n += 1
        out[event] = n


def _region_jets(offsets, jmask, events, pt, chosen, lead, total):  # pragma: no cover - compiled
    """The jets passing ``jmask`` (flat bool) of the events passing ``events`` (bool, n_events),
    in order: their flat positions to ``chosen`` (int64, one per such jet); per such event, in
    order, the pT (``pt``, flat float64) of its first ``lead.shape[1]`` of them to the row of
    ``lead`` (float64, left NaN where it has fewer) and their pT summed in order, from 0.0, to
    ``total`` (float64) -- ``numpy.bincount``'s float64 additions."""
    k = 0
    row = 0
    for event in range(events.shape[0]):
        if not events[event]:
            continue
        rank = 0
        s = 0.0
        for jet in range(offsets[event], offsets[event + 1]):
            if jmask[jet]:
                chosen[k] = jet
                k += 1
                if rank < lead.shape[1]:
                    lead[row, rank] = pt[jet]
                rank += 1
                s += pt[jet]
        total[row] = s
        row += 1


# -- weights ----------------------------------------------------------------------------------


def leading_pts(
    jets: Any, mask: np.ndarray | None = None, n: int = physics.N_BTAG_VAR_JETS
) -> np.ndarray:
    """pT [GeV] of the first ``n`` jets passing ``mask`` per event, shape (n_events, n), float64;
    NaN where an event has fewer jets. Jet order is the NanoAOD order."""
    jets = _as_collection(jets, ("pt",))
    keep = np.ones(len(jets.pt), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    every = np.ones(jets.n_events, dtype=bool)
    chosen = np.empty(int(keep.sum()), dtype=np.int64)
    out = np.full((jets.n_events, n), np.nan)
    pt = np.asarray(jets.pt, dtype=np.float64)
    compiled.once(_region_jets)(jets.offsets, keep, every, pt, chosen, out, np.empty(jets.n_events))
    return out


def btag_weight_variations(jet_pts: np.ndarray) -> dict[str, np.ndarray]:
    """b-tag weight variations per event: ``btag_var_{i}_{up,down}`` = 1 +/- 0.075 * pT_i / 50.

    ``jet_pts``: (n_events, 4) pT [GeV] of the first four selected jets (:func:`leading_pts`).
    Returns float64 arrays of length n_events.
    """
    result: dict[str, np.ndarray] = {}
    for i in range(physics.N_BTAG_VAR_JETS):
        shift = physics.BTAG_VAR_PER_50GEV * jet_pts[:, i] / 50.0
        result[f"btag_var_{i}_up"] = 1.0 + shift
        result[f"btag_var_{i}_down"] = 1.0 - shift
    return result


# -- event selection --------------------------------------------------------------------------


@dataclass
class RegionSelection:
    """The events of one region for one jet-pT variation.

    ``mask``: bool per event (n_events); ``observable``: float64 per selected event [GeV];
    ``jet_pts``: (n_selected, 4) pT [GeV] of the first four selected jets -- the pT the selection
    used (varied for a pT variation); ``jets`` (only for the regions :func:`select` is asked to
    keep jets of): the selected jets of the selected events, every field of the input columns,
    ``pt`` replaced by the pT the selection used. The b-tag weights are computed from the nominal
    selection's ``jet_pts`` only (as in the AGC: weight variations are not combined with the
    object variations).
    """

    mask: np.ndarray
    observable: np.ndarray
    jet_pts: np.ndarray
    jets: Collection | None = None


@dataclass
class Selection:
    """Result of the event selection for one jet-pT variation: regions and cut-flow counts."""

    regions: dict[str, RegionSelection] = field(default_factory=dict)
    cutflow: dict[str, int] = field(default_factory=dict)


def select(
    electrons: Any,
    muons: Any,
    jets: Any,
    jet_pt: np.ndarray | None = None,
    *,
    n_leptons: np.ndarray | None = None,
    keep_jets: tuple[str, ...] = (),
) -> Selection:
    """Event selection and observables of both regions.

    Exactly one selected lepton and at least 4 selected jets; region ``4j1b``: exactly one
    b-tagged selected jet, observable H_T (sum of the selected jets' pT); region ``4j2b``: at
    least two, observable m_bjj. ``electrons``/``muons``/``jets``: :class:`Collection` or jagged
    record arrays; ``jet_pt``: flat varied jet pT [GeV] (``None`` = nominal), which replaces the
    jets' pT everywhere -- jet selection, b-tag counts, H_T, the m_bjj four-momenta and
    ``jet_pts``; ``n_leptons``: precomputed :func:`n_selected_leptons` (the lepton selection
    does not depend on the jet pT); ``keep_jets``: regions whose
    :attr:`RegionSelection.jets` to fill.
    """
    jets = _as_collection(jets, JET_FIELDS)
    if n_leptons is None:
        n_leptons = n_selected_leptons(electrons, muons)
    jmask = np.asarray(jet_mask(jets, jet_pt), dtype=bool)
    tagged = jmask & np.asarray(btag_mask(jets.btagCSVV2), dtype=bool)
    n_jets, n_btag = jets.count(jmask), jets.count(tagged)
    one_lepton = n_leptons == 1
    four_jets = one_lepton & (n_jets >= 4)
    masks = {"4j1b": four_jets & (n_btag == 1), "4j2b": four_jets & (n_btag >= 2)}
    result = Selection(
        cutflow={
            "all": jets.n_events,
            "1_lepton": int(one_lepton.sum()),
            "ge4_jets": int(four_jets.sum()),
            **{region: int(mask.sum()) for region, mask in masks.items()},
        }
    )
    pt = np.asarray(jets.pt if jet_pt is None else jet_pt, dtype=np.float64)
    for region, mask in masks.items():
        # The selected jets of the region's events, their pT the (possibly varied) one, with the
        # columns the region's observable reads (all of them for the jets the region keeps).
        counts = n_jets[mask]
        chosen = np.empty(int(counts.sum()), dtype=np.int64)
        jet_pts = np.full((len(counts), physics.N_BTAG_VAR_JETS), np.nan)
        total = np.empty(len(counts))
        compiled.once(_region_jets)(jets.offsets, jmask, mask, pt, chosen, jet_pts, total)
        fields = jets.columns if region in keep_jets else REGION_JET_FIELDS[region]
        columns = {k: v[chosen] for k, v in jets.columns.items() if k in fields and k != "pt"}
        selected = Collection(counts=counts, columns={"pt": pt[chosen], **columns})
        result.regions[region] = RegionSelection(
            mask=mask,
            observable=total if region == "4j1b" else m_bjj(selected),
            jet_pts=jet_pts,
            jets=selected if region in keep_jets else None,
        )
    return result
