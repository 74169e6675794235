"""Event processing stage: NanoAOD -> ``histograms.root`` and ``cutflow.json``.

:func:`run_histograms` runs :class:`agc.processing.processor.AGCProcessor` with coffea's
``processor.Runner`` on the iterative, futures or dask executor and writes

- ``histograms.root`` (byte-reproducible, atomic): one TH1D per ``{region}_{process}``
  (nominal) or ``{region}_{process}_{variation}``, plus ``{region}_pseudodata`` =
  (ttbar ME_var + ttbar PS_var) / 2 + wjets nominal, all with the fill binning (25 bins,
  50-550 GeV, flow bins and sumw2 filled), normalised to ``xsec * lumi / N_generated``; keys
  in sorted order, plus a TObjString ``provenance`` (the text ``provenance.json`` or the JSON of
  ``metadata``);
- ``cutflow.json``: events after each selection step per sample (integers).

Exactness: the processor accumulates every unnormalised weight (and squared weight) split into
three fixed-point parts, ``hi``, ``mid`` and ``lo`` on the grids 2**-12, 2**-35 and 2**-58
(:mod:`agc.processing.exactsum`), whose sums are exact doubles up to 2**31 entries per bin with
|weight| <= 32, so results are the same bit for bit for any executor, worker count, chunk size
or merge order, and equal to a plain float64 fill up to float64 rounding (the split loses at
most 2**-59 per entry). A bin's value ``(lo + mid) + hi`` and the normalisation are computed
once per bin when the final file is written. Partial outputs (:func:`write_partial`, one JSON
file per sample, validated against ``schemas/histograms_partial.schema.json``) hold the exact
unnormalised part sums; :func:`merge_partials` adds them and writes the same bytes as a single
pass.

Robustness:

- every local input is checked before any processing (:func:`check_file`: exists, manifest
  size and sha256, complete ROOT file, ``Events`` tree, every branch read); the first bad file
  stops the run with one line naming it -- unless ``skip_bad_files=True``, which skips bad files
  and lists each (sample, path, manifest ``nevts``, reason) in the summary's ``skipped_files``,
  in ``cutflow.json`` and in the partial outputs. A file is processed whole or not at all: the
  processor's output is kept per file (:class:`agc.processing.processor.FileResolvedProcessor`) and a file
  whose chunks do not cover all its entries exactly once (a chunk failed mid-file) is dropped
  entirely. N_generated of a sample is the sum of ``nevts`` of the files *processed*, and the
  summary's ``normalisation_note`` says so;
- per-chunk checkpoints (:mod:`agc.processing.checkpoint`, default ``<output folder>/.checkpoints``) let
  a killed run resume with bit-identical outputs; they are deleted after the final write;
- every output is written atomically (temporary name, then rename).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import re
import resource
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hist
import numpy as np
import uproot
from coffea import processor

from agc.core import physics
from agc.core.errors import AGCError
from agc.core.fileio import canonical_json, sha256_file, write_json
from agc.core.parameters import EXECUTORS, validate_parameters
from agc.core.rootio import reproducible_recreate
from agc.core.validation import validate
from agc.dataset.manifest import (
    EMBEDDED_KEYWORD,
    is_remote,
    load_manifest,
    resolve_inputs,
    sample_key,
    select_samples,
)
from agc.dataset.manifest import (
    fileset as make_fileset,
)
from agc.processing import exactsum
from agc.processing.checkpoint import (
    CHECKPOINT_DIRNAME,
    ChunkCheckpointer,
    code_version,
    content_identity,
    file_key,
    remove_checkpoints,
)
from agc.processing.processor import (
    CHUNK_OUTCOMES,
    DATA_PROCESS,
    SUMS,
    AGCSchema,
    FileResolvedProcessor,
    PeakMemory,
    empty_sums,
    histogram_variations,
)
from agc.processing.selection import CUTFLOW_STEPS

log = logging.getLogger(__name__)

#: Version 2: sums split into the exact ``hi``/``mid``/``lo`` parts of :mod:`agc.processing.exactsum` (version 1
#: held single sums of weights on a 2**-20 grid and is refused).
PARTIAL_FORMAT = "agc-histograms-partial/2"
PARTIAL_SUFFIX = ".partial.json"
PROVENANCE_KEY = "provenance"
PROVENANCE_POINTER = "provenance.json"
PSEUDODATA = "pseudodata"
#: Pseudo-data per region = (ttbar ME_var + ttbar PS_var) / 2 + wjets nominal.
PSEUDODATA_SAMPLES: tuple[tuple[str, str], ...] = (
    ("ttbar", "ME_var"),
    ("ttbar", "PS_var"),
    ("wjets", "nominal"),
)
TREE = "Events"


# -- unnormalised sums of one sample ----------------------------------------------------------


@dataclass
class SampleSums:
    """Exact unnormalised sums of one sample (what a partial output holds).

    ``sums``: :func:`agc.processing.processor.empty_sums` layout (region x variation x sum x observable);
    ``xsec``: effective cross-section [pb]; ``nevts``: N_generated of the processed files
    (``files``); ``skipped``: the sample's files skipped by ``skip_bad_files``, each
    ``{"path", "nevts", "reason"}`` (their ``nevts`` is *not* in ``nevts``); ``cache_key``: the
    :mod:`agc.processing.cache` key of what was processed (inputs' content, processing code, xsec), when
    known, so that a later signal swap can take the sums from this partial output.
    """

    process: str
    variation: str
    xsec: float
    nevts: int
    files: list[str]
    sums: hist.Hist
    cutflow: dict[str, int] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    cache_key: str | None = None

    @property
    def key(self) -> str:
        """The sample's dataset name, e.g. ``ttbar__nominal``."""
        return sample_key(self.process, self.variation)

    def norm(self) -> float:
        """Per-event MC weight ``xsec * lumi / N_generated`` (1 for data)."""
        if self.process == DATA_PROCESS:
            return 1.0
        if self.nevts <= 0:
            raise AGCError(
                f"sample '{self.key}': N_generated (nevts) is {self.nevts}, cannot normalise"
            )
        return self.xsec * physics.LUMI_PB / self.nevts


def _sums_to_json(sums: hist.Hist, which: str) -> dict[str, dict[str, dict[str, list[float]]]]:
    """``{part: {region: {variation: [nbins + 2 sums]}}}`` of ``which`` (sumw or sumw2)."""
    view = sums.view(flow=True)
    s_index = SUMS.index(which)
    return {
        part: {
            region: {
                variation: [float(v) for v in view[r_index, v_index, s_index, p_index, :]]
                for v_index, variation in enumerate(sums.axes["variation"])
            }
            for r_index, region in enumerate(sums.axes["region"])
        }
        for p_index, part in enumerate(exactsum.PARTS)
    }


def accumulation_record() -> dict[str, Any]:
    """How the partial output's sums are made (:mod:`agc.processing.exactsum`); a reader refuses others."""
    return {
        "parts": list(exactsum.PARTS),
        "grid": {part: exactsum.GRID[part] for part in exactsum.PARTS},
        "max_weight": exactsum.MAX_WEIGHT,
        "max_entries_per_bin": exactsum.MAX_ENTRIES,
        "value": "(" + " + ".join(reversed(exactsum.PARTS[1:])) + f") + {exactsum.PARTS[0]}",
    }


def partial_dict(sample: SampleSums) -> dict[str, Any]:
    """The JSON-able partial output of one sample (exact: grid values round-trip in JSON)."""
    nbins, low, high = physics.FILL_BINNING
    key = {"cache_key": sample.cache_key} if sample.cache_key else {}
    return {
        **key,
        "format": PARTIAL_FORMAT,
        "sample": sample.key,
        "process": sample.process,
        "variation": sample.variation,
        "xsec": sample.xsec,
        "nevts": sample.nevts,
        "files": sorted(sample.files),
        "binning": {"bins": nbins, "low": low, "high": high},
        "accumulation": accumulation_record(),
        "sumw": _sums_to_json(sample.sums, "sumw"),
        "sumw2": _sums_to_json(sample.sums, "sumw2"),
        "cutflow": {step: int(sample.cutflow.get(step, 0)) for step in CUTFLOW_STEPS},
        "skipped_files": _sorted_skipped(sample.skipped),
    }


def _sorted_skipped(skipped: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        (
            {"path": str(s["path"]), "nevts": int(s["nevts"]), "reason": str(s["reason"])}
            for s in skipped
        ),
        key=lambda s: s["path"],
    )


def write_partial(path: str | os.PathLike[str], sample: SampleSums) -> Path:
    """Atomically write the partial output of one sample as canonical JSON; return the path."""
    return write_json(path, partial_dict(sample))


def read_partial(path: str | os.PathLike[str]) -> SampleSums:
    """Read and validate one partial output (AGCError naming the file on any problem)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AGCError(f"partial output not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AGCError(f"cannot read partial output {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise AGCError(
            f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    found = data.get("format") if isinstance(data, dict) else None
    if isinstance(found, str) and found != PARTIAL_FORMAT:
        raise AGCError(
            f"{path}: partial output format '{found}' is not '{PARTIAL_FORMAT}' (written by "
            "another version of the package): re-run the histogram stage"
        )
    validate(data, "histograms_partial", str(path))
    nbins, low, high = physics.FILL_BINNING
    binning = data["binning"]
    if (binning["bins"], binning["low"], binning["high"]) != (nbins, low, high):
        raise AGCError(
            f"{path}: binning {binning} differs from the analysis' {physics.FILL_BINNING}"
        )
    if data["accumulation"] != accumulation_record():

        def _one(record: Any) -> str:
            return json.dumps(record, sort_keys=True, separators=(",", ":"))

        raise AGCError(
            f"{path}: accumulation {_one(data['accumulation'])} differs from this package's "
            f"{_one(accumulation_record())}"
        )
    if data["sample"] != sample_key(data["process"], data["variation"]):
        raise AGCError(f"{path}: 'sample' {data['sample']} does not match process and variation")
    labels = histogram_variations(data["process"], data["variation"])
    sums = empty_sums(labels)
    view = sums.view(flow=True)
    for s_index, which in enumerate(SUMS):
        for p_index, part in enumerate(exactsum.PARTS):
            block = data[which][part]
            where = f"{which}/{part}"
            if sorted(block) != sorted(physics.REGIONS):
                raise AGCError(
                    f"{path}: '{where}' has regions {sorted(block)}, expected {sorted(physics.REGIONS)}"
                )
            for r_index, region in enumerate(sums.axes["region"]):
                if sorted(block[region]) != labels:
                    raise AGCError(
                        f"{path}: '{where}/{region}' has variations {sorted(block[region])}, expected {labels}"
                    )
                for v_index, variation in enumerate(sums.axes["variation"]):
                    values = block[region][variation]
                    if len(values) != nbins + 2:
                        raise AGCError(
                            f"{path}: '{where}/{region}/{variation}' has {len(values)} values, expected {nbins + 2}"
                        )
                    view[r_index, v_index, s_index, p_index, :] = np.asarray(
                        values, dtype=np.float64
                    )
    return SampleSums(
        process=data["process"],
        variation=data["variation"],
        xsec=float(data["xsec"]),
        nevts=int(data["nevts"]),
        files=list(data["files"]),
        sums=sums,
        cutflow=dict(data["cutflow"]),
        skipped=list(data.get("skipped_files", [])),
        cache_key=data.get("cache_key"),
    )


def combine(samples: Iterable[SampleSums]) -> list[SampleSums]:
    """Add sums of the same sample processed in pieces (disjoint files); sorted by sample key.

    Additions are exact (grid values), so the grouping does not matter. The same file twice
    (processed or skipped), or pieces with different cross-sections, is an error naming the
    sample. Skipped-file lists are concatenated.
    """
    merged: dict[str, SampleSums] = {}
    for piece in samples:
        have = merged.get(piece.key)
        if have is None:
            merged[piece.key] = SampleSums(
                piece.process,
                piece.variation,
                piece.xsec,
                piece.nevts,
                list(piece.files),
                piece.sums.copy(),
                dict(piece.cutflow),
                list(piece.skipped),
            )
            continue
        have_paths = set(have.files) | {s["path"] for s in have.skipped}
        piece_paths = set(piece.files) | {s["path"] for s in piece.skipped}
        overlap = sorted(have_paths & piece_paths)
        if overlap:
            raise AGCError(
                f"sample '{piece.key}' given twice: file {overlap[0]} is in two partial outputs"
            )
        if have.xsec != piece.xsec:
            raise AGCError(
                f"sample '{piece.key}': partial outputs disagree on xsec ({have.xsec} vs {piece.xsec})"
            )
        have.sums += piece.sums
        have.nevts += piece.nevts
        have.files = sorted(have.files + piece.files)
        have.cutflow = {s: have.cutflow.get(s, 0) + piece.cutflow.get(s, 0) for s in CUTFLOW_STEPS}
        have.skipped = _sorted_skipped([*have.skipped, *piece.skipped])
    return [merged[k] for k in sorted(merged)]


# -- the final file ---------------------------------------------------------------------------


def histogram_name(region: str, process: str, variation: str) -> str:
    """AGC naming: ``{region}_{process}`` for nominal, else ``{region}_{process}_{variation}``."""
    return f"{region}_{process}" if variation == "nominal" else f"{region}_{process}_{variation}"


def _th1(name: str, region: str, values: np.ndarray, variances: np.ndarray) -> hist.Hist:
    nbins, low, high = physics.FILL_BINNING
    h = hist.Hist(
        hist.axis.Regular(
            nbins, low, high, name="observable", label=f"{physics.REGIONS[region]} [GeV]"
        ),
        storage=hist.storage.Weight(),
        name=name,
        label=name,
    )
    view = h.view(flow=True)
    view["value"] = values
    view["variance"] = variances
    return h


def normalised_histograms(samples: Iterable[SampleSums]) -> dict[str, hist.Hist]:
    """Final histograms ``{name: Hist}`` (Weight storage, normalised), with pseudo-data if its
    components are present. Values = sumw * norm, variances = sumw2 * norm**2."""
    arrays: dict[str, tuple[str, np.ndarray, np.ndarray]] = {}
    owner: dict[str, str] = {}
    components: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = {}
    for sample in samples:
        norm = sample.norm()
        view = sample.sums.view(flow=True)
        for r_index, region in enumerate(sample.sums.axes["region"]):
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
                arrays[name] = (region, values, variances)
                if variation == sample.variation:
                    components[(region, sample.process, variation)] = (values, variances)
    for region in sorted(physics.REGIONS):
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
    rows = [{"sample": s.key, **row} for s in samples for row in _sorted_skipped(s.skipped)]
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


def cutflow_dict(samples: Iterable[SampleSums]) -> dict[str, Any]:
    """``cutflow.json`` content: the ordered steps, per sample the events after each step, and
    the input files skipped by ``skip_bad_files`` (empty list when none)."""
    samples = list(samples)
    return {
        "steps": list(CUTFLOW_STEPS),
        "samples": {
            s.key: {step: int(s.cutflow.get(step, 0)) for step in CUTFLOW_STEPS} for s in samples
        },
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


def write_histograms(
    samples: Iterable[SampleSums],
    output: str | os.PathLike[str],
    cutflow_output: str | os.PathLike[str] | None = None,
    *,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Normalise and write ``histograms.root`` (sorted keys, byte-reproducible, atomic) and
    ``cutflow.json``; return ``{"output", "cutflow_output", "yields", "cutflow", "exact",
    "n_generated", "skipped_files", "normalisation_note"}``."""
    samples = combine(samples)
    exact = True
    for sample in samples:
        if not exactsum.within_bounds(sample.sums.view(flow=True), axis=3):
            exact = False
            warnings.warn(
                f"sample '{sample.key}': a bin's part sum exceeds its exact-sum bound (more "
                f"than {exactsum.MAX_ENTRIES} entries in a bin); sums are no longer guaranteed "
                "exact (order-independent)",
                stacklevel=2,
            )
    histograms = normalised_histograms(samples)
    output = Path(output)
    cutflow_output = Path(cutflow_output) if cutflow_output else output.with_name("cutflow.json")
    provenance = PROVENANCE_POINTER if metadata is None else canonical_json(metadata)
    entries: dict[str, Any] = {**histograms, PROVENANCE_KEY: provenance}
    with reproducible_recreate(output) as handle:
        for name in sorted(entries):
            handle[name] = entries[name]
    cutflow = cutflow_dict(samples)
    write_json(cutflow_output, cutflow)
    return {
        "output": str(output),
        "cutflow_output": str(cutflow_output),
        "yields": yields(histograms, samples),
        "cutflow": cutflow["samples"],
        "exact": exact,
        **normalisation_summary(samples),
    }


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
        raise AGCError(f"cannot read histograms from {path}: {_one_line(exc)}") from None


def merge_partials(
    partial_paths_or_dir: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    output: str | os.PathLike[str] = "outputs/histograms.root",
    cutflow_output: str | os.PathLike[str] | None = None,
    *,
    metadata: dict[str, Any] | None = None,
    skip_bad_files: bool = False,
) -> dict[str, Any]:
    """Merge partial outputs (a folder of ``*.partial.json`` or a list of files) into the final
    ``histograms.root`` and ``cutflow.json``; the bytes equal a single pass over the same samples.

    A partial output that lists skipped input files (written by a run with
    ``skip_bad_files=True``) is refused unless ``skip_bad_files=True`` is given here too; the
    skipped files are then carried into ``cutflow.json`` and the summary."""
    if isinstance(partial_paths_or_dir, (str, os.PathLike)):
        folder = Path(partial_paths_or_dir)
        if folder.is_dir():
            paths = sorted(folder.glob(f"*{PARTIAL_SUFFIX}"))
            if not paths:
                raise AGCError(f"no partial outputs (*{PARTIAL_SUFFIX}) in {folder}")
        else:
            paths = [folder]
    else:
        paths = [Path(p) for p in partial_paths_or_dir]
        if not paths:
            raise AGCError("no partial outputs given to merge")
    samples = [read_partial(p) for p in sorted(paths)]
    if not skip_bad_files:
        for path, sample in zip(sorted(paths), samples, strict=True):
            if sample.skipped:
                first = _sorted_skipped(sample.skipped)[0]
                raise AGCError(
                    f"partial output {path} lists {len(sample.skipped)} skipped input file(s) "
                    f"(first: {first['path']}): merge with skip_bad_files=True to accept them"
                )
    summary = write_histograms(samples, output, cutflow_output, metadata=metadata)
    summary["partials"] = [str(p) for p in sorted(paths)]
    summary["events_processed"] = sum(s.cutflow.get("all", 0) for s in samples)
    return summary


# -- running the processor --------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def check_file(
    path: str,
    tree: str = TREE,
    *,
    sample: str = "",
    sha256: str | None = None,
    size: int | None = None,
) -> int:
    """Check one local input file before processing; return its number of entries.

    It must exist, have the manifest's ``size`` [bytes] and ``sha256`` (when given), be a
    complete ROOT file (not truncated) with the ``tree`` TTree holding every branch of
    :data:`agc.core.physics.BRANCHES_READ`. Raises :class:`AGCError` naming the file, the sample
    and the branch.
    """
    where = f"(sample {sample})" if sample else ""
    if not os.path.isfile(path):
        raise AGCError(f"input file not found: {path} {where}".rstrip())
    if size is not None and os.path.getsize(path) != size:
        raise AGCError(
            f"input file {path} {where}: size {os.path.getsize(path)} bytes differs from the "
            f"manifest's {size}"
        )
    if sha256 and sha256_file(path) != sha256:
        raise AGCError(f"input file {path} {where}: sha256 differs from the manifest's")
    try:
        with uproot.open(path) as handle:
            actual, end = os.path.getsize(path), int(handle.file.fEND)
            if actual < end:
                raise AGCError(f"input file {path} {where} is truncated: {actual} of {end} bytes")
            if tree not in handle:
                keys = ", ".join(sorted(handle.keys(cycle=False))) or "none"
                raise AGCError(f"input file {path} {where} has no '{tree}' tree (keys: {keys})")
            ttree = handle[tree]
            if not isinstance(ttree, uproot.behaviors.TTree.TTree):
                raise AGCError(f"input file {path} {where}: '{tree}' is not a TTree")
            present = set(ttree.keys())
            missing = [b for b in physics.BRANCHES_READ if b not in present]
            if missing:
                raise AGCError(
                    f"input file {path} {where}: missing branch '{missing[0]}' in '{tree}'"
                    + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                )
            return int(ttree.num_entries)
    except AGCError:
        raise
    except Exception as exc:  # noqa: BLE001 (any failure to read is the file's)
        raise AGCError(f"cannot read ROOT file {path} {where}: {_one_line(exc)}") from None


