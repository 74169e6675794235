"""The ML extension: the histogram stage without and with the BDT inference, and one ttbar
chunk broken down into selection, assignments, features and BDT (``agc bench ml``)."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
from coffea.nanoevents import NanoEventsFactory

from agc.analysis.assignment import best_assignments, fill_values, lepton_columns, objects_of
from agc.analysis.inference import BACKENDS, best_scores, forest, load_models, scores
from agc.analysis.mlfeatures import assignments, features
from agc.analysis.mltruth import assignment_accuracy
from agc.analysis.processor import (
    BTAG_VARIATIONS,
    AGCProcessor,
    AGCSchema,
    SumsArray,
    bin_index,
    collections,
    histogram_variations,
)
from agc.analysis.selection import btag_weight_variations, select
from agc.analysis.treecompile import node_visits
from agc.bench.events import timed, timed_histograms
from agc.core import physics
from agc.core.config import ProcessingConfig
from agc.dataset.manifest import Manifest
from agc.processing.histograms import check_inputs

# --------------------------------------------------------------------------- ML extension


def ml_breakdown(path: str, entries: int) -> dict[str, Any]:
    """Seconds of the selection, the assignments, the features (float32, as the processor
    stores them for the BDTs), the BDT scores (compiled and xgboost, the same run), each
    event's best assignment (both back-ends) and the fill of the 20 features with every weight
    variation, on the first ``entries`` of one ttbar nominal file (nominal jets, one process,
    best of three after a warm-up call that compiles); the assignments scored and the tree
    nodes their traversal visits; and the seconds of the processor's whole chunk (every jet-pT
    variation) without and with the inference (``chunk_s``). The fill and the chunks count
    this process's CPU time, which a loaded machine inflates less than wall time."""
    models = load_models()
    events = NanoEventsFactory.from_root(
        {path: "Events"}, schemaclass=AGCSchema, entry_stop=entries, mode="eager"
    ).events()
    events.metadata.update(dataset="ttbar__nominal", process="ttbar", variation="nominal")
    chunk_s = {
        ml: _best_of(
            lambda ml=ml: AGCProcessor(models if ml else None).chunk_sums(events),
            clock=time.process_time,
        )[0]
        for ml in (False, True)
    }
    el, mu, jets = collections(events, ml=True)
    t_select, sel = timed(lambda: select(el, mu, jets, keep_jets=(physics.ML_REGION,)))
    region = sel.regions[physics.ML_REGION]
    lepton = {k: v[region.mask] for k, v in lepton_columns(el, mu).items()}
    objects = objects_of(region.jets, lepton)
    t_assign, rows = _best_of(lambda: assignments(objects.counts))
    t_features, feats = _best_of(lambda: features(objects, rows, np.float32))
    even = (events.event.to_numpy()[region.mask] % 2 == 0)[rows.event]
    t_scores = {
        b: _best_of(lambda b=b: scores(models, feats, even, backend=b))[0] for b in BACKENDS
    }
    cpu_scores = {
        b: _best_of(lambda b=b: scores(models, feats, even, backend=b), clock=time.process_time)[0]
        for b in BACKENDS
    }
    event = rows.event
    best_s = {
        b: _best_of(lambda b=b: best_scores(models, feats, even, event, backend=b))[0]
        for b in BACKENDS
    }
    visits = int(node_visits(forest(models), feats, even.astype("int64")).sum())
    event_number = events.event.to_numpy()[region.mask]
    best = best_assignments(region.jets, lepton, event_number, models)
    btag = btag_weight_variations(region.jet_pts)
    t_fill = _best_of(lambda: _fill_features(best, btag), clock=time.process_time)[0]
    return {
        "events": len(events),
        "events_4j2b": int(region.mask.sum()),
        "assignments": len(rows.event),
        "node_visits": visits,
        "select_s": t_select,
        "assignments_s": t_assign,
        "features_s": t_features,
        "scores_s": t_scores,
        "scores_cpu_s": cpu_scores,
        "best_s": best_s,
        "fill_s": t_fill,
        "chunk_s": {"without": chunk_s[False], "with": chunk_s[True]},
    }


def _fill_features(best: Any, btag: dict[str, np.ndarray]) -> SumsArray:
    """The ML features of ``best`` (:class:`agc.analysis.assignment.BestAssignments`) filled as the
    processor fills the nominal selection: nominal and every b-tag weight variation
    (``btag``: per selected event of the region)."""
    sums = SumsArray.zeros(histogram_variations("ttbar", "nominal"), use_inference=True)
    low, high = np.array([r[:2] for r in physics.ML_FEATURES.values()]).T
    bins = bin_index(fill_values(best.features.T, low[:, None], high[:, None]))
    weights = {"nominal": 1.0, **{k: np.asarray(w)[best.event] for k, w in btag.items()}}
    sums.fill_weights(list(physics.ML_FEATURES), bins, weights)
    return sums


