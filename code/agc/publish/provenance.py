"""Provenance of a run: what went in, with which code and environment, and what came out.

``provenance.json`` in an output folder records the input files with checksums, every
parameter, the package version and git commit with its "dirty" flag (:func:`checkout_state`:
modified or untracked, non-ignored files), a hash of the package's code, the SWHID of the code
tree (``code_swhid``, :mod:`agc.publish.swhid`), the lock file's hash,
Python and key library versions, the engine, start/end time and the sha256 of every output. Times aside, two identical runs give identical provenance: paths
are relative, keys sorted, and nothing else depends on the clock or the machine.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import agc
from agc.core.codeversion import code_hash
from agc.core.fileio import sha256_file, write_json
from agc.publish.swhid import tree_swhid

KEY_LIBRARIES = (
    "coffea",
    "uproot",
    "awkward",
    "hist",
    "numpy",
    "scipy",
    "pyhf",
    "cabinetry",
    "iminuit",
    "matplotlib",
    "mplhep",
    "papermill",
    "dask",
    "distributed",
    "jax",
    "optax",
)
PROVENANCE_NAME = "provenance.json"
_TIME_KEYS = ("started", "finished")


def package_root() -> Path:
    """The folder holding ``code/agc`` (the repository or the image's /opt/agc)."""
    return Path(agc.__file__).resolve().parents[2]


def code_source() -> str:
    """Which copy of the code runs: ``"workspace"`` (``code/agc`` under the working directory:
    the code uploaded with the workflow, put first on the path by the specs' ``PYTHONPATH=code``),
    ``"installed"`` (a non-editable install, e.g. the image's /opt/agc/venv) or ``"checkout"``
    (an editable install from a repository elsewhere, e.g. a cwltool job's working directory)."""
    here = Path(agc.__file__).resolve().parent
    if here == (Path.cwd() / "code" / "agc").resolve():
        return "workspace"
    if "site-packages" in here.parts:
        return "installed"
    return "checkout"


#: Repository paths that are never code (run products, environments): untracked files there do
#: not make a checkout dirty and are never archived as code.
NOT_CODE_PREFIXES: tuple[str, ...] = ("data/", "outputs/", ".venv", "build/")
#: The commit recorded when the code is not a git checkout (e.g. the image's /opt/agc).
NO_GIT = "unknown (no git checkout)"


@dataclass(frozen=True)
class CheckoutState:
    """How a checkout relates to its git commit.

    ``modified``: tracked files whose working-tree or staged content differs from the commit
    (changed, added, deleted); ``untracked``: files git neither tracks nor ignores, outside
    :data:`NOT_CODE_PREFIXES`. Paths are relative to the checkout root, sorted. ``dirty`` is
    true when either list is non-empty, ``None`` without git (``commit`` then says so).
    """

    commit: str
    dirty: bool | None
    modified: list[str] = field(default_factory=list)
    untracked: list[str] = field(default_factory=list)


def git(root: Path, *args: str) -> str:
    """Standard output of ``git -C root *args`` (OSError / CalledProcessError when it fails)."""
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    ).stdout


def is_code_path(root: Path, name: str) -> bool:
    """True for a file below ``root`` (relative ``name``) outside :data:`NOT_CODE_PREFIXES`."""
    return bool(name) and not name.startswith(NOT_CODE_PREFIXES) and (root / name).is_file()


def checkout_state(root: Path | None = None) -> CheckoutState:
    """The commit of the checkout at ``root`` (default :func:`package_root`) and whether the
    files there differ from it -- the one meaning of "dirty" for provenance and the archive.

    Untracked files count (unless git ignores them or they lie under :data:`NOT_CODE_PREFIXES`):
    a new, uncommitted source file changes what runs and what the archive bags as code, so the
    commit alone no longer names the code.
    """
    root = (root or package_root()).resolve()
    try:
        commit = git(root, "rev-parse", "HEAD").strip()
        prefix = git(root, "rev-parse", "--show-prefix").strip()
        status = git(
            root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", "."
        )
    except (OSError, subprocess.CalledProcessError):
        return CheckoutState(commit=NO_GIT, dirty=None)
    modified, untracked = set(), set()
    for entry in filter(None, status.split("\0")):
        code, path = entry[:2], entry[3:]
        if not path.startswith(prefix):
            continue
        name = path[len(prefix) :]
        if code != "??":
            modified.add(name)
        elif is_code_path(root, name):
            untracked.add(name)
    return CheckoutState(
        commit=commit,
        dirty=bool(modified or untracked),
        modified=sorted(modified),
        untracked=sorted(untracked),
    )


