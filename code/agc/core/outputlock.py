"""One run at a time per output folder: an advisory lock that names its holder.

:func:`output_lock` takes an exclusive ``flock`` on ``<folder>/.agc.lock`` for the duration of
a block and writes the holder (command, pid, host, start time, as JSON) into it. A second run
into the same folder is refused with one line naming the holder. The kernel releases the lock
when its process ends, however it ends; a lock file that still names a holder when the lock is
free is the trace of a killed run: it is reported on stderr and taken over. Nested blocks of
one process on one folder share the outer lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agc.core.errors import AGCError

#: The lock file's name inside the output folder (hidden: not an output of the run).
LOCK_NAME = ".agc.lock"
#: Errors of file systems without ``flock`` support: the run goes on unlocked, with a warning.
_NO_LOCKING = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}
_HELD: dict[Path, int] = {}


def _holder(fd: int) -> dict[str, Any] | None:
    """The holder recorded in the open lock file ``fd`` (None: empty or unreadable)."""
    try:
        size = os.fstat(fd).st_size
        text = os.pread(fd, min(size, 4096), 0).decode("utf-8", "replace") if size else ""
        record = json.loads(text) if text.strip() else None
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def describe_holder(record: dict[str, Any] | None) -> str:
    """``"agc merge (pid 12, host h, since 2026-01-01T00:00:00+00:00)"`` for a holder record."""
    if not record:
        return "another process"
    return (
        f"{record.get('command', 'agc')} (pid {record.get('pid', '?')}, "
        f"host {record.get('host', '?')}, since {record.get('started', '?')})"
    )


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale_note(path: Path, record: dict[str, Any]) -> str:
    """The stderr line for a lock left by a run that ended without releasing it."""
    pid = record.get("pid")
    same_host = record.get("host") == socket.gethostname()
    gone = same_host and isinstance(pid, int) and not pid_alive(pid)
    why = "that process is no longer running" if gone else "its lock was released"
    return f"agc: cleared the stale lock {path} of {describe_holder(record)}: {why}"


@contextlib.contextmanager
def output_lock(folder: str | os.PathLike[str], command: str) -> Iterator[None]:
    """Hold the lock on the output ``folder`` (created if missing) for ``command`` (e.g.
    ``"agc merge"``) during the block; :class:`AGCError` naming the holder if another process
    holds it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AGCError(f"cannot create output folder {folder}: {exc.strerror}") from None
    key = folder.resolve()
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise AGCError(f"cannot lock output folder {folder}: {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AGCError(
                f"output folder {folder} is in use by {describe_holder(_holder(fd))}; wait for "
                f"it to end or choose another outdir (lock: {path})"
            ) from None
        except OSError as exc:
            if exc.errno not in _NO_LOCKING:
                raise
            print(f"agc: cannot lock {path} ({exc.strerror}): running unlocked", file=sys.stderr)
            yield
            return
        previous = _holder(fd)
        if previous:
            print(_stale_note(path, previous), file=sys.stderr)
        record = {
            "command": command,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record, sort_keys=True) + "\n").encode("utf-8"), 0)
        _HELD[key] = 1
        try:
            yield
        finally:
            del _HELD[key]
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # released cleanly: nothing stale stays behind
    finally:
        os.close(fd)  # closing the descriptor releases the flock
