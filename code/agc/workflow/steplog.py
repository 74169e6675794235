"""The log of a locally run workflow step: its output kept in a file, the one-line error read back.

A step of the workflows runs an ``agc`` command (which ends a failure with the line
``agc <command>: error: <message>``) or a notebook through papermill (whose failure ends with
the kernel's traceback, last line ``AGCError: <message>``). The runners write everything a
step prints to ``<outdir>/logs/<step>.log`` (:func:`log_path`) through :class:`StepLog`, which
leaves out the kernel's transport notice (:data:`NOISE`) and passes the step's progress lines
on to the terminal, and report a failed step by the message :func:`step_error` finds at the
end of its log.

The log records of cabinetry and pyhf (:data:`LIBRARY_LOGGERS`: cabinetry's "has empty bins"
warnings, by the hundred for a reinterpretation) go to the same file, not to the terminal or
into a notebook: :func:`library_logs` (:func:`library_logs_of`, a decorator, around the stages
that build and fit models).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Self

from agc.core.interrupt import child_process
from agc.core.parameters import default
from agc.core.progress import is_progress_line, process_stderr

#: Folder of the step logs, inside the run's output folder.
LOG_DIR = "logs"

#: Lines a step's log leaves out: ipykernel's notice that the kernel talks to papermill over
#: local TCP without CurveZMQ keys (the kernel and papermill run in the same container), and its
#: note that it was interrupted while papermill shut it down, which a busy machine makes slow
#: enough for jupyter_client to interrupt it (the step's own outcome is reported either way).
NOISE = (
    re.compile(r"^\[IPKernelApp\] WARNING \| Kernel is running over TCP without encryption"),
    re.compile(r"^\[IPKernelApp\] ERROR \| KeyboardInterrupt caught in kernel\.?$"),
)

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: ``agc <command>: error: <message>``, the last line of a failed agc command.
_AGC_LINE = re.compile(r"^agc(?: [\w-]+)+: error: (?P<message>.+)$")
#: ``AGCError: <message>``, the last line of a traceback (kernel or interpreter).
_AGC_EXCEPTION = re.compile(r"^(?:[\w.]+\.)?AGCError: (?P<message>.+)$")
#: ``SomeError: <message>``, the last line of any other traceback.
_EXCEPTION = re.compile(r"^(?P<name>[A-Za-z_][\w.]*(?:Error|Exception|Exit)): (?P<message>.*)$")

#: The libraries whose log records :func:`library_logs` sends to a step's log file only.
LIBRARY_LOGGERS = ("cabinetry", "pyhf")
#: How a library's record reads in a step's log (as ``cabinetry.set_logging`` writes them).
LIBRARY_FORMAT = "%(levelname)s - %(name)s - %(message)s"

#: How many of a step's last lines :func:`step_error` reads.
TAIL_LINES = 400
#: How many of the last lines may hold the traceback of an error other than AGCError.
OTHER_LINES = 30


def log_path(root: Path, outdir: str, step: str) -> Path:
    """``<root>/<outdir>/logs/<step>.log``: where a local run keeps the output of ``step``."""
    return root / outdir / LOG_DIR / f"{step}.log"


def plain(line: str) -> str:
    """``line`` without terminal colour codes and trailing whitespace."""
    return _ANSI.sub("", line).rstrip()


def is_noise(line: str) -> bool:
    """True for a line the step logs leave out (:data:`NOISE`)."""
    return any(pattern.match(line) for pattern in NOISE)


def step_error(lines: Iterable[str]) -> str | None:
    """The one-line error at the end of a failed step's output ``lines``, or None.

    The last ``agc ...: error:`` line or ``AGCError:`` line wins (the message itself); failing
    that, the last line of any other traceback (``NameError: ...``, with its exception name)
    among the last :data:`OTHER_LINES` lines (an older one is not what stopped the step).
    """
    other = None
    for back, raw in enumerate(reversed(list(lines))):
        line = plain(raw)
        found = _AGC_LINE.match(line) or _AGC_EXCEPTION.match(line)
        if found:
            return found["message"].strip()
        if back >= OTHER_LINES or other is not None:
            continue
        if (match := _EXCEPTION.match(line)) and match["message"].strip():
            name = match["name"].rpartition(".")[2]
            other = f"{name}: {match['message'].strip()}"
    return other


class StepLog:
    """The output of one step, line by line: into the log file ``path`` (appended to: a step
    of several commands keeps them all), also onto ``echo`` (e.g. stderr under ``--debug``),
    its progress lines (:func:`agc.core.progress.is_progress_line`) onto ``progress`` when
    there is no ``echo``, the last :data:`TAIL_LINES` lines kept for :func:`step_error`."""

    def __init__(
        self, path: Path, echo: IO[str] | None = None, progress: IO[str] | None = None
    ) -> None:
        self.path = path
        self.echo = echo
        self.progress = progress
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8", errors="replace")

    def write(self, line: str) -> None:
        """Keep one line of output (with its newline) unless it is :data:`NOISE`."""
        if is_noise(line):
            return
        self._file.write(line)
        self._file.flush()
        self.tail.append(line)
        shown = self.echo if self.echo is not None else self.progress
        if shown is not None and (shown is self.echo or is_progress_line(line)):
            shown.write(line)
            shown.flush()

    def record(self, text: str) -> None:
        """Write ``text`` (e.g. the command run) into the log file only."""
        self._file.write(text)
        self._file.flush()

    def copy(self, stream: IO[bytes]) -> None:
        """Keep every line read from the binary ``stream`` (decoded as UTF-8) until it ends."""
        for raw in iter(stream.readline, b""):
            self.write(raw.decode("utf-8", errors="replace"))

    def error(self) -> str | None:
        """The step's one-line error (:func:`step_error` of the last lines)."""
        return step_error(self.tail)

    def close(self) -> None:
        """Close the log file."""
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def echo_stream(debug: bool) -> IO[str] | None:
    """Where a step's output is also shown: stderr under ``--debug``, nowhere otherwise."""
    return sys.stderr if debug else None


