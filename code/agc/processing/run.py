"""Running the coffea processor over the selected samples, keeping whole files only.

:func:`run_processor` checks every local input (:func:`agc.processing.inputs.check_file`), runs
:class:`agc.analysis.processor.FileResolvedProcessor` with coffea's ``processor.Runner`` on
the chosen executor (:func:`agc.processing.executors.coffea_executor`), with per-chunk
checkpoints (:mod:`agc.processing.checkpoint`) when asked, and keeps a file only if its chunks
cover all its entries exactly once: a file is processed whole or not at all. Bad files stop the
run with one line naming them, or (``skip_bad_files``) are skipped and listed. It returns the
exact, unnormalised sums per sample (:class:`agc.processing.partials.SampleSums`) and the
samples as checked.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import resource
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coffea import processor
from coffea.processor.executor import FileMeta

from agc.analysis.inference import ModelBytes, load_models
from agc.analysis.processor import (
    CHUNK_OUTCOMES,
    AGCSchema,
    FileResolvedProcessor,
    PeakMemory,
    SumsArray,
    histogram_variations,
)
from agc.analysis.selection import CUTFLOW_STEPS
from agc.core import physics
from agc.core.config import ProcessingConfig
from agc.core.errors import AGCError
from agc.dataset.manifest import InputFile, SelectedSample, coffea_fileset
from agc.processing.checkpoint import (
    ChunkCheckpointer,
    checkpoint_problem,
    code_version,
    content_identity,
    file_key,
    remove_checkpoints,
)
from agc.processing.errors import translate_error
from agc.processing.executors import coffea_executor, parallel_map, quiet_coffea
from agc.processing.inputs import TREE, inspect_file
from agc.processing.partials import SampleSums, sorted_skipped
from agc.processing.progress import with_progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessingResult:
    """What one processing run produced.

    ``samples``: per-sample exact sums of the files processed (each with its ``skipped`` files);
    ``inputs``: the samples as checked (their good files, with ``entries`` and ``content``);
    ``chunks``: ``{"computed", "resumed", "failed", "total"}`` chunk counts (resumed = loaded
    from a checkpoint); ``peak_rss_kb``: ``{"workers": peak RSS of the processes that ran
    chunks, "driver": peak RSS of this process}`` [kB]; the checkpoint folder, code version and
    file keys of the run (for :meth:`remove_checkpoints`).
    """

    samples: list[SampleSums]
    inputs: list[SelectedSample]
    chunks: dict[str, int]
    peak_rss_kb: dict[str, int]
    checkpoint_dir: Path | None = None
    checkpoint_version: str = ""
    checkpoint_keys: list[str] = field(default_factory=list)

    def remove_checkpoints(self) -> None:
        """Delete this run's checkpoints (call once the final outputs are written)."""
        if self.checkpoint_dir is not None:
            remove_checkpoints(self.checkpoint_dir, self.checkpoint_version, self.checkpoint_keys)


@dataclass
class _CheckedFiles:
    """The inputs after the up-front checks, per dataset: the sample with its ``good`` files
    (checked local files carry ``entries`` and ``content``), the ``skipped`` records
    (``{"path", "nevts", "reason"}``); per ``(dataset, path)`` the number of ``entries``
    (known for checked local files, completed from coffea's metadata) and the ROOT file
    ``uuids`` of the checked local files."""

    good: dict[str, SelectedSample]
    skipped: dict[str, list[dict[str, Any]]]
    entries: dict[tuple[str, str], int] = field(default_factory=dict)
    uuids: dict[tuple[str, str], bytes] = field(default_factory=dict)

    def coffea_metadata(self) -> dict[FileMeta, dict[str, Any]]:
        """coffea's metadata cache of the checked local files (``{FileMeta: {"process",
        "variation", "numentries", "uuid"}}``, what its preprocessing would read from each
        file): with it the Runner cuts these files into chunks without opening them again."""
        cache: dict[FileMeta, dict[str, Any]] = {}
        for (name, path), file_uuid in self.uuids.items():
            sample = self.good[name]
            cache[FileMeta(name, path, TREE)] = {
                "process": sample.process,
                "variation": sample.variation,
                "numentries": self.entries[(name, path)],
                "uuid": file_uuid,
            }
        return cache


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


