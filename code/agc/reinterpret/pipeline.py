"""Reinterpretation: swap the signal, recompute only what changed, publish the likelihood.

``reinterpret(signal=...)`` (CLI: ``agc reinterpret --signal inputs/signals/zprime_1000.yaml``):

1. checks the parameters and the signal declaration (:func:`agc.reinterpret.signals.load_signal`) before
   any processing;
2. takes the exact per-sample sums of ttbar (all variations) and the backgrounds from the
   content-addressed cache (:mod:`agc.processing.cache`, ``<outdir>/cache``), processing only what is
   missing there -- after a first run, only the new signal sample;
3. writes ``<outdir>/reinterpretation/<signal>/histograms.root`` (+ ``cutflow.json``), builds the
   background-only workspace (the main measurement: ttbar with its free ``ttbar_norm``, POI
   ``ttbar_norm``) and the signal-plus-background workspace
   (:func:`agc.stats.model.build_workspace` with ``signal=<process>``, ``poi="mu_sig"``; ttbar_norm
   stays free), fits it (``fit_results.json``) and computes the CLs 95 % upper limit on
   ``mu_sig`` (``limits.json``, ``limit_scan.{pdf,png}``; :mod:`agc.stats.limits`);
4. publishes the likelihood the HEPData way in ``<outdir>/reinterpretation/``: ``BkgOnly.json``
   (pyhf-sorted) and ``patchset.json`` (a pyhf PatchSet, one patch per signal declaration run
   against this very BkgOnly, digests = ``pyhf.utils.digest``), plus ``summary.json`` and,
   with two or more signal points, ``limits_vs_mass.{pdf,png}``.

With ``signal="ttbar"`` the default measurement is refitted (round trip: the same ttbar_norm as
the main fit) and no limit or patch is made. Every output is canonical JSON written atomically.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import jsonpatch
import pyhf

from agc.core import physics
from agc.core.errors import AGCError
from agc.core.fileio import write_json
from agc.core.parameters import validate_parameters
from agc.dataset.manifest import EMBEDDED_KEYWORD, EMBEDDED_MANIFEST, resolve_inputs
from agc.processing.cache import cached_process_samples
from agc.processing.histograms import load_inputs, write_histograms
from agc.reinterpret.signals import DEFAULT_SIGNAL, SIGNAL_POI, SignalDeclaration, load_signal
from agc.stats.model import DEFAULT_CONFIG, build_workspace, plain_json

log = logging.getLogger(__name__)

REINTERPRETATION_DIR = "reinterpretation"
CACHE_DIR = "cache"
BKG_ONLY = "BkgOnly.json"
PATCHSET = "patchset.json"
PATCH = "patch.json"
SUMMARY = "summary.json"
#: PatchSet references: pyhf's schema allows only a HEPData INSPIRE id (``ins`` + 7 digits).
#: The AGC has no HEPData record: this placeholder says so (see the patchset description).
HEPDATA_PLACEHOLDER = "ins0000000"
MAIN_POI = "ttbar_norm"


def sorted_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The workspace in pyhf's canonical order (``pyhf.Workspace.sorted``) as plain JSON types."""
    try:
        ws = pyhf.Workspace.sorted(pyhf.Workspace(spec))
    except pyhf.exceptions.InvalidSpecification as exc:
        raise AGCError(f"workspace: invalid pyhf specification: {exc}") from None
    return plain_json(json.loads(json.dumps(ws)), "")


def make_patch(bkg_only: dict[str, Any], signal_spec: dict[str, Any]) -> list[dict[str, Any]]:
    """JSON Patch (RFC 6902 operations, ``jsonpatch.make_patch``) turning the sorted background-only
    workspace into the sorted signal-plus-background one."""
    return list(jsonpatch.make_patch(bkg_only, sorted_spec(signal_spec)).patch)


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AGCError(f"cannot read {path}: {exc}") from None


def seed_partials(
    partials: str | os.PathLike[str] | list[str | os.PathLike[str]],
) -> list[Path]:
    """Partial output files named by ``partials`` (files, or folders of ``*.partial.json``;
    a folder that does not exist gives none), sorted."""
    from agc.processing.histograms import PARTIAL_SUFFIX

    items = [partials] if isinstance(partials, (str, os.PathLike)) else list(partials)
    found: set[Path] = set()
    for item in map(Path, items):
        if item.is_dir():
            found.update(item.glob(f"*{PARTIAL_SUFFIX}"))
        elif item.is_file():
            found.add(item)
        elif item.suffix == ".json":
            raise AGCError(f"partial output not found: {item}")
    return sorted(found)


