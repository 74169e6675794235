"""The ML statistical model (agc.stats.mlmodel): its configuration against the AGC's,
the pruning, the workspace, the fit with the main fit's code, and the regression references.

The default chain takes ``histograms_ml.root`` from the histogram stage on the embedded default
(source "embedded"); the unit tests use small synthetic ML histograms (``tests/ml_helpers.py``).
The references are regenerated with ``make ml-references``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyhf
import pytest
import yaml
from ml_helpers import ML_CONFIG, ml_features, write_ml_histograms
from stats_helpers import CABINETRY_CONFIG, assert_same_model, rounded

from agc.core.config import ProcessingConfig
from agc.core.errors import AGCError
from agc.stats.fit import load_model, run_fit
from agc.stats.histograms import expected_ttbar_norm
from agc.stats.mlmodel import (
    PRUNED_CHANNELS,
    build_ml_workspace,
    main_fit_results,
    ml_template,
    read_fit,
)
from agc.stats.pyhfmodel import model_and_data
from agc.stats.reproducibility import fit_deviations

#: The AGC's utils/config.py "ml" FEATURE_NAMES and BIN_LOW / BIN_HIGH, in order.
AGC_FEATURES: list[tuple[str, float, float]] = [
    ("deltar_leptonbtoplep", 0, 6),
    ("deltar_w1w2", 0, 6),
    ("deltar_w1btophad", 0, 6),
    ("deltar_w2btophad", 0, 6),
    ("mass_leptonbtoplep", 50, 300),
    ("mass_w1w2", 50, 300),
    ("mass_w1w2btophad", 50, 550),
    ("pt_w1w2btophad", 50, 550),
    ("pt_w1", 25, 300),
    ("pt_w2", 25, 300),
    ("pt_btophad", 25, 300),
    ("pt_btoplep", 25, 300),
    ("btag_w1", 0, 1),
    ("btag_w2", 0, 1),
    ("btag_btophad", 0, 1),
    ("btag_btoplep", 0, 1),
    ("qgl_w1", -1, 1),
    ("qgl_w2", -1, 1),
    ("qgl_btophad", -1, 1),
    ("qgl_btoplep", -1, 1),
]
#: The channels the AGC pipeline keeps (ttbar_analysis_pipeline.py prunes the others).
KEPT = ["Feature0", "Feature1", "Feature2", "Feature4", "Feature5", "Feature6", "Feature7"]


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- configuration


def test_ml_config_has_the_agc_features_bins_and_the_main_model_s_names() -> None:
    config = _yaml(ML_CONFIG)
    main = _yaml(CABINETRY_CONFIG)
    regions = config["Regions"]
    assert [r["Name"] for r in regions] == [f"Feature{i}" for i in range(20)]
    assert [r["RegionPath"] for r in regions] == [name for name, _, _ in AGC_FEATURES]
    for (name, low, high), (_, edges) in zip(AGC_FEATURES, ml_features(), strict=True):
        np.testing.assert_allclose(edges, np.linspace(low, high, 26), atol=1e-12, err_msg=name)
    # Sample and systematic names as in the main model (the main fit applies by name), and the
    # AGC's bug fixed: its "single top, t-channel" read the s-channel histograms.
    assert config["Samples"] == main["Samples"]
    paths = {s["Name"]: s["SamplePath"] for s in config["Samples"]}
    assert paths["single top t-channel"] == "single_top_t_chan"
    assert len(set(paths.values())) == len(paths)
    assert config["Systematics"] == main["Systematics"]
    assert config["NormFactors"] == main["NormFactors"]
    assert config["General"]["POI"] == "ttbar_norm"


def test_ml_template_keeps_the_agc_s_channels_and_names_a_bad_prune() -> None:
    template = ml_template(ML_CONFIG)
    assert [r["Name"] for r in template["Regions"]] == KEPT
    assert set(PRUNED_CHANNELS) | set(KEPT) == {f"Feature{i}" for i in range(20)}
    with pytest.raises(AGCError, match=r"pruned channels \['Feature42'\] are not regions") as info:
        ml_template(ML_CONFIG, pruned=("Feature3", "Feature42"))
    assert "\n" not in str(info.value)
    every = tuple(f"Feature{i}" for i in range(20))
    with pytest.raises(AGCError, match="every region is pruned"):
        ml_template(ML_CONFIG, pruned=every)


# ----------------------------------------------------------------------------- workspace


@pytest.fixture(scope="module")
def synthetic_ml(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pyhf.Workspace]:
    base = tmp_path_factory.mktemp("ml_synthetic")
    histograms = write_ml_histograms(base / "histograms_ml.root")
    checked = build_ml_workspace(histograms, base / "ml" / "workspace_ml.json", config=ML_CONFIG)
    return base, checked


def test_ml_workspace_channels_samples_and_non_negative_templates(
    synthetic_ml: tuple[Path, pyhf.Workspace],
) -> None:
    base, checked = synthetic_ml
    assert isinstance(checked, pyhf.Workspace)  # checked once, handed on to the fit as it is
    spec = dict(checked)
    assert json.loads((base / "ml" / "workspace_ml.json").read_text()) == spec
    assert [c["name"] for c in spec["channels"]] == KEPT
    assert (base / "ml" / "histograms_cabinetry").is_dir()
    for channel in spec["channels"]:
        assert [s["name"] for s in channel["samples"]] == [
            "ttbar",
            "W+jets",
            "single top s-channel",
            "single top t-channel",
            "tW",
        ]
        for sample in channel["samples"]:
            assert len(sample["data"]) == 25
            for modifier in sample["modifiers"]:
                if modifier["type"] == "histosys":
                    assert min(modifier["data"]["lo_data"]) >= 0.0
                    assert min(modifier["data"]["hi_data"]) >= 0.0
    (measurement,) = spec["measurements"]
    assert measurement["config"]["poi"] == "ttbar_norm"


def test_the_checked_ml_workspace_fits_as_its_file(
    synthetic_ml: tuple[Path, pyhf.Workspace],
) -> None:
    # The ML step fits the workspace its build checked, without reading the file back.
    base, checked = synthetic_ml
    assert_same_model(model_and_data(checked), load_model(base / "ml" / "workspace_ml.json")[1:])


def test_ml_workspace_names_a_missing_histogram(tmp_path: Path) -> None:
    histograms = write_ml_histograms(tmp_path / "histograms_ml.root")
    config = _yaml(ML_CONFIG)
    config["Samples"].append({"Name": "Z'", "SamplePath": "zprime_1000"})
    with pytest.raises(AGCError, match=r"missing histogram 'deltar_leptonbtoplep_zprime_1000'"):
        build_ml_workspace(histograms, tmp_path / "ml" / "workspace_ml.json", config=config)
    with pytest.raises(AGCError, match=r"absent\.root: histograms file not found"):
        build_ml_workspace(tmp_path / "absent.root", tmp_path / "ml" / "ws.json")
    assert not (tmp_path / "ml" / "workspace_ml.json").exists()


def test_read_fit_gives_back_the_run_of_run_fit(tmp_path: Path) -> None:
    """What the ML stage reads back from its second process's fit is what run_fit returned."""
    from stats_helpers import small_workspace_spec

    workspace = tmp_path / "workspace.json"
    workspace.write_text(json.dumps(small_workspace_spec()))
    run = run_fit(workspace, tmp_path / "fit.json", impacts=False)
    again = read_fit(tmp_path / "fit.json", run.model, run.data)
    assert again.summary == run.summary
    assert again.model is run.model
    assert again.data is run.data
    assert again.ranking_results is None
    for field in run.fit_results._fields:
        ours, theirs = getattr(again.fit_results, field), getattr(run.fit_results, field)
        if isinstance(theirs, np.ndarray | float):
            np.testing.assert_array_equal(ours, theirs, err_msg=field)
        else:
            assert ours == theirs, field


