"""The statistical model: cabinetry configuration and pyhf workspace (agc.stats.model)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import boost_histogram as bh
import cabinetry
import numpy as np
import pyhf
import pytest
import uproot
import yaml
from stats_helpers import rounded, synthetic_contents, write_synthetic_histograms

from agc.core import physics
from agc.core.errors import AGCError
from agc.stats.histograms import rebin
from agc.stats.model import (
    DEFAULT_CONFIG,
    build_config,
    build_workspace,
    load_template,
    plain_json,
)

CARD_SAMPLES = {"ttbar", "W+jets", "single top s-channel", "single top t-channel", "tW"}


@pytest.fixture(scope="module")
def histograms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_histograms(tmp_path_factory.mktemp("hists") / "histograms.root")


@pytest.fixture(scope="module")
def workspace(histograms: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("model") / "workspace.json"
    return out, build_workspace(histograms, out, config=DEFAULT_CONFIG_PATH)


REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_PATH = REPO / DEFAULT_CONFIG


# ----------------------------------------------------------------------------- configuration


def test_template_is_the_card_model() -> None:
    template = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    assert cabinetry.configuration.validate(template)
    assert template["General"]["Measurement"] == "CMS_ttbar"
    assert template["General"]["POI"] == "ttbar_norm"
    assert [r["Name"] for r in template["Regions"]] == ["4j1b CR", "4j2b SR"]
    assert {r["RegionPath"] for r in template["Regions"]} == set(physics.REGIONS)
    data = [s for s in template["Samples"] if s.get("Data")]
    assert [s["SamplePath"] for s in data] == ["pseudodata"]
    mc = {s["Name"]: s["SamplePath"] for s in template["Samples"] if not s.get("Data")}
    assert set(mc) == CARD_SAMPLES
    assert set(mc.values()) == set(physics.VARIATIONS)
    systematics = {s["Name"]: s for s in template["Systematics"]}
    paths = {
        s["Up"].get("VariationPath") for s in systematics.values() if s["Type"] == "NormPlusShape"
    } | {
        s["Down"].get("VariationPath") for s in systematics.values() if "VariationPath" in s["Down"]
    }
    expected = {"_pt_scale_up", "_pt_res_up", "_scaleup", "_scaledown", "_ME_var", "_PS_var"}
    expected |= {
        f"_btag_var_{i}_{d}" for i in range(physics.N_BTAG_VAR_JETS) for d in ("up", "down")
    }
    expected |= {f"_{name}" for name in physics.WJETS_SCALE_VAR}
    assert paths == expected
    symmetrised = {
        s["Up"]["VariationPath"] for s in systematics.values() if s["Down"].get("Symmetrize")
    }
    assert symmetrised == {"_pt_scale_up", "_pt_res_up", "_ME_var", "_PS_var"}
    lumi = [s for s in systematics.values() if s["Type"] == "Normalization"]
    assert len(lumi) == 1
    assert lumi[0]["Up"]["Normalization"] == pytest.approx(physics.LUMI_UNCERTAINTY)
    assert lumi[0]["Down"]["Normalization"] == pytest.approx(-physics.LUMI_UNCERTAINTY)
    assert all(s["Type"] in ("NormPlusShape", "Normalization") for s in systematics.values())
    (norm,) = template["NormFactors"]
    assert norm == {"Name": "ttbar_norm", "Samples": "ttbar", "Nominal": 1.0, "Bounds": [0.0, 10.0]}


def test_build_config_fills_path_binning_and_poi(tmp_path: Path) -> None:
    hists = tmp_path / "my histograms.root"
    config = build_config(hists, DEFAULT_CONFIG_PATH)
    assert (
        config["General"]["InputPath"] == f"{hists}:{{RegionPath}}_{{SamplePath}}{{VariationPath}}"
    )
    for region in config["Regions"]:
        assert region["Binning"] == list(physics.MODEL_BIN_EDGES)
    assert config["Regions"][0]["Binning"] == [110.0 + 40.0 * i for i in range(12)]
    assert config["General"]["POI"] == "ttbar_norm"
    assert cabinetry.configuration.validate(config)
    # The template on disk and a loaded mapping give the same result.
    assert build_config(hists, load_template(DEFAULT_CONFIG_PATH)) == config


def test_signal_and_poi_are_parameters() -> None:
    config = build_config("h.root", DEFAULT_CONFIG_PATH, signal="zprime_1000", poi="mu_sig")
    assert config["General"]["POI"] == "mu_sig"
    samples = {s["Name"]: s for s in config["Samples"]}
    assert samples["zprime_1000"]["SamplePath"] == "zprime_1000"
    norms = {n["Name"]: n for n in config["NormFactors"]}
    assert norms["mu_sig"]["Samples"] == "zprime_1000"
    assert norms["ttbar_norm"]["Samples"] == "ttbar"  # ttbar keeps its free normalisation
    renamed = build_config("h.root", DEFAULT_CONFIG_PATH, signal="ttbar", poi="mu_ttbar")
    assert [n["Name"] for n in renamed["NormFactors"]] == ["mu_ttbar"]
    assert renamed["General"]["POI"] == "mu_ttbar"


@pytest.mark.parametrize(
    ("signal", "poi", "message"),
    [
        ("zprime 1000", "mu_sig", "parameter 'signal'"),
        ("ttbar", "", "parameter 'poi'"),
        ("pseudodata", "mu", "signal 'pseudodata' is the data sample"),
        ("zprime_1000", "ttbar_norm", "POI 'ttbar_norm' is already"),
    ],
)
def test_bad_signal_or_poi(signal: str, poi: str, message: str) -> None:
    with pytest.raises(AGCError, match=message):
        build_config("h.root", DEFAULT_CONFIG_PATH, signal=signal, poi=poi)


def _mutated(change) -> dict:
    config = load_template(DEFAULT_CONFIG_PATH)
    change(config)
    return config


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda c: c["Regions"][0].update({"Nme": "typo"}), "Regions/0"),
        (lambda c: c["General"].pop("Measurement"), "General"),
        (lambda c: c["Systematics"][3].update({"Type": "Shape"}), "Systematics/3/Type"),
        (lambda c: c["NormFactors"][0].update({"Bounds": "wide"}), "NormFactors/0/Bounds"),
    ],
)
def test_malformed_config_names_the_key(change, key: str) -> None:
    config = _mutated(change)
    with pytest.raises(AGCError, match=f"invalid key at '{key}'") as info:
        build_config("h.root", config)
    assert "\n" not in str(info.value)


def test_malformed_config_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("General:\n  Measurement: [unclosed\n")
    with pytest.raises(AGCError, match=r"bad\.yaml: line \d+ invalid YAML"):
        build_config("h.root", bad)
    with pytest.raises(AGCError, match="cannot read cabinetry config"):
        build_config("h.root", tmp_path / "absent.yaml")
    not_a_map = tmp_path / "list.yaml"
    not_a_map.write_text("- 1\n- 2\n")
    with pytest.raises(AGCError, match="must be a mapping"):
        build_config("h.root", not_a_map)
    duplicate = _mutated(lambda c: c["Samples"].append(copy.deepcopy(c["Samples"][1])))
    with pytest.raises(AGCError):
        build_config("h.root", duplicate)


# ----------------------------------------------------------------------------- rebinning


def test_plain_json_keeps_types_and_names_a_non_finite_number() -> None:
    value = {"a": [1.5, np.float64(2.5), np.float32(0.25), 3, True, "x"], 7: (np.int64(4),)}
    plain = plain_json(value)
    assert plain == {"a": [1.5, 2.5, 0.25, 3, True, "x"], "7": [4]}
    assert [type(v) for v in plain["a"]] == [float, float, float, int, bool, str]
    assert type(plain["7"][0]) is int
    for bad in (np.nan, np.float64(np.inf), np.float32(-np.inf)):
        with pytest.raises(AGCError, match=r"non-finite value .* at '/c/0/d/1'"):
            plain_json({"c": [{"d": [1.0, bad]}]})


def test_rebin_merges_bins_and_variances() -> None:
    h = bh.Histogram(bh.axis.Regular(25, 50, 550), storage=bh.storage.Weight())
    values = np.arange(1.0, 26.0)
    h.view()["value"] = values
    h.view()["variance"] = 2 * values
    h.view(flow=True)["value"][0] = 1000.0  # underflow: dropped
    merged = rebin(h, physics.MODEL_BIN_EDGES, "h")
    assert list(merged.axes[0].edges) == list(physics.MODEL_BIN_EDGES)
    # Fill bin i covers [50 + 20 i, 70 + 20 i): model bin 0 = fill bins 3 and 4 (values 4 and 5).
    expected = values[3:].reshape(11, 2).sum(axis=1)
    np.testing.assert_array_equal(merged.values(), expected)
    np.testing.assert_array_equal(merged.variances(), 2 * expected)
    with pytest.raises(AGCError, match="model bin edge 115"):
        rebin(h, [110.0, 115.0, 550.0], "h")


# ----------------------------------------------------------------------------- workspace


def test_workspace_validates_and_has_the_card_content(histograms: Path, workspace) -> None:
    path, ws = workspace
    assert json.loads(path.read_text()) == ws
    pyhf.Workspace(ws)  # schema validation
    model = pyhf.Workspace(ws).model()
    assert model.config.poi_name == "ttbar_norm"
    assert model.config.suggested_bounds()[model.config.poi_index] == [0.0, 10.0]
    assert ws["measurements"][0]["name"] == "CMS_ttbar"
    assert [c["name"] for c in ws["channels"]] == ["4j1b CR", "4j2b SR"]
    for channel in ws["channels"]:
        assert {s["name"] for s in channel["samples"]} == CARD_SAMPLES
        for sample in channel["samples"]:
            assert len(sample["data"]) == len(physics.MODEL_BIN_EDGES) - 1
            kinds = {(m["name"], m["type"]) for m in sample["modifiers"]}
            assert ("Luminosity", "normsys") in kinds
            assert ("Jet energy scale", "histosys") in kinds
            assert ("b-tag NP 4", "normsys") in kinds
            assert (("ME variation", "normsys") in kinds) == (sample["name"] == "ttbar")
            assert (("W+jets scale variations", "normsys") in kinds) == (sample["name"] == "W+jets")
    # Observations are the rebinned pseudo-data, read independently with uproot.
    with uproot.open(histograms) as f:
        for obs, region in zip(ws["observations"], ("4j1b", "4j2b"), strict=True):
            fill = f[f"{region}_pseudodata"].values()
            np.testing.assert_allclose(obs["data"], fill[3:].reshape(11, 2).sum(axis=1), rtol=1e-12)
    # ME variation is symmetrised: lo = 2 - hi (normsys) in every region.
    for channel in ws["channels"]:
        (ttbar,) = [s for s in channel["samples"] if s["name"] == "ttbar"]
        (me,) = [
            m for m in ttbar["modifiers"] if m["name"] == "ME variation" and m["type"] == "normsys"
        ]
        assert me["data"]["lo"] == pytest.approx(2 - me["data"]["hi"])


def test_workspace_is_reproducible(histograms: Path, workspace, tmp_path: Path) -> None:
    path, _ = workspace
    again = tmp_path / "workspace.json"
    build_workspace(histograms, again, config=DEFAULT_CONFIG_PATH)
    build_workspace(histograms, again, config=DEFAULT_CONFIG_PATH)  # over existing outputs
    assert again.read_bytes() == path.read_bytes()
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == ["histograms_cabinetry", "workspace.json"]
    assert (tmp_path / "histograms_cabinetry" / "4j2b-SR_ttbar_modified.npz").is_file()


def test_workspace_regression(workspace, data_regression) -> None:
    _, ws = workspace
    data_regression.check(rounded(ws))


def test_missing_histogram_names_it(tmp_path: Path) -> None:
    hists = write_synthetic_histograms(tmp_path / "h.root", drop=["4j2b_wjets_scale_var_down"])
    out = tmp_path / "out" / "workspace.json"
    out.parent.mkdir()
    out.write_text("previous\n")
    with pytest.raises(AGCError) as info:
        build_workspace(hists, out, config=DEFAULT_CONFIG_PATH)
    message = str(info.value)
    assert "missing histogram '4j2b_wjets_scale_var_down'" in message
    assert "region '4j2b SR'" in message
    assert "sample 'W+jets'" in message
    assert "variation 'W+jets scale variations Down'" in message
    assert out.read_text() == "previous\n"  # untouched
    assert sorted(p.name for p in out.parent.iterdir()) == ["workspace.json"]  # no temp folder left


def test_missing_or_bad_histograms_file(tmp_path: Path) -> None:
    with pytest.raises(AGCError, match=r"absent\.root: histograms file not found"):
        build_workspace(tmp_path / "absent.root", tmp_path / "ws.json", config=DEFAULT_CONFIG_PATH)
    junk = tmp_path / "junk.root"
    junk.write_bytes(b"not a ROOT file")
    with pytest.raises(AGCError, match=r"junk\.root: cannot open as ROOT file"):
        build_workspace(junk, tmp_path / "ws.json", config=DEFAULT_CONFIG_PATH)
    assert not (tmp_path / "ws.json").exists()


def test_zprime_signal_workspace(tmp_path: Path) -> None:
    hists = write_synthetic_histograms(tmp_path / "h.root", signals=["zprime_1000"])
    ws = build_workspace(
        hists, tmp_path / "ws.json", config=DEFAULT_CONFIG_PATH, signal="zprime_1000", poi="mu_sig"
    )
    model = pyhf.Workspace(ws).model()
    assert model.config.poi_name == "mu_sig"
    assert "ttbar_norm" in model.config.par_names
    for channel in ws["channels"]:
        (zp,) = [s for s in channel["samples"] if s["name"] == "zprime_1000"]
        names = {(m["name"], m["type"]) for m in zp["modifiers"]}
        assert ("mu_sig", "normfactor") in names
        assert ("Jet energy resolution", "histosys") in names
        assert ("ttbar_norm", "normfactor") not in names
        region = channel["name"].split()[0]
        fill = synthetic_contents(["zprime_1000"])[f"{region}_zprime_1000"][0]
        np.testing.assert_allclose(zp["data"], fill[3:].reshape(11, 2).sum(axis=1), rtol=1e-12)
