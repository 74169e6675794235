"""The ``GenPart`` record of the generator: the hard process of every event in NanoAOD's layout.

NanoAOD's ``GenPart`` collection lists the "interesting" generator particles of an event with
``pdgId``, ``status``, ``statusFlags`` (bits: 0 isPrompt, 1 isDecayedLeptonHadron,
2 isTauDecayProduct, 3 isPromptTauDecayProduct, 4 isDirectTauDecayProduct,
5 isDirectPromptTauDecayProduct, 7 isHardProcess, 8 fromHardProcess, 9
isHardProcessTauDecayProduct, 10 isDirectHardProcessTauDecayProduct, 11
fromHardProcessBeforeFSR, 12 isFirstCopy, 13 isLastCopy, 14 isLastCopyBeforeFSR) and the index
of its mother (``genPartIdxMother``, -1 for none), mothers before their daughters. coffea's
NanoEvents builds ``parent``, ``distinctParent``, ``children`` and ``distinctChildren`` from it,
which is what the AGC's truth labelling of the jet-parton assignment uses.

What this toy generator records (its partons *before* clustering and smearing, so a jet made
from a parton lies within Delta R < 0.4 of it up to the angular smearing and merging):

- resonances (top +-6, W +-24, Z' 32): status 22, one copy each (first = last copy);
- their decay products and the other hard-process partons (b quarks, light quarks 1-4, gluons
  21 of W+jets, the t-channel's forward quark and spectator b): status 23; charged leptons and
  neutrinos status 1, a tau status 2 (pdgId +-11/13/15, +-12/14/16);
- a tau's charged lepton (e or mu, the momentum fraction the generator gave it): status 1, the
  tau-decay flags of NanoAOD (13884); the tau's neutrinos are not recorded;
- hard-process particles carry bits 0, 7, 8, 11, 12, 13, 14 (31105: one copy, so first and last
  copy at once), as NanoAOD's single-copy hard-process partons do.

Floats are stored with NanoAOD's precision (8 mantissa bits, relative 2^-9, as in the real
file: :func:`agc.dataset.branches.reduce_mantissa`).

Initial-state partons and the radiation (ISR/FSR) are not recorded: the generator has no
incoming partons, and its radiation partons are not part of the hard process; particles without
a recorded mother have ``genPartIdxMother`` = -1. Masses are the generator's (0 for light quarks
and leptons, 4.8 GeV for b quarks, Breit-Wigner masses for tops and W bosons).

Sign conventions: t -> W+ b, tbar -> W- bbar; W+ -> l+ nu, u dbar, c sbar; W- -> l- nubar,
ubar d, cbar s (pdgId > 0 for particles, < 0 for antiparticles).
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from agc.dataset.branches import reduce_mantissa
from agc.dataset.fourvectors import P4, eta_of, mass_of, phi_of, pt_of

__all__ = [
    "GENPART_COLUMNS",
    "GENPART_MANTISSA_BITS",
    "HARD_FLAGS",
    "RESONANCE_STATUS",
    "TAU_DECAY_FLAGS",
    "GenRecord",
    "lepton_pdg",
    "quark_pdg",
]

#: statusFlags of a single-copy hard-process particle: bits 0, 7, 8, 11, 12, 13, 14.
HARD_FLAGS = sum(1 << bit for bit in (0, 7, 8, 11, 12, 13, 14))
#: statusFlags of a tau's decay lepton: bits 2, 3, 4, 5, 9, 10, 12, 13 (as NanoAOD records it).
TAU_DECAY_FLAGS = sum(1 << bit for bit in (2, 3, 4, 5, 9, 10, 12, 13))
#: Pythia status codes: intermediate resonance, outgoing hard parton, final, decayed.
RESONANCE_STATUS, OUTGOING_STATUS, FINAL_STATUS, DECAYED_STATUS = 22, 23, 1, 2

#: Mantissa bits of the record's floats (NanoAOD's precision for GenPart pt, eta, phi, mass).
GENPART_MANTISSA_BITS = 8

#: Branches of the record (NanoAOD names) -> dtype.
GENPART_COLUMNS: dict[str, str] = {
    "GenPart_pt": "f4",
    "GenPart_eta": "f4",
    "GenPart_phi": "f4",
    "GenPart_mass": "f4",
    "GenPart_pdgId": "i4",
    "GenPart_status": "i4",
    "GenPart_statusFlags": "i4",
    "GenPart_genPartIdxMother": "i4",
}


def lepton_pdg(w_charge: Any, is_electron: Any, is_tau: Any) -> tuple[np.ndarray, np.ndarray]:
    """pdgIds (charged lepton, neutrino) of W -> l nu for W charges +-1 (W+ -> l+ nu)."""
    base = np.where(is_tau, 15, np.where(is_electron, 11, 13))
    charge = np.asarray(w_charge)
    return (-charge * base).astype(np.int32), (charge * (base + 1)).astype(np.int32)


def quark_pdg(w_charge: Any, charm: Any) -> tuple[np.ndarray, np.ndarray]:
    """pdgIds (up-type, down-type) of W -> q q': W+ -> u dbar / c sbar, W- -> ubar d / cbar s."""
    charge = np.asarray(w_charge)
    return (
        (charge * np.where(charm, 4, 2)).astype(np.int32),
        (-charge * np.where(charm, 3, 1)).astype(np.int32),
    )


