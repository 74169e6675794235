"""Selection, observables, weights and JER numbers on small hand-built arrays with known answers."""

from __future__ import annotations

import itertools
import math

import awkward as ak
import numpy as np
import pytest

from agc.analysis.jer import jer_factors_flat
from agc.analysis.selection import (
    Collection,
    btag_weight_variations,
    electron_mask,
    h_t,
    jet_mask,
    leading_pts,
    m_bjj,
    muon_mask,
    n_selected_leptons,
    select,
)
from agc.core import physics, portablemath


def electrons(*events: list[tuple[float, float, int, float]]) -> ak.Array:
    """Jagged electrons from (pt, eta, cutBased, sip3d) tuples per event."""
    return ak.Array(
        [
            [dict(zip(("pt", "eta", "cutBased", "sip3d"), e, strict=True)) for e in ev]
            for ev in events
        ]
    )


def muons(*events: list[tuple[float, float, bool, float, float]]) -> ak.Array:
    """Jagged muons from (pt, eta, tightId, sip3d, pfRelIso04_all) tuples per event."""
    names = ("pt", "eta", "tightId", "sip3d", "pfRelIso04_all")
    return ak.Array([[dict(zip(names, m, strict=True)) for m in ev] for ev in events])


def jets(*events: list[tuple[float, float, float, float, float, int]]) -> ak.Array:
    """Jagged jets from (pt, eta, phi, mass, btagCSVV2, jetId) tuples per event."""
    names = ("pt", "eta", "phi", "mass", "btagCSVV2", "jetId")
    return ak.Array([[dict(zip(names, j, strict=True)) for j in ev] for ev in events])


GOOD_E = (40.0, 0.5, 4, 1.0)
GOOD_MU = (40.0, 0.5, True, 1.0, 0.05)


def jet(
    pt: float,
    phi: float = 0.0,
    btag: float = 0.1,
    eta: float = 0.0,
    mass: float = 0.0,
    jet_id: int = 6,
):
    return (pt, eta, phi, mass, btag, jet_id)


# -- object cuts at their edges ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("electron", "selected"),
    [
        (GOOD_E, True),
        ((30.0, 0.5, 4, 1.0), False),  # pt > 30 is strict
        ((30.01, 0.5, 4, 1.0), True),
        ((40.0, 2.1, 4, 1.0), False),  # |eta| < 2.1 is strict
        ((40.0, -2.09, 4, 1.0), True),
        ((40.0, 0.5, 3, 1.0), False),  # cutBased must be 4 (tight)
        ((40.0, 0.5, 4, 4.0), False),  # sip3d < 4 is strict
        ((40.0, 0.5, 4, 3.99), True),
    ],
)
def test_electron_cuts(electron: tuple, selected: bool) -> None:
    assert electron_mask(electrons([electron])).tolist() == [[selected]]


@pytest.mark.parametrize(
    ("muon", "selected"),
    [
        (GOOD_MU, True),
        ((30.0, 0.5, True, 1.0, 0.05), False),
        ((40.0, 2.1, True, 1.0, 0.05), False),
        ((40.0, 0.5, False, 1.0, 0.05), False),  # tightId
        ((40.0, 0.5, True, 4.0, 0.05), False),
        ((40.0, 0.5, True, 1.0, 0.15), False),  # relIso < 0.15 is strict
        ((40.0, 0.5, True, 1.0, 0.149), True),
    ],
)
def test_muon_cuts(muon: tuple, selected: bool) -> None:
    assert muon_mask(muons([muon])).tolist() == [[selected]]


@pytest.mark.parametrize(
    ("jet_id", "selected"),
    [(0, False), (2, False), (4, True), (6, True), (7, True), (3, False)],
)
def test_jet_id_bit_4(jet_id: int, selected: bool) -> None:
    assert jet_mask(jets([jet(50.0, jet_id=jet_id)])).tolist() == [[selected]]


def test_jet_pt_eta_edges_and_varied_pt() -> None:
    js = jets([jet(30.0), jet(30.5), jet(50.0, eta=2.4), jet(50.0, eta=-2.39), jet(29.5)])
    assert jet_mask(js).tolist() == [[False, True, False, True, False]]
    varied = js.pt * 1.03  # 29.5 * 1.03 = 30.385 passes, 30 * 1.03 = 30.9 passes
    assert jet_mask(js, varied).tolist() == [[True, True, False, True, True]]