def _inspect(
    job: tuple[InputFile, str, tuple[str, ...]],
) -> tuple[InputFile, bytes] | str:
    """:func:`inspect_file` of ``(file, sample, branches)``: the checked file and its UUID, or
    the one-line reason it is bad (a string travels back from a worker process unchanged)."""
    item, name, branches = job
    try:
        return inspect_file(item, TREE, sample=name, branches=branches)
    except AGCError as exc:
        return str(exc)


def _check_files(
    samples: list[SelectedSample],
    skip_bad_files: bool,
    branches: tuple[str, ...] = physics.BRANCHES_READ,
    mapper: Callable[..., Iterable[Any]] = map,
) -> _CheckedFiles:
    """:func:`inspect_file` on every local file before any processing, spread by ``mapper`` (a
    ``map`` keeping the order: the executor's worker processes check files side by side); in
    the files' order, the first bad file raises, or (``skip_bad_files``) is recorded as skipped.
    A sample left without files is an error."""
    checked = _CheckedFiles(good={}, skipped={sample.key: [] for sample in samples})
    jobs = [
        (item, sample.key, branches)
        for sample in samples
        for item in sample.files
        if not item.remote
    ]
    outcomes = dict(
        zip(((name, item.path) for item, name, _ in jobs), mapper(_inspect, jobs), strict=True)
    )
    for sample in samples:
        name = sample.key
        good = []
        for item in sample.files:
            if item.remote:
                good.append(item)
                continue
            outcome = outcomes[(name, item.path)]
            if isinstance(outcome, str):
                if not skip_bad_files:
                    raise AGCError(outcome)
                checked.skipped[name].append(
                    {"path": item.path, "nevts": item.nevts, "reason": outcome}
                )
                log.warning("skipping bad input file: %s", outcome)
                continue
            good.append(outcome[0])
            checked.entries[(name, item.path)] = int(outcome[0].entries or 0)
            checked.uuids[(name, item.path)] = outcome[1]
        if not good:
            raise _all_files_bad(name, checked.skipped[name])
        checked.good[name] = sample.with_files(good)
    return checked


def _checkpoint_keys(good: dict[str, SelectedSample]) -> dict[tuple[str, str], str]:
    """``{(dataset, path): file_key}`` of every file to process: checkpoints are keyed by
    sample and file content (:func:`agc.processing.checkpoint.file_key`)."""
    keys: dict[tuple[str, str], str] = {}
    for name, sample in good.items():
        for item in sample.files:
            identity = "remote" if item.remote else content_identity(item.path, item.sha256)
            keys[(name, item.path)] = file_key(
                name, sample.process, sample.variation, item.path, identity
            )
    return keys


def _run_coffea(
    checked: _CheckedFiles,
    processing: ProcessingConfig,
    checkpointer: ChunkCheckpointer | None,
    executor: Any,
    models: ModelBytes | None = None,
) -> dict[str, Any]:
    """coffea's Runner over the good files on ``executor`` (of
    :func:`agc.processing.executors.coffea_executor`); the number of entries coffea read per
    file is added to ``checked.entries``. Returns the accumulated :class:`FileResolvedProcessor`
    output."""
    skip_bad_files = processing.skip_bad_files
    fileset = coffea_fileset(checked.good.values())
    runner_fileset = {
        name: {
            "files": entry["files"],
            "metadata": {k: entry["metadata"][k] for k in ("process", "variation")},
        }
        for name, entry in fileset.items()
    }
    cache: dict[Any, Any] = checked.coffea_metadata()
    captured = io.StringIO()
    output: dict[str, Any] = {}
    try:
        runner = processor.Runner(
            executor=with_progress(executor),  # chunks done / total on the terminal
            schema=AGCSchema,
            chunksize=processing.chunksize,
            metadata_cache=cache,
            # coffea's ``skipbadfiles=True`` only skips OSError (not e.g. a damaged
            # basket) and skips single chunks: take every exception, and complete files
            # only, in _whole_files.
            skipbadfiles=(Exception,) if skip_bad_files else False,
            checkpointer=checkpointer,
        )
        # coffea draws progress bars on stdout whatever ``status`` says and prints worker
        # tracebacks to stderr before re-raising: keep both out of the CLI's output and of
        # the one-line error (the captured text is logged).
        with quiet_coffea(), contextlib.redirect_stderr(captured):
            analysis = FileResolvedProcessor(skip_bad_files, models)
            output = runner(runner_fileset, analysis) or {}
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
            checked.entries.setdefault(
                (filemeta.dataset, filemeta.filename), int(meta["numentries"])
            )
    return output