def check_inputs(
    fileset: dict[str, dict[str, Any]], *, verify_checksums: bool = True
) -> dict[str, int]:
    """:func:`check_file` on every local file of a fileset (:func:`agc.dataset.manifest.fileset`), with
    the recorded sha256 if ``verify_checksums``; stops at the first bad file.

    Returns ``{path: number of entries}``. Remote files (URLs) are left to the run itself.
    """
    entries: dict[str, int] = {}
    for dataset, entry in fileset.items():
        checksums = entry["metadata"].get("checksums", {})
        for path, tree in entry["files"].items():
            if is_remote(path):
                continue
            entries[path] = check_file(
                path,
                tree,
                sample=dataset,
                sha256=checksums.get(path) if verify_checksums else None,
            )
    return entries


_WORKITEM = re.compile(r"WorkItem\(dataset='([^']*)', filename='([^']*)'")
_FILEMETA = re.compile(r"FileMeta\(([^:]*):(.*?):[^:]*\)")


def translate_error(exc: BaseException, fileset: dict[str, dict[str, Any]]) -> AGCError:
    """One-line :class:`AGCError` for an exception raised by a coffea run, naming the file.

    coffea wraps worker errors (``Failed processing file: WorkItem(...). The error was: ...``)
    and executors re-raise them in the driver, sometimes without the cause chain; the file is
    taken from the chain, the message, or the fileset.
    """
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    text = " ".join(str(e) for e in chain)
    for e in chain:
        if isinstance(e, AGCError):
            return e
    dataset = filename = None
    match = _WORKITEM.search(text) or _FILEMETA.search(text)
    if match:
        dataset, filename = match.group(1), match.group(2)
    else:
        for name, entry in fileset.items():
            for path in entry["files"]:
                if path in text:
                    dataset, filename = name, path
                    break
    reason = str(chain[-1])
    inner = re.search(r"The error was: (.*)", reason, flags=re.DOTALL)
    while inner:
        reason = inner.group(1)
        inner = re.search(r"The error was: (.*)", reason, flags=re.DOTALL)
    reason = " ".join(reason.split()).rstrip(".")
    wrapped = re.fullmatch(r"\w+\((['\"])(.*)\1\)", reason)  # e.g. "error('...')" from a repr
    if wrapped:
        reason = wrapped.group(2)
    if filename:
        return AGCError(
            f"processing failed for {filename} (sample {dataset}): {_one_line(Exception(reason))}"
        )
    return AGCError(
        f"processing failed: {type(chain[-1]).__name__}: {_one_line(Exception(reason))}"
    )


