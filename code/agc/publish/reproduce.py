"""From the deposited archive to a verdict (``agc reproduce ARCHIVE``).

``reproduce(archive, folder)`` takes the archive folder, its bag or the bag tarball
``agc-ttbar-<version>-bag.tar.gz`` (as downloaded from the deposit) and, in the fresh ``folder``:

1. ``verify``       checks it as ``agc verify-archive`` does (:mod:`agc.publish.verify`) and unpacks
                    the bag into ``folder/archive/``; the bagged code is copied to
                    ``folder/workspace/``, where everything below runs with the archived code
                    first on the path (``PYTHONPATH=code``, as the workflow specifications do);
2. ``environment``  creates ``folder/venv`` from the archived lock (``environment/requirements.lock``:
                    pip, hash-checked, as ``make venv``), or uses the running interpreter
                    (``environment="current"``), or the image the archived code names
                    (``environment/image``; ``environment="container"``, buildah);
3. ``inputs``       regenerates the embedded dataset from the archived recipe at the archived
                    scale, samples and format (``inputs/generation.json``) and checks every file
                    against the archived manifest's sha256; for a manifest of real files, every
                    file it lists is read (local or remote, fsspec) and checked the same way;
4. ``rerun``        reruns the archived workflow specification (``engine``: ``serial`` =
                    reana.yaml, ``cwl`` = workflow/workflow.cwl, ``snakemake`` = workflow/Snakefile)
                    with the parameters of the archived run (its ``provenance.json``); ``outdir``
                    is the engine's own, and ``inputs`` names the regenerated dataset;
5. ``compare``      compares every archived output with the rerun's under the contract
                    (:mod:`agc.publish.verdict`) and writes ``folder/verdict.json``.

A phase that cannot go on (the archive fails verification, a regenerated file differs, the rerun
fails) ends the reproduction as not reproduced, naming why; an archive that lacks what a phase
needs is a one-line :class:`~agc.core.errors.AGCError`. ``outputs=DIR`` compares the archive
with the outputs of a run made elsewhere (e.g. downloaded from REANA) instead of phases 2-4.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agc.core.errors import AGCError
from agc.core.fileio import sha256_file, write_json
from agc.dataset.manifest import EMBEDDED_KEYWORD
from agc.publish.verdict import Verdict, compare_outputs, format_table
from agc.publish.verify import Verification, find_bag, unpack_tarball, verify_archive

ENGINES = ("serial", "cwl", "snakemake")
ENVIRONMENTS = ("venv", "current", "container")
#: Where each engine's local runner writes (relative to the workspace).
ENGINE_OUTPUTS = {"serial": "outputs", "cwl": "outputs/cwl", "snakemake": "outputs/snakemake"}
#: The file of each engine that declares its parameters (relative to the workspace).
ENGINE_PARAMETERS = {
    "serial": "reana.yaml",
    "cwl": "reana-cwl-job.yaml",
    "snakemake": "workflow/config.yaml",
}
LOCK = Path("environment") / "requirements.lock"
IMAGE = Path("environment") / "image"
#: Where a dataset that is not the embedded default is regenerated (inside an uploaded folder).
ARCHIVED_DATA = Path("inputs") / "archived-data"
VERDICT_NAME = "verdict.json"
PHASES = ("verify", "environment", "inputs", "rerun", "compare")
#: Outputs not reproduced that the last line names (verdict.json lists them all).
SUMMARY_NAMES = 5


def progress(phase: str, message: str) -> None:
    """One progress line on stderr: ``[agc reproduce] 3/5 inputs: <message>``."""
    number = PHASES.index(phase) + 1
    print(f"[agc reproduce] {number}/{len(PHASES)} {phase}: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ReproduceOptions:
    """How to reproduce: the ``engine`` (:data:`ENGINES`), the ``environment``
    (:data:`ENVIRONMENTS`), the interpreter ``python`` that creates the venv (default: the
    running one), the ``snakemake`` executable (default ``.venv-snakemake/bin/snakemake`` of the
    current folder) and ``outputs``: a finished run's outputs to compare with instead of a rerun."""

    engine: str = "serial"
    environment: str = "venv"
    python: str | None = None
    snakemake: str | None = None
    outputs: str | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise AGCError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.environment not in ENVIRONMENTS:
            raise AGCError(
                f"environment must be one of {', '.join(ENVIRONMENTS)}, got {self.environment!r}"
            )
        if self.environment == "container" and self.engine != "serial":
            raise AGCError("the container rerun runs reana.yaml: use the serial engine")