def _best_of(function: Any, repeats: int = 3, clock: Any = time.perf_counter) -> tuple[float, Any]:
    """(fewest seconds of ``clock`` (wall time; ``time.process_time``: this process's CPU time,
    which a loaded machine inflates less) over ``repeats`` calls after one warm-up call, the
    value)."""
    value = function()
    times = []
    for _ in range(repeats):
        start = clock()
        function()
        times.append(clock() - start)
    return min(times), value


def run_ml_benchmark(
    inputs: str | os.PathLike[str] | dict[str, Any] = "embedded",
    *,
    samples: str = "all",
    executor: str = "futures",
    workers: int = 2,
    chunksize: int = 100_000,
    accuracy_events: int = 200_000,
) -> dict[str, Any]:
    """Events/s of the histogram stage without and with the BDT inference on the same input, the
    ratio of their times and the share the inference adds (with - without) / without, a
    per-step breakdown (:func:`ml_breakdown`) on one ttbar
    chunk, and the BDT's assignment accuracy on ``accuracy_events`` ttbar nominal events
    (:func:`agc.analysis.mltruth.assignment_accuracy`)."""

    manifest = Manifest.of(inputs)
    check_inputs(manifest.select(samples))
    seconds = {}
    events = 0
    for ml in (False, True):
        processing = ProcessingConfig(
            executor=executor,
            workers=workers,
            chunksize=chunksize,
            checkpoints=False,
            use_inference=ml,
        )
        seconds[ml], summary, _ = timed_histograms(manifest, processing, samples)
        events = summary.events_processed
    ttbar = [str(f["path"]) for f in manifest["ttbar"]["nominal"]["files"]]
    accuracy = assignment_accuracy(ttbar[:1], load_models(), max_events=accuracy_events)
    return {
        "events": events,
        "executor": executor,
        "workers": workers,
        "without": {"seconds": seconds[False], "events_per_s": events / seconds[False]},
        "with": {"seconds": seconds[True], "events_per_s": events / seconds[True]},
        "inference_share": (seconds[True] - seconds[False]) / seconds[False],
        "ratio": seconds[True] / seconds[False],
        "breakdown": ml_breakdown(ttbar[0], min(chunksize, accuracy_events)),
        "accuracy": {
            "events_4j2b": accuracy.events,
            "matchable": accuracy.matchable,
            "correct": accuracy.correct,
            "accuracy": accuracy.accuracy,
        },
    }


def format_ml_report(result: dict[str, Any]) -> str:
    """The ML benchmark as printable lines."""
    off, on, b, acc = result["without"], result["with"], result["breakdown"], result["accuracy"]
    n_rows, visits = b["assignments"], b["node_visits"]
    lines = [
        (
            f"AGC ML extension: {result['events']:,} events, executor={result['executor']} "
            f"workers={result['workers']}"
        ),
        f"  histogram stage without inference: {off['seconds']:8.2f} s {off['events_per_s']:12,.0f} events/s",
        f"  histogram stage with inference:    {on['seconds']:8.2f} s {on['events_per_s']:12,.0f} events/s",
        (
            f"  with / without: {result['ratio']:.2f}x "
            f"(inference share (with - without) / without: {result['inference_share']:.0%})"
        ),
        (
            f"  one ttbar chunk ({b['events']:,} events, {b['events_4j2b']:,} in 4j2b, "
            f"{n_rows:,} assignments, {visits / max(n_rows, 1):,.0f} tree nodes visited per "
            f"assignment), one process: selection {b['select_s']:.3f} s, assignments "
            f"{b['assignments_s']:.3f} s, features {b['features_s']:.3f} s"
        ),
    ]
    chunk = b["chunk_s"]
    lines.insert(
        -1,
        f"  one ttbar chunk, whole processor, one process (CPU time): without inference "
        f"{chunk['without']:.3f} s, with {chunk['with']:.3f} s = "
        f"{chunk['with'] / max(chunk['without'], 1e-9):.2f}x",
    )
    for backend, seconds in b["scores_s"].items():
        cpu = b["scores_cpu_s"][backend]
        lines.append(
            f"    BDT {backend:>8}: {seconds:7.3f} s {seconds / max(n_rows, 1) * 1e9:8,.0f} ns per "
            f"assignment {seconds / max(visits, 1) * 1e9:6.2f} ns per node visit "
            f"(CPU time: {cpu / max(visits, 1) * 1e9:.2f} ns)"
        )
    for backend, seconds in b["best_s"].items():
        lines.append(
            f"    best assignment per event, {backend:>8}: {seconds:7.3f} s "
            f"{seconds / max(n_rows, 1) * 1e9:6,.0f} ns per assignment"
            + (" (walks stop once they cannot win)" if backend == "compiled" else "")
        )
    lines.append(
        f"    fill of the 20 features (nominal and {len(BTAG_VARIATIONS)} b-tag weights): "
        f"{b['fill_s']:.3f} s CPU time"
    )
    lines.append(
        f"  assignment accuracy (ttbar nominal, {acc['events_4j2b']:,} 4j2b events): "
        f"{acc['matchable']:,} matchable, {acc['correct']:,} correct = {acc['accuracy']:.1%}"
    )
    return "\n".join(lines)