@contextlib.contextmanager
def _executor(executor: str, workers: int, scheduler: str, retries: int) -> Iterator[Any]:
    """The coffea executor for ``executor`` (dask resources are closed on exit)."""
    if executor == "iterative":
        yield processor.IterativeExecutor(status=False, retries=retries)
    elif executor == "futures":
        yield processor.FuturesExecutor(workers=workers, status=False, retries=retries)
    elif executor == "dask":
        import distributed

        with contextlib.ExitStack() as stack:
            if scheduler:
                try:
                    client = stack.enter_context(distributed.Client(scheduler, timeout="30s"))
                except Exception as exc:  # noqa: BLE001 (OSError, TimeoutError, ValueError...)
                    raise AGCError(
                        f"cannot connect to dask scheduler '{scheduler}': {_one_line(exc)}"
                    ) from None
            else:
                cluster = stack.enter_context(
                    distributed.LocalCluster(
                        n_workers=workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=":0",
                    )
                )
                client = stack.enter_context(distributed.Client(cluster))
            yield processor.DaskExecutor(client=client, status=False, retries=retries)
    else:
        raise AGCError(f"unknown executor '{executor}'; choose one of {', '.join(EXECUTORS)}")


@contextlib.contextmanager
def _quiet_coffea() -> Iterator[None]:
    """Silence coffea's rich progress console for the duration of the block."""
    from coffea.util import coffea_console

    saved = coffea_console.quiet
    coffea_console.quiet = True
    try:
        yield
    finally:
        coffea_console.quiet = saved


