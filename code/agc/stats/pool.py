"""One pool of worker processes for the independent fits of the impact ranking
(:mod:`agc.stats.ranking`) and of the limits (:mod:`agc.stats.limits`).

Light on purpose (no cabinetry): it imports :mod:`agc.stats.migrad` and the progress bar only,
so the limit fits' processes stay free of cabinetry and plotting.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Self

from tqdm import tqdm

from agc.core.progress import Counter
from agc.core.workerexit import end_without_teardown
from agc.stats.migrad import configure_backend, quiet_fit_logs


def _start_worker(initializer: Callable[..., None], initargs: tuple[object, ...]) -> None:
    """A worker's set-up: ``initializer(*initargs)``, and its exit without the interpreter's
    teardown (:func:`agc.core.workerexit.end_without_teardown`)."""
    end_without_teardown()
    initializer(*initargs)


class FitPool:
    """``workers`` spawned processes for independent fits, started now so that their imports
    (and ``initializer(*initargs)``, default :func:`agc.stats.migrad.configure_backend`)
    overlap the caller's work; ``workers <= 1``: no processes, the fits run in the calling
    process (``initializer`` runs there before each :meth:`map`). Tasks are functions of one
    picklable argument and depend on it only, so any worker count gives the same results. Use
    as a context manager (or call :meth:`close`)."""

    def __init__(
        self,
        workers: int,
        initializer: Callable[..., None] = configure_backend,
        initargs: tuple[object, ...] = (),
    ):
        self.initializer = initializer
        self.initargs = initargs
        self.pool: ProcessPoolExecutor | None = None
        if workers > 1:
            self.pool = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(initializer, initargs),
            )
            self.pool.submit(int)  # a no-op task: makes the pool start its processes

    def map(
        self,
        task: Callable[[Any], Any],
        arguments: Sequence[Any],
        meanwhile: Callable[[], object] | None = None,
        shown: tqdm | None = None,
    ) -> list[Any]:
        """``task`` of every argument, in order; ``meanwhile`` runs in this process while the
        worker processes fit (before the fits when there are none); ``shown`` (a progress
        bar, :func:`agc.core.progress.bar`) moves on by one per finished task."""
        count = Counter(shown) if shown is not None else None
        if self.pool is not None:
            pending = [self.pool.submit(task, argument) for argument in arguments]
            try:
                if count is not None:
                    for future in pending:
                        future.add_done_callback(count)
                if meanwhile is not None:
                    meanwhile()
                return [future.result() for future in pending]
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
        if meanwhile is not None:
            meanwhile()
        self.initializer(*self.initargs)
        results = []
        with quiet_fit_logs():
            for argument in arguments:
                results.append(task(argument))
                if count is not None:
                    count()
        return results

    def close(self, cancel: bool = False) -> None:
        """Stop the processes (``cancel``: drop the fits not started yet)."""
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=cancel)
            self.pool = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(cancel=exc_type is not None)
