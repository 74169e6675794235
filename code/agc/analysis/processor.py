"""The coffea processor: NanoEvents chunk -> unnormalised, exactly additive histogram sums.

Per dataset (sample ``process__variation``) one :class:`hist.Hist` with ``Double`` storage and
axes ``region`` x ``variation`` x ``sum`` x ``part`` x ``observable``: ``sum`` is ``sumw`` (sum
of the weights) or ``sumw2`` (sum of the squared weights); ``part`` is ``hi``, ``mid`` or
``lo``, the fixed-point parts every weight is split into (:mod:`agc.analysis.exactsum`: grids 2**-12,
2**-35, 2**-58), whose sums are exact doubles, so adding the per-chunk histograms in any
grouping gives the same doubles bit for bit; ``observable`` is the fill binning of the card (25
bins, 50-550 GeV, with flow bins). Weights are unnormalised (nominal weight 1); a bin's value
(:func:`agc.analysis.exactsum.combine` of its parts) and the MC normalisation ``xsec * lumi /
N_generated`` are computed once, when ``histograms.root`` is written.

The categories of every axis are fixed per dataset (no growth), sorted by name, so the output
does not depend on which chunk was filled first. The selection runs once per jet-pT variation
(nominal, pt_scale_up, pt_res_up); the weight variations reuse the nominal selection.

:class:`FileResolvedProcessor` wraps :class:`AGCProcessor` for the histogram stage: its output
keeps each input file's sums apart (with the entry ranges that produced them), so a file can be
kept or dropped as a whole when one of its chunks fails, and it counts chunks and the peak
memory of the processes that ran them.
"""

from __future__ import annotations

import resource
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import awkward as ak
import hist
import numpy as np
from coffea import processor
from coffea.nanoevents import NanoAODSchema

from agc.analysis import exactsum
from agc.analysis.assignment import (
    best_assignments,
    fill_values,
    lepton_columns,
    ml_regions,
)
from agc.analysis.inference import ModelBytes
from agc.analysis.jer import jer_factors_flat
from agc.analysis.selection import (
    CUTFLOW_STEPS,
    ELECTRON_FIELDS,
    JET_FIELDS,
    MUON_FIELDS,
    Collection,
    RegionSelection,
    btag_weight_variations,
    n_selected_leptons,
    select,
)
from agc.core import physics

#: Fields the ML features read besides the selection's (:data:`agc.core.physics.ML_BRANCHES_READ`).
ML_FIELDS: dict[str, tuple[str, ...]] = {
    "Electron": ("phi", "mass"),
    "Muon": ("phi", "mass"),
    "Jet": ("qgl",),
}

#: The two sums kept per bin.
SUMS: tuple[str, ...] = ("sumw", "sumw2")
#: Jet-pT (object) variations, computed for nominal samples only.
OBJECT_VARIATIONS: tuple[str, ...] = ("pt_scale_up", "pt_res_up")
#: Event-weight variations of every nominal sample.
BTAG_VARIATIONS: tuple[str, ...] = tuple(
    f"btag_var_{i}_{d}" for i in range(physics.N_BTAG_VAR_JETS) for d in ("up", "down")
)
#: Processes with the W+jets scale weight variation.
SCALE_VAR_PROCESSES: tuple[str, ...] = ("wjets",)
#: Process name of collision data (weight 1, no variations).
DATA_PROCESS = "data"


def histogram_variations(process: str, variation: str) -> list[str]:
    """Sorted variation labels one sample fills.

    A nominal MC sample fills ``nominal``, the object variations, the b-tag weight variations
    and, for W+jets, ``scale_var_{up,down}``; any other sample (``scaleup``, ``ME_var``, ...,
    or data) fills only its own variation name.
    """
    if variation != "nominal" or process == DATA_PROCESS:
        return [variation]
    labels = ["nominal", *OBJECT_VARIATIONS, *BTAG_VARIATIONS]
    if process in SCALE_VAR_PROCESSES:
        labels += list(physics.WJETS_SCALE_VAR)
    return sorted(labels)


