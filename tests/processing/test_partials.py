"""Partial outputs (agc.processing.partials): portable JSON holding the exact unnormalised part
sums, read back to the final histograms' bits; bad or duplicate partials are one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agc.core import physics
from agc.core.config import ProcessingConfig
from agc.core.errors import AGCError
from agc.processing.histograms import merge_partials, run_histograms
from agc.processing.output import read_histograms
from agc.processing.partials import PARTIAL_SUFFIX, read_partial


def test_partial_is_portable_json_with_unnormalised_sums(
    toy_manifest: Path, reference: dict[str, Any], tmp_path: Path
) -> None:
    run_histograms(
        toy_manifest,
        processing=ProcessingConfig(executor="iterative"),
        samples="wjets",
        partial_dir=tmp_path,
    )
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
    # a sum that is not a number is one line naming the file and the key path
    broken = tmp_path / "broken"
    broken.mkdir()
    data["sumw"]["mid"]["4j2b"]["nominal"][7] = "0"
    (broken / path.name).write_text(json.dumps(data))
    with pytest.raises(AGCError, match=r"invalid value at 'sumw/mid/4j2b/nominal/7'") as info:
        merge_partials(broken, tmp_path / "x.root")
    assert str(broken / path.name) in str(info.value)
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


def test_each_input_file_is_read_once_for_its_checks_and_cache_key(
    toy_manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run writing partial outputs (input checks against the manifest's sha256, then the cache
    keys) and a cache fill (keys, then the checks) each hash every input file once."""
    import agc.core.fileio
    from agc.dataset.manifest import Manifest
    from agc.processing import cachekey, inputs
    from agc.processing.cache import cached_process_samples

    data = json.loads(toy_manifest.read_text())
    files = data["wjets"]["nominal"]["files"]
    for item in files:
        item["path"] = str(toy_manifest.parent / item["path"])
        item["sha256"] = agc.core.fileio.sha256_file(item["path"])
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(data))
    reads: list[str] = []

    def counting(path: Any) -> str:
        reads.append(str(path))
        return agc.core.fileio.sha256_file(path)

    monkeypatch.setattr(inputs, "sha256_file", counting)
    monkeypatch.setattr(cachekey, "sha256_file", counting)
    processing = ProcessingConfig(executor="iterative", checkpoints=False)
    run = run_histograms(manifest, processing=processing, samples="wjets", partial_dir=tmp_path)
    assert sorted(reads) == sorted(item["path"] for item in files)
    assert read_partial(run.partials[0]).cache_key
    reads.clear()
    selection = Manifest.load(manifest).select("wjets")
    cached = cached_process_samples(selection, tmp_path / "cache", processing)
    assert cached.computed == ["wjets__nominal"]
    assert sorted(reads) == sorted(item["path"] for item in files)
    assert cached.keys["wjets__nominal"] == read_partial(run.partials[0]).cache_key