def build_patchset(folder: Path, bkg_only: dict[str, Any]) -> dict[str, Any] | None:
    """The PatchSet of every ``<folder>/*/patch.json`` made against ``bkg_only`` (others are
    stale: skipped with a warning). None if there is no patch. Validated and verified by pyhf."""
    digest = pyhf.utils.digest(bkg_only, algorithm="sha256")
    patches, labels = [], None
    for path in sorted(folder.glob(f"*/{PATCH}")):
        entry = _load_json(path)
        if entry.get("bkg_only_sha256") != digest:
            log.warning("patch %s was made for another BkgOnly workspace: left out", path)
            continue
        if labels is None:
            labels = entry["labels"]
        elif entry["labels"] != labels:
            raise AGCError(
                f"{path}: labels {entry['labels']} differ from the other signal points' {labels}"
            )
        patches.append(entry["patch"])
    if not patches:
        return None
    patches.sort(key=lambda p: ([float(v) for v in p["metadata"]["values"]], p["metadata"]["name"]))
    spec = {
        "metadata": {
            "description": (
                "AGC CMS 2015 Open Data ttbar analysis: signal-plus-background likelihoods "
                "(signal strength mu_sig, ttbar_norm free) for the declared signal points. "
                f"references.hepdata is a placeholder ({HEPDATA_PLACEHOLDER}): no HEPData record."
            ),
            "digests": {"sha256": digest},
            "labels": list(labels or []),
            "references": {"hepdata": HEPDATA_PLACEHOLDER},
        },
        "patches": patches,
        "version": "1.0.0",
    }
    try:
        patchset = pyhf.PatchSet(spec)
        patchset.verify(bkg_only)
    except (pyhf.exceptions.InvalidSpecification, pyhf.exceptions.PatchSetVerificationError) as exc:
        raise AGCError(f"{folder / PATCHSET}: invalid patchset: {exc}") from None
    return spec


def _summary(folder: Path, digest: str) -> dict[str, Any]:
    """Limits of every signal point made against the current BkgOnly, sorted by label values."""
    points = []
    for path in sorted(folder.glob(f"*/{PATCH}")):
        entry = _load_json(path)
        limits_path = path.parent / "limits.json"
        if entry.get("bkg_only_sha256") != digest or not limits_path.is_file():
            continue
        limits = _load_json(limits_path)
        points.append(
            {
                "signal": entry["patch"]["metadata"]["name"],
                **{
                    k: float(v)
                    for k, v in zip(
                        entry["labels"], entry["patch"]["metadata"]["values"], strict=True
                    )
                },
                "limits": {
                    k: limits[k]
                    for k in ("observed", "expected", "converged", "poi", "level")
                    if k in limits
                },
            }
        )
    points.sort(key=lambda p: (p.get("mass", 0.0), p["signal"]))
    return {"bkg_only_sha256": digest, "points": points}