def _whole_files(
    checked: _CheckedFiles,
    output: dict[str, Any],
    skip_bad_files: bool,
    use_inference: bool = False,
) -> list[SampleSums]:
    """Per sample, the sums of the files processed whole; the others are refused, or
    (``skip_bad_files``) dropped whole and recorded as skipped."""
    reasons: dict[tuple[str, str], str] = {}
    for dataset, filename, first, last, reason in sorted(output.get("failures", set())):
        reasons.setdefault((dataset, filename), f"entries {first}-{last} failed: {reason}")
    per_file = output.get("files", {})
    result = []
    for name, sample in checked.good.items():
        nevts = {item.path: item.nevts for item in sample.files}
        sums = SumsArray.zeros(
            histogram_variations(sample.process, sample.variation), use_inference
        )
        cutflow = dict.fromkeys(CUTFLOW_STEPS, 0)
        processed: list[str] = []
        skipped = checked.skipped[name]
        for path in sorted(nevts):
            piece = per_file.get(name, {}).get(path)
            problem = _coverage_problem(piece, checked.entries.get((name, path)))
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
            skipped.append({"path": path, "nevts": nevts[path], "reason": message})
        if not processed:
            raise _all_files_bad(name, sorted_skipped(skipped))
        result.append(
            SampleSums(
                process=sample.process,
                variation=sample.variation,
                xsec=float(sample.xsec),
                nevts=sum(nevts[p] for p in processed),
                files=processed,
                sums=sums.to_hist(),
                cutflow=cutflow,
                skipped=sorted_skipped(skipped),
            )
        )
    return result


def run_processor(
    samples: list[SelectedSample],
    processing: ProcessingConfig,
    checkpoint_dir: str | os.PathLike[str] | None = None,
) -> ProcessingResult:
    """Check the inputs, run the processor over ``samples``, keep whole files only.

    ``samples``: the selection of :meth:`agc.dataset.manifest.Manifest.select`; ``processing``:
    executor, workers, chunk size, scheduler, ``skip_bad_files`` and ``use_inference``
    (``max_files`` and ``checkpoints`` are applied by the caller: the selection is already
    sliced, ``checkpoint_dir`` is given or not). Without ``skip_bad_files`` the first bad file
    raises :class:`AGCError`; with it, bad files (found by :func:`check_file` or failing during
    processing) are skipped and recorded in the samples' ``skipped`` lists, and N_generated
    counts the processed files only. A sample whose files all fail is an error either way.
    ``checkpoint_dir``: per-chunk checkpoints
    (:class:`agc.processing.checkpoint.ChunkCheckpointer`) are read and written there (None: none).
    ``use_inference``: also fill the ML features (the BDTs of :data:`agc.core.physics.ML_MODEL_DIR`,
    the files checked for :data:`agc.core.physics.ML_BRANCHES_READ` too).
    """
    use_inference = processing.use_inference
    models = load_models() if use_inference else None
    branches = physics.BRANCHES_READ + (physics.ML_BRANCHES_READ if use_inference else ())
    remote = any(item.remote for sample in samples for item in sample.files)
    with (
        coffea_executor(
            processing.executor, processing.workers, processing.scheduler, 3 if remote else 0
        ) as executor,
        parallel_map(executor, processing.workers) as mapper,
    ):
        checked = _check_files(samples, processing.skip_bad_files, branches, mapper)
        checkpointer, version, keys = None, "", {}
        if checkpoint_dir is not None:
            version = code_version() + ("-ml" if use_inference else "")
            keys = _checkpoint_keys(checked.good)
            checkpointer = ChunkCheckpointer(Path(checkpoint_dir) / version, keys, use_inference)
        output = _run_coffea(checked, processing, checkpointer, executor, models)
    problem = checkpoint_problem(output)
    if problem:
        log.warning("%s", problem)
    result = _whole_files(checked, output, processing.skip_bad_files, use_inference)
    chunks = {k: int(output.get("chunks", {}).get(k, 0)) for k in CHUNK_OUTCOMES}
    chunks["total"] = sum(chunks.values())
    peak = output.get("peak_rss_kb", PeakMemory(0))
    return ProcessingResult(
        samples=result,
        inputs=list(checked.good.values()),
        chunks=chunks,
        peak_rss_kb={
            "workers": int(peak.kb),
            "driver": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
        },
        checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir is not None else None,
        checkpoint_version=version,
        checkpoint_keys=sorted(set(keys.values())),
    )
