"""A throw-away git repository (never the project's) for the "dirty" checks; the archive of the
complete run on the small dataset (``run_outputs``; session-wide, shared by the archive and verify
tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from agc.publish.archive import ArchiveResult, build_archive

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def git_repo(tmp_path: Path) -> tuple[Path, Callable[..., str]]:
    """``(root, git)``: a new repository at ``tmp_path / "repo"`` whose one commit holds a copy of
    CITATION.cff and a ``.gitignore`` ignoring ``*.log``; ``git(*args)`` runs git there."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path / "repo"
    root.mkdir()
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], check=True, capture_output=True, text=True, env=env
        ).stdout

    shutil.copy(REPO / "CITATION.cff", root / "CITATION.cff")
    (root / ".gitignore").write_text("*.log\n")
    git("init", "-q")
    git("add", "CITATION.cff", ".gitignore")
    git("commit", "-q", "-m", "init")
    return root, git


@pytest.fixture(scope="session")
def archive(run_outputs: Path, small_embedded_manifest: Path) -> tuple[Path, ArchiveResult]:
    """The archive of ``run_outputs`` (the checkout may be dirty while developing: recorded)."""
    result = build_archive(
        run_outputs, run_outputs / "archive", allow_dirty=True, inputs=str(small_embedded_manifest)
    )
    return Path(result.archive), result
