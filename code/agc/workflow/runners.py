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

Both check the parameter values with :func:`agc.core.parameters.validate_parameters` before any
work and return a typed record (:class:`SerialRun`, :class:`CwlRun`; ``to_dict()`` is the JSON
object ``agc run-serial`` / ``agc run-cwl`` print)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from string import Template
from typing import Any

import yaml

from agc.core.errors import AGCError
from agc.core.parameters import coerce, validate_parameters

SERIAL_SPEC = "reana.yaml"
CWL_SPEC = "reana-cwl.yaml"
CWL_JOB = "reana-cwl-job.yaml"
CWL_WORKFLOW = Path("workflow") / "workflow.cwl"
#: Where :func:`run_cwl` collects the CWL workflow's outputs (relative to the workspace).
CWL_OUTDIR = Path("outputs") / "cwl"
#: Where ``run_cwl(provenance=True)`` puts cwltool's provenance research object (CWLProv), which
#: ``agc archive`` turns into a Workflow Run RO-Crate (relative to the workspace).
CWL_PROVENANCE = Path("outputs") / "cwl-provenance"
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

    def to_dict(self) -> dict[str, Any]:
        """``{"spec", "workdir", "steps": [{"name", "seconds"}], "seconds"}``."""
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


def load_spec(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a REANA specification (YAML) as a dict; missing or malformed -> :class:`AGCError`."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AGCError(f"workflow specification not found: {path}") from None
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


def progress_line(timings: dict[str, float], steps: list[str], elapsed: float) -> str:
    """The line after each finished step of :func:`run_serial`: steps done out of ``steps``
    with their wall times (``timings`` [s]), the time elapsed [s] and the next step."""
    done = [name for name in steps if name in timings]
    times = ", ".join(f"{name} {timings[name]:.1f} s" for name in done)
    following = steps[len(done)] if len(done) < len(steps) else None
    tail = f"; next: {following}" if following else ""
    return (
        f"[agc run-serial] progress: {len(done)}/{len(steps)} steps done ({times}), "
        f"{elapsed:.1f} s elapsed{tail}"
    )


def run_serial(
    spec_path: str | os.PathLike[str] = SERIAL_SPEC,
    overrides: dict[str, str] | None = None,
    *,
    workdir: str | os.PathLike[str] | None = None,
    options: dict[str, str] | None = None,
) -> SerialRun:
    """Run the serial workflow ``spec_path`` locally, as REANA's serial engine would.

    ``overrides`` are ``{name: value}`` strings (``-p name=value``); ``workdir`` is the workspace
    (default: the spec's folder); ``options`` are REANA's operational options for serial
    workflows (``-o FROM=step``: start at that step, reusing the workspace's earlier outputs;
    ``-o TARGET=step``: stop after it). A failing command raises :class:`AGCError` naming its
    step (earlier steps' outputs are kept).
    """
    spec_path = Path(spec_path)
    spec = load_spec(spec_path)
    params = apply_overrides(declared_parameters(spec), overrides, spec_path.name)
    check_values(params, spec_path.name)
    commands = expand_commands(spec, params)
    root = Path(workdir) if workdir is not None else spec_path.resolve().parent
    env = runner_environment("serial-local")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    steps = list(dict.fromkeys(c.step for c in commands))
    chosen = select_steps(steps, options or {}, spec_path.name)
    commands = [c for c in commands if c.step in chosen]
    for command in commands:
        label = f"step {steps.index(command.step) + 1}/{len(steps)} '{command.step}'"
        if command.count > 1:
            label += f" (command {command.index}/{command.count})"
        _log(f"[agc run-serial] {label}: {command.text}")
        t0 = time.perf_counter()
        result = subprocess.run(
            ["bash", "-c", command.text], cwd=root, env=env, stdin=subprocess.DEVNULL, check=False
        )
        elapsed = time.perf_counter() - t0
        timings[command.step] = timings.get(command.step, 0.0) + elapsed
        _log(f"[agc run-serial] {label}: exit code {result.returncode} after {elapsed:.1f} s")
        if result.returncode != 0:
            raise AGCError(
                f"{spec_path.name}: {label} failed with exit code {result.returncode}; "
                "earlier steps' outputs are kept"
            )
        if command.index == command.count:
            _log(progress_line(timings, chosen, time.perf_counter() - started))
    total = time.perf_counter() - started
    _log(f"[agc run-serial] all {len(steps)} steps done in {total:.1f} s")
    return SerialRun(
        spec=str(spec_path),
        workdir=str(root),
        steps=[StepTime(name, round(s, 1)) for name, s in timings.items()],
        seconds=round(total, 1),
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


def cwltool_command(
    cwltool: Path,
    workflow: Path,
    job: Path,
    *,
    outdir: Path,
    scratch: Path,
    env: dict[str, str],
    parallel: bool = True,
    docker_cmd: Path | None = None,
    provenance: Path | None = None,
) -> list[str]:
    """The cwltool command line of a local run: no container, outputs into ``outdir``,
    temporary folders in ``scratch``, the variables of :data:`_PRESERVED` set in ``env`` kept.
    With ``docker_cmd`` (e.g. environment/cwl-buildah) each job runs in its DockerRequirement
    image through that user-space docker command, and only :data:`_PASSED_TO_IMAGE` is kept.
    With ``provenance`` cwltool also writes its provenance research object (CWLProv) there."""
    isolation = (
        ["--user-space-docker-cmd", str(docker_cmd.resolve())] if docker_cmd else ["--no-container"]
    )
    command = [str(cwltool), *isolation, "--outdir", str(outdir)]
    if parallel:
        command.append("--parallel")
    if provenance is not None:
        command += ["--provenance", str(provenance)]
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


def run_cwltool(command: list[str], root: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run a cwltool command in ``root``: its exit code and standard output (the output object;
    cwltool's log goes to our standard error)."""
    _log(f"[agc run-cwl] {' '.join(command)}")
    result = subprocess.run(
        command,
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    return result.returncode, result.stdout


def _existing_cwltool(cwltool: str | os.PathLike[str] | None) -> Path:
    """``cwltool`` (default: the one beside the interpreter), which must exist."""
    path = Path(cwltool) if cwltool is not None else venv_bin() / "cwltool"
    if not path.exists():
        raise AGCError(f"cwltool not found: {path}")
    return path


def _output_object(stdout: str) -> dict[str, Any]:
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


def run_cwl(
    overrides: dict[str, str] | None = None,
    *,
    workdir: str | os.PathLike[str] | None = None,
    job_file: str | os.PathLike[str] | None = None,
    workflow: str | os.PathLike[str] | None = None,
    outdir: str | os.PathLike[str] | None = None,
    parallel: bool = True,
    cwltool: str | os.PathLike[str] | None = None,
    docker_cmd: str | os.PathLike[str] | None = None,
    provenance: str | os.PathLike[str] | None = None,
) -> CwlRun:
    """Run the CWL workflow locally: ``cwltool --no-container --parallel`` from the venv.

    ``overrides`` (``-p name=value``) replace job-file parameters in a temporary copy of the job
    file. ``workdir`` (default: the current directory, the repository root under ``make``) holds
    ``reana-cwl-job.yaml`` and ``workflow/``; outputs go to ``outdir`` (default ``outputs/cwl`` in
    ``workdir``), replaced as a whole only when the run succeeds. A failure raises
    :class:`AGCError`. ``cwltool``: another cwltool executable (e.g. ``.venv-reana/bin/cwltool``,
    the version of REANA's CWL engine; default: the one beside the interpreter). ``docker_cmd``:
    run each job in its image through this user-space docker command (environment/cwl-buildah)
    instead of ``--no-container``. ``provenance``: a folder for cwltool's provenance research
    object (``--provenance``; e.g. :data:`CWL_PROVENANCE`), replaced only when the run succeeds;
    such a run is not ``--parallel`` (cwltool records no step runs under it).
    """
    root = Path(workdir) if workdir is not None else Path.cwd()
    job_path = Path(job_file) if job_file is not None else root / CWL_JOB
    workflow_path = Path(workflow) if workflow is not None else root / CWL_WORKFLOW
    target = Path(outdir) if outdir is not None else root / CWL_OUTDIR
    if not workflow_path.is_file():
        raise AGCError(f"CWL workflow not found: {workflow_path}")
    cwltool = _existing_cwltool(cwltool)
    job = cwl_job(job_path, overrides)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    scratch = Path(tempfile.mkdtemp(prefix="agc-cwl-"))
    try:
        (scratch / "tmp").mkdir()  # cwltool --provenance makes its folder there before any job
        job_copy = scratch / "job.json"
        job_copy.write_text(json.dumps(job, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        env = runner_environment("cwl-container" if docker_cmd else "cwl-local")
        env.setdefault("MPLCONFIGDIR", str(scratch / "matplotlib"))
        command = cwltool_command(
            cwltool,
            workflow_path,
            job_copy,
            outdir=staging,
            scratch=scratch,
            env=env,
            # cwltool's provenance misses the steps' runs under --parallel (cwltool issue
            # #1348): a run with provenance executes one job at a time (each uses `workers`)
            parallel=parallel and provenance is None,
            docker_cmd=Path(docker_cmd) if docker_cmd is not None else None,
            provenance=scratch / "provenance" if provenance is not None else None,
        )
        started = time.perf_counter()
        returncode, stdout = run_cwltool(command, root, env)
        seconds = time.perf_counter() - started
        if returncode != 0:
            raise AGCError(
                f"CWL workflow {workflow_path.name} failed (cwltool exit code {returncode}); "
                f"see cwltool's log above; {target} is left as it was"
            )
        produced = _output_object(stdout)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
        if provenance is not None:
            keep_research_object(scratch / "provenance", Path(provenance))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    outputs = {
        name: str(target / value["basename"])
        for name, value in sorted(produced.items())
        if isinstance(value, dict) and "basename" in value
    }
    _log(f"[agc run-cwl] total: {seconds:.1f} s; outputs in {target}")
    return CwlRun(outdir=str(target), outputs=outputs, seconds=round(seconds, 1))
