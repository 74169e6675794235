"""The record a local run of reana.yaml leaves beside its step logs: ``<outdir>/logs/workflow.json``.

REANA keeps, for every workflow, its status (``running``, ``finished``, ``failed``), when it
started and finished, and each step's job with its own start and end. :func:`agc.workflow.runners.
run_serial` writes the same facts for a local run through :class:`RunRecorder`, so that the
Gherkin feature files ``reana-client test`` runs on a cluster also run against a local workspace
(:mod:`agc.workflow.featurecheck`). Times are UTC, written in REANA's format
(:data:`TIME_FORMAT`, whole seconds).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

#: File name of the record, in the run's log folder (``<outdir>/logs/``).
RECORD_NAME = "workflow.json"
#: REANA's time format (``reana_commons.config.WORKFLOW_TIME_FORMAT``), UTC.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


def now() -> str:
    """The current UTC time in :data:`TIME_FORMAT`."""
    return dt.datetime.now(dt.UTC).strftime(TIME_FORMAT)


@dataclass(frozen=True)
class StepRecord:
    """One step's job: its ``name``, ``status`` (``running``, ``finished``, ``failed``), its
    ``command`` text and when it started and finished (:data:`TIME_FORMAT`; ``""`` while it
    runs)."""

    name: str
    status: str
    command: str
    started_at: str
    finished_at: str = ""


@dataclass(frozen=True)
class RunRecord:
    """A run of a specification: the ``spec`` file name, the ``engine`` (``AGC_ENGINE``), its
    ``status``, when it started and finished and its steps in the order they ran."""

    spec: str
    engine: str
    status: str
    started_at: str
    finished_at: str = ""
    steps: tuple[StepRecord, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """The record as the JSON object of ``workflow.json``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """The record of a ``workflow.json`` object (:meth:`to_dict`)."""
        steps = tuple(StepRecord(**step) for step in data.get("steps", ()))
        return cls(**{**data, "steps": steps})


def record_path(log_dir: Path) -> Path:
    """``<log_dir>/workflow.json``: where a run's record lies."""
    return log_dir / RECORD_NAME


def read_record(path: Path) -> RunRecord:
    """The record in ``path`` (:func:`record_path`)."""
    return RunRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))


class RunRecorder:
    """Keeps a :class:`RunRecord` up to date in ``path`` while a run goes on: each change
    (:meth:`step_started`, :meth:`step_finished`, :meth:`run_finished`) rewrites the file."""

    def __init__(self, path: Path, spec: str, engine: str) -> None:
        self.path = path
        self.record = RunRecord(spec=spec, engine=engine, status="running", started_at=now())
        self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.record.to_dict(), indent=2) + "\n"
        self.path.write_text(text, encoding="utf-8")

    def step_started(self, name: str, command: str) -> None:
        """A command of step ``name`` starts (its first: a new job; a later one: appended)."""
        steps = list(self.record.steps)
        if steps and steps[-1].name == name and steps[-1].status == "running":
            steps[-1] = replace(steps[-1], command=f"{steps[-1].command}\n{command}")
        else:
            steps.append(StepRecord(name=name, status="running", command=command, started_at=now()))
        self.record = replace(self.record, steps=tuple(steps))
        self._write()

    def step_finished(self, ok: bool, last: bool) -> None:
        """The running step's command ended (``ok``: exit code 0); ``last``: it was the step's
        last command, so the step is finished (a failed command fails the step at once)."""
        steps = list(self.record.steps)
        if not ok:
            steps[-1] = replace(steps[-1], status="failed", finished_at=now())
        elif last:
            steps[-1] = replace(steps[-1], status="finished", finished_at=now())
        self.record = replace(self.record, steps=tuple(steps))
        self._write()

    def run_finished(self, ok: bool) -> None:
        """The run ended: ``finished`` when ``ok``, else ``failed``."""
        status = "finished" if ok else "failed"
        self.record = replace(self.record, status=status, finished_at=now())
        self._write()
