"""reana.yaml's serial steps run in the analysis image, as REANA runs them (``make run-container``).

REANA runs every command of a serial step in a new container of the step's image, as UID 1000 /
GID 0, as ``bash -c "cd <workspace> && <command>"``, over a workspace that holds only what
``reana-client upload`` put there: the spec's ``inputs.files`` and ``inputs.directories``. This
module does the same on a machine without a Docker daemon, with buildah (``buildah from`` /
``buildah run --isolation=chroot``; ``podman run`` needs rlimits that some sandboxes refuse):

1. the parameters are checked against the schema before anything runs
   (:func:`agc.workflow.runners.check_values`), as by the local serial runner;
2. a fresh workspace gets exactly the uploaded files, owned by 1000:0 and group-writable;
3. each expanded command runs in a new container of ``image``, mounted at ``/workspace``,
   without network (a network namespace with only loopback) and without the repository's ``.venv``;
4. afterwards every ``outputs.files`` / ``outputs.directories`` entry must exist (when the run
   went to the last step: ``-o TARGET=step`` stops earlier).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from agc.core.errors import AGCError
from agc.workflow.runners import (
    Command,
    SerialRun,
    StepTime,
    apply_overrides,
    check_values,
    declared_parameters,
    expand_commands,
    load_spec,
    select_steps,
)
from agc.workflow.stages import HISTOGRAMS_ML

#: Where the workspace is mounted in the container (REANA mounts its own path; nothing depends on it).
MOUNT = "/workspace"
#: The user REANA runs jobs as.
USER = "1000:0"
#: The file naming the image every spec uses (one line; ``make image`` builds it under that name).
IMAGE_FILE = Path("environment") / "image"
_SKIPPED = shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints")


def image_name(root: Path) -> str:
    """The image reference of ``environment/image`` under ``root``."""
    path = root / IMAGE_FILE
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise AGCError(f"image reference not found: {path}") from None


def require_buildah() -> str:
    """The path of ``buildah``, or a one-line :class:`AGCError` saying how to get it."""
    found = shutil.which("buildah")
    if found is None:
        raise AGCError("buildah not found: apt-get install -y podman buildah mmdebstrap")
    return found


def upload(spec: dict[str, Any], source: Path, workspace: Path) -> list[str]:
    """Copy the spec's ``inputs.files`` and ``inputs.directories`` from ``source`` into the new,
    empty ``workspace`` (as ``reana-client upload`` does), owned by 1000:0 and group-writable;
    return the uploaded names. A missing entry is an error naming it."""
    inputs = spec.get("inputs") or {}
    if workspace.exists():
        shutil.rmtree(workspace)
    workspace.mkdir(parents=True)
    names: list[str] = []
    for name in [*(inputs.get("files") or []), *(inputs.get("directories") or [])]:
        origin, target = source / name, workspace / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=_SKIPPED)
        elif origin.is_file():
            shutil.copy2(origin, target)
        else:
            raise AGCError(f"spec input not found, cannot upload it: {origin}")
        names.append(name)
    for path in [workspace, *workspace.rglob("*")]:
        os.chown(path, 1000, 0, follow_symlinks=False)
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o060 | (0o010 if path.is_dir() else 0))
    return names


def buildah_run(
    buildah: str, container: str, workspace: Path, text: str, env: dict[str, str]
) -> list[str]:
    """The ``buildah run`` command line of one step command, as REANA's job would run it:
    ``env`` is added to the image's environment (nothing of ours is inherited). buildah's chroot
    isolation cannot cut the network, so it runs in a new network namespace with only loopback
    (the Jupyter kernel talks to papermill over 127.0.0.1)."""
    offline = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
    command = [*offline, buildah, "run", "--isolation=chroot", "--user", USER]
    for name, value in sorted(env.items()):
        command += ["--env", f"{name}={value}"]
    command += ["--volume", f"{workspace.resolve()}:{MOUNT}:rw", "--workingdir", MOUNT]
    return [*command, container, "--", "bash", "-c", f"cd {MOUNT} && {text}"]


def run_in_new_container(
    buildah: str, image: str, workspace: Path, command: Command, env: dict[str, str]
) -> int:
    """Run one command in a new container of ``image`` (removed afterwards); its exit code."""
    made = subprocess.run(
        [buildah, "from", "--pull=never", "--quiet", image],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        last = (made.stderr.strip().splitlines() or ["?"])[-1]
        raise AGCError(f"no container of {image} ({last}); build it with `make image`")
    container = made.stdout.strip()
    try:
        line = buildah_run(buildah, container, workspace, command.text, env)
        return subprocess.run(line, stdin=subprocess.DEVNULL, check=False).returncode
    finally:
        subprocess.run([buildah, "rm", container], capture_output=True, check=False)


def missing_outputs(spec: dict[str, Any], workspace: Path, use_inference: bool = True) -> list[str]:
    """The spec's ``outputs.files`` / ``outputs.directories`` not in ``workspace``; without
    ``use_inference`` the ML histograms are not made, hence not expected."""
    outputs = spec.get("outputs") or {}
    expected = [
        n for n in outputs.get("files") or [] if use_inference or Path(n).name != HISTOGRAMS_ML
    ]
    files = [n for n in expected if not (workspace / n).is_file()]
    folders = [n for n in outputs.get("directories") or [] if not (workspace / n).is_dir()]
    return files + folders


def run_serial_in_container(
    spec_path: str | os.PathLike[str],
    image: str,
    workspace: str | os.PathLike[str],
    overrides: dict[str, str] | None = None,
    *,
    options: dict[str, str] | None = None,
) -> SerialRun:
    """Run the serial spec ``spec_path`` in ``image`` over a fresh ``workspace`` (see the module
    docstring); a failing command or a missing output raises :class:`AGCError` naming it."""
    spec_path = Path(spec_path)
    spec = load_spec(spec_path)
    params = apply_overrides(declared_parameters(spec), overrides, spec_path.name)
    typed = check_values(params, spec_path.name)
    commands = expand_commands(spec, params)
    steps = list(dict.fromkeys(c.step for c in commands))
    chosen = select_steps(steps, options or {}, spec_path.name)
    buildah = require_buildah()
    root = Path(workspace)
    upload(spec, spec_path.resolve().parent, root)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    env = {"AGC_ENGINE": "serial-container", "AGC_RUN_STARTED": now}
    timings: dict[str, float] = {}
    started = time.perf_counter()
    for command in (c for c in commands if c.step in chosen):
        label = f"step {steps.index(command.step) + 1}/{len(steps)} '{command.step}'"
        print(f"[agc run-serial --container] {label}: {command.text}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        code = run_in_new_container(buildah, image, root, command, env)
        timings[command.step] = timings.get(command.step, 0.0) + time.perf_counter() - t0
        if code != 0:
            raise AGCError(f"{spec_path.name}: {label} failed in {image} with exit code {code}")
    ml = bool(typed.get("use_inference", True))
    missing = missing_outputs(spec, root, ml) if chosen[-1] == steps[-1] else []
    if missing:
        raise AGCError(f"{spec_path.name}: declared outputs missing after the run: {missing}")
    return SerialRun(
        spec=str(spec_path),
        workdir=str(root),
        steps=[StepTime(name, round(s, 1)) for name, s in timings.items()],
        seconds=round(time.perf_counter() - started, 1),
    )
