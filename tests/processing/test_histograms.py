"""The processing stage end to end (agc.processing.histograms): exact on every executor,
chunking and merge; the real CMS file; the embedded default; bad input leaves the old output.

A small toy dataset (fixtures ``toy_manifest``, ``reference`` in conftest.py, ~6k events) keeps
this fast; the embedded default (fixture ``embedded_run``, ``make test-full``) is processed once. Partial
outputs, naming, normalisation and pseudo-data are tested in test_partials.py and test_output.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uproot
from toy_nanoaod import write_toy_file

from agc.cli import main as cli_main
from agc.core import physics
from agc.core.config import ProcessingConfig
from agc.core.errors import AGCError
from agc.core.fileio import sha256_file
from agc.dataset.generate import generate_dataset
from agc.processing.histograms import merge_partials, run_histograms
from agc.processing.output import read_histograms
from agc.processing.partials import PARTIAL_SUFFIX
from agc.processing.results import HistogramRun

# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_scheduler() -> Iterator[str]:
    """One dask LocalCluster (2 single-threaded worker processes) for the module."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address


def _digests(out: Path) -> tuple[str, str]:
    return sha256_file(out), sha256_file(out.with_name("cutflow.json"))


# -- exactness ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("executor", "workers", "chunksize"),
    [
        ("iterative", 1, 100_000),  # repeated run
        ("iterative", 1, 1000),
        ("iterative", 1, 333),
        ("futures", 1, 10_000),
        ("futures", 2, 1000),
    ],
)
def test_bit_identical_across_executors_and_chunks(
    toy_manifest: Path,
    toy_samples: str,
    reference: dict[str, Any],
    tmp_path: Path,
    executor: str,
    workers: int,
    chunksize: int,
) -> None:
    out = tmp_path / "histograms.root"
    run_histograms(
        toy_manifest,
        out,
        processing=ProcessingConfig(executor=executor, workers=workers, chunksize=chunksize),
        samples=toy_samples,
    )
    assert _digests(out) == (reference["root"], reference["cutflow"])


def test_bit_identical_on_dask(
    toy_manifest: Path,
    toy_samples: str,
    reference: dict[str, Any],
    tmp_path: Path,
    dask_scheduler: str,
) -> None:
    out = tmp_path / "a" / "histograms.root"
    run_histograms(
        toy_manifest,
        out,
        processing=ProcessingConfig(executor="dask", scheduler=dask_scheduler, chunksize=700),
        samples=toy_samples,
    )
    assert _digests(out) == (reference["root"], reference["cutflow"])
    # scheduler "" starts (and closes) its own LocalCluster with `workers` processes
    out = tmp_path / "b" / "histograms.root"
    run_histograms(
        toy_manifest,
        out,
        processing=ProcessingConfig(executor="dask", workers=1, chunksize=100_000),
        samples=toy_samples,
    )
    assert _digests(out) == (reference["root"], reference["cutflow"])


def test_merged_partials_equal_single_pass(
    toy_manifest: Path, reference: dict[str, Any], tmp_path: Path
) -> None:
    partial_dir = tmp_path / "partial"
    # the samples scattered over three runs with different chunking, as a workflow would
    for samples, chunksize in (
        ("ttbar", 400),
        ("wjets,single_top_tW", 100_000),
        ("zprime_1000", 123),
    ):
        summary = run_histograms(
            toy_manifest,
            tmp_path / "unused.root",
            processing=ProcessingConfig(executor="iterative", chunksize=chunksize),
            samples=samples,
            partial_dir=partial_dir,
        )
        assert all(Path(p).name.endswith(PARTIAL_SUFFIX) for p in summary.partials)
    assert not (tmp_path / "unused.root").exists()
    assert len(list(partial_dir.glob(f"*{PARTIAL_SUFFIX}"))) == 7
    out = tmp_path / "merged" / "histograms.root"
    merged = merge_partials(partial_dir, out)
    assert _digests(out) == (reference["root"], reference["cutflow"])
    assert merged.yields == reference["summary"].yields
    # a list of files works as well as a folder
    out2 = tmp_path / "merged2" / "histograms.root"
    merge_partials(sorted(partial_dir.glob(f"*{PARTIAL_SUFFIX}")), out2)
    assert sha256_file(out2) == reference["root"]


# -- content of histograms.root ----------------------------------------------------------------


# -- the real CMS file and the embedded default ------------------------------------------------


