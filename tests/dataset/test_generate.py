"""The embedded default dataset generator (agc.dataset.generate): the manifest and generation
record, generate-if-missing, atomicity, determinism, realism and argument errors."""

from __future__ import annotations

import copy
import io
import json
import sys
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from agc.core.errors import AGCError
from agc.core.fileio import sha256_file
from agc.dataset import writer
from agc.dataset.branches import BRANCH_TYPES, COUNTERS
from agc.dataset.generate import GENERATOR_VERSION, generate_dataset
from agc.dataset.manifest import load_manifest, sample_key
from agc.processing.histograms import read_histograms
from agc.processing.results import HistogramRun

#: Card targets (docs/analysis.md, "The AGC's reference yields"): normalised yields per region and process.
TARGET_YIELDS = {
    "4j1b": {
        "ttbar": 23448,
        "wjets": 5965,
        "single_top_tW": 1785,
        "single_top_t_chan": 558,
        "single_top_s_chan": 8.1,
    },
    "4j2b": {
        "ttbar": 52429,
        "wjets": 1992,
        "single_top_tW": 2360,
        "single_top_t_chan": 1004,
        "single_top_s_chan": 18.8,
    },
}


#: Size of the ttbar variations in 4j2b relative to nominal (docs/analysis.md) [%].
TARGET_VARIATIONS = {"ME_var": 19.0, "PS_var": -4.0, "scaleup": 5.0, "scaledown": -8.0}


def _arrays(path: str | Path) -> dict[str, Any]:
    with uproot.open(path) as handle:
        return handle["Events"].arrays(library="ak")


def test_manifest_is_valid_and_consistent(small_manifest: Path, recipe: dict[str, Any]) -> None:
    raw = json.loads(small_manifest.read_text())
    manifest = load_manifest(small_manifest)  # validates against the manifest schema
    assert sorted(sample_key(p, v) for p, vs in manifest.items() for v in vs) == [
        "ttbar__nominal",
        "wjets__nominal",
        "zprime_1000__nominal",
    ]
    calibration = recipe["yield_calibration"]
    scale = json.loads((small_manifest.parent / "generation.json").read_text())["scale"]
    for process, variations in manifest.items():
        for variation, entry in variations.items():
            cfg = recipe["samples"][process][variation]
            # files hold the preselected events; nevts_generated counts the generated ones
            assert entry["nevts_generated"] == round(cfg["events"] * scale)
            assert 0 < entry["nevts_total"] == sum(f["nevts"] for f in entry["files"])
            assert entry["nevts_total"] < entry["nevts_generated"]
            assert entry["preselection_efficiency"] == pytest.approx(
                entry["nevts_total"] / entry["nevts_generated"]
            )
            assert len(entry["files"]) == cfg.get("files", 1)
            assert entry["xsec"] == cfg["xsec"]
            # per-event weight = xsec * filter * calibration * lumi / N_generated
            assert entry["filter_efficiency"] / entry["nevts_total"] == pytest.approx(
                cfg["filter_efficiency"] * calibration / entry["nevts_generated"], rel=1e-9
            )
            assert entry["label"] == cfg["label"]
            for item, raw_item in zip(
                entry["files"], raw[process][variation]["files"], strict=True
            ):
                assert not Path(raw_item["path"]).is_absolute()  # relocatable folder
                assert Path(item["path"]).exists()
                assert sha256_file(item["path"]) == item["sha256"]
                assert Path(item["path"]).stat().st_size == item["size"]
                with uproot.open(item["path"]) as handle:
                    assert handle["Events"].num_entries == item["nevts"]
    assert manifest["zprime_1000"]["nominal"]["label"] == "m_Zprime=1000 GeV"


def test_generation_record(small_manifest: Path, recipe: dict[str, Any]) -> None:
    record = json.loads((small_manifest.parent / "generation.json").read_text())
    assert record["generator"] == "agc.dataset.generate"
    assert record["generator_version"] == GENERATOR_VERSION
    assert record["samples"] == ["ttbar__nominal", "wjets__nominal", "zprime_1000__nominal"]
    assert record["numpy"] == np.__version__
    assert record["uproot"] == uproot.__version__
    assert len(record["recipe_sha256"]) == 64