@dataclass(frozen=True)
class ArchivedRun:
    """What the bag holds for a rerun: its ``bag`` folder, the run's ``parameters`` (from its
    provenance), its ``inputs`` parameter, the generation record of the embedded dataset
    (``None`` for real inputs) and the archived manifest's content."""

    bag: Path
    parameters: dict[str, Any]
    inputs: str
    generation: dict[str, Any] | None
    manifest: dict[str, Any]

    @property
    def code(self) -> Path:
        """The bagged code (the repository's files)."""
        return self.bag / "data" / "code"

    @property
    def outputs(self) -> Path:
        """The bagged outputs of the run."""
        return self.bag / "data" / "outputs"


@dataclass(frozen=True)
class Reproduction:
    """A finished reproduction: the ``archive`` given, the reproduction ``folder``, the archive's
    ``verification``, the ``engine``, one :class:`Verdict` per archived output, the folder of
    the rerun's outputs, the wall time ``seconds`` [s] and ``failure``: why a phase stopped it
    (``None`` when every phase ran)."""

    archive: str
    folder: str
    verification: Verification
    engine: str
    verdicts: list[Verdict] = field(default_factory=list)
    rerun_outputs: str | None = None
    seconds: float = 0.0
    failure: str | None = None

    @property
    def not_reproduced(self) -> list[str]:
        """The outputs not reproduced, each with what differs first."""
        return [f"{v.output} ({v.detail})" for v in self.verdicts if v.failed]

    @property
    def ok(self) -> bool:
        """True when every phase ran and every compared output is reproduced."""
        return self.failure is None and not self.not_reproduced

    def to_dict(self) -> dict[str, Any]:
        """The content of ``verdict.json``."""
        return {
            "archive": self.archive,
            "folder": self.folder,
            "reproduced": self.ok,
            "failure": self.failure,
            "not_reproduced": self.not_reproduced,
            "engine": self.engine,
            "rerun_outputs": self.rerun_outputs,
            "seconds": self.seconds,
            "verification": self.verification.to_dict(),
            "verdicts": [v.to_dict() for v in self.verdicts],
        }

    def summary(self) -> str:
        """The verdict table and the one-line verdict (what ``agc reproduce`` prints)."""
        lines = [format_table(self.verdicts)] if self.verdicts else []
        if not self.verification.ok:
            lines += [check.line() for check in self.verification.checks]
        if self.failure is not None:
            lines.append(f"NOT reproduced: {self.failure}")
        elif self.not_reproduced:
            named, more = self.not_reproduced[:SUMMARY_NAMES], len(self.not_reproduced)
            tail = f"; and {more - SUMMARY_NAMES} more" if more > SUMMARY_NAMES else ""
            lines.append("NOT reproduced: " + "; ".join(named) + tail)
        else:
            compared = sum(1 for v in self.verdicts if v.verdict == "reproduced")
            lines.append(f"reproduced: {compared} outputs compared, all within the contract")
        return "\n".join(lines)


# --------------------------------------------------------------------------- 1. verify, unpack


