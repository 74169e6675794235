"""Byte-reproducible ROOT writing with uproot.

A ROOT file carries a UUID and creation/modification times in its header and keys, so two
writes of the same content differ in bytes. Reproducible builds solve this with
``SOURCE_DATE_EPOCH``; :func:`reproducible_recreate` does the same for uproot: a UUID derived
from the file's name and a fixed clock (``SOURCE_DATE_EPOCH`` if set, else 2015-01-01, the
year the data were taken). Same content -> same bytes -> same sha256.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import uproot
import uproot.writing._cascade
import uproot.writing._cascadentuple
import uproot.writing._cascadetree
import uproot.writing.writable

from agc.core.fileio import atomic_path, shown_path

_DEFAULT_EPOCH = 1420070400  # 2015-01-01T00:00:00Z
_LOCK = threading.Lock()


def fixed_datetime() -> _dt.datetime:
    """The clock written into ROOT headers: ``SOURCE_DATE_EPOCH`` or 2015-01-01 (naive UTC)."""
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", _DEFAULT_EPOCH))
    return _dt.datetime.fromtimestamp(epoch, tz=_dt.UTC).replace(tzinfo=None)


class _FixedClock(_dt.datetime):
    @classmethod
    def now(cls, tz: Any = None) -> _dt.datetime:  # type: ignore[override]
        return fixed_datetime()


class _FixedDatetimeModule:
    datetime = _FixedClock
    timezone = _dt.timezone
    timedelta = _dt.timedelta


@contextlib.contextmanager
def reproducible_recreate(path: str | os.PathLike[str], **options: Any) -> Iterator[Any]:
    """``uproot.recreate`` that is byte-reproducible and atomic.

    Yields the writable uproot file; the file is written under a temporary name and
    renamed onto ``path`` only when the block succeeds.
    """
    name = shown_path(path).name  # a temporary name of atomic_path counts as its destination
    counter = iter(range(1 << 30))

    def uuid_function() -> uuid.UUID:
        digest = hashlib.sha256(f"{name}:{next(counter)}".encode()).digest()
        return uuid.UUID(bytes=digest[:16], version=4)

    modules = (
        uproot.writing._cascade,
        uproot.writing._cascadentuple,
        uproot.writing._cascadetree,
        uproot.writing.writable,
    )
    with _LOCK, atomic_path(path) as tmp:
        saved = [module.datetime for module in modules]
        for module in modules:
            module.datetime = _FixedDatetimeModule  # type: ignore[attr-defined]
        try:
            # A file object (not the temporary path) so the random temporary name is not
            # recorded in the file's header.
            with (
                open(tmp, "w+b") as sink,
                uproot.recreate(sink, uuid_function=uuid_function, **options) as handle,
            ):
                yield handle
        finally:
            for module, value in zip(modules, saved, strict=True):
                module.datetime = value  # type: ignore[attr-defined]