def sums_regions(use_inference: bool = False) -> list[str]:
    """Sorted "regions" of the sums histogram: the analysis regions, plus the 20 ML features
    (:mod:`agc.analysis.assignment`) with ``use_inference``."""
    return sorted([*physics.REGIONS, *(ml_regions() if use_inference else [])])


def empty_sums(variations: list[str], use_inference: bool = False) -> hist.Hist:
    """A zeroed sums histogram (region x variation x sum x part x observable, Double storage);
    ``use_inference`` adds the ML features as regions (:func:`sums_regions`)."""
    nbins, low, high = physics.FILL_BINNING
    return hist.Hist(
        hist.axis.StrCategory(sums_regions(use_inference), name="region", flow=False),
        hist.axis.StrCategory(sorted(variations), name="variation", flow=False),
        hist.axis.StrCategory(list(SUMS), name="sum", flow=False),
        hist.axis.StrCategory(list(exactsum.PARTS), name="part", flow=False),
        hist.axis.Regular(nbins, low, high, name="observable", label="observable [GeV]"),
        storage=hist.storage.Double(),
    )


def bin_index(observable: np.ndarray) -> np.ndarray:
    """Bin of each ``observable`` value [GeV] on the fill axis (:data:`agc.core.physics.FILL_BINNING`)
    counting the flow bins (intp, 0 = underflow, ``nbins + 1`` = overflow and NaN): the bin
    boost-histogram's ``Regular`` axis gives, computed the same way
    (``int((x - low) / (high - low) * nbins)``)."""
    nbins, low, high = physics.FILL_BINNING
    z = (np.asarray(observable, dtype=np.float64) - low) / (high - low)
    index = np.full(z.shape, nbins + 1, dtype=np.intp)  # overflow, NaN included
    below = z < 0.0
    inside = (z >= 0.0) & (z < 1.0)
    index[below] = 0
    index[inside] = (z[inside] * nbins).astype(np.intp) + 1
    return index


def add_parts(target: np.ndarray, bins: np.ndarray, weight: Any, what: str = "weight") -> None:
    """Add ``weight`` (unnormalised; scalar or one per entry) and ``weight**2`` of the entries in
    flow-bin ``bins`` (:func:`bin_index`) to ``target`` (sum x part x bin, float64, in place),
    each split into its exactly summable parts (:func:`agc.analysis.exactsum.split`).

    Every part sum is exact (:mod:`agc.analysis.exactsum`), so the result equals filling the
    entries one by one in any order. A weight beyond :data:`agc.analysis.exactsum.MAX_WEIGHT` or
    not finite raises :class:`agc.core.errors.AGCError` naming ``what``."""
    w = exactsum.check(weight, what)
    nbins = target.shape[-1]
    if w.ndim == 0:
        # n entries of one part p sum to n * p exactly (within the bound), a single product.
        counts = np.bincount(bins, minlength=nbins).astype(np.float64)
        for s_index, value in enumerate((w, w * w)):
            for p_index, part in enumerate(exactsum.split(value)):
                target[s_index, p_index] += counts * float(part)
        return
    w = np.broadcast_to(w, bins.shape)
    for s_index, values in enumerate((w, w * w)):
        for p_index, part in enumerate(exactsum.split(values)):
            target[s_index, p_index] += np.bincount(bins, weights=part, minlength=nbins)


def fill(sums: hist.Hist, region: str, variation: str, observable: np.ndarray, weight: Any) -> None:
    """Fill ``weight`` (unnormalised; scalar or one per entry) and ``weight**2`` for
    ``observable`` [GeV] into the sums histogram ``sums`` (:func:`empty_sums`), each split into
    its exactly summable parts (:func:`add_parts`). A weight beyond
    :data:`agc.analysis.exactsum.MAX_WEIGHT` or not finite raises
    :class:`agc.core.errors.AGCError`."""
    r_index = sums.axes["region"].index(region)
    v_index = sums.axes["variation"].index(variation)
    view = sums.view(flow=True)
    add_parts(view[r_index, v_index], bin_index(observable), weight, f"{variation} weight")


