"""The final files (agc.processing.output, agc.processing.normalisation): histogram naming,
binning and key order, normalisation, pseudo-data, the provenance key and ``cutflow.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uproot

from agc.analysis.processor import BTAG_VARIATIONS
from agc.core import physics
from agc.core.config import ProcessingConfig
from agc.dataset.manifest import Manifest
from agc.processing.output import read_histograms, write_histograms
from agc.processing.run import run_processor


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
        selected = summary.cutflow[f"{process}__nominal"]["4j2b"]
        assert summary.yields["4j2b"][process] == pytest.approx(
            selected * xsec * physics.LUMI_PB / nevts, rel=1e-12
        )


def test_weighted_cutflow_is_the_count_times_the_sample_weight(
    reference: dict[str, Any], toy_manifest: Path
) -> None:
    """cutflow.json's ``weighted``: raw events x xsec * lumi / N_generated per sample and step,
    as the histograms are normalised (the 4j2b value is the nominal 4j2b yield)."""
    data = json.loads(reference["path"].with_name("cutflow.json").read_text())
    summary = reference["summary"]
    assert sorted(data["weighted"]) == sorted(data["samples"])
    manifest = json.loads(toy_manifest.read_text())
    for key, counts in data["samples"].items():
        process, variation = key.split("__")
        xsec = manifest[process][variation].get("xsec", physics.XSEC_PB.get(process))
        norm = xsec * physics.LUMI_PB / summary.n_generated[key]
        assert data["weighted"][key] == {step: n * norm for step, n in counts.items()}
    ttbar = data["weighted"]["ttbar__nominal"]["4j2b"]
    assert ttbar == pytest.approx(summary.yields["4j2b"]["ttbar"], rel=1e-12)


def test_metadata_is_embedded_in_provenance_key(toy_manifest: Path, tmp_path: Path) -> None:
    samples = run_processor(
        Manifest.load(toy_manifest).select("single_top_tW"), ProcessingConfig(executor="iterative")
    ).samples
    out = tmp_path / "histograms.root"
    write_histograms(samples, out, metadata={"run": "test", "inputs": ["a"]})
    with uproot.open(out) as handle:
        assert json.loads(str(handle["provenance"])) == {"inputs": ["a"], "run": "test"}


def test_cutflow_json(reference: dict[str, Any]) -> None:
    data = json.loads(reference["path"].with_name("cutflow.json").read_text())
    assert data["steps"] == ["all", "1_lepton", "ge4_jets", "4j1b", "4j2b"]
    assert sorted(data["samples"]) == sorted(reference["summary"].samples)
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
