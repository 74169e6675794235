"""Four-vectors of the generator (agc.dataset.fourvectors): kinematics, boosts, two-body decays."""

from __future__ import annotations

from typing import Any

import numpy as np

from agc.core import portablemath
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


def _p4_in_numpy(pt: Any, eta: Any, phi: Any, mass: Any) -> np.ndarray:
    """:func:`p4_ptetaphim` in numpy: the bits the compiled one must give."""
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * portablemath.sinh(eta)
    return np.stack([px, py, pz, np.sqrt(px**2 + py**2 + pz**2 + np.square(mass))], axis=-1)


def _two_body_in_numpy(
    rng: np.random.Generator, parent: np.ndarray, parent_mass: Any, m1: Any, m2: Any, cos_t: Any
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`two_body` in numpy (with :func:`boost`): the bits the compiled one must give."""
    n = parent.shape[0]
    m1, m2 = np.broadcast_to(m1, (n,)), np.broadcast_to(m2, (n,))
    mm = parent_mass**2
    pstar = np.sqrt(np.maximum((mm - (m1 + m2) ** 2) * (mm - (m1 - m2) ** 2), 0.0)) / (
        2 * parent_mass
    )
    cos_t = rng.uniform(-1.0, 1.0, n) if cos_t is None else cos_t
    sin_t = np.sqrt(np.maximum(1.0 - cos_t**2, 0.0))
    phi = rng.uniform(-np.pi, np.pi, n)
    p3 = pstar[:, None] * np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], axis=-1)
    d1 = np.concatenate([p3, np.sqrt(pstar**2 + m1**2)[:, None]], axis=-1)
    d2 = np.concatenate([-p3, np.sqrt(pstar**2 + m2**2)[:, None]], axis=-1)
    beta = parent[:, :3] / parent[:, 3:4]
    return boost(d1, beta), boost(d2, beta)


def test_the_compiled_four_vectors_give_the_bits_of_numpys() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    pt, eta = rng.gamma(2.0, 30.0, (n, 3)), rng.normal(0.0, 2.0, (n, 3))
    phi = rng.uniform(-np.pi, np.pi, (n, 3))
    pt[0, 0], eta[1, 1] = 0.0, 0.0  # a parton at rest in the transverse plane, one at eta = 0
    masses = np.where(rng.random((n, 3)) < 0.3, 4.7, 0.0)
    for mass in (masses, 0.0, 172.5):
        assert (
            p4_ptetaphim(pt, eta, phi, mass).tobytes() == _p4_in_numpy(pt, eta, phi, mass).tobytes()
        )
    parent = p4_ptetaphim(rng.gamma(2, 50, n), rng.normal(0, 2, n), rng.uniform(-3, 3, n), 172.5)
    parent[0, :3] = 0.0  # a parent at rest: no boost
    parent_mass = 172.5 + rng.normal(0.0, 1.5, n)
    parent_mass[1] = 80.0  # below the daughters' masses: p* = 0
    for m1, m2, cos_t in (
        (4.7, 80.4, None),
        (0.0, 0.0, None),
        (172.5, 172.5, rng.uniform(-1.0, 1.0, n)),
        (np.full(n, 80.0), 0.0, None),
    ):
        ours, theirs = np.random.default_rng(9), np.random.default_rng(9)
        got = two_body(ours, parent, parent_mass, m1, m2, cos_t)
        want = _two_body_in_numpy(theirs, parent, parent_mass, m1, m2, cos_t)
        assert [a.tobytes() for a in got] == [a.tobytes() for a in want]
        assert ours.random() == theirs.random()  # the same draws
