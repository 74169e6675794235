"""A runner's child processes end with it (agc.core.interrupt): SIGTERM or Ctrl-C sent to the
runner alone stops the whole group of the command it runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from process_helpers import terminal_signals

from agc.core.interrupt import TERMINATED_STATUS

RUNNER = """
import sys
from pathlib import Path
from agc.workflow.steplog import run_logged

class Log:
    def copy(self, stream):
        for line in stream:
            pass

command = "sleep 300 & echo $! > {pidfile}; wait"
sys.exit(run_logged(["bash", "-c", command], Path.cwd(), {{"PATH": "/usr/bin:/bin"}}, Log()))
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (ended, not yet reaped by init) counts as ended
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


def _start(tmp_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    pidfile = tmp_path / "sleep.pid"
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER.format(pidfile=pidfile)],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        preexec_fn=terminal_signals,  # noqa: PLW1509 (sets two signal dispositions only)
    )
    deadline = time.monotonic() + 60
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline, "the step command did not start"
        time.sleep(0.05)
    return runner, int(pidfile.read_text())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups of Linux")
@pytest.mark.parametrize(
    ("signum", "status"),
    [(signal.SIGTERM, TERMINATED_STATUS), (signal.SIGINT, None)],
    ids=["SIGTERM", "Ctrl-C"],
)
def test_the_step_s_processes_end_with_the_runner(
    tmp_path: Path, signum: int, status: int | None
) -> None:
    runner, sleeper = _start(tmp_path)
    assert _alive(sleeper)
    runner.send_signal(signum)  # to the runner alone, as `kill PID` does
    _, err = runner.communicate(timeout=60)
    if status is not None:
        assert runner.returncode == status
        assert err.decode().strip().endswith("agc: terminated (SIGTERM): bash stopped")
    else:
        assert runner.returncode != 0
    deadline = time.monotonic() + 15
    while _alive(sleeper):
        assert time.monotonic() < deadline, "the step's child outlived its runner"
        time.sleep(0.05)
