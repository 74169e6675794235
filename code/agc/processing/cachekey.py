"""The key of a cached per-sample sum (:mod:`agc.processing.cache`), and of a partial output.

``key`` = sha256 of the canonical JSON of :func:`key_inputs`:

- the cache format and the version of the event-processing code
  (:func:`agc.core.codeversion.processing_hash`, the one rule stated there: the sources of
  ``agc.core``, ``agc.dataset`` and ``agc.processing``, so every constant of
  :mod:`agc.core.physics` -- cuts, binning, systematics -- but not the statistics, plots,
  reinterpretation or publishing code, whose edits leave the cached sums valid);
- the sample (process, variation), its effective cross-section [pb];
- per input file, in manifest order: its content (sha256 of the bytes for a local file, read
  once per run: by :func:`hashed` or by the input checks; the URL plus the manifest's sha256
  for a remote file) and its ``nevts``.

File paths, executor, worker count and chunk size are not part of the key: the sums are exact,
so they do not depend on them. The histogram stage records the key in each partial output it
writes, so that a later signal swap can take the sums from there.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Any

from agc.core import physics
from agc.core.codeversion import processing_hash
from agc.core.errors import AGCError
from agc.core.fileio import canonical_json, sha256_file
from agc.dataset.manifest import InputFile, SelectedSample

CACHE_FORMAT = "agc-histogram-cache/2"


def hashed(sample: SelectedSample) -> SelectedSample:
    """``sample`` with the ``content`` (sha256 of the bytes) of every local file, checked
    against the manifest's sha256 when given; a file hashed already is not read again."""
    files = []
    for item in sample.files:
        record = item
        if not item.remote and item.content is None:
            if not os.path.isfile(item.path):
                raise AGCError(f"input file not found: {item.path} (sample {sample.key})")
            record = dataclasses.replace(item, content=sha256_file(item.path))
        if record.content is not None and record.sha256 and record.sha256 != record.content:
            raise AGCError(
                f"input file {item.path} (sample {sample.key}): sha256 differs from the manifest's"
            )
        files.append(record)
    return sample.with_files(files)


def file_identity(item: InputFile) -> str:
    """Content identity of one input file: ``sha256:<hex>`` of the bytes (a local file, whose
    ``content`` :func:`hashed` or the input checks filled in); ``url:<path>[#sha256]`` for a
    remote file."""
    if item.remote:
        return f"url:{item.path}" + (f"#sha256:{item.sha256}" if item.sha256 else "")
    if item.content is None:
        raise AGCError(
            f"input file {item.path}: content not hashed (agc.processing.cachekey.hashed)"
        )
    return f"sha256:{item.content}"


def key_inputs(sample: SelectedSample, use_inference: bool = False) -> dict[str, Any]:
    """What the cache key of one sample is computed from (see the module docstring), its local
    files hashed (:func:`hashed`); sums with the ML features (``use_inference``) are keyed
    apart, with the BDTs' sha256."""
    base = {
        "format": CACHE_FORMAT,
        "code": processing_hash(),
        "sample": sample.key,
        "process": sample.process,
        "variation": sample.variation,
        "xsec": sample.xsec,
        "files": [{"content": file_identity(f), "nevts": f.nevts} for f in sample.files],
    }
    return with_inference(base) if use_inference else base


def with_inference(inputs: dict[str, Any]) -> dict[str, Any]:
    """The :func:`key_inputs` of the same sample with the ML features (and the BDTs' sha256)."""
    return {**inputs, "use_inference": True, "models": physics.ML_MODEL_SHA256}


def cache_key(inputs: dict[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of :func:`key_inputs`."""
    return hashlib.sha256(canonical_json(inputs).encode("utf-8")).hexdigest()