def load_inputs(inputs: str | os.PathLike[str] | dict[str, Any]) -> dict[str, Any]:
    """The manifest named by ``inputs``: a path, ``"embedded"`` or an already-loaded dict."""
    if isinstance(inputs, dict):
        validate(inputs, "manifest", "inputs")
        return inputs
    if str(inputs) == EMBEDDED_KEYWORD:
        inputs = resolve_inputs(inputs)
    return load_manifest(inputs)


@dataclass
class ProcessingResult:
    """What one processing run produced.

    ``samples``: per-sample exact sums of the files processed (each with its ``skipped`` files);
    ``chunks``: ``{"computed", "resumed", "failed", "total"}`` chunk counts (resumed = loaded
    from a checkpoint); ``peak_rss_kb``: ``{"workers": peak RSS of the processes that ran
    chunks, "driver": peak RSS of this process}`` [kB]; the checkpoint folder, code version and
    file keys of the run (for :meth:`remove_checkpoints`).
    """

    samples: list[SampleSums]
    chunks: dict[str, int]
    peak_rss_kb: dict[str, int]
    checkpoint_dir: Path | None = None
    checkpoint_version: str = ""
    checkpoint_keys: list[str] = field(default_factory=list)

    def remove_checkpoints(self) -> None:
        """Delete this run's checkpoints (call once the final outputs are written)."""
        if self.checkpoint_dir is not None:
            remove_checkpoints(self.checkpoint_dir, self.checkpoint_version, self.checkpoint_keys)


