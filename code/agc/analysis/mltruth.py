"""How often the BDT picks the true partons: the quality figure of the ML extension.

Truth labels follow the AGC's training notebook (``jetassignment_training.py``,
``training_filter``): generator particles that are quarks (1 <= |pdgId| <= 6), last copies, whose
distinct parent is a top or a W; each selected jet is matched to the nearest of them within
dR < 0.4 (coffea's ``nearest``); its label is the parent's |pdgId| -- 24 (W jet) or 6 -- and a
top's b whose cousins (the parent's grandchildren) include a charged lepton and a neutrino is
the b of the leptonic top (-6). Unmatched jets get 100.

An event is *matchable* when its considered jets (the leading
:data:`~agc.core.physics.ML_MAX_N_JETS` selected ones) carry exactly the labels 24, 24, 6, -6 once
each (the W jets twice); the BDT's choice is *correct* when its W jets are the two 24s, its b_had
the 6 and its b_lep the -6. :func:`assignment_accuracy` counts both over 4j2b events of a sample
read with coffea's full :class:`~coffea.nanoevents.NanoAODSchema` (GenPart behaviours).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np
import uproot
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

from agc.analysis.assignment import best_assignments, lepton_columns
from agc.analysis.inference import ModelBytes
from agc.analysis.processor import collections
from agc.analysis.selection import (
    jet_mask,
    select,
)
from agc.core import physics

__all__ = ["AssignmentAccuracy", "assignment_accuracy", "jet_labels"]

W_LABEL, B_HAD_LABEL, B_LEP_LABEL, NO_LABEL = 24, 6, -6, 100


@dataclass(frozen=True)
class AssignmentAccuracy:
    """Counts over the 4j2b events of a sample: ``events`` (4j2b events), ``matchable`` (the
    true assignment is among the scored ones) and ``correct`` (the BDT chose it)."""

    events: int
    matchable: int
    correct: int

    @property
    def accuracy(self) -> float:
        """correct / matchable (NaN without matchable events)."""
        return self.correct / self.matchable if self.matchable else float("nan")

    def __add__(self, other: AssignmentAccuracy) -> AssignmentAccuracy:
        return AssignmentAccuracy(
            self.events + other.events,
            self.matchable + other.matchable,
            self.correct + other.correct,
        )


def jet_labels(jets: Any, genparts: Any) -> ak.Array:
    """AGC truth label per jet (int64, jagged like ``jets``): 24, 6, -6 or 100 (see module)."""
    parent = genparts.distinctParent
    keep = ~ak.is_none(parent, axis=1)
    genparts = genparts[keep]
    parent = genparts.distinctParent
    keep = (np.abs(parent.pdgId) == 6) | (np.abs(parent.pdgId) == 24)
    keep = keep & (np.abs(genparts.pdgId) < 7) & (np.abs(genparts.pdgId) > 0)
    genparts = genparts[keep]
    genparts = genparts[genparts.hasFlags("isLastCopy")]
    nearest = jets.nearest(genparts, threshold=0.4)
    nearest_parent = nearest.distinctParent
    cousins = np.abs(ak.flatten(nearest_parent.distinctChildren.distinctChildren.pdgId, axis=-1))
    lepton = ak.sum((cousins % 2 == 0) & (cousins > 10) & (cousins < 19), axis=-1) > 0
    neutrino = ak.sum((cousins % 2 == 1) & (cousins > 10) & (cousins < 19), axis=-1) > 0
    labels = np.abs(ak.fill_none(nearest_parent.pdgId, NO_LABEL))
    leptonic = ak.fill_none(lepton & neutrino, False)
    return ak.where(leptonic & (labels == B_HAD_LABEL), B_LEP_LABEL, labels)


class _TruthSchema(NanoAODSchema):
    """coffea's NanoAOD schema, quiet about the cross-references the generated files lack."""

    warn_missing_crossrefs = False


def _events_accuracy(events: Any, models: ModelBytes) -> AssignmentAccuracy:
    """:class:`AssignmentAccuracy` of one NanoEvents chunk (nominal jets)."""
    electrons, muons, jets = collections(events, ml=True)
    sel = select(electrons, muons, jets, keep_jets=(physics.ML_REGION,)).regions[physics.ML_REGION]
    assert sel.jets is not None
    lepton = {k: v[sel.mask] for k, v in lepton_columns(electrons, muons).items()}
    number = ak.to_numpy(events.event)[sel.mask]
    best = best_assignments(sel.jets, lepton, number, models)
    region = events[sel.mask]
    chosen = region.Jet[jet_mask(region.Jet)][:, : physics.ML_MAX_N_JETS]
    labels = jet_labels(chosen, region.GenPart)
    flat = ak.to_numpy(ak.flatten(labels)).astype(np.int64)
    counts = ak.to_numpy(ak.num(labels))
    n_w = np.bincount(
        np.repeat(np.arange(len(counts)), counts), weights=flat == W_LABEL, minlength=len(counts)
    )
    have = {lab: ak.to_numpy(ak.sum(labels == lab, axis=1)) for lab in (B_HAD_LABEL, B_LEP_LABEL)}
    matchable = (n_w == 2) & (have[B_HAD_LABEL] == 1) & (have[B_LEP_LABEL] == 1)
    # best.jets index the selected jets of the region's events (sel.jets), whose first
    # ML_MAX_N_JETS per event are ``chosen``: map them to positions in ``flat``.
    full_offsets = np.concatenate(([0], np.cumsum(sel.jets.counts)))[:-1]
    cut_offsets = np.concatenate(([0], np.cumsum(counts)))[:-1]
    local = best.jets - full_offsets[best.event][:, None]
    picked = flat[cut_offsets[best.event][:, None] + local]
    right = (
        (picked[:, 0] == W_LABEL)
        & (picked[:, 1] == W_LABEL)
        & (picked[:, 2] == B_HAD_LABEL)
        & (picked[:, 3] == B_LEP_LABEL)
    )
    return AssignmentAccuracy(
        events=int(sel.mask.sum()),
        matchable=int(matchable.sum()),
        correct=int((right & matchable[best.event]).sum()),
    )


def assignment_accuracy(
    paths: list[str | os.PathLike[str]],
    models: ModelBytes,
    *,
    max_events: int | None = None,
    chunksize: int = 100_000,
) -> AssignmentAccuracy:
    """:class:`AssignmentAccuracy` over the files ``paths`` (a ttbar-like sample with
    ``GenPart``), the first ``max_events`` entries of each file at most, read in chunks."""
    total = AssignmentAccuracy(0, 0, 0)
    for path in paths:
        with uproot.open(path) as handle:
            n_entries = int(handle["Events"].num_entries)
        if max_events is not None:
            n_entries = min(n_entries, max_events)
        for start in range(0, n_entries, chunksize):
            events = NanoEventsFactory.from_root(
                {os.fspath(path): "Events"},
                schemaclass=_TruthSchema,
                entry_start=start,
                entry_stop=min(start + chunksize, n_entries),
                mode="eager",
            ).events()
            total = total + _events_accuracy(events, models)
    return total