def fresh_folder(folder: Path) -> Path:
    """``folder``, created; an existing non-empty folder is refused (a reproduction starts empty)."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise AGCError(f"{folder}: not empty; a reproduction needs a fresh folder")
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()


def unpack(archive: Path, folder: Path) -> tuple[Verification, Path | None]:
    """Verify ``archive`` (folder, bag or tarball) and unpack its bag into ``folder/archive``;
    the verification and the unpacked bag (``None`` when the verification failed)."""
    verification = verify_archive(archive)
    if not verification.ok:
        return verification, None
    target = folder / "archive"
    target.mkdir()
    if archive.is_file():
        _, bag = unpack_tarball(archive, target)
    else:
        source = find_bag(archive)
        bag = target / "bag"
        shutil.copytree(source, bag)
    return verification, bag


def _read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object of the bag; a one-line AGCError naming what is missing."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AGCError(f"the archive lacks {what} ({path.name}): cannot reproduce it") from None
    except ValueError:
        raise AGCError(f"the archive's {what} ({path.name}) is not valid JSON") from None
    if not isinstance(data, dict):
        raise AGCError(f"the archive's {what} ({path.name}) is not a JSON object")
    return data


def archived_run(bag: Path) -> ArchivedRun:
    """What the bag holds for a rerun, checked: the code with reana.yaml, the run's provenance
    (its parameters), the inputs manifest; one-line AGCError naming what is missing."""
    data = bag / "data"
    if not (data / "code" / "reana.yaml").is_file():
        raise AGCError("the archive lacks the workflow specification (code/reana.yaml)")
    provenance = _read_json(data / "outputs" / "provenance.json", "the run's provenance")
    parameters = provenance.get("parameters")
    if not isinstance(parameters, dict) or not parameters:
        raise AGCError("the archive's provenance.json records no parameters: cannot rerun it")
    manifest = _read_json(data / "inputs" / "manifest.json", "the inputs manifest")
    generation = None
    if (data / "inputs" / "generation.json").is_file():
        generation = _read_json(data / "inputs" / "generation.json", "the generation record")
    inputs = str(parameters.get("inputs", EMBEDDED_KEYWORD))
    return ArchivedRun(bag, dict(parameters), inputs, generation, manifest)


def workspace_of(run: ArchivedRun, folder: Path) -> Path:
    """A copy of the bagged code at ``folder/workspace``: where the rerun runs."""
    workspace = folder / "workspace"
    shutil.copytree(run.code, workspace)
    return workspace


# --------------------------------------------------------------------------- 2. environment


def archived_image(workspace: Path) -> str:
    """The image the archived code names (``environment/image``)."""
    path = workspace / IMAGE
    if not path.is_file():
        raise AGCError(f"the archive lacks the image reference ({IMAGE}): cannot use --container")
    return path.read_text(encoding="utf-8").strip()


def venv_commands(python: str, venv: Path, workspace: Path) -> list[list[str]]:
    """The commands that create ``venv`` from the archived lock as ``make venv`` does: the
    hash-checked lock, the archived package (editable, no dependencies), its Jupyter kernel."""
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    kernel = ["--sys-prefix", "--name", "python3", "--display-name", "Python 3 (agc)"]
    return [
        [python, "-m", "venv", str(venv)],
        [*pip, "--require-hashes", "--no-deps", "-r", str(workspace / LOCK)],
        [*pip, "--no-deps", "--no-build-isolation", "-e", str(workspace)],
        [str(venv / "bin" / "python"), "-m", "ipykernel", "install", *kernel],
    ]


def prepare_environment(workspace: Path, folder: Path, options: ReproduceOptions) -> str:
    """The interpreter of the rerun: a new venv from the archived lock, or the running one
    (``current``, and ``container``, whose steps run in the image)."""
    if options.environment == "container":
        progress("environment", f"the archived image {archived_image(workspace)}")
        return sys.executable
    if options.environment == "current":
        progress("environment", f"the running interpreter {sys.executable}")
        return sys.executable
    if not (workspace / LOCK).is_file():
        raise AGCError(f"the archive lacks the environment lock ({LOCK}): use --reuse-env")
    venv = folder / "venv"
    progress("environment", f"creating {venv} from the archived {LOCK} (pip, hash-checked)")
    for command in venv_commands(options.python or sys.executable, venv, workspace):
        done = subprocess.run(command, cwd=workspace, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["?"])[-1]
            raise AGCError(
                f"creating the environment failed: {' '.join(command[:4])}: {last} "
                "(offline, --reuse-env reruns with the running interpreter)"
            )
    return str(venv / "bin" / "python")


def archived_code_env(workspace: Path) -> dict[str, str]:
    """The environment of the commands that run the archived code: its ``code/`` first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(workspace / "code"), env.get("PYTHONPATH", "")) if p
    )
    env.setdefault("MPLBACKEND", "Agg")
    return env


# --------------------------------------------------------------------------- 3. inputs


