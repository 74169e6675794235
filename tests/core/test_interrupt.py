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


# -- a signal while waiting on a pool: stop, then raise ----------------------------------------


def _raise_in_block(signum: int) -> tuple[list[str], BaseException | None]:
    """Run a block under stop_then_raise that sends itself ``signum`` while holding a lock, as
    the main thread does inside ``concurrent.futures.wait``; returns what happened in order and
    the exception that left the block."""
    import threading

    from agc.core.interrupt import stop_then_raise

    events: list[str] = []
    lock = threading.Lock()
    try:
        with stop_then_raise(lambda: events.append("stopped"), "queued chunks cancelled"):
            lock.acquire()
            signal.raise_signal(signum)
            events.append("went on")
            lock.release()
            raise RuntimeError("the pool broke")  # what stopping the workers leads to
    except BaseException as exc:  # noqa: BLE001 (the test inspects it)
        return [*events, f"lock held: {lock.locked()}"], exc
    return events, None


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_signal_stops_the_block_then_is_raised_where_it_ends(
    signum: int, capfd: pytest.CaptureFixture[str]
) -> None:
    """The signal calls ``stop`` at once but raises nothing inside the block, so no lock taken
    there stays held; the block's own exception (the broken pool) gives way to the signal's."""
    before = signal.getsignal(signum)
    events, exc = _raise_in_block(signum)
    assert events == ["stopped", "went on", "lock held: False"]
    if signum == signal.SIGTERM:
        assert isinstance(exc, SystemExit)
        assert exc.code == TERMINATED_STATUS
        assert "agc: terminated (SIGTERM): queued chunks cancelled" in capfd.readouterr().err
    else:
        assert isinstance(exc, KeyboardInterrupt)
    assert signal.getsignal(signum) is before  # the handler is restored


def test_a_second_signal_is_raised_at_once() -> None:
    from agc.core.interrupt import stop_then_raise

    stops: list[int] = []
    went_on = False

    def block() -> None:
        nonlocal went_on
        with stop_then_raise(lambda: stops.append(1), "note"):
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)
            went_on = True

    with pytest.raises(KeyboardInterrupt):
        block()
    assert stops == [1]
    assert not went_on


#: A futures run whose main thread holds a future's lock when SIGTERM arrives (as inside
#: ``concurrent.futures.wait``), then waits for its futures.
POOL_RUN = """
import concurrent.futures, os, signal, time
from agc.processing.executors import worker_pool

with worker_pool(2) as pool:
    futures = [pool.submit(time.sleep, 0.01) for _ in range(2000)]
    futures[-1]._condition.acquire()
    os.kill(os.getpid(), signal.SIGTERM)
    futures[-1]._condition.release()
    concurrent.futures.wait(futures)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forked pool workers")
def test_sigterm_during_a_pool_wait_ends_the_run_promptly() -> None:
    """Raised where it arrived, the signal would leave that lock held, and the pool's thread,
    which needs it to cancel the future, would keep the interpreter from exiting."""
    run = subprocess.run(
        [sys.executable, "-c", POOL_RUN], check=False, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == TERMINATED_STATUS, run.stderr
    assert "agc: terminated (SIGTERM): queued chunks cancelled" in run.stderr.splitlines()
