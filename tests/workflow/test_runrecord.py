"""The record of a local serial run (agc.workflow.runrecord), written by agc.workflow.runners.run_serial."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from engine_helpers import serial_spec

from agc.core.errors import AGCError
from agc.workflow.runners import run_serial
from agc.workflow.runrecord import TIME_FORMAT, RunRecorder, read_record, record_path
from agc.workflow.steplog import LOG_DIR


def _record(workspace: Path):
    return read_record(record_path(workspace / "outputs" / LOG_DIR))


def test_a_finished_run_records_each_step_with_its_commands_and_times(tmp_path: Path) -> None:
    steps = [
        {"name": "a", "environment": "x", "commands": ["true", "echo two"]},
        {"name": "b", "environment": "x", "commands": ["sleep 1"]},
    ]
    run_serial(serial_spec(tmp_path, steps))
    record = _record(tmp_path)
    assert (record.spec, record.engine, record.status) == ("reana.yaml", "serial-local", "finished")
    assert [(s.name, s.status, s.command) for s in record.steps] == [
        ("a", "finished", "true\necho two"),
        ("b", "finished", "sleep 1"),
    ]
    times = [record.started_at]
    for step in record.steps:
        times += [step.started_at, step.finished_at]
    times.append(record.finished_at)
    parsed = [dt.datetime.strptime(t, TIME_FORMAT) for t in times]
    assert parsed == sorted(parsed)
    assert parsed[4] > parsed[3], "step b sleeps for a second"


def test_a_failed_step_fails_the_run_and_the_steps_after_it_are_not_recorded(
    tmp_path: Path,
) -> None:
    steps = [
        {"name": "a", "environment": "x", "commands": ["true"]},
        {"name": "b", "environment": "x", "commands": ["true", "exit 4", "true"]},
        {"name": "c", "environment": "x", "commands": ["true"]},
    ]
    with pytest.raises(AGCError, match="exit code 4"):
        run_serial(serial_spec(tmp_path, steps))
    record = _record(tmp_path)
    assert record.status == "failed"
    assert record.finished_at
    assert [(s.name, s.status) for s in record.steps] == [("a", "finished"), ("b", "failed")]


def test_a_new_run_replaces_the_record_of_the_last(tmp_path: Path) -> None:
    path = serial_spec(tmp_path, [{"name": "a", "environment": "x", "commands": ["exit 1"]}])
    with pytest.raises(AGCError):
        run_serial(path)
    assert _record(tmp_path).status == "failed"
    serial_spec(tmp_path, [{"name": "a", "environment": "x", "commands": ["true"]}])
    run_serial(path)
    assert _record(tmp_path).status == "finished"


def test_the_recorder_shows_a_run_in_progress(tmp_path: Path) -> None:
    recorder = RunRecorder(tmp_path / "workflow.json", "reana.yaml", "serial-local")
    assert read_record(tmp_path / "workflow.json").status == "running"
    recorder.step_started("a", "true")
    running = read_record(tmp_path / "workflow.json")
    assert [(s.name, s.status, s.finished_at) for s in running.steps] == [("a", "running", "")]
    recorder.step_finished(ok=True, last=False)  # a step of two commands goes on
    assert read_record(tmp_path / "workflow.json").steps[0].status == "running"
    recorder.step_finished(ok=True, last=True)
    recorder.run_finished(ok=True)
    done = read_record(tmp_path / "workflow.json")
    assert (done.status, done.steps[0].status) == ("finished", "finished")
    assert done.to_dict() == read_record(tmp_path / "workflow.json").to_dict()
