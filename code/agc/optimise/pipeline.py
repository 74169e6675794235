"""The ``agc optimise`` stage: read the events once, scan, descend, write the result and plot.

Outputs in ``<outdir>/optimise/``: ``optimise.json`` (threshold, temperature, the scan, the
descent path, the optimum beside the scan's best point, timings in seconds, provenance) and
``optimise.png`` (:func:`agc.plots.optimise.optimise_plot`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax

from agc.core.fileio import write_json
from agc.dataset.manifest import Manifest
from agc.optimise.descent import Descent, descend
from agc.optimise.events import read_events
from agc.optimise.objective import Objective
from agc.optimise.scan import Scan, scan
from agc.optimise.thresholds import Threshold
from agc.plots.optimise import optimise_plot

RESULT = "optimise.json"
PLOT = "optimise.png"


@dataclass(frozen=True)
class OptimiseResult:
    """What ``agc optimise`` found: the ``scan``, the ``descent`` and the files written."""

    threshold: Threshold
    scan: Scan
    descent: Descent
    n_events: dict[str, int]
    read_seconds: float
    result: Path
    plot: Path

    @property
    def within_one_step(self) -> bool:
        """Whether the descent's optimum is within one grid step of the scan's best point."""
        step = self.threshold.grid_step
        return abs(self.descent.optimum - self.scan.best) <= step * (1 + 1e-9)

    def to_dict(self) -> dict[str, Any]:
        """The content of ``optimise.json`` without the provenance block."""
        t = self.threshold
        return {
            "threshold": t.name,
            "nominal": t.nominal,
            "temperature": t.temperature,
            "learning_rate": t.learning_rate,
            "figure_of_merit": "expected sigma(ttbar_norm), Asimov, Hessian of -ln L",
            "optimum": self.descent.optimum,
            "scan_best": self.scan.best,
            "grid_step": t.grid_step,
            "within_one_grid_step": self.within_one_step,
            "scan": self.scan.to_dict(),
            "descent": self.descent.to_dict(),
            "events": self.n_events,
            "seconds": {
                "read": self.read_seconds,
                "scan": self.scan.seconds,
                "descent": self.descent.seconds,
            },
            "result": str(self.result),
            "plot": str(self.plot),
        }


def optimise(
    manifest: Manifest,
    threshold: Threshold,
    folder: str | os.PathLike[str],
    *,
    max_files: int = -1,
    provenance: dict[str, Any] | None = None,
) -> OptimiseResult:
    """Read the model's samples of ``manifest`` (first ``max_files`` files each), scan and
    descend ``threshold``, write ``optimise.json`` and ``optimise.png`` into ``folder``;
    ``provenance``: the run's record (:func:`agc.publish.provenance.collect`), written with
    whether JAX computed in float64."""
    clock = time.perf_counter()
    samples = read_events(manifest, max_files)
    read_seconds = time.perf_counter() - clock
    objective = Objective.of(samples, threshold)
    found = scan(objective)
    path = descend(objective)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    result = OptimiseResult(
        threshold=threshold,
        scan=found,
        descent=path,
        n_events={f"{s.process}__{s.variation}": s.n_events for s in samples},
        read_seconds=read_seconds,
        result=folder / RESULT,
        plot=folder / PLOT,
    )
    optimise_plot(result.to_dict(), threshold.label, result.plot)
    record = {**(provenance or {}), "jax_enable_x64": bool(jax.config.read("jax_enable_x64"))}
    write_json(result.result, {**result.to_dict(), "provenance": record})
    return result
