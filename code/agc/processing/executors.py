"""The coffea executors the processing stage runs on: iterative, futures and dask.

:func:`coffea_executor` builds the executor named by the ``executor`` workflow parameter (a dask
``LocalCluster`` or a connection to a running scheduler is closed on exit); :func:`dask_scheduler`
says which scheduler the dask executor connects to (the ``scheduler`` parameter, else REANA's
``DASK_SCHEDULER_URI``); :func:`quiet_coffea` keeps coffea's progress console quiet.
Importing this module makes coffea accept input paths with non-ASCII characters
(:func:`utf8_file_hashes`), in this process and in every worker.

Every Dask worker gets glibc's heap thresholds of a plain process (:func:`plain_malloc`): Dask's
nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which fixes glibc's mmap threshold at
128 kB, so every column array of a chunk is mapped, zeroed and unmapped again; the analysis then
needs about 1.7 times the CPU of a plain process for the same chunk. A ``LocalCluster`` made here
(:func:`local_cluster`) also runs without Dask's statistical profiler, which samples the running
task's stack every 10 ms, and with Dask's periodic house-keeping slowed down
(:data:`LOCAL_CLUSTER_CONFIG`).

The futures executor runs on a pool made here (:func:`worker_pool`) whose workers ignore
Ctrl-C and die with the process that started them (Linux ``PR_SET_PDEATHSIG``), so no worker
outlives an interrupted or killed run; when the run ends with an exception (Ctrl-C included)
the queued chunks are cancelled and the workers killed at once instead of waiting for them.
Its workers are forked from the run's process where that is safe (:func:`fork_context`), so
they start with the analysis imported instead of importing it again (about 1 s of CPU each).
:func:`parallel_map` spreads the run's input checks over the same cores.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import functools
import hashlib
import importlib
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from coffea import processor
from coffea.processor import executor as coffea_executor_module

from agc.core.errors import AGCError
from agc.core.interrupt import stop_then_raise
from agc.core.parameters import EXECUTORS
from agc.processing.errors import one_line

#: The variable through which REANA (>= 0.95, with Dask enabled) gives every job of a workflow
#: whose spec asks for ``workflow.resources.dask`` the address of its Dask scheduler.
DASK_SCHEDULER_ENV = "DASK_SCHEDULER_URI"


def _utf8_hash(self: Any) -> int:
    """coffea's ``FileMeta`` hash (md5 of ``dataset;filename;treename``, first 16 hex digits)
    over the UTF-8 bytes: the same number for an ASCII path, and defined for any other."""
    text = ";".join(str(x) for x in (self.dataset, self.filename, self.treename))
    return int(hashlib.md5(text.encode("utf-8")).hexdigest()[:16], base=16)


def utf8_file_hashes() -> None:
    """Let coffea's preprocessing hash file paths with non-ASCII characters: its ``FileMeta``
    encodes the path as ASCII (``UnicodeEncodeError`` for a path such as ``data/été/a.root``);
    its hash becomes :func:`_utf8_hash`, equal for every ASCII path."""
    coffea_executor_module.FileMeta.__hash__ = _utf8_hash  # type: ignore[method-assign]


utf8_file_hashes()

#: ``prctl`` option: the signal a process receives when the thread that created it ends.
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """In a worker process: ignore Ctrl-C (the run's main process handles it), be killed when
    the process ``parent`` that started it ends (Linux; elsewhere only the executor's own
    shutdown stops the workers), and make coffea's file hashes accept non-ASCII paths."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    utf8_file_hashes()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent ended before the death signal was armed
        os._exit(1)


def fork_context() -> Any:
    """The ``fork`` start method where it is safe (Linux, this process running one thread):
    its workers start at once with every module this process has imported, the analysis
    included; None elsewhere (a thread holding a lock at the fork would leave it held)."""
    import multiprocessing
    import threading

    if not sys.platform.startswith("linux") or threading.active_count() != 1:
        return None
    return multiprocessing.get_context("fork")


@contextlib.contextmanager
def worker_pool(workers: int) -> Iterator[Any]:
    """A process pool of ``workers`` processes set up by :func:`die_with_parent`, started at
    once: forked from this process where :func:`fork_context` allows it (the workers share
    the analysis already imported here), else a loky pool whose workers import the analysis
    while the caller goes on. On a normal exit it waits for its tasks; when the block raises,
    the queued tasks are cancelled and the workers killed at once. Ctrl-C and SIGTERM kill the
    workers and are raised once the block has ended
    (:func:`agc.core.interrupt.stop_then_raise`)."""
    import multiprocessing

    context = fork_context()
    if context is None:
        import loky

        pool = loky.ProcessPoolExecutor(
            max_workers=workers, initializer=die_with_parent, initargs=(os.getpid(),)
        )
        task: Any = functools.partial(importlib.import_module, "agc.analysis.processor")
    else:
        pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=die_with_parent,
            initargs=(os.getpid(),),
        )
        task = os.getpid
    before = set(multiprocessing.active_children())
    for _ in range(workers):  # start the workers now
        pool.submit(task)
    started = set(multiprocessing.active_children()) - before

    def kill_workers() -> None:
        """Kill every worker of the pool (loky may have replaced some): the pool breaks and
        its pending futures fail at once."""
        for process in started | (set(multiprocessing.active_children()) - before):
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)

    try:
        with stop_then_raise(kill_workers, "queued chunks cancelled"):
            yield pool
    except BaseException:
        if context is None:
            pool.shutdown(wait=False, kill_workers=True)
        else:
            pool.shutdown(wait=False, cancel_futures=True)
            for process in started:
                process.kill()
        raise
    pool.shutdown(wait=True)


