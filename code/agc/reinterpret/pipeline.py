"""Reinterpretation: swap the signal, recompute only what changed, publish the likelihood.

``reinterpret(resolve_request(signal))`` (CLI: ``agc reinterpret --signal
inputs/signals/zprime_1000.yaml``):

1. checks the signal, its strength's name and the signal declaration
   (:func:`resolve_request`, :func:`agc.reinterpret.signals.load_signal`) before any processing;
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
   against this very BkgOnly, digests = ``pyhf.utils.digest``; :mod:`agc.reinterpret.patchset`),
   plus ``summary.json`` (the limits of every signal point,
   :class:`~agc.reinterpret.results.LimitsSummary`) and, with two or more signal points,
   ``limits_vs_mass.{pdf,png}``.

Each step is one function (:func:`resolve_request`, :func:`point_histograms`,
:func:`point_workspaces`, ``run_fit``, :func:`point_limits`, :func:`publish_points`);
:func:`reinterpret` returns a :class:`~agc.reinterpret.results.ReinterpretationResult`.

With ``signal="ttbar"`` the default measurement is refitted (round trip: the same ttbar_norm as
the main fit) and no limit or patch is made. Every output is canonical JSON written atomically.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyhf

from agc.core import physics
from agc.core.config import ProcessingConfig
from agc.core.errors import AGCError
from agc.core.fileio import write_json
from agc.core.parameters import validate_parameters
from agc.dataset.manifest import EMBEDDED_KEYWORD, EMBEDDED_MANIFEST, Manifest, resolve_inputs
from agc.dataset.origin import DataOrigin, manifest_origin
from agc.processing.cache import CachedRun, cached_process_samples
from agc.processing.histograms import write_histograms
from agc.reinterpret.patchset import (
    BKG_ONLY,
    LIMITS,
    PATCH,
    PATCHSET,
    build_patchset,
    collect_limits,
    read_json,
    signal_patch,
    sorted_spec,
)
from agc.reinterpret.results import LimitsSummary, ReinterpretationResult, StageTimes
from agc.reinterpret.signals import DEFAULT_SIGNAL, SIGNAL_POI, SignalDeclaration, load_signal
from agc.stats.model import DEFAULT_CONFIG, build_workspace
from agc.stats.results import FitSummary

if TYPE_CHECKING:
    from agc.stats.limits import FitPool


REINTERPRETATION_DIR = "reinterpretation"
CACHE_DIR = "cache"
#: The limits of every signal point published against the current BkgOnly (:class:`LimitsSummary`).
SUMMARY = "summary.json"
MAIN_POI = "ttbar_norm"
#: Left by ``agc reinterpret`` with signal=ttbar (nothing reinterpreted); a real swap removes it.
NOTE = "NOTE.txt"


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


@dataclass(frozen=True)
class SwapRequest:
    """A checked signal swap: the ``manifest`` of ttbar and the backgrounds, the signal
    ``declaration`` (None for ``"ttbar"``, the main measurement), the name ``poi`` of the
    new signal's strength and the ``origin`` of the manifest's events (the figures' label).
    Made by :func:`resolve_request`; nothing is processed yet."""

    manifest: Manifest
    declaration: SignalDeclaration | None
    poi: str = SIGNAL_POI
    origin: DataOrigin = DataOrigin.SYNTHETIC

    @property
    def name(self) -> str:
        """The signal's process name (``"ttbar"`` without a declaration)."""
        return self.declaration.name if self.declaration else DEFAULT_SIGNAL


def resolve_request(
    signal: str = DEFAULT_SIGNAL,
    inputs: str | os.PathLike[str] = EMBEDDED_KEYWORD,
    *,
    poi: str = SIGNAL_POI,
    workspace: str | os.PathLike[str] | None = None,
    embedded_manifest: str | os.PathLike[str] | None = None,
) -> SwapRequest:
    """The checked request of a swap to ``signal``, before any processing.

    Args:
        signal: ``"ttbar"`` (the default measurement) or a signal declaration YAML (relative
            path inside ``workspace``; checked by :func:`agc.reinterpret.signals.load_signal`).
        inputs: manifest of ttbar and the backgrounds (AGC layout) or ``"embedded"``.
        poi: name of the signal strength of a new signal (default ``mu_sig``).
        workspace: folder the declaration's paths are relative to (default: working directory).
        embedded_manifest: manifest meant by ``embedded:`` (default: ``inputs`` if it is
            ``"embedded"``, else ``<workspace>/data/embedded/manifest.json``).

    ``signal`` and ``poi`` are validated as the workflow parameters of the same names.
    """
    params = validate_parameters({"signal": str(signal), "poi": poi})
    root = Path(workspace) if workspace is not None else Path.cwd()
    manifest_path = resolve_inputs(inputs)
    if not manifest_path.is_absolute():
        manifest_path = root / manifest_path
    if embedded_manifest is None:
        embedded_manifest = (
            manifest_path if str(inputs) == EMBEDDED_KEYWORD else root / EMBEDDED_MANIFEST
        )
    declaration = None
    if params["signal"] != DEFAULT_SIGNAL:
        declaration = load_signal(
            params["signal"], workspace=root, embedded_manifest=embedded_manifest
        )
    origin = manifest_origin(inputs if str(inputs) == EMBEDDED_KEYWORD else manifest_path)
    return SwapRequest(Manifest.load(manifest_path), declaration, params["poi"], origin)


@dataclass(frozen=True)
class PointHistograms:
    """Histograms of one signal point: ``path`` (histograms.root), the cache ``runs`` that made
    them (backgrounds, then the signal) and the cache key of every sample."""

    path: Path
    runs: list[CachedRun]
    keys: dict[str, str]

    def sample_keys(self, kind: str) -> list[str]:
        """Sorted sample keys of every run's ``computed``, ``hits`` or ``seeded`` list."""
        return sorted(s for run in self.runs for s in getattr(run, kind))


def point_histograms(
    request: SwapRequest,
    out: Path,
    point_dir: Path,
    processing: ProcessingConfig,
    seeds: list[Path],
) -> PointHistograms:
    """Write ``<point_dir>/histograms.root`` (+ ``cutflow.json``): everything from the cache in
    ``<out>/cache`` (seeded by ``seeds``, the main run's partial outputs) but what changed."""
    declaration = request.declaration
    cache = out / CACHE_DIR
    selection = request.manifest.select("all", processing.max_files)
    runs = [cached_process_samples(selection, cache, processing, seeds=seeds)]
    if declaration is not None:
        signal = Manifest(declaration.manifest(), declaration.source).select(declaration.sample)
        runs.append(cached_process_samples(signal, cache, processing))
    samples = [s for run in runs for s in run.samples]
    keys = {k: v for run in runs for k, v in run.keys.items()}
    histograms = point_dir / "histograms.root"
    write_histograms(
        samples,
        histograms,
        point_dir / "cutflow.json",
        metadata={
            "signal": request.name,
            "cache_keys": keys,
            "declaration": declaration.source if declaration else None,
        },
    )
    return PointHistograms(histograms, runs, keys)


def point_workspaces(
    histograms: Path,
    folder: Path,
    point_dir: Path,
    config: str | os.PathLike[str],
    declaration: SignalDeclaration | None,
    poi: str,
) -> tuple[dict[str, Any], Path]:
    """The background-only workspace (the main measurement, sorted: ``<folder>/BkgOnly.json``,
    the only BkgOnly the run leaves) and the path of the workspace to fit
    (``<point_dir>/workspace.json``): the signal-plus-background one (whose patch against
    BkgOnly goes to ``patch.json``), or the main measurement itself for ttbar."""
    fitted_path = point_dir / "workspace.json"
    point_dir.mkdir(parents=True, exist_ok=True)
    (point_dir / BKG_ONLY).unlink(
        missing_ok=True
    )  # left by earlier versions: not the published one
    with tempfile.TemporaryDirectory(prefix=".bkg-only.", dir=point_dir) as scratch:
        bkg_path = fitted_path if declaration is None else Path(scratch) / BKG_ONLY
        bkg_only = sorted_spec(
            build_workspace(histograms, bkg_path, config, DEFAULT_SIGNAL, MAIN_POI)
        )
    write_json(folder / BKG_ONLY, bkg_only)
    if declaration is None:
        return bkg_only, fitted_path
    signal_spec = build_workspace(histograms, fitted_path, config, declaration.name, poi)
    digest = pyhf.utils.digest(bkg_only, algorithm="sha256")
    write_json(point_dir / PATCH, signal_patch(declaration, bkg_only, digest, signal_spec))
    return bkg_only, fitted_path


def point_limits(
    fitted_path: Path,
    point_dir: Path,
    declaration: SignalDeclaration,
    fit: FitSummary,
    *,
    workers: int,
    pool: FitPool,
    plots: bool,
    origin: DataOrigin = DataOrigin.SYNTHETIC,
) -> tuple[dict[str, Any], list[str]]:
    """The CLs upper limit on the signal strength (``<point_dir>/limits.json``, its content) and
    the limit scan figures written (``limit_scan.{pdf,png}`` with ``plots``, labelled for
    ``origin``)."""
    from agc.plots.limits import scan_plot
    from agc.stats.fit import naming
    from agc.stats.limits import upper_limit

    with naming(fitted_path):
        result = upper_limit(read_json(fitted_path), workers=workers, free_fit=fit, pool=pool)
    limits = {"signal": declaration.name, "labels": declaration.labels, **result.to_dict()}
    write_json(point_dir / LIMITS, limits)
    if not plots:
        return limits, []
    figures = scan_plot(
        result, point_dir / "limit_scan", title=declaration.description, origin=origin
    )
    return limits, [str(p) for p in figures]


def publish_points(
    folder: Path,
    bkg_only: dict[str, Any],
    plots: bool,
    origin: DataOrigin = DataOrigin.SYNTHETIC,
) -> tuple[Path | None, LimitsSummary, list[str]]:
    """Over every signal point in ``folder``: ``patchset.json`` (its path, ``None`` without a
    patch), ``summary.json`` (its content) and, with two or more points of known mass and
    ``plots``, the ``limits_vs_mass`` figures (their paths; labelled for ``origin``)."""
    from agc.plots.limits import mass_plot

    patchset = build_patchset(folder, bkg_only)
    if patchset is not None:
        write_json(folder / PATCHSET, patchset)
    summary = collect_limits(folder, pyhf.utils.digest(bkg_only, algorithm="sha256"))
    write_json(folder / SUMMARY, summary.to_dict())
    points = [point.to_dict() for point in summary.points]
    written: list[str] = []
    if plots and len(points) >= 2 and all("mass" in p for p in points):
        written = [str(p) for p in mass_plot(points, folder / "limits_vs_mass", origin=origin)]
    return (folder / PATCHSET if patchset is not None else None), summary, written


def reinterpret(
    request: SwapRequest,
    *,
    outdir: str | os.PathLike[str] = "outputs",
    processing: ProcessingConfig | None = None,
    config: str | os.PathLike[str] = DEFAULT_CONFIG,
    partials: str | os.PathLike[str] | list[str | os.PathLike[str]] | None = None,
    plots: bool = True,
) -> ReinterpretationResult:
    """Swap the signal to the one of ``request`` (:func:`resolve_request`) and redo the statistics.

    Args:
        request: the checked swap (manifest, signal declaration, signal strength name).
        outdir: output folder (cache in ``<outdir>/cache``, results in
            ``<outdir>/reinterpretation``).
        processing: as :func:`agc.processing.histograms.run_histograms` (default: the
            defaults of :class:`~agc.core.config.ProcessingConfig`); ``workers`` also sizes the
            pool of the limit fits.
        config: cabinetry configuration template.
        partials: partial outputs of the main run (files or folders of ``*.partial.json``)
            whose sums may seed the cache (:func:`agc.processing.cache.cached_process_samples`;
            taken only if their cache key matches); default ``<outdir>/partial`` when it exists.
        plots: write the limit plots.

    Returns:
        The swap's :class:`ReinterpretationResult` (its ``to_dict()`` is the JSON object that
        ``agc reinterpret`` reports).
    """
    start = time.perf_counter()
    processing = processing if processing is not None else ProcessingConfig()
    # The limit fits' processes start now: their imports overlap the histograms and the model.
    from agc.stats.limits import FitPool

    pool = FitPool(processing.workers if request.declaration is not None else 1)
    try:
        return swap_signal(
            request,
            out=Path(outdir),
            config=config,
            processing=processing,
            seeds=seed_partials(Path(outdir) / "partial" if partials is None else partials),
            pool=pool,
            plots=plots,
            started=start,
        )
    finally:
        pool.close()


class Laps:
    """Wall time [s, rounded to ms] since the previous lap (or the creation)."""

    def __init__(self) -> None:
        self.last = time.perf_counter()

    def __call__(self) -> float:
        now = time.perf_counter()
        lap, self.last = now - self.last, now
        return round(lap, 3)


def swap_signal(
    request: SwapRequest,
    *,
    out: Path,
    config: str | os.PathLike[str],
    processing: ProcessingConfig,
    seeds: list[Path],
    pool: FitPool,
    plots: bool,
    started: float,
) -> ReinterpretationResult:
    """The steps of :func:`reinterpret` for a checked ``request`` (``started``:
    ``time.perf_counter()`` at the request): histograms (cache) -> workspaces + patch -> fit ->
    limits -> patchset + summary, each step timed."""
    declaration = request.declaration
    name = request.name
    folder = out / REINTERPRETATION_DIR
    point_dir = folder / name
    if declaration is not None:  # "nothing reinterpreted" no longer holds
        (folder / NOTE).unlink(missing_ok=True)
    lap = Laps()
    hists = point_histograms(request, out, point_dir, processing, seeds)
    t_hist = lap()
    bkg_only, fitted_path = point_workspaces(
        hists.path, folder, point_dir, config, declaration, request.poi
    )
    t_model = lap()
    from agc.stats.fit import run_fit

    fit = run_fit(fitted_path, point_dir / "fit_results.json", impacts=False).summary
    t_fit = lap()
    limits, figures = None, []
    if declaration is not None:
        limits, figures = point_limits(
            fitted_path,
            point_dir,
            declaration,
            fit,
            workers=processing.workers,
            pool=pool,
            plots=plots,
            origin=request.origin,
        )
    t_limits = lap()
    patchset, _, mass_figures = publish_points(folder, bkg_only, plots, request.origin)
    return ReinterpretationResult(
        signal=name,
        declaration=declaration.source if declaration else None,
        processed=hists.sample_keys("computed"),
        cached=hists.sample_keys("hits"),
        seeded=hists.sample_keys("seeded"),
        cache_keys=hists.keys,
        histograms=str(hists.path),
        workspace=str(fitted_path),
        bkg_only=str(folder / BKG_ONLY),
        bkg_only_sha256=pyhf.utils.digest(bkg_only, algorithm="sha256"),
        patchset=str(patchset) if patchset is not None else None,
        fit=fit,
        limits=limits,
        plots=figures + mass_figures,
        summary=str(folder / SUMMARY),
        timing_s=StageTimes(
            t_hist, t_model, t_fit, t_limits, round(time.perf_counter() - started, 3)
        ),
        lumi_pb=physics.LUMI_PB,
    )