def reinterpret(
    signal: str = DEFAULT_SIGNAL,
    *,
    inputs: str | os.PathLike[str] = EMBEDDED_KEYWORD,
    outdir: str | os.PathLike[str] = "outputs",
    poi: str = SIGNAL_POI,
    executor: str = "futures",
    workers: int = 2,
    chunksize: int = 100_000,
    max_files: int = -1,
    scheduler: str = "",
    config: str | os.PathLike[str] = DEFAULT_CONFIG,
    partials: str | os.PathLike[str] | list[str | os.PathLike[str]] | None = None,
    workspace: str | os.PathLike[str] | None = None,
    embedded_manifest: str | os.PathLike[str] | None = None,
    plots: bool = True,
) -> dict[str, Any]:
    """Swap the signal to the declaration ``signal`` (or ``"ttbar"``) and redo the statistics.

    Args:
        signal: ``"ttbar"`` (the default measurement) or a signal declaration YAML (relative
            path inside ``workspace``).
        inputs: manifest of ttbar and the backgrounds (AGC layout) or ``"embedded"``.
        outdir: output folder (cache in ``<outdir>/cache``, results in
            ``<outdir>/reinterpretation``).
        poi: name of the signal strength of a new signal (default ``mu_sig``).
        executor, workers, chunksize, max_files, scheduler: as :func:`agc.processing.histograms.run_histograms`.
        config: cabinetry configuration template.
        partials: partial outputs of the main run (files or folders of ``*.partial.json``)
            whose sums may seed the cache (:func:`agc.processing.cache.cached_process_samples`; taken only
            if their cache key matches); default ``<outdir>/partial`` when it exists.
        workspace: folder the declaration's paths are relative to (default: working directory).
        embedded_manifest: manifest meant by ``embedded:`` (default: ``inputs`` if it is
            ``"embedded"``, else ``<workspace>/data/embedded/manifest.json``).
        plots: write the limit plots.

    Returns:
        Summary: ``signal``, ``processed`` / ``cached`` sample keys, output paths, ``fit``
        (POI best fit and uncertainty), ``limits`` and ``wall_time_s``.
    """
    start = time.perf_counter()
    params = validate_parameters(
        {
            "signal": str(signal),
            "poi": poi,
            "executor": executor,
            "workers": workers,
            "chunksize": chunksize,
            "max_files": max_files,
            "scheduler": scheduler,
        }
    )
    root = Path(workspace) if workspace is not None else Path.cwd()
    manifest_path = resolve_inputs(inputs)
    if not manifest_path.is_absolute():
        manifest_path = root / manifest_path
    if embedded_manifest is None:
        embedded_manifest = (
            manifest_path if str(inputs) == EMBEDDED_KEYWORD else root / EMBEDDED_MANIFEST
        )
    declaration: SignalDeclaration | None = None
    if params["signal"] != DEFAULT_SIGNAL:
        declaration = load_signal(
            params["signal"], workspace=root, embedded_manifest=embedded_manifest
        )
    name = declaration.name if declaration else DEFAULT_SIGNAL
    # The limit fits' processes start now: their imports overlap the histograms and the model.
    from agc.stats.limits import FitPool

    pool = FitPool(params["workers"] if declaration is not None else 1)
    try:
        manifest = load_inputs(manifest_path)
        out = Path(outdir)
        folder = out / REINTERPRETATION_DIR
        point_dir = folder / name
        run_options = {
            "executor": params["executor"],
            "workers": params["workers"],
            "chunksize": params["chunksize"],
            "scheduler": params["scheduler"],
        }

        # 1. Histograms: everything from the cache (seeded by the main run's partial outputs) but
        # what changed.
        t0 = time.perf_counter()
        background = cached_process_samples(
            manifest,
            out / CACHE_DIR,
            samples="all",
            max_files=params["max_files"],
            seeds=seed_partials(out / "partial" if partials is None else partials),
            **run_options,
        )
        runs = [background]
        if declaration is not None:
            runs.append(
                cached_process_samples(
                    declaration.manifest(),
                    out / CACHE_DIR,
                    samples=declaration.sample,
                    **run_options,
                )
            )
        samples = [s for run in runs for s in run.samples]
        keys = {k: v for run in runs for k, v in run.keys.items()}
        histograms = point_dir / "histograms.root"
        write_histograms(
            samples,
            histograms,
            point_dir / "cutflow.json",
            metadata={
                "signal": name,
                "cache_keys": keys,
                "declaration": declaration.source if declaration else None,
            },
        )
        t_hist = time.perf_counter() - t0

        # 2. Workspaces: background-only (the main measurement) and signal-plus-background.
        t0 = time.perf_counter()
        bkg_spec = build_workspace(
            histograms, point_dir / BKG_ONLY, config, DEFAULT_SIGNAL, MAIN_POI
        )
        bkg_only = sorted_spec(bkg_spec)
        digest = pyhf.utils.digest(bkg_only, algorithm="sha256")
        write_json(folder / BKG_ONLY, bkg_only)
        if declaration is None:
            fitted_path = point_dir / BKG_ONLY
        else:
            fitted_path = point_dir / "workspace.json"
            signal_spec = build_workspace(
                histograms, fitted_path, config, declaration.name, params["poi"]
            )
            labels = list(declaration.labels)
            write_json(
                point_dir / PATCH,
                {
                    "bkg_only_sha256": digest,
                    "labels": labels,
                    "declaration": declaration.source,
                    "patch": {
                        "metadata": {
                            "name": declaration.name,
                            "values": [declaration.labels[k] for k in labels],
                            "description": declaration.description,
                            "xsec_pb": declaration.xsec,
                            "filter_efficiency": declaration.filter_efficiency,
                        },
                        "patch": make_patch(bkg_only, signal_spec),
                    },
                },
            )
        t_model = time.perf_counter() - t0

        # 3. Fit and limits.
        from agc.plots.limits import mass_plot, scan_plot
        from agc.stats.fit import run_fit
        from agc.stats.limits import upper_limit

        t0 = time.perf_counter()
        fit_summary = run_fit(fitted_path, point_dir / "fit_results.json", impacts=False).summary
        t_fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        limits = None
        written: list[str] = []
        if declaration is not None:
            result = upper_limit(
                _load_json(fitted_path),
                source=str(fitted_path),
                workers=params["workers"],
                free_fit=fit_summary,
                pool=pool,
            )
            limits = {"signal": declaration.name, "labels": declaration.labels, **result.to_dict()}
            write_json(point_dir / "limits.json", limits)
            if plots:
                written += [
                    str(p)
                    for p in scan_plot(
                        result, point_dir / "limit_scan", title=declaration.description
                    )
                ]
        t_limits = time.perf_counter() - t0

        # 4. The published likelihood and the summary over all signal points.
        patchset = build_patchset(folder, bkg_only)
        if patchset is not None:
            write_json(folder / PATCHSET, patchset)
        summary = _summary(folder, digest)
        write_json(folder / SUMMARY, summary)
        if plots and len(summary["points"]) >= 2 and all("mass" in p for p in summary["points"]):
            written += [str(p) for p in mass_plot(summary["points"], folder / "limits_vs_mass")]

        return {
            "signal": name,
            "declaration": declaration.source if declaration else None,
            "processed": sorted(s for run in runs for s in run.computed),
            "cached": sorted(s for run in runs for s in run.hits),
            "seeded": sorted(s for run in runs for s in run.seeded),
            "cache_keys": keys,
            "histograms": str(histograms),
            "workspace": str(fitted_path),
            "bkg_only": str(folder / BKG_ONLY),
            "bkg_only_sha256": digest,
            "patchset": str(folder / PATCHSET) if patchset is not None else None,
            "fit": {
                "poi": fit_summary.poi.to_dict(),
                "best_twice_nll": fit_summary.best_twice_nll,
            },
            "limits": None
            if limits is None
            else {k: limits[k] for k in ("poi", "observed", "expected", "converged")},
            "plots": written,
            "summary": str(folder / SUMMARY),
            "timing_s": {
                "histograms": round(t_hist, 3),
                "model": round(t_model, 3),
                "fit": round(t_fit, 3),
                "limits_and_plot": round(t_limits, 3),
                "total": round(time.perf_counter() - start, 3),
            },
            "lumi_pb": physics.LUMI_PB,
        }
    finally:
        pool.close()


