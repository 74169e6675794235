"""The embedded default dataset generator (agc.dataset.generate) and its read-back summary (agc.dataset.readback)."""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

from agc.core import physics
from agc.core.errors import AGCError
from agc.core.fileio import sha256_file
from agc.dataset import generate
from agc.dataset.generate import BRANCH_TYPES, generate_dataset, load_recipe, summarize
from agc.dataset.manifest import fileset, load_manifest, sample_key
from agc.processing.histograms import read_histograms, run_histograms

SMALL_SAMPLES = ["ttbar__nominal", "wjets", "zprime_1000"]
SMALL_SCALE = 0.01  # generated: ttbar nominal 24000 in 6 files, wjets 12000 in 4, zprime 100

#: Card targets (ANALYSIS.md): normalised yields per region and process.
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
#: Size of the ttbar variations in 4j2b relative to nominal (ANALYSIS.md) [%].
TARGET_VARIATIONS = {"ME_var": 19.0, "PS_var": -4.0, "scaleup": 5.0, "scaledown": -8.0}


@pytest.fixture(scope="session")
def recipe(repo: Path) -> dict[str, Any]:
    return load_recipe(repo / "inputs" / "embedded.yaml")


@pytest.fixture(scope="session")
def small_manifest(tmp_path_factory: pytest.TempPathFactory, recipe: dict[str, Any]) -> Path:
    """A small dataset (three samples at 1 % of the default) generated once per session."""
    return generate_dataset(
        tmp_path_factory.mktemp("small"), recipe=recipe, scale=SMALL_SCALE, samples=SMALL_SAMPLES
    )


def _nanoevents(path: str | Path) -> Any:
    """The one loader used for real and generated files: coffea NanoEvents with NanoAODSchema."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing cross-references (Photon, FsrPhoton, ...)
        return NanoEventsFactory.from_root(
            {str(path): "Events"}, schemaclass=NanoAODSchema, mode="virtual"
        ).events()


def _object_counts(events: Any) -> dict[str, int]:
    """Selection counts computed through NanoEvents' object interface (same code for every file)."""
    el, mu, jet = events.Electron, events.Muon, events.Jet
    tight_el = (
        (el.pt > physics.ELECTRON_PT_MIN)
        & (abs(el.eta) < physics.ELECTRON_ABS_ETA_MAX)
        & (el.cutBased == 4)
        & (el.sip3d < 4)
    )
    tight_mu = (
        (mu.pt > physics.MUON_PT_MIN)
        & (abs(mu.eta) < physics.MUON_ABS_ETA_MAX)
        & mu.tightId
        & (mu.sip3d < 4)
        & (mu.pfRelIso04_all < 0.15)
    )
    good_jet = (
        (jet.pt > physics.JET_PT_MIN)
        & (abs(jet.eta) < physics.JET_ABS_ETA_MAX)
        & jet.isTightLeptonVeto
    )
    n_lep = ak.sum(tight_el, axis=1) + ak.sum(tight_mu, axis=1)
    leptons = ak.concatenate([el[tight_el], mu[tight_mu]], axis=1)
    charge_sum = int(ak.sum(leptons.charge))  # Candidate behaviour needs the charge branches
    return {
        "events": len(events),
        "jets": int(ak.sum(ak.num(jet))),
        "one_lepton": int(ak.sum(n_lep == 1)),
        "ge4_jets": int(ak.sum(ak.sum(good_jet, axis=1) >= 4)),
        "charge_sum": charge_sum,
        "mass_finite": bool(ak.all(np.isfinite(ak.flatten(jet.mass)))),
    }


def _arrays(path: str | Path) -> dict[str, Any]:
    with uproot.open(path) as handle:
        return handle["Events"].arrays(library="ak")


# --------------------------------------------------------------------------------------------
# Layout: same branches, dtypes and jagged structure as the real CMS file
# --------------------------------------------------------------------------------------------


