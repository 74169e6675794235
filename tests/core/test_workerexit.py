"""A pool's worker process ending without the interpreter's teardown (agc.core.workerexit)."""

from __future__ import annotations

import atexit
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from agc.core.workerexit import end_without_teardown


def _leave_marks(folder: str) -> None:
    atexit.register(Path(f"{folder}/atexit").write_text, "ran")
    # left open and unflushed: only the interpreter's teardown flushes and closes it
    _LEFT_OPEN.append(open(f"{folder}/teardown", "w", buffering=1 << 16))  # noqa: SIM115
    _LEFT_OPEN[-1].write("torn down")


#: The files a worker leaves open (a module global: the teardown frees them).
_LEFT_OPEN: list = []


@pytest.mark.parametrize("without_teardown", [False, True])
def test_a_worker_runs_its_exit_handlers_then_ends_without_teardown(
    tmp_path: Path, without_teardown: bool
) -> None:
    initializer = end_without_teardown if without_teardown else None
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, initializer=initializer) as pool:
        pool.submit(_leave_marks, str(tmp_path)).result()
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "teardown").read_text() == ("" if without_teardown else "torn down")


def _leave_open(folder: str) -> None:
    _LEFT_OPEN.append(open(f"{folder}/{os.getpid()}", "w", buffering=1 << 16))  # noqa: SIM115
    _LEFT_OPEN[-1].write("torn down")


def test_the_fit_pool_s_workers_end_without_teardown(tmp_path: Path) -> None:
    from agc.stats.pool import FitPool

    with FitPool(2) as pool:
        pool.map(_leave_open, [str(tmp_path)] * 4)
    files = list(tmp_path.iterdir())
    assert files
    assert all(path.read_text() == "" for path in files)
