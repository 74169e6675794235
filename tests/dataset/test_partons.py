"""Parton level of the generator (agc.dataset.partons): hard processes and radiation."""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np
import pytest

from agc.dataset.fourvectors import mass_of
from agc.dataset.partons import parton_level


@pytest.mark.parametrize(
    ("process", "hard_b"),
    [("ttbar", 2), ("zprime_1000", 2), ("single_top_s_chan", 2), ("single_top_t_chan", 2)],
)
def test_hard_process_partons_and_prompt_lepton(
    recipe: dict[str, Any], process: str, hard_b: int
) -> None:
    n = 2000
    cfg = recipe["samples"][process]["nominal"]
    partons, lepton = parton_level(np.random.default_rng(7), n, cfg)
    p4, flavour, valid = partons.arrays()
    assert p4.shape[:2] == flavour.shape == valid.shape
    assert p4.shape[0] == n
    assert set(np.unique(flavour)) <= {0, 4, 5}
    assert np.all(np.sum((flavour == 5) & valid, axis=1) >= hard_b)  # b from t -> bW (+ b)
    assert lepton.p4.shape == (n, 4)
    assert set(np.unique(lepton.charge)) == {-1, 1}
    assert 0.45 < np.mean(lepton.is_electron) < 0.55
    assert 0.1 < np.mean(lepton.from_tau) < 0.2  # TAU_SHARE = 0.15
    np.testing.assert_allclose(mass_of(lepton.p4), 0.0, atol=1e-3)  # massless at parton level


def test_zprime_pair_mass_peaks_at_the_resonance(recipe: dict[str, Any]) -> None:
    """The first six slots (b, W daughters of each top; the leptonic W's daughters are kept as
    absent slots) add up to the ttbar pair: its mass is the Z' Breit-Wigner (3 % width)."""
    zprime = recipe["samples"]["zprime_1000"]["nominal"]
    partons, _ = parton_level(np.random.default_rng(8), 2000, zprime)
    p4, _, valid = partons.arrays()
    assert np.all(np.sum(valid[:, :6], axis=1) == 4)  # b, b and the hadronic W's q q'
    m_tt = mass_of(p4[:, :6].sum(axis=1))
    assert abs(np.median(m_tt) - 1000.0) < 10.0
    assert 0.4 < np.mean(np.abs(m_tt - 1000.0) < 15.0) < 0.65  # half-width 15 GeV


def test_wjets_has_at_least_the_minimum_partons(recipe: dict[str, Any]) -> None:
    cfg = recipe["samples"]["wjets"]["nominal"]
    partons, lepton = parton_level(np.random.default_rng(9), 2000, cfg)
    _, flavour, valid = partons.arrays()
    hard = cfg["partons"]
    assert np.all(valid[:, : hard["min"]])  # the first slots are the W+jets partons
    assert 0.5 < np.mean(lepton.charge == 1) < 0.66  # W+ fraction 0.58
    assert np.any(flavour == 5)
    assert np.any(flavour == 4)


def test_parton_types(recipe: dict[str, Any]) -> None:
    """Hard-process partons are quarks; radiation's light partons are gluons; W+jets' light
    partons are gluons in the recipe's ``gluon_fraction`` (0.6), recorded as pdgId 21."""
    ttbar = recipe["samples"]["ttbar"]["nominal"]
    partons, _ = parton_level(np.random.default_rng(10), 2000, ttbar)
    _, flavour, valid = partons.arrays()
    gluon = partons.gluons()
    assert gluon.shape == flavour.shape
    assert not gluon[:, :6].any()  # b, q, q' of both top decays
    radiation = valid[:, 6:]
    assert np.array_equal(gluon[:, 6:][radiation], flavour[:, 6:][radiation] == 0)
    wjets = recipe["samples"]["wjets"]["nominal"]
    partons, _ = parton_level(np.random.default_rng(11), 4000, wjets)
    _, flavour, valid = partons.arrays()
    kmax = int(wjets["partons"].get("max", 8))
    light = valid[:, :kmax] & (flavour[:, :kmax] == 0)
    share = np.mean(partons.gluons()[:, :kmax][light])
    assert abs(share - wjets["partons"]["gluon_fraction"]) < 0.02
    record = partons.truth.branches()
    n_gluons = ak.sum(record["GenPart_pdgId"] == 21)
    assert n_gluons == np.sum(partons.gluons()[:, :kmax] & valid[:, :kmax])
