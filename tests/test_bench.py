"""The benchmark runs on a tiny input and prints its table (no timing is asserted)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from toy_nanoaod import write_toy_dataset

from agc.bench import (
    chunk_ranges,
    format_format_report,
    format_report,
    format_scale_out,
    format_scale_out_table,
    format_stats_report,
    run_benchmark,
    run_format_benchmark,
    run_scale_out,
)
from agc.cli import main as cli_main

TINY_SAMPLES = [("ttbar", "nominal", [600, 400], None), ("wjets", "nominal", [500], None)]


@pytest.fixture(scope="module")
def tiny_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_dataset(tmp_path_factory.mktemp("bench"), samples=TINY_SAMPLES)


def test_chunk_ranges_cover_the_file_like_coffea() -> None:
    assert chunk_ranges(0, 100) == [(0, 0)]
    assert chunk_ranges(250, 100) == [(0, 125), (125, 250)]  # round(2.5) = 2 chunks
    for n, size in ((1, 1), (1000, 7), (12345, 1000), (99, 100_000)):
        ranges = chunk_ranges(n, size)
        assert ranges[0][0] == 0
        assert ranges[-1][1] == n
        assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))


def test_benchmark_runs_and_prints(tiny_manifest: Path) -> None:
    result = run_benchmark(tiny_manifest, executor="futures", workers=2, chunksize=300)
    report = format_report(result)
    print(report)
    assert result["events"] == result["floor"]["events"] == 1500
    assert result["files"] == 3
    assert result["processor"]["events_per_s"] > 0
    assert result["floor"]["events_per_s"] > 0
    assert result["ratio"] > 0
    assert "events/s" in report
    assert "ratio processor / floor" in report


def test_bench_cli_entry(tiny_manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``agc bench events --json`` prints the figures as JSON on stdout."""
    code = cli_main(
        [
            "bench",
            "events",
            "--inputs",
            str(tiny_manifest),
            "--executor",
            "iterative",
            "--workers",
            "1",
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    result = json.loads(captured.out)
    assert result["executor"] == "iterative"
    assert result["events"] == 1500


def test_stats_benchmark_prints_fits_per_second_and_ranking_times(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``agc bench stats`` on a small workspace: main-fit rate and calls, the ranking with 1 and
    2 workers (same fits, same calls), and a one-line error without a workspace."""
    from stats_helpers import small_workspace_spec

    workspace = tmp_path / "workspace.json"
    workspace.write_text(json.dumps(small_workspace_spec()), encoding="utf-8")
    args = ["bench", "stats", "--workspace-file", str(workspace), "--repeats", "1", "--json"]
    code = cli_main(args)
    captured = capsys.readouterr()
    assert code == 0
    result = json.loads(captured.out)
    assert result["main_fit"]["fits_per_s"] > 0
    assert result["main_fit"]["migrad_calls"] > 0
    one, two = result["ranking"]["1"], result["ranking"]["2"]
    assert one["fits"] == two["fits"] > 0
    assert one["calls_per_fit"] == two["calls_per_fit"]  # the same fits in any worker count
    table = format_stats_report(result)  # what agc bench stats prints without --json
    assert "fits/s" in table
    assert "2 worker(s)" in table
    missing = str(tmp_path / "missing.json")
    assert cli_main(["bench", "stats", "--workspace-file", missing]) != 0
    assert "workspace not found" in capsys.readouterr().err


def test_dask_scale_out_runs_and_prints(
    tiny_manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``agc bench dask --json`` on the tiny input: one run per worker count (1 and 2), the
    speed-up of each over the first (1.0 for the first), the machine's load, the printed
    section; no timing is asserted."""
    args = ["--inputs", str(tiny_manifest), "--chunksize", "500", "--json"]
    code = cli_main(["bench", "dask", *args])
    captured = capsys.readouterr()
    assert code == 0
    result = json.loads(captured.out)
    report = format_scale_out(result)
    print(report)
    assert result["chunksize"] == 500
    assert [run["workers"] for run in result["runs"]] == [1, 2]
    assert all(run["events"] == 1500 for run in result["runs"])
    assert all(run["events_per_s"] > 0 for run in result["runs"])
    assert result["speedup"]["1"] == 1.0
    assert result["speedup"]["2"] > 0
    assert sorted(result["speedup"]) == ["1", "2"]
    assert len(result["load_average"]) == 2
    assert "Dask scale-out" in report
    assert "speed-up" in report
    assert "1.00x" in report


def test_scale_out_table_runs_every_executor_with_the_same_bytes(tiny_manifest: Path) -> None:
    """The scale-out table on the tiny input: iterative, futures at 2, Dask at 1 and 2 workers,
    each processing every event into the same histograms.root bytes, per-core efficiency 1.0
    for the iterative row, the read floor; no timing is asserted."""
    result = run_scale_out(tiny_manifest, chunksize=300, repeats=1)
    report = format_scale_out_table(result)
    print(report)
    rows = [(run["executor"], run["workers"]) for run in result["runs"]]
    assert rows == [("iterative", 1), ("futures", 2), ("dask", 1), ("dask", 2)]
    assert all(run["events"] == 1500 for run in result["runs"])
    assert result["runs"][0]["per_core"] == 1.0
    assert result["runs"][0]["speedup"] == 1.0
    assert result["runs"][0]["cpu_efficiency"] == 1.0
    assert all(run["per_core"] > 0 for run in result["runs"])
    assert all(run["cpu_s"]["main"] > 0 for run in result["runs"])
    # the work happens in the workers: futures and Dask runs spend CPU there
    assert all(run["cpu_s"]["workers"] > 0 for run in result["runs"][1:])
    assert result["futures_start"] in ("fork", "loky")
    assert result["identical"] is True
    assert result["floor"]["events_per_s"] > 0
    assert "| futures | 2 |" in report
    assert "events per CPU s" in report
    assert "uproot read floor" in report
    assert "byte-identical" in report


def test_format_benchmark_compares_ttree_and_rntuple(
    tiny_manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same toy events as TTree and RNTuple files: both rates and sizes printed, and the two
    histograms.root byte-identical; ``agc bench formats --json`` prints them as JSON."""
    rntuple = write_toy_dataset(tmp_path / "rntuple", samples=TINY_SAMPLES, file_format="rntuple")
    inputs = {"ttree": tiny_manifest, "rntuple": rntuple}
    result = run_format_benchmark(inputs, executor="iterative", workers=1, chunksize=300)
    report = format_format_report(result)
    print(report)
    assert set(result["formats"]) == {"ttree", "rntuple"}
    for figures in result["formats"].values():
        assert figures["events"] == figures["floor"]["events"] == 1500
        assert figures["size_mb"] > 0
        assert figures["processor"]["events_per_s"] > 0
    assert result["identical_histograms"] is True
    assert "| rntuple | 3 |" in report
    assert "byte-identical" in report


def test_ml_breakdown_times_the_compiled_and_the_xgboost_bdt(tiny_manifest: Path) -> None:
    from agc.bench import format_ml_report, ml_breakdown

    manifest = json.loads(tiny_manifest.read_text())
    path = tiny_manifest.parent / manifest["ttbar"]["nominal"]["files"][0]["path"]
    breakdown = ml_breakdown(str(path), 600)
    assert breakdown["assignments"] > 0
    assert breakdown["node_visits"] > 2 * breakdown["assignments"]  # a root and a leaf per tree
    assert set(breakdown["scores_s"]) == set(breakdown["scores_cpu_s"]) == {"compiled", "xgboost"}
    assert set(breakdown["best_s"]) == {"compiled", "xgboost"}
    stage = {"seconds": 2.0, "events_per_s": 500.0}
    report = format_ml_report(
        {
            "events": 1000,
            "executor": "iterative",
            "workers": 1,
            "without": stage,
            "with": {"seconds": 4.0, "events_per_s": 250.0},
            "inference_share": 1.0,
            "ratio": 2.0,
            "breakdown": breakdown,
            "accuracy": {"events_4j2b": 1, "matchable": 1, "correct": 1, "accuracy": 1.0},
        }
    )
    assert "with / without: 2.00x" in report
    for backend in ("compiled", "xgboost"):
        assert f"BDT {backend:>8}:" in report
    assert report.count("ns per node visit") == 2
    assert report.count("best assignment per event") == 2


def test_agc_reference_comparison_prints_the_three_times_and_ratios(
    small_embedded_manifest: Path,
) -> None:
    """``tests/agc_reference_bench.py`` (``make bench``) on a file of the small dataset: three
    positive CPU times, ratios that are their quotients, and the printed table."""
    from agc_reference_bench import compare, main
    from click.testing import CliRunner

    path = str(next(small_embedded_manifest.parent.glob("ttbar__nominal_*.root")))
    result = compare(path, repeats=1)
    assert all(result[k] > 0 for k in ("package", "reference", "floor"))
    assert result["reference_over_package"] == result["reference"] / result["package"]
    assert result["floor_over_package"] == result["floor"] / result["package"]
    printed = CliRunner().invoke(main, ["--file", path, "--repeats", "1"])
    assert printed.exit_code == 0, printed.output
    assert "reference / package:" in printed.output
    assert "read floor / package:" in printed.output
    missing = CliRunner().invoke(main, ["--file", "no-such.root"])
    assert missing.exit_code != 0
    assert "no-such.root" in missing.output
