"""Faults of a run itself, each ending in one line: a second run into an output folder in use
(refused, naming the holder), the lock of a killed run (cleared, with a message), an output set
mixed from two runs (refused by its readers), a full disk or a refused write (exit 2, the file
named, the previous set intact), checkpoints that cannot be written (one line, the run goes on),
Ctrl-C, SIGTERM and SIGKILL of a futures run (prompt, checkpoints kept, no process left) and
input and output paths with non-ASCII characters (the same bytes as ASCII ones).

Every test runs on a toy dataset of a few thousand events.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from process_helpers import terminal_signals
from toy_nanoaod import write_toy_dataset

from agc.cli import main as cli_main
from agc.core import fileio
from agc.core.errors import AGCError
from agc.core.outputlock import LOCK_NAME, output_lock
from agc.core.runset import RECORD_NAME, check_set
from agc.workflow import stages

#: Every sample the statistical model reads, a few hundred to a thousand events each (~4.3k in all).
SAMPLES = [
    *(("ttbar", variation, [250], None) for variation in ("nominal", "scaledown", "scaleup")),
    *(("ttbar", variation, [150], None) for variation in ("ME_var", "PS_var")),
    *((f"single_top_{c}", "nominal", [1000], None) for c in ("s_chan", "t_chan", "tW")),
    ("wjets", "nominal", [250], None),
]
REPO = Path(__file__).resolve().parents[2]
ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_dataset(tmp_path_factory.mktemp("toy_faults"), SAMPLES)


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``(exit code, stderr)`` of ``agc *args``."""
    try:
        code = cli_main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def last_line(err: str) -> str:
    return err.strip().splitlines()[-1]


def histograms_and_merge(manifest: Path, outdir: str, samples: str = "all") -> None:
    """The workflow's two steps into ``outdir`` (relative to the working folder)."""
    common: dict[str, Any] = {"inputs": str(manifest), "executor": "iterative"}
    stages.histograms(**common, samples=samples, outdir=outdir, use_inference=False)
    stages.merge(outdir=outdir, use_inference=False)


def listing(folder: Path) -> dict[str, bytes]:
    """Every file directly in ``folder`` with its bytes (the lock file left out)."""
    return {
        p.name: p.read_bytes()
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != LOCK_NAME
    }


