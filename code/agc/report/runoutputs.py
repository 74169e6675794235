"""Reading a run's output folder for the report: what exists, as parsed JSON.

:class:`RunOutputs` is the run's folder (``outdir``: ``fit_results.json``, ``plots/``,
``cutflow.json``, ``provenance.json``, ``reinterpretation/``, ``notebooks/`` ...) as the report's
sections see it: a missing file is ``None`` (the section is left out), a malformed one an
:class:`AGCError` naming it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agc.core.errors import AGCError


@dataclass(frozen=True)
class RunOutputs:
    """The output folder ``outdir`` of a finished (or partly finished) run."""

    outdir: Path

    def path(self, relative: str) -> Path:
        """``outdir / relative``."""
        return self.outdir / relative

    def exists(self, relative: str) -> bool:
        """Whether ``outdir / relative`` is a file."""
        return self.path(relative).is_file()

    def json(self, relative: str) -> Any:
        """The parsed JSON file ``outdir / relative``, ``None`` when it does not exist."""
        path = self.path(relative)
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AGCError(f"cannot read {path}: {exc}") from None

    def link(self, relative: str) -> str:
        """The link to ``relative`` from a page in ``outdir`` (the report's own folder)."""
        return Path(relative).as_posix()


def step_times(notebooks_dir: Path) -> list[dict[str, Any]]:
    """Wall time of every executed notebook (papermill's ``metadata.papermill.duration`` [s]),
    one ``{"step", "seconds", "started"}`` per notebook in name order; notebooks without that
    record are left out."""
    rows = []
    for path in sorted(notebooks_dir.glob("*.ipynb")):
        try:
            meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
        except (OSError, ValueError):
            continue
        record = meta.get("papermill") or {}
        if isinstance(record.get("duration"), int | float):
            rows.append(
                {
                    "step": path.stem,
                    "seconds": round(float(record["duration"]), 1),
                    "started": str(record.get("start_time", ""))[:19].replace("T", " "),
                }
            )
    return rows
