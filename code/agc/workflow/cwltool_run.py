"""cwltool for the local CWL runs: its command line, its run with the log kept, its failure.

:func:`cwltool_command` builds the command line of a local run (:class:`CwltoolOptions`: in
parallel or not, which cwltool, no container or each job in its image, provenance or not);
:func:`run_cwltool` runs it with cwltool's log (its standard error, with the jobs' output) kept in
a :class:`~agc.workflow.steplog.StepLog`; :func:`cwl_failure` reads the failed step and its own
one-line error back from that log.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agc.core.errors import AGCError
from agc.core.interrupt import child_process
from agc.workflow.steplog import StepLog, step_error


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


#: Environment variables a local CWL job keeps (cwltool passes nothing else but HOME/TMPDIR).
_PRESERVED = (
    "PATH",
    "JUPYTER_PATH",
    "MPLCONFIGDIR",
    "MPLBACKEND",
    "SOURCE_DATE_EPOCH",
    "PYTHONPATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "AGC_ENGINE",
    "AGC_RUN_STARTED",
)

#: The variables a CWL job in the image keeps (the image has its own PATH, kernels and code).
_PASSED_TO_IMAGE = ("MPLBACKEND", "SOURCE_DATE_EPOCH", "AGC_ENGINE", "AGC_RUN_STARTED")


@dataclass(frozen=True)
class CwltoolOptions:
    """How cwltool runs a local CWL workflow.

    ``parallel``: run independent jobs at once (``--parallel``); ``cwltool``: the cwltool
    executable (e.g. ``.venv-reana/bin/cwltool``, the version of REANA's CWL engine; None: the
    one beside the interpreter); ``docker_cmd``: run each job in its image through this
    user-space docker command (environment/cwl-buildah) instead of ``--no-container``;
    ``provenance``: a folder for cwltool's provenance research object (``--provenance``).
    """

    parallel: bool = True
    cwltool: Path | None = None
    docker_cmd: Path | None = None
    provenance: Path | None = None

    def __post_init__(self) -> None:
        for name in ("cwltool", "docker_cmd", "provenance"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))


def shown(path: Path) -> str:
    """``path`` as a user would type it: relative to the working directory when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def cwltool_command(
    workflow: Path,
    job: Path,
    *,
    outdir: Path,
    scratch: Path,
    env: dict[str, str],
    local: CwltoolOptions = CwltoolOptions(),
) -> list[str]:
    """The cwltool command line of a local run (``local.cwltool``, default ``cwltool``): no
    container, outputs into ``outdir``, temporary folders in ``scratch``, the variables of
    :data:`_PRESERVED` set in ``env`` kept. With ``local.docker_cmd`` (e.g.
    environment/cwl-buildah) each job runs in its DockerRequirement image through that
    user-space docker command, and only :data:`_PASSED_TO_IMAGE` is kept. With
    ``local.provenance`` cwltool also writes its provenance research object (CWLProv) there."""
    docker_cmd = local.docker_cmd
    isolation = (
        ["--user-space-docker-cmd", str(docker_cmd.resolve())] if docker_cmd else ["--no-container"]
    )
    command = [str(local.cwltool or "cwltool"), *isolation, "--outdir", str(outdir)]
    if local.parallel:
        command.append("--parallel")
    if local.provenance is not None:
        command += ["--provenance", str(local.provenance)]
    command += [
        "--tmpdir-prefix",
        f"{scratch}/tmp/",
        "--tmp-outdir-prefix",
        f"{scratch}/out/",
    ]
    for name in _PASSED_TO_IMAGE if docker_cmd else _PRESERVED:
        if name in env:
            command += ["--preserve-environment", name]
    return [*command, str(workflow), str(job)]


#: cwltool's line for a step (or a scattered job, ``histograms_2``) that failed.
_FAILED_STEP = re.compile(
    r"\[(?P<kind>step|job) (?P<name>[\w.-]+?)(?:_\d+)?\] completed permanentFail"
)


def failed_step(lines: list[str]) -> str | None:
    """The name of the step cwltool's log ``lines`` report as failed (a step's own line first,
    then a job's), or None."""
    steps = [m for line in lines if (m := _FAILED_STEP.search(line))]
    for kind in ("step", "job"):
        names = [m["name"] for m in steps if m["kind"] == kind]
        if names:
            return names[0]
    return None


def cwl_failure(workflow: Path, returncode: int, lines: list[str], log: Path) -> str:
    """The one-line error of a failed cwltool run: the failed step and its own error (read
    from cwltool's log ``lines``), or cwltool's exit code."""
    step = failed_step(lines)
    step = None if step == workflow.name else step  # a lone tool's job is named by its file
    error = step_error(lines)
    where = f"CWL workflow {workflow.name}" + (f", step '{step}'" if step else "")
    if error:
        return f"{where}: {error}"
    return f"{where} failed (cwltool exit code {returncode}); its log: {shown(log)}"


def run_cwltool(
    command: list[str], root: Path, env: dict[str, str], log: StepLog
) -> tuple[int, str]:
    """Run a cwltool command in ``root``: its exit code and standard output (the output object);
    cwltool's log (its standard error, with the jobs' output) goes to ``log``."""
    _log(f"[agc run-cwl] {' '.join(command)}")
    with tempfile.TemporaryFile() as stdout:
        with child_process(
            command,
            "cwltool",
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.PIPE,
        ) as process:
            assert process.stderr is not None
            log.copy(process.stderr)
            returncode = process.wait()
        stdout.seek(0)
        return returncode, stdout.read().decode("utf-8", errors="replace")


def existing_cwltool(cwltool: str | os.PathLike[str] | None) -> Path:
    """``cwltool`` (default: the one beside the interpreter), which must exist."""
    path = Path(cwltool) if cwltool is not None else Path(sys.executable).parent / "cwltool"
    if not path.exists():
        raise AGCError(f"cwltool not found: {path}")
    return path


def output_object(stdout: str) -> dict[str, Any]:
    """cwltool's output object (its standard output)."""
    try:
        return json.loads(stdout)
    except json.JSONDecodeError:
        raise AGCError("cwltool succeeded but printed no output object") from None


def keep_research_object(research_object: Path, dest: Path) -> None:
    """Move cwltool's provenance research object onto ``dest`` (replaced as a whole)."""
    if not (research_object / "bagit.txt").is_file():
        raise AGCError(f"cwltool --provenance wrote no research object in {research_object}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        shutil.copytree(research_object, staged / "ro", symlinks=True)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(staged / "ro", dest)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def cwltool_outputs(
    command: list[str], root: Path, env: dict[str, str], *, log: StepLog, workflow: Path
) -> tuple[dict[str, Any], float]:
    """Run the cwltool ``command`` in ``root`` with its log kept in ``log`` (closed after):
    cwltool's output object and its wall time [s]. A failure raises :class:`AGCError` with the
    failed step of ``workflow`` and its own one-line error (:func:`cwl_failure`)."""
    started = time.perf_counter()
    with log:
        returncode, stdout = run_cwltool(command, root, env, log)
        lines = list(log.tail)
    seconds = time.perf_counter() - started
    if returncode != 0:
        _log(
            f"[agc run-cwl] cwltool exit code {returncode} after {seconds:.1f} s; "
            f"its log: {shown(log.path)}"
        )
        raise AGCError(cwl_failure(workflow, returncode, lines, log.path))
    return output_object(stdout), seconds
