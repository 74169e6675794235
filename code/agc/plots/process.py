"""The ML step's second process (:func:`agc.workflow.stages.ml_fit`): it fits the ML model
while the step draws the figures that need no fit, then draws some of those that do."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context

from agc.core.workerexit import end_without_teardown

__all__ = ["figure_process", "import_ml_stage", "warm_figure_process"]


def figure_process() -> ProcessPoolExecutor:
    """One spawned worker process (a fork would copy the fitting process's threads and state),
    ending without the interpreter's teardown (:func:`agc.core.workerexit.end_without_teardown`)."""
    return ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=end_without_teardown)


def import_ml_stage() -> None:
    """Import what the worker runs -- the ML fit with JAX, the figures' modules (matplotlib,
    mplhep, cabinetry) -- so that its first task does not wait for them."""
    import agc.plots.mlfigures
    import agc.stats.mlmodel  # noqa: F401
    from agc.stats.autodiff import import_jax

    import_jax()


@contextmanager
def warm_figure_process() -> Iterator[ProcessPoolExecutor]:
    """:func:`figure_process`, already starting and importing the ML stage's modules
    (:func:`import_ml_stage`) while the caller goes on."""
    with figure_process() as pool:
        pool.submit(import_ml_stage)
        yield pool
