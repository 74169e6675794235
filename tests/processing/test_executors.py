"""agc.processing.executors: which Dask scheduler the dask executor connects to, and the heap
thresholds and profiler setting its Dask workers run with.

The parameter ``scheduler`` wins; when it is empty, ``$DASK_SCHEDULER_URI`` (what REANA >= 0.95
gives the jobs of a workflow with ``workflow.resources.dask``); neither: a LocalCluster. The
end-to-end run against a `dask scheduler` and two `dask worker` processes is
tests/scenarios/test_dask.py.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agc.core.errors import AGCError
from agc.processing.executors import (
    DASK_SCHEDULER_ENV,
    _worker_plugin,
    coffea_executor,
    dask_scheduler,
    fork_context,
    largest_first,
    local_cluster,
    parallel_map,
)


def test_the_scheduler_parameter_wins_over_the_environment() -> None:
    environ = {DASK_SCHEDULER_ENV: "tcp://reana-dask:8786"}
    assert dask_scheduler("tcp://elsewhere:8786", environ) == "tcp://elsewhere:8786"


def test_an_empty_scheduler_takes_dask_scheduler_uri() -> None:
    assert DASK_SCHEDULER_ENV == "DASK_SCHEDULER_URI"
    environ = {DASK_SCHEDULER_ENV: " tcp://reana-dask:8786\n"}
    assert dask_scheduler("", environ) == "tcp://reana-dask:8786"


@pytest.mark.parametrize("environ", [{}, {DASK_SCHEDULER_ENV: ""}, {DASK_SCHEDULER_ENV: "  "}])
def test_without_either_a_local_cluster(environ: dict[str, str]) -> None:
    assert dask_scheduler("", environ) == ""


def test_the_process_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DASK_SCHEDULER_ENV, "tcp://127.0.0.1:8786")
    assert dask_scheduler("") == "tcp://127.0.0.1:8786"
    monkeypatch.delenv(DASK_SCHEDULER_ENV)
    assert dask_scheduler("") == ""


def test_a_bad_address_from_the_environment_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-line error names the address and where it came from."""
    monkeypatch.setenv(DASK_SCHEDULER_ENV, "nonsense://no-such-protocol")
    with (
        pytest.raises(
            AGCError, match=r"'nonsense://no-such-protocol' \(from \$DASK_SCHEDULER_URI\)"
        ),
        coffea_executor("dask", 1, "", 0),
    ):
        pass


def mapped_by_one_array() -> int:
    """How many more mmapped blocks glibc holds while a fresh 4 MB numpy array is alive (1: the
    array was mapped, 0: it came from the heap)."""
    import ctypes

    import numpy as np

    class MallInfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in (
                "arena", "ordblks", "smblks", "hblks", "hblkhd",
                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
            )
        ]  # fmt: skip

    mallinfo2 = ctypes.CDLL(None).mallinfo2
    mallinfo2.restype = MallInfo2
    before = mallinfo2().hblks
    array = np.ones(1 << 19)
    during = mallinfo2().hblks
    del array
    return int(during - before)


needs_glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(ctypes.CDLL(None), "mallinfo2"),
    reason="glibc's mallopt / mallinfo2",
)


@needs_glibc
def test_plain_malloc_keeps_chunk_arrays_on_the_heap_despite_dasks_trim_threshold() -> None:
    code = (
        "from agc.processing.executors import plain_malloc;"
        "from test_executors import mapped_by_one_array as m;"
        "print(m(), plain_malloc(), m())"
    )
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}  # what Dask's nanny sets
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["1", "True", "0"]


@needs_glibc
def test_local_cluster_workers_run_without_profiler_and_with_plain_heap() -> None:
    import cloudpickle
    import dask
    import distributed

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import it

    def state() -> tuple[bool, str | None, int]:
        return (
            dask.config.get("distributed.worker.profile.enabled"),
            os.environ.get("MALLOC_TRIM_THRESHOLD_"),
            mapped_by_one_array(),
        )

    with local_cluster(1) as cluster, distributed.Client(cluster) as client:
        assert [mapped for *_, mapped in client.run(state).values()] == [1]
        client.register_plugin(_worker_plugin())
        assert list(client.run(state).values()) == [(False, "65536", 0)]


# -- the futures pool, the chunk order and the input checks ------------------------------------


def test_chunks_go_longest_first_ties_in_their_order() -> None:
    from coffea.processor.executor import WorkItem

    def chunk(name: str, start: int, stop: int) -> WorkItem:
        return WorkItem("d", name, "Events", start, stop, b"")

    items = [chunk("a", 0, 10), chunk("b", 0, 300), chunk("c", 0, 10), chunk("d", 100, 400)]
    ordered = largest_first(items)
    assert [(item.filename, len(item)) for item in ordered] == [
        ("b", 300),
        ("d", 300),
        ("a", 10),
        ("c", 10),
    ]


def test_no_fork_while_another_thread_runs() -> None:
    import threading

    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert fork_context() is None
    finally:
        release.set()
        other.join()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork only on Linux")
def test_forked_workers_start_with_the_analysis_imported() -> None:
    """In a single-threaded process the pool's workers are forked: they already hold the
    modules imported by the run's process, and are its children."""
    code = """
import os, agc.analysis.processor
from agc.processing.executors import fork_context, worker_pool
print(fork_context().get_start_method())
with worker_pool(2) as pool:
    print(pool.submit(eval, "'agc.analysis.processor' in __import__('sys').modules").result())
    print(pool.submit(os.getppid).result() == os.getpid())
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["fork", "True", "True"]


def test_parallel_map_uses_forked_workers_else_threads_else_map() -> None:
    import concurrent.futures

    import loky
    from coffea import processor

    forked = concurrent.futures.ProcessPoolExecutor(max_workers=1)  # no process until used
    with parallel_map(processor.FuturesExecutor(pool=forked, workers=2), 2) as mapper:
        assert mapper == forked.map
    forked.shutdown()
    importing = loky.ProcessPoolExecutor(max_workers=1)
    for executor in (
        processor.FuturesExecutor(pool=importing, workers=2),
        processor.DaskExecutor(),
    ):
        with parallel_map(executor, 2) as mapper:
            assert isinstance(mapper.__self__, concurrent.futures.ThreadPoolExecutor)
            assert list(mapper(len, ["a", "bb", "ccc"])) == [1, 2, 3]
    importing.shutdown()
    with parallel_map(processor.DaskExecutor(), 1) as mapper:
        assert mapper is map
    with parallel_map(processor.IterativeExecutor(), 2) as mapper:
        assert mapper is map