def test_main_fit_results_read_back_and_bad_input(tmp_path: Path) -> None:
    content = {
        "measurement": "m",
        "poi": {"name": "mu", "bestfit": 1.1, "uncertainty": 0.1},
        "parameters": {
            "labels": ["a", "mu"],
            "types": ["normsys", "normfactor"],
            "bestfit": [0.5, 1.1],
            "uncertainty": [0.9, 0.1],
            "prefit_uncertainty": [1.0, 0.0],
        },
        "correlation_matrix": [[1.0, -0.25], [-0.25, 1.0]],
        "best_twice_nll": 12.5,
        "goodness_of_fit": 0.5,
        "impacts": None,
        "fit": {},
    }
    path = tmp_path / "fit_results.json"
    path.write_text(json.dumps(content))
    results = main_fit_results(path)
    assert results.labels == ["a", "mu"]
    np.testing.assert_array_equal(results.bestfit, [0.5, 1.1])
    np.testing.assert_array_equal(results.corr_mat, [[1.0, -0.25], [-0.25, 1.0]])
    assert results.best_twice_nll == 12.5
    with pytest.raises(AGCError, match=r"main fit results not found: .*absent\.json"):
        main_fit_results(tmp_path / "absent.json")
    del content["parameters"]
    path.write_text(json.dumps(content))
    with pytest.raises(AGCError, match=r"fit_results\.json: not a fit_results\.json \(KeyError"):
        main_fit_results(path)