@pytest.fixture(scope="module")
def finished(manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of the histograms and merge steps over the toy dataset."""
    folder = tmp_path_factory.mktemp("finished")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        histograms_and_merge(manifest, "run")
    return folder / "run"


@pytest.fixture
def run(finished: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of :func:`finished` in ``<tmp>/run`` (the working folder is ``<tmp>``)."""
    monkeypatch.chdir(tmp_path)
    return Path(shutil.copytree(finished, tmp_path / "run"))


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock of ``<tmp>/run`` as ``agc merge`` until it is killed."""
    script = (
        "import sys, time\n"
        "from agc.core.outputlock import output_lock\n"
        f"with output_lock({str(tmp_path / 'run')!r}, 'agc merge'):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(120)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


# -- one run at a time -------------------------------------------------------------------------


def test_second_run_into_a_folder_in_use_is_refused_naming_the_holder(
    run: Path, holder: subprocess.Popen[str], capsys: pytest.CaptureFixture[str]
) -> None:
    before = listing(run)
    code, err = run_cli(["merge", "--outdir", "run", "--use_inference", "false"], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert last_line(err).startswith("agc merge: error: output folder run is in use by agc merge")
    assert f"(pid {holder.pid}, host " in err
    assert listing(run) == before


def test_lock_of_a_killed_run_is_cleared_with_a_message(
    run: Path, holder: subprocess.Popen[str], capsys: pytest.CaptureFixture[str]
) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert json.loads((run / LOCK_NAME).read_text())["pid"] == holder.pid  # left behind
    code, err = run_cli(["merge", "--outdir", "run", "--use_inference", "false"], capsys)
    assert code == 0, err
    assert f"agc: cleared the stale lock run/{LOCK_NAME} of agc merge (pid {holder.pid}" in err
    assert "that process is no longer running" in err
    assert (run / LOCK_NAME).read_text() == ""  # released cleanly


def test_lock_is_shared_by_nested_blocks_of_one_process(tmp_path: Path) -> None:
    with output_lock(tmp_path, "agc merge"), output_lock(tmp_path, "agc merge"):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert (tmp_path / LOCK_NAME).read_text() == ""


# -- outputs as one set ------------------------------------------------------------------------


def test_merge_writes_its_files_as_one_recorded_set(run: Path) -> None:
    record = json.loads((run / RECORD_NAME).read_text())
    assert sorted(record["files"]) == ["cutflow.json", "histograms.root"]
    assert record["members"] == ["cutflow.json", "histograms.root", "histograms_ml.root"]
    for name, digest in record["files"].items():
        assert fileio.sha256_file(run / name) == digest
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]


def test_readers_refuse_a_set_mixed_from_two_runs(
    run: Path, manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    histograms_and_merge(manifest, "other", samples="ttbar")
    shutil.copy(run.parent / "other" / "cutflow.json", run / "cutflow.json")
    for args in (["model", "--outdir", "run"], ["report", "--outdir", "run"]):
        code, err = run_cli(args, capsys)
        assert code == 2, err
        assert last_line(err) == (
            f"agc {args[0]}: error: run/cutflow.json was changed or replaced by another run: it "
            "does not belong to the output set of run "
            f"{json.loads((run / RECORD_NAME).read_text())['run']} recorded in "
            f"run/{RECORD_NAME}; {stages.RERUN_MERGE}"
        )
    assert not (run / "workspace.json").exists()


def test_a_member_left_from_an_earlier_run_is_refused(run: Path) -> None:
    (run / "histograms_ml.root").write_bytes(b"from an earlier run")
    with pytest.raises(AGCError, match=r"histograms_ml.root is left from an earlier run"):
        stages.ml_model(outdir="run", use_inference=True)
    with pytest.raises(AGCError, match=r"histograms_ml.root is left from an earlier run"):
        check_set(run / "histograms.root")


# -- full disk, refused writes -----------------------------------------------------------------


def fail_writes(monkeypatch: pytest.MonkeyPatch, name: str, error: OSError) -> None:
    """Writes whose (temporary) file name contains ``name`` raise ``error``."""
    real = fileio.atomic_path

    def failing(path: Any) -> Iterator[Path]:
        with real(path) as tmp:
            if name in Path(path).name:
                raise error
            yield tmp

    monkeypatch.setattr(fileio, "atomic_path", fileio.contextlib.contextmanager(failing))
    for module in ("agc.core.runset", "agc.core.rootio", "agc.stats.model"):
        monkeypatch.setattr(f"{module}.atomic_path", fileio.atomic_path, raising=False)


@pytest.mark.parametrize(
    ("failing", "error", "reason"),
    [
        ("cutflow.json", ENOSPC, "No space left on device"),
        ("histograms.root", OSError(errno.EDQUOT, os.strerror(errno.EDQUOT)), "Disk quota"),
        ("histograms.root", OSError(errno.EROFS, os.strerror(errno.EROFS)), "Read-only"),
        ("cutflow.json", PermissionError(errno.EACCES, os.strerror(errno.EACCES)), "Permission"),
    ],
)
def test_full_disk_in_merge_is_one_line_and_keeps_the_previous_set(
    run: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    failing: str,
    error: OSError,
    reason: str,
) -> None:
    before = listing(run)
    fail_writes(monkeypatch, failing, error)
    code, err = run_cli(["merge", "--outdir", "run", "--use_inference", "false"], capsys)
    assert code == 2
    assert "Traceback" not in err
    assert last_line(err).startswith(f"agc merge: error: cannot write run/{failing}: {reason}")
    assert listing(run) == before  # the previous set, whole; no temporary file left


def test_full_disk_in_model_is_one_line(
    run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fail_writes(monkeypatch, "workspace.json", ENOSPC)
    config = str(REPO / "inputs" / "cabinetry.yaml")
    code, err = run_cli(["model", "--outdir", "run", "--config", config], capsys)
    assert code == 2
    assert last_line(err) == (
        "agc model: error: cannot write run/workspace.json: No space left on device"
    )
    assert not (run / "workspace.json").exists()


def test_full_disk_in_generate_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    fail_writes(monkeypatch, ".root", ENOSPC)
    command = ["generate", "--scale", "0.01", "--output", "gen", "--workers", "1"]
    code, err = run_cli(command, capsys)
    assert code == 2
    assert "Traceback" not in err
    assert last_line(err) == (
        "agc generate: error: cannot write gen/ttbar__nominal_0.root: No space left on device"
    )
    assert not list((tmp_path / "gen").iterdir())  # no partial file, no manifest


def test_full_disk_without_a_file_name_names_the_output_folder(
    run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def full(*args: Any, **kwargs: Any) -> None:
        raise ENOSPC

    monkeypatch.setattr("agc.workflow.stages.validate_parameters", full)
    code, err = run_cli(["merge", "--outdir", "run"], capsys)
    assert code == 2
    assert last_line(err) == "agc merge: error: run: No space left on device"


def test_checkpoints_that_cannot_be_written_stop_with_one_line(
    manifest: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.chdir(tmp_path)
    fail_writes(monkeypatch, ".npz", ENOSPC)
    monkeypatch.setattr("agc.processing.checkpoint.atomic_path", fileio.atomic_path)
    code, err = run_cli(
        [
            "histograms",
            *("--inputs", str(manifest), "--outdir", "run", "--executor", "iterative"),
            *("--chunksize", "200", "--use_inference", "false"),
        ],
        capsys,
    )
    assert code == 0, err
    # The CLI's warnings reach stderr through logging (pytest's handler here).
    lines = [r.getMessage() for r in caplog.records if "checkpoint" in r.getMessage()]
    assert "checkpoint" not in err
    assert len(lines) == 1, lines
    assert "checkpoints stopped: cannot write " in lines[0]
    failed = re.search(
        r"No space left on device \((\d+) chunk\(s\) not checkpointed; the run", lines[0]
    )
    assert failed, lines[0]
    assert int(failed.group(1)) > 10  # every chunk of the run, reported once
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        LOCK_NAME,
        RECORD_NAME,
        "cutflow.json",
        "histograms.root",
    ]


# -- interrupts --------------------------------------------------------------------------------


def session_processes(session: int) -> list[int]:
    """The live (not zombie) processes of the session ``session`` (from /proc)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session and fields[0] != "Z":  # session id, state
            alive.append(int(entry.name))
    return alive


@pytest.fixture(scope="module")
def larger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A toy dataset of 90 chunks of 100 events: a futures run lasts ~10 s on two workers."""
    folder = tmp_path_factory.mktemp("toy_interrupts")
    return write_toy_dataset(
        folder, [("ttbar", "nominal", [3000, 3000], None), ("wjets", "nominal", [3000], None)]
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and PR_SET_PDEATHSIG")
@pytest.mark.parametrize(
    ("sent", "status", "line"),
    [
        (signal.SIGINT, 130, "agc histograms: interrupted"),
        (signal.SIGTERM, 143, "agc: terminated (SIGTERM): queued chunks cancelled"),
        (signal.SIGKILL, -signal.SIGKILL, None),
    ],
)
def test_interrupted_futures_run_stops_promptly_without_orphans(
    larger: Path, tmp_path: Path, sent: signal.Signals, status: int, line: str | None
) -> None:
    """A signal to the main process of a futures run once a few chunks are checkpointed: it
    exits within seconds, the finished checkpoints stay, and no process of its session (its
    workers, loky's resource tracker) is left 5 s later."""
    checkpoints = tmp_path / "run" / ".checkpoints"
    err = tmp_path / "err.txt"
    command = [
        *(sys.executable, "-m", "agc", "histograms", "--inputs", str(larger)),
        *("--outdir", "run", "--executor", "futures", "--workers", "2", "--chunksize", "100"),
        *("--use_inference", "false"),
    ]
    with err.open("w") as sink:
        proc = subprocess.Popen(
            command,
            cwd=tmp_path,
            stderr=sink,
            start_new_session=True,
            preexec_fn=terminal_signals,  # noqa: PLW1509 (sets two signal dispositions only)
        )
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if checkpoints.is_dir() and sum(1 for _ in checkpoints.rglob("*.npz")) >= 3:
                break
            time.sleep(0.05)
        assert proc.poll() is None, err.read_text()
        assert len(session_processes(proc.pid)) >= 3  # the run and its workers
        sent_at = time.monotonic()
        proc.send_signal(sent)
        proc.wait(timeout=30)
        elapsed = time.monotonic() - sent_at
        left: list[int] = []
        for _ in range(50):
            left = session_processes(proc.pid)
            if not left:
                break
            time.sleep(0.1)
    finally:
        for pid in session_processes(proc.pid):
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
    print(f"{sent.name}: exit {proc.returncode} after {elapsed:.2f} s")
    assert proc.returncode == status, err.read_text()
    assert elapsed < 5
    assert not left, f"processes left after {sent.name}: {left}"
    if line is not None:
        assert line in err.read_text().splitlines()
    assert sum(1 for _ in checkpoints.rglob("*.npz")) >= 3  # finished chunks kept
    assert not (tmp_path / "run" / "histograms.root").exists()


# -- non-ASCII paths ---------------------------------------------------------------------------


@pytest.mark.parametrize("executor", ["iterative", "futures"])
def test_non_ascii_paths_simply_work(
    run: Path, manifest: Path, tmp_path: Path, executor: str
) -> None:
    """Inputs in ``données/été`` and the outputs in ``sortie-été``, in the C locale: the same
    bytes as the ASCII run (its workers hash the paths too, on the futures executor)."""
    inputs = Path(shutil.copytree(manifest.parent, tmp_path / "données" / "été"))
    environment = {**os.environ, "LANG": "C", "LC_ALL": "C"}
    command = [
        *(sys.executable, "-m", "agc", "histograms", "--inputs", str(inputs / manifest.name)),
        *("--outdir", "sortie-été", "--executor", executor, "--workers", "2"),
        *("--use_inference", "false"),
    ]
    done = subprocess.run(
        command, cwd=tmp_path, env=environment, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    for name in ("histograms.root", "cutflow.json"):
        assert (tmp_path / "sortie-été" / name).read_bytes() == (run / name).read_bytes()
