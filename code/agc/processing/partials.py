"""Partial outputs: the exact, unnormalised sums of one sample as portable JSON.

A partial output (:func:`write_partial`, one ``{sample}.partial.json`` per sample, validated
against ``schemas/histograms_partial.schema.json``) holds the three fixed-point part sums
``hi``/``mid``/``lo`` (:mod:`agc.analysis.exactsum`) of every bin, region and variation
(sum of weights and of squared weights), the cut flow, N_generated of the files processed and
the files skipped. Grid values round-trip exactly in JSON, so :func:`combine` of partial
outputs read back (:func:`read_partial`) equals a single pass bit for bit.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hist
import numpy as np

from agc.analysis import exactsum
from agc.analysis.processor import (
    DATA_PROCESS,
    SUMS,
    empty_sums,
    histogram_variations,
    sums_regions,
)
from agc.analysis.selection import CUTFLOW_STEPS
from agc.core import physics
from agc.core.errors import AGCError
from agc.core.fileio import write_json
from agc.core.validation import validate
from agc.dataset.manifest import sample_key

#: held single sums of weights on a 2**-20 grid and is refused).
PARTIAL_FORMAT = "agc-histograms-partial/2"
PARTIAL_SUFFIX = ".partial.json"


@dataclass
class SampleSums:
    """Exact unnormalised sums of one sample (what a partial output holds).

    ``sums``: :func:`agc.analysis.processor.empty_sums` layout (region x variation x sum x observable);
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

    @property
    def use_inference(self) -> bool:
        """Whether the sums hold the ML features (:mod:`agc.analysis.assignment`)."""
        return list(self.sums.axes["region"]) == sums_regions(True)

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
    """How the partial output's sums are made (:mod:`agc.analysis.exactsum`); a reader refuses others."""
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
        "skipped_files": sorted_skipped(sample.skipped),
    }


def sorted_skipped(skipped: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Skipped-file records ``{"path", "nevts", "reason"}`` with plain types, sorted by path."""
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


def _load(path: Path) -> dict[str, Any]:
    """The JSON object of a partial output, its format and schema checked."""
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
    return data


def _sums_from_json(path: Path, data: dict[str, Any]) -> hist.Hist:
    """The :func:`agc.analysis.processor.empty_sums` histogram filled from ``data``'s
    ``sumw``/``sumw2`` blocks (every region, variation and ``nbins + 2`` values checked)."""
    nbins = physics.FILL_BINNING[0]
    labels = histogram_variations(data["process"], data["variation"])
    # With the ML extension the 20 features are regions too (agc.analysis.assignment).
    use_inference = sorted(data["sumw"]["hi"]) == sums_regions(True)
    regions = sums_regions(use_inference)
    sums = empty_sums(labels, use_inference)
    view = sums.view(flow=True)
    for s_index, which in enumerate(SUMS):
        for p_index, part in enumerate(exactsum.PARTS):
            block = data[which][part]
            where = f"{which}/{part}"
            if sorted(block) != regions:
                raise AGCError(f"{path}: '{where}' has regions {sorted(block)}, expected {regions}")
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
    return sums


def read_partial(path: str | os.PathLike[str]) -> SampleSums:
    """Read and validate one partial output (AGCError naming the file on any problem)."""
    path = Path(path)
    data = _load(path)
    return SampleSums(
        process=data["process"],
        variation=data["variation"],
        xsec=float(data["xsec"]),
        nevts=int(data["nevts"]),
        files=list(data["files"]),
        sums=_sums_from_json(path, data),
        cutflow=dict(data["cutflow"]),
        skipped=list(data.get("skipped_files", [])),
        cache_key=data.get("cache_key"),
    )


def without_ml(sample: SampleSums) -> SampleSums:
    """``sample`` with the ML features' regions dropped (the sums of the analysis regions are
    copied unchanged); ``sample`` itself if it has none."""
    if not sample.use_inference:
        return sample
    sums = empty_sums(list(sample.sums.axes["variation"]))
    view, source = sums.view(flow=True), sample.sums.view(flow=True)
    regions = list(sample.sums.axes["region"])
    for r_index, region in enumerate(sums.axes["region"]):
        view[r_index] = source[regions.index(region)]
    return dataclasses.replace(sample, sums=sums)


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
        have.skipped = sorted_skipped([*have.skipped, *piece.skipped])
    return [merged[k] for k in sorted(merged)]
