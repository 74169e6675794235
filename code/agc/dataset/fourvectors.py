"""Four-vectors as numpy arrays with a trailing axis of (px, py, pz, E) [GeV].

Construction from (pT, eta, phi, m), the kinematic variables, Lorentz boosts and the two-body
decay of a parent in its rest frame, all vectorised over events (and slots).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agc.core import portablemath

__all__ = [
    "P4",
    "boost",
    "eta_of",
    "mass_of",
    "p4_ptetaphim",
    "phi_of",
    "pt_of",
    "system_p4",
    "two_body",
]

P4 = np.ndarray  # (..., 4) array of (px, py, pz, E) [GeV]


def p4_ptetaphim(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, mass: Any) -> P4:
    """Four-vectors (..., 4) from pT [GeV], eta, phi [rad] and mass [GeV] of equal shapes."""
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * portablemath.sinh(eta)
    energy = np.sqrt(px**2 + py**2 + pz**2 + np.square(mass))
    return np.stack([px, py, pz, energy], axis=-1)


def pt_of(p: P4) -> np.ndarray:
    """Transverse momentum [GeV] of four-vectors (..., 4); shape (...)."""
    return np.hypot(p[..., 0], p[..., 1])


def eta_of(p: P4) -> np.ndarray:
    """Pseudorapidity of four-vectors (..., 4) (0 where pT = 0); shape (...)."""
    pt = pt_of(p)
    return portablemath.arcsinh(np.divide(p[..., 2], pt, out=np.zeros_like(pt), where=pt > 0))


def phi_of(p: P4) -> np.ndarray:
    """Azimuth [rad, in (-pi, pi]] of four-vectors (..., 4); shape (...)."""
    return portablemath.arctan2(p[..., 1], p[..., 0])


def mass_of(p: P4) -> np.ndarray:
    """Invariant mass [GeV] of four-vectors (..., 4), 0 for space-like ones; shape (...)."""
    return np.sqrt(np.maximum(p[..., 3] ** 2 - np.sum(p[..., :3] ** 2, axis=-1), 0.0))


def boost(p: P4, beta: np.ndarray) -> P4:
    """Lorentz-boost four-vectors ``p`` (..., 4) by velocity ``beta`` (..., 3)."""
    b2 = np.sum(beta**2, axis=-1)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = np.sum(beta * p[..., :3], axis=-1)
    coef = np.divide(gamma - 1.0, b2, out=np.zeros_like(b2), where=b2 > 0)
    space = p[..., :3] + ((coef * bp + gamma * p[..., 3])[..., None]) * beta
    energy = gamma * (p[..., 3] + bp)
    return np.concatenate([space, energy[..., None]], axis=-1)


def two_body(
    rng: np.random.Generator,
    parent: P4,
    parent_mass: np.ndarray,
    m1: Any,
    m2: Any,
    cos_theta: np.ndarray | None = None,
) -> tuple[P4, P4]:
    """Decay ``parent`` into masses m1, m2: isotropic (or given cos theta*) in its rest frame."""
    n = parent.shape[0]
    m1 = np.broadcast_to(m1, (n,))
    m2 = np.broadcast_to(m2, (n,))
    mm = parent_mass**2
    pstar = np.sqrt(np.maximum((mm - (m1 + m2) ** 2) * (mm - (m1 - m2) ** 2), 0.0)) / (
        2 * parent_mass
    )
    cos_t = rng.uniform(-1.0, 1.0, n) if cos_theta is None else cos_theta
    sin_t = np.sqrt(np.maximum(1.0 - cos_t**2, 0.0))
    phi = rng.uniform(-np.pi, np.pi, n)
    direction = np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], axis=-1)
    p3 = pstar[:, None] * direction
    d1 = np.concatenate([p3, np.sqrt(pstar**2 + m1**2)[:, None]], axis=-1)
    d2 = np.concatenate([-p3, np.sqrt(pstar**2 + m2**2)[:, None]], axis=-1)
    beta = parent[:, :3] / parent[:, 3:4]
    return boost(d1, beta), boost(d2, beta)


def system_p4(mass: np.ndarray, recoil: np.ndarray, rapidity: np.ndarray) -> P4:
    """Four-vector of a system of ``mass`` with transverse momentum ``recoil`` (n, 2) and rapidity."""
    mt = np.sqrt(mass**2 + np.sum(recoil**2, axis=-1))
    return np.stack(
        [
            recoil[:, 0],
            recoil[:, 1],
            mt * portablemath.sinh(rapidity),
            mt * portablemath.cosh(rapidity),
        ],
        axis=-1,
    )
