"""The optimise step: parameter checks, the note of ``optimise=none``, one end-to-end run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agc.core.errors import AGCError
from agc.optimise import thresholds
from agc.optimise.thresholds import THRESHOLDS, threshold
from agc.workflow import stages

#: Shares the compiled figure of merit of the toy dataset (one jit cache per process).
pytestmark = pytest.mark.xdist_group("optimise_toy")
AGC = [sys.executable, "-m", "agc"]


def test_unknown_threshold_is_one_agc_error() -> None:
    with pytest.raises(AGCError, match=r"unknown threshold 'pt'.*btag, jet_pt"):
        threshold("pt")


def test_bad_parameter_is_one_line_on_stderr(tmp_path: Path) -> None:
    run = subprocess.run(
        [*AGC, "optimise", "--optimise-cut", "met"],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1
    assert "met" in run.stderr


def test_none_writes_only_the_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out" / "optimise").mkdir(parents=True)
    (tmp_path / "out" / "optimise" / "old.json").write_text("{}")
    assert stages.optimise(outdir="out") == {}
    assert [p.name for p in (tmp_path / "out" / "optimise").iterdir()] == ["NOTE.txt"]


def test_every_grid_holds_the_cards_value() -> None:
    for t in THRESHOLDS.values():
        assert min(t.grid) < t.nominal < max(t.grid)
        assert any(abs(g - t.nominal) < 1e-9 for g in t.grid)
        assert t.temperature < t.grid_step


@pytest.mark.slow
def test_optimise_btag_end_to_end(optimise_manifest: Path, tmp_path: Path, monkeypatch) -> None:
    """``agc optimise`` on the toy dataset with a short grid and descent: the result holds the
    scan, the descent path from the card's value and the optimum; the plot is written. (The
    toy's few hundred events make the scan too noisy to compare with the gradient: that is
    test_objective's.)"""
    short = thresholds.Threshold(
        name="btag",
        nominal=0.5,
        temperature=0.02,
        grid=(0.3, 0.4, 0.5, 0.6, 0.7),
        learning_rate=0.05,
        steps=6,
        label="b-tag threshold",
    )
    monkeypatch.setitem(THRESHOLDS, "btag", short)
    monkeypatch.chdir(tmp_path)
    result = stages.optimise(optimise_cut="btag", inputs=str(optimise_manifest), outdir="out")
    data = json.loads(Path("out/optimise/optimise.json").read_text())
    assert data["threshold"] == "btag"
    assert data["temperature"] == 0.02
    assert data["scan"]["grid"] == list(short.grid)
    assert len(data["descent"]["cuts"]) == short.steps + 1
    assert data["descent"]["cuts"][0] == 0.5
    assert data["scan_best"] in short.grid
    assert 0.3 <= data["optimum"] <= 0.7
    assert len(data["scan"]["gradient"]) == len(data["scan"]["finite_difference"]) == 5
    assert data["optimum"] in data["descent"]["cuts"]
    provenance = data["provenance"]
    assert provenance["jax_enable_x64"] is True
    assert provenance["parameters"]["optimise_cut"] == "btag"
    assert len(provenance["environment"]["lock_sha256"]) == 64
    assert provenance["environment"]["libraries"]["jax"]
    assert provenance["inputs"]["manifest_sha256"]
    assert {f["sample"] for f in provenance["inputs"]["files"]} >= {"ttbar__nominal"}
    assert Path("out/optimise/optimise.png").stat().st_size > 10_000
    assert result.within_one_step == data["within_one_grid_step"]


def test_the_cli_and_the_none_step_do_not_import_jax(tmp_path: Path) -> None:
    """JAX takes seconds to import: only a threshold that is optimised loads it."""
    code = (
        "import sys, agc.cli, agc.workflow.stages as s; s.optimise(outdir='out'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'optax')))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == "[]"
    assert (tmp_path / "out" / "optimise" / "NOTE.txt").is_file()
