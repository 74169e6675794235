"""The dataset stage: make sure the inputs exist and record what the histogram stage processes.

Entry point: :func:`prepare_dataset` (notebook 00_dataset, ``agc`` CLI, workflow specs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agc.core.errors import AGCError
from agc.core.fileio import fresh_directory, sha256_file, write_json, write_text
from agc.dataset.manifest import EMBEDDED_KEYWORD, Manifest, resolve_inputs

if TYPE_CHECKING:
    from agc.dataset.readback import Readback

#: Per-sample marker files the CWL workflow scatters the histogram step over.
SAMPLES_FOLDER = "samples"
#: The stage's record of the selected samples, in the output folder.
DATASET_SUMMARY = "dataset.json"


@dataclass(frozen=True)
class SampleRecord:
    """One selected sample: its files, generated events N_generated and effective
    cross-section [pb] (cross-section times filter efficiency)."""

    sample: str
    process: str
    variation: str
    files: int
    events: int
    xsec_pb: float

    def to_dict(self) -> dict[str, Any]:
        """One row of ``dataset.json``'s ``samples``."""
        return {
            "sample": self.sample,
            "process": self.process,
            "variation": self.variation,
            "files": self.files,
            "events": self.events,
            "xsec_pb": self.xsec_pb,
        }


@dataclass(frozen=True)
class DatasetRecord:
    """What the dataset stage selected: the content of ``dataset.json``, plus the read-back of
    the embedded default (``None`` for other inputs; not written to ``dataset.json``)."""

    inputs: str
    manifest_sha256: str
    max_files: int
    samples: tuple[SampleRecord, ...]
    readback: Readback | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``dataset.json`` (with ``readback`` when there is one)."""
        record: dict[str, Any] = {
            "inputs": self.inputs,
            "manifest_sha256": self.manifest_sha256,
            "max_files": self.max_files,
            "samples": [row.to_dict() for row in self.samples],
        }
        if self.readback is not None:
            record["readback"] = self.readback.to_dict()
        return record


def selected_samples(manifest_path: Path, samples: str, max_files: int) -> tuple[SampleRecord, ...]:
    """The samples of the manifest that ``samples``/``max_files`` select; every local input
    file must exist (URLs are not opened here)."""
    rows = []
    for sample in Manifest.load(manifest_path).select(samples, max_files):
        for item in sample.files:
            if not item.remote and not Path(item.path).is_file():
                raise AGCError(
                    f"{manifest_path}: input file of sample '{sample.key}' not found: {item.path}"
                )
        rows.append(
            SampleRecord(
                sample=sample.key,
                process=sample.process,
                variation=sample.variation,
                files=len(sample.files),
                events=sample.nevts,
                xsec_pb=sample.xsec,
            )
        )
    return tuple(rows)


def prepare_dataset(
    inputs: str = EMBEDDED_KEYWORD,
    samples: str = "all",
    max_files: int = -1,
    outdir: str = "outputs",
    format: str = "ttree",
    *,
    recipe: str | os.PathLike[str] = "inputs/embedded.yaml",
) -> DatasetRecord:
    """The dataset stage: make sure the inputs exist and say what the histogram stage processes.

    ``inputs == "embedded"`` generates the embedded default under ``data/embedded`` as ``format``
    (``"ttree"`` or ``"rntuple"``) files if it is missing, damaged or of the other format
    (:func:`agc.dataset.generate.generate_dataset`); any other value is a
    manifest in the AGC layout, which is validated. Local input files must exist. Writes
    ``{outdir}/dataset.json`` (:meth:`DatasetRecord.to_dict` without the read-back) and the
    ``{outdir}/samples/<process__variation>`` markers. For the embedded default the record also
    holds the read-back (:func:`agc.dataset.readback.summarize`).
    """
    manifest_path = resolve_inputs(inputs)
    embedded = str(inputs) == EMBEDDED_KEYWORD
    if embedded:
        from agc.dataset.generate import DEFAULT_WORKERS, generate_dataset

        manifest_path = Path(
            generate_dataset(
                manifest_path.parent, recipe=recipe, workers=DEFAULT_WORKERS, file_format=format
            )
        )
    record = DatasetRecord(
        inputs=str(inputs),
        manifest_sha256=sha256_file(manifest_path),
        max_files=max_files,
        samples=selected_samples(manifest_path, samples, max_files),
    )
    write_json(Path(outdir) / DATASET_SUMMARY, record.to_dict())
    markers = fresh_directory(Path(outdir) / SAMPLES_FOLDER)
    for row in record.samples:
        write_text(markers / row.sample, row.sample + "\n")
    if embedded:
        from agc.dataset.readback import summarize

        record = replace(record, readback=summarize(manifest_path))
    return record