@dataclass(frozen=True)
class CodeFiles:
    """The repository's files to bag (``files``, relative to ``root``) and its git state."""

    root: str
    state: CheckoutState
    files: list[str]

    def to_dict(self) -> dict[str, Any]:
        """``{"root", "commit", "dirty", "modified", "untracked", "files"}``."""
        return {
            "root": self.root,
            "commit": self.state.commit,
            "dirty": self.state.dirty,
            "modified": self.state.modified,
            "untracked": self.state.untracked,
            "files": self.files,
        }


def code_files(root: str | os.PathLike[str]) -> CodeFiles:
    """The repository's files to bag and the git state (:func:`checkout_state`).

    The files are the git-tracked ones (as in the working tree) plus the untracked files git does
    not ignore, outside :data:`NOT_CODE_PREFIXES`; the state is dirty when
    tracked files differ from the commit or untracked files are included (the bag then differs
    from the commit). Without git, every file below ``root`` outside those prefixes, with commit
    "unknown" and dirty ``None``.
    """
    root = Path(root).resolve()
    state = checkout_state(root)
    tracked: list[str] | None = None
    if state.dirty is not None:
        try:
            tracked = git(root, "ls-files", "-z", "--cached").split("\0")
        except (OSError, subprocess.CalledProcessError):
            state = CheckoutState(commit=NO_GIT, dirty=None)
    if tracked is None or state.dirty is None:
        files = sorted(
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and ".git" not in p.parts
        )
        return CodeFiles(
            str(root), state, [f for f in files if not f.startswith(NOT_CODE_PREFIXES)]
        )
    kept = {name for name in tracked if is_code_path(root, name)}
    return CodeFiles(str(root), state, sorted(kept | set(state.untracked)))


def code_swhid(root: Path | None = None) -> str | None:
    """The directory SWHID (:func:`agc.publish.swhid.tree_swhid`) of the code tree at ``root``
    (default :func:`package_root`): the :func:`code_files` the archive bags as ``data/code``.
    ``None`` when the package does not run from a checkout or workspace holding ``code/agc``
    (an installed copy has no code tree of its own; ``code_sha256`` still names its code)."""
    root = (root or package_root()).resolve()
    if not (root / "code" / "agc").is_dir():
        return None
    return tree_swhid(root, code_files(root).files)


def git_state(root: Path | None = None) -> dict[str, Any]:
    """``{"commit", "dirty"}`` of :func:`checkout_state` (the ``package`` entry of provenance)."""
    state = checkout_state(root)
    return {"commit": state.commit, "dirty": state.dirty}


