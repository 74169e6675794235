"""Input file lists in the AGC layout, for the embedded default and the real AGC inputs alike.

Layout (the AGC's ``nanoaod_inputs.json``)::

    {process: {variation: {"nevts_total": N, "files": [{"path": P, "nevts": n}, ...]}}}

The embedded default's manifest adds, per sample, ``xsec`` [pb] and ``filter_efficiency``
and, per file, ``sha256`` and ``size`` [bytes]. Relative paths resolve from the manifest's
folder; URLs (``root://``, ``https://``) are passed to uproot untouched.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from agc.core import physics
from agc.core.errors import AGCError
from agc.core.fileio import read_input_text, write_json
from agc.core.validation import validate

Manifest = dict[str, dict[str, dict[str, Any]]]

SAMPLE_SEPARATOR = "__"


def sample_key(process: str, variation: str) -> str:
    """Dataset name of one sample as coffea sees it, e.g. ``ttbar__nominal``."""
    return f"{process}{SAMPLE_SEPARATOR}{variation}"


def is_remote(path: str) -> bool:
    """True for URLs (``root://``, ``https://``, ...) that uproot opens over the network."""
    return "://" in path and not path.startswith("file://")


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read and validate a manifest; relative file paths are made absolute.

    Raises :class:`AGCError` naming the file for a missing file, malformed JSON or a schema
    violation (naming the key).
    """
    path = Path(path)
    text = read_input_text(path, "manifest")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AGCError(
            f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    validate(data, "manifest", str(path))
    base = path.resolve().parent
    for variations in data.values():
        for entry in variations.values():
            for item in entry["files"]:
                if not is_remote(item["path"]):
                    local = item["path"].removeprefix("file://")
                    item["path"] = (
                        str((base / local).resolve()) if not os.path.isabs(local) else local
                    )
    return data


def write_manifest(path: str | os.PathLike[str], data: Manifest) -> Path:
    """Validate and atomically write a manifest (canonical, sorted JSON)."""
    validate(data, "manifest", str(path))
    return write_json(path, data)


def cross_section(process: str, entry: dict[str, Any]) -> float:
    """Effective cross-section [pb] of a sample: its own ``xsec`` x ``filter_efficiency`` if given,
    else the physics card's value; unknown process without ``xsec`` is an error."""
    if "xsec" in entry:
        return float(entry["xsec"]) * float(entry.get("filter_efficiency", 1.0))
    if process in physics.XSEC_PB:
        return physics.XSEC_PB[process] * float(entry.get("filter_efficiency", 1.0))
    raise AGCError(f"no cross-section for process '{process}': add 'xsec' to its manifest entry")


def select_samples(
    manifest: Manifest, samples: str | list[str] | None = None
) -> list[tuple[str, str]]:
    """(process, variation) pairs chosen by ``samples``.

    ``samples`` is ``None``/``"all"`` (the analysis processes of the physics card that the
    manifest has), or a list / comma-separated string of ``process`` (all its variations) or
    ``process__variation`` names. An unknown name is an error listing the known ones.
    """
    if samples is None or samples in ("all", ["all"]):
        chosen = [(p, v) for p in physics.VARIATIONS for v in manifest.get(p, {})]
        if not chosen:
            raise AGCError(
                f"manifest has none of the analysis processes {sorted(physics.VARIATIONS)}"
            )
        return chosen
    names = [s.strip() for s in samples.split(",")] if isinstance(samples, str) else list(samples)
    chosen: list[tuple[str, str]] = []
    for name in names:
        if not name:
            continue
        process, sep, variation = name.partition(SAMPLE_SEPARATOR)
        if process not in manifest or (sep and variation not in manifest[process]):
            known = sorted(sample_key(p, v) for p, vs in manifest.items() for v in vs)
            raise AGCError(
                f"unknown sample '{name}'; known: {', '.join(sorted(manifest))} or {', '.join(known)}"
            )
        pairs = [(process, variation)] if sep else [(process, v) for v in manifest[process]]
        chosen.extend(pair for pair in pairs if pair not in chosen)
    if not chosen:
        raise AGCError("no sample selected: 'samples' is empty")
    return chosen


def fileset(
    manifest: Manifest,
    samples: str | list[str] | None = None,
    max_files: int = -1,
) -> dict[str, dict[str, Any]]:
    """coffea fileset ``{dataset: {"files": {path: "Events"}, "metadata": {...}}}``.

    ``max_files`` (like the AGC's ``N_FILES_MAX_PER_SAMPLE``; -1 = all) keeps the first files
    of each sample; the metadata's ``nevts`` is the sum of ``nevts`` of the kept files (the
    MC normalisation's N_generated), ``xsec`` the effective cross-section [pb].
    """
    if max_files == 0 or max_files < -1:
        raise AGCError(f"max_files must be -1 (all) or a positive integer, got {max_files}")
    result: dict[str, dict[str, Any]] = {}
    for process, variation in select_samples(manifest, samples):
        entry = manifest[process][variation]
        files = entry["files"] if max_files == -1 else entry["files"][:max_files]
        result[sample_key(process, variation)] = {
            "files": {item["path"]: "Events" for item in files},
            "metadata": {
                "process": process,
                "variation": variation,
                "xsec": cross_section(process, entry) if process != "data" else 1.0,
                "nevts": int(sum(item["nevts"] for item in files)),
                "checksums": {item["path"]: item.get("sha256") for item in files},
            },
        }
    return result


#: Where ``inputs=embedded`` points: the embedded default's manifest (relative to the workspace).
EMBEDDED_MANIFEST = Path("data") / "embedded" / "manifest.json"
EMBEDDED_KEYWORD = "embedded"


def resolve_inputs(inputs: str | os.PathLike[str]) -> Path:
    """Path of the manifest named by the ``inputs`` parameter.

    ``"embedded"`` is the embedded default (``data/embedded/manifest.json`` in the working
    directory); anything else is a path to a manifest in the AGC layout.
    """
    if str(inputs) == EMBEDDED_KEYWORD:
        return EMBEDDED_MANIFEST
    if not str(inputs).strip():
        raise AGCError("parameter 'inputs' is empty: give 'embedded' or a manifest path")
    return Path(inputs)