def _manifest_records(
    manifest: dict[str, Any], samples: str | list[str], max_files: int
) -> dict[str, list[dict[str, Any]]]:
    """Per dataset, the manifest's file records (path, nevts, sha256?, size?) kept by ``max_files``."""
    records: dict[str, list[dict[str, Any]]] = {}
    for process, variation in select_samples(manifest, samples):
        files = manifest[process][variation]["files"]
        name = sample_key(process, variation)
        records[name] = list(files if max_files == -1 else files[:max_files])
        paths = [item["path"] for item in records[name]]
        duplicates = sorted({p for p in paths if paths.count(p) > 1})
        if duplicates:
            raise AGCError(f"sample '{name}': file {duplicates[0]} is listed twice in the manifest")
    return records


def _coverage_problem(piece: dict[str, Any] | None, n_entries: int | None) -> str | None:
    """Why the per-file output ``piece`` does not cover the file's ``n_entries`` entries exactly
    once (None if it does)."""
    if piece is None:
        return "no chunk of the file was processed"
    if n_entries is None:
        return "its number of entries is unknown (metadata not read)"
    position = 0
    for start, stop in sorted(piece["ranges"]):
        if start > position:
            return f"entries {position}-{start} of {n_entries} were not processed"
        if start < position:
            return f"entries {start}-{position} were processed twice"
        position = stop
    if position != n_entries:
        return f"entries {position}-{n_entries} of {n_entries} were not processed"
    counted = int(piece["cutflow"]["all"])
    if counted != n_entries:
        return f"{counted} events counted for {n_entries} entries"
    return None


