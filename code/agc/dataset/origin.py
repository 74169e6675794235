"""What a run's events are: the package's synthetic NanoAOD or CMS Open Data.

The figures say it in their label (:mod:`agc.plots.figures`). A manifest lists the synthetic
dataset when the generator's record (``generation.json``, :mod:`agc.dataset.generate`) lies
beside it, as :func:`agc.dataset.generate.generate_dataset` writes it; any other manifest in the
AGC layout lists CMS Open Data files. A run's origin follows the ``inputs`` its dataset stage
recorded in ``<outdir>/dataset.json`` (:mod:`agc.dataset.stage`).
"""

from __future__ import annotations

import enum
import json
import os
from pathlib import Path

from agc.dataset.manifest import EMBEDDED_KEYWORD, GENERATION_RECORD, resolve_inputs

#: The dataset stage's record in the output folder (:data:`agc.dataset.stage.DATASET_SUMMARY`).
DATASET_RECORD = "dataset.json"


class DataOrigin(enum.Enum):
    """Where the events of a run come from."""

    #: Synthetic NanoAOD made by ``agc generate`` (the embedded default dataset).
    SYNTHETIC = "synthetic"
    #: CMS 2015 Open Data simulation (the AGC file list or any other manifest).
    CMS_OPEN_DATA = "cms-open-data"


def manifest_origin(inputs: str | os.PathLike[str]) -> DataOrigin:
    """The origin of the events the ``inputs`` parameter names (``"embedded"`` or a manifest
    path): synthetic for ``"embedded"`` and for a manifest with ``generation.json`` beside it,
    CMS Open Data otherwise."""
    if str(inputs) == EMBEDDED_KEYWORD:
        return DataOrigin.SYNTHETIC
    if (resolve_inputs(inputs).parent / GENERATION_RECORD).is_file():
        return DataOrigin.SYNTHETIC
    return DataOrigin.CMS_OPEN_DATA


def run_origin(outdir: str | os.PathLike[str]) -> DataOrigin | None:
    """The origin of a run's events from ``<outdir>/dataset.json`` (:func:`manifest_origin` of
    its ``inputs``); ``None`` when the run has no readable dataset record."""
    record = Path(outdir) / DATASET_RECORD
    try:
        inputs = json.loads(record.read_text(encoding="utf-8")).get("inputs")
    except (OSError, ValueError, AttributeError):
        return None
    return manifest_origin(inputs) if isinstance(inputs, str) and inputs.strip() else None
