"""The coffea executors the processing stage runs on: iterative, futures and dask.

:func:`coffea_executor` builds the executor named by the ``executor`` workflow parameter (a dask
``LocalCluster`` or a connection to a running scheduler is closed on exit); :func:`quiet_coffea`
keeps coffea's progress console quiet.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from coffea import processor

from agc.core.errors import AGCError
from agc.core.parameters import EXECUTORS
from agc.processing.errors import one_line


@contextlib.contextmanager
def coffea_executor(executor: str, workers: int, scheduler: str, retries: int) -> Iterator[Any]:
    """The coffea executor for ``executor`` (``iterative`` | ``futures`` with ``workers``
    processes | ``dask``: the ``scheduler`` address, or a ``LocalCluster`` of ``workers``
    single-threaded processes), retrying a failed chunk ``retries`` times; dask resources are
    closed on exit."""
    if executor == "iterative":
        yield processor.IterativeExecutor(status=False, retries=retries)
    elif executor == "futures":
        yield processor.FuturesExecutor(workers=workers, status=False, retries=retries)
    elif executor == "dask":
        import distributed

        with contextlib.ExitStack() as stack:
            if scheduler:
                try:
                    client = stack.enter_context(distributed.Client(scheduler, timeout="30s"))
                except Exception as exc:  # noqa: BLE001 (OSError, TimeoutError, ValueError...)
                    raise AGCError(
                        f"cannot connect to dask scheduler '{scheduler}': {one_line(exc)}"
                    ) from None
            else:
                cluster = stack.enter_context(
                    distributed.LocalCluster(
                        n_workers=workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=":0",
                    )
                )
                client = stack.enter_context(distributed.Client(cluster))
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
