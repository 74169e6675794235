"""The final files of the processing stage: ``histograms.root``, ``cutflow.json`` and, with the
ML extension, ``histograms_ml.root``.

:func:`write_histograms` normalises exact per-sample sums (:mod:`agc.processing.normalisation`)
and writes ``histograms.root`` (one TH1D per histogram, keys sorted, plus a TObjString
``provenance``; byte-reproducible and atomic, :func:`agc.core.rootio.reproducible_recreate`)
and ``cutflow.json``; when the sums hold the ML features, also ``histograms_ml.root`` (the AGC's
``save_ml_histograms``: ``{feature}_{process}[_{variation}]`` and ``{feature}_pseudodata``, each
feature's 25 bins over its own range, every bin + 1e-6), as one set
(:func:`agc.core.runset.write_set`: all written, then renamed together, then the set's record
``.run-set.json``). :func:`read_histograms` reads either file back.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import hist
import uproot

from agc.analysis import exactsum
from agc.core import physics
from agc.core.errors import AGCError
from agc.core.fileio import canonical_json
from agc.core.rootio import reproducible_recreate
from agc.core.runset import write_set
from agc.processing.errors import one_line
from agc.processing.normalisation import (
    cutflow_dict,
    normalisation_summary,
    normalised_histograms,
    yields,
)
from agc.processing.partials import SampleSums, combine
from agc.processing.results import HistogramRun

PROVENANCE_KEY = "provenance"
PROVENANCE_POINTER = "provenance.json"
#: File name of the ML histograms, beside ``histograms.root``.
ML_HISTOGRAMS = "histograms_ml.root"


def _write_root(path: Path, histograms: dict[str, Any], provenance: str) -> None:
    """``histograms`` plus the ``provenance`` TObjString, keys sorted, byte-reproducible, atomic."""
    entries: dict[str, Any] = {**histograms, PROVENANCE_KEY: provenance}
    with reproducible_recreate(path) as handle:
        for name in sorted(entries):
            handle[name] = entries[name]


def _exact(samples: Iterable[SampleSums]) -> bool:
    """Whether every bin's part sums are within their exact bound (warns for each sample not)."""
    exact = True
    for sample in samples:
        if not exactsum.within_bounds(sample.sums.view(flow=True), axis=3):
            exact = False
            warnings.warn(
                f"sample '{sample.key}': a bin's part sum exceeds its exact-sum bound (more "
                f"than {exactsum.MAX_ENTRIES} entries in a bin); sums are no longer guaranteed "
                "exact (order-independent)",
                stacklevel=3,
            )
    return exact


def write_histograms(
    samples: Iterable[SampleSums],
    output: str | os.PathLike[str],
    cutflow_output: str | os.PathLike[str] | None = None,
    *,
    metadata: dict[str, Any] | None = None,
    ml_output: str | os.PathLike[str] | None = None,
    use_inference: bool | None = None,
) -> HistogramRun:
    """Normalise and write ``histograms.root`` (sorted keys, byte-reproducible, atomic) and
    ``cutflow.json`` (default: beside ``output``). Pieces of the same sample are added first
    (:func:`agc.processing.partials.combine`). ``metadata`` is embedded as canonical JSON in the
    ``provenance`` key (default: the text ``provenance.json``). If every sample holds the ML
    features, ``histograms_ml.root`` is written too (``ml_output``, default beside ``output``)
    unless ``use_inference`` is False.

    Returns a :class:`~agc.processing.results.HistogramRun` with the final-file fields set
    (``output``, ``cutflow_output``, ``yields``, ``exact``), the cut flow and normalisation.
    """
    samples = combine(samples)
    exact = _exact(samples)
    histograms = normalised_histograms(samples)
    output = Path(output)
    cutflow_output = Path(cutflow_output) if cutflow_output else output.with_name("cutflow.json")
    provenance = PROVENANCE_POINTER if metadata is None else canonical_json(metadata)
    writers: dict[Path, Any] = {output: lambda tmp: _write_root(tmp, histograms, provenance)}
    ml_path = None
    default_ml = Path(ml_output) if ml_output else output.with_name(ML_HISTOGRAMS)
    if use_inference is not False and samples and all(s.use_inference for s in samples):
        ml_path = default_ml
        ml = normalised_histograms(samples, physics.ML_FEATURES, physics.ML_HIST_OFFSET)
        writers[ml_path] = lambda tmp: _write_root(tmp, ml, provenance)
    cutflow = cutflow_dict(samples)
    writers[cutflow_output] = lambda tmp: tmp.write_text(canonical_json(cutflow), encoding="utf-8")
    write_set(writers, members=(default_ml,))
    return HistogramRun(
        output=str(output),
        ml_output=str(ml_path) if ml_path else None,
        cutflow_output=str(cutflow_output),
        yields=yields(histograms, samples),
        cutflow=cutflow["samples"],
        exact=exact,
        events_processed=sum(s.cutflow.get("all", 0) for s in samples),
        **normalisation_summary(samples),
    )


def read_histograms(path: str | os.PathLike[str]) -> dict[str, hist.Hist]:
    """All histograms of a ``histograms.root`` as ``{name: hist.Hist}`` (Weight storage)."""
    path = Path(path)
    if not path.is_file():
        raise AGCError(f"histograms file not found: {path}")
    try:
        with uproot.open(path) as handle:
            classes = handle.classnames(recursive=False, cycle=False)
            return {
                name: handle[name].to_hist()
                for name in sorted(classes)
                if classes[name].startswith("TH1")
            }
    except AGCError:
        raise
    except Exception as exc:  # noqa: BLE001 (uproot raises many types)
        raise AGCError(f"cannot read histograms from {path}: {one_line(exc)}") from None
