"""Software Heritage identifiers (SWHID) of the code tree, computed offline with ``swh.model``.

A directory SWHID (``swh:1:dir:<40 hex>``) is the git tree hash of a folder: names, bytes and the
executable bit of every file, nothing else (no times, no owners). :func:`tree_swhid` computes it
over a list of files below a root -- the code files of a checkout (:func:`code_swhid`, recorded
in ``provenance.json``), which are exactly what the archive bags under ``data/code/`` -- and
:func:`directory_swhid` over a whole folder on disk (the bagged ``data/code/``, what
``swh identify`` prints for it). The two agree when the bag holds the same files, so the
SWHID in the archive's ``codemeta.json`` names the bagged code and can be looked up in the
Software Heritage archive once the repository is saved there.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from swh.model.from_disk import Content, Directory

from agc.core.errors import AGCError


def tree_swhid(root: str | os.PathLike[str], files: Iterable[str]) -> str:
    """The directory SWHID of the tree made of ``files`` (POSIX paths relative to ``root``)."""
    root = Path(root)
    top = Directory()
    for rel in sorted(files):
        *folders, name = rel.split("/")
        node = top
        for folder in folders:
            key = folder.encode()
            if key not in node:
                node[key] = Directory()
            node = node[key]
        try:
            node[name.encode()] = Content.from_file(path=str(root / rel), max_content_length=None)
        except OSError as exc:
            raise AGCError(f"{root / rel}: cannot read for the SWHID ({exc.strerror})") from None
    return str(top.swhid())


def directory_swhid(path: str | os.PathLike[str]) -> str:
    """The directory SWHID of the folder ``path`` with everything in it (as ``swh identify``)."""
    path = Path(path)
    if not path.is_dir():
        raise AGCError(f"{path}: not a folder, no SWHID")
    return str(Directory.from_disk(path=os.fsencode(path), max_content_length=None).swhid())
