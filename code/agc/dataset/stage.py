"""The dataset stage: make sure the inputs exist and record what the histogram stage processes.

Entry point: :func:`prepare_dataset` (notebook 00_dataset, ``agc`` CLI, workflow specs).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agc.core.errors import AGCError
from agc.core.fileio import fresh_directory, sha256_file, write_json, write_text
from agc.dataset.manifest import (
    EMBEDDED_KEYWORD,
    fileset,
    is_remote,
    load_manifest,
    resolve_inputs,
)

#: Per-sample marker files the CWL workflow scatters the histogram step over.
SAMPLES_FOLDER = "samples"
#: The stage's record of the selected samples, in the output folder.
DATASET_SUMMARY = "dataset.json"


def prepare_dataset(
    inputs: str = EMBEDDED_KEYWORD,
    samples: str = "all",
    max_files: int = -1,
    outdir: str = "outputs",
    *,
    recipe: str | os.PathLike[str] = "inputs/embedded.yaml",
) -> dict[str, Any]:
    """The dataset stage: make sure the inputs exist and say what the histogram stage processes.

    ``inputs == "embedded"`` generates the embedded default under ``data/embedded`` if it is
    missing or damaged (:func:`agc.dataset.generate.generate_dataset`); any other value is a manifest in
    the AGC layout, which is validated. Local input files must exist (URLs are not opened here).
    Writes ``{outdir}/dataset.json`` (per selected sample: files, events N_generated, effective
    cross-section [pb]) and ``{outdir}/samples/<process__variation>`` markers. Returns the summary;
    for the embedded default it also holds ``readback`` (:func:`agc.dataset.readback.summarize`,
    as its JSON object).
    """
    manifest_path = resolve_inputs(inputs)
    embedded = str(inputs) == EMBEDDED_KEYWORD
    if embedded:
        from agc.dataset.generate import DEFAULT_WORKERS, generate_dataset

        manifest_path = Path(
            generate_dataset(manifest_path.parent, recipe=recipe, workers=DEFAULT_WORKERS)
        )
    manifest = load_manifest(manifest_path)
    selected = fileset(manifest, samples, max_files)
    rows = []
    for key, entry in selected.items():
        meta = entry["metadata"]
        for path in entry["files"]:
            if not is_remote(path) and not Path(path).is_file():
                raise AGCError(f"{manifest_path}: input file of sample '{key}' not found: {path}")
        rows.append(
            {
                "sample": key,
                "process": meta["process"],
                "variation": meta["variation"],
                "files": len(entry["files"]),
                "events": meta["nevts"],
                "xsec_pb": meta["xsec"],
            }
        )
    summary: dict[str, Any] = {
        "inputs": str(inputs),
        "manifest_sha256": sha256_file(manifest_path),
        "max_files": max_files,
        "samples": rows,
    }
    write_json(Path(outdir) / DATASET_SUMMARY, summary)
    markers = fresh_directory(Path(outdir) / SAMPLES_FOLDER)
    for row in rows:
        write_text(markers / row["sample"], row["sample"] + "\n")
    if embedded:
        from agc.dataset.readback import summarize

        summary = {**summary, "readback": summarize(manifest_path).to_dict()}
    return summary
