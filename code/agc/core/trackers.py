"""multiprocessing's resource trackers, stopped when a stage's process pools are gone.

A process pool started with the ``spawn`` context (the dataset generator, the fit pools, the ML
step's figure process) or by loky (the histogram stage's pool inside a Jupyter kernel) starts a
*resource tracker*: a helper process that records the pool's named semaphores, so that they are
removed if the program dies. It outlives the pool, until the interpreter exits, and ignores
SIGINT and SIGTERM by design.

A papermill step runs its notebook in a Jupyter kernel, and the kernel's shutdown signals its
child processes and waits for them to end: a resource tracker never does, so the shutdown
times out (jupyter_client waits 2.5 s) and the kernel is killed. :func:`stop_resource_trackers`,
called when a stage ends (:mod:`agc.workflow.stages`), stops the trackers once no pool of this
process is left: each tracker is told to stop the way the interpreter tells it at exit (its
pipe closed), after every semaphore of the finished pools has been released.
"""

from __future__ import annotations

import gc
import multiprocessing
import sys

__all__ = ["SEMAPHORE_MODULES", "TRACKER_MODULES", "stop_resource_trackers"]

#: The modules whose ``_resource_tracker`` a process pool may start: the standard library's
#: and loky's (its own tracker, for its own semaphores).
TRACKER_MODULES: tuple[str, ...] = (
    "multiprocessing.resource_tracker",
    "loky.backend.resource_tracker",
)

#: The modules whose ``SemLock`` class a pool's queues and locks are made of.
SEMAPHORE_MODULES: tuple[str, ...] = (
    "multiprocessing.synchronize",
    "loky.backend.synchronize",
)


def _running_trackers() -> list[object]:
    """The resource trackers this process started and that are still running."""
    trackers = []
    for name in TRACKER_MODULES:
        module = sys.modules.get(name)
        tracker = getattr(module, "_resource_tracker", None)
        if getattr(tracker, "_fd", None) is not None:
            trackers.append(tracker)
    return trackers


def stop_resource_trackers() -> bool:
    """Stop the resource trackers of this process, unless a child process (a pool's worker)
    is still running, whose semaphores they must keep track of. Returns True when trackers
    were stopped. A later pool starts a new tracker as the first one was started."""
    trackers = _running_trackers()
    if not trackers or multiprocessing.active_children():
        return False
    # the semaphores of finished pools held in reference cycles are released (and unregistered
    # from their tracker) now, not at a later collection that would find the tracker gone
    if _semaphores_exist():
        gc.collect()
    for tracker in trackers:
        tracker._stop()  # type: ignore[attr-defined]
    return True


def _semaphores_exist() -> bool:
    """Whether a semaphore object (:data:`SEMAPHORE_MODULES`) exists in this process, in use or
    garbage in a reference cycle. A pool shut down usually leaves none: a look at the objects
    the collector tracks then spares a collection (a tenth of a second in a kernel that has
    loaded the fit and figure libraries)."""
    kinds = tuple(sys.modules[name].SemLock for name in SEMAPHORE_MODULES if name in sys.modules)
    return bool(kinds) and any(isinstance(item, kinds) for item in gc.get_objects())
