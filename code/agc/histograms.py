"""Event processing stage: NanoAOD -> ``histograms.root`` and ``cutflow.json``.

:func:`run_histograms` runs :class:`agc.processor.AGCProcessor` with coffea's
``processor.Runner`` on the iterative, futures or dask executor and writes

- ``histograms.root`` (byte-reproducible, atomic): one TH1D per ``{region}_{process}``
  (nominal) or ``{region}_{process}_{variation}``, plus ``{region}_pseudodata`` =
  (ttbar ME_var + ttbar PS_var) / 2 + wjets nominal, all with the fill binning (25 bins,
  50-550 GeV, flow bins and sumw2 filled), normalised to ``xsec * lumi / N_generated``; keys
  in sorted order, plus a TObjString ``provenance`` (the text ``provenance.json`` or the JSON of
  ``metadata``);
- ``cutflow.json``: events after each selection step per sample (integers).

Exactness: the processor accumulates unnormalised weights quantised to a 2**-20 grid, whose
sums are exact doubles (below 2**33 ~ 8.6e9 weight units per bin), so results are the same bit
for bit for any executor, worker count, chunk size or merge order. The normalisation is applied
once per bin when the final file is written. Partial outputs (:func:`write_partial`, one JSON
file per sample, validated against ``schemas/histograms_partial.schema.json``) hold those exact
unnormalised sums; :func:`merge_partials` adds them and writes the same bytes as a single pass.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import re
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hist
import numpy as np
import uproot
from coffea import processor

from agc import physics
from agc.errors import AGCError
from agc.fileio import canonical_json, sha256_file, write_json
from agc.manifest import (
    EMBEDDED_KEYWORD,
    is_remote,
    load_manifest,
    resolve_inputs,
    sample_key,
)
from agc.manifest import (
    fileset as make_fileset,
)
from agc.processor import (
    DATA_PROCESS,
    SUMS,
    AGCProcessor,
    AGCSchema,
    empty_sums,
    histogram_variations,
)
from agc.rootio import reproducible_recreate
from agc.selection import CUTFLOW_STEPS, EXACT_SUM_BOUND, WEIGHT_BITS
from agc.validation import validate

log = logging.getLogger(__name__)

EXECUTORS: tuple[str, ...] = ("iterative", "futures", "dask")
PARTIAL_FORMAT = "agc-histograms-partial/1"
PARTIAL_SUFFIX = ".partial.json"
PROVENANCE_KEY = "provenance"
PROVENANCE_POINTER = "provenance.json"
PSEUDODATA = "pseudodata"
#: Pseudo-data per region = (ttbar ME_var + ttbar PS_var) / 2 + wjets nominal.
PSEUDODATA_SAMPLES: tuple[tuple[str, str], ...] = (
    ("ttbar", "ME_var"),
    ("ttbar", "PS_var"),
    ("wjets", "nominal"),
)
TREE = "Events"


# -- unnormalised sums of one sample ----------------------------------------------------------


@dataclass
class SampleSums:
    """Exact unnormalised sums of one sample (what a partial output holds).

    ``sums``: :func:`agc.processor.empty_sums` layout (region x variation x sum x observable);
    ``xsec``: effective cross-section [pb]; ``nevts``: N_generated of the processed files.
    """

    process: str
    variation: str
    xsec: float
    nevts: int
    files: list[str]
    sums: hist.Hist
    cutflow: dict[str, int] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The sample's dataset name, e.g. ``ttbar__nominal``."""
        return sample_key(self.process, self.variation)

    def norm(self) -> float:
        """Per-event MC weight ``xsec * lumi / N_generated`` (1 for data)."""
        if self.process == DATA_PROCESS:
            return 1.0
        if self.nevts <= 0:
            raise AGCError(
                f"sample '{self.key}': N_generated (nevts) is {self.nevts}, cannot normalise"
            )
        return self.xsec * physics.LUMI_PB / self.nevts


