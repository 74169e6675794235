"""The Gherkin feature files of ``reana-client test`` run against a local run, with REANA's own parser.

REANA 0.95's ``reana-client test`` runs feature files (``tests.files`` of a specification)
against a finished workflow with reana-commons' ``gherkin_parser``; the parser asks a data
fetcher (``reana_commons.gherkin_parser.data_fetcher.DataFetcherBase``) for the workflow's
files, logs, status, disk usage, specification and file contents. :class:`LocalRun` answers
the same questions, in the same shapes as REANA's API, for a local run's workspace:

- status and times: the run's record ``<outdir>/logs/workflow.json``
  (:mod:`agc.workflow.runrecord`, written by ``agc run-serial`` / ``make run``);
- job logs: each recorded step's log ``<outdir>/logs/<step>.log``;
- files and disk usage: every file of the workspace but the hidden ones (``.venv``, ``.git``)
  and ``__pycache__``, named from the workspace root as REANA names them.

This module runs in the environment that holds reana-commons 0.95 (``.venv-reana-dask``, made by
``make reana-dask``) with ``PYTHONPATH=code``: it imports only the standard library, PyYAML and
:mod:`agc.workflow.runrecord` at the top, and reana-commons inside :func:`run_features`::

    PYTHONPATH=code .venv-reana-dask/bin/python -m agc.workflow.featurecheck \\
        --workspace . --spec reana.yaml [FEATURE ...]     # default: the spec's tests.files

(``make reana-test``).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from agc.workflow.runrecord import RunRecord, read_record, record_path

#: Folder of the step logs and the run record inside the output folder (steplog.LOG_DIR).
LOG_DIR = "logs"
#: The user REANA names in its answers: here, the local one.
LOCAL_USER = "local"
#: Binary prefixes, as REANA writes human-readable sizes.
_UNITS = ("Bytes", "KiB", "MiB", "GiB", "TiB")


def human_size(size: int) -> str:
    """``size`` [bytes] as REANA shows it: ``512 Bytes``, ``1.5 KiB``, ``2.25 MiB``."""
    value, unit = float(size), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return (
        f"{int(value)} {_UNITS[0]}"
        if unit == 0
        else f"{value:.2f}".rstrip("0").rstrip(".") + f" {_UNITS[unit]}"
    )


def _size(size: int) -> dict[str, Any]:
    return {"raw": size, "human_readable": human_size(size)}


class LocalRun:
    """The data a REANA data fetcher returns, for the local run of ``spec`` (a REANA
    specification in ``workspace``) whose outputs are in ``workspace / outdir``.

    Every method takes the workflow name first, as the fetcher's do, and ignores it: there is
    one run. Paging arguments are accepted and ignored (everything fits on one page)."""

    def __init__(self, workspace: Path, spec: str, outdir: str = "outputs") -> None:
        self.workspace = workspace.resolve()
        self.spec = spec
        self.outdir = outdir

    # ----------------------------------------------------------------- the workspace

    def files(self) -> list[Path]:
        """Every file of the workspace, sorted, but hidden ones and ``__pycache__``."""
        found = []
        for folder, dirs, names in os.walk(self.workspace):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
            found += [Path(folder) / n for n in names if not n.startswith(".")]
        return sorted(found)

    def _name(self, path: Path) -> str:
        return path.relative_to(self.workspace).as_posix()

    def list_files(
        self, workflow: str, file_name: str | None = None, page=None, size=None, search=None
    ) -> list[dict[str, Any]]:
        """``[{"name", "size": {"raw", "human_readable"}, "last-modified"}]`` of the workspace's
        files, those matching the glob ``file_name`` when given."""
        rows = []
        for path in self.files():
            name = self._name(path)
            if file_name is not None and not fnmatch.fnmatchcase(name, file_name.lstrip("/")):
                continue
            stat = path.stat()
            rows.append({"name": name, "size": _size(stat.st_size), "last-modified": stat.st_mtime})
        return rows

    def get_workflow_disk_usage(self, workflow: str, parameters: dict[str, Any]) -> dict[str, Any]:
        """``{"disk_usage_info": [{"name", "size"}]}``: the whole workspace (``summarize``) or
        every file and folder, named ``/path`` as REANA's ``du`` listing names them."""
        files = self.files()
        total = sum(path.stat().st_size for path in files)
        if parameters.get("summarize"):
            info = [{"name": "", "size": _size(total)}]
        else:
            folders: dict[str, int] = {}
            info = []
            for path in files:
                length = path.stat().st_size
                info.append({"name": f"/{self._name(path)}", "size": _size(length)})
                for parent in path.relative_to(self.workspace).parents[:-1]:
                    folders[f"/{parent.as_posix()}"] = (
                        folders.get(f"/{parent.as_posix()}", 0) + length
                    )
            info += [{"name": name, "size": _size(n)} for name, n in sorted(folders.items())]
        return {"workflow_name": self.spec, "user": LOCAL_USER, "disk_usage_info": info}

    def download_file(self, workflow: str, file_name: str) -> tuple[bytes, str, bool]:
        """``(content, name, False)`` of the workspace file ``file_name`` (``/`` first or not);
        a name outside the workspace or of no file raises ``FileNotFoundError``."""
        path = (self.workspace / file_name.lstrip("/")).resolve()
        if not path.is_relative_to(self.workspace) or not path.is_file():
            raise FileNotFoundError(f"{file_name} is not a file of the workspace")
        return path.read_bytes(), path.name, False

    # ----------------------------------------------------------------- the run

    def record(self) -> RunRecord:
        """The run's record, ``<outdir>/logs/workflow.json``; no record: ``FileNotFoundError``
        naming it (the run was not made by ``agc run-serial``)."""
        path = record_path(self.workspace / self.outdir / LOG_DIR)
        if not path.is_file():
            raise FileNotFoundError(f"no run record {path} (run the workflow first: make run)")
        return read_record(path)

    def get_workflow_status(self, workflow: str) -> dict[str, Any]:
        """``{"id", "name", "status", "progress": {"run_started_at", "run_finished_at", ...},
        "logs", "user"}`` from the run's record."""
        record = self.record()
        finished = [step for step in record.steps if step.status == "finished"]
        progress = {
            "run_started_at": record.started_at,
            "run_finished_at": record.finished_at or None,
            "total": {"total": len(record.steps)},
            "finished": {"total": len(finished)},
        }
        return {
            "id": workflow,
            "name": workflow,
            "status": record.status,
            "progress": progress,
            "logs": "",
            "user": LOCAL_USER,
        }

    def get_workflow_logs(
        self, workflow: str, steps: list[str] | None = None, page=None, size=None
    ) -> dict[str, Any]:
        """``{"logs": JSON text}`` holding ``job_logs`` (one job per recorded step, those named
        in ``steps`` when given: its command, status, log text and times), ``workflow_logs``
        (one line per step) and ``engine_specific`` (None), as REANA's API returns them."""
        record = self.record()
        jobs = {}
        for number, step in enumerate(record.steps, start=1):
            if steps is not None and step.name not in steps:
                continue
            log = self.workspace / self.outdir / LOG_DIR / f"{step.name}.log"
            text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
            jobs[f"{number}-{step.name}"] = {
                "workflow_uuid": workflow,
                "job_name": step.name,
                "compute_backend": "local",
                "backend_job_id": str(number),
                "docker_img": "",
                "cmd": step.command,
                "status": step.status,
                "logs": text,
                "started_at": step.started_at,
                "finished_at": step.finished_at or None,
            }
        engine = "".join(
            f"{step.started_at} step {step.name}: {step.status}\n" for step in record.steps
        )
        logs = {"workflow_logs": engine, "job_logs": jobs, "engine_specific": None}
        return {"logs": json.dumps(logs)}

    def get_workflow_specification(self, workflow: str) -> dict[str, Any]:
        """``{"specification": the spec, "parameters": its inputs.parameters}``."""
        spec = yaml.safe_load((self.workspace / self.spec).read_text(encoding="utf-8"))
        parameters = (spec.get("inputs") or {}).get("parameters") or {}
        return {"specification": spec, "parameters": parameters}


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario of a feature file as REANA's parser judged it: ``result`` is ``passed``,
    ``failed`` or ``skipped``; a failed one names its step (``failed_step``) and ``error``."""

    feature: str
    scenario: str
    result: str
    failed_step: str | None
    error: str | None

    def line(self) -> str:
        """``passed  <feature>: <scenario>`` (and the failed step and error)."""
        text = f"{self.result:<8}{self.feature}: {self.scenario}"
        return text + (f"\n        {self.failed_step}: {self.error}" if self.failed_step else "")


def spec_tests(run: LocalRun) -> list[Path]:
    """The feature files the run's specification lists under ``tests.files`` (REANA >= 0.95),
    from the workspace."""
    spec = run.get_workflow_specification(run.spec)["specification"]
    return [run.workspace / name for name in (spec.get("tests") or {}).get("files", [])]


def run_features(feature_files: list[Path], run: LocalRun) -> list[ScenarioResult]:
    """Every scenario of ``feature_files`` run by reana-commons' ``gherkin_parser`` against
    ``run``, as ``reana-client test`` runs them against a workflow on a cluster."""
    from reana_commons.gherkin_parser.data_fetcher import DataFetcherBase
    from reana_commons.gherkin_parser.parser import parse_and_run_tests

    fetcher_class = type("LocalRunFetcher", (LocalRun, DataFetcherBase), {})
    fetcher = fetcher_class(run.workspace, run.spec, run.outdir)
    results = []
    for path in feature_files:
        feature, tests = parse_and_run_tests(str(path), run.spec, fetcher)
        results += [
            ScenarioResult(
                feature=feature,
                scenario=test.scenario,
                result=test.result.name,
                failed_step=test.failed_testcase,
                error=test.error_log,
            )
            for test in tests
        ]
    return results


def main(argv: list[str] | None = None) -> int:
    """Command line: run the feature files, one line per scenario (``--json``: a JSON list);
    exit code 0 only when every scenario passed."""
    parser = argparse.ArgumentParser(prog="python -m agc.workflow.featurecheck")
    parser.add_argument(
        "features",
        nargs="*",
        type=Path,
        help="Gherkin feature files (default: the spec's tests.files)",
    )
    parser.add_argument("--workspace", type=Path, default=Path(), help="the run's workspace")
    parser.add_argument("--spec", default="reana.yaml", help="its REANA specification")
    parser.add_argument("--outdir", default="outputs", help="its output folder (outdir)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    run = LocalRun(args.workspace, args.spec, args.outdir)
    results = run_features(args.features or spec_tests(run), run)
    if args.json:
        print(json.dumps([asdict(result) for result in results], indent=2))
    else:
        print("\n".join(result.line() for result in results))
    return 0 if results and all(r.result == "passed" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