def test_real_file_cutflow(real_nanoaod: Path, tmp_path: Path, data_regression) -> None:
    manifest = {
        "ttbar": {
            "nominal": {"nevts_total": 200, "files": [{"path": str(real_nanoaod), "nevts": 200}]}
        }
    }
    out = tmp_path / "histograms.root"
    summary = run_histograms(manifest, out, processing=ProcessingConfig(executor="iterative"))
    cutflow = summary.cutflow["ttbar__nominal"]
    print("real 200-event file, cut flow:", cutflow)
    assert cutflow["all"] == 200
    assert len(read_histograms(out)) == 2 * 11  # nominal + 2 object + 8 b-tag variations per region
    data_regression.check(cutflow)


def test_real_rntuple_cutflow(real_rntuple: Path, tmp_path: Path, data_regression) -> None:
    """The real RNTuple (ROOT's RNTupleImporter, 1,313 fields) through the same loader as every
    TTree: chunked in worker processes, the cut flow is a regression reference. None of its 10
    events has a tight lepton: its electrons with ``cutBased == 4`` are below 30 GeV and its
    muons' ``tightId`` is false (as in the 200-event TTree)."""
    manifest = {
        "ttbar": {
            "nominal": {"nevts_total": 10, "files": [{"path": str(real_rntuple), "nevts": 10}]}
        }
    }
    out = tmp_path / "histograms.root"
    summary = run_histograms(
        manifest, out, processing=ProcessingConfig(executor="futures", workers=2, chunksize=5)
    )
    cutflow = summary.cutflow["ttbar__nominal"]
    print("real 10-event RNTuple, cut flow:", cutflow)
    assert cutflow["all"] == 10
    assert summary.chunks["total"] == 2  # one per worker (each opening costs seconds: uproot)
    assert len(read_histograms(out)) == 2 * 11
    data_regression.check(cutflow)


def test_ttree_and_rntuple_give_identical_histograms(tmp_path: Path) -> None:
    """The same generated events as TTree and as RNTuple files: byte-identical histograms.root
    (one code path; the RNTuple run uses other chunks and worker processes on purpose)."""
    samples = ["ttbar__nominal", "wjets__nominal"]
    digests, cutflows = {}, {}
    for file_format, options in (
        ("ttree", {"executor": "iterative"}),
        ("rntuple", {"executor": "futures", "workers": 2, "chunksize": 1500}),
    ):
        manifest = generate_dataset(
            tmp_path / file_format, scale=0.005, samples=samples, file_format=file_format
        )
        with uproot.open(next((tmp_path / file_format).glob("*.root"))) as handle:
            expected = {"ttree": "TTree", "rntuple": "ROOT::RNTuple"}[file_format]
            assert handle.classname_of("Events") == expected
        out = tmp_path / f"out-{file_format}" / "histograms.root"
        summary = run_histograms(
            manifest, out, processing=ProcessingConfig(checkpoints=False, **options)
        )
        digests[file_format] = sha256_file(out)
        cutflows[file_format] = summary.cutflow
    print(cutflows["rntuple"])
    assert cutflows["ttree"]["ttbar__nominal"]["4j2b"] > 0
    assert cutflows["rntuple"] == cutflows["ttree"]
    assert digests["rntuple"] == digests["ttree"]


def test_embedded_default(embedded_run: HistogramRun, embedded_histograms: Path) -> None:
    summary = embedded_run
    assert summary.yields is not None
    print(json.dumps(summary.yields, indent=1))
    for region in ("4j1b", "4j2b"):
        for process in physics.VARIATIONS:
            assert summary.yields[region][process] > 0, (region, process)
        assert summary.yields[region]["pseudodata"] > 0
    hists = read_histograms(embedded_histograms)
    assert {"4j2b_ttbar_ME_var", "4j2b_ttbar_scaledown", "4j1b_wjets_scale_var_up"} <= set(hists)


# -- bad input ---------------------------------------------------------------------------------


GOOD_BYTES = b"a good histograms.root from an earlier run"


@pytest.fixture
def guarded_output(tmp_path: Path) -> Path:
    """An output path holding a previous good file that a failing run must leave untouched."""
    out = tmp_path / "out" / "histograms.root"
    out.parent.mkdir()
    out.write_bytes(GOOD_BYTES)
    return out


def _one_file_manifest(path: Path) -> dict[str, Any]:
    return {
        "ttbar": {"nominal": {"nevts_total": 100, "files": [{"path": str(path), "nevts": 100}]}}
    }


def _run(manifest: Any, out: Path, samples: str = "all", **options: Any) -> None:
    """:func:`run_histograms` of ``samples`` with the processing ``options`` (iterative)."""
    run_histograms(
        manifest, out, ProcessingConfig(**{"executor": "iterative", **options}), samples=samples
    )


