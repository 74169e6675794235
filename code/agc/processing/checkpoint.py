"""Per-chunk checkpoints of the histogram stage: a killed run resumes where it stopped.

:class:`ChunkCheckpointer` is a coffea :class:`~coffea.processor.CheckpointerABC`: the Runner
asks it for a chunk's result before processing the chunk (``load``) and hands it every result it
computed (``save``). One chunk [start, stop) of one input file is one ``.npz`` file (the exact,
unnormalised sums of :func:`agc.analysis.processor.chunk_output` and the cut flow; no pickle), written
atomically, at::

    <checkpoint_dir>/<code version>/<file key>/<ROOT file UUID>_<start>-<stop>.npz

- ``code version``: the first 16 hex digits of :func:`agc.core.codeversion.processing_hash` (the
  processing code; the rule is stated there once), so edited code never reuses an old result;
- ``file key`` (:func:`file_key`): sha256 of the dataset name, process, variation, the file's
  path and its content identity (the manifest's sha256 when it has one, else size and
  modification time; remote files: the ROOT UUID in the file name). These are all the inputs a
  chunk's result depends on: executor, worker count and chunk size do not change it (the chunk
  size only changes the entry ranges, which are part of the name), so a rerun with other
  workers or executor resumes too;
- the entry range.

Because the sums are exact (:mod:`agc.analysis.exactsum`), adding resumed and recomputed chunks in any order
gives the same bits as an uninterrupted run. The checkpointer never fails a run: an unreadable
or inconsistent checkpoint is recomputed; failed writes are recorded in the chunk's output and
reported as one line by the driver (:func:`checkpoint_problem`). Failed chunks are never
saved. After the final outputs are written, :func:`remove_checkpoints` deletes the run's
checkpoints (and those of other code versions).

With a remote dask scheduler the workers write checkpoints on *their* file system: resuming
needs the folder to be shared (as a REANA workspace is); correctness never depends on it, since
the final result comes from coffea's accumulation, not from the checkpoint files.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from coffea.processor import CheckpointerABC, ProcessorABC
from coffea.processor.executor import WorkItem

from agc.analysis.processor import SumsArray, chunk_output, histogram_variations
from agc.analysis.selection import CUTFLOW_STEPS
from agc.core.codeversion import processing_hash
from agc.core.errors import AGCError
from agc.core.fileio import atomic_path, canonical_json

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "agc-chunk-checkpoint/2"
#: Default folder name of the checkpoints, inside the output folder.
CHECKPOINT_DIRNAME = ".checkpoints"
SUFFIX = ".npz"
#: Key of the chunk output under which :meth:`ChunkCheckpointer.save` records failed writes.
CHECKPOINT_ERRORS = "checkpoint_errors"


def code_version() -> str:
    """16 hex digits of :func:`agc.core.codeversion.processing_hash` (the processing code)."""
    return processing_hash()[:16]


def content_identity(path: str, sha256: str | None = None) -> str:
    """What identifies the content of an input file: ``sha256:<hex>`` when the manifest has it,
    else ``stat:<size>:<mtime_ns>`` for a local file, else ``remote`` (the ROOT UUID, known only
    once the file is opened, then names each checkpoint)."""
    if sha256:
        return f"sha256:{sha256}"
    try:
        stat = os.stat(path)
    except OSError:
        return "remote"
    return f"stat:{stat.st_size}:{stat.st_mtime_ns}"


def file_key(dataset: str, process: str, variation: str, path: str, identity: str) -> str:
    """32 hex digits keying the checkpoints of one input file of one sample."""
    text = canonical_json(
        {
            "format": CHECKPOINT_FORMAT,
            "dataset": dataset,
            "process": process,
            "variation": variation,
            "path": path,
            "content": identity,
        }
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class ChunkCheckpointer(CheckpointerABC):
    """Atomic per-chunk checkpoints under ``root`` (already including the code version).

    ``file_keys``: ``{(dataset, path): file_key}`` of every file of the run; chunks of other
    files are neither loaded nor saved.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        file_keys: dict[tuple[str, str], str],
        use_inference: bool = False,
    ):
        self.root = Path(root).resolve()
        self.file_keys = dict(file_keys)
        self.use_inference = use_inference

    def filepath(self, metadata: dict[str, Any]) -> Path | None:
        """Where the chunk described by coffea's ``metadata`` is checkpointed (None: not ours)."""
        key = self.file_keys.get((metadata["dataset"], metadata["filename"]))
        if key is None:
            return None
        file_uuid = metadata.get("fileuuid") or "no-uuid"
        name = f"{file_uuid}_{int(metadata['entrystart'])}-{int(metadata['entrystop'])}{SUFFIX}"
        return self.root / key / name

    def load(self, metadata: Any, processor_instance: ProcessorABC) -> dict[str, Any] | None:
        """The saved result of this chunk as coffea's wrapped output, or None to compute it."""
        del processor_instance
        path = self.filepath(metadata)
        if path is None or not path.is_file():
            return None
        labels = histogram_variations(metadata["process"], metadata["variation"])
        sums = SumsArray.zeros(labels, self.use_inference)
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["format"]) != CHECKPOINT_FORMAT:
                    raise ValueError(f"format {data['format']!s}")
                if data["variations"].tolist() != labels:
                    raise ValueError("variations differ")
                values = data["sums"]
                cutflow = data["cutflow"]
            if values.shape != sums.values.shape or cutflow.shape != (len(CUTFLOW_STEPS),):
                raise ValueError(f"shape {values.shape}")
            sums.values[...] = values
        except Exception as exc:  # noqa: BLE001 (a bad checkpoint is recomputed, never fatal)
            log.warning("ignoring unreadable checkpoint %s: %s", path, exc)
            return None
        entry_range = (int(metadata["entrystart"]), int(metadata["entrystop"]))
        out = chunk_output(
            metadata["dataset"],
            metadata["filename"],
            entry_range,
            sums,
            dict(zip(CUTFLOW_STEPS, (int(n) for n in cutflow), strict=True)),
            outcome="resumed",
        )
        file_uuid = metadata.get("fileuuid") or ""
        item = WorkItem(
            metadata["dataset"],
            metadata["filename"],
            metadata["treename"],
            entry_range[0],
            entry_range[1],
            uuid.UUID(file_uuid).bytes if file_uuid else b"",
        )
        return {"out": out, "processed": {item}}

    def save(self, output: Any, metadata: Any, processor_instance: ProcessorABC) -> None:
        """Atomically write this chunk's sums and cut flow (failed chunks are not saved)."""
        del processor_instance
        path = self.filepath(metadata)
        out = output.get("out", output) if isinstance(output, dict) else None
        if path is None or not isinstance(out, dict) or out.get("failures"):
            return
        try:
            piece = out["files"][metadata["dataset"]][metadata["filename"]]
            sums = piece["sums"]
            with atomic_path(path) as tmp, open(tmp, "wb") as handle:
                np.savez(
                    handle,
                    format=np.array(CHECKPOINT_FORMAT),
                    variations=np.array(list(sums.variations)),
                    sums=sums.values,
                    cutflow=np.array(
                        [piece["cutflow"][step] for step in CUTFLOW_STEPS], dtype=np.int64
                    ),
                )
        except (OSError, AGCError, KeyError) as exc:
            # Reported once by the driver (checkpoint_problem), not once per chunk here.
            message = str(exc) if isinstance(exc, AGCError) else f"{path}: {exc}"
            out.setdefault(CHECKPOINT_ERRORS, set()).add(message)


def checkpoint_problem(output: dict[str, Any]) -> str | None:
    """The one line saying that checkpoints stopped, for a run ``output`` in which some could not
    be written (None when all were)."""
    errors = sorted(output.get(CHECKPOINT_ERRORS, ()))
    if not errors:
        return None
    return (
        f"checkpoints stopped: {errors[0]} ({len(errors)} chunk(s) not checkpointed; the run "
        "went on without them)"
    )


def remove_checkpoints(
    checkpoint_dir: str | os.PathLike[str], version: str, keys: list[str] | set[str]
) -> None:
    """Delete the checkpoints of ``keys`` (this run's files) and of every other code version
    under ``checkpoint_dir``; remove the emptied folders. Other files' checkpoints of the
    current code version (a concurrent run on other samples) are kept."""
    base = Path(checkpoint_dir)
    current = base / version
    for key in keys:
        shutil.rmtree(current / key, ignore_errors=True)
    if base.is_dir():
        for other in base.iterdir():
            if other.is_dir() and other.name != version:
                shutil.rmtree(other, ignore_errors=True)
    for folder in (current, base):
        with contextlib.suppress(OSError):  # absent or still holds another run's checkpoints
            folder.rmdir()
