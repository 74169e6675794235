"""Normalisation: exact unnormalised sums -> the analysis' final histograms and summaries.

A bin's value ``(lo + mid) + hi`` (:func:`agc.analysis.exactsum.combine`) is scaled once per
bin by ``xsec * lumi / N_generated`` (:meth:`agc.processing.partials.SampleSums.norm`); the
histograms are named after the AGC (:func:`histogram_name`) and the pseudo-data of each region
is (ttbar ME_var + ttbar PS_var) / 2 + wjets nominal. Also here: the cut flow, the normalised
nominal yields, the skipped files and the note saying what N_generated counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import hist
import numpy as np

from agc.analysis import exactsum
from agc.analysis.processor import SUMS
from agc.analysis.selection import CUTFLOW_STEPS
from agc.core import physics
from agc.core.errors import AGCError
from agc.processing.partials import SampleSums, sorted_skipped

PSEUDODATA = "pseudodata"
#: Pseudo-data per region = (ttbar ME_var + ttbar PS_var) / 2 + wjets nominal.
PSEUDODATA_SAMPLES: tuple[tuple[str, str], ...] = (
    ("ttbar", "ME_var"),
    ("ttbar", "PS_var"),
    ("wjets", "nominal"),
)


def histogram_name(region: str, process: str, variation: str) -> str:
    """AGC naming: ``{region}_{process}`` for nominal, else ``{region}_{process}_{variation}``."""
    return f"{region}_{process}" if variation == "nominal" else f"{region}_{process}_{variation}"


def _axis(region: str) -> hist.axis.Regular:
    """The final binning of a region: the fill binning, or an ML feature's own range."""
    nbins, low, high = physics.FILL_BINNING
    if region in physics.ML_FEATURES:
        low, high, label = physics.ML_FEATURES[region]
        return hist.axis.Regular(nbins, low, high, name="observable", label=label)
    return hist.axis.Regular(
        nbins, low, high, name="observable", label=f"{physics.REGIONS[region]} [GeV]"
    )


def _th1(name: str, region: str, values: np.ndarray, variances: np.ndarray) -> hist.Hist:
    h = hist.Hist(
        _axis(region),
        storage=hist.storage.Weight(),
        name=name,
        label=name,
    )
    view = h.view(flow=True)
    view["value"] = values
    view["variance"] = variances
    return h


def normalised_histograms(
    samples: Iterable[SampleSums],
    regions: Iterable[str] = tuple(physics.REGIONS),
    offset: float = 0.0,
) -> dict[str, hist.Hist]:
    """Final histograms ``{name: Hist}`` (Weight storage, normalised) of ``regions`` (default:
    the analysis regions; the ML features, :func:`agc.analysis.assignment.ml_regions`, get
    their own ranges), with pseudo-data if its components are present. Values = sumw * norm,
    variances = sumw2 * norm**2. ``offset`` is added to every bin as a weight-``offset`` entry
    (value + offset, variance + offset**2: the AGC's ``histogram += 1e-6`` for the ML
    histograms) before the pseudo-data is composed."""
    wanted = sorted(regions)
    arrays: dict[str, tuple[str, np.ndarray, np.ndarray]] = {}
    owner: dict[str, str] = {}
    components: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = {}
    for sample in samples:
        norm = sample.norm()
        view = sample.sums.view(flow=True)
        for r_index, region in enumerate(sample.sums.axes["region"]):
            if region not in wanted:
                continue
            for v_index, variation in enumerate(sample.sums.axes["variation"]):
                name = histogram_name(region, sample.process, variation)
                if name in owner:
                    raise AGCError(
                        f"histogram '{name}' would come from two samples: {owner[name]} and {sample.key}"
                    )
                owner[name] = sample.key
                sumw, sumw2 = (
                    exactsum.combine(*view[r_index, v_index, SUMS.index(which), :, :])
                    for which in SUMS
                )
                values, variances = sumw * norm, sumw2 * (norm * norm)
                if offset:
                    values, variances = values + offset, variances + offset * offset
                arrays[name] = (region, values, variances)
                if variation == sample.variation:
                    components[(region, sample.process, variation)] = (values, variances)
    for region in wanted:
        parts = [components.get((region, *sample)) for sample in PSEUDODATA_SAMPLES]
        if any(part is None for part in parts):
            continue
        (me, me_var), (ps, ps_var), (wjets, wjets_var) = parts  # type: ignore[misc]
        values = (me + ps) / 2.0 + wjets
        variances = (me_var + ps_var) / 4.0 + wjets_var
        arrays[f"{region}_{PSEUDODATA}"] = (region, values, variances)
    return {name: _th1(name, *arrays[name]) for name in sorted(arrays)}


