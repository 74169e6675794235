"""The published likelihood on hand-made workspaces: patches, PatchSet, summary of limits."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import jsonpatch
import pyhf
import pytest

from agc.core.errors import AGCError
from agc.core.fileio import write_json
from agc.reinterpret.patchset import (
    HEPDATA_PLACEHOLDER,
    LIMITS,
    PATCH,
    build_patchset,
    collect_limits,
    signal_patch,
    sorted_spec,
)
from agc.reinterpret.results import LimitsSummary, PointLimits
from agc.reinterpret.signals import SignalDeclaration


def workspace(signal: str | None = None, yields: float = 1.0) -> dict[str, Any]:
    """One channel, ttbar (free ``ttbar_norm``) and, with ``signal``, a signal scaled by mu_sig."""
    samples = [
        {
            "name": "ttbar",
            "data": [50.0, 40.0],
            "modifiers": [{"name": "ttbar_norm", "type": "normfactor", "data": None}],
        }
    ]
    poi = "ttbar_norm"
    if signal is not None:
        poi = "mu_sig"
        samples.append(
            {
                "name": signal,
                "data": [yields, 2.0 * yields],
                "modifiers": [{"name": "mu_sig", "type": "normfactor", "data": None}],
            }
        )
    return {
        "channels": [{"name": "SR", "samples": samples}],
        "observations": [{"name": "SR", "data": [51.0, 42.0]}],
        "measurements": [{"name": "m", "config": {"poi": poi, "parameters": []}}],
        "version": "1.0.0",
    }


def declaration(name: str, mass: float) -> SignalDeclaration:
    return SignalDeclaration(
        name=name,
        xsec=1.5,
        filter_efficiency=1.0,
        labels={"mass": mass},
        files=[],
        source=f"inputs/signals/{name}.yaml",
        description=f"Z' {mass:g} GeV",
    )


def add_point(
    folder: Path, bkg_only: dict[str, Any], name: str, mass: float, limits: bool = True
) -> None:
    digest = pyhf.utils.digest(bkg_only, algorithm="sha256")
    entry = signal_patch(declaration(name, mass), bkg_only, digest, workspace(name, mass / 1000))
    write_json(folder / name / PATCH, entry)
    if limits:
        write_json(
            folder / name / LIMITS,
            {"observed": mass / 100, "expected": {"0": 1.0}, "poi": "mu_sig", "points": []},
        )


def test_patch_turns_bkg_only_into_the_signal_workspace() -> None:
    bkg_only = sorted_spec(workspace())
    signal = workspace("zprime_1000")
    entry = signal_patch(declaration("zprime_1000", 1000.0), bkg_only, "abc", signal)
    assert entry["bkg_only_sha256"] == "abc"
    assert entry["labels"] == ["mass"]
    assert entry["patch"]["metadata"]["values"] == [1000.0]
    assert entry["patch"]["metadata"]["xsec_pb"] == 1.5
    patched = jsonpatch.apply_patch(bkg_only, entry["patch"]["patch"])
    assert patched == sorted_spec(signal)


def test_patchset_joins_current_points_sorted_and_leaves_stale_ones_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bkg_only = sorted_spec(workspace())
    assert build_patchset(tmp_path, bkg_only) is None
    add_point(tmp_path, bkg_only, "zprime_2000", 2000.0)
    add_point(tmp_path, bkg_only, "zprime_500", 500.0)
    stale = sorted_spec(workspace("other"))  # another BkgOnly
    add_point(tmp_path, stale, "zprime_750", 750.0)
    with caplog.at_level(logging.WARNING):
        spec = build_patchset(tmp_path, bkg_only)
    assert spec is not None
    assert "zprime_750" in caplog.text
    assert [p["metadata"]["name"] for p in spec["patches"]] == ["zprime_500", "zprime_2000"]
    assert spec["metadata"]["references"] == {"hepdata": HEPDATA_PLACEHOLDER}
    patchset = pyhf.PatchSet(spec)
    patchset.verify(bkg_only)
    assert sorted_spec(dict(patchset.apply(bkg_only, "zprime_500"))) == sorted_spec(
        workspace("zprime_500", 0.5)
    )


def test_patchset_refuses_points_with_other_labels(tmp_path: Path) -> None:
    bkg_only = sorted_spec(workspace())
    add_point(tmp_path, bkg_only, "zprime_500", 500.0)
    add_point(tmp_path, bkg_only, "zprime_900", 900.0)
    path = tmp_path / "zprime_900" / PATCH
    entry = json.loads(path.read_text())
    entry["labels"] = ["width"]
    write_json(path, entry)
    with pytest.raises(AGCError, match=r"zprime_900/patch.json: labels \['width'\] differ"):
        build_patchset(tmp_path, bkg_only)


def test_limits_summary_of_current_points_with_limits(tmp_path: Path) -> None:
    bkg_only = sorted_spec(workspace())
    digest = pyhf.utils.digest(bkg_only, algorithm="sha256")
    add_point(tmp_path, bkg_only, "zprime_2000", 2000.0)
    add_point(tmp_path, bkg_only, "zprime_1000", 1000.0)
    add_point(tmp_path, bkg_only, "zprime_1500", 1500.0, limits=False)
    summary = collect_limits(tmp_path, digest)
    assert summary == LimitsSummary(
        bkg_only_sha256=digest,
        points=[
            PointLimits(
                "zprime_1000",
                {"mass": 1000.0},
                {"observed": 10.0, "expected": {"0": 1.0}, "poi": "mu_sig"},
            ),
            PointLimits(
                "zprime_2000",
                {"mass": 2000.0},
                {"observed": 20.0, "expected": {"0": 1.0}, "poi": "mu_sig"},
            ),
        ],
    )
    assert summary.to_dict()["points"][0] == {
        "signal": "zprime_1000",
        "mass": 1000.0,
        "limits": {"observed": 10.0, "expected": {"0": 1.0}, "poi": "mu_sig"},
    }
    assert collect_limits(tmp_path, "0" * 64).points == []
