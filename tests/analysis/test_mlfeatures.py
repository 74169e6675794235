"""The ML features against the AGC's ``utils/ml.py``, transcribed with the AGC's dtypes.

``agc_permutations`` and ``agc_get_features`` (tests/agc_reference.py) follow the AGC's
``get_permutations_dict`` and ``get_features`` line by line (awkward, coffea ``Jet`` sums and
vector ``Momentum4D`` sums on float32 columns, a varied pT in float64); the package's vectorised
:mod:`agc.analysis.mlfeatures` must give the same assignments, in the same order, and the same
20 features bit for bit on randomly drawn events.
"""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
from agc_reference import agc_permutations
from coffea.nanoevents.methods import nanoaod
from cpu_helpers import without_avx512

from agc.analysis.assignment import jet_pt_column
from agc.analysis.mlfeatures import Assignments, Objects, assignments, features, permutations

F4 = np.float32


def random_events(
    n_events: int, seed: int, pt_factor: float | None = None
) -> tuple[ak.Array, ak.Array]:
    """Seeded random events like NanoAOD's: 4-9 jets (coffea ``Jet`` records, float32 fields;
    with ``pt_factor`` the pT is the float32 pT times float64 factors around it, as a varied
    pT is in the AGC), one lepton each (float32 pt, eta, phi, mass)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(4, 10, n_events)
    n = int(counts.sum())
    pt = (rng.exponential(60.0, n) + 30.0).astype(F4)
    if pt_factor is not None:
        pt = pt * rng.normal(pt_factor, 0.05, n)
    jets = ak.unflatten(
        ak.zip(
            {
                "pt": pt,
                "eta": rng.uniform(-2.4, 2.4, n).astype(F4),
                "phi": rng.uniform(-np.pi, np.pi, n).astype(F4),
                "mass": rng.uniform(2.0, 25.0, n).astype(F4),
                "btagCSVV2": rng.uniform(0.0, 1.0, n).astype(F4),
                "qgl": rng.uniform(-1.0, 1.0, n).astype(F4),
                "charge": np.zeros(n, dtype=F4),
            },
            with_name="Jet",
            behavior=nanoaod.behavior,
        ),
        counts,
    )
    leptons = ak.zip(
        {
            "pt": (rng.exponential(40.0, n_events) + 30.0).astype(F4),
            "eta": rng.uniform(-2.1, 2.1, n_events).astype(F4),
            "phi": rng.uniform(-np.pi, np.pi, n_events).astype(F4),
            "mass": np.where(rng.random(n_events) < 0.5, 0.000511, 0.10566).astype(F4),
        }
    )
    return jets, leptons


def electrons_and_muons(leptons: ak.Array) -> tuple[ak.Array, ak.Array]:
    """The one lepton of each event as an electron (light ones) or a muon, jagged as NanoAOD."""
    is_electron = ak.to_numpy(leptons.mass) < 0.01
    electrons = ak.unflatten(leptons[is_electron], is_electron.astype(np.int64))
    muons = ak.unflatten(leptons[~is_electron], (~is_electron).astype(np.int64))
    return electrons, muons


def objects_of(jets: ak.Array, leptons: ak.Array) -> Objects:
    flat = {f: ak.to_numpy(ak.flatten(jets[f])) for f in jets.fields}
    return Objects(
        counts=ak.to_numpy(ak.num(jets)),
        pt=flat["pt"],
        eta=flat["eta"],
        phi=flat["phi"],
        mass=flat["mass"],
        btag=flat["btagCSVV2"],
        qgl=flat["qgl"],
        lepton_pt=ak.to_numpy(leptons.pt),
        lepton_eta=ak.to_numpy(leptons.eta),
        lepton_phi=ak.to_numpy(leptons.phi),
        lepton_mass=ak.to_numpy(leptons.mass),
    )


@pytest.mark.parametrize("n_jets", [4, 5, 6])
def test_permutations_are_the_agcs(n_jets: int) -> None:
    expected = agc_permutations(6)[n_jets]
    assert permutations(n_jets).tolist() == expected
    assert len(expected) == {4: 12, 5: 60, 6: 180}[n_jets]


def test_permutations_refuse_other_jet_counts() -> None:
    with pytest.raises(ValueError, match="n_jets"):
        permutations(7)


_AGC_FEATURES_SCRIPT = """
import ast
import numpy as np
from agc_reference import agc_get_features
sys.path.insert(0, sys.argv[3])
from test_mlfeatures import electrons_and_muons, random_events
jets, leptons = random_events(400, seed=21, pt_factor=ast.literal_eval(sys.argv[2]))
features, per_event = agc_get_features(jets, *electrons_and_muons(leptons))
np.savez(sys.argv[1], features=np.asarray(features), per_event=np.asarray(per_event))
"""


@pytest.mark.parametrize("pt_factor", [None, 1.03], ids=["nominal_float32", "varied_float64"])
def test_features_equal_the_agcs_get_features_bit_for_bit(
    pt_factor: float | None, tmp_path: Path
) -> None:
    """The AGC's ``get_features`` runs with numpy's AVX-512 loops off (:mod:`cpu_helpers`)."""
    jets, leptons = random_events(400, seed=21, pt_factor=pt_factor)
    assert ak.flatten(jets.pt).to_numpy().dtype == (F4 if pt_factor is None else np.float64)
    rows = assignments(ak.to_numpy(ak.num(jets)))
    ours = features(objects_of(jets, leptons), rows)
    here = str(Path(__file__).parent)
    agc = without_avx512(_AGC_FEATURES_SCRIPT, tmp_path / "agc.npz", repr(pt_factor), here)
    theirs, per_event = agc["features"], agc["per_event"]
    assert per_event.tolist() == np.bincount(rows.event, minlength=len(jets)).tolist()
    assert ours.shape == theirs.shape == (len(rows.event), 20)
    differ = [k for k in range(20) if not np.array_equal(ours[:, k], theirs[:, k])]
    assert not differ, f"features {differ} differ from the AGC's"
    # not vacuous: the float64 arithmetic gives other values, for the masses and the distances
    precise = features(objects_of_float64(jets, leptons), rows)
    assert not np.array_equal(precise[:, :8], theirs[:, :8])


@pytest.mark.parametrize("pt_factor", [None, 1.03], ids=["nominal_float32", "varied_float64"])
def test_float32_features_are_the_float64_features_rounded(pt_factor: float | None) -> None:
    """The float32 table the BDTs read holds each float64 feature rounded to float32, and a
    subset of the rows gets the same features as in the table of every row."""
    jets, leptons = random_events(300, seed=22, pt_factor=pt_factor)
    rows = assignments(ak.to_numpy(ak.num(jets)))
    objects = objects_of(jets, leptons)
    full = features(objects, rows)
    narrow = features(objects, rows, np.float32)
    assert narrow.dtype == np.float32
    assert np.array_equal(narrow, full.astype(np.float32))
    some = np.sort(np.random.default_rng(3).choice(len(rows.event), 500, replace=False))
    subset = features(objects, Assignments(event=rows.event[some], jets=rows.jets[some]))
    assert np.array_equal(subset, full[some])


def objects_of_float64(jets: ak.Array, leptons: ak.Array) -> Objects:
    """:func:`objects_of` with every column promoted to float64."""
    o = objects_of(jets, leptons)
    return Objects(
        counts=o.counts,
        **{
            name: getattr(o, name).astype(np.float64)
            for name in o.__dataclass_fields__
            if name != "counts"
        },
    )


def test_jet_pt_keeps_the_files_float32_and_a_varied_pt_float64() -> None:
    pt = np.array([31.25, 45.123, 212.5], dtype=F4)
    nominal = jet_pt_column(pt.astype(np.float64))
    assert nominal.dtype == np.float32
    assert np.array_equal(nominal, pt)
    varied = jet_pt_column(pt.astype(np.float64) * 1.03)
    assert varied.dtype == np.float64
    assert np.array_equal(varied, pt.astype(np.float64) * 1.03)


def test_assignments_use_the_first_six_jets_in_event_order() -> None:
    counts = np.array([4, 3, 8, 5])
    rows = assignments(counts)
    assert np.bincount(rows.event, minlength=4).tolist() == [12, 0, 180, 60]
    assert np.all(np.diff(rows.event) >= 0)
    third = rows.jets[rows.event == 2]
    assert third.min() == 7
    assert third.max() == 7 + 5
    assert np.array_equal(third - 7, permutations(6))


def test_assignments_are_each_events_permutations_in_event_order() -> None:
    """Random jet counts 0-10: the rows are, event after event, the event's first jet index plus
    the rows of permutations(min(n, 6)), none for fewer than 4 jets."""
    counts = np.random.default_rng(3).integers(0, 11, 2000)
    offsets = np.concatenate(([0], np.cumsum(counts)))[:-1]
    events, jets = [], []
    for e, n in enumerate(counts):
        if n >= 4:
            perms = permutations(min(n, 6))
            events += [e] * len(perms)
            jets.append(offsets[e] + perms)
    rows = assignments(counts)
    assert rows.event.dtype == rows.jets.dtype == np.int64
    assert np.array_equal(rows.event, events)
    assert np.array_equal(rows.jets, np.concatenate(jets))