def skipped_files(samples: Iterable[SampleSums]) -> list[dict[str, Any]]:
    """Every skipped input file, ``{"sample", "path", "nevts", "reason"}``, sorted."""
    rows = [{"sample": s.key, **row} for s in samples for row in sorted_skipped(s.skipped)]
    return sorted(rows, key=lambda r: (r["sample"], r["path"]))


def normalisation_note(samples: Iterable[SampleSums]) -> str:
    """One sentence saying which events the MC normalisation counts (for the summary and
    provenance): N_generated is the manifest ``nevts`` summed over the files processed."""
    samples = list(samples)
    base = (
        "MC weight = xsec * lumi / N_generated, N_generated = sum of the manifest's nevts "
        "over the files processed"
    )
    affected = [s for s in samples if s.skipped]
    if not affected:
        return f"{base}; no input file was skipped."
    parts = [
        f"{s.key} {s.nevts + sum(int(r['nevts']) for r in s.skipped)} -> {s.nevts} "
        f"({len(s.skipped)} of {len(s.files) + len(s.skipped)} files skipped)"
        for s in affected
    ]
    n_files = sum(len(s.skipped) for s in affected)
    return (
        f"{base}: {n_files} bad file(s) were skipped (skip_bad_files), so these samples are "
        f"normalised to the events actually processed (N_generated before -> after): "
        + "; ".join(parts)
        + "."
    )


def normalisation_summary(samples: Iterable[SampleSums]) -> dict[str, Any]:
    """``{"n_generated": {sample: N}, "skipped_files": [...], "normalisation_note": str}``."""
    samples = list(samples)
    return {
        "n_generated": {s.key: int(s.nevts) for s in samples},
        "skipped_files": skipped_files(samples),
        "normalisation_note": normalisation_note(samples),
    }


def weighted_cutflow(sample: SampleSums) -> dict[str, float]:
    """Expected events of ``sample`` after each selection step: the raw count times the
    sample's per-event weight ``xsec * lumi / N_generated`` (:meth:`SampleSums.norm`; 1 for
    data), as the histograms are normalised. Every nominal event weighs 1 before
    normalisation, so each value is one product of an exact integer and the same weight:
    identical for any chunking or executor."""
    norm = sample.norm()
    return {step: int(sample.cutflow.get(step, 0)) * norm for step in CUTFLOW_STEPS}


def cutflow_dict(samples: Iterable[SampleSums]) -> dict[str, Any]:
    """``cutflow.json`` content: the ordered steps, per sample the events after each step
    (``samples``, raw counts) and the expected events after each step (``weighted``,
    :func:`weighted_cutflow`, at the card's luminosity), and the input files skipped by
    ``skip_bad_files`` (empty list when none)."""
    samples = list(samples)
    return {
        "steps": list(CUTFLOW_STEPS),
        "samples": {
            s.key: {step: int(s.cutflow.get(step, 0)) for step in CUTFLOW_STEPS} for s in samples
        },
        "weighted": {s.key: weighted_cutflow(s) for s in samples},
        "skipped_files": skipped_files(samples),
    }


def yields(
    histograms: dict[str, hist.Hist], samples: Iterable[SampleSums]
) -> dict[str, dict[str, float]]:
    """Normalised nominal yields (sum of weights incl. flow bins) per region and process."""
    processes = sorted({s.process for s in samples})
    out: dict[str, dict[str, float]] = {}
    for region in sorted(physics.REGIONS):
        out[region] = {}
        for process in [*processes, PSEUDODATA]:
            name = f"{region}_{process}"
            if name in histograms:
                out[region][process] = float(histograms[name].values(flow=True).sum())
    return out