def _all_files_bad(name: str, skipped: list[dict[str, Any]]) -> AGCError:
    return AGCError(
        f"sample '{name}': all {len(skipped)} input file(s) failed, nothing left to normalise "
        f"(first: {skipped[0]['reason']})"
    )


def run_processor(
    inputs: str | os.PathLike[str] | dict[str, Any],
    *,
    samples: str | list[str] = "all",
    executor: str = "futures",
    workers: int = 2,
    chunksize: int = 100_000,
    max_files: int = -1,
    scheduler: str = "",
    skip_bad_files: bool = False,
    checkpoint_dir: str | os.PathLike[str] | None = None,
) -> ProcessingResult:
    """Check the inputs, run the processor over the selected samples, keep whole files only.

    Parameters as :func:`run_histograms` (validated against the workflow parameter schema).
    Without ``skip_bad_files`` the first bad file raises :class:`AGCError`; with it, bad files
    (found by :func:`check_file` or failing during processing) are skipped and recorded in the
    samples' ``skipped`` lists, and N_generated counts the processed files only. A sample whose
    files all fail is an error either way. ``checkpoint_dir``: per-chunk checkpoints
    (:class:`agc.processing.checkpoint.ChunkCheckpointer`) are read and written there (None: none).
    """
    params = validate_parameters(
        {
            "executor": executor,
            "workers": workers,
            "chunksize": chunksize,
            "max_files": max_files,
            "scheduler": scheduler,
            "skip_bad_files": skip_bad_files,
        }
    )
    skip_bad_files = params["skip_bad_files"]
    manifest = load_inputs(inputs)
    fileset = make_fileset(manifest, samples, params["max_files"])
    records = _manifest_records(manifest, samples, params["max_files"])

    # 1. Every local file is checked before any processing.
    entries: dict[tuple[str, str], int] = {}
    nevts_of: dict[tuple[str, str], int] = {}
    skipped: dict[str, list[dict[str, Any]]] = {name: [] for name in fileset}
    good: dict[str, list[str]] = {name: [] for name in fileset}
    for name in fileset:
        for item in records[name]:
            path = item["path"]
            nevts_of[(name, path)] = int(item["nevts"])
            if not is_remote(path):
                try:
                    entries[(name, path)] = check_file(
                        path, TREE, sample=name, sha256=item.get("sha256"), size=item.get("size")
                    )
                except AGCError as exc:
                    if not skip_bad_files:
                        raise
                    skipped[name].append(
                        {"path": path, "nevts": nevts_of[(name, path)], "reason": str(exc)}
                    )
                    log.warning("skipping bad input file: %s", exc)
                    continue
            good[name].append(path)
        if not good[name]:
            raise _all_files_bad(name, skipped[name])

    # 2. Checkpoints keyed by code version, sample and file content.
    checkpointer = None
    version = ""
    keys: dict[tuple[str, str], str] = {}
    if checkpoint_dir is not None:
        version = code_version()
        for name, paths in good.items():
            meta = fileset[name]["metadata"]
            for path in paths:
                identity = (
                    "remote"
                    if is_remote(path)
                    else content_identity(path, meta["checksums"].get(path))
                )
                keys[(name, path)] = file_key(
                    name, meta["process"], meta["variation"], path, identity
                )
        checkpointer = ChunkCheckpointer(Path(checkpoint_dir) / version, keys)

    # 3. The coffea run.
    coffea_fileset = {
        name: {
            "files": dict.fromkeys(paths, TREE),
            "metadata": {k: fileset[name]["metadata"][k] for k in ("process", "variation")},
        }
        for name, paths in good.items()
    }
    remote = any(is_remote(p) for paths in good.values() for p in paths)
    cache: dict[Any, Any] = {}
    captured = io.StringIO()
    output: dict[str, Any] = {}
    try:
        with _executor(
            params["executor"], params["workers"], params["scheduler"], 3 if remote else 0
        ) as coffea_executor:
            runner = processor.Runner(
                executor=coffea_executor,
                schema=AGCSchema,
                chunksize=params["chunksize"],
                metadata_cache=cache,
                # coffea's ``skipbadfiles=True`` only skips OSError (not e.g. a damaged
                # basket) and skips single chunks: take every exception, and complete files
                # only, below.
                skipbadfiles=(Exception,) if skip_bad_files else False,
                checkpointer=checkpointer,
            )
            # coffea draws progress bars on stdout whatever ``status`` says and prints worker
            # tracebacks to stderr before re-raising: keep both out of the CLI's output and of
            # the one-line error (the captured text is logged).
            with _quiet_coffea(), contextlib.redirect_stderr(captured):
                output = runner(coffea_fileset, FileResolvedProcessor(skip_bad_files)) or {}
    except AGCError:
        raise
    except Exception as exc:  # noqa: BLE001 (coffea wraps worker errors in Exception)
        log.debug("coffea run failed:\n%s", captured.getvalue())
        if not (skip_bad_files and "No chunks" in str(exc)):
            raise translate_error(exc, fileset) from None
        output = {}  # every chunk failed before reaching the processor
    if captured.getvalue().strip():
        log.info("%s", captured.getvalue().rstrip())
    for filemeta, meta in cache.items():
        if isinstance(meta, dict) and "numentries" in meta:
            entries.setdefault((filemeta.dataset, filemeta.filename), int(meta["numentries"]))

    # 4. Keep files processed whole; drop (skip mode) or refuse the others.
    reasons: dict[tuple[str, str], str] = {}
    for dataset, filename, first, last, reason in sorted(output.get("failures", set())):
        reasons.setdefault((dataset, filename), f"entries {first}-{last} failed: {reason}")
    per_file = output.get("files", {})
    result = []
    for name, entry in fileset.items():
        meta = entry["metadata"]
        sums = empty_sums(histogram_variations(meta["process"], meta["variation"]))
        cutflow = dict.fromkeys(CUTFLOW_STEPS, 0)
        processed: list[str] = []
        for path in sorted(good[name]):
            piece = per_file.get(name, {}).get(path)
            problem = _coverage_problem(piece, entries.get((name, path)))
            if problem is None:
                sums += piece["sums"]
                cutflow = {s: cutflow[s] + int(piece["cutflow"][s]) for s in CUTFLOW_STEPS}
                processed.append(path)
                continue
            reason = reasons.get((name, path), problem)
            if not skip_bad_files:
                raise AGCError(f"processing failed for {path} (sample {name}): {reason}")
            message = f"processing failed for {path} (sample {name}), file dropped whole: {reason}"
            log.warning("skipping bad input file: %s", message)
            skipped[name].append({"path": path, "nevts": nevts_of[(name, path)], "reason": message})
        if not processed:
            raise _all_files_bad(name, _sorted_skipped(skipped[name]))
        result.append(
            SampleSums(
                process=meta["process"],
                variation=meta["variation"],
                xsec=float(meta["xsec"]),
                nevts=sum(nevts_of[(name, p)] for p in processed),
                files=processed,
                sums=sums,
                cutflow=cutflow,
                skipped=_sorted_skipped(skipped[name]),
            )
        )
    chunks = {k: int(output.get("chunks", {}).get(k, 0)) for k in CHUNK_OUTCOMES}
    chunks["total"] = sum(chunks.values())
    peak = output.get("peak_rss_kb", PeakMemory(0))
    return ProcessingResult(
        samples=result,
        chunks=chunks,
        peak_rss_kb={
            "workers": int(peak.kb),
            "driver": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
        },
        checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir is not None else None,
        checkpoint_version=version,
        checkpoint_keys=sorted(set(keys.values())),
    )


