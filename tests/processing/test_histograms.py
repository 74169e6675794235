"""The processing stage end to end: exact on every executor, chunking and merge; naming,
normalisation and pseudo-data; the real CMS file; bad input.

A small toy dataset (tests/toy_nanoaod.py, ~6k events) keeps this fast; the embedded default
(fixture ``embedded_manifest``) is processed once.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uproot
from coffea.nanoevents import NanoEventsFactory
from toy_nanoaod import write_toy_dataset, write_toy_file

from agc.cli import main as cli_main
from agc.core import physics
from agc.core.errors import AGCError
from agc.core.fileio import sha256_file
from agc.processing.histograms import (
    PARTIAL_SUFFIX,
    merge_partials,
    process_samples,
    read_histograms,
    read_partial,
    run_histograms,
    write_histograms,
)
from agc.processing.processor import BTAG_VARIATIONS, AGCProcessor, AGCSchema

TOY_SAMPLES = "ttbar,wjets,single_top_tW,zprime_1000"


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def toy_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_dataset(tmp_path_factory.mktemp("toy"))


@pytest.fixture(scope="module")
def reference(toy_manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Single pass, iterative executor, one chunk per file."""
    out = tmp_path_factory.mktemp("reference") / "histograms.root"
    summary = run_histograms(
        toy_manifest, out, samples=TOY_SAMPLES, executor="iterative", chunksize=100_000
    )
    return {
        "summary": summary,
        "root": sha256_file(out),
        "cutflow": sha256_file(out.with_name("cutflow.json")),
        "path": out,
    }


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
        samples=TOY_SAMPLES,
        executor=executor,
        workers=workers,
        chunksize=chunksize,
    )
    assert _digests(out) == (reference["root"], reference["cutflow"])


def test_bit_identical_on_dask(
    toy_manifest: Path, reference: dict[str, Any], tmp_path: Path, dask_scheduler: str
) -> None:
    out = tmp_path / "a" / "histograms.root"
    run_histograms(
        toy_manifest,
        out,
        samples=TOY_SAMPLES,
        executor="dask",
        scheduler=dask_scheduler,
        chunksize=700,
    )
    assert _digests(out) == (reference["root"], reference["cutflow"])
    # scheduler "" starts (and closes) its own LocalCluster with `workers` processes
    out = tmp_path / "b" / "histograms.root"
    run_histograms(
        toy_manifest, out, samples=TOY_SAMPLES, executor="dask", workers=1, chunksize=100_000
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
            samples=samples,
            executor="iterative",
            chunksize=chunksize,
            partial_dir=partial_dir,
        )
        assert all(Path(p).name.endswith(PARTIAL_SUFFIX) for p in summary["partials"])
    assert not (tmp_path / "unused.root").exists()
    assert len(list(partial_dir.glob(f"*{PARTIAL_SUFFIX}"))) == 7
    out = tmp_path / "merged" / "histograms.root"
    merged = merge_partials(partial_dir, out)
    assert _digests(out) == (reference["root"], reference["cutflow"])
    assert merged["yields"] == reference["summary"]["yields"]
    # a list of files works as well as a folder
    out2 = tmp_path / "merged2" / "histograms.root"
    merge_partials(sorted(partial_dir.glob(f"*{PARTIAL_SUFFIX}")), out2)
    assert sha256_file(out2) == reference["root"]


def test_partial_is_portable_json_with_unnormalised_sums(
    toy_manifest: Path, reference: dict[str, Any], tmp_path: Path
) -> None:
    run_histograms(toy_manifest, samples="wjets", executor="iterative", partial_dir=tmp_path)
    path = tmp_path / f"wjets__nominal{PARTIAL_SUFFIX}"
    data = json.loads(path.read_text())
    assert data["format"] == "agc-histograms-partial/2"

    def part_sums(which: str, variation: str) -> np.ndarray:
        return np.array([data[which][part]["4j2b"][variation] for part in ("hi", "mid", "lo")])

    sumw = part_sums("sumw", "nominal")
    assert (sumw[0] == np.round(sumw[0])).all()  # nominal weight 1: integer event counts
    assert (sumw[1:] == 0).all()  # ... with nothing on the fine grids
    assert sumw[0].sum() == data["cutflow"]["4j2b"]
    up = part_sums("sumw", "scale_var_up")  # 1.025 = hi + mid + lo: every part used
    assert (up[1] != 0).any()
    assert (up[2] != 0).any()
    assert np.array_equal(up[2] * 2.0**58, np.round(up[2] * 2.0**58))
    sample = read_partial(path)
    norm = sample.xsec * physics.LUMI_PB / sample.nevts
    final = read_histograms(reference["path"])
    assert np.array_equal(
        final["4j2b_wjets"].values(flow=True), ((sumw[2] + sumw[1]) + sumw[0]) * norm
    )
    sumw2 = part_sums("sumw2", "nominal")
    assert np.array_equal(
        final["4j2b_wjets"].variances(flow=True), ((sumw2[2] + sumw2[1]) + sumw2[0]) * (norm * norm)
    )
    assert np.array_equal(
        final["4j2b_wjets_scale_var_up"].values(flow=True), ((up[2] + up[1]) + up[0]) * norm
    )
    # the same sample twice is refused, naming it
    shutil.copy(path, tmp_path / f"copy{PARTIAL_SUFFIX}")
    with pytest.raises(AGCError, match="wjets__nominal"):
        merge_partials(tmp_path, tmp_path / "x.root")


