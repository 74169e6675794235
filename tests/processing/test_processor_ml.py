"""The ML extension in the histogram stage: histograms_ml.root, exactness, and what it leaves alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uproot
from toy_nanoaod import write_toy_file

from agc.core import physics
from agc.core.config import ProcessingConfig
from agc.core.errors import AGCError
from agc.core.fileio import sha256_file
from agc.dataset.manifest import Manifest
from agc.processing.histograms import merge_partials, read_histograms, run_histograms
from agc.processing.run import run_processor


@pytest.fixture(scope="module")
def ml_reference(toy_manifest: Path, toy_samples: str, tmp_path_factory) -> dict[str, Any]:
    """The toy samples with the BDT inference, iterative executor, one chunk per file."""
    out = tmp_path_factory.mktemp("ml") / "histograms.root"
    summary = run_histograms(
        toy_manifest,
        out,
        processing=ProcessingConfig(executor="iterative", use_inference=True),
        samples=toy_samples,
    )
    return {"summary": summary, "path": out, "ml": Path(summary.ml_output)}


def test_main_outputs_do_not_change_with_inference(ml_reference, reference) -> None:
    assert sha256_file(ml_reference["path"]) == reference["root"]
    assert sha256_file(ml_reference["path"].with_name("cutflow.json")) == reference["cutflow"]
    assert reference["summary"].ml_output is None
    assert not reference["path"].with_name("histograms_ml.root").exists()


def test_ml_histograms_have_the_agcs_names_and_binning(ml_reference, reference) -> None:
    ml = read_histograms(ml_reference["ml"])
    main = read_histograms(reference["path"])
    expected = set()
    for name in main:
        region, _, rest = name.partition("_")
        if region == physics.ML_REGION:
            expected |= {f"{feature}_{rest}" for feature in physics.ML_FEATURES}
    assert set(ml) == expected
    assert any(name.endswith("_pseudodata") for name in ml)
    for name, h in ml.items():
        feature = next(f for f in physics.ML_FEATURES if name.startswith(f + "_"))
        low, high, _ = physics.ML_FEATURES[feature]
        assert h.axes[0].edges[0] == low
        assert h.axes[0].edges[-1] == high
        assert len(h.axes[0]) == physics.FILL_BINNING[0]
    with uproot.open(ml_reference["ml"]) as handle:
        assert "provenance" in handle


def test_every_ml_bin_holds_the_agc_offset_and_the_4j2b_events(ml_reference, reference) -> None:
    ml = read_histograms(ml_reference["ml"])
    main = read_histograms(reference["path"])
    h = ml["mass_w1w2btophad_ttbar"]
    assert np.all(h.values(flow=True) >= physics.ML_HIST_OFFSET)
    # every 4j2b event has >= 4 jets, so one entry per feature: the same total (+ the offset)
    n_bins = physics.FILL_BINNING[0] + 2
    total = h.values(flow=True).sum() - n_bins * physics.ML_HIST_OFFSET
    assert total == pytest.approx(main["4j2b_ttbar"].values(flow=True).sum(), rel=1e-12)
    assert h.values().sum() > 0.5 * total  # most entries within the AGC's range


def test_ml_histograms_do_not_depend_on_chunking_executor_or_merging(
    ml_reference, toy_manifest: Path, toy_samples: str, tmp_path: Path
) -> None:
    small = run_histograms(
        toy_manifest,
        tmp_path / "a" / "histograms.root",
        processing=ProcessingConfig(
            executor="futures", workers=2, chunksize=333, use_inference=True
        ),
        samples=toy_samples,
    )
    assert sha256_file(small.ml_output) == sha256_file(ml_reference["ml"])
    run_histograms(
        toy_manifest,
        tmp_path / "b" / "histograms.root",
        processing=ProcessingConfig(executor="iterative", chunksize=500, use_inference=True),
        samples=toy_samples,
        partial_dir=tmp_path / "partials",
    )
    merged = merge_partials(tmp_path / "partials", tmp_path / "c" / "histograms.root")
    assert sha256_file(merged.ml_output) == sha256_file(ml_reference["ml"])


def test_checkpoints_resume_with_the_same_ml_histograms(
    ml_reference, toy_manifest: Path, toy_samples: str, tmp_path: Path
) -> None:
    folder = tmp_path / "ck"
    processing = ProcessingConfig(executor="iterative", chunksize=400, use_inference=True)
    selection = Manifest.load(toy_manifest).select(toy_samples)
    kept = run_processor(selection, processing, checkpoint_dir=folder)
    assert kept.chunks["computed"] > 0
    again = run_histograms(
        toy_manifest,
        tmp_path / "histograms.root",
        processing,
        samples=toy_samples,
        checkpoint_dir=folder,
    )
    assert again.processor.chunks["resumed"] == kept.chunks["computed"]
    assert again.processor.chunks["computed"] == 0
    assert sha256_file(again.ml_output) == sha256_file(ml_reference["ml"])


def test_a_file_without_qgl_is_refused_only_with_inference(tmp_path: Path) -> None:
    path = write_toy_file(tmp_path / "ttbar.root", 300, seed=4, drop=("Jet_qgl",))
    inputs = {
        "ttbar": {"nominal": {"nevts_total": 300, "files": [{"path": str(path), "nevts": 300}]}}
    }
    run_histograms(
        inputs,
        tmp_path / "a" / "histograms.root",
        processing=ProcessingConfig(executor="iterative"),
    )
    with pytest.raises(AGCError, match=r"missing branch 'Jet_qgl' in 'Events'"):
        run_histograms(
            inputs,
            tmp_path / "b" / "histograms.root",
            processing=ProcessingConfig(executor="iterative", use_inference=True),
        )


def test_partials_with_ml_features_seed_a_cache_without_them(
    toy_manifest: Path, reference, tmp_path: Path
) -> None:
    from agc.processing.cache import cached_process_samples
    from agc.processing.output import write_histograms

    samples = "ttbar,wjets"
    run_histograms(
        toy_manifest,
        tmp_path / "run" / "histograms.root",
        processing=ProcessingConfig(executor="iterative", use_inference=True),
        samples=samples,
        partial_dir=tmp_path / "partials",
    )
    seeds = sorted((tmp_path / "partials").glob("*.partial.json"))
    cached = cached_process_samples(
        Manifest.load(toy_manifest).select(samples),
        tmp_path / "cache",
        ProcessingConfig(executor="iterative"),
        seeds=seeds,
    )
    assert cached.computed == []
    assert len(cached.seeded) == len(seeds)
    assert not any(s.use_inference for s in cached.samples)
    direct = run_histograms(
        toy_manifest,
        tmp_path / "direct" / "histograms.root",
        processing=ProcessingConfig(executor="iterative"),
        samples=samples,
    )
    written = write_histograms(cached.samples, tmp_path / "seeded" / "histograms.root")
    assert written.ml_output is None
    assert sha256_file(written.output) == sha256_file(direct.output)


def test_merge_refuses_partials_without_ml_when_asked_for_them(
    toy_manifest: Path, tmp_path: Path
) -> None:
    run_histograms(
        toy_manifest,
        tmp_path / "run" / "histograms.root",
        processing=ProcessingConfig(executor="iterative"),
        samples="wjets",
        partial_dir=tmp_path / "partials",
    )
    with pytest.raises(AGCError, match=r"wjets__nominal\.partial\.json holds no ML features"):
        merge_partials(
            tmp_path / "partials", tmp_path / "m" / "histograms.root", use_inference=True
        )
