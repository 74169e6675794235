"""The ML features against a straightforward transcription of the AGC's ``utils/ml.py``.

``agc_permutations`` and ``agc_features`` below follow the AGC's ``get_permutations_dict`` and
``get_features`` line by line (awkward + vector, one feature at a time); the package's vectorised
:mod:`agc.analysis.mlfeatures` must give the same assignments, in the same order, and the same
20 features within 1e-9 on randomly drawn events (float64 inputs on both sides).
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import vector

from agc.analysis.mlfeatures import Objects, assignments, features, permutations


def agc_permutations(max_n_jets: int) -> dict[int, list[list[int]]]:
    """AGC ``get_permutations_dict(MAX_N_JETS)`` (without labels), transcribed."""
    permutations_dict = {}
    for n in range(4, max_n_jets + 1):
        test = ak.Array(range(n))
        unzipped = ak.unzip(ak.argcartesian([test] * 4, axis=0))
        combos = ak.combinations(ak.Array(range(4)), 2, axis=0)
        different = unzipped[combos[0]["0"]] != unzipped[combos[0]["1"]]
        for i in range(1, len(combos)):
            different = different & (unzipped[combos[i]["0"]] != unzipped[combos[i]["1"]])
        perms = ak.concatenate(
            [test[unzipped[i][different]][..., np.newaxis] for i in range(len(unzipped))], axis=1
        ).to_list()
        permutations_dict[n] = perms
    labels_dict = {}
    for n in range(4, max_n_jets + 1):
        current = []
        for perm in permutations_dict[n]:
            inds = np.array(perm)
            label = 100 * np.ones(n)
            label[inds[:2]] = 24
            label[inds[2]] = 6
            label[inds[3]] = -6
            current.append(label.tolist())
        labels_dict[n] = current
    for n in range(4, max_n_jets + 1):
        res = [idx for idx, val in enumerate(labels_dict[n]) if val in labels_dict[n][:idx]]
        permutations_dict[n] = np.array(permutations_dict[n])[res].tolist()
    return permutations_dict


def agc_features(jets: ak.Array, leptons: ak.Array, max_n_jets: int = 6) -> np.ndarray:
    """AGC ``get_features(jets, electrons, muons)``, transcribed (one lepton per event)."""
    vector.register_awkward()
    permutations_dict = agc_permutations(max_n_jets)
    njet = ak.num(jets).to_numpy()
    njet[njet > max_n_jets] = max_n_jets
    perms = ak.Array([permutations_dict[n] for n in njet])
    perm_counts = ak.num(perms)
    out = np.zeros((int(ak.sum(perm_counts)), 20))
    lep = leptons

    def dr(a: ak.Array, b: ak.Array) -> np.ndarray:
        return ak.flatten(np.sqrt((a.eta - b.eta) ** 2 + (a.phi - b.phi) ** 2)).to_numpy()

    j = [jets[perms[..., k]] for k in range(4)]
    out[:, 0] = dr(lep, j[3])
    out[:, 1] = dr(j[0], j[1])
    out[:, 2] = dr(j[0], j[2])
    out[:, 3] = dr(j[1], j[2])
    p4 = ak.zip(
        {"pt": jets.pt, "eta": jets.eta, "phi": jets.phi, "mass": jets.mass}, with_name="Momentum4D"
    )
    lep_p4 = ak.zip(
        {"pt": lep.pt, "eta": lep.eta, "phi": lep.phi, "mass": lep.mass}, with_name="Momentum4D"
    )
    q = [p4[perms[..., k]] for k in range(4)]
    out[:, 4] = ak.flatten((lep_p4 + q[3]).mass).to_numpy()
    out[:, 5] = ak.flatten((q[0] + q[1]).mass).to_numpy()
    out[:, 6] = ak.flatten((q[0] + q[1] + q[2]).mass).to_numpy()
    out[:, 7] = ak.flatten((q[0] + q[1] + q[2]).pt).to_numpy()
    for first, field in ((8, "pt"), (12, "btagCSVV2"), (16, "qgl")):
        for k in range(4):
            out[:, first + k] = ak.flatten(j[k][field]).to_numpy()
    return out


def random_events(n_events: int, seed: int) -> tuple[ak.Array, ak.Array]:
    """Seeded random events: 4-9 jets (float64 fields), one lepton each."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(4, 10, n_events)
    n = int(counts.sum())
    jets = ak.unflatten(
        ak.zip(
            {
                "pt": rng.exponential(60.0, n) + 30.0,
                "eta": rng.uniform(-2.4, 2.4, n),
                "phi": rng.uniform(-np.pi, np.pi, n),
                "mass": rng.uniform(2.0, 25.0, n),
                "btagCSVV2": rng.uniform(0.0, 1.0, n),
                "qgl": rng.uniform(-1.0, 1.0, n),
            }
        ),
        counts,
    )
    leptons = ak.zip(
        {
            "pt": rng.exponential(40.0, n_events) + 30.0,
            "eta": rng.uniform(-2.1, 2.1, n_events),
            "phi": rng.uniform(-np.pi, np.pi, n_events),
            "mass": np.where(rng.random(n_events) < 0.5, 0.000511, 0.10566),
        }
    )
    return jets, leptons


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


def test_features_equal_the_agcs_get_features() -> None:
    jets, leptons = random_events(300, seed=21)
    rows = assignments(ak.to_numpy(ak.num(jets)))
    ours = features(objects_of(jets, leptons), rows)
    theirs = agc_features(jets, leptons)
    assert ours.shape == theirs.shape == (len(rows.event), 20)
    assert np.max(np.abs(ours - theirs)) <= 1e-9


def test_assignments_use_the_first_six_jets_in_event_order() -> None:
    counts = np.array([4, 3, 8, 5])
    rows = assignments(counts)
    assert np.bincount(rows.event, minlength=4).tolist() == [12, 0, 180, 60]
    assert np.all(np.diff(rows.event) >= 0)
    third = rows.jets[rows.event == 2]
    assert third.min() == 7
    assert third.max() == 7 + 5
