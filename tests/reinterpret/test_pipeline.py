"""Signal swap: cache, round trip to the main fit, published patchset, limits regression.

One session fixture runs ``reinterpret("ttbar")`` on a cold cache (processes every background
sample once), then ``reinterpret(zprime_1000)``, counting what ``run_processor`` is asked to do:
on the small dataset with the small model of ``engine_helpers.write_engine_model`` (``swap``: its
limit fits are seconds), and on the embedded default with the default model for the limits'
regression reference (``embedded_swap``, ``make test-full``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyhf
import pytest
from engine_helpers import write_engine_model

from agc.core.config import ProcessingConfig
from agc.core.errors import AGCError
from agc.dataset.manifest import GENERATION_RECORD, Manifest, SelectedSample
from agc.dataset.origin import DataOrigin
from agc.processing import cache as cache_module
from agc.processing.cache import HistogramCache, cached_process_samples
from agc.processing.histograms import run_histograms
from agc.processing.partials import read_partial
from agc.processing.run import run_processor
from agc.reinterpret import pipeline as reinterpret_module
from agc.reinterpret.patchset import sorted_spec
from agc.reinterpret.pipeline import reinterpret, resolve_request
from agc.stats.fit import run_fit
from agc.stats.model import DEFAULT_CONFIG, build_workspace
from agc.stats.reproducibility import limit_deviations

REPO = Path(__file__).resolve().parents[2]
SIGNAL = "inputs/signals/zprime_1000.yaml"
BACKGROUNDS = [
    "single_top_s_chan__nominal",
    "single_top_tW__nominal",
    "single_top_t_chan__nominal",
    "ttbar__ME_var",
    "ttbar__PS_var",
    "ttbar__nominal",
    "ttbar__scaledown",
    "ttbar__scaleup",
    "wjets__nominal",
]


@contextlib.contextmanager
def counting_run_processor() -> Iterator[list[str]]:
    """Inside: the samples of every ``run_processor`` call of the cache are listed (comma
    separated; patched where the cache looks it up)."""
    calls: list[str] = []
    original = cache_module.run_processor

    def counting(samples: list[SelectedSample], *args: Any, **kwargs: Any) -> Any:
        calls.append(",".join(sample.key for sample in samples))
        return original(samples, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cache_module, "run_processor", counting)
        yield calls


def run_swap(manifest: Path, outdir: Path, config: Path | str = DEFAULT_CONFIG) -> dict[str, Any]:
    """A cold ttbar run then a Z' (1000 GeV) swap on the dataset of ``manifest`` with the cabinetry
    template ``config`` in one output folder ``outdir``; the run_processor calls of each."""
    where = {"workspace": REPO, "embedded_manifest": manifest}
    options = {"outdir": outdir, "processing": ProcessingConfig(workers=2), "config": config}
    with counting_run_processor() as calls:
        main = reinterpret(resolve_request("ttbar", manifest, **where), **options)
        calls_main = list(calls)
        calls.clear()
        # what `agc reinterpret --signal ttbar` (agc.workflow.stages) leaves: a real swap removes it
        (outdir / "reinterpretation" / reinterpret_module.NOTE).write_text(
            "nothing reinterpreted\n"
        )
        zprime = reinterpret(resolve_request(SIGNAL, manifest, **where), **options)
    return {
        "outdir": outdir,
        "main": main,
        "zprime": zprime,
        "calls_main": calls_main,
        "calls_swap": list(calls),
        "options": options,
        "where": where,
    }


@pytest.fixture(scope="session")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cabinetry template of ``engine_helpers.write_engine_model`` (6 parameters)."""
    inputs = tmp_path_factory.mktemp("small_model")
    shutil.copy(REPO / "inputs" / "cabinetry.yaml", inputs / "cabinetry.yaml")
    return write_engine_model(inputs)


