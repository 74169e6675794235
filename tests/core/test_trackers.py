"""agc.core.trackers: a finished pool's resource tracker stops with the stage, a running pool's
does not, and a Jupyter kernel that ran a stage with a spawned pool then shuts down by itself."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

POOLS = """
import concurrent.futures, multiprocessing, os, sys
import loky, psutil
from multiprocessing import resource_tracker
from agc.core.trackers import stop_resource_trackers

def spawned_pool():
    return concurrent.futures.ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn"))

def children():
    return [p.pid for p in psutil.Process().children(recursive=True)]
"""


def _run(scenario: str) -> subprocess.CompletedProcess[str]:
    """``scenario`` after :data:`POOLS` in a fresh interpreter (this process's own pools and
    trackers stay out of it); it fails on a failed assert."""
    result = subprocess.run(
        [sys.executable, "-c", POOLS + textwrap.dedent(scenario)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


def test_a_finished_pools_tracker_stops_and_the_next_pool_starts_its_own() -> None:
    result = _run(
        """
        with spawned_pool() as pool:
            assert pool.submit(abs, -3).result() == 3
        tracker = resource_tracker._resource_tracker._pid
        assert children() == [tracker]
        assert stop_resource_trackers() is True
        assert children() == []
        with spawned_pool() as pool:
            assert pool.submit(abs, -4).result() == 4
        assert resource_tracker._resource_tracker._pid not in (None, tracker)
        assert stop_resource_trackers() is True
        assert stop_resource_trackers() is False
        assert children() == []
        """
    )
    # every semaphore was released before its tracker stopped: no leak reported, no traceback
    assert "leaked" not in result.stderr
    assert "Traceback" not in result.stderr


def test_a_semaphore_left_in_a_reference_cycle_is_released_before_its_tracker_stops() -> None:
    # With the automatic collection off, only stop_resource_trackers' own collection frees the
    # lock; freed later, it would start a new tracker to unregister itself.
    result = _run(
        """
        import gc
        gc.disable()
        lock = multiprocessing.get_context("spawn").Lock()
        cycle = [lock]
        cycle.append(cycle)
        del lock, cycle
        assert stop_resource_trackers() is True
        gc.collect()
        assert resource_tracker._resource_tracker._fd is None
        assert children() == []
        """
    )
    assert "leaked" not in result.stderr


def test_no_collection_when_the_finished_pools_left_no_semaphore() -> None:
    _run(
        """
        import gc
        collections = []
        collect = gc.collect
        gc.collect = lambda *args: collections.append(args) or collect(*args)
        with spawned_pool() as pool:
            assert pool.submit(abs, -3).result() == 3
        del pool
        assert stop_resource_trackers() is True
        assert collections == []
        assert children() == []
        """
    )


def test_a_running_pool_keeps_its_tracker() -> None:
    result = _run(
        """
        pool = spawned_pool()
        assert pool.submit(abs, -3).result() == 3
        assert stop_resource_trackers() is False
        assert resource_tracker._resource_tracker._fd is not None
        assert pool.submit(abs, -5).result() == 5
        pool.shutdown()
        assert stop_resource_trackers() is True
        assert children() == []
        """
    )
    assert "leaked" not in result.stderr


def test_lokys_tracker_stops_too() -> None:
    _run(
        """
        from loky.backend import resource_tracker as loky_tracker
        with loky.ProcessPoolExecutor(max_workers=1) as pool:
            assert pool.submit(abs, -3).result() == 3
        assert loky_tracker._resource_tracker._fd is not None
        assert stop_resource_trackers() is True
        assert loky_tracker._resource_tracker._fd is None
        assert children() == []
        """
    )


@pytest.mark.slow
def test_a_kernel_that_ran_a_stage_with_a_spawned_pool_ends_by_itself() -> None:
    """papermill shuts a notebook's kernel down gracefully; a child process left (such as a
    resource tracker) makes jupyter_client terminate it (exit status -15) after 2.5 s."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    try:
        code = textwrap.dedent(
            """
            import concurrent.futures, multiprocessing
            from agc.workflow import stages

            @stages._stage
            def spawning_stage():
                context = multiprocessing.get_context("spawn")
                with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
                    return pool.submit(abs, -3).result()

            assert spawning_stage() == 3
            """
        )
        reply = client.execute_interactive(code, timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
        kernel = manager.provisioner.process
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=False)
    assert kernel.returncode == 0
