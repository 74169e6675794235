"""Chunks done / total of the histogram step, for the person watching the run.

:func:`with_progress` wraps the coffea executor of a processing run so that, while the chunks
are processed, lines such as ``[agc histograms] chunks 12/40 (30 %), 4.1 s`` are written to
the process's own standard error (``sys.__stderr__``: the terminal of ``make run`` even inside a
papermill kernel, whose ``sys.stderr`` would go into the notebook). A line is written when
another tenth of the chunks is done or :data:`MIN_INTERVAL_S` seconds have passed, and at the
end. Counting happens in this process: the iterative executor counts each call, the futures
executor counts its pool's finished futures (done callbacks); a Dask run reports its total and
its end only (Dask's dashboard shows the rest). The processing itself is unchanged.
"""

from __future__ import annotations

import concurrent.futures
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TextIO

from coffea import processor

#: Prefix of every progress line.
LABEL = "[agc histograms]"
#: A line at least this often [s] while chunks finish (besides every tenth of them).
MIN_INTERVAL_S = 10.0


class ChunkProgress:
    """Counts finished chunks out of ``total`` and writes progress lines to ``stream``
    (default ``sys.__stderr__``); thread-safe (done callbacks run in the pool's thread)."""

    def __init__(self, total: int, stream: TextIO | None = None, label: str = LABEL) -> None:
        self.total = total
        self.done = 0
        self._stream = stream
        self._label = label
        self._lock = threading.Lock()
        self._started = time.perf_counter()
        self._last_time = self._started
        self._last_tenth = 0
        self._finished = False

    def _write(self, text: str) -> None:
        stream = self._stream if self._stream is not None else sys.__stderr__
        if stream is not None:
            stream.write(f"{self._label} {text}\n")
            stream.flush()

    def start(self, what: str) -> None:
        """The first line: how many chunks, on what."""
        self._write(f"{self.total} chunks to process ({what})")

    def advance(self, count: int = 1) -> None:
        """``count`` more chunks finished: a line when due (nothing after :meth:`finish`)."""
        with self._lock:
            if self._finished:
                return
            self.done += count
            now = time.perf_counter()
            tenth = 10 * self.done // max(self.total, 1)
            if tenth > self._last_tenth or now - self._last_time >= MIN_INTERVAL_S:
                self._last_tenth, self._last_time = tenth, now
                self._line(now)

    def _line(self, now: float) -> None:
        percent = 100 * self.done // max(self.total, 1)
        self._write(f"chunks {self.done}/{self.total} ({percent} %), {now - self._started:.1f} s")

    def finish(self, completed: bool) -> None:
        """The last line: all chunks done (``completed``: the executor returned; a done
        callback may still be on its way) unless already written, or where the run stopped."""
        with self._lock:
            if self._finished:
                return
            self._finished = True
            now = time.perf_counter()
            if completed and self._last_tenth < 10:
                self.done = self.total
                self._line(now)
            elif not completed:
                self._write(
                    f"stopped after {self.done}/{self.total} chunks, {now - self._started:.1f} s"
                )


class _CountingPool(concurrent.futures.Executor):
    """A futures pool that counts its finished futures (any outcome) on ``progress``."""

    def __init__(self, pool: concurrent.futures.Executor, progress: ChunkProgress) -> None:
        self._pool = pool
        self._progress = progress

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        future = self._pool.submit(fn, *args, **kwargs)
        future.add_done_callback(lambda _: self._progress.advance())
        return future

    def shutdown(self, wait: bool = True, **options: Any) -> None:
        # loky's pool takes kill_workers, the standard library's cancel_futures: pass them on
        self._pool.shutdown(wait=wait, **options)


def _pool_factory(
    pool: Any, progress: ChunkProgress
) -> Callable[..., concurrent.futures.Executor] | concurrent.futures.Executor:
    """What FuturesExecutor's ``pool`` becomes: the same pool class or instance, counting."""
    if isinstance(pool, concurrent.futures.Executor):
        return _CountingPool(pool, progress)

    def make(max_workers: int) -> concurrent.futures.Executor:
        return _CountingPool(pool(max_workers=max_workers), progress)

    return make


def _run(progress: ChunkProgress, call: Callable[[], Any]) -> Any:
    """``call()`` (the executor's run), then the last progress line."""
    try:
        result = call()
    except BaseException:
        progress.finish(completed=False)
        raise
    progress.finish(completed=True)
    return result


def _is_chunk_run(executor: processor.executor.ExecutorBase) -> bool:
    # coffea's Runner copies the executor with unit="chunk" for the processing (preprocessing
    # fetches file metadata with unit="file" through the same executor): count chunks only.
    return executor.unit == "chunk"


@dataclass
class ProgressIterativeExecutor(processor.IterativeExecutor):
    """coffea's IterativeExecutor writing chunk progress (:class:`ChunkProgress`)."""

    def __call__(self, items: Any, function: Callable[..., Any], accumulator: Any) -> Any:
        if not _is_chunk_run(self) or len(items) == 0:
            return super().__call__(items, function, accumulator)
        progress = ChunkProgress(len(items))
        progress.start("iterative, this process")

        def counted(item: Any) -> Any:
            result = function(item)
            progress.advance()
            return result

        return _run(
            progress,
            lambda: super(ProgressIterativeExecutor, self).__call__(items, counted, accumulator),
        )


@dataclass
class ProgressFuturesExecutor(processor.FuturesExecutor):
    """coffea's FuturesExecutor writing chunk progress (:class:`ChunkProgress`)."""

    def __call__(self, items: Any, function: Callable[..., Any], accumulator: Any) -> Any:
        if not _is_chunk_run(self) or len(items) == 0:
            return super().__call__(items, function, accumulator)
        progress = ChunkProgress(len(items))
        progress.start(f"futures, {self.workers} worker processes")
        counting = replace(self, pool=_pool_factory(self.pool, progress))
        return _run(
            progress,
            lambda: processor.FuturesExecutor.__call__(counting, items, function, accumulator),
        )


@dataclass
class ProgressDaskExecutor(processor.DaskExecutor):
    """coffea's DaskExecutor with a first and a last progress line."""

    def __call__(self, items: Any, function: Callable[..., Any], accumulator: Any) -> Any:
        if not _is_chunk_run(self) or len(items) == 0:
            return super().__call__(items, function, accumulator)
        progress = ChunkProgress(len(items))
        progress.start("dask; per-chunk progress on the Dask dashboard")
        return _run(
            progress,
            lambda: super(ProgressDaskExecutor, self).__call__(items, function, accumulator),
        )


_WRAPPED: dict[type, type] = {
    processor.IterativeExecutor: ProgressIterativeExecutor,
    processor.FuturesExecutor: ProgressFuturesExecutor,
    processor.DaskExecutor: ProgressDaskExecutor,
}


def with_progress(executor: Any) -> Any:
    """``executor`` (a coffea executor) as its progress-writing counterpart, same settings;
    an executor of another type is returned unchanged."""
    wrapped = _WRAPPED.get(type(executor))
    if wrapped is None:
        return executor
    return wrapped(**{name: getattr(executor, name) for name in executor.__dataclass_fields__})