def process_samples(
    inputs: str | os.PathLike[str] | dict[str, Any],
    *,
    samples: str | list[str] = "all",
    executor: str = "futures",
    workers: int = 2,
    chunksize: int = 100_000,
    max_files: int = -1,
    scheduler: str = "",
    skip_bad_files: bool = False,
) -> list[SampleSums]:
    """Run the processor over the selected samples (no checkpoints); return their exact
    unnormalised sums (see :func:`run_processor`)."""
    return run_processor(
        inputs,
        samples=samples,
        executor=executor,
        workers=workers,
        chunksize=chunksize,
        max_files=max_files,
        scheduler=scheduler,
        skip_bad_files=skip_bad_files,
    ).samples


def run_histograms(
    inputs: str | os.PathLike[str] | dict[str, Any],
    output: str | os.PathLike[str] = "outputs/histograms.root",
    *,
    samples: str | list[str] = "all",
    executor: str = "futures",
    workers: int = 2,
    chunksize: int = 100_000,
    max_files: int = -1,
    scheduler: str = "",
    partial_dir: str | os.PathLike[str] | None = None,
    cutflow_output: str | os.PathLike[str] | None = None,
    metadata: dict[str, Any] | None = None,
    skip_bad_files: bool = False,
    checkpoints: bool = True,
    checkpoint_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """NanoAOD -> ``histograms.root`` + ``cutflow.json`` (or per-sample partials).

    ``inputs``: manifest path in the AGC layout, ``"embedded"``, or a loaded manifest dict.
    ``samples``: ``"all"`` or comma list of ``process`` / ``process__variation``.
    ``executor``: ``iterative`` | ``futures`` (``workers`` processes) | ``dask`` (a
    ``LocalCluster`` of ``workers`` single-threaded processes, or the ``scheduler`` address).
    ``chunksize``: events per chunk; ``max_files``: files per sample (-1 = all).
    With ``partial_dir``, one ``{sample}.partial.json`` per sample is written there instead of
    the final files (merge them with :func:`merge_partials`). ``metadata`` is embedded as JSON
    in the ``provenance`` key (default: the text ``provenance.json``).
    ``skip_bad_files``: skip (and list) bad input files instead of stopping at the first one;
    N_generated then counts the processed files only (see the summary's ``normalisation_note``).
    ``checkpoints``: keep per-chunk checkpoints in ``checkpoint_dir`` (default
    ``<folder of output>/.checkpoints``) so that a killed run resumes; they are deleted once the
    outputs are written.

    Returns a summary: output paths, normalised nominal yields per region and process, cut
    flow, N_generated per sample, skipped files and the normalisation note, events processed,
    chunk counts (computed / resumed from checkpoints / failed), peak RSS [MB] of the worker
    processes and of this process, wall time [s] and throughput [events/s].
    """
    start = time.perf_counter()
    folder = None
    if checkpoints:
        folder = (
            Path(checkpoint_dir) if checkpoint_dir else Path(output).parent / CHECKPOINT_DIRNAME
        )
    run = run_processor(
        inputs,
        samples=samples,
        executor=executor,
        workers=workers,
        chunksize=chunksize,
        max_files=max_files,
        scheduler=scheduler,
        skip_bad_files=skip_bad_files,
        checkpoint_dir=folder,
    )
    sample_sums = run.samples
    n_events = sum(s.cutflow.get("all", 0) for s in sample_sums)
    if partial_dir is not None:
        from agc.processing.cache import cache_key, key_inputs

        manifest = load_inputs(inputs)
        for s in sample_sums:  # what a later signal swap may take from the cache
            if not s.skipped:
                s.cache_key = cache_key(key_inputs(manifest, s.process, s.variation, max_files))
        partials = Path(partial_dir)
        paths = [write_partial(partials / f"{s.key}{PARTIAL_SUFFIX}", s) for s in sample_sums]
        summary: dict[str, Any] = {
            "partials": [str(p) for p in paths],
            "cutflow": cutflow_dict(sample_sums)["samples"],
            **normalisation_summary(sample_sums),
        }
    else:
        summary = write_histograms(sample_sums, output, cutflow_output, metadata=metadata)
    run.remove_checkpoints()
    wall = time.perf_counter() - start
    summary.update(
        {
            "samples": [s.key for s in sample_sums],
            "events_processed": n_events,
            "executor": executor,
            "workers": workers,
            "chunksize": chunksize,
            "chunks": run.chunks,
            "peak_rss_mb": {k: round(v / 1024, 1) for k, v in run.peak_rss_kb.items()},
            "checkpoint_dir": str(folder) if folder is not None else None,
            "wall_time_s": round(wall, 3),
            "events_per_s": round(n_events / wall, 1) if wall > 0 else math.inf,
        }
    )
    return summary
