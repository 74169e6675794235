"""The numerical-environment matrix (agc.stats.numerics): its legs, its tests, its comparison of
the recorded outputs with their references (no pytest run here: a leg runs the minimiser tests)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from agc.stats import numerics
from agc.stats.reproducibility import violations

REPO = Path(__file__).resolve().parents[2]


def _limits(observed: float = 14.0) -> dict:
    return {
        "observed": observed,
        "expected": {"-2": 4.8, "-1": 6.9, "0": 10.5, "1": 17.7, "2": 31.3},
    }


def test_matrix_compares_each_record_with_its_reference(tmp_path: Path) -> None:
    reference = tmp_path / "limits_x.json"
    reference.write_text(json.dumps(_limits()))
    record = tmp_path / "record"
    record.mkdir()
    (record / "limits_x.json").write_text(
        json.dumps({"reference": str(reference), "obtained": _limits(observed=15.0)})
    )
    deviations = numerics.leg_deviations(record)
    assert len(deviations) == 6  # observed, expected -2..+2
    assert [d.output for d in violations(deviations)] == ["limit_observed"]


def test_matrix_legs_set_what_they_name() -> None:
    assert set(numerics.LEGS) >= {"blas-threads-1", "blas-threads-2", "openblas-haswell"}
    for overrides in numerics.LEGS.values():
        assert set(overrides) <= {
            "OPENBLAS_CORETYPE",
            "OPENBLAS_NUM_THREADS",
            "NPY_DISABLE_CPU_FEATURES",
        }
    with pytest.raises(SystemExit):
        numerics.main(["--legs", "no-such-leg"])


def test_matrix_tests_exist() -> None:
    """Every test module (and named test) a leg runs, or leaves out, is where TESTS and
    NOT_IN_LEGS say (they move with the package layout)."""
    for entry in (*numerics.TESTS, *numerics.NOT_IN_LEGS):
        path, _, name = entry.partition("::")
        module = REPO / path
        assert module.is_file(), entry
        if name:
            tree = ast.parse(module.read_text(encoding="utf-8"))
            assert name in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}, entry


def test_matrix_runs_the_first_leg_alone_then_the_others_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--jobs 2``: the first leg (which generates the shared data) ends before any other
    starts; the others run two at a time, each one's output printed whole; every leg's record is
    compared; a failed leg fails the matrix."""
    reference = tmp_path / "limits_x.json"
    reference.write_text(json.dumps(_limits()))
    events: list[str] = []

    def fake_leg(name, overrides, record, data, pytest_args, log=None):
        events.append(f"start {name}")
        record.mkdir(parents=True, exist_ok=True)
        obtained = _limits(observed=14.0 + 0.01 * len(events))
        (record / "limits_x.json").write_text(
            json.dumps({"reference": str(reference), "obtained": obtained})
        )
        if log is not None:
            log.write_text(f"output of {name}\n")
        events.append(f"end {name}")
        return (1 if name == "openblas-haswell" else 0), 1.0

    monkeypatch.setattr(numerics, "run_leg", fake_leg)
    legs = ["blas-threads-1", "blas-threads-2", "openblas-haswell"]
    assert numerics.main(["--legs", ",".join(legs), "--jobs", "2"]) == 1
    assert events[:2] == ["start blas-threads-1", "end blas-threads-1"]
    out = capsys.readouterr().out
    for leg in legs[1:]:
        assert f"output of {leg}\n=== leg {leg}: pytest exit" in out
    assert "=== leg blas-threads-1: pytest exit 0, 1 s, 6 numbers" in out
    assert "FAILED legs: openblas-haswell" in out
    assert "limit_observed" in out


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_matrix_jobs_must_be_a_whole_number_from_one(value: str) -> None:
    with pytest.raises(SystemExit):
        numerics.main(["--jobs", value])
