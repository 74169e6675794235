"""The one meaning of "dirty" (agc.publish.provenance.checkout_state), in a throw-away repository."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from agc.publish.archive import code_files
from agc.publish.provenance import NO_GIT, CheckoutState, checkout_state, git_state


def test_clean_checkout_is_not_dirty(git_repo: tuple[Path, Callable[..., str]]) -> None:
    repo, git = git_repo
    state = checkout_state(repo)
    assert state == CheckoutState(commit=git("rev-parse", "HEAD").strip(), dirty=False)
    assert git_state(repo) == {"commit": state.commit, "dirty": False}


def test_modified_staged_and_deleted_files_are_dirty(
    git_repo: tuple[Path, Callable[..., str]],
) -> None:
    repo, git = git_repo
    (repo / "CITATION.cff").write_text("edited\n")
    assert checkout_state(repo).modified == ["CITATION.cff"]
    git("add", "CITATION.cff")  # staged but not committed: still not the commit's content
    assert checkout_state(repo).modified == ["CITATION.cff"]
    git("commit", "-q", "-m", "edit")
    assert checkout_state(repo).dirty is False
    (repo / ".gitignore").unlink()
    assert checkout_state(repo) == CheckoutState(
        commit=git("rev-parse", "HEAD").strip(), dirty=True, modified=[".gitignore"]
    )


def test_untracked_source_files_are_dirty_ignored_and_run_products_are_not(
    git_repo: tuple[Path, Callable[..., str]],
) -> None:
    """An untracked file changes what runs (and what the archive bags): dirty. Ignored files and
    untracked files under data/ or outputs/ (run products) do not count."""
    repo, _ = git_repo
    (repo / "run.log").write_text("ignored\n")
    for folder in ("data", "outputs"):
        (repo / folder).mkdir()
        (repo / folder / "product.json").write_text("{}\n")
    assert checkout_state(repo).dirty is False
    (repo / "code" / "agc").mkdir(parents=True)
    (repo / "code" / "agc" / "new.py").write_text("x = 1\n")
    state = checkout_state(repo)
    assert (state.dirty, state.modified, state.untracked) == (True, [], ["code/agc/new.py"])
    assert git_state(repo)["dirty"] is True
    assert code_files(repo).state == state  # the archive uses the same definition


def test_state_of_a_subfolder_is_relative_to_it(git_repo: tuple[Path, Callable[..., str]]) -> None:
    repo, _ = git_repo
    (repo / "sub").mkdir()
    (repo / "sub" / "a.py").write_text("a = 1\n")
    (repo / "CITATION.cff").write_text("edited\n")
    state = checkout_state(repo / "sub")
    assert (state.modified, state.untracked) == ([], ["a.py"])


def test_without_git_the_state_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("a = 1\n")
    assert checkout_state(tmp_path) == CheckoutState(commit=NO_GIT, dirty=None)
    assert git_state(tmp_path) == {"commit": NO_GIT, "dirty": None}
    code = code_files(tmp_path)
    assert (code.state.dirty, code.files) == (None, ["a.py"])


def test_output_checksums_leave_out_the_runners_logs_and_the_cwl_copy(tmp_path: Path) -> None:
    from agc.publish.provenance import output_checksums

    for name in ("histograms.root", "logs/histograms.log", "cwl/histograms.root", "a/logs.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    assert sorted(output_checksums(tmp_path)) == ["a/logs.txt", "histograms.root"]