@pytest.fixture(scope="session")
def swap(
    small_embedded_manifest: Path, small_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """:func:`run_swap` on the small dataset with the small model."""
    return run_swap(small_embedded_manifest, tmp_path_factory.mktemp("reinterpret"), small_model)


@pytest.fixture(scope="session")
def embedded_swap(
    embedded_manifest: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """:func:`run_swap` on the embedded default (its limits' regression reference)."""
    return run_swap(embedded_manifest, tmp_path_factory.mktemp("reinterpret_embedded"))


def test_swap_processes_only_the_signal(swap: dict[str, Any]) -> None:
    """(Needs a stable event-processing code: the cache key includes agc.core.codeversion.processing_hash.)"""
    assert swap["main"].processed == BACKGROUNDS
    assert swap["main"].cached == []
    assert swap["zprime"].processed == ["zprime_1000__nominal"]
    assert swap["zprime"].cached == BACKGROUNDS
    assert swap["calls_swap"] == ["zprime_1000__nominal"]
    assert len(swap["calls_main"]) == 1
    # Benchmark figures (printed, not asserted): cold run vs swap, same session.
    cold, warm = swap["main"].timing_s, swap["zprime"].timing_s
    print(f"\nreinterpret timing [s]: cold ttbar run {cold}; zprime_1000 swap {warm}")
    assert list(swap["zprime"].to_dict()) == [
        "signal",
        "declaration",
        "processed",
        "cached",
        "seeded",
        "cache_keys",
        "histograms",
        "workspace",
        "bkg_only",
        "bkg_only_sha256",
        "patchset",
        "fit",
        "limits",
        "plots",
        "summary",
        "timing_s",
        "lumi_pb",
    ]
    entries = sorted(p.name for p in (swap["outdir"] / "cache").iterdir())
    assert entries == sorted(swap["zprime"].cache_keys.values())


def test_cached_sums_equal_a_fresh_processing(
    swap: dict[str, Any], small_embedded_manifest: Path
) -> None:
    cache = HistogramCache(swap["outdir"] / "cache")
    key = swap["zprime"].cache_keys["single_top_tW__nominal"]
    cached = cache.get(key)
    (fresh,) = run_processor(
        Manifest.load(small_embedded_manifest).select("single_top_tW"),
        ProcessingConfig(executor="iterative", chunksize=7_000),
    ).samples
    assert cached is not None
    assert np.array_equal(cached.sums.view(flow=True), fresh.sums.view(flow=True))
    assert cached.nevts == fresh.nevts


def test_round_trip_reproduces_the_main_fit(
    swap: dict[str, Any], run_outputs: Path, small_model: Path, tmp_path: Path
) -> None:
    """signal=ttbar: the BkgOnly workspace is the main workspace (of the main run's histograms,
    ``run_outputs``, with the swap's model) and the fit gives its ttbar_norm."""
    histograms = run_outputs / "histograms.root"
    cutflow = json.loads((run_outputs / "cutflow.json").read_text())
    assert sorted(cutflow["samples"]) == BACKGROUNDS
    main_spec = build_workspace(histograms, tmp_path / "workspace.json", config=small_model)
    bkg_only = json.loads((swap["outdir"] / "reinterpretation" / "BkgOnly.json").read_text())
    assert sorted_spec(main_spec) == bkg_only
    main_fit = run_fit(tmp_path / "workspace.json", tmp_path / "fit_results.json", impacts=False)
    assert main_fit.summary.poi.name == "ttbar_norm"
    assert swap["main"].fit.poi == main_fit.summary.poi
    assert swap["main"].to_dict()["fit"]["poi"] == main_fit.summary.poi.to_dict()


def test_patchset_is_valid_verified_and_gives_the_fitted_workspace(swap: dict[str, Any]) -> None:
    folder = swap["outdir"] / "reinterpretation"
    bkg_only = json.loads((folder / "BkgOnly.json").read_text())
    spec = json.loads((folder / "patchset.json").read_text())
    patchset = pyhf.PatchSet(spec)  # validates against pyhf's patchset schema
    assert patchset.digests == {"sha256": pyhf.utils.digest(bkg_only, algorithm="sha256")}
    assert patchset.labels == ["mass"]
    assert [p.name for p in patchset.patches] == ["zprime_1000"]
    assert tuple(patchset.patches[0].values) == (1000.0,)
    patched = patchset.apply(bkg_only, "zprime_1000")
    fitted = json.loads((folder / "zprime_1000" / "workspace.json").read_text())
    assert sorted_spec(dict(patched)) == sorted_spec(fitted)
    assert patched.get_measurement()["config"]["poi"] == "mu_sig"
    pyhf_cli = Path(sys.executable).with_name("pyhf")
    result = subprocess.run(
        [
            str(pyhf_cli),
            "patchset",
            "verify",
            str(folder / "BkgOnly.json"),
            str(folder / "patchset.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def pyhf_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run pyhf's command line (the one beside the interpreter)."""
    pyhf_exe = Path(sys.executable).with_name("pyhf")
    return subprocess.run(
        [str(pyhf_exe), *args], capture_output=True, text=True, check=False, timeout=120
    )


def test_every_bkg_only_verifies_and_patches_to_each_signal_workspace(
    swap: dict[str, Any],
) -> None:
    """One BkgOnly.json per background model: every one the run leaves is the same bytes, passes
    `pyhf patchset verify` and `pyhf patchset apply` gives each signal's fitted workspace."""
    outdir = swap["outdir"]
    folder = outdir / "reinterpretation"
    copies = sorted(outdir.rglob("BkgOnly.json"))
    assert copies == [folder / "BkgOnly.json"]
    assert len({p.read_bytes() for p in copies}) == 1
    patchset = pyhf.PatchSet(json.loads((folder / "patchset.json").read_text()))
    assert [p.name for p in patchset.patches] == ["zprime_1000"]
    for bkg in copies:
        verify = pyhf_cli("patchset", "verify", str(bkg), str(folder / "patchset.json"))
        assert verify.returncode == 0, verify.stderr
        for patch in patchset.patches:
            applied = pyhf_cli(
                "patchset", "apply", str(bkg), str(folder / "patchset.json"), "--name", patch.name
            )
            assert applied.returncode == 0, applied.stderr
            fitted = json.loads((folder / patch.name / "workspace.json").read_text())
            assert sorted_spec(json.loads(applied.stdout)) == sorted_spec(fitted)


def test_a_swap_removes_the_nothing_reinterpreted_note(swap: dict[str, Any]) -> None:
    folder = swap["outdir"] / "reinterpretation"
    assert not (folder / reinterpret_module.NOTE).exists()
    assert (folder / "zprime_1000" / "limits.json").is_file()


def test_signal_workspace_keeps_ttbar_norm_free(swap: dict[str, Any]) -> None:
    fitted = json.loads(
        (swap["outdir"] / "reinterpretation" / "zprime_1000" / "workspace.json").read_text()
    )
    model = pyhf.Workspace(fitted).model()
    assert model.config.poi_name == "mu_sig"
    assert "ttbar_norm" in model.config.parameters
    assert not model.config.param_set("ttbar_norm").suggested_fixed[0]


def test_limits_outputs(swap: dict[str, Any]) -> None:
    folder = swap["outdir"] / "reinterpretation"
    limits = json.loads((folder / "zprime_1000" / "limits.json").read_text())
    exp = limits["expected"]
    assert exp["-2"] < exp["-1"] < exp["0"] < exp["1"] < exp["2"]
    assert limits["converged"]
    assert limits["poi"] == "mu_sig"
    assert limits["level"] == 0.05
    assert all(isinstance(p["cls_expected"][2], float) for p in limits["points"])
    for ext in ("pdf", "png"):
        assert (folder / "zprime_1000" / f"limit_scan.{ext}").stat().st_size > 0
    summary = json.loads((folder / "summary.json").read_text())
    assert [p["signal"] for p in summary["points"]] == ["zprime_1000"]
    assert summary["points"][0]["mass"] == 1000.0
    assert summary["points"][0]["limits"]["observed"] == limits["observed"]
    assert swap["zprime"].summary == str(folder / "summary.json")


def test_limits_are_where_pyhf_hypotest_gives_cls_005(swap: dict[str, Any]) -> None:
    """pyhf.infer.hypotest (five fits per point, from the suggested start) at our observed and
    median expected limits returns CLs = 0.05 (to the fits' precision).

    An independent check, so pyhf fits with its default optimiser, scipy's SLSQP, not with MINUIT
    (pyhf's MINUIT optimiser, strategy 1 at tolerance 0.01, fails one fixed-POI fit of this model
    from the suggested start: its first steps are 1/1000 of each bound range)."""
    from agc.stats.fit import model_and_data

    folder = swap["outdir"] / "reinterpretation" / "zprime_1000"
    limits = json.loads((folder / "limits.json").read_text())
    pyhf.set_backend("numpy", pyhf.optimize.scipy_optimizer())
    model, data = model_and_data(json.loads((folder / "workspace.json").read_text()))
    bounds = model.config.suggested_bounds()
    bounds[model.config.poi_index] = (0.0, 10.0 * limits["expected"]["2"])
    for mu, index in ((limits["observed"], None), (limits["expected"]["0"], 2)):
        obs, exp = pyhf.infer.hypotest(
            mu, data, model, par_bounds=bounds, test_stat="qtilde", return_expected_set=True
        )
        value = float(obs) if index is None else float(exp[index])
        assert value == pytest.approx(0.05, abs=5e-4), (mu, index, value)


def test_limits_regression(embedded_swap: dict[str, Any], contract_regression: Any) -> None:
    """Observed and expected limits of the embedded default against the stored reference, to
    1 % of the expected 1-sigma band's half-width (agc.stats.reproducibility.LIMIT_BAND)."""
    limits = embedded_swap["zprime"].limits
    assert limits is not None
    obtained = {"observed": limits["observed"], "expected": dict(limits["expected"])}
    contract_regression.check(obtained, "limits_zprime_1000", limit_deviations)


def test_bad_signal_fails_before_processing(
    swap: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("processing started for a bad declaration")

    monkeypatch.setattr(cache_module, "run_processor", forbidden)
    manifest = swap["where"]["embedded_manifest"]
    with pytest.raises(AGCError, match="not absolute"):
        resolve_request("/abs/signal.yaml", manifest, **swap["where"])
    with pytest.raises(AGCError, match="not absolute"):
        resolve_request("../signal.yaml", manifest, **swap["where"])
    with pytest.raises(AGCError, match="signal declaration not found"):
        resolve_request("inputs/signals/zprime_999.yaml", manifest, **swap["where"])
    with pytest.raises(AGCError, match="'poi'"):
        resolve_request(SIGNAL, manifest, poi="mu sig", **swap["where"])
    assert not (tmp_path / "cache").exists()


def test_request_carries_the_origin_of_its_events(toy_manifest: Path, tmp_path: Path) -> None:
    """The limit figures' label: a manifest no generator wrote is CMS Open Data, one with the
    generator's record beside it is the synthetic dataset."""
    assert resolve_request("ttbar", toy_manifest).origin is DataOrigin.CMS_OPEN_DATA
    generated = tmp_path / "generated"
    generated.mkdir()
    (generated / "manifest.json").write_text(toy_manifest.read_text())
    (generated / GENERATION_RECORD).write_text("{}")
    assert resolve_request("ttbar", generated / "manifest.json").origin is DataOrigin.SYNTHETIC


def test_damaged_cache_entry_is_recomputed(swap: dict[str, Any], tmp_path: Path) -> None:
    root = tmp_path / "cache"
    selection = Manifest.load(swap["where"]["embedded_manifest"]).select("single_top_s_chan")
    iterative = ProcessingConfig(executor="iterative")
    first = cached_process_samples(selection, root, iterative)
    assert first.computed == ["single_top_s_chan__nominal"]
    key = first.keys["single_top_s_chan__nominal"]
    run = cached_process_samples(selection, root, iterative)
    assert run.hits == ["single_top_s_chan__nominal"]
    assert run.computed == []
    assert np.array_equal(
        run.samples[0].sums.view(flow=True), first.samples[0].sums.view(flow=True)
    )
    (root / key / "partial.json").write_text("{broken", encoding="utf-8")
    assert HistogramCache(root).get(key) is None
    run = cached_process_samples(selection, root, iterative)
    assert run.computed == ["single_top_s_chan__nominal"]
    assert (root / key / "partial.json").is_file()


def test_main_run_partials_seed_the_cache(small_embedded_manifest: Path, tmp_path: Path) -> None:
    """The histogram step's partial outputs carry their cache key, so a first swap after a
    workflow run takes them instead of reprocessing; a partial whose key does not match (other
    code, other inputs) is never used."""
    samples = "single_top_s_chan,single_top_t_chan"
    run = run_histograms(
        small_embedded_manifest,
        processing=ProcessingConfig(executor="iterative", checkpoints=False),
        samples=samples,
        partial_dir=tmp_path / "partial",
    )
    seeds = sorted(Path(p) for p in run.partials)
    assert all(len(read_partial(p).cache_key or "") == 64 for p in seeds)
    # A stale partial (as if made by other code): its key no longer matches.
    stale = json.loads(seeds[1].read_text())
    stale["cache_key"] = "0" * 64
    seeds[1].write_text(json.dumps(stale), encoding="utf-8")
    with counting_run_processor() as calls:
        cached = cached_process_samples(
            Manifest.load(small_embedded_manifest).select(samples),
            tmp_path / "cache",
            ProcessingConfig(executor="iterative"),
            seeds=reinterpret_module.seed_partials(tmp_path / "partial"),
        )
    assert cached.seeded == ["single_top_s_chan__nominal"]
    assert cached.computed == calls == ["single_top_t_chan__nominal"]
    seeded = HistogramCache(tmp_path / "cache").get(cached.keys["single_top_s_chan__nominal"])
    assert seeded is not None
    fresh = read_partial(seeds[0])
    assert np.array_equal(seeded.sums.view(flow=True), fresh.sums.view(flow=True))
    assert reinterpret_module.seed_partials(tmp_path / "absent") == []
    with pytest.raises(AGCError, match="partial output not found"):
        reinterpret_module.seed_partials([tmp_path / "absent.partial.json"])


def test_cwl_reinterpret_step_processes_only_the_signal(
    small_embedded_manifest: Path, small_model: Path, tmp_path: Path
) -> None:
    """workflow/reinterpret.cwl run by cwltool with a signal declaration, the small model and the
    histogram step's partial outputs (as workflow.cwl wires it): limits come out, only the
    signal sample is processed."""
    import yaml

    run = run_histograms(
        small_embedded_manifest,
        processing=ProcessingConfig(checkpoints=False),
        partial_dir=tmp_path / "partial",
    )
    files = sorted(p for p in small_embedded_manifest.parent.iterdir() if p.is_file())
    job = {
        "recipe": {"class": "File", "location": str(REPO / "inputs" / "embedded.yaml")},
        "model_config": {"class": "File", "location": str(small_model)},
        "signal_declarations": [
            {"class": "File", "location": str(p)}
            for p in sorted((REPO / "inputs" / "signals").glob("*.yaml"))
        ],
        "data": [{"class": "File", "location": str(p)} for p in files],
        "inputs": "embedded",
        "signal": "inputs/signals/zprime_500.yaml",
        "executor": "futures",
        "workers": 2,
        "chunksize": 100_000,
        "max_files": -1,
        "scheduler": "",
        "outdir": "outputs",
        "partials": [[{"class": "File", "location": p} for p in sorted(run.partials)]],
    }
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job), encoding="utf-8")
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [
            str(bin_dir / "cwltool"),
            "--no-container",
            "--outdir",
            str(tmp_path / "out"),
            str(REPO / "workflow" / "reinterpret.cwl"),
            str(tmp_path / "job.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # agc's summary lines (key: value), which cwltool passes on to its log
    lines = result.stderr.splitlines()
    assert "processed: zprime_500__nominal" in lines
    assert f"seeded: {len(BACKGROUNDS)} items" in lines
    limits = json.loads(
        (tmp_path / "out" / "reinterpretation" / "zprime_500" / "limits.json").read_text()
    )
    assert limits["converged"]
