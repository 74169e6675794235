"""The archive folder's own checksum manifest: ``SHA256SUMS`` of every file beside the bag.

The bag (``<archive>/bag``) is covered by its BagIt manifests; the files deposited beside it --
the bag tarball for Zenodo, the HEPData submission tarball and folder, the citation files -- are
covered by ``<archive>/SHA256SUMS``, written when the archive is built, in the format of
``sha256sum`` (``<64 hex digits>  <path relative to the archive>``, one line per file, sorted),
so ``sha256sum -c SHA256SUMS`` checks them without this package.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from agc.core.fileio import sha256_file, write_text

#: The checksum manifest of the archive folder.
CHECKSUMS_NAME = "SHA256SUMS"
#: The folder of the archive holding the BagIt bag (covered by its own manifests).
BAG_DIR = "bag"
_LINE = re.compile(r"^(?P<digest>[0-9a-f]{64}) [ *](?P<path>.+)$")


@dataclass(frozen=True)
class Differences:
    """Files of a folder that differ from its manifest (paths relative to the folder, sorted)."""

    missing: list[str]
    added: list[str]
    changed: list[str]

    def lines(self) -> list[str]:
        """``missing <path>``, ``added <path>``, ``changed <path>``: one per file."""
        return [
            f"{what} {path}"
            for what, paths in (
                ("missing", self.missing),
                ("added", self.added),
                ("changed", self.changed),
            )
            for path in paths
        ]

    def __bool__(self) -> bool:
        return bool(self.missing or self.added or self.changed)


def files_beside_bag(archive: Path) -> list[str]:
    """Every file of ``archive`` outside ``bag/`` except ``SHA256SUMS`` (POSIX paths, sorted)."""
    found = []
    for path in archive.rglob("*"):
        rel = path.relative_to(archive)
        if rel.parts[0] == BAG_DIR or rel.as_posix() == CHECKSUMS_NAME:
            continue
        if path.is_file() or path.is_symlink():
            found.append(rel.as_posix())
    return sorted(found)


def write_checksums(archive: Path) -> Path:
    """Write ``archive/SHA256SUMS`` for :func:`files_beside_bag`; its path."""
    lines = [f"{sha256_file(archive / rel)}  {rel}\n" for rel in files_beside_bag(archive)]
    return write_text(archive / CHECKSUMS_NAME, "".join(lines))


def read_checksums(path: Path) -> dict[str, str]:
    """Relative path -> sha256 of a ``SHA256SUMS`` file.

    Raises:
        ValueError: a line that is not ``<sha256>  <relative path>``, a path leaving the folder
            or into ``bag/``, or a path listed twice (the line number named).
    """
    listed: dict[str, str] = {}
    text = path.read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        match = _LINE.match(line)
        rel = PurePosixPath(match["path"]) if match else None
        if (
            match is None
            or rel is None
            or rel.is_absolute()
            or ".." in rel.parts
            or rel.parts[0] == BAG_DIR
        ):
            raise ValueError(f"{path.name} line {number}: not '<sha256>  <path>': {line[:80]!r}")
        if rel.as_posix() in listed:
            raise ValueError(f"{path.name} line {number}: {rel.as_posix()} listed twice")
        listed[rel.as_posix()] = match["digest"]
    return listed


def compare_checksums(archive: Path) -> Differences:
    """The files beside the bag that are missing from, added to or changed since
    ``archive/SHA256SUMS`` (OSError if it cannot be read, ValueError if malformed)."""
    listed = read_checksums(archive / CHECKSUMS_NAME)
    present = set(files_beside_bag(archive))
    changed = [
        rel
        for rel in sorted(present & set(listed))
        if not os.path.isfile(archive / rel) or sha256_file(archive / rel) != listed[rel]
    ]
    return Differences(
        missing=sorted(set(listed) - present), added=sorted(present - set(listed)), changed=changed
    )
