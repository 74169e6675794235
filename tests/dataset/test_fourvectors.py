"""Four-vectors of the generator (agc.dataset.fourvectors): kinematics, boosts, two-body decays."""

from __future__ import annotations

import numpy as np

from agc.dataset.fourvectors import (
    boost,
    eta_of,
    mass_of,
    p4_ptetaphim,
    phi_of,
    pt_of,
    system_p4,
    two_body,
)


def test_round_trip_pt_eta_phi_mass() -> None:
    pt, eta, phi, mass = np.array([30.0, 250.0]), np.array([0.3, -2.1]), np.array([1.0, -3.0]), 4.8
    p = p4_ptetaphim(pt, eta, phi, mass)
    assert p.shape == (2, 4)
    np.testing.assert_allclose(pt_of(p), pt)
    np.testing.assert_allclose(eta_of(p), eta)
    np.testing.assert_allclose(phi_of(p), phi)
    np.testing.assert_allclose(mass_of(p), mass, rtol=1e-6)
    assert eta_of(np.array([[0.0, 0.0, 5.0, 5.0]]))[0] == 0.0  # pT = 0: eta 0, not nan


def test_boost_keeps_the_mass_and_moves_a_particle_at_rest() -> None:
    rest = np.array([[0.0, 0.0, 0.0, 10.0]])
    beta = np.array([[0.0, 0.0, 0.6]])
    moved = boost(rest, beta)
    np.testing.assert_allclose(moved, [[0.0, 0.0, 7.5, 12.5]])  # gamma = 1.25
    np.testing.assert_allclose(mass_of(moved), 10.0)
    np.testing.assert_allclose(boost(rest, np.zeros((1, 3))), rest)


def test_two_body_conserves_four_momentum_and_masses() -> None:
    rng = np.random.default_rng(3)
    n = 100
    parent_mass = np.full(n, 172.5)
    recoil = rng.normal(0.0, 40.0, (n, 2))
    parent = system_p4(parent_mass, recoil, rng.normal(0.0, 1.0, n))
    np.testing.assert_allclose(mass_of(parent), parent_mass)
    np.testing.assert_allclose(parent[:, :2], recoil)
    b, w = two_body(rng, parent, parent_mass, 4.8, 80.4)
    np.testing.assert_allclose(b + w, parent, atol=1e-9)
    np.testing.assert_allclose(mass_of(b), 4.8, rtol=1e-6)
    np.testing.assert_allclose(mass_of(w), 80.4, rtol=1e-9)