def test_bad_partial_is_one_line_error(tmp_path: Path) -> None:
    (tmp_path / f"bad{PARTIAL_SUFFIX}").write_text('{"format": "agc-histograms-partial/2"}')
    with pytest.raises(AGCError, match=f"bad{PARTIAL_SUFFIX}") as info:
        merge_partials(tmp_path, tmp_path / "h.root")
    assert "\n" not in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(AGCError, match="no partial outputs"):
        merge_partials(tmp_path / "empty", tmp_path / "h.root")
    with pytest.raises(AGCError, match="not found"):
        merge_partials(tmp_path / "absent", tmp_path / "h.root")


# -- content of histograms.root ----------------------------------------------------------------


def test_histogram_names_binning_and_order(reference: dict[str, Any]) -> None:
    path = reference["path"]
    with uproot.open(path) as handle:
        keys = handle.keys(cycle=False)
        assert keys == sorted(keys)
        assert str(handle["provenance"]) == "provenance.json"
        classes = handle.classnames(cycle=False)
    nominal_like = ["nominal", "pt_scale_up", "pt_res_up", *BTAG_VARIATIONS]
    expected = set()
    for region in ("4j1b", "4j2b"):
        for process in ("ttbar", "wjets", "single_top_tW", "zprime_1000"):
            expected |= {
                f"{region}_{process}" if v == "nominal" else f"{region}_{process}_{v}"
                for v in nominal_like
            }
        expected |= {f"{region}_wjets_scale_var_up", f"{region}_wjets_scale_var_down"}
        expected |= {f"{region}_ttbar_{v}" for v in ("ME_var", "PS_var", "scaleup")}
        expected.add(f"{region}_pseudodata")
    assert {k for k, c in classes.items() if c == "TH1D"} == expected
    hists = read_histograms(path)
    for name, h in hists.items():
        assert h.axes[0].size == 25, name
        assert (h.axes[0].edges[0], h.axes[0].edges[-1]) == (50.0, 550.0)
        assert h.storage_type.__name__ == "Weight"
        assert np.all(h.variances(flow=True) >= 0)
    ttbar = hists["4j2b_ttbar"]
    assert ttbar.sum(flow=True).value > 0
    assert np.all((ttbar.values(flow=True) > 0) <= (ttbar.variances(flow=True) > 0))


def test_pseudodata_and_variations(reference: dict[str, Any]) -> None:
    h = {k: v.values(flow=True) for k, v in read_histograms(reference["path"]).items()}
    v = {k: hh.variances(flow=True) for k, hh in read_histograms(reference["path"]).items()}
    for region in ("4j1b", "4j2b"):
        expected = (h[f"{region}_ttbar_ME_var"] + h[f"{region}_ttbar_PS_var"]) / 2 + h[
            f"{region}_wjets"
        ]
        assert np.array_equal(h[f"{region}_pseudodata"], expected)
        exp_var = (v[f"{region}_ttbar_ME_var"] + v[f"{region}_ttbar_PS_var"]) / 4 + v[
            f"{region}_wjets"
        ]
        assert np.array_equal(v[f"{region}_pseudodata"], exp_var)
        # scale_var: weight 1.025 / 0.975
        assert h[f"{region}_wjets_scale_var_up"].sum() == pytest.approx(
            1.025 * h[f"{region}_wjets"].sum(), rel=1e-6
        )
        assert h[f"{region}_wjets_scale_var_down"].sum() == pytest.approx(
            0.975 * h[f"{region}_wjets"].sum(), rel=1e-6
        )
        # b-tag up/down are symmetric around nominal
        for i in range(4):
            up, down = h[f"{region}_ttbar_btag_var_{i}_up"], h[f"{region}_ttbar_btag_var_{i}_down"]
            assert np.allclose((up + down) / 2, h[f"{region}_ttbar"], rtol=1e-6)
            assert up.sum() > h[f"{region}_ttbar"].sum()
    # object variations change the selection
    assert not np.array_equal(h["4j1b_ttbar_pt_scale_up"], h["4j1b_ttbar"])
    assert not np.array_equal(h["4j1b_ttbar_pt_res_up"], h["4j1b_ttbar"])


