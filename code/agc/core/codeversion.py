"""The version of the code, as a hash of its sources: what caches and provenance are keyed on.

The one rule for cached event processing
-----------------------------------------
A cached per-sample sum (:mod:`agc.processing.cache`) and a chunk checkpoint
(:mod:`agc.processing.checkpoint`) are valid for exactly one :func:`processing_hash`: the sha256
of every source file (``.py``, ``.json``) of the processing layer and the layers beneath it,
:data:`PROCESSING_LAYERS` = ``agc.core``, ``agc.dataset``, ``agc.analysis``, ``agc.processing``. The layer contract
(``[tool.importlinter]`` in pyproject.toml, checked by tests/test_architecture.py) guarantees
that the processing code imports nothing else, so the hash covers all of it; edits to the
statistics, plots, reinterpretation, publishing or workflow layers leave the cache valid.

:func:`code_hash` of the whole package is the code version recorded in provenance.json and in
the archive: it identifies the code even where no git checkout exists (a REANA workspace, an
unpacked archive).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

#: The subpackages whose sources make up the event-processing code (see the module docstring).
PROCESSING_LAYERS: tuple[str, ...] = ("core", "dataset", "analysis", "processing")


def package_dir() -> Path:
    """The folder of the installed ``agc`` package (``code/agc`` in the repository)."""
    return Path(__file__).resolve().parents[1]


def code_hash(subpackages: Sequence[str] | None = None) -> str:
    """sha256 (64 hex digits) over the package's source files, relative path and bytes, sorted
    (a wheel's copy of the analysis files, ``agc/_data``, is not code and is left out).

    Args:
        subpackages: names of ``agc`` subpackages (``"core"``, ...) to restrict the hash to;
            ``None`` hashes the whole package (top-level modules included).
    """
    root = package_dir()
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix in {".py", ".json"}
        and not {"__pycache__", "_data"} & set(p.relative_to(root).parts)
    )
    if subpackages is not None:
        files = [p for p in files if p.relative_to(root).parts[0] in subpackages]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def processing_hash() -> str:
    """:func:`code_hash` of :data:`PROCESSING_LAYERS`: the code version in cache keys and checkpoint names."""
    return code_hash(PROCESSING_LAYERS)