def test_jet_mask_works_on_flat_columns_too() -> None:
    js = jets([jet(50.0, jet_id=2), jet(50.0)], [jet(20.0)])
    flat = Collection.from_awkward(js, ("pt", "eta", "jetId"))
    assert jet_mask(flat).tolist() == ak.flatten(jet_mask(js)).tolist()
    assert flat.counts.tolist() == [2, 1]


def test_lepton_counting() -> None:
    bad_e = (25.0, 0.5, 4, 1.0)
    bad_mu = (40.0, 0.5, True, 1.0, 0.5)
    els = electrons([GOOD_E], [GOOD_E], [], [bad_e], [GOOD_E, GOOD_E], [])
    mus = muons([], [GOOD_MU], [GOOD_MU], [bad_mu], [], [])
    assert n_selected_leptons(els, mus).tolist() == [1, 2, 1, 0, 2, 0]


# -- observables -------------------------------------------------------------------------------


def p4(pt: float, eta: float, phi: float, mass: float) -> tuple[float, float, float, float]:
    px, py, pz = pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)
    return px, py, pz, math.sqrt(px * px + py * py + pz * pz + mass * mass)


def trijet(*vectors: tuple[float, float, float, float]) -> tuple[float, float]:
    """(pT, mass) of a sum of four-vectors."""
    px, py, pz, e = (sum(v[i] for v in vectors) for i in range(4))
    return math.hypot(px, py), math.sqrt(max(e * e - px * px - py * py - pz * pz, 0.0))


def test_m_bjj_picks_highest_pt_triplet_with_a_btag() -> None:
    # Jets 0, 1, 2 are hard and close in phi but untagged: their triplet has the largest pT
    # but no b-tag, so it must not win. Jet 3 is the only b-tagged jet.
    specs = [
        (100.0, 0.1, 0.0, 10.0),
        (90.0, -0.3, 0.2, 8.0),
        (80.0, 0.7, 0.4, 5.0),
        (40.0, 1.2, 3.0, 4.0),
    ]
    js = jets(
        [
            jet(pt, phi=phi, eta=eta, mass=m, btag=0.9 if i == 3 else 0.2)
            for i, (pt, eta, phi, m) in enumerate(specs)
        ]
    )
    vectors = [p4(pt, eta, phi, m) for pt, eta, phi, m in specs]
    candidates = {c: trijet(*(vectors[i] for i in c)) for c in [(0, 1, 3), (0, 2, 3), (1, 2, 3)]}
    assert trijet(*vectors[:3])[0] > max(
        pt for pt, _ in candidates.values()
    )  # the untagged triplet leads
    winner = max(candidates, key=lambda c: candidates[c][0])
    assert winner == (0, 1, 3)
    assert m_bjj(js)[0] == pytest.approx(candidates[winner][1], rel=1e-5)


def test_m_bjj_all_tagged_is_highest_pt_triplet_and_nan_without_candidates() -> None:
    # Four jets at eta=0, massless; all tagged: triplet (0, 1, 2) has the largest pT.
    specs = [(100.0, 0.0), (90.0, 0.5), (80.0, 1.0), (70.0, 2.5)]
    event = [jet(pt, phi=phi, btag=0.9) for pt, phi in specs]
    vectors = [p4(pt, 0.0, phi, 0.0) for pt, phi in specs]
    no_tag = [jet(pt, phi=phi, btag=0.5) for pt, phi in specs]  # 0.5 is not > 0.5
    result = m_bjj(jets(event, [jet(50.0, btag=0.9), jet(40.0)], no_tag, []))
    assert result[0] == pytest.approx(trijet(*vectors[:3])[1], rel=1e-6)
    assert np.isnan(result[1:]).all()


