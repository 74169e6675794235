"""The checks of every input file of the processing stage, before any processing.

:func:`check_file` checks one local input file of a sample selected from the
:class:`~agc.dataset.manifest.Manifest` (exists, manifest size and sha256, complete ROOT file,
the ``Events`` tree, every branch read) and :func:`check_inputs` every file of the selected
samples.

TTree or RNTuple: the format is the file's (:func:`events_format`), never a parameter; coffea
reads both through the same NanoEvents code, and a field missing from an RNTuple gets the same
message as a branch missing from a TTree.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from typing import Any

import uproot

from agc.core import physics
from agc.core.errors import AGCError
from agc.core.fileio import check_root_signature, sha256_file
from agc.dataset.manifest import InputFile, SelectedSample
from agc.processing.errors import one_line

#: The NanoAOD tree (TTree or RNTuple) every input file must hold.
TREE = "Events"


def events_format(events: Any) -> str:
    """``"ttree"`` or ``"rntuple"``: the format of an opened ``Events`` object; ``""`` when it
    is neither (e.g. a histogram named ``Events``)."""
    if isinstance(events, uproot.behaviors.TTree.TTree):
        return "ttree"
    if isinstance(events, uproot.behaviors.RNTuple.RNTuple):
        return "rntuple"
    return ""


def check_file(
    item: InputFile,
    tree: str = TREE,
    *,
    sample: str = "",
    branches: tuple[str, ...] = physics.BRANCHES_READ,
) -> InputFile:
    """Check one local input file before processing (:func:`inspect_file`); return it with its
    ``entries`` (and, when the manifest records a sha256, its ``content``)."""
    return inspect_file(item, tree, sample=sample, branches=branches)[0]


def inspect_file(
    item: InputFile,
    tree: str = TREE,
    *,
    sample: str = "",
    branches: tuple[str, ...] = physics.BRANCHES_READ,
) -> tuple[InputFile, bytes]:
    """Check one local input file before processing; return it with its ``entries`` (and, when
    the manifest records a sha256, its ``content``), and the ROOT file's UUID (16 bytes: with
    the number of entries, the metadata coffea's Runner needs to cut the file into chunks).

    It must exist, have the manifest's ``size`` [bytes] and ``sha256`` (when given; a file
    whose ``content`` is known already is not read again), be a complete ROOT file (not
    truncated) with the ``tree`` TTree or RNTuple holding every branch (field) of ``branches``
    (default :data:`agc.core.physics.BRANCHES_READ`; the ML extension adds
    :data:`agc.core.physics.ML_BRANCHES_READ`). Raises :class:`AGCError` naming the file, the
    sample and the branch, in the same words for both formats.
    """
    path = item.path
    where = f"(sample {sample})" if sample else ""
    if not os.path.isfile(path):
        raise AGCError(f"input file not found: {path} {where}".rstrip())
    if item.size is not None and os.path.getsize(path) != item.size:
        raise AGCError(
            f"input file {path} {where}: size {os.path.getsize(path)} bytes differs from the "
            f"manifest's {item.size}"
        )
    content = item.content
    if item.sha256 and content is None:
        content = sha256_file(path)
    if item.sha256 and content != item.sha256:
        raise AGCError(f"input file {path} {where}: sha256 differs from the manifest's")
    check_root_signature(path, where)
    try:
        with uproot.open(path) as handle:
            actual, end = os.path.getsize(path), int(handle.file.fEND)
            if actual < end:
                raise AGCError(f"input file {path} {where} is truncated: {actual} of {end} bytes")
            if tree not in handle:
                keys = ", ".join(sorted(handle.keys(cycle=False))) or "none"
                raise AGCError(f"input file {path} {where} has no '{tree}' tree (keys: {keys})")
            ttree = handle[tree]
            if not events_format(ttree):
                raise AGCError(f"input file {path} {where}: '{tree}' is not a TTree or RNTuple")
            present = set(ttree.keys())
            missing = [b for b in branches if b not in present]
            if missing:
                raise AGCError(
                    f"input file {path} {where}: missing branch '{missing[0]}' in '{tree}'"
                    + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                )
            entries = int(ttree.num_entries)
            file_uuid = bytes(handle.file.fUUID)
    except AGCError:
        raise
    except Exception as exc:  # noqa: BLE001 (any failure to read is the file's)
        raise AGCError(f"cannot read ROOT file {path} {where}: {one_line(exc)}") from None
    return dataclasses.replace(item, content=content, entries=entries), file_uuid


def check_inputs(
    samples: Iterable[SelectedSample], *, verify_checksums: bool = True
) -> dict[str, int]:
    """:func:`check_file` on every local file of ``samples``
    (:meth:`agc.dataset.manifest.Manifest.select`), with the recorded sha256 if
    ``verify_checksums``; stops at the first bad file.

    Returns ``{path: number of entries}``. Remote files (URLs) are left to the run itself.
    """
    entries: dict[str, int] = {}
    for sample in samples:
        for item in sample.files:
            if item.remote:
                continue
            record = item if verify_checksums else dataclasses.replace(item, sha256=None)
            entries[item.path] = check_file(record, sample=sample.key).entries or 0
    return entries
