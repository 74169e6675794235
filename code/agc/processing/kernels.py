"""The package's compiled kernels, compiled once when the environment is built.

numba compiles a kernel on its first call and keeps the machine code in its on-disk cache
(:mod:`agc.core.compiled`); every later process loads it from there. Without this step the
first run on a new checkout would compile them itself, in each of its worker processes at
once: about 10 s of the first ``make run`` on two cores.

:func:`compile_kernels` (``agc compile-kernels``, run by ``make`` when it builds ``.venv``)
calls every kernel the default workflow calls, with the argument types of a real run: it
generates a small file of each process of the embedded recipe (the generator's clustering and
the C library's elementary functions, :mod:`agc.core.portablemath`) and runs the analysis
with the BDT inference on a chunk of the ttbar one (selection, jet-resolution factors, ML
features and tree walk). Nothing it writes is kept but numba's cache.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from agc.analysis.inference import load_models
from agc.analysis.processor import AGCProcessor, AGCSchema
from agc.core import physics
from agc.core.errors import AGCError
from agc.dataset.recipe import DEFAULT_RECIPE, load_recipe, n_files
from agc.dataset.writer import write_file

__all__ = ["GENERATED_EVENTS", "compile_kernels"]

#: Generated events of each process's first file (before the recipe's preselection).
GENERATED_EVENTS = 3000


def _small_files(folder: Path, recipe: dict[str, Any]) -> dict[str, Path]:
    """One small nominal file of each process of ``recipe`` in ``folder``: {process: path}."""
    paths = {}
    for process, variations in recipe["samples"].items():
        if "nominal" not in variations:
            continue
        cfg = variations["nominal"]
        n_events = GENERATED_EVENTS * n_files(cfg, GENERATED_EVENTS)
        entry = write_file(folder, process, "nominal", recipe, n_events, 0)
        paths[process] = folder / entry["path"]
    return paths


def _analyse(path: Path) -> int:
    """The analysis with the BDT inference of the ttbar file ``path``; its 4j2b events (the
    ML region: none would leave the ML kernels uncompiled, an :class:`AGCError`)."""
    from coffea.nanoevents import NanoEventsFactory

    events = NanoEventsFactory.from_root(
        {str(path): "Events"}, schemaclass=AGCSchema, mode="eager"
    ).events()
    events.metadata.update(dataset="ttbar__nominal", process="ttbar", variation="nominal")
    _, cutflow = AGCProcessor(load_models()).chunk_sums(events)
    if cutflow[physics.ML_REGION] == 0:
        raise AGCError(f"{path.name}: no {physics.ML_REGION} event to compile the ML kernels on")
    return cutflow[physics.ML_REGION]


def compile_kernels(recipe: str | Path = DEFAULT_RECIPE) -> dict[str, Any]:
    """Compile (or load from numba's cache) every kernel of the default workflow; returns the
    processes generated, the analysis' events in the ML region and the seconds it took."""
    started = time.perf_counter()
    content = load_recipe(recipe)
    with tempfile.TemporaryDirectory(prefix="agc-kernels-") as folder:
        files = _small_files(Path(folder), content)
        selected = _analyse(files["ttbar"])
    return {
        "processes": sorted(files),
        f"{physics.ML_REGION}_events": selected,
        "seconds": round(time.perf_counter() - started, 1),
    }