@dataclass
class SumsArray:
    """The exact part sums of one sample as a dense array: what a chunk sends back.

    ``values``: float64, shape (region, variation, sum, part, nbins + 2) -- the layout of
    :func:`empty_sums`' flow view; ``regions`` and ``variations``: the sorted labels of the first
    two axes. Adds exactly (``+``) to a :class:`SumsArray` of the same labels; becomes the sums
    histogram once (:meth:`to_hist`).
    """

    regions: tuple[str, ...]
    variations: tuple[str, ...]
    values: np.ndarray

    @classmethod
    def zeros(cls, variations: list[str], use_inference: bool = False) -> SumsArray:
        """Zeroed sums of ``variations`` (and the ML features' regions with ``use_inference``)."""
        regions = tuple(sums_regions(use_inference))
        labels = tuple(sorted(variations))
        shape = (
            len(regions),
            len(labels),
            len(SUMS),
            len(exactsum.PARTS),
            physics.FILL_BINNING[0] + 2,
        )
        return cls(regions, labels, np.zeros(shape))

    @classmethod
    def of(cls, sums: hist.Hist) -> SumsArray:
        """The dense sums of a sums histogram (:func:`empty_sums` layout; values copied)."""
        return cls(
            tuple(sums.axes["region"]),
            tuple(sums.axes["variation"]),
            np.array(sums.view(flow=True), dtype=np.float64),
        )

    def fill(self, region: str, variation: str, bins: np.ndarray, weight: Any) -> None:
        """Add entries in flow-bin ``bins`` (:func:`bin_index`) with ``weight`` (scalar or one per
        entry) to ``region`` and ``variation`` (:func:`add_parts`)."""
        target = self.values[self.regions.index(region), self.variations.index(variation)]
        add_parts(target, bins, weight, f"{variation} weight")

    def fill_weights(
        self, regions: Sequence[str], bins: np.ndarray, weights: Mapping[str, Any]
    ) -> None:
        """Add the same entries to several regions for several variations at once.

        ``bins``: int, shape (len(regions), entries), the flow bins (:func:`bin_index`) of each
        entry in each region; ``weights``: ``{variation: weight}``, each weight a scalar or one
        per entry (the same for every region). Equal to :meth:`fill` per region and variation
        bit for bit (each bin receives the same entries in the same order): the bin indices are
        combined once, the scalar weights share one count per bin and each weight is split into
        its parts (:func:`agc.analysis.exactsum.split`) once for all regions.
        """
        bins = np.asarray(bins)
        n_regions = len(regions)
        if bins.ndim != 2 or bins.shape[0] != n_regions:
            raise ValueError(f"bins must be (regions={n_regions}, entries), got {bins.shape}")
        nbins = self.values.shape[-1]
        r_index = [self.regions.index(r) for r in regions]
        flat = (np.arange(n_regions)[:, None] * nbins + bins).ravel()
        size = n_regions * nbins
        counts = None
        for variation, weight in weights.items():
            target = self.values[:, self.variations.index(variation)]
            w = exactsum.check(weight, f"{variation} weight")
            if w.ndim == 0:
                if counts is None:
                    counts = np.bincount(flat, minlength=size).astype(np.float64)
                    counts = counts.reshape(n_regions, nbins)
                for s_index, value in enumerate((w, w * w)):
                    for p_index, part in enumerate(exactsum.split(value)):
                        target[r_index, s_index, p_index] += counts * float(part)
                continue
            w = np.broadcast_to(w, bins.shape[1:])
            for s_index, values in enumerate((w, w * w)):
                for p_index, part in enumerate(exactsum.split(values)):
                    sums = np.bincount(flat, weights=np.tile(part, n_regions), minlength=size)
                    target[r_index, s_index, p_index] += sums.reshape(n_regions, nbins)

    def __add__(self, other: SumsArray) -> SumsArray:
        if (self.regions, self.variations) != (other.regions, other.variations):
            raise ValueError("cannot add sums of different regions or variations")
        return SumsArray(self.regions, self.variations, self.values + other.values)

    def to_hist(self) -> hist.Hist:
        """The sums histogram (:func:`empty_sums`) holding these values."""
        sums = empty_sums(list(self.variations), len(self.regions) > len(physics.REGIONS))
        if tuple(sums.axes["region"]) != self.regions:
            raise ValueError(f"regions {self.regions} are not those of a sums histogram")
        sums.view(flow=True)[...] = self.values
        return sums


