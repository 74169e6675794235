"""Byte-reproducible ROOT writing (agc.core.rootio): TTrees and RNTuples alike."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import uproot

from agc.core.rootio import reproducible_recreate


def _write(path: Path, file_format: str) -> bytes:
    data = {"x": np.arange(1000, dtype=np.float32), "n": np.arange(1000, dtype=np.uint32) % 7}
    with reproducible_recreate(path, compression=uproot.ZLIB(1)) as handle:
        if file_format == "rntuple":
            handle.mkrntuple("Events", data)
        else:
            handle.mktree("Events", {k: v.dtype for k, v in data.items()}).extend(data)
    return path.read_bytes()


@pytest.mark.parametrize("file_format", ["ttree", "rntuple"])
def test_same_content_same_bytes_whatever_the_time(
    tmp_path: Path, file_format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written seconds apart, the same content gives the same bytes; the only clock in them
    is ``SOURCE_DATE_EPOCH`` (so the fixed clock reaches every key, the RNTuple's too)."""
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir(), (tmp_path / "c").mkdir()
    first = _write(tmp_path / "a" / "f.root", file_format)
    time.sleep(1.1)
    assert _write(tmp_path / "b" / "f.root", file_format) == first
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1600000000")
    assert _write(tmp_path / "c" / "f.root", file_format) != first
    with uproot.open(tmp_path / "a" / "f.root") as handle:
        assert (
            handle.classname_of("Events")
            == {"ttree": "TTree", "rntuple": "ROOT::RNTuple"}[file_format]
        )
        assert handle["Events"].arrays(library="np")["n"].sum() == (np.arange(1000) % 7).sum()