def test_branches_match_the_real_file(small_manifest: Path, real_nanoaod: Path) -> None:
    ours_path = next(
        iter(fileset(load_manifest(small_manifest), "ttbar__nominal")["ttbar__nominal"]["files"])
    )
    with uproot.open(real_nanoaod) as real_file, uproot.open(ours_path) as our_file:
        real, ours = real_file["Events"], our_file["Events"]
        assert our_file.file.compression == real_file.file.compression  # ZLIB(1)
        written = list(ours.keys())
        expected = [*BRANCH_TYPES, "nElectron", "nJet", "nMuon"]
        assert sorted(written) == sorted(expected)
        assert set(physics.BRANCHES_READ) <= set(written)
        for name in written:
            assert name in real, f"{name} is not a branch of the real NanoAOD file"
            ours_b, real_b = ours[name], real[name]
            assert repr(ours_b.interpretation) == repr(real_b.interpretation), name
            assert ours_b.typename == real_b.typename, name
            real_counter = real_b.count_branch.name if real_b.count_branch is not None else None
            ours_counter = ours_b.count_branch.name if ours_b.count_branch is not None else None
            assert ours_counter == real_counter, name
        for counter in ("nJet", "nElectron", "nMuon"):
            assert ours[counter].interpretation.from_dtype == np.dtype(">u4")
        arrays = ours.arrays(["nJet", "Jet_pt"])
        assert ak.all(arrays.nJet == ak.num(arrays.Jet_pt))
        assert ak.all(arrays.Jet_pt[:, :-1] >= arrays.Jet_pt[:, 1:])  # pT-ordered, as NanoAOD


def test_coffea_reads_generated_and_real_files_with_the_same_code(
    small_manifest: Path, real_nanoaod: Path
) -> None:
    manifest = load_manifest(small_manifest)
    generated = next(iter(fileset(manifest, "ttbar__nominal")["ttbar__nominal"]["files"]))
    for path in (generated, real_nanoaod):
        counts = _object_counts(_nanoevents(path))
        print(Path(path).name, counts)
        assert counts["events"] > 0
        assert counts["jets"] > 0
        assert counts["mass_finite"]
    assert _object_counts(_nanoevents(generated))["one_lepton"] > 0


def test_real_file_reads_through_the_manifest_loader(tmp_path: Path, real_nanoaod: Path) -> None:
    """A manifest in the AGC layout pointing at the real file goes through the same fileset path."""
    data = {
        "ttbar": {
            "nominal": {"nevts_total": 200, "files": [{"path": str(real_nanoaod), "nevts": 200}]}
        }
    }
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    sets = fileset(load_manifest(tmp_path / "manifest.json"))
    entry = sets["ttbar__nominal"]
    assert entry["metadata"]["nevts"] == 200
    assert entry["metadata"]["xsec"] == pytest.approx(physics.XSEC_PB["ttbar"])
    (path,) = entry["files"]
    assert _object_counts(_nanoevents(path))["events"] == 200
    summary = summarize(tmp_path / "manifest.json")
    assert summary["samples"]["ttbar__nominal"]["events"] == 200


# --------------------------------------------------------------------------------------------
# Manifest, checksums, generate-if-missing, atomicity
# --------------------------------------------------------------------------------------------