def reference_m_bjj(jets: Collection) -> np.ndarray:
    """m_bjj event by event: itertools.combinations of the jets (ak.combinations order), the
    first triplet with a b-tag of largest vector-sum pT; the same float64 operations (sinh the
    C library's, as in the package: agc.core.portablemath)."""
    pt, eta, phi, mass = (
        np.asarray(getattr(jets, f), dtype=np.float64) for f in ("pt", "eta", "phi", "mass")
    )
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * portablemath.sinh(eta)
    energy = np.sqrt(px * px + py * py + pz * pz + mass * mass)
    out = np.full(jets.n_events, np.nan)
    for event, (start, stop) in enumerate(zip(jets.offsets[:-1], jets.offsets[1:], strict=True)):
        best = None
        for i, j, k in itertools.combinations(range(start, stop), 3):
            if not (jets.btagCSVV2[[i, j, k]] > physics.BTAG_CSVV2_MIN).any():
                continue
            s = [a[i] + a[j] + a[k] for a in (px, py, pz, energy)]
            pt2 = s[0] * s[0] + s[1] * s[1]
            if best is None or pt2 > best[0]:
                best = (pt2, s)
        if best is not None:
            sx, sy, sz, se = best[1]
            out[event] = np.sqrt(max(se * se - sx * sx - sy * sy - sz * sz, 0.0))
    return out


def test_m_bjj_equals_the_event_by_event_search_bit_for_bit_with_ties() -> None:
    """Random events of 0-9 jets, and events whose jets share pT and phi (every triplet ties in
    pT, their masses differ): the vectorised search picks the same triplet, same bits."""
    rng = np.random.default_rng(5)
    counts = rng.integers(0, 10, 3000)
    n = int(counts.sum())
    tie = np.repeat(rng.random(len(counts)) < 0.3, counts)
    columns = {
        "pt": np.where(tie, 60.0, rng.exponential(50.0, n) + 20.0),
        "eta": rng.uniform(-2.4, 2.4, n),
        "phi": np.where(tie, 0.5, rng.uniform(-np.pi, np.pi, n)),
        "mass": rng.uniform(0.0, 20.0, n),
        "btagCSVV2": rng.choice([0.1, 0.9], n, p=[0.7, 0.3]),
    }
    js = Collection(counts=counts.astype(np.int64), columns=columns)
    got, expected = m_bjj(js), reference_m_bjj(js)
    assert np.isnan(expected).any()
    assert (~np.isnan(expected)).sum() > 1000
    assert np.array_equal(got, expected, equal_nan=True)


def test_h_t_sums_selected_jets() -> None:
    js = jets([jet(40.0), jet(35.5), jet(10.0)], [], [jet(100.0)])
    coll = Collection.from_awkward(js, ("pt",))
    assert h_t(js).tolist() == pytest.approx([85.5, 0.0, 100.0])
    assert h_t(coll, mask=np.array([True, False, True, True])).tolist() == pytest.approx(
        [50.0, 0.0, 100.0]
    )


# -- weights -----------------------------------------------------------------------------------


def test_btag_weight_variations() -> None:
    pts = leading_pts(
        jets([jet(50.0), jet(100.0), jet(20.0), jet(200.0), jet(150.0)]),
        np.array([1, 1, 0, 1, 1], bool),
    )
    assert pts.tolist() == [[50.0, 100.0, 200.0, 150.0]]  # 4 selected jets in order, jet 2 skipped
    weights = btag_weight_variations(pts)
    assert sorted(weights) == sorted(f"btag_var_{i}_{d}" for i in range(4) for d in ("up", "down"))
    assert weights["btag_var_0_up"][0] == pytest.approx(1.075)
    assert weights["btag_var_0_down"][0] == pytest.approx(0.925)
    assert weights["btag_var_1_up"][0] == pytest.approx(1.15)
    assert weights["btag_var_2_down"][0] == pytest.approx(0.7)
    assert weights["btag_var_3_up"][0] == pytest.approx(1.225)


# -- event selection ---------------------------------------------------------------------------


