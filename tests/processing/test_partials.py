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
from agc.core.errors import AGCError
from agc.processing.histograms import merge_partials, run_histograms
from agc.processing.output import read_histograms
from agc.processing.partials import PARTIAL_SUFFIX, read_partial


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