def test_normalisation_uses_manifest_xsec_and_nevts(
    reference: dict[str, Any], toy_manifest: Path
) -> None:
    summary = reference["summary"]
    manifest = json.loads(toy_manifest.read_text())
    for process, xsec in (("zprime_1000", 2.5), ("ttbar", physics.XSEC_PB["ttbar"])):
        nevts = manifest[process]["nominal"]["nevts_total"]
        selected = summary["cutflow"][f"{process}__nominal"]["4j2b"]
        assert summary["yields"]["4j2b"][process] == pytest.approx(
            selected * xsec * physics.LUMI_PB / nevts, rel=1e-12
        )


def test_metadata_is_embedded_in_provenance_key(toy_manifest: Path, tmp_path: Path) -> None:
    samples = process_samples(toy_manifest, samples="single_top_tW", executor="iterative")
    out = tmp_path / "histograms.root"
    write_histograms(samples, out, metadata={"run": "test", "inputs": ["a"]})
    with uproot.open(out) as handle:
        assert json.loads(str(handle["provenance"])) == {"inputs": ["a"], "run": "test"}


def test_cutflow_json(reference: dict[str, Any]) -> None:
    data = json.loads(reference["path"].with_name("cutflow.json").read_text())
    assert data["steps"] == ["all", "1_lepton", "ge4_jets", "4j1b", "4j2b"]
    assert sorted(data["samples"]) == sorted(reference["summary"]["samples"])
    for counts in data["samples"].values():
        assert all(isinstance(n, int) for n in counts.values())
        assert (
            counts["all"]
            >= counts["1_lepton"]
            >= counts["ge4_jets"]
            >= counts["4j1b"] + counts["4j2b"]
        )
        assert counts["4j1b"] > 0
        assert counts["4j2b"] > 0
    assert data["samples"]["ttbar__nominal"]["all"] == 2500


# -- the real CMS file and the embedded default ------------------------------------------------


def test_processor_reads_only_the_needed_branches(real_nanoaod: Path) -> None:
    accessed: list[Any] = []
    events = NanoEventsFactory.from_root(
        {str(real_nanoaod): "Events"},
        schemaclass=AGCSchema,
        mode="virtual",
        access_log=accessed,
        metadata={"dataset": "ttbar__nominal", "process": "ttbar", "variation": "nominal"},
    ).events()
    AGCProcessor().process(events)
    branches = {a.branch for a in accessed}
    print("branches read:", sorted(branches))
    assert branches <= set(physics.BRANCHES_READ)
    assert {"Jet_pt", "Muon_pfRelIso04_all", "event"} <= branches


def test_real_file_cutflow(real_nanoaod: Path, tmp_path: Path, data_regression) -> None:
    manifest = {
        "ttbar": {
            "nominal": {"nevts_total": 200, "files": [{"path": str(real_nanoaod), "nevts": 200}]}
        }
    }
    out = tmp_path / "histograms.root"
    summary = run_histograms(manifest, out, executor="iterative")
    cutflow = summary["cutflow"]["ttbar__nominal"]
    print("real 200-event file, cut flow:", cutflow)
    assert cutflow["all"] == 200
    assert len(read_histograms(out)) == 2 * 11  # nominal + 2 object + 8 b-tag variations per region
    data_regression.check(cutflow)


def test_embedded_default(embedded_manifest: Path, tmp_path: Path) -> None:
    summary = run_histograms(
        embedded_manifest, tmp_path / "histograms.root", executor="futures", workers=2
    )
    print(json.dumps(summary["yields"], indent=1))
    for region in ("4j1b", "4j2b"):
        for process in physics.VARIATIONS:
            assert summary["yields"][region][process] > 0, (region, process)
        assert summary["yields"][region]["pseudodata"] > 0
    hists = read_histograms(tmp_path / "histograms.root")
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


def _assert_fails(manifest: Any, out: Path, *fragments: str, **kwargs: Any) -> None:
    with pytest.raises(AGCError) as info:
        run_histograms(manifest, out, executor=kwargs.pop("executor", "iterative"), **kwargs)
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


def test_missing_branch(tmp_path: Path, guarded_output: Path) -> None:
    path = write_toy_file(tmp_path / "nosip.root", 100, seed=6, drop=["Muon_sip3d"])
    _assert_fails(_one_file_manifest(path), guarded_output, str(path), "Muon_sip3d")


def test_wrong_tree_name(tmp_path: Path, guarded_output: Path) -> None:
    path = write_toy_file(tmp_path / "tree.root", 100, seed=7, tree="events")
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
        _one_file_manifest(path), tmp_path / "histograms.root", executor="iterative"
    )
    assert summary["cutflow"]["ttbar__nominal"] == dict.fromkeys(
        ["all", "1_lepton", "ge4_jets", "4j1b", "4j2b"], 0
    )
    assert summary["yields"] == {"4j1b": {"ttbar": 0.0}, "4j2b": {"ttbar": 0.0}}
