"""SWHIDs of the code tree (swh.model, offline) equal git's tree hashes of the same files."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from agc.core.errors import AGCError
from agc.publish.provenance import code_files, code_swhid
from agc.publish.swhid import directory_swhid, tree_swhid


def test_tree_swhid_is_git_tree_hash_of_the_code_files(
    git_repo: tuple[Path, Callable[..., str]],
) -> None:
    """swh:1:dir:<hash> of the checkout's code files is `git write-tree` of the commit (an
    executable bit and a nested folder included); an edit changes it."""
    repo, git = git_repo
    (repo / "code" / "agc").mkdir(parents=True)
    (repo / "code" / "agc" / "x.py").write_text("x = 1\n")
    (repo / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(repo / "run.sh", 0o755)
    git("add", "-A")
    git("commit", "-q", "-m", "code")
    tree = git("rev-parse", "HEAD^{tree}").strip()
    files = code_files(repo).files
    assert tree_swhid(repo, files) == f"swh:1:dir:{tree}"
    assert code_swhid(repo) == f"swh:1:dir:{tree}"
    (repo / "run.sh").chmod(stat.S_IRUSR | stat.S_IWUSR)  # the executable bit is content
    assert code_swhid(repo) != f"swh:1:dir:{tree}"


def test_directory_swhid_of_a_copy_equals_the_tree_swhid(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "a" / "b").mkdir(parents=True)
    (src / "a" / "b" / "f.txt").write_text("f\n")
    (src / "g.txt").write_text("g\n")
    assert directory_swhid(src) == tree_swhid(src, ["a/b/f.txt", "g.txt"])
    assert tree_swhid(src, ["g.txt"]) != directory_swhid(src)


def test_no_code_tree_no_swhid(tmp_path: Path) -> None:
    assert code_swhid(tmp_path) is None  # no code/agc: an installed copy
    with pytest.raises(AGCError, match="not a folder"):
        directory_swhid(tmp_path / "missing")
    with pytest.raises(AGCError, match="cannot read"):
        tree_swhid(tmp_path, ["missing.txt"])
