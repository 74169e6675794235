"""The events the figure of merit is computed from: read once, kept as flat numpy columns.

Per sample of the model (the five processes' ``nominal`` samples and the ttbar alternatives
``ME_var``, ``PS_var``, ``scaleup``, ``scaledown``) the columns the selection reads are read with
uproot from the manifest's files (:data:`agc.core.physics.BRANCHES_READ`), the lepton selection
is applied (exactly one tight lepton: not relaxed) and only events with at least four jets that
pass the jet cuts other than pT (|eta| and jet ID) are kept -- no threshold of the optimiser
can select any other event. The JER factors of every jet are computed before that filter from
the event identity, as the histogram stage does (:func:`agc.analysis.jer.jer_factors_flat`).

Then, for a threshold value, :func:`hard_view` gives what the hard selection at that value fixes:
each event's model bin in each region (H_T / m_bjj of the jets selected at that value, from
:mod:`agc.analysis.selection`) and the b-tag weight variations of its first four selected jets.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import awkward as ak
import jax
import numpy as np
import uproot

from agc.analysis.jer import jer_factors_flat
from agc.analysis.processor import bin_index
from agc.analysis.selection import (
    ELECTRON_FIELDS,
    JET_FIELDS,
    MUON_FIELDS,
    Collection,
    btag_weight_variations,
    h_t,
    jet_mask,
    leading_pts,
    m_bjj,
    n_selected_leptons,
)
from agc.core import physics
from agc.core.errors import AGCError
from agc.dataset.manifest import Manifest, SelectedSample

#: The model's processes (nominal samples) and the ttbar alternative samples it uses.
MODEL_PROCESSES: tuple[str, ...] = tuple(physics.XSEC_PB)
TTBAR_ALTERNATIVES: tuple[str, ...] = ("ME_var", "PS_var", "scaleup", "scaledown")
#: Jet-pT variations of the nominal samples (the selection is redone for each).
PT_VARIATIONS: tuple[str, ...] = ("nominal", "pt_scale_up", "pt_res_up")
#: Regions in model order, and the number of fill bins merged into one model bin.
REGIONS: tuple[str, ...] = tuple(physics.REGIONS)
N_MODEL_BINS = len(physics.MODEL_BIN_EDGES) - 1


class SampleLabel(NamedTuple):
    """What the templates need to know of a sample besides its events: ``process``,
    ``variation`` and ``norm`` (the weight of one event). Hashable: a static argument of the
    compiled figure of merit."""

    process: str
    variation: str
    norm: float


@dataclass(frozen=True)
class SampleEvents:
    """The preselected events of one sample.

    ``jets``: their jets (flat columns of :data:`agc.analysis.selection.JET_FIELDS`, per-event
    counts); ``other``: bool per jet, the jet cuts that are never relaxed (|eta| < 2.4, jet ID);
    ``jer``: the JER factor of each jet; ``norm``: xsec * lumi / N_generated (weight of one
    event); ``n_read``: events read before the preselection.
    """

    process: str
    variation: str
    norm: float
    jets: Collection
    other: np.ndarray
    jer: np.ndarray
    n_read: int

    @property
    def label(self) -> SampleLabel:
        """The sample's :class:`SampleLabel`."""
        return SampleLabel(self.process, self.variation, float(self.norm))

    @property
    def n_events(self) -> int:
        """Preselected events."""
        return self.jets.n_events

    def jet_pt(self, variation: str) -> np.ndarray:
        """Flat jet pT [GeV] of a jet-pT variation (:data:`PT_VARIATIONS`)."""
        pt = np.asarray(self.jets.pt, dtype=np.float64)
        if variation == "pt_scale_up":
            return pt * physics.JES_SCALE_UP
        if variation == "pt_res_up":
            return pt * self.jer
        return pt


def model_samples(manifest: Manifest, max_files: int = -1) -> list[SelectedSample]:
    """The samples of the model (:data:`MODEL_PROCESSES` nominal, ttbar alternatives) that the
    manifest has; a missing nominal sample is an :class:`AGCError` naming it."""
    wanted = [(p, "nominal") for p in MODEL_PROCESSES]
    wanted += [("ttbar", v) for v in TTBAR_ALTERNATIVES if v in manifest.data.get("ttbar", {})]
    for process, variation in wanted:
        if variation not in manifest.data.get(process, {}):
            raise AGCError(f"{manifest.source}: sample '{process}__{variation}' missing")
    names = [f"{p}__{v}" for p, v in wanted]
    return manifest.select(names, max_files)


def _read(paths: Iterable[str]) -> ak.Array:
    """The selection's branches of every file, concatenated (awkward, one record per event)."""
    parts = []
    for path in paths:
        with uproot.open(path) as handle:
            parts.append(handle["Events"].arrays(list(physics.BRANCHES_READ)))
    return ak.concatenate(parts) if len(parts) > 1 else parts[0]


