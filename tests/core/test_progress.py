"""The project's progress bar (agc.core.progress): what a log or a terminal gets from it."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from agc.core.progress import PROGRESS_ENV, bar, is_progress_line

LINE = re.compile(r"\[agc progress\] fits: (\d+)/12 \((\d+) %\) \[[\d:]+<[\d:?]+\]")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _counts_of(text: str) -> list[int]:
    found = [LINE.fullmatch(line) for line in text.splitlines()]
    assert all(found), text
    return [int(match.group(1)) for match in found if match]


def _counts(stream: io.StringIO) -> list[int]:
    return _counts_of(stream.getvalue())


def test_a_log_gets_one_line_per_update_written_and_the_total_last() -> None:
    stream = io.StringIO()
    assert list(bar(range(12), desc="fits", stream=stream, interval=0)) == list(range(12))
    assert _counts(stream) == list(range(13))  # the first line (0/12) and the last once


def test_the_closing_redraw_a_second_later_is_not_a_second_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a busy machine the bar closes in a later second than its last update: the count is
    the same, only the elapsed time differs, and the log keeps one line for it."""
    import tqdm.std

    clock = iter([0.0, 0.0, 0.5, 1.0, 2.5, 2.5, 2.5, 2.5])
    last = [0.0]

    def now() -> float:
        last[0] = next(clock, last[0])
        return last[0]

    monkeypatch.setattr(tqdm.std, "time", now)
    stream = io.StringIO()
    with bar(desc="fits", total=12, stream=stream, interval=0) as fits:
        fits.update(12)
    lines = stream.getvalue().splitlines()
    assert _counts_of("\n".join(lines)) == [0, 12]


def test_a_log_gets_the_first_and_last_lines_within_the_interval() -> None:
    stream = io.StringIO()
    with bar(desc="fits", total=12, stream=stream) as fits:
        for _ in range(12):
            fits.update()
    assert _counts(stream) == [0, 12]
    assert all(is_progress_line(line) for line in stream.getvalue().splitlines())


def _fail_at(stop: int, items: Iterable[int]) -> None:
    for index in items:
        if index == stop:
            raise RuntimeError


def test_the_last_line_says_where_a_loop_stopped() -> None:
    stream = io.StringIO()
    with pytest.raises(RuntimeError):
        _fail_at(5, bar(range(12), desc="fits", stream=stream))
    assert _counts(stream)[-1] == 5


def test_the_default_stream_is_the_process_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    process, notebook = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", process)
    monkeypatch.setattr(sys, "stderr", notebook)  # a papermill kernel's stderr
    list(bar(range(12), desc="fits"))
    assert _counts(process) == [0, 12]
    assert notebook.getvalue() == ""


def test_a_terminal_gets_a_bar_redrawn_in_place() -> None:
    stream = _Terminal()
    list(bar(range(12), desc="fits", unit="fits", stream=stream))
    text = stream.getvalue()
    assert text.startswith("\r")
    assert text.endswith("\n")
    assert "12/12" in text.rsplit("\r", 1)[-1]
    assert not any(is_progress_line(line) for line in text.split("\r"))


@pytest.mark.parametrize("value", ["0", "off", "False"])
def test_agc_progress_0_turns_every_bar_off(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROGRESS_ENV, value)
    stream = io.StringIO()
    assert list(bar(range(3), desc="fits", stream=stream, interval=0)) == [0, 1, 2]
    with bar(desc="fits", total=3, stream=stream) as fits:
        fits.update(3)
    assert stream.getvalue() == ""


def test_an_unknown_total_is_counted_without_shares() -> None:
    stream = io.StringIO()
    list(bar(iter(range(4)), desc="files", unit="files", stream=stream))
    last = stream.getvalue().splitlines()[-1]
    assert re.fullmatch(r"\[agc progress\] files: 4/\? files \[[\d:]+\]", last), last
    assert is_progress_line(last)


def test_in_an_ipython_kernel_the_bar_bypasses_the_notebook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ipykernel sends file descriptor 2 into the notebook and keeps a copy of the original:
    the bar writes to that copy, so its lines reach the terminal and not the notebook."""

    class KernelStderr(io.StringIO):  # what ipykernel's OutStream keeps of the original stderr
        _original_stdstream_copy: int

    terminal = tmp_path / "terminal.txt"
    with terminal.open("w") as original:
        notebook = KernelStderr()
        notebook._original_stdstream_copy = original.fileno()
        monkeypatch.setattr(sys, "stderr", notebook)
        monkeypatch.setattr(sys, "__stderr__", io.StringIO())  # file descriptor 2: the notebook
        list(bar(range(12), desc="fits"))
    assert _counts_of(terminal.read_text()) == [0, 12]
    assert notebook.getvalue() == ""
    assert sys.__stderr__.getvalue() == ""
