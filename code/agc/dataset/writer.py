"""Writing the generated ROOT files: one file of one sample per job, in parallel processes.

Files are independent (event *i* depends on the seed, the sample and its block only), so
``workers`` processes write them, with the same bytes for any number of workers. Each file is
streamed block by block (``block_size`` events of the recipe, one block in memory) into a tree
with the NanoAOD layout of :mod:`agc.dataset.branches` (a TTree, or with ``file_format="rntuple"``
an RNTuple whose clusters are the same slices), through
:func:`agc.core.rootio.reproducible_recreate` (fixed UUID and clock: the recorded sha256 of the
bytes is reproducible; numpy's SIMD-dispatched ``sin``/``exp``/``log`` may differ in the last bit
between CPU families, so "bit for bit" holds for machines with the same numpy build and
instruction set).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import uproot
from uproot.writing._cascadetree import Tree

from agc.core.fileio import sha256_file
from agc.core.progress import bar
from agc.core.rootio import reproducible_recreate
from agc.dataset.branches import (
    BRANCH_TYPES,
    DEFAULT_FORMAT,
    TREE_NAME,
    counter_name,
    ntuple_types,
    tree_types,
    with_counters,
)
from agc.dataset.events import generate_events
from agc.dataset.manifest import sample_key
from agc.dataset.recipe import n_files
from agc.dataset.seeds import EVENTS_PER_LUMI, aux_rng, block_rng, lumi_base, sample_seed

__all__ = ["FileJob", "write_file", "write_files"]


class FileJob(NamedTuple):
    """One file to write: file ``index`` of sample (process, variation) of the recipe, whose
    ``n_events`` generated events are split over the sample's files, into ``out_dir``, as a
    ``file_format`` file (:data:`agc.dataset.branches.FORMATS`)."""

    out_dir: Path
    process: str
    variation: str
    recipe: dict[str, Any]
    n_events: int
    index: int
    file_format: str = DEFAULT_FORMAT


@contextlib.contextmanager
def _unsigned_counters() -> Iterator[None]:
    """Make uproot's generated count branches ``uint32`` (``nJet/i``) like the real NanoAOD file.

    uproot (5.7) hard-codes ``int32`` counters; this wraps the private ``Tree._branch_np`` only
    while the tree is declared (``mktree``), under :func:`reproducible_recreate`'s lock.
    """
    original = Tree._branch_np

    def patched(
        self: Any, name: str, btype: Any, bdtype: Any, counter: Any = None, kind: str = "normal"
    ) -> Any:
        if kind == "counter":
            btype = bdtype = np.dtype(np.uint32)
        return original(self, name, btype, bdtype, counter=counter, kind=kind)

    Tree._branch_np = patched  # type: ignore[method-assign]
    try:
        yield
    finally:
        Tree._branch_np = original  # type: ignore[method-assign]


def _compression(recipe: dict[str, Any]) -> Any:
    """The recipe's ROOT compression (default ZLIB level 1, as the real file)."""
    comp = recipe.get("compression", {"algorithm": "ZLIB", "level": 1})
    return getattr(uproot, comp["algorithm"])(comp["level"])


class _BlockStream:
    """Events [start, stop) of one sample, generated block by block (one block cached).

    Positions count *generated* events; with a preselection a slice holds only the events of
    that range that pass it (``n_kept`` counts them), so the content still does not depend on
    the file split.
    """

    def __init__(
        self,
        cfg: dict[str, Any],
        detector: dict[str, Any],
        seed: int,
        block_size: int,
        identity: tuple[str, str],
        preselection: dict[str, Any] | None = None,
    ):
        self.cfg, self.detector, self.seed, self.block_size = cfg, detector, seed, block_size
        self.preselection = preselection
        self.lumi_base = lumi_base(*identity)
        self._cached: tuple[int, dict[str, Any]] | None = None
        self.n_kept = 0

    def _block(self, index: int, n_total: int) -> dict[str, Any]:
        """Block ``index`` of the sample (``n_total`` generated events) with event identity."""
        if self._cached is None or self._cached[0] != index:
            start = index * self.block_size
            n = min(self.block_size, n_total - start)
            arrays = generate_events(
                self.cfg,
                self.detector,
                block_rng(self.seed, index),
                n,
                self.preselection,
                aux_rng(self.seed, index),
            )
            number = start + arrays["index"].astype(np.uint64)
            lumi = self.lumi_base + number // EVENTS_PER_LUMI
            arrays["run"] = np.ones(len(number), np.uint32)
            arrays["luminosityBlock"] = lumi.astype(np.uint32)
            arrays["event"] = lumi * EVENTS_PER_LUMI + number % EVENTS_PER_LUMI + 1
            self._cached = (index, arrays)
        return self._cached[1]

    def slices(self, start: int, stop: int, n_total: int) -> Iterator[dict[str, Any]]:
        """Branches (:data:`BRANCH_TYPES`) of the kept events among generated [start, stop)."""
        position = start
        while position < stop:
            index = position // self.block_size
            block = self._block(index, n_total)
            lo = position - index * self.block_size
            hi = min(stop, (index + 1) * self.block_size) - index * self.block_size
            first, last = np.searchsorted(block["index"], [lo, hi])
            if last > first:
                self.n_kept += int(last - first)
                yield {name: block[name][first:last] for name in BRANCH_TYPES}
            position += hi - lo


