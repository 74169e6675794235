"""Scoring the jet-parton assignments with the AGC's BDTs, and picking the best one per event.

The models (:data:`agc.core.physics.ML_MODEL_DIR`, xgboost JSON, MIT licence) are read once in
the driver (:func:`load_models`, sha256 checked) and travel as bytes inside the processor, so a
Dask worker on another machine needs no file; each process builds its node table (:func:`forest`)
or its ``xgboost.Booster`` (:func:`boosters`) once. Events with an even ``event`` number are scored by the model trained on odd
events and vice versa (AGC ``get_inference_results_local``).

Two back-ends give the same scores bit for bit (tests compare them on real and edge-case
features): ``"compiled"`` (the default), the two models flattened into one node table and
traversed by numba-compiled code (:mod:`agc.analysis.treecompile`, built once per process by
:func:`forest`), and ``"xgboost"``, ``Booster.inplace_predict`` (:func:`boosters`), the
reference. Both compare the features as float32, as the AGC's ``predict_proba`` does, and add a
row's trees in a fixed order into a float32 margin; a score depends on its row only, so scores
are bit-identical for any chunking, executor or worker count. The best assignment of an event is
its first row with the largest score (``ak.argmax``'s tie rule, as in the AGC).

Speed: of the 251 boosting rounds of each model only the first 59 (``model_even``) and 56
(``model_odd``) have a leaf that is not 0; the later trees add exactly 0.0 to every margin, so
prediction stops after the last tree with a non-zero leaf (:func:`effective_rounds`,
``iteration_range``) -- the same floats, 1.4x faster (a test compares both on real features).
The processor asks for each event's best assignment only (:func:`best_scores`): the compiled
back-end then stops a row's walk as soon as it provably cannot beat, or tie with, a row of its
event scored first (:func:`agc.analysis.treecompile.best_of_events`), the same rows and scores.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np

from agc.analysis.treecompile import (
    Forest,
    best_of_events,
    build_forest,
    first_maxima,
    probabilities,
)
from agc.core import physics, resources
from agc.core.errors import AGCError

__all__ = [
    "BACKENDS",
    "NTHREAD",
    "ModelBytes",
    "best_rows",
    "best_scores",
    "boosters",
    "effective_rounds",
    "forest",
    "load_models",
    "scores",
]

#: Scoring back-ends of :func:`scores`: the compiled trees (default) and xgboost (reference).
BACKENDS = ("compiled", "xgboost")
#: Threads per xgboost prediction: one per process (the executor's workers give the parallelism).
NTHREAD = 1


@dataclass(frozen=True)
class ModelBytes:
    """The two BDTs as xgboost JSON bytes: ``even`` (trained on even events, scores odd ones) and
    ``odd`` (trained on odd events, scores even ones), with their sha256."""

    even: bytes
    odd: bytes

    @property
    def sha256(self) -> dict[str, str]:
        """``{"model_even.json": sha256, "model_odd.json": sha256}``."""
        return {
            "model_even.json": hashlib.sha256(self.even).hexdigest(),
            "model_odd.json": hashlib.sha256(self.odd).hexdigest(),
        }


def load_models(folder: str | os.PathLike[str] = physics.ML_MODEL_DIR) -> ModelBytes:
    """Read ``model_even.json`` and ``model_odd.json`` from ``folder`` (a relative one missing
    from the working directory: the analysis' own, :func:`agc.core.resources.resolve`), checking each sha256 against
    :data:`agc.core.physics.ML_MODEL_SHA256` (AGCError naming the file otherwise)."""
    data = {}
    folder = resources.resolve(folder)
    for name, expected in physics.ML_MODEL_SHA256.items():
        path = folder / name
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise AGCError(f"cannot read BDT model {path}: {exc.strerror or exc}") from None
        found = hashlib.sha256(content).hexdigest()
        if found != expected:
            raise AGCError(f"BDT model {path}: sha256 {found} is not the AGC model's {expected}")
        data[name] = content
    return ModelBytes(even=data["model_even.json"], odd=data["model_odd.json"])


def effective_rounds(raw: bytes) -> int:
    """Boosting rounds of an xgboost JSON model up to its last tree with a non-zero leaf
    (predicting with those gives the same floats as with all rounds)."""
    trees = json.loads(raw)["learner"]["gradient_booster"]["model"]["trees"]
    last = 0
    for index, tree in enumerate(trees):
        leaves = (
            v
            for v, left in zip(tree["split_conditions"], tree["left_children"], strict=True)
            if left == -1
        )
        if any(value != 0.0 for value in leaves):
            last = index + 1
    return last


@functools.lru_cache(maxsize=2)
def boosters(models: ModelBytes) -> tuple[object, object]:
    """The (even, odd) ``xgboost.Booster`` of ``models``, built once per process."""
    import xgboost  # heavy: imported only where inference runs

    out = []
    for raw in (models.even, models.odd):
        booster = xgboost.Booster(params={"nthread": NTHREAD})
        booster.load_model(bytearray(raw))
        out.append(booster)
    return out[0], out[1]


@functools.lru_cache(maxsize=2)
def forest(models: ModelBytes) -> Forest:
    """The node table of ``models`` (ensemble 0: ``model_even``, 1: ``model_odd``, each up to
    :func:`effective_rounds`), built once per process."""
    rounds_even, rounds_odd = _rounds(models)
    return build_forest([(models.even, rounds_even), (models.odd, rounds_odd)])


def scores(
    models: ModelBytes, features: np.ndarray, even: np.ndarray, backend: str = "compiled"
) -> np.ndarray:
    """BDT probability (float64 holding a float32, rows) that each assignment is right.

    ``features``: (rows, 20) float64 or float32 (the models compare float32: the same scores);
    ``even``: bool per row, whether its event number is even
    (scored by the model trained on odd events); ``backend``: one of :data:`BACKENDS`.
    """
    if backend == "compiled":
        # even events: model_odd, ensemble 1 of forest()
        ensemble = np.asarray(even, dtype=np.int64)
        return probabilities(forest(models), features, ensemble).astype(np.float64)
    if backend != "xgboost":
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    model_even, model_odd = boosters(models)
    rounds_even, rounds_odd = _rounds(models)
    out = np.zeros(len(features))
    for mask, booster, rounds in ((even, model_odd, rounds_odd), (~even, model_even, rounds_even)):
        if mask.any():
            out[mask] = booster.inplace_predict(
                np.ascontiguousarray(features[mask]), iteration_range=(0, rounds)
            )
    return out


@functools.lru_cache(maxsize=2)
def _rounds(models: ModelBytes) -> tuple[int, int]:
    """:func:`effective_rounds` of (even, odd), once per process."""
    return effective_rounds(models.even), effective_rounds(models.odd)


def best_rows(event: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Row index (int64) of the best assignment of each event that has rows, in event order.

    ``event``: the event of each row, sorted; ``score``: per row. Ties go to the first row.
    """
    return first_maxima(event, score)


def best_scores(
    models: ModelBytes,
    features: np.ndarray,
    even: np.ndarray,
    event: np.ndarray,
    backend: str = "compiled",
) -> tuple[np.ndarray, np.ndarray]:
    """(row index (int64) of each event's best assignment, its score (float64 holding a
    float32)): :func:`best_rows` of :func:`scores`, arguments as there, ``event`` the event of
    each row (sorted). The compiled back-end stops the walk of a row as soon as it provably
    cannot reach the score of a row of its event scored first
    (:func:`agc.analysis.treecompile.best_of_events`): the same rows and scores."""
    if backend == "compiled":
        rows, best = best_of_events(forest(models), features, np.asarray(even, np.int64), event)
        return rows, best.astype(np.float64)
    score = scores(models, features, even, backend)
    rows = best_rows(event, score)
    return rows, score[rows]
