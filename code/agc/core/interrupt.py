"""Interrupts of a run: SIGTERM handled as Ctrl-C is, and child processes stopped with their run.

A workflow runner (``agc run-serial``, ``run-cwl``, ``run-snakemake``) starts each engine or step
command in its own process group (:func:`child_process`). Whatever ends the runner -- Ctrl-C,
SIGTERM (:func:`terminate_as_exit` turns it into :class:`SystemExit`), an error -- the whole
group is interrupted, then killed after :data:`GRACE_S`, so that no step goes on writing into
the output folder after its runner has ended.

A run waiting on a process pool takes Ctrl-C and SIGTERM through :func:`stop_then_raise`: the
signal stops the pool's workers and is raised once the waiting has ended. An exception raised
at whatever point the main thread had reached could leave it inside ``concurrent.futures``
holding a future's lock, and the interpreter would then wait forever at exit for the pool's
thread that needs that lock.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

#: Exit status of a run stopped by SIGTERM (128 + the signal number, as a shell reports it).
TERMINATED_STATUS = 128 + signal.SIGTERM

#: Seconds a child process group has to end after SIGINT before it is killed.
GRACE_S = 10.0


def _interruption(signum: int, note: str) -> BaseException:
    """The exception a run raises for the signal ``signum``: :class:`KeyboardInterrupt` for
    SIGINT; for SIGTERM, :class:`SystemExit` with :data:`TERMINATED_STATUS`, after the line
    ``agc: terminated (SIGTERM): <note>`` on stderr."""
    if signum == signal.SIGINT:
        return KeyboardInterrupt()
    # sys.__stderr__: a run may redirect sys.stderr to capture tracebacks.
    print(f"agc: terminated (SIGTERM): {note}", file=sys.__stderr__)
    return SystemExit(TERMINATED_STATUS)


@contextlib.contextmanager
def terminate_as_exit(note: str = "run stopped") -> Iterator[None]:
    """Inside, SIGTERM (in the main thread) raises :class:`SystemExit` with
    :data:`TERMINATED_STATUS` after the line ``agc: terminated (SIGTERM): <note>`` on stderr,
    so that clean-up runs as after Ctrl-C. Elsewhere than in the main thread it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: Any) -> None:
        del frame
        raise _interruption(signum, note)

    saved = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, saved)


@contextlib.contextmanager
def stop_then_raise(stop: Callable[[], None], note: str) -> Iterator[None]:
    """Inside (in the main thread), Ctrl-C (SIGINT) and SIGTERM call ``stop``, which must make
    the block end soon (for a pool: kill its workers, so that every pending future fails), and
    the signal is raised when the block ends, whichever way it ends: :class:`KeyboardInterrupt`,
    or :class:`SystemExit` with :data:`TERMINATED_STATUS` after the line
    ``agc: terminated (SIGTERM): <note>``. The exception the stop caused is dropped. A second
    signal is raised at once. Elsewhere than in the main thread it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        del frame
        if received:
            raise _interruption(signum, note)
        received.append(signum)
        stop()

    saved = {sent: signal.signal(sent, on_signal) for sent in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except BaseException:
        if not received:
            raise
    finally:
        for sent, handler in saved.items():
            signal.signal(sent, handler)
    if received:
        raise _interruption(received[0], note)


def stop_group(process: subprocess.Popen[Any], grace: float = GRACE_S) -> None:
    """Interrupt the process group led by ``process`` (SIGINT, as Ctrl-C would) and kill it
    (SIGKILL) if ``process`` has not ended within ``grace`` seconds."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextlib.contextmanager
def child_process(argv: list[str], what: str, **popen: Any) -> Iterator[subprocess.Popen[Any]]:
    """``subprocess.Popen(argv, **popen)`` in a new process group; when the block raises
    (Ctrl-C, SIGTERM, an error), the group is stopped (:func:`stop_group`) before the
    exception goes on. ``what`` names the run in the SIGTERM line."""
    with (
        terminate_as_exit(f"{what} stopped"),
        subprocess.Popen(argv, start_new_session=True, **popen) as process,
    ):
        try:
            yield process
        except BaseException:
            stop_group(process)
            raise