class GenRecord:
    """The GenPart record of a block of ``n`` events in slots: every event has the same slots,
    each present or not (``valid``); :meth:`branches` drops the absent ones per event.

    Slots are appended mother first; a slot's mother is a slot index (or -1), the same for every
    event or given per event as an array (n,).
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self._p4: list[P4] = []
        self._columns: dict[str, list[np.ndarray]] = {
            "pdg": [],
            "status": [],
            "flags": [],
            "mother": [],
            "valid": [],
        }

    def _full(self, value: Any, dtype: Any) -> np.ndarray:
        return np.broadcast_to(np.asarray(value, dtype=dtype), (self.n,))

    def add(
        self,
        p4: P4,
        pdg: Any,
        mother: Any = -1,
        valid: Any = True,
        status: Any = OUTGOING_STATUS,
        flags: Any = HARD_FLAGS,
    ) -> int:
        """Append one slot: four-vectors (n, 4) [GeV] and per-event (n,) or scalar values.

        ``mother``: the slot index of the mother (earlier slot) or -1; returns this slot's index.
        """
        mother = self._full(mother, np.int64)
        if np.any(mother >= len(self._p4)):
            raise ValueError("a mother must be recorded before its daughters")
        self._p4.append(np.asarray(p4, dtype=float))
        for key, value, dtype in (
            ("pdg", pdg, np.int32),
            ("status", status, np.int32),
            ("flags", flags, np.int32),
            ("mother", mother, np.int64),
            ("valid", valid, bool),
        ):
            self._columns[key].append(self._full(value, dtype))
        return len(self._p4) - 1

    def add_resonance(self, p4: P4, pdg: Any, mother: Any = -1, valid: Any = True) -> int:
        """Append a resonance (top, W, Z'): status 22; returns its slot."""
        return self.add(p4, pdg, mother, valid, RESONANCE_STATUS)

    def branches(self, index: np.ndarray | None = None) -> dict[str, ak.Array]:
        """The ``GenPart_*`` branches (:data:`GENPART_COLUMNS`) of the events ``index`` (all if
        None): jagged (events, particles), absent slots dropped, mother indices renumbered."""
        rows = np.arange(self.n) if index is None else np.asarray(index)
        cols = {
            key: np.stack([v[rows] for v in values], axis=1)
            if values
            else np.zeros((len(rows), 0), np.int64)
            for key, values in self._columns.items()
        }
        valid = cols["valid"].astype(bool)
        # new position of every present slot within its event; a mother is always present
        position = np.cumsum(valid, axis=1) - 1
        mother = cols["mother"]
        has_mother = mother >= 0
        renumbered = np.take_along_axis(position, np.where(has_mother, mother, 0), axis=1)
        cols["mother"] = np.where(has_mother, renumbered, -1)
        # kinematics of the present particles only (flat, in event then slot order)
        p4 = np.stack([p[rows] for p in self._p4], axis=1)[valid] if self._p4 else np.zeros((0, 4))
        bits = GENPART_MANTISSA_BITS
        flat = {
            "GenPart_pt": reduce_mantissa(pt_of(p4), bits),
            "GenPart_eta": reduce_mantissa(eta_of(p4), bits),
            "GenPart_phi": reduce_mantissa(phi_of(p4), bits),
            "GenPart_mass": reduce_mantissa(mass_of(p4), bits),
            "GenPart_pdgId": cols["pdg"][valid],
            "GenPart_status": cols["status"][valid],
            "GenPart_statusFlags": cols["flags"][valid],
            "GenPart_genPartIdxMother": cols["mother"][valid],
        }
        counts = valid.sum(axis=1)
        return {
            name: ak.unflatten(flat[name].astype(dtype), counts)
            for name, dtype in GENPART_COLUMNS.items()
        }
