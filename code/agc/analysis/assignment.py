"""The best jet-parton assignment of each 4j2b event and its features as histogram entries.

:func:`best_assignments` builds every assignment of the selected jets
(:func:`agc.analysis.mlfeatures.assignments`), scores them
(:func:`agc.analysis.inference.scores`) and keeps the best one per event, with its 20 features.

Histogramming: the processor keeps the 20 features as extra "regions" of its exact-sum histogram
(:func:`agc.analysis.processor.empty_sums`), whose observable axis is the fill binning (25 bins,
50-550 GeV). :func:`fill_values` maps a feature value to a value inside the bin that
``hist.axis.Regular(25, low, high)`` -- the AGC's binning of that feature -- puts it in (bin
``floor((x - low) / (high - low) * 25)``, boost-histogram's arithmetic, flow bins and NaN
included), so the exact sums hold the AGC's histograms bin for bin; the final file gets the
feature's own edges (:mod:`agc.processing.output`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agc.analysis.inference import ModelBytes, best_scores
from agc.analysis.mlfeatures import Assignments, Objects, assignments, features
from agc.analysis.selection import Collection, electron_mask, muon_mask
from agc.core import physics

__all__ = [
    "BestAssignments",
    "best_assignments",
    "fill_values",
    "jet_pt_column",
    "lepton_columns",
    "ml_regions",
    "objects_of",
]


def ml_regions() -> list[str]:
    """The feature names, i.e. the histogram "regions" the ML extension adds."""
    return list(physics.ML_FEATURES)


def fill_values(values: np.ndarray, low: Any, high: Any) -> np.ndarray:
    """Values (float64) on the fill axis that land in the bin ``Regular(25, low, high)`` gives
    ``values``: the centre of that bin, or 40 / 600 GeV for the under- / overflow (NaN: overflow,
    as boost-histogram does). ``low``, ``high``: floats, or arrays that broadcast against
    ``values`` (e.g. shape (features, 1) for values of shape (features, entries))."""
    nbins, fill_low, fill_high = physics.FILL_BINNING
    z = (np.asarray(values, dtype=np.float64) - low) / (high - low)
    with np.errstate(invalid="ignore"):
        inside = (z >= 0.0) & (z < 1.0)
        index = np.where(inside, np.floor(np.where(inside, z, 0.0) * nbins), 0.0)
        index = np.where(z < 0.0, -1.0, np.where(inside, index, float(nbins)))
    width = (fill_high - fill_low) / nbins
    return fill_low + (index + 0.5) * width


@dataclass(frozen=True)
class BestAssignments:
    """The best assignment of each event that has one (>= 4 jets).

    ``event``: int64 positions of those events among the input events; ``jets``: (n, 4) flat
    jet indices (W1, W2, b_had, b_lep) into the input jets; ``features``: (n, 20) float64;
    ``score``: BDT probability of the chosen assignment; ``n_assignments``: rows scored.
    """

    event: np.ndarray
    jets: np.ndarray
    features: np.ndarray
    score: np.ndarray
    n_assignments: int


def lepton_columns(electrons: Collection, muons: Collection) -> dict[str, np.ndarray]:
    """pt, eta, phi, mass (per event, in the files' dtype: float32 for NanoAOD) of each event's
    one selected lepton (electron or muon, :func:`~agc.analysis.selection.electron_mask` /
    ``muon_mask``). Events without one get 0."""
    electron_ok = np.asarray(electron_mask(electrons), dtype=bool)
    muon_ok = np.asarray(muon_mask(muons), dtype=bool)
    out = {}
    for field in ("pt", "eta", "phi", "mass"):
        dtype = np.result_type(getattr(electrons, field), getattr(muons, field))
        total = np.zeros(electrons.n_events, dtype=dtype)
        for coll, ok in ((electrons, electron_ok), (muons, muon_ok)):
            total[coll.event_index[ok]] = np.asarray(getattr(coll, field))[ok]
        out[field] = total
    return out


def jet_pt_column(pt: np.ndarray) -> np.ndarray:
    """The jets' pT [GeV] in the dtype the AGC computes with: float32 if every value is one (the
    files' ``Jet_pt``, which the selection hands over as float64), float64 otherwise (a varied
    pT: the AGC multiplies the float32 pT by a float64 factor)."""
    pt = np.asarray(pt)
    as_float32 = pt.astype(np.float32)
    return as_float32 if np.array_equal(as_float32, pt) else pt.astype(np.float64)


def objects_of(jets: Collection, lepton: dict[str, np.ndarray]) -> Objects:
    """The feature inputs of ``jets`` (the selected jets of the events: pt as selected, eta,
    phi, mass, btagCSVV2, qgl) and ``lepton`` (:func:`lepton_columns` of the same events), in
    the AGC's dtypes: the columns as read, the pT as :func:`jet_pt_column` gives it."""
    return Objects(
        counts=jets.counts,
        pt=jet_pt_column(jets.pt),
        **{
            name: np.asarray(getattr(jets, field))
            for name, field in (
                ("eta", "eta"),
                ("phi", "phi"),
                ("mass", "mass"),
                ("btag", "btagCSVV2"),
                ("qgl", "qgl"),
            )
        },
        **{f"lepton_{k}": np.asarray(v) for k, v in lepton.items()},
    )


def best_assignments(
    jets: Collection,
    lepton: dict[str, np.ndarray],
    event_number: np.ndarray,
    models: ModelBytes,
) -> BestAssignments:
    """Score every assignment of ``jets`` (the selected jets of the events, fields pt (as
    selected), eta, phi, mass, btagCSVV2, qgl) and keep each event's best.

    ``lepton``: :func:`lepton_columns` of the same events; ``event_number``: their ``event``.
    The BDTs read the features as float32 (:func:`~agc.analysis.mlfeatures.features` stores
    every row's that way); the float64 features of the best rows are computed again from the same
    columns with the same arithmetic, so they are the values a float64 table of every row holds.
    """
    objects = objects_of(jets, lepton)
    rows: Assignments = assignments(objects.counts)
    even = (np.asarray(event_number, dtype=np.uint64) % 2 == 0)[rows.event]
    best, score = best_scores(models, features(objects, rows, np.float32), even, rows.event)
    chosen = Assignments(event=rows.event[best], jets=rows.jets[best])
    return BestAssignments(
        event=chosen.event,
        jets=chosen.jets,
        features=features(objects, chosen),
        score=score,
        n_assignments=len(rows.event),
    )