def test_select_regions_observables_and_cutflow() -> None:
    b = 0.9
    js = jets(
        # 0: 1 mu, 4 jets (one with jetId 2 not counted), one b-tag -> 4j1b, H_T = 40+50+60+70
        [jet(40.0, btag=b), jet(50.0), jet(60.0), jet(70.0), jet(80.0, jet_id=2)],
        # 1: 1 e, 5 jets, two b-tags -> 4j2b
        [
            jet(100.0, phi=0.0, btag=b),
            jet(90.0, phi=2.0, btag=b),
            jet(80.0, phi=4.0),
            jet(70.0, phi=1.0),
            jet(60.0, phi=3.0),
        ],
        # 2: two leptons -> fails the lepton cut
        [jet(40.0, btag=b), jet(50.0), jet(60.0), jet(70.0)],
        # 3: one lepton, only 3 jets (one at 29.5 GeV) -> fails; passes with pt * 1.03
        [jet(40.0, btag=b), jet(50.0), jet(60.0), jet(29.5)],
        # 4: one lepton, 4 jets, no b-tag -> in neither region
        [jet(40.0), jet(50.0), jet(60.0), jet(70.0)],
    )
    els = electrons([], [GOOD_E], [GOOD_E], [], [GOOD_E])
    mus = muons([GOOD_MU], [], [GOOD_MU], [GOOD_MU], [])
    sel = select(els, mus, js)
    assert sel.cutflow == {"all": 5, "1_lepton": 4, "ge4_jets": 3, "4j1b": 1, "4j2b": 1}
    assert sel.regions["4j1b"].mask.tolist() == [True, False, False, False, False]
    assert sel.regions["4j1b"].observable.tolist() == [220.0]
    assert sel.regions["4j1b"].jet_pts.tolist() == [[40.0, 50.0, 60.0, 70.0]]
    assert sel.regions["4j2b"].mask.tolist() == [False, True, False, False, False]
    assert sel.regions["4j2b"].observable.tolist() == pytest.approx(m_bjj(js[1:2]).tolist())
    assert sel.regions["4j2b"].jet_pts.tolist() == [[100.0, 90.0, 80.0, 70.0]]

    flat_pt = np.asarray(ak.flatten(js.pt), dtype=np.float64) * physics.JES_SCALE_UP
    varied = select(els, mus, js, flat_pt)
    assert varied.regions["4j1b"].mask.tolist() == [True, False, False, True, False]
    assert varied.regions["4j1b"].observable.tolist() == pytest.approx([220.0 * 1.03, 179.5 * 1.03])
    # the varied pT replaces the jets' pT everywhere (AGC: jets["pt"] = jets.pt * factor):
    # the leading-jet pT and the m_bjj four-momenta too; massless jets: m_bjj scales with pT
    assert varied.regions["4j1b"].jet_pts.tolist()[1] == pytest.approx(
        [40.0 * 1.03, 50.0 * 1.03, 60.0 * 1.03, 29.5 * 1.03], rel=1e-15
    )
    assert varied.regions["4j2b"].observable.tolist() == pytest.approx(
        [sel.regions["4j2b"].observable[0] * 1.03], rel=1e-12
    )


def reference_select(
    electrons: Collection, muons: Collection, jets: Collection, jet_pt=None, keep_jets=()
) -> dict:
    """select() in numpy array operations (cumulative sums, boolean indexing, bincount): per
    region the mask, observable, jet_pts, and the kept jets' counts and columns."""

    def count(collection: Collection, mask: np.ndarray) -> np.ndarray:
        offsets = np.concatenate(([0], np.cumsum(collection.counts)))
        cumulative = np.concatenate(([0], np.cumsum(mask, dtype=np.int64)))
        return cumulative[offsets[1:]] - cumulative[offsets[:-1]]

    n_leptons = count(electrons, electron_mask(electrons)) + count(muons, muon_mask(muons))
    jmask = np.asarray(jet_mask(jets, jet_pt), dtype=bool)
    tagged = jmask & (jets.btagCSVV2 > physics.BTAG_CSVV2_MIN)
    offsets = np.concatenate(([0], np.cumsum(jets.counts)))
    n_jets, n_btag = count(jets, jmask), count(jets, tagged)
    four_jets = (n_leptons == 1) & (n_jets >= 4)
    masks = {"4j1b": four_jets & (n_btag == 1), "4j2b": four_jets & (n_btag >= 2)}
    event_index = np.repeat(np.arange(jets.n_events), jets.counts)
    cumulative = np.concatenate(([0], np.cumsum(jmask, dtype=np.int64)))
    rank = cumulative[1:] - 1 - np.repeat(cumulative[offsets[:-1]], jets.counts)
    pt = np.asarray(jets.pt if jet_pt is None else jet_pt, dtype=np.float64)
    out = {}
    for region, mask in masks.items():
        chosen = mask[event_index] & jmask
        columns = {k: v[chosen] for k, v in jets.columns.items() if k != "pt"}
        selected = Collection(counts=n_jets[mask], columns={"pt": pt[chosen], **columns})
        observable = (
            np.bincount(selected.event_index, weights=selected.pt, minlength=selected.n_events)
            if region == "4j1b"
            else m_bjj(selected)
        )
        lead = np.full((selected.n_events, physics.N_BTAG_VAR_JETS), np.nan)
        pick = rank[chosen] < physics.N_BTAG_VAR_JETS
        lead[selected.event_index[pick], rank[chosen][pick]] = selected.pt[pick]
        out[region] = (mask, observable, lead, selected.counts, selected.columns)
    return out