def test_manifest_is_valid_and_consistent(small_manifest: Path, recipe: dict[str, Any]) -> None:
    raw = json.loads(small_manifest.read_text())
    manifest = load_manifest(small_manifest)  # validates against the manifest schema
    assert sorted(sample_key(p, v) for p, vs in manifest.items() for v in vs) == [
        "ttbar__nominal",
        "wjets__nominal",
        "zprime_1000__nominal",
    ]
    calibration = recipe["yield_calibration"]
    for process, variations in manifest.items():
        for variation, entry in variations.items():
            cfg = recipe["samples"][process][variation]
            # files hold the preselected events; nevts_generated counts the generated ones
            assert entry["nevts_generated"] == round(cfg["events"] * SMALL_SCALE)
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
    original = generate.generate_events

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(generate, "generate_events", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_dataset(
            out, recipe=recipe, scale=0.002, samples=["zprime_500", "zprime_1000"], force=True
        )
    assert not (out / "manifest.json").exists()
    assert not list(out.glob(".*.tmp"))  # no temporary file left behind
    assert not (out / "zprime_1000__nominal_0.root").exists()


# --------------------------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------------------------


def test_generation_is_deterministic(
    tmp_path: Path, recipe: dict[str, Any], small_manifest: Path
) -> None:
    again = generate_dataset(
        tmp_path / "again", recipe=recipe, scale=SMALL_SCALE, samples=SMALL_SAMPLES
    )
    first, second = load_manifest(small_manifest), load_manifest(again)
    for process, variations in first.items():
        for variation, entry in variations.items():
            for a, b in zip(entry["files"], second[process][variation]["files"], strict=True):
                assert a["sha256"] == b["sha256"]  # bytes too (fixed UUID and clock)
                arrays_a, arrays_b = _arrays(a["path"]), _arrays(b["path"])
                for name in BRANCH_TYPES:
                    assert ak.array_equal(arrays_a[name], arrays_b[name]), name


def test_content_does_not_depend_on_the_file_split(tmp_path: Path, recipe: dict[str, Any]) -> None:
    """Event i depends on (seed, sample, block) only: one file or three give the same events."""
    one, three = copy.deepcopy(recipe), copy.deepcopy(recipe)
    for r, files in ((one, 1), (three, 3)):
        r["block_size"] = 300
        r["samples"]["zprime_500"]["nominal"]["files"] = files

    def concatenated(r: dict[str, Any], name: str) -> dict[str, Any]:
        manifest = load_manifest(
            generate_dataset(tmp_path / name, recipe=r, scale=0.1, samples=["zprime_500"])
        )
        files = manifest["zprime_500"]["nominal"]["files"]
        parts = [_arrays(f["path"]) for f in files]
        return {b: ak.concatenate([p[b] for p in parts]) for b in BRANCH_TYPES}

    a, b = concatenated(one, "one"), concatenated(three, "three")
    assert 0 < len(a["event"]) < 1000  # 1000 generated, the preselected ones written
    for name in BRANCH_TYPES:
        assert ak.array_equal(a[name], b[name]), name
    with uproot.open(tmp_path / "one" / "zprime_500__nominal_0.root") as handle:
        assert handle["Events"]["Jet_pt"].num_baskets == 4  # streamed in blocks of 300 (extend)


def test_seed_and_sample_change_the_events(recipe: dict[str, Any]) -> None:
    cfg, det = recipe["samples"]["ttbar"]["nominal"], recipe["detector"]

    def jets(seed: int) -> ak.Array:
        return generate.generate_events(cfg, det, np.random.Generator(np.random.PCG64(seed)), 200)[
            "Jet_pt"
        ]

    assert ak.array_equal(jets(1), jets(1))
    assert not ak.array_equal(jets(1), jets(2))
    seeds = {
        generate.sample_seed(recipe["seed"], p, v)
        for p, vs in recipe["samples"].items()
        for v in vs
    }
    assert len(seeds) == sum(len(vs) for vs in recipe["samples"].values())
    # Pinned: every generated byte follows from it, on any machine and Python (no hash()).
    assert generate.sample_seed(1, "ttbar", "nominal") == 200488139641900938297998704192228376160


def test_preselection_keeps_every_event_that_can_be_selected(recipe: dict[str, Any]) -> None:
    """Same random numbers with and without the preselection: the kept events are the full
    events, and every event that the selection with jet pT x 1.5 (beyond the JES x1.03 and
    10 sigma of the JER variation) would select is kept."""
    det, pre = recipe["detector"], recipe["preselection"]
    for process in ("ttbar", "wjets"):
        cfg = recipe["samples"][process]["nominal"]
        full = generate.generate_events(cfg, det, np.random.Generator(np.random.PCG64(5)), 3000)
        kept = generate.generate_events(
            cfg, det, np.random.Generator(np.random.PCG64(5)), 3000, pre
        )
        index = kept["index"]
        assert 0 < len(index) < 3000
        assert np.array_equal(full["index"], np.arange(3000))
        for name, value in kept.items():
            if name != "index":
                assert ak.array_equal(value, full[name][index]), name
        electron = (
            (full["Electron_pt"] > physics.ELECTRON_PT_MIN)
            & (abs(full["Electron_eta"]) < physics.ELECTRON_ABS_ETA_MAX)
            & (full["Electron_cutBased"] == 4)
            & (full["Electron_sip3d"] < 4)
        )
        muon = (
            (full["Muon_pt"] > physics.MUON_PT_MIN)
            & (abs(full["Muon_eta"]) < physics.MUON_ABS_ETA_MAX)
            & full["Muon_tightId"]
            & (full["Muon_sip3d"] < 4)
            & (full["Muon_pfRelIso04_all"] < 0.15)
        )
        jet = (
            (full["Jet_pt"] * 1.5 > physics.JET_PT_MIN)
            & (abs(full["Jet_eta"]) < physics.JET_ABS_ETA_MAX)
            & ((full["Jet_jetId"] & 4) != 0)
        )
        loose = (ak.sum(electron, axis=1) + ak.sum(muon, axis=1) == 1) & (ak.sum(jet, axis=1) >= 4)
        selectable = np.flatnonzero(ak.to_numpy(loose))
        assert len(selectable) > 0
        assert set(selectable.tolist()) <= set(index.tolist()), process


def test_event_identity_is_unique(small_manifest: Path) -> None:
    seen: set[tuple[int, int]] = set()
    for variations in load_manifest(small_manifest).values():
        for entry in variations.values():
            ids = []
            for item in entry["files"]:
                with uproot.open(item["path"]) as handle:
                    arrays = handle["Events"].arrays(
                        ["run", "luminosityBlock", "event"], library="np"
                    )
                assert np.all(arrays["run"] == 1)
                ids.extend(
                    zip(arrays["luminosityBlock"].tolist(), arrays["event"].tolist(), strict=True)
                )
            assert len(set(ids)) == len(ids) == entry["nevts_total"]
            assert not seen & set(ids)  # distinct between samples too
            seen |= set(ids)


# --------------------------------------------------------------------------------------------
# Physics content
# --------------------------------------------------------------------------------------------


def test_object_content_is_physical(small_manifest: Path) -> None:
    manifest = load_manifest(small_manifest)
    paths = [f["path"] for f in manifest["ttbar"]["nominal"]["files"]]
    a = {k: ak.concatenate([_arrays(p)[k] for p in paths]) for k in BRANCH_TYPES}
    central = (a["Jet_pt"] > 30) & (abs(a["Jet_eta"]) < 2.4)
    flavour, btag = (
        a["Jet_hadronFlavour"][central],
        a["Jet_btagCSVV2"][central] > physics.BTAG_CSVV2_MIN,
    )
    eff = {f: float(ak.mean(btag[flavour == f])) for f in (5, 4, 0)}
    print("b-tag efficiency (b, c, light):", eff)
    assert 0.7 < eff[5] < 0.95
    assert 0.15 < eff[4] < 0.45
    assert 0.01 < eff[0] < 0.1
    assert set(np.unique(ak.flatten(a["Jet_jetId"]))) == {0, 2, 6}
    assert float(ak.mean(ak.flatten(a["Jet_jetId"]) == 6)) > 0.6
    assert ak.min(a["Jet_pt"]) > 15.0
    assert ak.max(abs(a["Jet_eta"])) < 4.7
    assert set(np.unique(ak.flatten(a["Electron_cutBased"]))) <= set(range(5))
    assert set(np.unique(ak.flatten(a["Muon_tightId"]))) == {False, True}
    assert set(np.unique(ak.flatten(a["Electron_charge"]))) == {-1, 1}
    assert ak.all(a["Muon_pfRelIso04_all"] >= 0)
    assert ak.all(a["Electron_sip3d"] >= 0)
    n_b = ak.sum(flavour == 5, axis=1)
    assert float(ak.mean(n_b)) > 1.0  # two b quarks per ttbar event, most in acceptance


def test_summary(small_manifest: Path) -> None:
    summary = summarize(small_manifest)
    print(json.dumps(summary["samples"], indent=1))
    ttbar = summary["samples"]["ttbar__nominal"]
    manifest = load_manifest(small_manifest)
    kept = {p: manifest[p]["nominal"]["nevts_total"] for p in ("ttbar", "wjets", "zprime_1000")}
    assert ttbar["events"] == ttbar["nevts"] == kept["ttbar"]
    assert ttbar["files"] == 6
    assert summary["total"]["events"] == sum(kept.values())
    assert ttbar["fraction_one_tight_lepton"] > 0.9  # preselected: >= 1 tight lepton
    assert ttbar["fraction_4j2b"] > ttbar["fraction_4j1b"] > 0
    # selected fraction of the *generated* events (files hold the preselected ones)
    selected = {
        p: summary["samples"][f"{p}__nominal"]["fraction_selected"]
        * manifest[p]["nominal"]["preselection_efficiency"]
        for p in ("ttbar", "wjets")
    }
    assert selected["wjets"] < selected["ttbar"]
    assert ttbar["mean_jets"] > ttbar["mean_selected_jets"] > 2
    json.dumps(summary)  # JSON-serialisable


def test_summary_names_a_missing_file(tmp_path: Path) -> None:
    data = {"ttbar": {"nominal": {"nevts_total": 1, "files": [{"path": "gone.root", "nevts": 1}]}}}
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(AGCError, match=r"gone\.root"):
        summarize(tmp_path / "manifest.json")


@pytest.mark.slow
def test_realism(embedded_manifest: Path, tmp_path: Path) -> None:
    """The default dataset through the analysis: yields within 30 % of the card, peaks where they belong."""
    result = run_histograms(
        embedded_manifest, tmp_path / "histograms.root", executor="futures", workers=2
    )
    histograms = read_histograms(tmp_path / "histograms.root")
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


# --------------------------------------------------------------------------------------------
# Recipe validation
# --------------------------------------------------------------------------------------------


def test_default_recipe_is_valid_and_complete(recipe: dict[str, Any]) -> None:
    for process, variations in physics.VARIATIONS.items():
        assert set(variations) <= set(recipe["samples"][process]), process
    for mass in (500, 1000, 1500, 2000):
        entry = recipe["samples"][f"zprime_{mass}"]["nominal"]
        assert entry["mass"] == mass
        assert entry["label"] == f"m_Zprime={mass} GeV"
    for process, xsec in physics.XSEC_PB.items():
        for entry in recipe["samples"][process].values():
            assert entry["xsec"] == pytest.approx(xsec, rel=1e-4)
    total = sum(e["events"] for vs in recipe["samples"].values() for e in vs.values())
    # MC statistics small against the pseudo-data's (issue #14), within the generation budget
    assert 5_000_000 <= total <= 6_500_000
    # preselected jets: below 30 GeV by more than JES (x1.03) and 10 sigma of JER (x1.5)
    assert recipe["preselection"]["jet_pt_min"] * 1.5 <= physics.JET_PT_MIN


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def test_recipe_errors_name_the_culprit(tmp_path: Path, repo: Path) -> None:
    good = (repo / "inputs" / "embedded.yaml").read_text()
    with pytest.raises(AGCError, match=r"recipe\.yaml: malformed YAML at line \d+"):
        load_recipe(_write(tmp_path, "samples:\n  ttbar: [1, 2\n  x: }\n"))
    with pytest.raises(AGCError, match=r"samples/ttbar/nominal.*'colour'"):
        load_recipe(
            _write(
                tmp_path,
                good.replace(
                    "      topology: ttbar\n", "      topology: ttbar\n      colour: red\n", 1
                ),
            )
        )
    with pytest.raises(AGCError, match="samples/ttbar/nominal/events"):
        load_recipe(_write(tmp_path, good.replace("events: 2400000", "events: -5", 1)))
    with pytest.raises(AGCError, match=r"samples/zprime_500/nominal.*'mass'"):
        load_recipe(_write(tmp_path, good.replace("      mass: 500.0\n", "", 1)))
    with pytest.raises(AGCError, match=r"recipe not found: .*nope\.yaml"):
        load_recipe(tmp_path / "nope.yaml")
    with pytest.raises(AGCError, match=r"<top level>.*'seed'"):
        load_recipe(_write(tmp_path, "version: 1\nsamples: {}\ndetector: {}\n"))


def test_bad_arguments(tmp_path: Path, recipe: dict[str, Any]) -> None:
    with pytest.raises(AGCError, match="unknown sample 'tttbar'"):
        generate_dataset(tmp_path, recipe=recipe, samples=["tttbar"])
    with pytest.raises(AGCError, match="scale must be a positive number"):
        generate_dataset(tmp_path, recipe=recipe, scale=0)
    bad = copy.deepcopy(recipe)
    bad["samples"]["ttbar"]["nominal"]["events"] = 0
    with pytest.raises(AGCError, match="samples/ttbar/nominal/events"):
        generate_dataset(tmp_path, recipe=bad)
