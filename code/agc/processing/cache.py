"""Content-addressed cache of per-sample histogram sums (the exact, unnormalised partial outputs).

A signal swap must recompute the new signal's histograms only: the backgrounds and ttbar come
from here. An entry is one sample's partial output (:func:`agc.processing.partials.write_partial`),
in ``<cache root>/<key>/partial.json`` beside ``key.json`` (what the key was computed from).
The key (:mod:`agc.processing.cachekey`) covers the inputs' content, the sample, its
cross-section and the version of the event-processing code, whose one rule is stated in
:mod:`agc.core.codeversion` (:func:`~agc.core.codeversion.processing_hash`: the sources of
``agc.core``, ``agc.dataset`` and ``agc.processing``). File paths, executor, worker count and
chunk size are not part of it: the sums are exact, so they do not depend on them. An entry is
written to a temporary folder and renamed into place (atomic); a damaged entry is reported and
recomputed, never used.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agc.core.config import ProcessingConfig
from agc.core.errors import AGCError
from agc.core.fileio import write_json
from agc.dataset.manifest import SelectedSample
from agc.processing.cachekey import cache_key, hashed, key_inputs, with_inference
from agc.processing.partials import SampleSums, read_partial, without_ml, write_partial
from agc.processing.run import run_processor

log = logging.getLogger(__name__)

PARTIAL_NAME = "partial.json"
KEY_NAME = "key.json"


@dataclass
class HistogramCache:
    """The cache folder ``root`` (e.g. ``outputs/cache``)."""

    root: Path

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    def entry(self, key: str) -> Path:
        """Folder of the entry ``key``."""
        return self.root / key

    def get(self, key: str) -> SampleSums | None:
        """The cached sums of ``key``, or None if absent or damaged (a damaged entry is removed)."""
        folder = self.entry(key)
        partial = folder / PARTIAL_NAME
        if not partial.is_file():
            return None
        try:
            return read_partial(partial)
        except AGCError as exc:
            log.warning("ignoring damaged cache entry %s: %s", folder, exc)
            shutil.rmtree(folder, ignore_errors=True)
            return None

    def put(self, key: str, sample: SampleSums, inputs: dict[str, Any]) -> Path:
        """Store ``sample`` under ``key`` atomically (temporary folder, then rename)."""
        if sample.skipped:
            raise AGCError(f"sample '{sample.key}': a run that skipped input files is not cached")
        folder = self.entry(key)
        if (folder / PARTIAL_NAME).is_file():
            return folder
        self.root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{key[:16]}.", dir=self.root))
        try:
            write_partial(work / PARTIAL_NAME, sample)
            write_json(work / KEY_NAME, {**inputs, "key": key})
            try:
                os.replace(work, folder)
            except OSError:
                if not (folder / PARTIAL_NAME).is_file():  # not a concurrent writer's entry
                    raise
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
        return folder


@dataclass
class CachedRun:
    """Result of :func:`cached_process_samples`: the sums (sorted by sample key), the samples
    taken from the cache (``hits``; of which ``seeded`` came from a seed partial output) and
    those processed (``computed``), and the keys."""

    samples: list[SampleSums]
    hits: list[str] = field(default_factory=list)
    seeded: list[str] = field(default_factory=list)
    computed: list[str] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)


def _seed(
    cache: HistogramCache,
    seeds: Iterable[str | os.PathLike[str]],
    missing: list[str],
    keys: dict[str, str],
    inputs_of: dict[str, dict[str, Any]],
    ml_keys: dict[str, str],
) -> dict[str, SampleSums]:
    """The samples of ``missing`` found among the partial outputs ``seeds`` by their recorded
    ``cache_key``, stored in ``cache`` (an unreadable seed is logged and ignored). A seed with
    the ML features serves a request without them (``ml_keys``: the key each sample would
    have with them), its features dropped."""
    wanted = {keys[name]: name for name in missing}
    wanted.update({ml_keys[name]: name for name in missing if name in ml_keys})
    found: dict[str, SampleSums] = {}
    for path in seeds:
        try:
            sample = read_partial(path)
        except AGCError as exc:  # a seed only saves work: never fatal
            log.warning("ignoring seed partial output: %s", exc)
            continue
        name = wanted.get(sample.cache_key or "")
        if name is None or name in found:
            continue
        if sample.cache_key != keys[name]:
            sample = without_ml(sample)
            sample.cache_key = keys[name]
        cache.put(keys[name], sample, inputs_of[name])
        found[name] = sample
        log.info("cache: %s taken from %s", name, path)
    return found


def cached_process_samples(
    samples: list[SelectedSample],
    cache_dir: str | os.PathLike[str],
    processing: ProcessingConfig | None = None,
    *,
    seeds: Iterable[str | os.PathLike[str]] = (),
) -> CachedRun:
    """The exact per-sample sums of ``samples`` (:meth:`agc.dataset.manifest.Manifest.select`),
    from the cache in ``cache_dir`` where possible.

    ``seeds``: partial outputs of an earlier run (e.g. the workflow's ``outputs/partial``); one
    whose recorded ``cache_key`` equals the key of a sample not in the cache is stored there
    and used (the key covers the inputs' content and the processing code, so a stale partial
    never matches). The samples still missing are processed together in one
    :func:`agc.processing.run.run_processor` call (so they share the executor) and stored.
    ``processing``: as :func:`agc.processing.histograms.run_histograms` (``use_inference`` too;
    ``max_files`` and ``checkpoints`` are not used: the selection is sliced already and a
    cached run keeps no checkpoints). Every local file is read once: hashed for its key, then
    checked without hashing again.
    """
    processing = processing if processing is not None else ProcessingConfig()
    use_inference = processing.use_inference
    cache = HistogramCache(Path(cache_dir))
    chosen = {sample.key: hashed(sample) for sample in samples}
    found: dict[str, SampleSums] = {}
    inputs_of: dict[str, dict[str, Any]] = {}
    keys: dict[str, str] = {}
    missing: list[str] = []
    for name, sample in chosen.items():
        inputs_of[name] = key_inputs(sample, use_inference)
        keys[name] = cache_key(inputs_of[name])
        hit = cache.get(keys[name])
        if hit is None:
            missing.append(name)
            continue
        found[name] = hit
    seeded: dict[str, SampleSums] = {}
    if missing and seeds:
        ml_keys: dict[str, str] = {}
        if not use_inference:  # a run with the ML features may seed one without
            ml_keys = {name: cache_key(with_inference(inputs_of[name])) for name in missing}
        seeded = _seed(cache, seeds, missing, keys, inputs_of, ml_keys)
        found.update(seeded)
        missing = [name for name in missing if name not in found]
    for name, sample in chosen.items():  # same content as the key says: the current paths
        if name in found:
            found[name].files = sorted(sample.paths)
    if missing:
        events = sum(chosen[name].nevts for name in missing)
        if processing.executor == "futures" and events <= processing.chunksize:
            # One chunk's work (a swap's signal sample): starting a process pool would cost
            # more than the processing; the sums are the same for any executor.
            log.info("cache: %d events to process, iterative executor", events)
            processing = processing.replace(executor="iterative")
        computed = run_processor([chosen[name] for name in missing], processing).samples
        for sample in computed:
            sample.cache_key = keys[sample.key]
            cache.put(keys[sample.key], sample, inputs_of[sample.key])
            found[sample.key] = sample
    return CachedRun(
        samples=[found[k] for k in sorted(found)],
        hits=sorted(set(found) - set(missing)),
        seeded=sorted(seeded),
        computed=sorted(missing),
        keys=dict(sorted(keys.items())),
    )
