"""Progress of the long loops (generation, chunks, impact fits, limit scans), for the person
watching a run: one tqdm bar per loop, with the same settings everywhere (tqdm rather than
rich: the field's usual bar, and one that writes plain lines when it is not on a terminal).

Every bar writes to the process's own standard error (:func:`process_stderr`): the terminal of
a command, also inside a papermill kernel (whose ``sys.stderr`` and file descriptor 2 go into
the notebook), and the step's log under ``agc run-serial``. On a terminal it is tqdm's bar,
redrawn in place; anywhere else (a log file, CI, a pipe) it is one line per update,
``[agc progress] chunks: 12/40 (30 %) [00:04<00:10]``, at most one every
:data:`LOG_INTERVAL_S` seconds besides the first and the last, so a log is not flooded.
``AGC_PROGRESS=0`` turns every bar off. A bar only counts and prints: the work it follows and
its outputs are the same with or without it.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Iterable
from typing import Any, TextIO, TypeVar

from tqdm import tqdm

__all__ = [
    "LOG_INTERVAL_S",
    "PREFIX",
    "PROGRESS_ENV",
    "Counter",
    "bar",
    "enabled",
    "is_progress_line",
    "process_stderr",
]

T = TypeVar("T")

#: Environment variable: ``0`` (or ``false``, ``no``, ``off``) turns every progress bar off.
PROGRESS_ENV = "AGC_PROGRESS"
#: Start of every progress line written to a stream that is not a terminal.
PREFIX = "[agc progress]"
#: Seconds between two progress lines written to a stream that is not a terminal.
LOG_INTERVAL_S = 10.0
#: Seconds between two redraws of a bar on a terminal.
TTY_INTERVAL_S = 0.2

_OFF = {"0", "false", "no", "off"}
_LINE = re.compile(re.escape(PREFIX) + r" .+: \d+/\S+ ")


def enabled() -> bool:
    """False when :data:`PROGRESS_ENV` turns progress off."""
    return os.environ.get(PROGRESS_ENV, "").strip().lower() not in _OFF


def process_stderr() -> TextIO | None:
    """The process's own standard error: ``sys.__stderr__``; in an IPython kernel, which sends
    file descriptor 2 into the notebook (and on to the terminal), a stream on the kernel's copy
    of the original descriptor, so that what is written reaches the terminal only."""
    copy = getattr(sys.stderr, "_original_stdstream_copy", None)
    if not isinstance(copy, int):
        return sys.__stderr__
    # the kernel's descriptor stays open (closefd=False); every write is flushed
    return open(copy, "w", encoding="utf-8", errors="replace", closefd=False)


def is_progress_line(line: str) -> bool:
    """True for a line a bar wrote to a stream that is not a terminal."""
    return bool(_LINE.match(line))


class _Lines:
    """The stream of a bar that is not on a terminal: tqdm's in-place redraws
    (``"\\r<status><padding>"``) become one line each, its closing newline is dropped."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._last = ""

    def write(self, text: str) -> None:
        status = text.strip("\r\n ")
        # The closing redraw repeats the last update, its times maybe a second later: a line
        # is written when the count changes, whatever the times in brackets say.
        count = status.rsplit(" [", 1)[0]
        if status and count != self._last:
            self._stream.write(status + "\n")
            self._last = count

    def flush(self) -> None:
        self._stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def bar(
    iterable: Iterable[T] | None = None,
    *,
    desc: str,
    total: int | None = None,
    unit: str = "",
    stream: TextIO | None = None,
    interval: float | None = None,
) -> tqdm:
    """A tqdm bar over ``iterable`` (or, without one, to be moved with ``update(n)``) counting
    ``total`` items (default ``len(iterable)``) named ``unit`` (e.g. ``"files"``), labelled
    ``desc``, written to ``stream`` (default :func:`process_stderr`).

    ``interval`` [s]: the shortest time between two updates written (default
    :data:`TTY_INTERVAL_S` on a terminal, :data:`LOG_INTERVAL_S` elsewhere); the first and the
    last are always written. Use as an iterable or a context manager, so that the last line
    (where the loop ended, also after an exception) is written.
    """
    target = stream if stream is not None else process_stderr()
    off = not enabled() or target is None
    settings: dict[str, Any] = {"desc": desc, "total": total, "disable": off, "leave": True}
    if not off and _is_terminal(target):
        settings.update(file=target, mininterval=TTY_INTERVAL_S, dynamic_ncols=True)
        if unit:
            settings["unit"] = unit
    elif not off:
        counted = "{n_fmt}/{total_fmt} " + (f"{unit} " if unit else "")
        known = total is not None or hasattr(iterable, "__len__")
        times = "({percentage:.0f} %) [{elapsed}<{remaining}]" if known else "[{elapsed}]"
        settings.update(
            file=_Lines(target),
            mininterval=LOG_INTERVAL_S,
            bar_format=f"{PREFIX} {{desc}}: {counted}{times}",
        )
    if interval is not None:
        settings["mininterval"] = interval
    return tqdm(iterable, **settings)


class Counter:
    """Moves ``shown`` (a :func:`bar`) on by one per call, from any thread (e.g. as the done
    callback of futures, which runs in a pool's thread), until :meth:`complete`."""

    def __init__(self, shown: tqdm) -> None:
        self._shown = shown
        self._lock = threading.Lock()
        self._completed = False

    def __call__(self, *_: object) -> None:
        with self._lock:
            if not self._completed:
                self._shown.update()

    def complete(self) -> None:
        """Every item is done (a done callback may be on its way): the bar at its total."""
        with self._lock:
            self._completed = True
            if self._shown.total is not None:
                self._shown.update(self._shown.total - self._shown.n)