# ----------------------------------------------------------------------------- default chain

_RUN: dict[str, Any] = {}


@pytest.fixture(scope="module")
def ml_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """histograms_ml.root of the embedded default (the histogram stage with use_inference; a
    run of its own, so the shared non-ML ``embedded_histograms`` stays cheap for the numerics
    legs) -> ML workspace -> ML fit, once."""
    if not _RUN:
        from agc.processing.histograms import run_histograms

        base = tmp_path_factory.mktemp("ml_default")
        manifest = request.getfixturevalue("embedded_manifest")
        processing = ProcessingConfig(
            executor="futures", workers=2, checkpoints=False, use_inference=True
        )
        run = run_histograms(manifest, base / "histograms.root", processing)
        path = Path(run.ml_output)
        workspace = base / "ml" / "workspace_ml.json"
        spec = dict(build_ml_workspace(path, workspace, config=ML_CONFIG))
        run = run_fit(
            workspace, base / "ml" / "fit_results_ml.json", impacts=False, exact_derivatives=True
        )
        _RUN.update(source="embedded", histograms=path, spec=spec, results=run.summary.to_dict())
    return _RUN


def _without_staterrors(results: dict) -> dict:
    """The minimiser outputs of a fit_results.json without the ~175 MC-statistics gammas (the
    POI, the systematics, their correlations): what the ML regression reference holds."""
    pars = results["parameters"]
    keep = [i for i, kind in enumerate(pars["types"]) if kind != "staterror"]
    corr = np.asarray(results["correlation_matrix"])[np.ix_(keep, keep)]
    return {
        "poi": results["poi"],
        "parameters": {key: [values[i] for i in keep] for key, values in pars.items()},
        "correlation_matrix": corr.tolist(),
        "best_twice_nll": results["best_twice_nll"],
        "goodness_of_fit": results["goodness_of_fit"],
    }


def test_ml_workspace_regression(ml_run: dict, data_regression) -> None:
    data_regression.check(rounded(ml_run["spec"]), basename=f"workspace_ml_{ml_run['source']}")


def test_ml_fit_regression(ml_run: dict, contract_regression) -> None:
    """POI, systematics and their correlations, -2 ln L and goodness of fit against the stored
    reference under the main fit's reproducibility contract (agc.stats.reproducibility)."""
    obtained = _without_staterrors(ml_run["results"])
    assert obtained["poi"]["name"] == "ttbar_norm"
    assert "staterror" not in obtained["parameters"]["types"]
    contract_regression.check(obtained, f"fit_results_ml_{ml_run['source']}", fit_deviations)


def test_ml_fit_is_a_fit_results_json(ml_run: dict) -> None:
    results = ml_run["results"]
    assert results["fit"]["success"] is True
    assert (
        results["impacts"] is None
    )  # no ranking: ~190 parameters (see agc.workflow.stages.ml_fit)
    n = len(results["parameters"]["labels"])
    assert np.asarray(results["correlation_matrix"]).shape == (n, n)


def test_ml_physics_check_ttbar_norm(ml_run: dict) -> None:
    """The ML fit's ttbar_norm agrees, within twice its uncertainty, with what the pseudo-data of
    the features it fits contains, (D - B) / S over the kept channels' bins."""
    template = ml_template(ML_CONFIG)
    expected = [
        expected_ttbar_norm(
            ml_run["histograms"], regions=(region["RegionPath"],), edges=tuple(region["Binning"])
        )[0]
        for region in template["Regions"]
    ]
    poi = ml_run["results"]["poi"]
    print(
        f"\n[physics] ML fit ttbar_norm {poi['bestfit']:.4f} +- {poi['uncertainty']:.4f} "
        f"({ml_run['source']}); (D - B) / S per channel {np.round(expected, 4).tolist()}"
    )
    assert abs(poi["bestfit"] - float(np.mean(expected))) < 2 * poi["uncertainty"]
