"""Dask on REANA: reana-dask.yaml and the jobs' $DASK_SCHEDULER_URI.

reana-dask.yaml is reana.yaml plus ``workflow.resources.dask`` (and executor=dask); it is
validated with reana-commons 0.95's own validation (.venv-reana-dask). A Dask cluster as REANA
starts one -- a `dask scheduler` and two `dask worker` processes, here on 127.0.0.1 -- is reached
through $DASK_SCHEDULER_URI alone (executor=dask, scheduler=""), and its histograms are
bit-identical to the iterative executor's.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agc.core.fileio import sha256_file
from agc.processing.executors import DASK_SCHEDULER_ENV
from agc.workflow import stages

REPO = Path(__file__).resolve().parents[2]
SERIAL = REPO / "reana.yaml"
DASK_SPEC = REPO / "reana-dask.yaml"
VALIDATOR = REPO / "environment" / "validate-reana-dask.py"
REANA_DASK_PYTHON = REPO / ".venv-reana-dask" / "bin" / "python"
DASK = Path(sys.executable).parent / "dask"
#: The samples of the Dask run (one file each, several chunks per file).
SAMPLES = "single_top_tW,single_top_s_chan"


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- the specification


def test_reana_dask_yaml_is_reana_yaml_plus_dask_resources() -> None:
    serial, dask = _yaml(SERIAL), _yaml(DASK_SPEC)
    resources = dask["workflow"].pop("resources")
    assert dask["workflow"] == serial["workflow"], "the steps must stay reana.yaml's"
    assert dask["outputs"] == serial["outputs"]
    parameters = dict(serial["inputs"]["parameters"], executor="dask")
    assert dask["inputs"] == dict(serial["inputs"], parameters=parameters)
    assert dask["inputs"]["parameters"]["scheduler"] == "", "'' -> $DASK_SCHEDULER_URI"
    image = serial["workflow"]["specification"]["steps"][0]["environment"]
    assert resources == {
        "dask": {
            "image": image,
            "number_of_workers": 2,
            "single_worker_memory": "4Gi",
            "single_worker_threads": 1,
        }
    }
    assert dask["version"].startswith("0.95"), "written for REANA >= 0.95"


def _validate(spec: Path) -> subprocess.CompletedProcess[str]:
    if not REANA_DASK_PYTHON.exists():
        pytest.fail(f"{REANA_DASK_PYTHON} missing: create it with `make reana-dask`")
    return subprocess.run(
        [str(REANA_DASK_PYTHON), str(VALIDATOR), str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_reana_commons_0_95_validates_reana_dask_yaml(tmp_path: Path) -> None:
    result = _validate(DASK_SPEC)
    print(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid REANA specification file" in result.stdout
    assert "reana-commons 0.95" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr
    # The validator can fail: a worker above the cluster's memory limit, an unknown key.
    spec = _yaml(DASK_SPEC)
    spec["workflow"]["resources"]["dask"]["single_worker_memory"] = "64Gi"
    bad = tmp_path / "reana-dask.yaml"
    bad.write_text(yaml.safe_dump(spec), encoding="utf-8")
    result = _validate(bad)
    assert result.returncode == 1
    assert "single_worker_memory" in result.stdout
    spec = _yaml(DASK_SPEC)
    spec["workflow"]["resources"]["dask"]["number_of_workers"] = "two"
    bad.write_text(yaml.safe_dump(spec), encoding="utf-8")
    assert _validate(bad).returncode == 1


# --------------------------------------------------------------------------- a Dask cluster


def _wait_for(path: Path, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() or not path.read_text(encoding="utf-8").strip():
        if process.poll() is not None:
            pytest.fail(f"`dask scheduler` exited with code {process.returncode}")
        if time.monotonic() > deadline:
            pytest.fail(f"`dask scheduler` wrote no {path.name} in {seconds} s")
        time.sleep(0.2)


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    """A `dask scheduler` on 127.0.0.1 (a free port, read from its scheduler file) and two
    single-threaded `dask worker` processes; its address. Afterwards each process is killed with
    the processes it started (a worker's nanny and worker): nothing of theirs is kept, and a
    graceful shutdown of the nannies takes seconds."""
    if not DASK.exists():
        pytest.fail(f"{DASK} missing: the dask command comes with the lock (make venv)")
    scheduler_file = tmp_path / "scheduler.json"
    common = {
        "cwd": tmp_path,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "start_new_session": True,
    }
    scheduler = [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0"]
    processes = [
        subprocess.Popen(
            [*scheduler, "--no-dashboard", "--scheduler-file", str(scheduler_file)], **common
        )
    ]
    try:
        _wait_for(scheduler_file, processes[0])
        address = json.loads(scheduler_file.read_text(encoding="utf-8"))["address"]
        worker = [str(DASK), "worker", address, "--nthreads", "1", "--no-dashboard"]
        for name in ("worker-1", "worker-2"):
            processes.append(
                subprocess.Popen(
                    [*worker, "--name", name, "--local-directory", str(tmp_path)], **common
                )
            )
        import distributed

        with distributed.Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for process in reversed(processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        for process in processes:
            process.wait()


def _tasks_per_worker(address: str) -> list[int]:
    """Tasks each worker of the cluster at ``address`` has executed, sorted."""
    import distributed

    with distributed.Client(address, timeout="30s") as client:
        # a lambda: cloudpickle sends it by value (the workers cannot import this test module)
        return sorted(client.run(lambda dask_worker: dask_worker.state.executed_count).values())


@pytest.mark.slow
def test_dask_scheduler_uri_is_used_and_histograms_are_bit_identical(
    small_embedded_manifest: Path,
    dask_cluster: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    common: dict[str, Any] = {
        "inputs": str(small_embedded_manifest),
        "samples": SAMPLES,
        "max_files": 1,
        "chunksize": 50,  # the small dataset: a few hundred tW events, tens of s-channel
        "partials": False,
    }
    reference = stages.histograms(
        executor="iterative", output=tmp_path / "iterative" / "histograms.root", **common
    )
    assert _tasks_per_worker(dask_cluster) == [0, 0]
    monkeypatch.setenv(DASK_SCHEDULER_ENV, dask_cluster)
    run = stages.histograms(
        executor="dask",
        scheduler="",
        workers=1,  # a LocalCluster would have one worker: the chunks must reach both of ours
        output=tmp_path / "dask" / "histograms.root",
        **common,
    )
    assert run.events_processed == reference.events_processed > 0
    for name in ("histograms.root", "cutflow.json"):
        assert sha256_file(tmp_path / "dask" / name) == sha256_file(
            tmp_path / "iterative" / name
        ), f"{name} differs between the Dask cluster and the iterative executor"
    executed = _tasks_per_worker(dask_cluster)
    print(f"\ntasks executed by the two workers of the external cluster: {executed}")
    assert executed[0] > 0, f"both workers of $DASK_SCHEDULER_URI's cluster must work: {executed}"