@pytest.mark.parametrize("varied", [False, True])
def test_select_equals_the_array_recipe_bit_for_bit(varied: bool) -> None:
    """Random events of 0-11 jets at the cut edges (pT 30, |eta| 2.4, jetId bit 4, b-tag 0.5;
    NaN pT too) and 0-2 leptons: select() gives the array recipe's masks, observables, leading
    pT and kept jets, bit for bit, nominal and with a varied pT."""
    rng = np.random.default_rng(11)
    n_events = 4000
    counts = rng.integers(0, 12, n_events)
    n = int(counts.sum())
    pt = rng.choice([30.0, 29.9, 45.0, 60.0], n) * rng.choice([1.0, 1.0, 1.5, 2.0], n)
    pt[rng.random(n) < 0.01] = np.nan
    columns = {
        "pt": pt.astype(np.float32),
        "eta": rng.choice([2.4, -2.4, 2.39, 0.3, -1.2], n, p=[0.05, 0.05, 0.3, 0.3, 0.3]).astype(
            np.float32
        ),
        "phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32),
        "mass": rng.uniform(0.0, 20.0, n).astype(np.float32),
        "btagCSVV2": rng.choice([0.5, 0.51, 0.1, 0.9], n, p=[0.2, 0.1, 0.6, 0.1]).astype(
            np.float32
        ),
        "jetId": rng.choice([2, 4, 6, 7], n, p=[0.1, 0.3, 0.3, 0.3]).astype(np.int32),
    }
    js = Collection(counts=counts.astype(np.int64), columns=columns)
    # One good electron in 60 % of the events (0 or 2 selected leptons in the others).
    n_el = np.where(rng.random(n_events) < 0.6, 1, rng.choice([0, 2], n_events))
    els = Collection(
        counts=n_el.astype(np.int64),
        columns={
            k: np.full(int(n_el.sum()), v)
            for k, v in zip(("pt", "eta", "cutBased", "sip3d"), GOOD_E, strict=True)
        },
    )
    mu_fields = ("pt", "eta", "tightId", "sip3d", "pfRelIso04_all")
    mus = Collection(
        counts=np.zeros(n_events, dtype=np.int64), columns={k: np.zeros(0) for k in mu_fields}
    )
    jet_pt = pt * rng.uniform(0.9, 1.1, n) if varied else None
    sel = select(els, mus, js, jet_pt, keep_jets=("4j1b", "4j2b"))
    expected = reference_select(els, mus, js, jet_pt)
    for region, (mask, observable, lead, kept_counts, kept) in expected.items():
        got = sel.regions[region]
        assert mask.sum() > 100
        assert np.array_equal(got.mask, mask)
        assert np.array_equal(got.observable, observable, equal_nan=True)
        assert np.array_equal(got.jet_pts, lead, equal_nan=True)
        assert np.array_equal(got.jets.counts, kept_counts)
        assert got.jets.columns.keys() == kept.keys()
        for name, values in kept.items():
            assert got.jets.columns[name].dtype == values.dtype
            assert np.array_equal(got.jets.columns[name], values, equal_nan=True)
    assert sel.cutflow["4j1b"] == expected["4j1b"][0].sum()