def largest_first(items: Any) -> list[Any]:
    """coffea's work items (chunks) from the most entries to the fewest, ties in their given
    order: with the longest chunks started first, the last chunks to finish are the short ones,
    so no worker idles long while another finishes the run's tail."""
    return sorted(items, key=len, reverse=True)


@contextlib.contextmanager
def parallel_map(executor: Any, workers: int) -> Iterator[Callable[..., Iterator[Any]]]:
    """A ``map`` (results in the order of the inputs) spreading work over the ``executor``'s
    cores: the futures executor's own worker processes when they were forked (ready at once,
    :func:`worker_pool`); else, for the futures and Dask executors, ``workers`` threads of this
    process (for work that releases the GIL, such as hashing a file; a loky pool's workers are
    still importing the analysis meanwhile); else the built-in ``map`` (the iterative executor
    runs in this thread alone)."""
    if isinstance(executor, processor.FuturesExecutor) and isinstance(
        executor.pool, concurrent.futures.ProcessPoolExecutor
    ):
        yield executor.pool.map
    elif isinstance(executor, processor.FuturesExecutor | processor.DaskExecutor) and workers > 1:
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as threads:
            yield threads.map
    else:
        yield map


#: glibc ``mallopt`` parameters (``malloc.h``) and the values :func:`plain_malloc` sets: the
#: largest mmap threshold glibc's dynamic rule reaches on 64-bit (32 MiB), and twice that as the
#: trim threshold, as the dynamic rule keeps them.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
PLAIN_MMAP_THRESHOLD = 32 * 1024 * 1024
PLAIN_TRIM_THRESHOLD = 2 * PLAIN_MMAP_THRESHOLD