def _sums_to_json(sums: hist.Hist, which: str) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {}
    for region in sums.axes["region"]:
        out[region] = {}
        for variation in sums.axes["variation"]:
            values = sums[{"region": region, "variation": variation, "sum": which}].values(
                flow=True
            )
            out[region][variation] = [float(v) for v in values]
    return out


def partial_dict(sample: SampleSums) -> dict[str, Any]:
    """The JSON-able partial output of one sample (exact: grid values round-trip in JSON)."""
    nbins, low, high = physics.FILL_BINNING
    return {
        "format": PARTIAL_FORMAT,
        "sample": sample.key,
        "process": sample.process,
        "variation": sample.variation,
        "xsec": sample.xsec,
        "nevts": sample.nevts,
        "files": sorted(sample.files),
        "binning": {"bins": nbins, "low": low, "high": high},
        "weight_grid": 2.0**-WEIGHT_BITS,
        "sumw": _sums_to_json(sample.sums, "sumw"),
        "sumw2": _sums_to_json(sample.sums, "sumw2"),
        "cutflow": {step: int(sample.cutflow.get(step, 0)) for step in CUTFLOW_STEPS},
    }


def write_partial(path: str | os.PathLike[str], sample: SampleSums) -> Path:
    """Atomically write the partial output of one sample as canonical JSON; return the path."""
    return write_json(path, partial_dict(sample))


