"""The embedded default dataset: deterministic synthetic NanoAOD from a parton-level toy generator.

A recipe (``inputs/embedded.yaml``, :mod:`agc.dataset.recipe`) names the samples (the nine of
the physics card plus Z' -> ttbar signals), their event counts, cross-sections and the physics
knobs of each; :func:`generate_dataset` turns it into ROOT files with the NanoAOD layout of the
real CMS file (:mod:`agc.dataset.branches`) and a ``manifest.json`` in the AGC layout.

The generator, module by module (all vectorised over a block of events, no per-event loop):

1. :mod:`agc.dataset.partons` -- hard process (ttbar, Z' -> ttbar, single top t/s/tW, W+jets
   with top and W decays) and radiation, which is where the ttbar variations differ;
2. :mod:`agc.dataset.jets` -- clustering (R = 0.4), smearing, jet mass, jet ID, CSVV2 b-tag,
   pileup jets and the jets that contain the isolated leptons;
3. :mod:`agc.dataset.leptons` -- prompt, non-prompt (b/c-hadron decays) and fake leptons with
   ID, isolation and sip3d drawn per origin;
4. :mod:`agc.dataset.events` -- one block of events through these steps, the optional
   preselection and the jagged branches (:func:`generate_events`);
5. :mod:`agc.dataset.seeds` -- seeds from sha256 of (recipe seed, sample, block) and the event
   identity; :mod:`agc.dataset.writer` -- files written in parallel, byte-reproducibly.
   Helpers: :mod:`agc.dataset.fourvectors`, :mod:`agc.dataset.sampling`.
6. For the machine-learning extension: :mod:`agc.dataset.genpart` -- the ``GenPart`` record of
   the hard process; :mod:`agc.dataset.qgl` -- the quark-gluon likelihood ``Jet_qgl``; their
   random numbers come from a second stream per block (:func:`agc.dataset.seeds.aux_rng`), so
   the other branches are those of generator version 1.

Normalisation: the manifest records, per sample, ``xsec`` [pb] and ``filter_efficiency`` =
(generator filter efficiency of the recipe: the fraction of ``xsec`` in the simulated phase
space, e.g. the l+jets branching fraction for ttbar) x the recipe's global
``yield_calibration`` (0.46 for the default: the reference yields come from NanoAOD files whose
muon ID flags are empty, so only electrons pass there; see ``inputs/embedded.yaml``).

Preselection (optional recipe section): only the generated events that can pass the analysis
selection are written; the random numbers do not depend on it, so histograms equal those of the
full sample. The manifest then records ``nevts_generated`` and ``preselection_efficiency``
(kept / generated), and ``filter_efficiency`` includes the latter, so
xsec * filter_efficiency * lumi / nevts_total is the weight of one generated event.

Event *i* of a sample depends only on the recipe, not on the file split or ``workers``; the same
recipe gives the same arrays and (same numpy build and instruction set) the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import uproot

from agc.core.errors import AGCError
from agc.core.fileio import canonical_json, sha256_file, write_json
from agc.dataset.branches import BRANCH_TYPES, DEFAULT_FORMAT, FORMATS
from agc.dataset.events import generate_events
from agc.dataset.manifest import GENERATION_RECORD, load_manifest, sample_key, write_manifest
from agc.dataset.readback import summarize
from agc.dataset.recipe import (
    DEFAULT_RECIPE,
    load_recipe,
    n_files,
    n_generated,
    selected_samples,
    validate_recipe,
)
from agc.dataset.seeds import sample_seed
from agc.dataset.writer import FileJob, write_files

__all__ = [
    "BRANCH_TYPES",
    "DEFAULT_RECIPE",
    "DEFAULT_WORKERS",
    "GENERATOR_VERSION",
    "generate_dataset",
    "generate_events",
    "load_recipe",
    "sample_seed",
    "summarize",
]

log = logging.getLogger(__name__)

#: Bumped whenever the generated content for a given recipe changes (2: Jet_qgl and GenPart).
GENERATOR_VERSION = "2"

#: Processes that write the embedded default's files (CLI, dataset stage, tests); the bytes do not
#: depend on it. The API's default stays 1 (in-process: tests patch the generator).
DEFAULT_WORKERS: int = 2


def _generation_record(
    recipe: dict[str, Any], scale: float, chosen: list[tuple[str, str]], file_format: str
) -> dict[str, Any]:
    """The content of ``generation.json``: what made the dataset (recipe digest, scale, samples,
    generator and library versions, and the file format unless it is the default TTree, so
    that TTree datasets made before RNTuple existed stay intact)."""
    record = {
        "generator": "agc.dataset.generate",
        "generator_version": GENERATOR_VERSION,
        "recipe_sha256": hashlib.sha256(canonical_json(recipe).encode()).hexdigest(),
        "scale": scale,
        "samples": [sample_key(p, v) for p, v in chosen],
        "numpy": np.__version__,
        "uproot": uproot.__version__,
    }
    if file_format != DEFAULT_FORMAT:
        record["format"] = file_format
    return record


def _intact(out_dir: Path, record: dict[str, Any]) -> bool:
    """True if ``out_dir`` holds a dataset made from the same recipe/scale/samples, checksums OK."""
    manifest_path, record_path = out_dir / "manifest.json", out_dir / GENERATION_RECORD
    if not manifest_path.exists() or not record_path.exists():
        return False
    try:
        if json.loads(record_path.read_text("utf-8")) != record:
            log.info("%s: made from another recipe/scale/samples; regenerating", out_dir)
            return False
        manifest = load_manifest(manifest_path)
    except (AGCError, ValueError):
        return False
    for variations in manifest.values():
        for entry in variations.values():
            for item in entry["files"]:
                path = Path(item["path"])
                if not path.exists() or sha256_file(path) != item.get("sha256"):
                    log.info("%s: missing or modified; regenerating", path)
                    return False
    return True


def _remove_leftovers(out_dir: Path, key: str, files: list[dict[str, Any]]) -> None:
    """Delete files ``{key}_*.root`` of ``out_dir`` not in ``files`` (an earlier recipe's extra files)."""
    keep = {item["path"] for item in files}
    for leftover in out_dir.glob(f"{key}_*.root"):
        if leftover.name not in keep:
            leftover.unlink()


def _sample_entry(
    recipe: dict[str, Any],
    process: str,
    variation: str,
    files: list[dict[str, Any]],
    n_events: int,
    file_format: str = DEFAULT_FORMAT,
) -> dict[str, Any]:
    """The manifest entry of one sample whose ``n_events`` generated events went to ``files``
    (``file_format`` files).

    Raises :class:`AGCError` when no event passed the preselection.
    """
    cfg = recipe["samples"][process][variation]
    calibration = float(recipe.get("yield_calibration", 1.0))
    kept = sum(item["nevts"] for item in files)
    if kept == 0:
        raise AGCError(
            f"sample {sample_key(process, variation)}: none of its {n_events} generated events "
            "passes the recipe's preselection; generate more (--scale)"
        )
    entry: dict[str, Any] = {
        "nevts_total": kept,
        "files": files,
        "xsec": float(cfg["xsec"]),
        # the preselection's efficiency (kept / generated) is part of the filter efficiency,
        # so xsec * filter_efficiency * lumi / nevts_total is the weight of a generated event
        "filter_efficiency": float(
            f"{float(cfg['filter_efficiency']) * calibration * kept / n_events:.10g}"
        ),
        "generator_filter_efficiency": float(cfg["filter_efficiency"]),
        "yield_calibration": calibration,
        "label": cfg["label"],
        "format": file_format,
    }
    if "preselection" in recipe:
        entry["nevts_generated"] = n_events
        entry["preselection_efficiency"] = float(f"{kept / n_events:.10g}")
    log.info(
        "generated %s: %d events (%d kept) in %d file(s)",
        sample_key(process, variation),
        n_events,
        kept,
        len(files),
    )
    return entry


def _write_samples(
    out_dir: Path,
    recipe: dict[str, Any],
    chosen: list[tuple[str, str]],
    scale: float,
    workers: int,
    file_format: str = DEFAULT_FORMAT,
) -> dict[str, dict[str, Any]]:
    """Write every file of the ``chosen`` samples as ``file_format`` files; return the manifest
    (``{process: {variation: entry}}``)."""
    started = time.perf_counter()
    n_of = {(p, v): n_generated(recipe["samples"][p][v]["events"], scale) for p, v in chosen}
    jobs = [
        FileJob(out_dir, p, v, recipe, n_of[(p, v)], index, file_format)
        for p, v in chosen
        for index in range(n_files(recipe["samples"][p][v], n_of[(p, v)]))
    ]
    written = write_files(jobs, workers)
    manifest: dict[str, dict[str, Any]] = {}
    for process, variation in chosen:
        files = [
            e
            for job, e in zip(jobs, written, strict=True)
            if (job.process, job.variation) == (process, variation)
        ]
        _remove_leftovers(out_dir, sample_key(process, variation), files)
        manifest.setdefault(process, {})[variation] = _sample_entry(
            recipe, process, variation, files, n_of[(process, variation)], file_format
        )
    total = sum(n_of.values())
    log.info("generated %d events in %.1f s into %s", total, time.perf_counter() - started, out_dir)
    return manifest


def generate_dataset(
    output_dir: str | os.PathLike[str],
    recipe: str | os.PathLike[str] | dict[str, Any] = DEFAULT_RECIPE,
    scale: float = 1.0,
    samples: list[str] | str | None = None,
    force: bool = False,
    workers: int = 1,
    file_format: str = DEFAULT_FORMAT,
) -> Path:
    """Generate the synthetic NanoAOD dataset of a recipe into ``output_dir``; return the manifest path.

    Writes ``{process}__{variation}_{i}.root`` per sample (``files`` per sample in the recipe),
    ``manifest.json`` in the AGC layout (per sample ``nevts_total``, ``xsec`` [pb],
    ``filter_efficiency``, ``label``; per file ``path`` (relative), ``nevts``, ``sha256``, ``size``)
    and ``generation.json`` (recipe digest, scale, samples, versions). If the dataset is already
    there, made from the same recipe/scale/samples and every checksum matches, nothing is
    regenerated unless ``force``. ``scale`` multiplies every sample's event count (generation
    streams blocks of ``block_size`` events, so memory stays bounded for millions of events).
    ``workers``: processes writing samples in parallel (the bytes do not depend on it).
    ``file_format``: ``"ttree"`` (the default) or ``"rntuple"`` (:data:`agc.dataset.branches.FORMATS`):
    the same events, names and compression in an RNTuple ``Events``; recorded per sample in the
    manifest (``format``) and, for RNTuple, in ``generation.json``.

    With a ``preselection`` in the recipe, files hold only the generated events that can pass the
    analysis selection: ``nevts`` counts those, ``nevts_generated`` the generated ones, and
    ``filter_efficiency`` includes ``preselection_efficiency`` = kept / generated, so every
    event keeps the weight xsec * (generator filter) * calibration * lumi / N_generated.
    """
    if not (isinstance(scale, (int, float)) and np.isfinite(scale) and scale > 0):
        raise AGCError(f"scale must be a positive number, got {scale!r}")
    if file_format not in FORMATS:
        raise AGCError(f"format must be one of {', '.join(FORMATS)}, got {file_format!r}")
    recipe_data = (
        validate_recipe(recipe, "recipe") if isinstance(recipe, dict) else load_recipe(recipe)
    )
    chosen = selected_samples(recipe_data, samples)
    out_dir = Path(output_dir)
    record = _generation_record(recipe_data, float(scale), chosen, file_format)
    manifest_path = out_dir / "manifest.json"
    if not force and _intact(out_dir, record):
        log.info("%s is up to date", manifest_path)
        return manifest_path
    out_dir.mkdir(parents=True, exist_ok=True)
    # a failed regeneration must not leave a manifest pointing at half-replaced files
    for stale in (manifest_path, out_dir / GENERATION_RECORD):
        stale.unlink(missing_ok=True)
    manifest = _write_samples(out_dir, recipe_data, chosen, scale, workers, file_format)
    # the record goes first: a crash before the manifest leaves no manifest, hence no false "intact"
    write_json(out_dir / GENERATION_RECORD, record)
    write_manifest(manifest_path, manifest)
    return manifest_path
