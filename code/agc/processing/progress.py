"""Chunks done / total of the histogram step, on the project's progress bar
(:func:`agc.core.progress.bar`).

:func:`with_progress` wraps the coffea executor of a processing run so that its chunks are
counted as they finish: the iterative executor counts each call, the futures executor its
pool's finished futures, the Dask executor its client's chunk futures (done callbacks). The
futures and Dask executors get the chunks longest first
(:func:`agc.processing.executors.largest_first`). coffea's own ``status=True`` bar (rich) is
not used: it draws on stdout, which a papermill kernel stores in the notebook and the ``agc``
commands keep for their result, and it never reaches a step's log. The processing itself is
unchanged.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from coffea import processor
from tqdm import tqdm

from agc.core.progress import Counter, bar
from agc.processing.executors import largest_first

#: Label of the chunk bar.
LABEL = "histograms"


class _CountingPool(concurrent.futures.Executor):
    """A futures pool that counts its finished futures (any outcome) with ``count``."""

    def __init__(self, pool: concurrent.futures.Executor, count: Counter) -> None:
        self._pool = pool
        self._count = count

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        future = self._pool.submit(fn, *args, **kwargs)
        future.add_done_callback(self._count)
        return future

    def shutdown(self, wait: bool = True, **options: Any) -> None:
        # loky's pool takes kill_workers, the standard library's cancel_futures: pass them on
        self._pool.shutdown(wait=wait, **options)


def _pool_factory(
    pool: Any, count: Counter
) -> Callable[..., concurrent.futures.Executor] | concurrent.futures.Executor:
    """What FuturesExecutor's ``pool`` becomes: the same pool class or instance, counting."""
    if isinstance(pool, concurrent.futures.Executor):
        return _CountingPool(pool, count)

    def make(max_workers: int) -> concurrent.futures.Executor:
        return _CountingPool(pool(max_workers=max_workers), count)

    return make


def _chunk_bar(total: int, how: str) -> tqdm:
    """The bar of ``total`` chunks processed ``how`` (e.g. ``"futures, 2 processes"``)."""
    return bar(desc=f"{LABEL} ({how})", total=total, unit="chunks")


def _is_chunk_run(executor: processor.executor.ExecutorBase) -> bool:
    # coffea's Runner copies the executor with unit="chunk" for the processing (preprocessing
    # fetches file metadata with unit="file" through the same executor): count chunks only.
    return executor.unit == "chunk"


@dataclass
class ProgressIterativeExecutor(processor.IterativeExecutor):
    """coffea's IterativeExecutor counting its chunks on a progress bar."""

    def __call__(self, items: Any, function: Callable[..., Any], accumulator: Any) -> Any:
        if not _is_chunk_run(self) or len(items) == 0:
            return super().__call__(items, function, accumulator)
        with _chunk_bar(len(items), "iterative") as chunks:

            def counted(item: Any) -> Any:
                result = function(item)
                chunks.update()
                return result

            return super().__call__(items, counted, accumulator)


@dataclass
class ProgressFuturesExecutor(processor.FuturesExecutor):
    """coffea's FuturesExecutor counting its finished chunks on a progress bar."""

    def __call__(self, items: Any, function: Callable[..., Any], accumulator: Any) -> Any:
        if not _is_chunk_run(self) or len(items) == 0:
            return super().__call__(items, function, accumulator)
        with _chunk_bar(len(items), f"futures, {self.workers} processes") as chunks:
            count = Counter(chunks)
            counting = replace(self, pool=_pool_factory(self.pool, count))
            result = processor.FuturesExecutor.__call__(
                counting, largest_first(items), function, accumulator
            )
            count.complete()
            return result


class _CountingClient:
    """A Dask client whose first ``total`` mapped futures (the chunks; the reductions are
    mapped after them) are counted with ``count`` as they finish; the rest is the client's."""

    def __init__(self, client: Any, total: int, count: Counter) -> None:
        self._client = client
        self._uncounted = total
        self._count = count

    def map(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        futures = self._client.map(func, *args, **kwargs)
        if self._uncounted > 0:
            self._uncounted -= len(futures)
            for future in futures:
                future.add_done_callback(self._count)
        return futures

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@dataclass
class ProgressDaskExecutor(processor.DaskExecutor):
    """coffea's DaskExecutor counting its finished chunks (distributed futures' done
    callbacks) on a progress bar."""

    def __call__(self, items: Any, function: Callable[..., Any], accumulator: Any) -> Any:
        if not _is_chunk_run(self) or len(items) == 0 or self.client is None:
            return super().__call__(items, function, accumulator)
        with _chunk_bar(len(items), "dask") as chunks:
            count = Counter(chunks)
            counting = replace(self, client=_CountingClient(self.client, len(items), count))
            result = processor.DaskExecutor.__call__(
                counting, largest_first(items), function, accumulator
            )
            count.complete()
            return result


_WRAPPED: dict[type, type] = {
    processor.IterativeExecutor: ProgressIterativeExecutor,
    processor.FuturesExecutor: ProgressFuturesExecutor,
    processor.DaskExecutor: ProgressDaskExecutor,
}


def with_progress(executor: Any) -> Any:
    """``executor`` (a coffea executor) as its chunk-counting counterpart, same settings; an
    executor of another type is returned unchanged."""
    wrapped = _WRAPPED.get(type(executor))
    if wrapped is None:
        return executor
    return wrapped(**{name: getattr(executor, name) for name in executor.__dataclass_fields__})
