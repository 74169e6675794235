"""The analysis' own files, found wherever ``agc`` runs: a checkout, a workspace, an installed wheel.

The analysis files are the inputs (``inputs/``: the BDT models with their licence notice, the
cabinetry configurations, the signal declarations, the embedded dataset recipe), the notebooks,
the workflow specifications (``reana*.yaml``, ``workflow/``) and the environment files
(:data:`WORKSPACE`). In a checkout they are the repository's own files, the source of truth. A
wheel carries a copy of them in the package folder ``agc/_data`` (setup.py copies them there when
the wheel is built), read with :mod:`importlib.resources`.

A relative path that a stage is given (``inputs/cabinetry.yaml``) names a file of the workspace,
the working directory: :func:`resolve` returns it when it exists there (a workspace's own copy
wins) and otherwise the analysis' file of that name, so the defaults work from any folder.
:func:`lay_out_workspace` (``agc init DIR``) copies the analysis files and the package's code into a
new folder, a workspace the workflows run in as they do in the repository.
"""

from __future__ import annotations

import os
import shutil
from importlib import resources
from pathlib import Path

from agc.core.errors import AGCError

#: The files and folders of the repository a workspace needs to run the workflows (locally or on
#: REANA, which uploads ``code/`` and these) and to test a run (``tests/reana``: the feature files
#: of the specifications' ``tests.files``): shipped in the wheel under ``agc/_data``.
WORKSPACE: tuple[str, ...] = (
    "inputs",
    "notebooks",
    "workflow",
    "environment",
    "reana.yaml",
    "reana-cwl.yaml",
    "reana-cwl-job.yaml",
    "reana-dask.yaml",
    "reana-snakemake.yaml",
    "tests/reana",
    "Makefile",
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "README.md",
    "LICENSE",
    "CITATION.cff",
    "codemeta.json",
)
#: The folder of the analysis files inside the installed package.
DATA_PACKAGE_DIR = "_data"
#: Folder names never copied into a workspace (caches, the package's own copy of the data).
_SKIPPED = ("__pycache__", "*.pyc", ".ipynb_checkpoints", DATA_PACKAGE_DIR)


def packaged_root() -> Path | None:
    """``agc/_data`` of an installed wheel, or None (a checkout or an editable install)."""
    folder = resources.files("agc").joinpath(DATA_PACKAGE_DIR)
    if not folder.is_dir():
        return None
    return Path(os.fspath(folder))  # type: ignore[arg-type]  # installed wheels are folders


def checkout_root() -> Path | None:
    """The repository (or workspace) holding ``code/agc`` and ``inputs/``, or None."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "inputs").is_dir() and (root / "code" / "agc").is_dir() else None


def analysis_root() -> Path:
    """The folder holding the analysis files: the checkout's (the source of truth), else the
    wheel's ``agc/_data``; :class:`AGCError` if neither exists."""
    root = checkout_root() or packaged_root()
    if root is None:
        raise AGCError(
            "the analysis files (inputs/, notebooks/, workflow/) are neither in a checkout nor "
            "in the installed package: reinstall agc-ttbar from its wheel"
        )
    return root


def analysis_file(path: str | os.PathLike[str]) -> Path | None:
    """The analysis' own file (or folder) of the relative name ``path``, or None."""
    try:
        candidate = analysis_root() / path
    except AGCError:
        return None
    return candidate if candidate.exists() else None


def resolve(path: str | os.PathLike[str], workspace: str | os.PathLike[str] | None = None) -> Path:
    """``path`` in the workspace (``workspace / path``; with no workspace, ``path`` as given) when
    it exists or is absolute, else the analysis file of that relative name when there is one,
    else the workspace path unchanged (the caller reports it missing)."""
    given = Path(path)
    local = given if workspace is None or given.is_absolute() else Path(workspace) / given
    if given.is_absolute() or local.exists():
        return local
    return analysis_file(given) or local


def lay_out_workspace(target: str | os.PathLike[str], *, force: bool = False) -> list[str]:
    """Copy the analysis files (:data:`WORKSPACE`) and the package's code (as ``code/agc``) into
    ``target``, making it a workspace the workflows run in; returns the names copied.

    ``target`` must be missing or empty unless ``force`` (then existing files are overwritten).
    """
    import agc

    root = analysis_root()
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise AGCError(f"{target}: exists and is not a folder")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise AGCError(f"{target}: folder is not empty (--force overwrites its files)")
    target.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns(*_SKIPPED)
    copied = []
    for name in WORKSPACE:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore, dirs_exist_ok=True)
        elif source.is_file():
            shutil.copy2(source, target / name)
        else:
            continue
        copied.append(name)
    package = Path(agc.__file__).resolve().parent
    shutil.copytree(package, target / "code" / "agc", ignore=ignore, dirs_exist_ok=True)
    return [*copied, "code"]