class _CountingFileHandler(logging.FileHandler):
    """A file handler that counts the records it writes."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, mode="a", encoding="utf-8", delay=True)  # no record, no file
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if self.count == 0:
            Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        self.count += 1
        super().emit(record)


@contextlib.contextmanager
def library_logs(path: Path, level: int = logging.WARNING) -> Iterator[None]:
    """Inside, the records of :data:`LIBRARY_LOGGERS` at ``level`` and above are appended to
    ``path`` (the step's log, :func:`log_path`) and not passed on to the terminal; at the end,
    one line on the process's stderr (:func:`agc.core.progress.process_stderr`) says how many
    there were and where. Nested calls for
    the same file add nothing."""
    loggers = [logging.getLogger(name) for name in LIBRARY_LOGGERS]
    target = str(path.resolve())
    if any(getattr(h, "baseFilename", None) == target for h in loggers[0].handlers):
        yield
        return
    handler = _CountingFileHandler(path)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(LIBRARY_FORMAT))
    saved = [logger.propagate for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.propagate = False
    try:
        yield
    finally:
        for logger, propagate in zip(loggers, saved, strict=True):
            logger.removeHandler(handler)
            logger.propagate = propagate
        handler.close()
        stderr = process_stderr()
        if handler.count and stderr is not None:
            names = "/".join(LIBRARY_LOGGERS)
            stderr.write(f"[agc {path.stem}] {handler.count} {names} log lines in {path}\n")
            stderr.flush()


def library_logs_of(step: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator of a stage function (called with keywords, ``outdir`` among them, default the
    schema's): its cabinetry and pyhf log records go to ``<outdir>/logs/<step>.log``, the log
    of its workflow step (:func:`library_logs`), not to the terminal."""

    def wrap(stage: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(stage)
        def run(**options: Any) -> Any:
            outdir = options.get("outdir") or default("outdir")
            with library_logs(log_path(Path(), str(outdir), step)):
                return stage(**options)

        return run

    return wrap


def run_logged(argv: list[str], cwd: Path, env: dict[str, str], log: Any) -> int:
    """Run ``argv`` in ``cwd`` with no standard input, its stdout and stderr copied line by line
    into ``log`` (anything with ``copy(stream)``, e.g. :class:`StepLog`); its exit code. It runs
    in its own process group, stopped with the caller (:func:`agc.core.interrupt.child_process`).
    """
    with child_process(
        argv,
        Path(argv[0]).name,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    ) as process:
        assert process.stdout is not None
        log.copy(process.stdout)
        return process.wait()
