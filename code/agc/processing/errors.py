"""Failures as one-line :class:`~agc.core.errors.AGCError` messages naming the culprit.

coffea wraps a worker's exception (``Failed processing file: WorkItem(...). The error was:
...``), and executors re-raise it in the driver, sometimes without the cause chain:
:func:`translate_error` recovers the file and the innermost reason; :func:`one_line` squeezes
any exception text onto one short line.
"""

from __future__ import annotations

import re
from typing import Any

from agc.core.errors import AGCError


def one_line(exc: BaseException) -> str:
    """The text of ``exc`` on one line, at most 300 characters (its type name if empty)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


_WORKITEM = re.compile(r"WorkItem\(dataset='([^']*)', filename='([^']*)'")
_FILEMETA = re.compile(r"FileMeta\(([^:]*):(.*?):[^:]*\)")


def translate_error(exc: BaseException, fileset: dict[str, dict[str, Any]]) -> AGCError:
    """One-line :class:`AGCError` for an exception raised by a coffea run, naming the file.

    coffea wraps worker errors (``Failed processing file: WorkItem(...). The error was: ...``)
    and executors re-raise them in the driver, sometimes without the cause chain; the file is
    taken from the chain, the message, or the fileset.
    """
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    text = " ".join(str(e) for e in chain)
    for e in chain:
        if isinstance(e, AGCError):
            return e
    dataset = filename = None
    match = _WORKITEM.search(text) or _FILEMETA.search(text)
    if match:
        dataset, filename = match.group(1), match.group(2)
    else:
        for name, entry in fileset.items():
            for path in entry["files"]:
                if path in text:
                    dataset, filename = name, path
                    break
    reason = str(chain[-1])
    inner = re.search(r"The error was: (.*)", reason, flags=re.DOTALL)
    while inner:
        reason = inner.group(1)
        inner = re.search(r"The error was: (.*)", reason, flags=re.DOTALL)
    reason = " ".join(reason.split()).rstrip(".")
    wrapped = re.fullmatch(r"\w+\((['\"])(.*)\1\)", reason)  # e.g. "error('...')" from a repr
    if wrapped:
        reason = wrapped.group(2)
    if filename:
        return AGCError(
            f"processing failed for {filename} (sample {dataset}): {one_line(Exception(reason))}"
        )
    return AGCError(f"processing failed: {type(chain[-1]).__name__}: {one_line(Exception(reason))}")
