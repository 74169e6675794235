"""The optimise step of the workflows, without JAX until a threshold is to be optimised:
``optimise="none"`` writes only ``<outdir>/optimise/NOTE.txt``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agc.core.fileio import fresh_directory, write_text
from agc.dataset.manifest import Manifest, resolve_inputs
from agc.optimise.thresholds import NO_THRESHOLD, threshold

#: The step's folder under ``outdir`` and the note of a run that optimises nothing.
OPTIMISE_DIR = "optimise"
NOTE = "NOTE.txt"


def run_step(params: dict[str, Any], provenance: Callable[..., dict[str, Any]]) -> Any:
    """Empty ``<outdir>/optimise`` and optimise ``params["optimise_cut"]`` on the manifest
    ``params["inputs"]`` (first ``params["max_files"]`` files per sample)
    (:func:`agc.optimise.pipeline.optimise`); with ``"none"``, write the note and return ``{}``.
    ``params``: validated workflow parameters; ``provenance(params, manifest=, manifest_path=)``:
    the record of the result (the stage passes :func:`agc.publish.provenance.collect`: code
    version, lock hash, library versions, parameters, input checksums)."""
    folder = fresh_directory(Path(params["outdir"]) / OPTIMISE_DIR)
    if params["optimise_cut"] == NO_THRESHOLD:
        write_text(
            folder / NOTE,
            "optimise_cut=none: no selection threshold optimised.\n"
            "Run with optimise_cut=btag or jet_pt (agc optimise --optimise-cut btag).\n",
        )
        print(
            f"agc optimise: optimise_cut is none, nothing to do (see {folder / NOTE})",
            file=sys.stderr,
        )
        return {}
    from agc.optimise.pipeline import optimise

    chosen = threshold(params["optimise_cut"])
    path = resolve_inputs(params["inputs"])
    manifest = Manifest.load(path)
    record = provenance(params, manifest=manifest.data, manifest_path=Path(path))
    return optimise(manifest, chosen, folder, max_files=params["max_files"], provenance=record)
