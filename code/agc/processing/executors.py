"""The coffea executors the processing stage runs on: iterative, futures and dask.

:func:`coffea_executor` builds the executor named by the ``executor`` workflow parameter (a dask
``LocalCluster`` or a connection to a running scheduler is closed on exit); :func:`dask_scheduler`
says which scheduler the dask executor connects to (the ``scheduler`` parameter, else REANA's
``DASK_SCHEDULER_URI``); :func:`quiet_coffea` keeps coffea's progress console quiet.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from coffea import processor

from agc.core.errors import AGCError
from agc.core.parameters import EXECUTORS
from agc.processing.errors import one_line

#: The variable through which REANA (>= 0.95, with Dask enabled) gives every job of a workflow
#: whose spec asks for ``workflow.resources.dask`` the address of its Dask scheduler.
DASK_SCHEDULER_ENV = "DASK_SCHEDULER_URI"


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
        yield processor.FuturesExecutor(workers=workers, status=False, retries=retries)
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