def add_arguments(parser: Any) -> None:
    """Options of ``agc reinterpret`` (the shared workflow parameter names)."""
    parser.add_argument(
        "--signal", default=DEFAULT_SIGNAL, help="'ttbar' or a signal declaration YAML"
    )
    parser.add_argument(
        "--inputs", default=EMBEDDED_KEYWORD, help="manifest (AGC layout) or 'embedded'"
    )
    parser.add_argument("--outdir", default="outputs")
    parser.add_argument("--poi", default=SIGNAL_POI)
    parser.add_argument("--executor", default="futures", choices=("iterative", "futures", "dask"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunksize", type=int, default=100_000)
    parser.add_argument("--max_files", type=int, default=-1)
    parser.add_argument("--scheduler", default="")
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    parser.add_argument(
        "--partials",
        nargs="*",
        default=None,
        help="partial outputs of the main run (files or folders) that may seed the cache "
        "(default: <outdir>/partial)",
    )


def main(args: Any) -> dict[str, Any]:
    """Run :func:`reinterpret` from parsed ``agc reinterpret`` arguments (see :func:`add_arguments`)."""
    return reinterpret(
        args.signal,
        inputs=args.inputs,
        outdir=args.outdir,
        poi=args.poi,
        executor=args.executor,
        workers=args.workers,
        chunksize=args.chunksize,
        max_files=args.max_files,
        scheduler=args.scheduler,
        config=args.config,
        partials=args.partials,
    )
