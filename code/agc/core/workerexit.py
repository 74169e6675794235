"""How a spawned worker process of a pool ends: without the interpreter's teardown.

When its pool shuts down, a worker with JAX, SciPy and matplotlib loaded spends 0.4-0.7 s
freeing every module and object before it exits, and the pool's owner waits for it. By then
the worker has nothing left to do: its results are sent, its files written (atomically, so
closed). :func:`end_without_teardown`, a pool's ``initializer``, makes its exit immediate. A file
a task left open would lose what it still buffers (the teardown would flush it): the package's
tasks write whole files and close them (:mod:`agc.core.fileio`) before they return.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys

__all__ = ["end_without_teardown"]


def end_without_teardown() -> None:
    """In a pool's worker process, before its first task: once the interpreter starts to exit
    (after its last task and the pool's shutdown) and the exit handlers registered later have
    run (JAX's among them), flush the logs and the standard streams and end the process with
    status 0 (:func:`os._exit`), skipping the teardown of its modules and objects. Status 0 as
    a worker that ends normally: its pool tells a failed worker by its tasks, not its status."""
    atexit.register(_exit_now)


def _exit_now() -> None:
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    os._exit(0)
