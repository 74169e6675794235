"""The read-back of a dataset (agc.dataset.readback): typed summary, JSON object, errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from agc.core.errors import AGCError
from agc.dataset.manifest import load_manifest
from agc.dataset.readback import Readback, ReadbackTotal, SampleReadback, summarize

#: Keys of one sample in the JSON object, in order (the table columns of notebook 00_dataset).
SAMPLE_KEYS = [
    "files",
    "events",
    "nevts",
    "bytes",
    "mean_jets",
    "mean_electrons",
    "mean_muons",
    "mean_selected_jets",
    "fraction_one_tight_lepton",
    "fraction_selected",
    "fraction_4j1b",
    "fraction_4j2b",
]


def test_summary(small_manifest: Path) -> None:
    summary = summarize(small_manifest)
    print(json.dumps(summary.to_dict()["samples"], indent=1))
    ttbar = summary.samples["ttbar__nominal"]
    manifest = load_manifest(small_manifest)
    kept = {p: manifest[p]["nominal"]["nevts_total"] for p in ("ttbar", "wjets", "zprime_1000")}
    assert ttbar.events == ttbar.nevts == kept["ttbar"]
    assert ttbar.files == 6
    assert summary.total.events == sum(kept.values())
    assert ttbar.fraction_one_tight_lepton > 0.9  # preselected: >= 1 tight lepton
    assert ttbar.fraction_4j2b > ttbar.fraction_4j1b > 0
    # selected fraction of the *generated* events (files hold the preselected ones)
    selected = {
        p: summary.samples[f"{p}__nominal"].fraction_selected
        * manifest[p]["nominal"]["preselection_efficiency"]
        for p in ("ttbar", "wjets")
    }
    assert selected["wjets"] < selected["ttbar"]
    assert ttbar.mean_jets > ttbar.mean_selected_jets > 2


def test_summary_names_a_missing_file(tmp_path: Path) -> None:
    data = {"ttbar": {"nominal": {"nevts_total": 1, "files": [{"path": "gone.root", "nevts": 1}]}}}
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(AGCError, match=r"gone\.root"):
        summarize(tmp_path / "manifest.json")


def test_summary_json_object(small_manifest: Path) -> None:
    """to_dict() is the JSON object of ``agc summary`` and of the dataset stage's ``readback``."""
    summary = summarize(small_manifest)
    assert isinstance(summary, Readback)
    data = summary.to_dict()
    assert list(data) == ["manifest", "samples", "total"]
    assert data["manifest"] == str(small_manifest)
    assert list(data["samples"]) == ["ttbar__nominal", "wjets__nominal", "zprime_1000__nominal"]
    for key, sample in data["samples"].items():
        assert list(sample) == SAMPLE_KEYS, key
        assert all(isinstance(sample[k], int) for k in ("files", "events", "nevts", "bytes"))
        assert sample == dataclasses.asdict(summary.samples[key])
    assert data["total"] == {
        "files": sum(s["files"] for s in data["samples"].values()),
        "events": sum(s["events"] for s in data["samples"].values()),
        "bytes": sum(s["bytes"] for s in data["samples"].values()),
    }
    assert json.loads(json.dumps(data)) == data
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.total.files = 0  # type: ignore[misc]


def test_sample_readback_rounds_means_and_fractions() -> None:
    totals = {
        "events": 3.0,
        "jets": 10.0,
        "electrons": 1.0,
        "muons": 2.0,
        "selected_jets": 7.0,
        "one_tight_lepton": 2.0,
        "selected": 1.0,
        "4j1b": 1.0,
        "4j2b": 0.0,
    }
    sample = SampleReadback.from_totals(totals, files=2, nevts=3, size=100)
    assert sample.to_dict() == {
        "files": 2,
        "events": 3,
        "nevts": 3,
        "bytes": 100,
        "mean_jets": 3.3333,
        "mean_electrons": 0.3333,
        "mean_muons": 0.6667,
        "mean_selected_jets": 2.3333,
        "fraction_one_tight_lepton": 0.66667,
        "fraction_selected": 0.33333,
        "fraction_4j1b": 0.33333,
        "fraction_4j2b": 0.0,
    }
    assert ReadbackTotal(files=1, events=2, bytes=3).to_dict() == {
        "files": 1,
        "events": 2,
        "bytes": 3,
    }


def test_summary_of_the_real_file(tmp_path: Path, real_nanoaod: Path) -> None:
    """Works on real NanoAOD: a manifest in the AGC layout pointing at the real file."""
    data = {
        "ttbar": {
            "nominal": {"nevts_total": 200, "files": [{"path": str(real_nanoaod), "nevts": 200}]}
        }
    }
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    summary = summarize(tmp_path / "manifest.json")
    assert summary.samples["ttbar__nominal"].events == 200
    assert summary.total.events == 200


def test_summary_names_a_file_with_another_event_count(
    tmp_path: Path, small_manifest: Path
) -> None:
    entry = load_manifest(small_manifest)["zprime_1000"]["nominal"]
    item = entry["files"][0]
    data = {"zprime_1000": {"nominal": {"nevts_total": 1, "files": [{**item, "nevts": 1}]}}}
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(AGCError, match=rf"{Path(item['path']).name}: \d+ events, manifest says 1"):
        summarize(tmp_path / "manifest.json")


def test_threads_give_the_same_summary_and_the_first_bad_file(
    small_manifest: Path, tmp_path: Path
) -> None:
    """Files are read two at a time; the summary equals the one-at-a-time summary, and of two
    bad files the one first in the manifest's order is named, whichever is read first."""
    one = summarize(small_manifest, threads=1)
    assert summarize(small_manifest, threads=2) == one
    data = json.loads(small_manifest.read_text())
    files = data["ttbar"]["nominal"]["files"]
    for item in files:
        item["path"] = str(small_manifest.parent / item["path"])
    files[1]["path"] = str(tmp_path / "first-gone.root")
    files[4]["path"] = str(tmp_path / "second-gone.root")
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    for threads in (1, 2, 8):
        with pytest.raises(AGCError, match="first-gone"):
            summarize(tmp_path / "manifest.json", threads=threads)