def _assert_fails(manifest: Any, out: Path, *fragments: str, **kwargs: Any) -> None:
    with pytest.raises(AGCError) as info:
        _run(manifest, out, **kwargs)
    message = str(info.value)
    print(message)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    assert out.read_bytes() == GOOD_BYTES
    assert not out.with_name("cutflow.json").exists()
    assert [p.name for p in out.parent.iterdir()] == ["histograms.root"]  # no temporary left behind


def test_missing_file(tmp_path: Path, guarded_output: Path) -> None:
    missing = tmp_path / "nope.root"
    _assert_fails(_one_file_manifest(missing), guarded_output, "not found", str(missing))


def test_truncated_file(tmp_path: Path, guarded_output: Path) -> None:
    good = write_toy_file(tmp_path / "good.root", 300, seed=5)
    bad = tmp_path / "truncated.root"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _assert_fails(_one_file_manifest(bad), guarded_output, str(bad), "truncated")


@pytest.mark.parametrize("file_format", ["ttree", "rntuple"])
def test_missing_branch(tmp_path: Path, guarded_output: Path, file_format: str) -> None:
    """A TTree without a branch and an RNTuple without the field: the same one line."""
    path = write_toy_file(
        tmp_path / "nosip.root", 100, seed=6, drop=["Muon_sip3d"], file_format=file_format
    )
    _assert_fails(
        _one_file_manifest(path),
        guarded_output,
        f"input file {path} (sample ttbar__nominal): missing branch 'Muon_sip3d' in 'Events'",
    )


@pytest.mark.parametrize("file_format", ["ttree", "rntuple"])
def test_wrong_tree_name(tmp_path: Path, guarded_output: Path, file_format: str) -> None:
    path = write_toy_file(
        tmp_path / "tree.root", 100, seed=7, tree="events", file_format=file_format
    )
    _assert_fails(_one_file_manifest(path), guarded_output, str(path), "'Events'")


def test_unknown_sample_and_bad_parameters(toy_manifest: Path, guarded_output: Path) -> None:
    _assert_fails(toy_manifest, guarded_output, "ttbar__nonsense", samples="ttbar__nonsense")
    _assert_fails(toy_manifest, guarded_output, "executor", executor="spark")
    _assert_fails(toy_manifest, guarded_output, "chunksize", chunksize=0)


@pytest.mark.parametrize("executor", ["iterative", "futures"])
def test_corrupt_data_during_processing_names_the_file(
    tmp_path: Path, guarded_output: Path, executor: str
) -> None:
    """Metadata intact (the up-front check passes) but compressed baskets damaged: the worker's
    failure comes back as one line naming the file."""
    path = write_toy_file(tmp_path / "corrupt.root", 2000, seed=8)
    data = bytearray(path.read_bytes())
    with uproot.open(path) as handle:
        start = handle["Events"]["Jet_pt"].member("fBasketSeek")[0]
    data[start + 200 : start + 1200] = bytes(1000)  # zero a stretch of Jet_pt's compressed basket
    path.write_bytes(bytes(data))
    _assert_fails(
        _one_file_manifest(path),
        guarded_output,
        str(path),
        "ttbar__nominal",
        executor=executor,
        workers=1,
    )


def test_cli_prints_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(_one_file_manifest(tmp_path / "missing.root")))
    code = cli_main(
        [
            "histograms",
            "--inputs",
            str(manifest),
            "--output",
            str(tmp_path / "h.root"),
            "--executor",
            "iterative",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "missing.root" in err


def test_checksum_mismatch(tmp_path: Path, guarded_output: Path) -> None:
    path = write_toy_file(tmp_path / "ok.root", 50, seed=9)
    manifest = _one_file_manifest(path)
    manifest["ttbar"]["nominal"]["files"][0]["sha256"] = "0" * 64
    _assert_fails(manifest, guarded_output, str(path), "sha256")


def test_empty_file_gives_empty_histograms(tmp_path: Path) -> None:
    path = write_toy_file(tmp_path / "empty.root", 0, seed=10)
    summary = run_histograms(
        _one_file_manifest(path),
        tmp_path / "histograms.root",
        processing=ProcessingConfig(executor="iterative"),
    )
    assert summary.cutflow["ttbar__nominal"] == dict.fromkeys(
        ["all", "1_lepton", "ge4_jets", "4j1b", "4j2b"], 0
    )
    assert summary.yields == {"4j1b": {"ttbar": 0.0}, "4j2b": {"ttbar": 0.0}}