def plain_malloc() -> bool:
    """Give this process glibc's heap thresholds of a plain long-running process: arrays below
    :data:`PLAIN_MMAP_THRESHOLD` come from the heap, which keeps up to
    :data:`PLAIN_TRIM_THRESHOLD` of freed memory for the next chunk. Undoes
    ``MALLOC_TRIM_THRESHOLD_`` (set by Dask's nanny), which pins the mmap threshold at 128 kB.
    Returns whether the thresholds were set (False off glibc)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    return bool(
        mallopt(_M_MMAP_THRESHOLD, PLAIN_MMAP_THRESHOLD)
        and mallopt(_M_TRIM_THRESHOLD, PLAIN_TRIM_THRESHOLD)
    )


def _worker_plugin() -> Any:
    """A dask worker plugin preparing every worker, present and future: :func:`plain_malloc`
    and :func:`utf8_file_hashes`."""
    import distributed

    class AGCWorker(distributed.WorkerPlugin):
        name = "agc-worker"

        def setup(self, worker: Any) -> None:
            del worker
            plain_malloc()
            utf8_file_hashes()

    return AGCWorker()


#: Dask settings of a :func:`local_cluster`: no statistical profiler, and Dask's periodic
#: house-keeping (event-loop latency tick, every 20 ms by default; system monitor, 500 ms;
#: the nanny's memory check, 100 ms) at intervals that cost next to nothing. Idle, a cluster of
#: two workers used 4.7 % of a core in this process and 2-3 % in each worker with Dask's
#: defaults, 1 % and 0.4 % with these; on two cores that CPU is taken from the workers.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}


def local_cluster(workers: int) -> Any:
    """A dask ``LocalCluster`` of ``workers`` single-threaded worker processes, its dashboard on a
    free port, with :data:`LOCAL_CLUSTER_CONFIG` (the workers take the settings from this
    process' dask configuration)."""
    import dask
    import distributed

    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        return distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        )


def dask_scheduler(scheduler: str, environ: Mapping[str, str] | None = None) -> str:
    """The Dask scheduler address for the ``scheduler`` parameter: itself when given, else
    ``$DASK_SCHEDULER_URI`` of ``environ`` (default ``os.environ``) when set and not blank, else
    ``""`` (a local ``LocalCluster``)."""
    if scheduler:
        return scheduler
    environ = os.environ if environ is None else environ
    return environ.get(DASK_SCHEDULER_ENV, "").strip()


@contextlib.contextmanager
def coffea_executor(executor: str, workers: int, scheduler: str, retries: int) -> Iterator[Any]:
    """The coffea executor for ``executor`` (``iterative`` | ``futures`` with ``workers``
    processes | ``dask``: the scheduler of :func:`dask_scheduler` -- ``scheduler``, else
    ``$DASK_SCHEDULER_URI`` -- or, when neither is set, a ``LocalCluster`` of ``workers``
    single-threaded processes), retrying a failed chunk ``retries`` times; dask resources are
    closed on exit."""
    if executor == "iterative":
        yield processor.IterativeExecutor(status=False, retries=retries)
    elif executor == "futures":
        with worker_pool(workers) as pool:
            yield processor.FuturesExecutor(
                pool=pool, workers=workers, status=False, retries=retries
            )
    elif executor == "dask":
        import distributed

        address = dask_scheduler(scheduler)
        origin = "" if scheduler or not address else f" (from ${DASK_SCHEDULER_ENV})"
        with contextlib.ExitStack() as stack:
            if address:
                try:
                    client = stack.enter_context(distributed.Client(address, timeout="30s"))
                except Exception as exc:  # noqa: BLE001 (OSError, TimeoutError, ValueError...)
                    raise AGCError(
                        f"cannot connect to dask scheduler '{address}'{origin}: {one_line(exc)}"
                    ) from None
            else:
                cluster = stack.enter_context(local_cluster(workers))
                client = stack.enter_context(distributed.Client(cluster))
            client.register_plugin(_worker_plugin())
            yield processor.DaskExecutor(client=client, status=False, retries=retries)
    else:
        raise AGCError(f"unknown executor '{executor}'; choose one of {', '.join(EXECUTORS)}")


@contextlib.contextmanager
def quiet_coffea() -> Iterator[None]:
    """Silence coffea's rich progress console for the duration of the block."""
    from coffea.util import coffea_console

    saved = coffea_console.quiet
    coffea_console.quiet = True
    try:
        yield
    finally:
        coffea_console.quiet = saved