def test_m_bjj_uses_the_varied_pt_with_eta_phi_mass_unchanged() -> None:
    # Massive jets and a different factor per jet: the trijet is built from (pT * f, eta, phi, m).
    specs = [  # pt, eta, phi, mass, btag
        (120.0, 0.3, 0.1, 15.0, 0.9),
        (95.0, -1.1, 1.9, 9.0, 0.2),
        (70.0, 1.7, -2.0, 6.0, 0.8),
        (45.0, -0.4, 2.8, 4.0, 0.1),
    ]
    factors = [1.07, 0.91, 1.02, 1.13]
    js = jets([jet(pt, phi=phi, eta=eta, mass=m, btag=b) for pt, eta, phi, m, b in specs])
    varied_pt = np.array([s[0] * f for s, f in zip(specs, factors, strict=True)])
    vectors = [
        p4(pt, eta, phi, m) for pt, (_, eta, phi, m, _) in zip(varied_pt, specs, strict=True)
    ]
    best = max(
        ((0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)),
        key=lambda c: trijet(*(vectors[i] for i in c))[0],
    )
    expected = trijet(*(vectors[i] for i in best))[1]
    assert m_bjj(js, jet_pt=varied_pt)[0] == pytest.approx(expected, rel=1e-12)
    assert m_bjj(js)[0] != pytest.approx(expected, rel=1e-3)  # the variation moves it
    # select() passes the varied pT on: the 4j2b observable is this m_bjj
    els, mus = electrons([GOOD_E]), muons([(20.0, 0.5, True, 1.0, 0.05)])  # muon fails pT
    assert select(els, mus, js, varied_pt).regions["4j2b"].observable[0] == pytest.approx(
        expected, rel=1e-12
    )


# -- reproducible JER --------------------------------------------------------------------------


def _identity(
    n_events: int, seed: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    run = rng.integers(1, 5, n_events).astype(np.uint32)
    lumi = rng.integers(1, 1000, n_events).astype(np.uint32)
    event = rng.permutation(n_events).astype(np.uint64) * np.uint64(7919) + np.uint64(1)
    n_jets = rng.poisson(5, n_events)
    return run, lumi, event, n_jets


def test_jer_factors_are_a_pure_function_of_jet_identity() -> None:
    run, lumi, event, n_jets = _identity(2000)
    first = jer_factors_flat(run, lumi, event, n_jets)
    assert np.array_equal(first, jer_factors_flat(run, lumi, event, n_jets))
    assert len(first) == n_jets.sum()
    per_event = ak.unflatten(first, n_jets)
    # shuffled events: every jet keeps its factor
    order = np.random.default_rng(1).permutation(len(run))
    shuffled = jer_factors_flat(run[order], lumi[order], event[order], n_jets[order])
    assert ak.all(ak.unflatten(shuffled, n_jets[order]) == per_event[order])
    # re-chunked: chunks of 1, 7 and 333 events give the same numbers
    for size in (1, 7, 333):
        parts = [
            jer_factors_flat(
                run[i : i + size], lumi[i : i + size], event[i : i + size], n_jets[i : i + size]
            )
            for i in range(0, len(run), size)
        ]
        assert np.array_equal(np.concatenate(parts), first)
    # jets of one event differ; another seed gives other numbers
    assert len(set(ak.to_list(per_event[int(np.argmax(n_jets))]))) == int(n_jets.max())
    other = jer_factors_flat(run, lumi, event, n_jets, seed=physics.JER_SEED + 1)
    assert not np.any(other == first)


def test_jer_distribution_is_normal_1_005() -> None:
    run, lumi, event, n_jets = _identity(40_000)
    factors = jer_factors_flat(run, lumi, event, n_jets)
    assert len(factors) > 150_000
    assert abs(factors.mean() - 1.0) < 0.0005
    assert abs(factors.std() - physics.JER_SIGMA) < 0.0005
    pulls = (factors - 1.0) / physics.JER_SIGMA
    assert abs(np.mean(np.abs(pulls) < 1.0) - 0.6827) < 0.005
    assert abs(np.mean(np.abs(pulls) < 2.0) - 0.9545) < 0.003
