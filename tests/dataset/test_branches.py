"""The NanoAOD layout of the generated files (agc.dataset.branches) against the real CMS file."""

from __future__ import annotations

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
from agc.dataset.branches import BRANCH_TYPES, COUNTERS, counter_name, jagged
from agc.dataset.generate import generate_dataset
from agc.dataset.manifest import fileset, load_manifest


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


def _mantissa_bits(branch: Any) -> int:
    """The largest number of float32 mantissa bits in use among a float branch's values."""
    raw = ak.to_numpy(ak.flatten(branch.array())).astype(np.float32).view(np.uint32) & 0x7FFFFF
    lowest = raw & (~raw + np.uint32(1))  # lowest set bit of each mantissa (0 for none)
    used = np.where(raw > 0, 23 - np.log2(np.maximum(lowest, 1)).astype(int), 0)
    return int(used.max())


def test_branches_match_the_real_file(small_manifest: Path, real_nanoaod: Path) -> None:
    ours_path = next(
        iter(fileset(load_manifest(small_manifest), "ttbar__nominal")["ttbar__nominal"]["files"])
    )
    with uproot.open(real_nanoaod) as real_file, uproot.open(ours_path) as our_file:
        real, ours = real_file["Events"], our_file["Events"]
        assert our_file.file.compression == real_file.file.compression  # ZLIB(1)
        written = list(ours.keys())
        expected = [*BRANCH_TYPES, *COUNTERS]
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
        for counter in COUNTERS:
            assert ours[counter].interpretation.from_dtype == np.dtype(">u4")
        ml = {"Jet_qgl", "nGenPart", *(f"GenPart_{c}" for c in ("pt", "pdgId", "statusFlags"))}
        assert ml <= set(written)  # the ML extension's branches
        for name in ("Jet_qgl", "GenPart_pt", "GenPart_eta", "GenPart_phi", "GenPart_mass"):
            # NanoAOD's reduced float precision: no more mantissa bits than the real file's
            assert _mantissa_bits(ours[name]) <= _mantissa_bits(real[name]), name
        arrays = ours.arrays(["nJet", "Jet_pt"])
        assert ak.all(arrays.nJet == ak.num(arrays.Jet_pt))
        assert ak.all(arrays.Jet_pt[:, :-1] >= arrays.Jet_pt[:, 1:])  # pT-ordered, as NanoAOD


#: C++ spellings of the same on-disk RNTuple layout: ROOT's RNTupleImporter writes NanoAOD's
#: jagged branches as ``ROOT::VecOps::RVec<T>`` and counts as ``ROOT::RNTupleCardinality<T>``
#: (a projection of the collection's offsets); uproot 5.7 can write neither spelling, so ours
#: are ``std::vector<T>`` (the same offset + value columns) and ``T`` (a column of its own).
_CPP_ALIASES = (("ROOT::VecOps::RVec<", "std::vector<"), ("ROOT::RNTupleCardinality<", "<"))


def _cpp_layout(typename: str) -> str:
    for alias, canonical in _CPP_ALIASES:
        typename = typename.replace(alias, canonical)
    return typename.removeprefix("<").removesuffix(">") if typename.startswith("<") else typename


def test_rntuple_fields_match_the_real_rntuple(tmp_path: Path, real_rntuple: Path) -> None:
    """Every field of our RNTuple has the name of a field of the real converted CMS file, the same
    C++ element type and structure (scalar or collection) and reads as the same awkward type."""
    manifest = generate_dataset(
        tmp_path, scale=0.002, samples=["ttbar__nominal"], file_format="rntuple"
    )
    ours_path = load_manifest(manifest)["ttbar"]["nominal"]["files"][0]["path"]
    with uproot.open(real_rntuple) as real_file, uproot.open(ours_path) as our_file:
        real, ours = real_file["Events"], our_file["Events"]
        assert real_file.classname_of("Events") == our_file.classname_of("Events")
        assert our_file.file.compression == real_file.file.compression  # ZLIB(1)
        written = [field.name for field in ours.fields]
        assert sorted(written) == sorted([*BRANCH_TYPES, *COUNTERS])
        real_names = set(real.keys())
        assert len(real_names) == 1313
        real_arrays = real.arrays(written, entry_stop=3)
        our_arrays = ours.arrays(written, entry_stop=3)
        for name in written:
            assert name in real_names, f"{name} is not a field of the real RNTuple"
            assert _cpp_layout(ours[name].typename) == _cpp_layout(real[name].typename), name
            if name not in COUNTERS:  # uproot reads a cardinality as int64
                assert str(our_arrays[name].type.content) == str(real_arrays[name].type.content), (
                    name
                )
            else:
                assert real[name].typename == "ROOT::RNTupleCardinality<std::uint32_t>"
                assert ak.all(our_arrays[name] == ak.num(our_arrays[f"{name[1:]}_pt"]))
    # and coffea's NanoAODSchema builds the same collections from both, with the same code
    for path in (ours_path, real_rntuple):
        counts = _object_counts(_nanoevents(path))
        print(Path(path).name, counts)
        assert counts["events"] > 0
        assert counts["jets"] > 0
        assert counts["mass_finite"]


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


def test_jagged_orders_by_pt_within_events() -> None:
    table = {
        "event": np.array([1, 0, 1, 1]),
        "pt": np.array([20.0, 50.0, 40.0, 30.0]),
        "flag": np.array([1, 2, 3, 4]),
    }
    out = jagged(table, 3, {"Jet_pt": ("pt", "f4"), "Jet_flag": ("flag", "i4")})
    assert out["Jet_pt"].tolist() == [[50.0], [40.0, 30.0, 20.0], []]
    assert out["Jet_flag"].tolist() == [[2], [3, 4, 1], []]
    assert str(ak.type(out["Jet_pt"])) == "3 * var * float32"
    assert counter_name("Jet_pt") == "nJet"
    assert counter_name("Muon_pfRelIso04_all") == "nMuon"


def test_jagged_orders_objects_as_numpys_lexsort() -> None:
    rng = np.random.default_rng(3)
    n, m = 2000, 16000
    event = rng.integers(0, n, m)
    pt = np.round(rng.gamma(2.0, 20.0, m), 0)  # many ties
    pt[:40] = np.nan
    pt[40:50] = -0.0
    table = {"event": event, "pt": pt, "index": np.arange(m)}
    out = jagged(table, n, {"Jet_index": ("index", "i8")})
    assert ak.flatten(out["Jet_index"]).to_numpy().tolist() == np.lexsort((-pt, event)).tolist()
    assert ak.num(out["Jet_index"]).to_numpy().tolist() == np.bincount(event, minlength=n).tolist()
