"""The inputs of the processing stage: the manifest and the checks of every input file.

:func:`load_inputs` loads the manifest (a path, ``"embedded"`` or a dict);
:func:`manifest_records` gives each selected sample's file records; :func:`check_file` checks
one local input file before any processing (exists, manifest size and sha256, complete ROOT
file, the ``Events`` tree, every branch read) and :func:`check_inputs` every file of a fileset.

TTree or RNTuple: the format is the file's (:func:`events_format`), never a parameter; coffea
reads both through the same NanoEvents code, and a field missing from an RNTuple gets the same
message as a branch missing from a TTree.
"""

from __future__ import annotations

import os
from typing import Any

import uproot

from agc.core import physics
from agc.core.errors import AGCError
from agc.core.fileio import sha256_file
from agc.core.validation import validate
from agc.dataset.manifest import (
    EMBEDDED_KEYWORD,
    is_remote,
    load_manifest,
    resolve_inputs,
    sample_key,
    select_samples,
)
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


def load_inputs(inputs: str | os.PathLike[str] | dict[str, Any]) -> dict[str, Any]:
    """The manifest named by ``inputs``: a path, ``"embedded"`` or an already-loaded dict."""
    if isinstance(inputs, dict):
        validate(inputs, "manifest", "inputs")
        return inputs
    if str(inputs) == EMBEDDED_KEYWORD:
        inputs = resolve_inputs(inputs)
    return load_manifest(inputs)


def manifest_records(
    manifest: dict[str, Any], samples: str | list[str], max_files: int
) -> dict[str, list[dict[str, Any]]]:
    """Per dataset, the manifest's file records (path, nevts, sha256?, size?) kept by ``max_files``."""
    records: dict[str, list[dict[str, Any]]] = {}
    for process, variation in select_samples(manifest, samples):
        files = manifest[process][variation]["files"]
        name = sample_key(process, variation)
        records[name] = list(files if max_files == -1 else files[:max_files])
        paths = [item["path"] for item in records[name]]
        duplicates = sorted({p for p in paths if paths.count(p) > 1})
        if duplicates:
            raise AGCError(f"sample '{name}': file {duplicates[0]} is listed twice in the manifest")
    return records


def check_file(
    path: str,
    tree: str = TREE,
    *,
    sample: str = "",
    sha256: str | None = None,
    size: int | None = None,
    branches: tuple[str, ...] = physics.BRANCHES_READ,
) -> int:
    """Check one local input file before processing; return its number of entries.

    It must exist, have the manifest's ``size`` [bytes] and ``sha256`` (when given), be a
    complete ROOT file (not truncated) with the ``tree`` TTree or RNTuple holding every branch
    (field) of ``branches`` (default :data:`agc.core.physics.BRANCHES_READ`; the ML extension
    adds :data:`agc.core.physics.ML_BRANCHES_READ`). Raises :class:`AGCError` naming the file,
    the sample and the branch, in the same words for both formats.
    """
    where = f"(sample {sample})" if sample else ""
    if not os.path.isfile(path):
        raise AGCError(f"input file not found: {path} {where}".rstrip())
    if size is not None and os.path.getsize(path) != size:
        raise AGCError(
            f"input file {path} {where}: size {os.path.getsize(path)} bytes differs from the "
            f"manifest's {size}"
        )
    if sha256 and sha256_file(path) != sha256:
        raise AGCError(f"input file {path} {where}: sha256 differs from the manifest's")
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
            return int(ttree.num_entries)
    except AGCError:
        raise
    except Exception as exc:  # noqa: BLE001 (any failure to read is the file's)
        raise AGCError(f"cannot read ROOT file {path} {where}: {one_line(exc)}") from None


def check_inputs(
    fileset: dict[str, dict[str, Any]], *, verify_checksums: bool = True
) -> dict[str, int]:
    """:func:`check_file` on every local file of a fileset (:func:`agc.dataset.manifest.fileset`), with
    the recorded sha256 if ``verify_checksums``; stops at the first bad file.

    Returns ``{path: number of entries}``. Remote files (URLs) are left to the run itself.
    """
    entries: dict[str, int] = {}
    for dataset, entry in fileset.items():
        checksums = entry["metadata"].get("checksums", {})
        for path, tree in entry["files"].items():
            if is_remote(path):
                continue
            entries[path] = check_file(
                path,
                tree,
                sample=dataset,
                sha256=checksums.get(path) if verify_checksums else None,
            )
    return entries
