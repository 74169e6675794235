"""The ROOT file signature check of every input file (agc.core.fileio.check_root_signature)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agc.core.errors import AGCError
from agc.core.fileio import check_root_signature
from agc.dataset.manifest import InputFile
from agc.processing.inputs import check_file


def test_a_real_root_file_passes(tmp_path: Path) -> None:
    import uproot

    path = tmp_path / "real.root"
    with uproot.recreate(path) as handle:
        handle["Events"] = {"x": [1, 2, 3]}
    check_root_signature(path)


@pytest.mark.parametrize("head", [b"", b"roo", b"ROOT", b"<html>", b"\x89HDF"])
def test_anything_else_is_named_with_its_first_bytes(tmp_path: Path, head: bytes) -> None:
    path = tmp_path / "x.root"
    path.write_bytes(head)
    with pytest.raises(AGCError, match=r"x\.root \(sample s\) is not a ROOT file: it starts with"):
        check_root_signature(path, "(sample s)")


def test_the_processing_check_names_a_file_that_is_not_root(tmp_path: Path) -> None:
    path = tmp_path / "notes.root"
    path.write_text("this is not a ROOT file\n")
    with pytest.raises(AGCError) as info:
        check_file(InputFile(path=str(path), nevts=1), sample="ttbar__nominal")
    assert str(info.value) == (
        f"input file {path} (sample ttbar__nominal) is not a ROOT file: it starts with b'this', "
        "not b'root'"
    )
