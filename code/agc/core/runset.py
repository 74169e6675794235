"""Output files written as one set, and readers that refuse a mixed set.

A stage that writes several files that belong together (the processing stage's
``histograms.root``, ``histograms_ml.root`` and ``cutflow.json``) writes them with
:func:`write_set`: every file to a temporary name beside its destination first, then all renamed
into place, and last the record ``.run-set.json`` in the folder of the first file: the set's
possible members, the sha256 of each file written and a run id (a digest of those sha256, so the
same outputs give the same record). A fault while writing leaves the previous set untouched.
:func:`check_set` refuses, with one line, a set whose files are not those of its record: a file
changed or replaced since, or a member left from an earlier run beside a newer set.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agc.core.errors import AGCError
from agc.core.fileio import atomic_path, canonical_json, sha256_file

#: The set's record, in the folder of its first file (hidden: not an output itself).
RECORD_NAME = ".run-set.json"
RECORD_FORMAT = "agc-run-set/1"

Writer = Callable[[Path], Any]


def _name(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` as the record spells it (POSIX separators)."""
    return Path(os.path.relpath(path, folder)).as_posix()


def write_set(writers: dict[Path, Writer], members: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Write every ``{destination: writer}`` as one set and return the record written.

    Each writer is called with a temporary path in its destination's folder and must write the
    file there; only when all have succeeded are they renamed onto their destinations, then the
    record (``.run-set.json`` beside the first destination) is replaced. ``members``: further
    files the set may hold (e.g. ``histograms_ml.root`` of a run without it), so that such a
    file left from an earlier run is refused by :func:`check_set`.
    """
    destinations = list(writers)
    folder = destinations[0].parent
    with contextlib.ExitStack() as stack:
        # ExitStack renames in reverse order of entry: the files first, the record last.
        record_tmp = stack.enter_context(atomic_path(folder / RECORD_NAME))
        temporaries = {dest: stack.enter_context(atomic_path(dest)) for dest in destinations}
        for dest, writer in writers.items():
            writer(temporaries[dest])
        files = {_name(dest, folder): sha256_file(temporaries[dest]) for dest in destinations}
        every = sorted({*files, *(_name(Path(m), folder) for m in members)})
        run = hashlib.sha256(canonical_json(files).encode("utf-8")).hexdigest()[:16]
        record = {"format": RECORD_FORMAT, "run": run, "files": files, "members": every}
        record_tmp.write_text(canonical_json(record), encoding="utf-8")
    return record


def read_record(folder: Path) -> dict[str, Any] | None:
    """The set record of ``folder`` (None when there is none)."""
    path = folder / RECORD_NAME
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AGCError(f"unreadable output-set record {path}: {exc}") from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise AGCError(f"{path}: not an output-set record ({RECORD_FORMAT})")
    return record


def check_set(path: str | os.PathLike[str], rerun: str = "rerun the stage that wrote it") -> None:
    """Refuse (one-line :class:`AGCError`) to read ``path`` when it belongs to a recorded set
    (``.run-set.json`` beside it lists it) whose files are not those the record holds; ``rerun``
    tells the user what rewrites the set. A file with no record beside it is accepted."""
    path = Path(path)
    folder = path.parent
    record = read_record(folder)
    if record is None or path.name not in record.get("members", ()):
        return
    files = record.get("files", {})
    for name in record["members"]:
        member = folder / name
        if name in files:
            if not member.is_file():
                problem = "is missing"
            elif sha256_file(member) != files[name]:
                problem = "was changed or replaced by another run"
            else:
                continue
        elif member.exists():
            problem = "is left from an earlier run"
        else:
            continue
        raise AGCError(
            f"{member} {problem}: it does not belong to the output set of run "
            f"{record.get('run')} recorded in {folder / RECORD_NAME}; {rerun}"
        )
