"""The process that draws figures beside a fit (the ML step's pre-fit and validation figures,
:func:`agc.workflow.stages.ml_fit`)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context

__all__ = ["figure_process", "import_ml_figures", "warm_figure_process"]


def figure_process() -> ProcessPoolExecutor:
    """One spawned worker process (a fork would copy the fitting process's threads and state)."""
    return ProcessPoolExecutor(1, mp_context=get_context("spawn"))


def import_ml_figures() -> None:
    """Import the ML figures' modules (matplotlib, mplhep, cabinetry) in the worker, so that
    its first figure does not wait for them."""
    import agc.plots.mlfigures  # noqa: F401


@contextmanager
def warm_figure_process() -> Iterator[ProcessPoolExecutor]:
    """:func:`figure_process`, already starting and importing the ML figures' modules
    (:func:`import_ml_figures`) while the caller goes on."""
    with figure_process() as pool:
        pool.submit(import_ml_figures)
        yield pool