def _collection(arrays: ak.Array, prefix: str, fields: tuple[str, ...]) -> Collection:
    counts = ak.to_numpy(arrays[f"n{prefix}"]).astype(np.int64)
    columns = {f: ak.to_numpy(ak.flatten(arrays[f"{prefix}_{f}"])) for f in fields}
    return Collection(counts=counts, columns=columns)


def read_sample(sample: SelectedSample) -> SampleEvents:
    """Read and preselect one sample (:class:`SampleEvents`)."""
    arrays = _read(sample.paths)
    electrons = _collection(arrays, "Electron", ELECTRON_FIELDS)
    muons = _collection(arrays, "Muon", MUON_FIELDS)
    jets = _collection(arrays, "Jet", JET_FIELDS)
    jer = jer_factors_flat(
        ak.to_numpy(arrays["run"]),
        ak.to_numpy(arrays["luminosityBlock"]),
        ak.to_numpy(arrays["event"]),
        jets.counts,
    )
    other = np.asarray(jet_mask(jets, np.full(len(jets.pt), np.inf)), dtype=bool)
    keep = (n_selected_leptons(electrons, muons) == 1) & (jets.count(other) >= 4)
    per_jet = keep[jets.event_index]
    kept = jets.of_events(keep)
    norm = sample.xsec * physics.LUMI_PB / sample.nevts
    return SampleEvents(
        sample.process, sample.variation, norm, kept, other[per_jet], jer[per_jet], len(keep)
    )


def read_events(manifest: Manifest, max_files: int = -1) -> list[SampleEvents]:
    """Every sample of the model, read once (:func:`model_samples`, :func:`read_sample`)."""
    return [read_sample(sample) for sample in model_samples(manifest, max_files)]


# -- what the hard selection at one threshold value fixes -------------------------------------


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=["bins", "btag_weights"],
    meta_fields=[],
)
@dataclass(frozen=True)
class HardView:
    """The hard selection of one sample at one threshold value, for one jet-pT variation.

    ``bins``: int (n_regions, n_events), each event's model bin per region of the observable
    computed from the selected jets (``-1``: outside the model's range, or no observable);
    ``btag_weights``: ``{btag_var_i_{up,down}: float64 (n_events,)}`` from the first four selected
    jets (1 where an event has fewer).
    """

    bins: np.ndarray
    btag_weights: dict[str, np.ndarray]


def model_bins(observable: np.ndarray) -> np.ndarray:
    """Model bin (0..10) of each observable value [GeV], -1 outside 110-550 GeV or NaN.

    The fill bin of the histogram stage (:func:`agc.analysis.processor.bin_index`) merged onto
    :data:`agc.core.physics.MODEL_BIN_EDGES`, as the model's rebinning does.
    """
    nbins, low, high = physics.FILL_BINNING
    width = (high - low) / nbins
    first = round((physics.MODEL_BIN_EDGES[0] - low) / width)  # fill bins below 110 GeV
    merge = round((physics.MODEL_BIN_EDGES[1] - physics.MODEL_BIN_EDGES[0]) / width)
    fill = bin_index(observable) - 1  # 0-based inside the fill range
    inside = (fill >= first) & (fill < nbins)
    return np.where(inside, (fill - first) // merge, -1)


def hard_masks(
    events: SampleEvents, pt: np.ndarray, name: str, cut: float
) -> tuple[np.ndarray, np.ndarray]:
    """(selected, selected and b-tagged) per jet with the threshold ``name`` at ``cut`` and the
    card's value for the other one; ``pt``: the jets' (possibly varied) pT [GeV]."""
    pt_cut = cut if name == "jet_pt" else physics.JET_PT_MIN
    btag_cut = cut if name == "btag" else physics.BTAG_CSVV2_MIN
    passing = events.other & (pt > pt_cut)
    return passing, passing & (np.asarray(events.jets.btagCSVV2) > btag_cut)


def hard_view(events: SampleEvents, variation: str, name: str, cut: float) -> HardView:
    """What the hard selection at ``cut`` fixes for jet-pT ``variation`` (:class:`HardView`)."""
    pt = events.jet_pt(variation)
    passing, tagged = hard_masks(events, pt, name, cut)
    # m_bjj tags jets with the card's b-tag cut: give it 1/0 so that it sees ``tagged``.
    columns = dict(events.jets.columns, btagCSVV2=tagged.astype(np.float64))
    jets = Collection(counts=events.jets.counts, columns=columns)
    observables = (h_t(jets, passing, pt), m_bjj(jets, passing, pt))
    bins = np.stack([model_bins(x) for x in observables])
    leading = np.nan_to_num(leading_pts(events.jets, passing), nan=0.0)
    return HardView(bins, btag_weight_variations(leading))