def test_generate_if_missing_and_force(tmp_path: Path, recipe: dict[str, Any]) -> None:
    out = tmp_path / "data"
    manifest = generate_dataset(out, recipe=recipe, scale=0.002, samples=["zprime_500"])
    (root,) = out.glob("*.root")
    stamp = root.stat().st_mtime_ns
    assert generate_dataset(out, recipe=recipe, scale=0.002, samples=["zprime_500"]) == manifest
    assert root.stat().st_mtime_ns == stamp  # intact: nothing regenerated
    original = root.read_bytes()
    root.write_bytes(original[:-10] + b"corrupted!")  # checksum mismatch -> regenerate
    generate_dataset(out, recipe=recipe, scale=0.002, samples=["zprime_500"])
    assert root.read_bytes() == original
    stamp = root.stat().st_mtime_ns
    generate_dataset(out, recipe=recipe, scale=0.002, samples=["zprime_500"], force=True)
    assert root.stat().st_mtime_ns != stamp
    assert root.read_bytes() == original  # and byte-identical
    generate_dataset(
        out, recipe=recipe, scale=0.004, samples=["zprime_500"]
    )  # other scale -> regenerate
    assert load_manifest(manifest)["zprime_500"]["nominal"]["nevts_generated"] == 40


def test_failed_generation_leaves_no_manifest_and_no_partial_file(
    tmp_path: Path, recipe: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "data"
    generate_dataset(out, recipe=recipe, scale=0.002, samples=["zprime_500"])
    calls = {"n": 0}
    original = writer.generate_events

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(writer, "generate_events", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_dataset(
            out, recipe=recipe, scale=0.002, samples=["zprime_500", "zprime_1000"], force=True
        )
    assert not (out / "manifest.json").exists()
    assert not list(out.glob(".*.tmp"))  # no temporary file left behind
    assert not (out / "zprime_1000__nominal_0.root").exists()


def test_generation_is_deterministic(
    tmp_path: Path, recipe: dict[str, Any], small_manifest: Path
) -> None:
    record = json.loads((small_manifest.parent / "generation.json").read_text())
    again = generate_dataset(
        tmp_path / "again", recipe=recipe, scale=record["scale"], samples=record["samples"]
    )
    first, second = load_manifest(small_manifest), load_manifest(again)
    for process, variations in first.items():
        for variation, entry in variations.items():
            for a, b in zip(entry["files"], second[process][variation]["files"], strict=True):
                assert a["sha256"] == b["sha256"]  # bytes too (fixed UUID and clock)
                arrays_a, arrays_b = _arrays(a["path"]), _arrays(b["path"])
                for name in BRANCH_TYPES:
                    assert ak.array_equal(arrays_a[name], arrays_b[name]), name


def test_rntuple_holds_the_same_events_byte_reproducibly(
    tmp_path: Path, recipe: dict[str, Any], small_manifest: Path
) -> None:
    """``file_format="rntuple"``: the TTree's events, names and counts in an RNTuple; two
    generations seconds apart give the same bytes (uproot's RNTuple writer stamps its keys with
    the clock too); the manifest and generation.json say which format."""
    record = json.loads((small_manifest.parent / "generation.json").read_text())
    options = {"recipe": recipe, "scale": record["scale"], "samples": record["samples"]}
    first = generate_dataset(tmp_path / "first", file_format="rntuple", **options)
    second = generate_dataset(tmp_path / "second", file_format="rntuple", **options)
    ttree, ntuple, again = (load_manifest(m) for m in (small_manifest, first, second))
    assert json.loads((first.parent / "generation.json").read_text()) == {
        **record,
        "format": "rntuple",
    }
    assert "format" not in record  # TTree datasets made before RNTuple stay intact
    for process, variations in ttree.items():
        for variation, entry in variations.items():
            assert ntuple[process][variation]["format"] == "rntuple"
            assert ntuple[process][variation]["nevts_total"] == entry["nevts_total"]
            pairs = zip(entry["files"], ntuple[process][variation]["files"], strict=True)
            for index, (tree_file, ntuple_file) in enumerate(pairs):
                assert ntuple_file["sha256"] != tree_file["sha256"]
                assert ntuple_file["sha256"] == again[process][variation]["files"][index]["sha256"]
                with uproot.open(ntuple_file["path"]) as handle:
                    assert handle.classname_of("Events") == "ROOT::RNTuple"
                    arrays = handle["Events"].arrays(library="ak")
                expected = _arrays(tree_file["path"])
                assert len(arrays) == tree_file["nevts"] == ntuple_file["nevts"]
                for name in [*BRANCH_TYPES, *COUNTERS]:
                    assert ak.array_equal(arrays[name], expected[name], dtype_exact=True), name
    # asking for the other format regenerates in place
    generate_dataset(tmp_path / "second", file_format="ttree", **options)
    assert (
        load_manifest(second)["ttbar"]["nominal"]["files"][0]["sha256"]
        == (ttree["ttbar"]["nominal"]["files"][0]["sha256"])
    )


def test_cli_generate_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``agc generate --format rntuple`` writes RNTuple files; another format is one line."""
    from agc.cli import main as cli_main

    args = ["generate", "--output", str(tmp_path), "--scale", "0.002", "--workers", "1"]
    assert cli_main([*args, "--format", "rntuple", "--json"]) == 0
    manifest = load_manifest(json.loads(capsys.readouterr().out)["manifest"])
    assert {e["format"] for vs in manifest.values() for e in vs.values()} == {"rntuple"}
    with uproot.open(manifest["ttbar"]["nominal"]["files"][0]["path"]) as handle:
        assert handle.classname_of("Events") == "ROOT::RNTuple"
    assert cli_main([*args, "--format", "parquet"]) == 2  # the schema's line, before any work
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "format" in err
    assert "parquet" in err


@pytest.mark.slow
def test_realism(embedded_run: HistogramRun, embedded_histograms: Path) -> None:
    """The default dataset through the analysis: yields within 30 % of the card, peaks where they belong."""
    result = embedded_run
    assert result.yields is not None
    histograms = read_histograms(embedded_histograms)
    lines, failures = (
        [f"{'region':6s} {'process':18s} {'yield':>10s} {'target':>9s} {'ratio':>6s}"],
        [],
    )
    for region, targets in TARGET_YIELDS.items():
        for process, target in targets.items():
            value = result.yields[region][process]
            lines.append(
                f"{region:6s} {process:18s} {value:10.1f} {target:9.1f} {value / target:6.2f}"
            )
            if abs(value / target - 1) > 0.30:
                failures.append(f"{region} {process}: {value:.1f} vs {target}")
    edges = histograms["4j2b_ttbar"].axes[0].edges
    peak = int(np.argmax(histograms["4j2b_ttbar"].values()))
    ht = histograms["4j1b_ttbar"].values(flow=True)
    ht_peak = int(np.argmax(ht[1:-1]))
    lines.append(
        f"4j2b ttbar m_bjj peak bin: [{edges[peak]:.0f}, {edges[peak + 1]:.0f}) GeV (target [170, 190))"
    )
    lines.append(
        f"4j1b ttbar H_T peak bin: [{edges[ht_peak]:.0f}, {edges[ht_peak + 1]:.0f}) GeV, {ht[-1] / ht.sum():.1%} above 550 GeV"
    )
    nominal = histograms["4j2b_ttbar"].values(flow=True).sum()
    shifts = {
        v: 100 * (histograms[f"4j2b_ttbar_{v}"].values(flow=True).sum() / nominal - 1)
        for v in TARGET_VARIATIONS
    }
    for v, target in TARGET_VARIATIONS.items():
        lines.append(f"4j2b ttbar {v:9s} {shifts[v]:+6.1f} % (card {target:+.0f} %)")
    print("\n" + "\n".join(lines))
    assert not failures, failures
    assert (edges[peak], edges[peak + 1]) == pytest.approx((170.0, 190.0))
    assert edges[ht_peak] >= 230.0 - 1e-6
    assert edges[ht_peak + 1] <= 290.0 + 1e-6
    for v, target in TARGET_VARIATIONS.items():
        assert np.sign(shifts[v]) == np.sign(target), v


def test_bad_arguments(tmp_path: Path, recipe: dict[str, Any]) -> None:
    with pytest.raises(AGCError, match="unknown sample 'tttbar'"):
        generate_dataset(tmp_path, recipe=recipe, samples=["tttbar"])
    with pytest.raises(AGCError, match="scale must be a positive number"):
        generate_dataset(tmp_path, recipe=recipe, scale=0)
    with pytest.raises(AGCError, match="format must be one of ttree, rntuple, got 'hdf5'"):
        generate_dataset(tmp_path, recipe=recipe, file_format="hdf5")
    bad = copy.deepcopy(recipe)
    bad["samples"]["ttbar"]["nominal"]["events"] = 0
    with pytest.raises(AGCError, match="samples/ttbar/nominal/events"):
        generate_dataset(tmp_path, recipe=bad)


def test_generation_counts_its_files_on_the_progress_bar(
    tmp_path: Path, recipe: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", stream)  # the progress bar's stream
    manifest = generate_dataset(
        tmp_path, recipe=recipe, scale=0.002, samples=["zprime_500", "zprime_1000"]
    )
    files = sum(len(e["files"]) for vs in load_manifest(manifest).values() for e in vs.values())
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith(f"[agc progress] generate: 0/{files} files (0 %)")
    assert lines[-1].startswith(f"[agc progress] generate: {files}/{files} files (100 %)")
