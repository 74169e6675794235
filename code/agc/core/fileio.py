"""Atomic file writing and content checksums.

Every output is written to a temporary name in the destination folder and renamed into
place, so a crash never leaves a truncated file that a later step would accept. A write that
fails for a reason the user must fix (:data:`EXPECTED_WRITE_ERRORS`: full disk, quota,
permissions, read-only file system) is one :class:`~agc.core.errors.AGCError` naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agc.core.errors import AGCError

_CHUNK = 1 << 20
#: ``errno`` of a write that fails for a reason the user has to fix (no space, over quota, no
#: permission, read-only file system, file too large): one line, never a traceback.
EXPECTED_WRITE_ERRORS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EFBIG}
)
_TEMPORARY = re.compile(r"\.(.+)\.[^.]+\.tmp")


def shown_path(path: str | os.PathLike[str]) -> Path:
    """``path`` with the temporary names of :func:`atomic_path` (``.name.XXXX.tmp``) mapped back
    to the destination's name, for messages."""
    path = Path(path)
    name = path.name
    while match := _TEMPORARY.fullmatch(name):
        name = match.group(1)
    return path.with_name(name)


def write_error(path: str | os.PathLike[str], exc: OSError) -> AGCError:
    """The one-line :class:`AGCError` of a failed write of ``path``."""
    return AGCError(f"cannot write {shown_path(path)}: {exc.strerror or exc}")


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 digest of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


#: The first bytes of every ROOT file (the TFile header), whether it holds TTrees or RNTuples.
ROOT_SIGNATURE = b"root"


def check_root_signature(path: str | os.PathLike[str], where: str = "") -> None:
    """Raise :class:`AGCError` naming ``path`` (and ``where``, e.g. ``"(sample ttbar)"``)
    unless the file starts with :data:`ROOT_SIGNATURE`; reads 4 bytes."""
    with open(path, "rb") as handle:
        head = handle.read(len(ROOT_SIGNATURE))
    if head != ROOT_SIGNATURE:
        place = f" {where}" if where else ""
        raise AGCError(
            f"input file {path}{place} is not a ROOT file: it starts with {head!r}, "
            f"not {ROOT_SIGNATURE!r}"
        )


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        if exc.errno in EXPECTED_WRITE_ERRORS:
            raise write_error(target, exc) from None
        raise
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp creates owner-only files; give outputs the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except OSError as exc:
        if exc.errno in EXPECTED_WRITE_ERRORS:
            raise write_error(target, exc) from None
        raise
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink(missing_ok=True)


def read_input_text(path: str | os.PathLike[str], what: str) -> str:
    """The UTF-8 text of a user-given input file; one-line :class:`~agc.core.errors.AGCError` naming
    ``what`` (e.g. "manifest") and the path when it is missing or unreadable."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AGCError(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise AGCError(f"cannot read {what} {path}: {reason}") from None


def canonical_json(data: Any) -> str:
    """Deterministic JSON text: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Atomically write ``data`` as canonical JSON to ``path``; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(canonical_json(data), encoding="utf-8")
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Atomically write ``text`` to ``path``; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def fresh_directory(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` empty (removing what a previous run left there) and return it."""
    path = Path(path)
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


@contextlib.contextmanager
def replaced_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty folder beside ``path`` to fill; when the block succeeds it replaces
    ``path`` (what a previous run left there is removed), when it raises it is removed and
    ``path`` stays as it was. The replacement is two renames on one file system."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.new-", dir=path.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = None
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
        os.replace(path, old / path.name)
    os.replace(staging, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
