"""Four-vectors as numpy arrays with a trailing axis of (px, py, pz, E) [GeV].

Construction from (pT, eta, phi, m), the kinematic variables, Lorentz boosts and the two-body
decay of a parent in its rest frame, all vectorised over events (and slots).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from agc.core import compiled, portablemath

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
    """Four-vectors (..., 4) from pT [GeV], eta, phi [rad] and mass [GeV] (float64, broadcast
    to one shape): px = pT cos(phi), py = pT sin(phi), pz = pT sinh(eta) and
    E = sqrt(((px^2 + py^2) + pz^2) + m^2), the C library's cos, sin and sinh
    (compiled: :func:`_ptetaphim`)."""
    arrays = np.broadcast_arrays(*(np.asarray(a, np.float64) for a in (pt, eta, phi, mass)))
    flat = [compiled.kernel_array(a, np.float64).reshape(-1) for a in arrays]
    out = np.empty((flat[0].size, 4))
    _ptetaphim(*flat, out)
    return out.reshape((*arrays[0].shape, 4))


@compiled.njit
def _ptetaphim(pt, eta, phi, mass, out):  # pragma: no cover - compiled
    """:func:`p4_ptetaphim` of flat arrays into ``out`` (n, 4)."""
    for i in range(pt.shape[0]):
        px = pt[i] * math.cos(phi[i])
        py = pt[i] * math.sin(phi[i])
        pz = pt[i] * math.sinh(eta[i])
        out[i, 0] = px
        out[i, 1] = py
        out[i, 2] = pz
        out[i, 3] = math.sqrt(((px * px + py * py) + pz * pz) + mass[i] * mass[i])


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
    """Decay ``parent`` (n, 4) of mass ``parent_mass`` (n,) [GeV] into masses m1, m2 (scalars or
    (n,)): isotropic (or the given cos theta*) in its rest frame, then boosted (:func:`boost`);
    returns the two daughters (n, 4). Draws cos theta* (unless given), then phi*, n each.
    Compiled per decay (:func:`_two_body`) with numpy's operations in numpy's order."""
    n = parent.shape[0]
    cos_t = rng.uniform(-1.0, 1.0, n) if cos_theta is None else cos_theta
    phi = rng.uniform(-np.pi, np.pi, n)
    columns = [
        compiled.kernel_array(np.broadcast_to(a, (n,)), np.float64)
        for a in (parent_mass, m1, m2, cos_t, phi)
    ]
    first, second = np.empty((n, 4)), np.empty((n, 4))
    _two_body(compiled.kernel_array(parent, np.float64), *columns, first, second)
    return first, second


@compiled.njit
def _non_negative(x):  # pragma: no cover - compiled
    """``np.maximum(x, 0.0)``: x when x >= 0 or NaN, else 0."""
    return x if (x >= 0.0 or math.isnan(x)) else 0.0


@compiled.njit
def _sum3(a, b, c):  # pragma: no cover - compiled
    """``np.sum`` of three float64 (a + b) + c, from +0.0 as numpy starts."""
    return ((0.0 + a) + b) + c


@compiled.njit
def _boosted(d, beta, out, i):  # pragma: no cover - compiled
    """:func:`boost` of the four-vector ``d`` (4,) by ``beta`` (3,) into ``out[i]``."""
    b2 = _sum3(beta[0] * beta[0], beta[1] * beta[1], beta[2] * beta[2])
    gamma = 1.0 / math.sqrt(1.0 - b2)
    bp = _sum3(beta[0] * d[0], beta[1] * d[1], beta[2] * d[2])
    coef = (gamma - 1.0) / b2 if b2 > 0 else 0.0
    along = coef * bp + gamma * d[3]
    for x in range(3):
        out[i, x] = d[x] + along * beta[x]
    out[i, 3] = gamma * (d[3] + bp)


@compiled.njit
def _two_body(
    parent, parent_mass, m1, m2, cos_t, phi, first, second
):  # pragma: no cover - compiled
    """:func:`two_body` of every parent into ``first`` and ``second`` (n, 4)."""
    d = np.empty(4)
    beta = np.empty(3)
    for i in range(parent.shape[0]):
        mm = parent_mass[i] * parent_mass[i]
        plus, minus = m1[i] + m2[i], m1[i] - m2[i]
        pstar = math.sqrt(_non_negative((mm - plus * plus) * (mm - minus * minus))) / (
            2 * parent_mass[i]
        )
        sin_t = math.sqrt(_non_negative(1.0 - cos_t[i] * cos_t[i]))
        direction = (sin_t * math.cos(phi[i]), sin_t * math.sin(phi[i]), cos_t[i])
        for x in range(3):
            beta[x] = parent[i, x] / parent[i, 3]
            d[x] = pstar * direction[x]
        d[3] = math.sqrt(pstar * pstar + m1[i] * m1[i])
        _boosted(d, beta, first, i)
        for x in range(3):
            d[x] = -d[x]
        d[3] = math.sqrt(pstar * pstar + m2[i] * m2[i])
        _boosted(d, beta, second, i)


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
