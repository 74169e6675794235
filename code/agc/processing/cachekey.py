"""The key of a cached per-sample sum (:mod:`agc.processing.cache`), and of a partial output.

``key`` = sha256 of the canonical JSON of :func:`key_inputs`:

- the cache format and the version of the event-processing code
  (:func:`agc.core.codeversion.processing_hash`, the one rule stated there: the sources of
  ``agc.core``, ``agc.dataset`` and ``agc.processing``, so every constant of
  :mod:`agc.core.physics` -- cuts, binning, systematics -- but not the statistics, plots,
  reinterpretation or publishing code, whose edits leave the cached sums valid);
- the sample (process, variation), its effective cross-section [pb];
- per input file, in manifest order: its content (sha256 of the bytes for a local file, computed
  here; the URL plus the manifest's sha256 for a remote file) and its ``nevts``.

File paths, executor, worker count and chunk size are not part of the key: the sums are exact,
so they do not depend on them. The histogram stage records the key in each partial output it
writes, so that a later signal swap can take the sums from there.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from agc.core import physics
from agc.core.codeversion import processing_hash
from agc.core.errors import AGCError
from agc.core.fileio import canonical_json, sha256_file
from agc.dataset.manifest import cross_section, is_remote, sample_key

CACHE_FORMAT = "agc-histogram-cache/2"


def file_identity(record: dict[str, Any], sample: str) -> str:
    """Content identity of one input file: ``sha256:<hex>`` of the bytes (local), checked
    against the manifest's sha256 if given; ``url:<path>[#sha256]`` for a remote file."""
    path = str(record["path"])
    declared = record.get("sha256")
    if is_remote(path):
        return f"url:{path}" + (f"#sha256:{declared}" if declared else "")
    if not os.path.isfile(path):
        raise AGCError(f"input file not found: {path} (sample {sample})")
    actual = sha256_file(path)
    if declared and declared != actual:
        raise AGCError(f"input file {path} (sample {sample}): sha256 differs from the manifest's")
    return f"sha256:{actual}"


def key_inputs(
    manifest: dict[str, Any],
    process: str,
    variation: str,
    max_files: int = -1,
    use_inference: bool = False,
) -> dict[str, Any]:
    """What the cache key of one sample is computed from (see the module docstring); sums with
    the ML features (``use_inference``) are keyed apart, with the BDTs' sha256."""
    entry = manifest[process][variation]
    files = entry["files"] if max_files == -1 else entry["files"][:max_files]
    name = sample_key(process, variation)
    base = {
        "format": CACHE_FORMAT,
        "code": processing_hash(),
        "sample": name,
        "process": process,
        "variation": variation,
        "xsec": cross_section(process, entry) if process != "data" else 1.0,
        "files": [{"content": file_identity(f, name), "nevts": int(f["nevts"])} for f in files],
    }
    return with_inference(base) if use_inference else base


def with_inference(inputs: dict[str, Any]) -> dict[str, Any]:
    """The :func:`key_inputs` of the same sample with the ML features (and the BDTs' sha256)."""
    return {**inputs, "use_inference": True, "models": physics.ML_MODEL_SHA256}


def cache_key(inputs: dict[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of :func:`key_inputs`."""
    return hashlib.sha256(canonical_json(inputs).encode("utf-8")).hexdigest()