def manifest_entries(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Every file entry (``path``, ``sha256``, ...) of a manifest in the AGC layout."""
    entries = []
    for process in sorted(manifest):
        variations = manifest[process]
        if not isinstance(variations, dict):
            continue
        for variation in sorted(variations):
            entry = variations[variation]
            if isinstance(entry, dict):
                entries.extend(item for item in entry.get("files", []) if isinstance(item, dict))
    return entries


def stream_sha256(location: str) -> str:
    """The sha256 of a remote file, read through fsspec (1 MiB blocks)."""
    import fsspec

    digest = hashlib.sha256()
    with fsspec.open(location, "rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def file_mismatches(manifest: dict[str, Any], base: Path) -> list[str]:
    """The files of ``manifest`` (relative paths from ``base``, or URLs) that are missing or
    whose sha256 differs from the manifest's; a file recorded without sha256 is named too."""
    bad = []
    for item in manifest_entries(manifest):
        path, expected = str(item.get("path", "")), item.get("sha256")
        if not expected:
            bad.append(f"{path}: no sha256 in the archived manifest")
            continue
        try:
            found = stream_sha256(path) if "://" in path else sha256_file(base / path)
        except (OSError, ValueError) as exc:
            bad.append(f"{path}: unreadable ({type(exc).__name__})")
            continue
        if found != expected:
            bad.append(f"{path}: sha256 {found[:12]}... differs from the manifest's")
    return bad


def regenerate(run: ArchivedRun, workspace: Path, python: str) -> Path:
    """Regenerate the embedded dataset from the archived recipe, scale, samples and format with
    the archived code; its folder (``data/embedded`` for the ``embedded`` parameter, else
    :data:`ARCHIVED_DATA`, in the workspace)."""
    record = run.generation or {}
    target = Path("data/embedded") if run.inputs == EMBEDDED_KEYWORD else ARCHIVED_DATA
    script = (
        "import json, sys\n"
        "from agc.dataset.generate import generate_dataset\n"
        "a = json.loads(sys.argv[1])\n"
        "generate_dataset(a['out'], recipe='inputs/embedded.yaml', scale=a['scale'],"
        " samples=a['samples'], workers=2, file_format=a['format'])\n"
    )
    args = {
        "out": str(target),
        "scale": record.get("scale", 1.0),
        "samples": record.get("samples"),
        "format": record.get("format", "ttree"),
    }
    done = subprocess.run(
        [python, "-c", script, json.dumps(args)],
        cwd=workspace,
        env=archived_code_env(workspace),
        check=False,
    )  # its progress lines (and a failure's traceback) go to stderr
    if done.returncode != 0:
        raise AGCError(f"regenerating the embedded dataset failed (exit code {done.returncode})")
    return workspace / target


def prepare_inputs(run: ArchivedRun, workspace: Path, python: str) -> tuple[str, list[str]]:
    """The ``inputs`` parameter of the rerun and the input files that do not match the archived
    manifest (empty when all do)."""
    if run.generation is not None:
        scale = run.generation.get("scale")
        progress("inputs", f"regenerating the embedded dataset (scale {scale}) from the recipe")
        data = regenerate(run, workspace, python)
        bad = file_mismatches(run.manifest, data)
        inputs = (
            EMBEDDED_KEYWORD if run.inputs == EMBEDDED_KEYWORD else f"{ARCHIVED_DATA}/manifest.json"
        )
    else:
        progress("inputs", "reading every file of the archived manifest (real inputs)")
        target = workspace / ARCHIVED_DATA / "manifest.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(run.bag / "data" / "inputs" / "manifest.json", target)
        bad = file_mismatches(run.manifest, target.parent)
        inputs = str(ARCHIVED_DATA / "manifest.json")
    count = len(manifest_entries(run.manifest))
    progress("inputs", f"{count - len(bad)} of {count} files match the archived manifest's sha256")
    return inputs, bad


# --------------------------------------------------------------------------- 4. rerun


def declared_names(workspace: Path, engine: str) -> set[str]:
    """The parameters the engine's specification declares (its defaults' names)."""
    data = yaml.safe_load((workspace / ENGINE_PARAMETERS[engine]).read_text(encoding="utf-8"))
    if engine == "serial":
        data = (data.get("inputs") or {}).get("parameters") or {}
    return {name for name, value in data.items() if not isinstance(value, dict | list)}


def rerun_parameters(run: ArchivedRun, inputs: str, declared: set[str]) -> list[str]:
    """``-p name=value`` arguments: the archived parameters the specification declares, with
    ``inputs`` naming the regenerated dataset and without ``outdir`` (the engine's own)."""
    args = []
    for name, value in sorted({**run.parameters, "inputs": inputs}.items()):
        if name == "outdir" or name not in declared:
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args += ["-p", f"{name}={text}"]
    return args


def rerun_command(
    python: str, params: list[str], folder: Path, options: ReproduceOptions
) -> tuple[list[str], Path]:
    """The ``agc run-*`` command of the rerun (run in the workspace) and its outputs folder."""
    agc = [python, "-m", "agc"]
    workspace = folder / "workspace"
    if options.environment == "container":
        image = archived_image(workspace)
        container = folder / "container-workspace"
        command = [*agc, "run-serial", "reana.yaml", *params, "--container", image]
        return [*command, "--workdir", str(container)], container / "outputs"
    if options.engine == "serial":
        return [*agc, "run-serial", "reana.yaml", *params], workspace / "outputs"
    if options.engine == "cwl":
        return [*agc, "run-cwl", *params], workspace / ENGINE_OUTPUTS["cwl"]
    program = Path(options.snakemake or Path(".venv-snakemake") / "bin" / "snakemake").resolve()
    command = [*agc, "run-snakemake", *params, "--snakemake", str(program)]
    return command, workspace / ENGINE_OUTPUTS["snakemake"]


def rerun(
    run: ArchivedRun, python: str, inputs: str, folder: Path, options: ReproduceOptions
) -> Path:
    """Rerun the archived specification with the archived code; its outputs folder. The
    runner's progress lines go to stderr; a failure raises AGCError with its exit code."""
    workspace = folder / "workspace"
    if options.engine != "serial" and inputs != EMBEDDED_KEYWORD:
        inputs = str((workspace / inputs).resolve())  # CWL and Snakemake jobs run elsewhere
    params = rerun_parameters(run, inputs, declared_names(workspace, options.engine))
    command, outputs = rerun_command(python, params, folder, options)
    progress("rerun", " ".join(command[2:]))
    env = archived_code_env(workspace)
    env["PATH"] = os.pathsep.join([str(Path(python).parent), env.get("PATH", "")])
    done = subprocess.run(
        command, cwd=workspace, env=env, stdout=subprocess.PIPE, text=True, check=False
    )
    print(done.stdout, end="", file=sys.stderr, flush=True)  # the runner's summary
    if done.returncode != 0:
        raise AGCError(f"the rerun ({options.engine}) failed with exit code {done.returncode}")
    return outputs


# --------------------------------------------------------------------------- the whole


def reproduce(
    archive: str | os.PathLike[str],
    folder: str | os.PathLike[str],
    options: ReproduceOptions | None = None,
) -> Reproduction:
    """Reproduce the archived run of ``archive`` in the fresh ``folder`` (see the module
    docstring); ``folder/verdict.json`` holds :meth:`Reproduction.to_dict`.

    Raises:
        AGCError: ``archive`` does not exist or is no archive, ``folder`` is not empty, the
            archive lacks what a phase needs (code, provenance, manifest, lock, image), or the
            environment or the dataset cannot be made.
    """
    options = options or ReproduceOptions()
    archive, started = Path(archive), time.perf_counter()
    folder = fresh_folder(Path(folder))
    progress("verify", f"checking {archive} as agc verify-archive does")
    verification, bag = unpack(archive, folder)
    base = Reproduction(str(archive), str(folder), verification, options.engine)
    if bag is None:
        failed = [c.name for c in verification.checks if c.status == "FAIL"]
        return finish(
            base, started, failure=f"the archive fails verification ({', '.join(failed)})"
        )
    run = archived_run(bag)
    progress("verify", f"verified ({len(verification.checks)} checks); unpacked into {bag}")
    if options.outputs is not None:
        return finish(base, started, run=run, outputs=Path(options.outputs))
    workspace = workspace_of(run, folder)
    python = prepare_environment(workspace, folder, options)
    inputs, bad = prepare_inputs(run, workspace, python)
    if bad:
        detail = f"{len(bad)} regenerated input files differ from the archived manifest: {bad[0]}"
        return finish(base, started, failure=detail)
    try:
        outputs = rerun(run, python, inputs, folder, options)
    except AGCError as exc:
        return finish(base, started, failure=str(exc))
    return finish(base, started, run=run, outputs=outputs)


def finish(
    base: Reproduction,
    started: float,
    *,
    run: ArchivedRun | None = None,
    outputs: Path | None = None,
    failure: str | None = None,
) -> Reproduction:
    """The reproduction with its verdicts (the comparison of ``run``'s outputs with
    ``outputs``) or its ``failure``, written to ``verdict.json`` in its folder."""
    verdicts: list[Verdict] = []
    if run is not None and outputs is not None:
        if not outputs.is_dir():
            raise AGCError(f"{outputs}: no such outputs folder to compare with")
        progress("compare", f"archived outputs against {outputs}")
        verdicts = compare_outputs(run.outputs, outputs, run.inputs)
    result = Reproduction(
        archive=base.archive,
        folder=base.folder,
        verification=base.verification,
        engine=base.engine,
        verdicts=verdicts,
        rerun_outputs=str(outputs) if outputs is not None else None,
        seconds=round(time.perf_counter() - started, 1),
        failure=failure,
    )
    write_json(Path(base.folder) / VERDICT_NAME, result.to_dict())
    return result