def read_partial(path: str | os.PathLike[str]) -> SampleSums:
    """Read and validate one partial output (AGCError naming the file on any problem)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AGCError(f"partial output not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AGCError(f"cannot read partial output {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise AGCError(
            f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    validate(data, "histograms_partial", str(path))
    nbins, low, high = physics.FILL_BINNING
    binning = data["binning"]
    if (binning["bins"], binning["low"], binning["high"]) != (nbins, low, high):
        raise AGCError(
            f"{path}: binning {binning} differs from the analysis' {physics.FILL_BINNING}"
        )
    if data["weight_grid"] != 2.0**-WEIGHT_BITS:
        raise AGCError(f"{path}: weight grid {data['weight_grid']} differs from 2**-{WEIGHT_BITS}")
    if data["sample"] != sample_key(data["process"], data["variation"]):
        raise AGCError(f"{path}: 'sample' {data['sample']} does not match process and variation")
    labels = histogram_variations(data["process"], data["variation"])
    sums = empty_sums(labels)
    view = sums.view(flow=True)
    for s_index, which in enumerate(SUMS):
        block = data[which]
        if sorted(block) != sorted(physics.REGIONS):
            raise AGCError(
                f"{path}: '{which}' has regions {sorted(block)}, expected {sorted(physics.REGIONS)}"
            )
        for r_index, region in enumerate(sums.axes["region"]):
            if sorted(block[region]) != labels:
                raise AGCError(
                    f"{path}: '{which}/{region}' has variations {sorted(block[region])}, expected {labels}"
                )
            for v_index, variation in enumerate(sums.axes["variation"]):
                values = block[region][variation]
                if len(values) != nbins + 2:
                    raise AGCError(
                        f"{path}: '{which}/{region}/{variation}' has {len(values)} values, expected {nbins + 2}"
                    )
                view[r_index, v_index, s_index, :] = np.asarray(values, dtype=np.float64)
    return SampleSums(
        process=data["process"],
        variation=data["variation"],
        xsec=float(data["xsec"]),
        nevts=int(data["nevts"]),
        files=list(data["files"]),
        sums=sums,
        cutflow=dict(data["cutflow"]),
    )


def combine(samples: Iterable[SampleSums]) -> list[SampleSums]:
    """Add sums of the same sample processed in pieces (disjoint files); sorted by sample key.

    Additions are exact (grid values), so the grouping does not matter. The same file twice, or
    pieces with different cross-sections, is an error naming the sample.
    """
    merged: dict[str, SampleSums] = {}
    for piece in samples:
        have = merged.get(piece.key)
        if have is None:
            merged[piece.key] = SampleSums(
                piece.process,
                piece.variation,
                piece.xsec,
                piece.nevts,
                list(piece.files),
                piece.sums.copy(),
                dict(piece.cutflow),
            )
            continue
        overlap = sorted(set(have.files) & set(piece.files))
        if overlap:
            raise AGCError(
                f"sample '{piece.key}' given twice: file {overlap[0]} is in two partial outputs"
            )
        if have.xsec != piece.xsec:
            raise AGCError(
                f"sample '{piece.key}': partial outputs disagree on xsec ({have.xsec} vs {piece.xsec})"
            )
        have.sums += piece.sums
        have.nevts += piece.nevts
        have.files = sorted(have.files + piece.files)
        have.cutflow = {s: have.cutflow.get(s, 0) + piece.cutflow.get(s, 0) for s in CUTFLOW_STEPS}
    return [merged[k] for k in sorted(merged)]


# -- the final file ---------------------------------------------------------------------------


def histogram_name(region: str, process: str, variation: str) -> str:
    """AGC naming: ``{region}_{process}`` for nominal, else ``{region}_{process}_{variation}``."""
    return f"{region}_{process}" if variation == "nominal" else f"{region}_{process}_{variation}"


def _th1(name: str, region: str, values: np.ndarray, variances: np.ndarray) -> hist.Hist:
    nbins, low, high = physics.FILL_BINNING
    h = hist.Hist(
        hist.axis.Regular(
            nbins, low, high, name="observable", label=f"{physics.REGIONS[region]} [GeV]"
        ),
        storage=hist.storage.Weight(),
        name=name,
        label=name,
    )
    view = h.view(flow=True)
    view["value"] = values
    view["variance"] = variances
    return h


def normalised_histograms(samples: Iterable[SampleSums]) -> dict[str, hist.Hist]:
    """Final histograms ``{name: Hist}`` (Weight storage, normalised), with pseudo-data if its
    components are present. Values = sumw * norm, variances = sumw2 * norm**2."""
    arrays: dict[str, tuple[str, np.ndarray, np.ndarray]] = {}
    owner: dict[str, str] = {}
    components: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = {}
    for sample in samples:
        norm = sample.norm()
        view = sample.sums.view(flow=True)
        for r_index, region in enumerate(sample.sums.axes["region"]):
            for v_index, variation in enumerate(sample.sums.axes["variation"]):
                name = histogram_name(region, sample.process, variation)
                if name in owner:
                    raise AGCError(
                        f"histogram '{name}' would come from two samples: {owner[name]} and {sample.key}"
                    )
                owner[name] = sample.key
                sumw = view[r_index, v_index, SUMS.index("sumw"), :]
                sumw2 = view[r_index, v_index, SUMS.index("sumw2"), :]
                values, variances = sumw * norm, sumw2 * (norm * norm)
                arrays[name] = (region, values, variances)
                if variation == sample.variation:
                    components[(region, sample.process, variation)] = (values, variances)
    for region in sorted(physics.REGIONS):
        parts = [components.get((region, *sample)) for sample in PSEUDODATA_SAMPLES]
        if any(part is None for part in parts):
            continue
        (me, me_var), (ps, ps_var), (wjets, wjets_var) = parts  # type: ignore[misc]
        values = (me + ps) / 2.0 + wjets
        variances = (me_var + ps_var) / 4.0 + wjets_var
        arrays[f"{region}_{PSEUDODATA}"] = (region, values, variances)
    return {name: _th1(name, *arrays[name]) for name in sorted(arrays)}


def cutflow_dict(samples: Iterable[SampleSums]) -> dict[str, Any]:
    """``cutflow.json`` content: the ordered steps and, per sample, events after each step."""
    return {
        "steps": list(CUTFLOW_STEPS),
        "samples": {
            s.key: {step: int(s.cutflow.get(step, 0)) for step in CUTFLOW_STEPS} for s in samples
        },
    }


def yields(
    histograms: dict[str, hist.Hist], samples: Iterable[SampleSums]
) -> dict[str, dict[str, float]]:
    """Normalised nominal yields (sum of weights incl. flow bins) per region and process."""
    processes = sorted({s.process for s in samples})
    out: dict[str, dict[str, float]] = {}
    for region in sorted(physics.REGIONS):
        out[region] = {}
        for process in [*processes, PSEUDODATA]:
            name = f"{region}_{process}"
            if name in histograms:
                out[region][process] = float(histograms[name].values(flow=True).sum())
    return out


def write_histograms(
    samples: Iterable[SampleSums],
    output: str | os.PathLike[str],
    cutflow_output: str | os.PathLike[str] | None = None,
    *,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Normalise and write ``histograms.root`` (sorted keys, byte-reproducible, atomic) and
    ``cutflow.json``; return ``{"output", "cutflow_output", "yields", "cutflow", "exact"}``."""
    samples = combine(samples)
    exact = True
    for sample in samples:
        peak = float(np.max(np.abs(sample.sums.view(flow=True)), initial=0.0))
        if peak >= EXACT_SUM_BOUND:
            exact = False
            warnings.warn(
                f"sample '{sample.key}': a bin sum ({peak:.3g}) exceeds 2**{53 - WEIGHT_BITS}; "
                "sums are no longer guaranteed exact (order-independent)",
                stacklevel=2,
            )
    histograms = normalised_histograms(samples)
    output = Path(output)
    cutflow_output = Path(cutflow_output) if cutflow_output else output.with_name("cutflow.json")
    provenance = PROVENANCE_POINTER if metadata is None else canonical_json(metadata)
    entries: dict[str, Any] = {**histograms, PROVENANCE_KEY: provenance}
    with reproducible_recreate(output) as handle:
        for name in sorted(entries):
            handle[name] = entries[name]
    cutflow = cutflow_dict(samples)
    write_json(cutflow_output, cutflow)
    return {
        "output": str(output),
        "cutflow_output": str(cutflow_output),
        "yields": yields(histograms, samples),
        "cutflow": cutflow["samples"],
        "exact": exact,
    }


