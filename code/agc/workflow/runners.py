"""Local execution of the REANA workflow specifications, exactly as REANA would run them.

Two runners, one per specification:

- :func:`run_serial` mirrors REANA's serial engine (``reana_commons.serial``): it loads
  ``reana.yaml``, merges the ``-p name=value`` overrides into ``inputs.parameters`` (an unknown
  name is an error listing the declared ones), expands every command with
  ``string.Template(command).substitute(parameters)`` -- so ``$name``/``${name}`` are replaced and
  an undeclared name fails, as on the server -- and runs each command with ``bash -c`` in the
  workspace (the folder holding the spec) with the local virtual environment first on ``PATH``.
  It stops at the first failing command and names its step.
- :func:`run_cwl` runs ``workflow/workflow.cwl`` with the job file ``reana-cwl-job.yaml`` (the
  overrides applied to a temporary copy) through ``cwltool --no-container --parallel``; the
  outputs are written to a temporary folder and renamed onto ``outputs/cwl`` only on success.

Both check the parameter values with :func:`agc.core.parameters.validate_parameters` and what
they name with :func:`agc.workflow.preflight.check_named_inputs` before any work, keep what the
steps print in ``<outdir>/logs/`` (:mod:`agc.workflow.steplog`; on stderr too with ``debug``;
:func:`run_serial` also its record, ``logs/workflow.json``: :mod:`agc.workflow.runrecord`),
end a failure with the failed step's own one-line error, and return a typed record (:class:`SerialRun`, :class:`CwlRun`; ``to_dict()`` is the JSON
object ``agc run-serial`` / ``agc run-cwl`` print)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from string import Template
from typing import Any

import yaml

from agc.core.errors import AGCError
from agc.core.fileio import replaced_directory
from agc.core.parameters import coerce, validate_parameters
from agc.workflow.cwltool_run import (
    CwltoolOptions,
    cwltool_command,
    cwltool_outputs,
    existing_cwltool,
    keep_research_object,
    shown,
)
from agc.workflow.preflight import check_named_inputs
from agc.workflow.runrecord import RunRecorder, record_path
from agc.workflow.steplog import LOG_DIR, StepLog, echo_stream, log_path, run_logged

SERIAL_SPEC = "reana.yaml"
CWL_JOB = "reana-cwl-job.yaml"
CWL_WORKFLOW = Path("workflow") / "workflow.cwl"
#: Where :func:`run_cwl` collects the CWL workflow's outputs (relative to the workspace).
CWL_OUTDIR = Path("outputs") / "cwl"
#: Where ``run_cwl(provenance=True)`` puts cwltool's provenance research object (CWLProv), which
#: ``agc archive`` turns into a Workflow Run RO-Crate (relative to the workspace).
CWL_PROVENANCE = Path("outputs") / "cwl-provenance"


@dataclass(frozen=True)
class Command:
    """One expanded command of a serial step: REANA runs each in its own container."""

    step: str
    index: int
    count: int
    text: str


@dataclass(frozen=True)
class StepTime:
    """Wall time [s, rounded to 0.1 s] of one serial step (all its commands)."""

    name: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """``{"name", "seconds"}``."""
        return asdict(self)


@dataclass(frozen=True)
class SerialRun:
    """A finished :func:`run_serial`: the ``spec`` file, the workspace ``workdir``, the steps
    run (in order) and the total wall time ``seconds`` [s, rounded to 0.1 s]."""

    spec: str
    workdir: str
    steps: list[StepTime]
    seconds: float
    logs: str = ""

    def to_dict(self) -> dict[str, Any]:
        """``{"spec", "workdir", "steps": [{"name", "seconds"}], "seconds", "logs"}``
        (``logs``: the folder of the steps' logs)."""
        return asdict(self)


@dataclass(frozen=True)
class CwlRun:
    """A finished :func:`run_cwl`: the output folder, every workflow output (name -> path) and
    cwltool's wall time ``seconds`` [s, rounded to 0.1 s]."""

    outdir: str
    outputs: dict[str, str]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """``{"outdir", "outputs": {name: path}, "seconds"}``."""
        return asdict(self)


# --------------------------------------------------------------------------- specifications

#: What a runner started outside a workspace suggests.
WORKSPACE_HINT = "`agc init DIR` lays out a workspace"


def load_spec(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a REANA specification (YAML) as a dict; missing or malformed -> :class:`AGCError`."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AGCError(f"workflow specification not found: {path} ({WORKSPACE_HINT})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise AGCError(f"{path}: malformed YAML{where}") from None
    if not isinstance(data, dict) or "workflow" not in data:
        raise AGCError(f"{path}: not a REANA specification (no 'workflow' key)")
    return data


def declared_parameters(spec: dict[str, Any]) -> dict[str, Any]:
    """``inputs.parameters`` of a REANA specification, values as written (YAML types)."""
    params = (spec.get("inputs") or {}).get("parameters") or {}
    if not isinstance(params, dict):
        raise AGCError("inputs.parameters must be a mapping of name -> default value")
    return dict(params)


def apply_overrides(
    declared: dict[str, Any], overrides: dict[str, str] | None, source: str
) -> dict[str, Any]:
    """``declared`` updated with ``overrides``; an undeclared name is an error listing the declared."""
    params = dict(declared)
    for name, value in (overrides or {}).items():
        if name not in declared:
            raise AGCError(
                f"unknown parameter '{name}' for {source}; declared: {', '.join(sorted(declared))}"
            )
        params[name] = value
    return params


def check_values(params: dict[str, Any], source: str) -> dict[str, Any]:
    """Typed, validated parameter values (:func:`agc.core.parameters.validate_parameters`)."""
    try:
        return validate_parameters(params)
    except AGCError as exc:
        raise AGCError(f"{source}: {exc}") from None


def expand_commands(spec: dict[str, Any], parameters: dict[str, Any]) -> list[Command]:
    """Every command of a serial spec with the parameters substituted as REANA does.

    REANA's serial engine applies ``string.Template(command).substitute(parameters)`` to each
    command; a name without a value raises there, and here an :class:`AGCError` naming the step.
    """
    workflow = spec.get("workflow") or {}
    if workflow.get("type") != "serial":
        raise AGCError(f"not a serial workflow (workflow.type = {workflow.get('type')!r})")
    steps = (workflow.get("specification") or {}).get("steps") or []
    if not steps:
        raise AGCError("serial workflow has no steps")
    commands: list[Command] = []
    for number, step in enumerate(steps):
        name = str(step.get("name", number))
        texts = step.get("commands") or []
        for index, text in enumerate(texts, start=1):
            try:
                expanded = Template(text).substitute(parameters)
            except KeyError as exc:
                raise AGCError(
                    f"step '{name}' uses parameter ${{{exc.args[0]}}} that inputs.parameters does "
                    "not declare"
                ) from None
            except ValueError as exc:
                raise AGCError(f"step '{name}': {exc} (write a literal '$' as '$$')") from None
            commands.append(Command(name, index, len(texts), expanded))
    return commands


# --------------------------------------------------------------------------- local runners


def venv_bin() -> Path:
    """The ``bin`` folder of the running interpreter's environment (papermill, cwltool, agc)."""
    return Path(sys.executable).parent


def runner_environment(engine: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of locally run steps: the venv first on ``PATH``, its Jupyter kernels first,
    ``AGC_ENGINE`` (recorded in provenance) and a shared start time."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = os.pathsep.join([str(venv_bin()), env.get("PATH", "")])
    jupyter = str(Path(sys.prefix) / "share" / "jupyter")
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (jupyter, env.get("JUPYTER_PATH", "")) if p)
    env["AGC_ENGINE"] = engine
    env.setdefault("AGC_RUN_STARTED", dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat())
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def select_steps(steps: list[str], options: dict[str, str], source: str) -> list[str]:
    """The steps that REANA's operational options ``FROM`` / ``TARGET`` select (in order)."""
    unknown = sorted(set(options) - {"FROM", "TARGET"})
    if unknown:
        raise AGCError(
            f"{source}: unknown operational option(s) {unknown} (accepted: FROM, TARGET)"
        )
    first, last = 0, len(steps) - 1
    for key in ("FROM", "TARGET"):
        if key in options and options[key] not in steps:
            raise AGCError(f"{source}: {key}={options[key]!r} is not a step; steps: {steps}")
    if "FROM" in options:
        first = steps.index(options["FROM"])
    if "TARGET" in options:
        last = steps.index(options["TARGET"])
    if first > last:
        raise AGCError(
            f"{source}: step {steps[first]!r} (FROM) comes after {steps[last]!r} (TARGET)"
        )
    return steps[first : last + 1]


def step_label(command: Command, steps: list[str], quoted: bool = False) -> str:
    """``step 3/8 merge`` (``(command 1/2)`` added in a step of several commands): how the
    lines of :func:`run_serial` name a command's step; ``quoted``: ``step 3/8 'merge'``, as
    its error names a failed one."""
    name = f"'{command.step}'" if quoted else command.step
    label = f"step {steps.index(command.step) + 1}/{len(steps)} {name}"
    return label + (f" (command {command.index}/{command.count})" if command.count > 1 else "")


def progress_line(
    step: str, seconds: float, elapsed: float, steps: list[str], chosen: list[str]
) -> str:
    """The line after each finished step of :func:`run_serial`: ``step 3/8 merge done in
    5.6 s`` (``seconds`` [s], all its commands; numbered among all the ``steps``), the time
    elapsed since the run started [s] and the next of the ``chosen`` steps."""
    following = chosen.index(step) + 1
    tail = f"; next: {chosen[following]}" if following < len(chosen) else ""
    return (
        f"[agc run-serial] step {steps.index(step) + 1}/{len(steps)} {step} done in "
        f"{seconds:.1f} s ({elapsed:.1f} s elapsed{tail})"
    )


def selection_note(options: dict[str, str]) -> str:
    """``FROM=a, TARGET=b``: the operational options that chose the steps run."""
    return ", ".join(f"{key}={options[key]}" for key in ("FROM", "TARGET") if key in options)


def done_line(chosen: list[str], steps: list[str], options: dict[str, str], total: float) -> str:
    """The last line of a successful :func:`run_serial`: how many of the spec's steps ran."""
    if chosen == steps:
        return f"[agc run-serial] all {len(steps)} steps done in {total:.1f} s"
    note = selection_note(options)
    return f"[agc run-serial] {len(chosen)} of {len(steps)} steps done ({note}) in {total:.1f} s"


def first_line(text: str) -> str:
    """The first line of a command, ``...`` when more follow (a here-document's lines are in
    the step's log)."""
    head, sep, _ = text.partition("\n")
    return f"{head} ..." if sep else head


def run_command(command: Command, root: Path, env: dict[str, str], log: StepLog) -> int:
    """Run one expanded command with ``bash -c`` in ``root``; its output (stdout and stderr)
    goes to ``log``; its exit code."""
    return run_logged(["bash", "-c", command.text], root, env, log)


def run_step_command(
    command: Command, root: Path, outdir: str, env: dict[str, str], debug: bool
) -> tuple[int, str | None, Path]:
    """Run one command of a serial step (:func:`run_command`) with its output in the step's log
    ``<outdir>/logs/<step>.log``, which the step's first command starts afresh: its exit code,
    its one-line error (:meth:`StepLog.error`) and the log's path."""
    path = log_path(root, outdir, command.step)
    if command.index == 1:
        path.unlink(missing_ok=True)
    with StepLog(path, echo_stream(debug), progress=sys.stderr) as log:
        log.record(f"$ {command.text}\n")
        returncode = run_command(command, root, env, log)
        return returncode, log.error(), path


def run_serial(
    spec_path: str | os.PathLike[str] = SERIAL_SPEC,
    overrides: dict[str, str] | None = None,
    *,
    workdir: str | os.PathLike[str] | None = None,
    options: dict[str, str] | None = None,
    debug: bool = False,
) -> SerialRun:
    """Run the serial workflow ``spec_path`` locally, as REANA's serial engine would.

    ``overrides`` are ``{name: value}`` strings (``-p name=value``); ``workdir`` is the workspace
    (default: the spec's folder); ``options`` are REANA's operational options for serial
    workflows (``-o FROM=step``: start at that step, reusing the workspace's earlier outputs;
    ``-o TARGET=step``: stop after it). What the parameters name (signal declaration, manifest,
    output folder) is checked before the first step
    (:func:`agc.workflow.preflight.check_named_inputs`). Everything a step prints goes to
    ``<outdir>/logs/<step>.log`` (also to stderr with ``debug``), the run's status and times to
    ``<outdir>/logs/workflow.json`` (:class:`agc.workflow.runrecord.RunRecorder`); a failing command raises
    :class:`AGCError` naming its step and the step's own one-line error (earlier steps' outputs
    are kept).
    """
    spec_path = Path(spec_path)
    spec = load_spec(spec_path)
    params = apply_overrides(declared_parameters(spec), overrides, spec_path.name)
    typed = check_values(params, spec_path.name)
    commands = expand_commands(spec, params)
    root = Path(workdir) if workdir is not None else spec_path.resolve().parent
    options = dict(options or {})
    steps = list(dict.fromkeys(c.step for c in commands))
    chosen = select_steps(steps, options, spec_path.name)
    try:
        check_named_inputs(typed, root)
    except AGCError as exc:
        raise AGCError(f"{spec_path.name}: {exc}") from None
    outdir = str(typed.get("outdir", "outputs"))
    env = runner_environment("serial-local")
    if debug:
        env["AGC_DEBUG"] = "1"
    timings: dict[str, float] = {}
    started = time.perf_counter()
    recorder = RunRecorder(record_path(root / outdir / LOG_DIR), spec_path.name, env["AGC_ENGINE"])
    ok = False
    try:
        for command in [c for c in commands if c.step in chosen]:
            label = step_label(command, steps)
            shown_text = command.text if debug else first_line(command.text)
            _log(f"[agc run-serial] {label}: {shown_text}")
            recorder.step_started(command.step, command.text)
            t0 = time.perf_counter()
            returncode, error, path = run_step_command(command, root, outdir, env, debug)
            recorder.step_finished(returncode == 0, command.index == command.count)
            elapsed = time.perf_counter() - t0
            timings[command.step] = timings.get(command.step, 0.0) + elapsed
            if returncode != 0:
                _log(
                    f"[agc run-serial] {label} failed: exit code {returncode} after "
                    f"{elapsed:.1f} s; its log: {shown(path)}"
                )
                failed = step_label(command, steps, quoted=True)
                raise AGCError(f"{failed}: {error or f'exit code {returncode}'}")
            if command.index < command.count:
                _log(f"[agc run-serial] {label} done in {elapsed:.1f} s")
            else:
                seconds, so_far = timings[command.step], time.perf_counter() - started
                _log(progress_line(command.step, seconds, so_far, steps, chosen))
        ok = True
    finally:
        recorder.run_finished(ok)
    total = time.perf_counter() - started
    _log(done_line(chosen, steps, options, total))
    return SerialRun(
        spec=str(spec_path),
        workdir=str(root),
        steps=[StepTime(name, round(s, 1)) for name, s in timings.items()],
        seconds=round(total, 1),
        logs=str(root / outdir / LOG_DIR),
    )


def cwl_job(
    job_file: str | os.PathLike[str], overrides: dict[str, str] | None = None
) -> dict[str, Any]:
    """The CWL input object of ``job_file`` with ``overrides`` applied and checked.

    Scalar entries are the workflow parameters (typed as the parameter schema declares); the
    locations of File and Directory entries (alone or in lists) are made absolute from the job
    file's folder, as cwltool resolves them.
    """
    job_file = Path(job_file)
    job = load_yaml_mapping(job_file)
    scalars = {k: v for k, v in job.items() if not isinstance(v, dict | list)}
    params = apply_overrides(scalars, overrides, job_file.name)
    typed = check_values({k: coerce(k, v) for k, v in params.items()}, job_file.name)
    base = job_file.resolve().parent
    result: dict[str, Any] = {}
    for name, value in job.items():
        if isinstance(value, dict):
            result[name] = _absolute_location(value, base, f"{job_file}: '{name}'")
        elif isinstance(value, list):
            result[name] = [
                _absolute_location(item, base, f"{job_file}: '{name}'[{index}]")
                for index, item in enumerate(value)
            ]
        else:
            result[name] = typed[name]
    return result


def _absolute_location(entry: Any, base: Path, where: str) -> dict[str, Any]:
    """A File/Directory object with its ``location`` (or ``path``) made absolute from ``base``."""
    if not isinstance(entry, dict):
        raise AGCError(f"{where}: expected a File or Directory object, got {entry!r}")
    entry = dict(entry)
    location = entry.pop("path", None) if "location" not in entry else entry["location"]
    if location is None:
        raise AGCError(f"{where} has neither 'location' nor 'path'")
    entry["location"] = str((base / location).resolve()) if "://" not in location else location
    return entry


def load_yaml_mapping(path: Path) -> dict[str, Any]:
    """A YAML file that must hold a mapping (the CWL job file)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AGCError(f"file not found: {path}") from None
    except yaml.YAMLError:
        raise AGCError(f"{path}: malformed YAML") from None
    if not isinstance(data, dict):
        raise AGCError(f"{path}: expected a mapping of input names to values")
    return data


def run_cwl(
    overrides: dict[str, str] | None = None,
    *,
    workdir: str | os.PathLike[str] | None = None,
    job_file: str | os.PathLike[str] | None = None,
    workflow: str | os.PathLike[str] | None = None,
    outdir: str | os.PathLike[str] | None = None,
    local: CwltoolOptions | None = None,
    debug: bool = False,
) -> CwlRun:
    """Run the CWL workflow locally: ``cwltool --no-container --parallel`` from the venv.

    ``overrides`` (``-p name=value``) replace job-file parameters in a temporary copy of the job
    file; what they name is checked first (:func:`agc.workflow.preflight.check_named_inputs`).
    ``workdir`` (default: the current directory, the repository root under ``make``) holds
    ``reana-cwl-job.yaml`` and ``workflow/``; outputs go to ``outdir`` (default ``outputs/cwl`` in
    ``workdir``), replaced as a whole only when the run succeeds. cwltool's log goes to
    ``<outdir>/../logs/<outdir name>.log`` (also to stderr with ``debug``). A failure raises
    :class:`AGCError` naming the failed step and its own one-line error. ``local``: how cwltool
    runs (:class:`CwltoolOptions`, default: its defaults); a run with ``local.provenance`` keeps the research object
    there (replaced only when the run succeeds) and is not ``--parallel`` (cwltool records no
    step runs under it).
    """
    local = local if local is not None else CwltoolOptions()
    root = Path(workdir) if workdir is not None else Path.cwd()
    job_path = Path(job_file) if job_file is not None else root / CWL_JOB
    workflow_path = Path(workflow) if workflow is not None else root / CWL_WORKFLOW
    target = Path(outdir) if outdir is not None else root / CWL_OUTDIR
    if not workflow_path.is_file():
        raise AGCError(f"CWL workflow not found: {workflow_path} ({WORKSPACE_HINT})")
    cwltool = existing_cwltool(local.cwltool)
    job = cwl_job(job_path, overrides)
    try:
        check_named_inputs({k: v for k, v in job.items() if not isinstance(v, dict | list)}, root)
    except AGCError as exc:
        raise AGCError(f"{job_path.name}: {exc}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    log_file = target.parent / LOG_DIR / f"{target.name}.log"
    log_file.unlink(missing_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="agc-cwl-"))
    try:
        # the outputs replace ``target`` only when cwltool succeeds
        with replaced_directory(target) as staging:
            (scratch / "tmp").mkdir()  # cwltool --provenance makes its folder there first
            job_copy = scratch / "job.json"
            job_copy.write_text(json.dumps(job, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            env = runner_environment("cwl-container" if local.docker_cmd else "cwl-local")
            env.setdefault("MPLCONFIGDIR", str(scratch / "matplotlib"))
            env.update({"AGC_DEBUG": "1"} if debug else {})
            command = cwltool_command(
                workflow_path,
                job_copy,
                outdir=staging,
                scratch=scratch,
                env=env,
                # cwltool's provenance misses the steps' runs under --parallel (cwltool issue
                # #1348): a run with provenance executes one job at a time (each uses `workers`)
                local=replace(
                    local,
                    cwltool=cwltool,
                    parallel=local.parallel and local.provenance is None,
                    provenance=scratch / "provenance" if local.provenance is not None else None,
                ),
            )
            log = StepLog(log_file, echo_stream(debug))
            produced, seconds = cwltool_outputs(command, root, env, log=log, workflow=workflow_path)
        if local.provenance is not None:
            keep_research_object(scratch / "provenance", local.provenance)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    outputs = {
        name: str(target / value["basename"])
        for name, value in sorted(produced.items())
        if isinstance(value, dict) and "basename" in value
    }
    _log(f"[agc run-cwl] total: {seconds:.1f} s; outputs in {target}; log: {shown(log_file)}")
    return CwlRun(outdir=str(target), outputs=outputs, seconds=round(seconds, 1))