def _file_sizes(n_events: int, n_files: int) -> list[int]:
    """Generated events per file: ``n_events`` split as evenly as possible, larger files first."""
    base, extra = divmod(n_events, n_files)
    return [base + (1 if i < extra else 0) for i in range(n_files)]


def write_file(
    out_dir: Path,
    process: str,
    variation: str,
    recipe: dict[str, Any],
    n_events: int,
    index: int,
    file_format: str = DEFAULT_FORMAT,
) -> dict[str, Any]:
    """Write file ``index`` of one sample of ``n_events`` generated events; return its manifest entry.

    File ``index`` holds the generated events of its share of [0, n_events) (those passing the
    preselection, if any); the files of a sample can be written independently. ``file_format``
    ``"ttree"`` writes the TTree ``Events``, ``"rntuple"`` the RNTuple ``Events`` (same names,
    values and compression; one cluster per generated block slice).
    """
    cfg = recipe["samples"][process][variation]
    seed = sample_seed(recipe["seed"], process, variation)
    block_size = int(recipe.get("block_size", 50_000))
    stream = _BlockStream(
        cfg,
        recipe["detector"],
        seed,
        block_size,
        (process, variation),
        recipe.get("preselection"),
    )
    sizes = _file_sizes(n_events, n_files(cfg, n_events))
    start = sum(sizes[:index])
    name = f"{sample_key(process, variation)}_{index}.root"
    path = out_dir / name
    with reproducible_recreate(path, compression=_compression(recipe)) as handle:
        if file_format == "rntuple":
            ntuple = handle.mkrntuple(TREE_NAME, ntuple_types())
            for part in stream.slices(start, start + sizes[index], n_events):
                ntuple.extend(with_counters(part))
        else:
            with _unsigned_counters():
                tree = handle.mktree(TREE_NAME, tree_types(), counter_name=counter_name)
            for part in stream.slices(start, start + sizes[index], n_events):
                tree.extend(part)
    return {
        "path": name,
        "nevts": stream.n_kept,
        "sha256": sha256_file(path),
        "size": path.stat().st_size,
    }


def _file_job(job: FileJob) -> dict[str, Any]:
    """Write one file (a top-level function: the pool pickles it)."""
    return write_file(*job)


def write_files(jobs: list[FileJob], workers: int) -> list[dict[str, Any]]:
    """Write every file (``workers`` processes, largest files first); entries in job order.

    Each event depends only on (seed, sample, block), so the bytes do not depend on ``workers``.
    Files written / total show on the progress bar (:func:`agc.core.progress.bar`).
    """
    if workers <= 1 or len(jobs) <= 1:
        return [_file_job(job) for job in bar(jobs, desc="generate", unit="files")]

    def share(job: FileJob) -> float:
        return job.n_events / n_files(
            job.recipe["samples"][job.process][job.variation], job.n_events
        )

    order = sorted(range(len(jobs)), key=lambda i: -share(jobs[i]))
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(
        min(workers, len(jobs)), mp_context=context
    ) as pool:
        futures = {i: pool.submit(_file_job, jobs[i]) for i in order}
        finished = concurrent.futures.as_completed(futures.values())
        for _ in bar(finished, desc="generate", total=len(jobs), unit="files"):
            pass
        return [futures[i].result() for i in range(len(jobs))]