def lock_file() -> Path | None:
    """The environment lock in force: ``$AGC_LOCK_FILE``, the working directory's or the package's."""
    candidates = [
        os.environ.get("AGC_LOCK_FILE", ""),
        "environment/requirements.lock",
        str(package_root() / "environment" / "requirements.lock"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def environment() -> dict[str, Any]:
    """Python, platform-independent library versions and the lock file's sha256."""
    lock = lock_file()
    versions = {}
    for name in KEY_LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "libraries": versions,
        "lock_file": lock.name if lock else None,
        "lock_sha256": sha256_file(lock) if lock else None,
    }


def engine() -> str:
    """How this run is executed: ``$AGC_ENGINE`` (set by the local runners) or REANA if detected."""
    name = os.environ.get("AGC_ENGINE")
    if name:
        return name
    if any(key.startswith("REANA_") for key in os.environ):
        return "reana"
    return "interactive"


def input_files(
    manifest: dict[str, Any] | None, manifest_path: Path | None
) -> list[dict[str, Any]]:
    """One record per input file: sample, path relative to the manifest, events, sha256."""
    if not manifest:
        return []
    base = manifest_path.resolve().parent if manifest_path else None
    records = []
    for process, variations in sorted(manifest.items()):
        for variation, entry in sorted(variations.items()):
            for item in entry["files"]:
                path = item["path"]
                if (
                    base is not None
                    and "://" not in path
                    and Path(path).resolve().is_relative_to(base)
                ):
                    path = Path(path).resolve().relative_to(base).as_posix()
                records.append(
                    {
                        "sample": f"{process}__{variation}",
                        "path": path,
                        "nevts": item["nevts"],
                        "sha256": item.get("sha256"),
                    }
                )
    return records


def output_checksums(outdir: Path) -> dict[str, str]:
    """sha256 of every file below ``outdir`` (relative paths), provenance itself, the CWL run's
    copy and the local runners' step logs (``logs/``, still being written) excluded."""
    result = {}
    for path in sorted(p for p in outdir.rglob("*") if p.is_file()):
        rel = path.relative_to(outdir).as_posix()
        if rel == PROVENANCE_NAME or "/." in f"/{rel}" or rel.startswith(("cwl/", "logs/")):
            continue
        result[rel] = sha256_file(path)
    return result


def collect(
    parameters: dict[str, Any],
    *,
    manifest: dict[str, Any] | None = None,
    manifest_path: Path | None = None,
    outdir: Path | None = None,
    started: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The provenance record (a JSON-able dict)."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    record: dict[str, Any] = {
        "package": {
            "name": "agc-ttbar",
            "version": agc.__version__,
            "code_sha256": code_hash(),
            "code_source": code_source(),
            "code_swhid": code_swhid(),
            **git_state(),
        },
        "environment": environment(),
        "engine": engine(),
        "parameters": dict(sorted(parameters.items())),
        "inputs": {
            "manifest": manifest_path.name if manifest_path else None,
            "manifest_sha256": sha256_file(manifest_path)
            if manifest_path and manifest_path.is_file()
            else None,
            "files": input_files(manifest, manifest_path),
        },
        "started": started or os.environ.get("AGC_RUN_STARTED") or now,
        "finished": now,
    }
    if outdir is not None:
        record["outputs"] = output_checksums(outdir)
    if extra:
        record.update(extra)
    return record


def write_provenance(outdir: str | os.PathLike[str], record: dict[str, Any]) -> Path:
    """Atomically write ``record`` as ``outdir/provenance.json``."""
    return write_json(Path(outdir) / PROVENANCE_NAME, record)


def without_times(record: dict[str, Any]) -> dict[str, Any]:
    """The record minus start/end times (what two identical runs must share exactly)."""
    return {key: value for key, value in record.items() if key not in _TIME_KEYS}


#: Output files whose checksums provenance records (data products, not logs or notebooks).
PRODUCT_SUFFIXES = (".root", ".json", ".png", ".pdf", ".yml", ".yaml")
_NOT_PRODUCTS = ("notebooks/", "partial/", "cache/", "cwl/", "samples/", "histograms_cabinetry/")


def product_checksums(outdir: Path) -> dict[str, str]:
    """sha256 of the data products below ``outdir``: histograms, cut flow, workspace, fit
    results, plots (relative paths; executed notebooks, partials and caches excluded)."""
    result = {}
    for rel, digest in output_checksums(outdir).items():
        if rel.endswith(PRODUCT_SUFFIXES) and not rel.startswith(_NOT_PRODUCTS):
            result[rel] = digest
    return result


def notebook_parameters(notebooks_dir: Path) -> dict[str, Any]:
    """The parameters papermill injected into the executed notebooks (``metadata.papermill``)."""
    import json

    parameters: dict[str, Any] = {}
    for path in sorted(notebooks_dir.glob("*.ipynb")):
        try:
            book = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        parameters.update(book.get("metadata", {}).get("papermill", {}).get("parameters", {}) or {})
    return parameters


def run_provenance(outdir: str | os.PathLike[str]) -> Path:
    """Write ``<outdir>/provenance.json`` for a finished run and return its path.

    Parameters come from the executed notebooks, the inputs from ``dataset.json`` (the dataset
    stage's record), skipped files from ``cutflow.json``, output checksums from the products,
    and, when the ML histograms exist, the BDT models' sha256 (``ml_models``).
    """
    import json

    from agc.dataset.manifest import load_manifest, resolve_inputs

    outdir = Path(outdir)
    parameters = notebook_parameters(outdir / "notebooks")
    manifest = manifest_path = None
    dataset = outdir / "dataset.json"
    if dataset.is_file():
        recorded = json.loads(dataset.read_text(encoding="utf-8"))
        candidate = resolve_inputs(recorded.get("inputs", "embedded"))
        if candidate.is_file():
            manifest_path, manifest = candidate, load_manifest(candidate)
    extra: dict[str, Any] = {}
    cutflow = outdir / "cutflow.json"
    if cutflow.is_file():
        skipped = json.loads(cutflow.read_text(encoding="utf-8")).get("skipped_files")
        if skipped is not None:
            extra["skipped_files"] = skipped
    if (outdir / "histograms_ml.root").is_file():
        # The BDTs the histogram step read: their sha256 is checked when they are loaded.
        from agc.core import physics

        extra["ml_models"] = {"folder": physics.ML_MODEL_DIR, "sha256": physics.ML_MODEL_SHA256}
    record = collect(parameters, manifest=manifest, manifest_path=manifest_path, extra=extra)
    record["outputs"] = product_checksums(outdir)
    return write_provenance(outdir, record)
