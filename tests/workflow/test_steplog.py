"""Reading a failed step's one-line error back from its log (agc.workflow.steplog)."""

from __future__ import annotations

from pathlib import Path

from agc.workflow.steplog import StepLog, is_noise, step_error

PAPERMILL_TAIL = [
    "Traceback (most recent call last):\n",
    '  File "/venv/bin/papermill", line 8, in <module>\n',
    "papermill.exceptions.PapermillExecutionError: \n",
    "---------------------------------------------------------------------------\n",
    'Exception encountered at "In [2]":\n',
    "\x1b[0;31mAGCError\x1b[0m                                  Traceback (most recent call last)\n",
    "\x1b[0;31mAGCError\x1b[0m: inputs.json: sample 'ttbar__nominal': x.txt is not a ROOT file\n",
    "\n",
]


def test_the_notebook_s_agc_error_is_read_from_papermill_s_traceback() -> None:
    assert step_error(PAPERMILL_TAIL) == (
        "inputs.json: sample 'ttbar__nominal': x.txt is not a ROOT file"
    )


def test_an_agc_command_s_error_line_is_its_message() -> None:
    lines = ["working\n", "agc reinterpret: error: signal 'z' is neither 'ttbar' nor ...\n"]
    assert step_error(lines) == "signal 'z' is neither 'ttbar' nor ..."
    assert step_error(["agc bench ml: error: no model\n"]) == "no model"


def test_another_exception_is_named_only_when_it_ended_the_step() -> None:
    assert step_error(["Traceback ...\n", "KeyError: 'x'\n"]) == "KeyError: 'x'"
    assert step_error(["a.b.ValueError: bad\n"]) == "ValueError: bad"
    old = ["ValueError: long ago\n", *["more output\n"] * 40, "Segmentation fault\n"]
    assert step_error(old) is None
    assert step_error(["all fine\n"]) is None


def test_the_log_leaves_out_the_kernel_s_transport_notice(tmp_path: Path) -> None:
    notice = "[IPKernelApp] WARNING | Kernel is running over TCP without encryption. All ...\n"
    assert is_noise(notice)
    assert not is_noise("[IPKernelApp] ERROR | something else\n")
    assert is_noise("[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel\n")
    with StepLog(tmp_path / "logs" / "step.log") as log:
        log.write(notice)
        log.write("kept\n")
    assert (tmp_path / "logs" / "step.log").read_text() == "kept\n"
