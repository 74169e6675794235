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

import numpy as np

from agc.analysis.inference import ModelBytes, best_rows, scores
from agc.analysis.mlfeatures import Assignments, Objects, assignments, features
from agc.analysis.selection import Collection, electron_mask, muon_mask
from agc.core import physics

__all__ = [
    "BestAssignments",
    "best_assignments",
    "fill_values",
    "lepton_columns",
    "ml_regions",
    "objects_of",
]


def ml_regions() -> list[str]:
    """The feature names, i.e. the histogram "regions" the ML extension adds."""
    return list(physics.ML_FEATURES)


def fill_values(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Values (float64) on the fill axis that land in the bin ``Regular(25, low, high)`` gives
    ``values``: the centre of that bin, or 40 / 600 GeV for the under- / overflow (NaN: overflow,
    as boost-histogram does)."""
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
    """pt, eta, phi, mass (float64 per event) of each event's one selected lepton (electron or
    muon, :func:`~agc.analysis.selection.electron_mask` / ``muon_mask``). Events without one
    get 0."""
    electron_ok = np.asarray(electron_mask(electrons), dtype=bool)
    muon_ok = np.asarray(muon_mask(muons), dtype=bool)
    out = {}
    for field in ("pt", "eta", "phi", "mass"):
        total = np.zeros(electrons.n_events)
        for coll, ok in ((electrons, electron_ok), (muons, muon_ok)):
            values = np.asarray(getattr(coll, field), dtype=np.float64)
            total += np.bincount(coll.event_index[ok], weights=values[ok], minlength=coll.n_events)
        out[field] = total
    return out


def objects_of(jets: Collection, lepton: dict[str, np.ndarray]) -> Objects:
    """The feature inputs (float64) of ``jets`` (the selected jets of the events: pt as
    selected, eta, phi, mass, btagCSVV2, qgl) and ``lepton`` (:func:`lepton_columns` of the same
    events)."""
    return Objects(
        counts=jets.counts,
        **{
            name: np.asarray(getattr(jets, field), dtype=np.float64)
            for name, field in (
                ("pt", "pt"),
                ("eta", "eta"),
                ("phi", "phi"),
                ("mass", "mass"),
                ("btag", "btagCSVV2"),
                ("qgl", "qgl"),
            )
        },
        **{f"lepton_{k}": v for k, v in lepton.items()},
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
    """
    objects = objects_of(jets, lepton)
    rows: Assignments = assignments(objects.counts)
    feats = features(objects, rows)
    even = (np.asarray(event_number, dtype=np.uint64) % 2 == 0)[rows.event]
    score = scores(models, feats, even)
    best = best_rows(rows.event, score)
    return BestAssignments(
        event=rows.event[best],
        jets=rows.jets[best],
        features=feats[best],
        score=score[best],
        n_assignments=len(rows.event),
    )
