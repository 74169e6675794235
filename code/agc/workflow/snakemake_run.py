"""Snakemake for the local runs of workflow/Snakefile: its configuration, its run with the log
kept, its failure.

:func:`run_snakemake` checks the parameters (:func:`agc.core.parameters.validate_parameters`) and
what they name (:func:`agc.workflow.preflight.check_named_inputs`) before Snakemake starts, passes
the overrides to Snakemake in a configuration file (``--config name=value`` would read each value
as YAML), keeps everything Snakemake and its jobs print in ``<outdir>/../logs/<outdir name>.log``
(:class:`~agc.workflow.steplog.StepLog`, also on stderr with ``debug``), shows Snakemake's
progress lines, and ends a failure with the failed rule and the job's own one-line error
(:func:`snakemake_failure`).
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from agc.core.errors import AGCError
from agc.core.parameters import validate_parameters
from agc.workflow.cwltool_run import shown
from agc.workflow.preflight import check_named_inputs
from agc.workflow.runners import runner_environment
from agc.workflow.steplog import LOG_DIR, StepLog, echo_stream, run_logged, step_error

SNAKEFILE = Path("workflow") / "Snakefile"
CONFIG = Path("workflow") / "config.yaml"
#: Where a local Snakemake run writes unless ``-p outdir=...`` says otherwise (the workspace's).
SNAKEMAKE_OUTDIR = "outputs/snakemake"
#: The Snakemake of REANA 0.9's engine, in its own environment (``make snakemake``).
SNAKEMAKE = Path(".venv-snakemake") / "bin" / "snakemake"

#: Snakemake's line for a failed job: ``Error in rule histograms:``.
_FAILED_RULE = re.compile(r"^Error in rule (?P<name>\w+):")
#: Snakemake's progress line: ``3 of 12 steps (25%) done``.
_PROGRESS = re.compile(r"^\d+ of \d+ steps \(\d+%\) done$")


@dataclass(frozen=True)
class SnakemakeRun:
    """A finished :func:`run_snakemake`: the output folder, Snakemake's wall time ``seconds``
    [s, rounded to 0.1 s] and its log file."""

    outdir: str
    seconds: float
    log: str

    def to_dict(self) -> dict[str, Any]:
        """``{"outdir", "seconds", "log"}``."""
        return asdict(self)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def snakemake_config(config_file: Path, overrides: dict[str, str] | None) -> dict[str, Any]:
    """The configuration of a run: ``config_file`` (the parameters' defaults) with ``outdir``
    :data:`SNAKEMAKE_OUTDIR` and ``overrides`` applied, typed and validated; an unknown name is
    an error listing the declared ones."""
    try:
        declared = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AGCError(f"Snakemake configuration not found: {config_file}") from None
    if not isinstance(declared, dict):
        raise AGCError(f"{config_file}: expected a mapping of parameter names to values")
    params = dict(declared, outdir=SNAKEMAKE_OUTDIR)
    for name, value in (overrides or {}).items():
        if name not in declared:
            raise AGCError(
                f"unknown parameter '{name}' for {config_file.name}; declared: "
                f"{', '.join(sorted(declared))}"
            )
        params[name] = value
    try:
        return validate_parameters(params)
    except AGCError as exc:
        raise AGCError(f"{config_file.name}: {exc}") from None


def failed_rule(lines: list[str]) -> str | None:
    """The rule of the first job Snakemake's log ``lines`` report as failed, or None."""
    for line in lines:
        if match := _FAILED_RULE.match(line.strip()):
            return match["name"]
    return None


def snakemake_failure(returncode: int, lines: list[str], log: Path) -> str:
    """The one-line error of a failed Snakemake run: the failed rule and the job's own error
    (read from the log ``lines``), or Snakemake's exit code."""
    rule = failed_rule(lines)
    where = "Snakemake workflow" + (f", rule '{rule}'" if rule else "")
    error = step_error(lines)
    if error:
        return f"{where}: {error}"
    return f"{where} failed (Snakemake exit code {returncode}); its log: {shown(log)}"


class _ProgressLog(StepLog):
    """A :class:`StepLog` that also shows Snakemake's progress lines on stderr."""

    def write(self, line: str) -> None:
        super().write(line)
        if self.echo is None and _PROGRESS.match(line.strip()):
            _log(f"[agc run-snakemake] {line.strip()}")


def run_snakemake(
    overrides: dict[str, str] | None = None,
    *,
    workdir: str | Path | None = None,
    snakemake: str | Path | None = None,
    cores: int = 2,
    debug: bool = False,
) -> SnakemakeRun:
    """Run workflow/Snakefile locally with Snakemake (every job again: ``--forceall``).

    ``overrides`` (``-p name=value``) replace entries of workflow/config.yaml and are checked,
    with what they name, before Snakemake starts; ``workdir`` (default: the current directory)
    is the workspace; ``snakemake`` the executable (default :data:`SNAKEMAKE` in ``workdir``);
    ``cores``: how many jobs at once. The jobs run with the local environment first on ``PATH``
    (:func:`agc.workflow.runners.runner_environment`). A failure raises
    :class:`AGCError` naming the failed rule and the job's own one-line error.
    """
    root = Path(workdir) if workdir is not None else Path.cwd()
    config = snakemake_config(root / CONFIG, overrides)
    try:
        check_named_inputs(config, root)
    except AGCError as exc:
        raise AGCError(f"{CONFIG.name}: {exc}") from None
    program = Path(snakemake) if snakemake is not None else root / SNAKEMAKE
    if not program.exists():
        raise AGCError(f"Snakemake not found: {program} (make snakemake)")
    outdir = root / str(config["outdir"])
    log_file = outdir.parent / LOG_DIR / f"{outdir.name}.log"
    log_file.unlink(missing_ok=True)
    env = runner_environment("snakemake-local")
    env.update({"AGC_DEBUG": "1"} if debug else {})
    with tempfile.TemporaryDirectory(prefix="agc-snakemake-") as scratch:
        configfile = Path(scratch) / "config.yaml"
        configfile.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        command = [
            str(program),
            "--snakefile",
            str(SNAKEFILE),
            "--configfile",
            str(configfile),
            "--cores",
            str(cores),
            "--forceall",
        ]
        _log(f"[agc run-snakemake] {' '.join(command)}")
        started = time.perf_counter()
        with _ProgressLog(log_file, echo_stream(debug)) as log:
            returncode = run_logged(command, root, env, log)
            lines = list(log.tail)
    seconds = time.perf_counter() - started
    if returncode != 0:
        _log(
            f"[agc run-snakemake] Snakemake exit code {returncode} after {seconds:.1f} s; "
            f"its log: {shown(log_file)}"
        )
        raise AGCError(snakemake_failure(returncode, lines, log_file))
    _log(f"[agc run-snakemake] total: {seconds:.1f} s; outputs in {shown(outdir)}")
    return SnakemakeRun(outdir=str(outdir), seconds=round(seconds, 1), log=str(log_file))