def read_histograms(path: str | os.PathLike[str]) -> dict[str, hist.Hist]:
    """All histograms of a ``histograms.root`` as ``{name: hist.Hist}`` (Weight storage)."""
    path = Path(path)
    if not path.is_file():
        raise AGCError(f"histograms file not found: {path}")
    try:
        with uproot.open(path) as handle:
            classes = handle.classnames(recursive=False, cycle=False)
            return {
                name: handle[name].to_hist()
                for name in sorted(classes)
                if classes[name].startswith("TH1")
            }
    except AGCError:
        raise
    except Exception as exc:  # noqa: BLE001 (uproot raises many types)
        raise AGCError(f"cannot read histograms from {path}: {_one_line(exc)}") from None


def merge_partials(
    partial_paths_or_dir: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    output: str | os.PathLike[str] = "outputs/histograms.root",
    cutflow_output: str | os.PathLike[str] | None = None,
    *,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Merge partial outputs (a folder of ``*.partial.json`` or a list of files) into the final
    ``histograms.root`` and ``cutflow.json``; the bytes equal a single pass over the same samples."""
    if isinstance(partial_paths_or_dir, (str, os.PathLike)):
        folder = Path(partial_paths_or_dir)
        if folder.is_dir():
            paths = sorted(folder.glob(f"*{PARTIAL_SUFFIX}"))
            if not paths:
                raise AGCError(f"no partial outputs (*{PARTIAL_SUFFIX}) in {folder}")
        else:
            paths = [folder]
    else:
        paths = [Path(p) for p in partial_paths_or_dir]
        if not paths:
            raise AGCError("no partial outputs given to merge")
    samples = [read_partial(p) for p in sorted(paths)]
    summary = write_histograms(samples, output, cutflow_output, metadata=metadata)
    summary["partials"] = [str(p) for p in sorted(paths)]
    summary["events_processed"] = sum(s.cutflow.get("all", 0) for s in samples)
    return summary


# -- running the processor --------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def check_inputs(
    fileset: dict[str, dict[str, Any]], *, verify_checksums: bool = True
) -> dict[str, int]:
    """Open every local input file: it must exist, be ROOT and complete (not truncated), have the
    ``Events`` tree with every branch of :data:`agc.physics.BRANCHES_READ` and (if the manifest
    has one) the recorded sha256.

    Returns ``{path: number of entries}``. Remote files (URLs) are left to the run itself.
    Raises :class:`AGCError` naming the file, sample and branch.
    """
    entries: dict[str, int] = {}
    for dataset, entry in fileset.items():
        checksums = entry["metadata"].get("checksums", {})
        for path, tree in entry["files"].items():
            if is_remote(path):
                continue
            where = f"(sample {dataset})"
            if not os.path.isfile(path):
                raise AGCError(f"input file not found: {path} {where}")
            expected = checksums.get(path)
            if verify_checksums and expected and sha256_file(path) != expected:
                raise AGCError(f"input file {path} {where}: sha256 differs from the manifest's")
            try:
                with uproot.open(path) as handle:
                    size, end = os.path.getsize(path), int(handle.file.fEND)
                    if size < end:
                        raise AGCError(
                            f"input file {path} {where} is truncated: {size} of {end} bytes"
                        )
                    if tree not in handle:
                        keys = ", ".join(sorted(handle.keys(cycle=False))) or "none"
                        raise AGCError(
                            f"input file {path} {where} has no '{tree}' tree (keys: {keys})"
                        )
                    ttree = handle[tree]
                    if not isinstance(ttree, uproot.behaviors.TTree.TTree):
                        raise AGCError(f"input file {path} {where}: '{tree}' is not a TTree")
                    present = set(ttree.keys())
                    missing = [b for b in physics.BRANCHES_READ if b not in present]
                    if missing:
                        raise AGCError(
                            f"input file {path} {where}: missing branch '{missing[0]}' in '{tree}'"
                            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                        )
                    entries[path] = int(ttree.num_entries)
            except AGCError:
                raise
            except Exception as exc:  # noqa: BLE001 (any failure to read is the file's)
                raise AGCError(f"cannot read ROOT file {path} {where}: {_one_line(exc)}") from None
    return entries


_WORKITEM = re.compile(r"WorkItem\(dataset='([^']*)', filename='([^']*)'")
_FILEMETA = re.compile(r"FileMeta\(([^:]*):(.*?):[^:]*\)")


def translate_error(exc: BaseException, fileset: dict[str, dict[str, Any]]) -> AGCError:
    """One-line :class:`AGCError` for an exception raised by a coffea run, naming the file.

    coffea wraps worker errors (``Failed processing file: WorkItem(...). The error was: ...``)
    and executors re-raise them in the driver, sometimes without the cause chain; the file is
    taken from the chain, the message, or the fileset.
    """
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    text = " ".join(str(e) for e in chain)
    for e in chain:
        if isinstance(e, AGCError):
            return e
    dataset = filename = None
    match = _WORKITEM.search(text) or _FILEMETA.search(text)
    if match:
        dataset, filename = match.group(1), match.group(2)
    else:
        for name, entry in fileset.items():
            for path in entry["files"]:
                if path in text:
                    dataset, filename = name, path
                    break
    reason = str(chain[-1])
    inner = re.search(r"The error was: (.*)", reason, flags=re.DOTALL)
    while inner:
        reason = inner.group(1)
        inner = re.search(r"The error was: (.*)", reason, flags=re.DOTALL)
    reason = " ".join(reason.split()).rstrip(".")
    wrapped = re.fullmatch(r"\w+\((['\"])(.*)\1\)", reason)  # e.g. "error('...')" from a repr
    if wrapped:
        reason = wrapped.group(2)
    if filename:
        return AGCError(
            f"processing failed for {filename} (sample {dataset}): {_one_line(Exception(reason))}"
        )
    return AGCError(
        f"processing failed: {type(chain[-1]).__name__}: {_one_line(Exception(reason))}"
    )


@contextlib.contextmanager
def _executor(executor: str, workers: int, scheduler: str, retries: int) -> Iterator[Any]:
    """The coffea executor for ``executor`` (dask resources are closed on exit)."""
    if executor == "iterative":
        yield processor.IterativeExecutor(status=False, retries=retries)
    elif executor == "futures":
        yield processor.FuturesExecutor(workers=workers, status=False, retries=retries)
    elif executor == "dask":
        import distributed  # noqa: PLC0415 (only the dask executor needs it)

        with contextlib.ExitStack() as stack:
            if scheduler:
                try:
                    client = stack.enter_context(distributed.Client(scheduler, timeout="30s"))
                except Exception as exc:  # noqa: BLE001 (OSError, TimeoutError, ValueError...)
                    raise AGCError(
                        f"cannot connect to dask scheduler '{scheduler}': {_one_line(exc)}"
                    ) from None
            else:
                cluster = stack.enter_context(
                    distributed.LocalCluster(
                        n_workers=workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=":0",
                    )
                )
                client = stack.enter_context(distributed.Client(cluster))
            yield processor.DaskExecutor(client=client, status=False, retries=retries)
    else:
        raise AGCError(f"unknown executor '{executor}'; choose one of {', '.join(EXECUTORS)}")


@contextlib.contextmanager
def _quiet_coffea() -> Iterator[None]:
    """Silence coffea's rich progress console for the duration of the block."""
    from coffea.util import coffea_console  # noqa: PLC0415

    saved = coffea_console.quiet
    coffea_console.quiet = True
    try:
        yield
    finally:
        coffea_console.quiet = saved


def load_inputs(inputs: str | os.PathLike[str] | dict[str, Any]) -> dict[str, Any]:
    """The manifest named by ``inputs``: a path, ``"embedded"`` or an already-loaded dict."""
    if isinstance(inputs, dict):
        validate(inputs, "manifest", "inputs")
        return inputs
    if str(inputs) == EMBEDDED_KEYWORD:
        inputs = resolve_inputs(inputs)
    return load_manifest(inputs)


def process_samples(
    inputs: str | os.PathLike[str] | dict[str, Any],
    *,
    samples: str | list[str] = "all",
    executor: str = "futures",
    workers: int = 2,
    chunksize: int = 100_000,
    max_files: int = -1,
    scheduler: str = "",
) -> list[SampleSums]:
    """Run the processor over the selected samples; return their exact unnormalised sums."""
    if executor not in EXECUTORS:
        raise AGCError(f"unknown executor '{executor}'; choose one of {', '.join(EXECUTORS)}")
    for name, value in (("workers", workers), ("chunksize", chunksize)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise AGCError(f"parameter '{name}' must be a positive integer, got {value!r}")
    manifest = load_inputs(inputs)
    fileset = make_fileset(manifest, samples, max_files)
    check_inputs(fileset)
    coffea_fileset = {
        name: {
            "files": dict(entry["files"]),
            "metadata": {k: entry["metadata"][k] for k in ("process", "variation")},
        }
        for name, entry in fileset.items()
    }
    remote = any(is_remote(p) for entry in fileset.values() for p in entry["files"])
    captured = io.StringIO()
    try:
        with _executor(executor, workers, scheduler, 3 if remote else 0) as coffea_executor:
            runner = processor.Runner(
                executor=coffea_executor, schema=AGCSchema, chunksize=chunksize, metadata_cache={}
            )
            # coffea draws progress bars on stdout whatever ``status`` says and prints worker
            # tracebacks to stderr before re-raising: keep both out of the CLI's output and of
            # the one-line error (the captured text is logged).
            with _quiet_coffea(), contextlib.redirect_stderr(captured):
                output = runner(coffea_fileset, AGCProcessor())
    except AGCError:
        raise
    except Exception as exc:  # noqa: BLE001 (coffea wraps worker errors in Exception)
        log.debug("coffea run failed:\n%s", captured.getvalue())
        raise translate_error(exc, fileset) from None
    if captured.getvalue().strip():
        log.info("%s", captured.getvalue().rstrip())
    result = []
    for name, entry in fileset.items():
        meta = entry["metadata"]
        labels = histogram_variations(meta["process"], meta["variation"])
        sums = output["sums"].get(name) if output else None
        result.append(
            SampleSums(
                process=meta["process"],
                variation=meta["variation"],
                xsec=float(meta["xsec"]),
                nevts=int(meta["nevts"]),
                files=sorted(entry["files"]),
                sums=sums if sums is not None else empty_sums(labels),
                cutflow=dict(output["cutflow"].get(name, {})) if output else {},
            )
        )
    return result


def run_histograms(
    inputs: str | os.PathLike[str] | dict[str, Any],
    output: str | os.PathLike[str] = "outputs/histograms.root",
    *,
    samples: str | list[str] = "all",
    executor: str = "futures",
    workers: int = 2,
    chunksize: int = 100_000,
    max_files: int = -1,
    scheduler: str = "",
    partial_dir: str | os.PathLike[str] | None = None,
    cutflow_output: str | os.PathLike[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """NanoAOD -> ``histograms.root`` + ``cutflow.json`` (or per-sample partials).

    ``inputs``: manifest path in the AGC layout, ``"embedded"``, or a loaded manifest dict.
    ``samples``: ``"all"`` or comma list of ``process`` / ``process__variation``.
    ``executor``: ``iterative`` | ``futures`` (``workers`` processes) | ``dask`` (a
    ``LocalCluster`` of ``workers`` single-threaded processes, or the ``scheduler`` address).
    ``chunksize``: events per chunk; ``max_files``: files per sample (-1 = all).
    With ``partial_dir``, one ``{sample}.partial.json`` per sample is written there instead of
    the final files (merge them with :func:`merge_partials`). ``metadata`` is embedded as JSON
    in the ``provenance`` key (default: the text ``provenance.json``).

    Returns a summary: output paths, normalised nominal yields per region and process, cut
    flow, events processed, wall time [s] and throughput [events/s].
    """
    start = time.perf_counter()
    sample_sums = process_samples(
        inputs,
        samples=samples,
        executor=executor,
        workers=workers,
        chunksize=chunksize,
        max_files=max_files,
        scheduler=scheduler,
    )
    n_events = sum(s.cutflow.get("all", 0) for s in sample_sums)
    if partial_dir is not None:
        folder = Path(partial_dir)
        paths = [write_partial(folder / f"{s.key}{PARTIAL_SUFFIX}", s) for s in sample_sums]
        summary: dict[str, Any] = {
            "partials": [str(p) for p in paths],
            "cutflow": cutflow_dict(sample_sums)["samples"],
        }
    else:
        summary = write_histograms(sample_sums, output, cutflow_output, metadata=metadata)
    wall = time.perf_counter() - start
    summary.update(
        {
            "samples": [s.key for s in sample_sums],
            "events_processed": n_events,
            "executor": executor,
            "workers": workers,
            "chunksize": chunksize,
            "wall_time_s": round(wall, 3),
            "events_per_s": round(n_events / wall, 1) if wall > 0 else math.inf,
        }
    )
    return summary