class AGCSchema(NanoAODSchema):
    """:class:`NanoAODSchema` restricted to the branches the analysis reads, as plain records.

    Dropping the other branches (947 in real NanoAOD) before the collections are built makes
    each chunk's NanoEvents cheaper to set up and guarantees that nothing else is read; the
    collections (``events.Jet``, ...) are records of their fields without coffea behaviours.
    """

    #: The collections cross-referenced by Jet/Electron/... indices are dropped on purpose.
    warn_missing_crossrefs = False

    def __init__(self, base_form: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        keep = set(physics.BRANCHES_READ) | set(physics.ML_BRANCHES_READ)
        pairs = [
            (n, c)
            for n, c in zip(base_form["fields"], base_form["contents"], strict=True)
            if n in keep
        ]
        base_form["fields"] = [n for n, _ in pairs]
        base_form["contents"] = [c for _, c in pairs]
        super().__init__(base_form, *args, **kwargs)
        # Plain records: the selection needs no vector behaviours, and the candidate classes
        # would demand fields (e.g. ``Electron_charge``) the analysis does not read.
        for content in self._form["contents"]:
            inner = content.get("content")
            if (
                content["class"].startswith("ListOffsetArray")
                and inner
                and inner["class"] == "RecordArray"
            ):
                inner.get("parameters", {}).pop("__record__", None)


def collections(events: Any, ml: bool = False) -> tuple[Collection, Collection, Collection]:
    """Flat numpy columns of the electron, muon and jet fields the selection reads (plus the
    ML features' with ``ml``)."""
    out = []
    for name, fields in (("Electron", ELECTRON_FIELDS), ("Muon", MUON_FIELDS), ("Jet", JET_FIELDS)):
        extra = ML_FIELDS[name] if ml else ()
        out.append(Collection.from_awkward(getattr(events, name), (*fields, *extra)))
    return out[0], out[1], out[2]


class _MLFill:
    """Fills the ML features of the best assignment of each 4j2b event (:mod:`agc.analysis.assignment`).

    Built once per chunk: the selected lepton of every event and the event numbers; then one
    :meth:`features` per jet-pT variation (the weight variations reuse the nominal one).
    """

    def __init__(self, models: ModelBytes, electrons: Collection, muons: Collection, events: Any):
        self.models = models
        self.lepton = lepton_columns(electrons, muons)
        self.event_number = ak.to_numpy(events.event)

    def values(self, sel: RegionSelection) -> tuple[np.ndarray, np.ndarray]:
        """(selected-event positions that have an assignment, int (features, assignments): the
        flow bins (:func:`bin_index`) of each feature's fill values)."""
        assert sel.jets is not None
        lepton = {k: v[sel.mask] for k, v in self.lepton.items()}
        best = best_assignments(sel.jets, lepton, self.event_number[sel.mask], self.models)
        low, high = np.array([r[:2] for r in physics.ML_FEATURES.values()]).T
        bins = bin_index(fill_values(best.features.T, low[:, None], high[:, None]))
        return best.event, bins


def _fill_ml(
    sums: SumsArray, found: tuple[np.ndarray, np.ndarray], weights: Mapping[str, Any]
) -> None:
    """Fill every feature of ``found`` (:meth:`_MLFill.values`) for each ``{variation: weight}``
    (scalar or one per selected event of the region)."""
    event, bins = found
    per_entry = {
        name: w if np.ndim(w) == 0 else np.asarray(w)[event] for name, w in weights.items()
    }
    sums.fill_weights(list(physics.ML_FEATURES), bins, per_entry)


class AGCProcessor(processor.ProcessorABC):
    """The AGC ttbar analysis on one chunk of NanoEvents.

    Needs ``events.metadata`` keys ``dataset``, ``process`` and ``variation`` (the fileset of
    :func:`agc.dataset.manifest.fileset`). Returns ``{"sums": {dataset: hist.Hist}, "cutflow": {dataset:
    {step: int}}}``; both add exactly under coffea's accumulation. With ``models`` (the AGC's
    BDTs, :func:`agc.analysis.inference.load_models`) the best jet-parton assignment of every
    4j2b event is found and its 20 features are filled too, for every variation (AGC
    ``USE_INFERENCE``).
    """

    def __init__(self, models: ModelBytes | None = None) -> None:
        self.models = models

    @property
    def use_inference(self) -> bool:
        """Whether the ML features are filled."""
        return self.models is not None

    def process(self, events: Any) -> dict[str, Any]:
        """``{"sums": {dataset: hist.Hist}, "cutflow": {dataset: {step: int}}}`` of the chunk."""
        sums, cutflow = self.chunk_sums(events)
        dataset = events.metadata["dataset"]
        return {"sums": {dataset: sums.to_hist()}, "cutflow": {dataset: cutflow}}

    def chunk_sums(self, events: Any) -> tuple[SumsArray, dict[str, int]]:
        """The chunk's exact sums (dense, :class:`SumsArray`) and cut flow ``{step: events}``."""
        meta = events.metadata
        process, variation = meta["process"], meta["variation"]
        ml = self.use_inference
        sums = SumsArray.zeros(histogram_variations(process, variation), ml)
        electrons, muons, jets = collections(events, ml)
        n_leptons = n_selected_leptons(electrons, muons)
        is_nominal_mc = variation == "nominal" and process != DATA_PROCESS
        ml_fill = _MLFill(self.models, electrons, muons, events) if self.models else None
        keep = (physics.ML_REGION,) if ml_fill else ()

        def fill_all(region: str, sel: RegionSelection, names: dict[str, Any]) -> None:
            """Fill the region's observable (and the ML features) for each ``{variation: weight}``."""
            sums.fill_weights([region], bin_index(sel.observable)[None, :], names)
            if ml_fill and region == physics.ML_REGION:
                _fill_ml(sums, ml_fill.values(sel), names)

        # Jet-pT (object) variations: the selection is redone for each.
        if is_nominal_mc:
            pt = np.asarray(jets.pt, dtype=np.float64)
            factors = jer_factors_flat(
                ak.to_numpy(events.run),
                ak.to_numpy(events.luminosityBlock),
                ak.to_numpy(events.event),
                jets.counts,
            )
            for name, varied in (
                ("pt_scale_up", pt * physics.JES_SCALE_UP),
                ("pt_res_up", pt * factors),
            ):
                varied_sel = select(
                    electrons, muons, jets, varied, n_leptons=n_leptons, keep_jets=keep
                )
                for region, sel in varied_sel.regions.items():
                    fill_all(region, sel, {name: 1.0})

        # Nominal selection, reused by every weight variation.
        nominal = select(electrons, muons, jets, n_leptons=n_leptons, keep_jets=keep)
        for region, sel in nominal.regions.items():
            names: dict[str, Any] = {variation: 1.0}
            if is_nominal_mc:
                if process in SCALE_VAR_PROCESSES:
                    names.update(physics.WJETS_SCALE_VAR)
                names.update(btag_weight_variations(sel.jet_pts))
            fill_all(region, sel, names)
        return sums, {step: int(nominal.cutflow[step]) for step in CUTFLOW_STEPS}

    def postprocess(self, accumulator: dict[str, Any]) -> dict[str, Any]:
        """Nothing to do: normalisation happens when the final file is written."""
        return accumulator


# -- per-file bookkeeping for the histogram stage ---------------------------------------------

#: Outcomes of one chunk, as counted in the ``chunks`` entry of a chunk output.
CHUNK_OUTCOMES: tuple[str, ...] = ("computed", "resumed", "failed")


@dataclass(frozen=True)
class PeakMemory:
    """Largest resident set size [kB] (``getrusage`` ``ru_maxrss``, Linux units) of the
    processes that ran chunks; adds as the maximum, so coffea's accumulation keeps the peak."""

    kb: int

    def __add__(self, other: PeakMemory) -> PeakMemory:
        return PeakMemory(max(self.kb, other.kb))

    @classmethod
    def now(cls) -> PeakMemory:
        """The peak RSS of the calling process so far."""
        return cls(int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


def chunk_output(
    dataset: str,
    filename: str,
    entry_range: tuple[int, int],
    sums: SumsArray,
    cutflow: dict[str, int],
    outcome: str = "computed",
) -> dict[str, Any]:
    """The accumulatable output of one chunk [start, stop) of ``filename``.

    ``{"files": {dataset: {filename: {"sums": SumsArray, "cutflow": {step: int}, "ranges":
    {(start, stop)}}}}, "chunks": {outcome: 1}, "peak_rss_kb": PeakMemory}``. Under coffea's
    accumulation the sums and cut flows add, the range sets unite and the counters add, so the
    total says, per file, which entries contributed.
    """
    return {
        "files": {
            dataset: {
                filename: {
                    "sums": sums,
                    "cutflow": {step: int(cutflow.get(step, 0)) for step in CUTFLOW_STEPS},
                    "ranges": {(int(entry_range[0]), int(entry_range[1]))},
                }
            }
        },
        "chunks": {outcome: 1},
        "peak_rss_kb": PeakMemory.now(),
    }


def failure_output(
    dataset: str, filename: str, entry_range: tuple[int, int], reason: str
) -> dict[str, Any]:
    """The output of a chunk that failed: no sums, one failure record
    ``(dataset, filename, start, stop, reason)``."""
    return {
        "failures": {(dataset, filename, int(entry_range[0]), int(entry_range[1]), reason)},
        "chunks": {"failed": 1},
        "peak_rss_kb": PeakMemory.now(),
    }


def _reason(exc: BaseException) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= 300 else text[:297] + "..."


class FileResolvedProcessor(processor.ProcessorABC):
    """:class:`AGCProcessor` with its output resolved per input file (:func:`chunk_output`).

    With ``capture_failures`` a chunk whose processing raises (e.g. a damaged compressed basket
    read while the selection materialises the columns) returns :func:`failure_output` instead
    of raising, so the run goes on and the driver drops that file's contribution as a whole.
    """

    def __init__(self, capture_failures: bool = False, models: ModelBytes | None = None) -> None:
        self.capture_failures = capture_failures
        self.analysis = AGCProcessor(models)

    def process(self, events: Any) -> dict[str, Any]:
        meta = events.metadata
        dataset, filename = meta["dataset"], meta["filename"]
        entry_range = (int(meta["entrystart"]), int(meta["entrystop"]))
        try:
            sums, cutflow = self.analysis.chunk_sums(events)
        except Exception as exc:
            if not self.capture_failures:
                raise
            return failure_output(dataset, filename, entry_range, _reason(exc))
        return chunk_output(dataset, filename, entry_range, sums, cutflow)

    def postprocess(self, accumulator: dict[str, Any]) -> dict[str, Any]:
        """Nothing to do: the driver checks completeness per file and normalises."""
        return accumulator
