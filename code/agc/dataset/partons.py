"""Parton level of the generator: the hard process of each topology and the extra radiation.

Hard processes (all vectorised over a block of events): ttbar and Z' -> ttbar (pair system of
mass m_tt, rapidity y, recoiling against the radiation; t -> bW with Breit-Wigner top
(172.5/1.4 GeV) and W (80.4/2.1 GeV) masses; one W -> e/mu nu, incl. tau -> e/mu, the other
W -> q q'), single top t-channel (top + forward light quark + spectator b), s-channel (top + b),
tW (top + W, optional extra b from g -> b bbar), W+jets (W -> l nu + >= N partons with Berends
scaling and a heavy-flavour composition). Hadronic W decays give c s' half the time.

Radiation: extra partons, Poisson multiplicity, power-law pT above ``pt_min``, Gaussian
rapidity, small g -> b bbar / c cbar fractions. The ttbar variations differ here
(scaleup/scaledown: more/harder or fewer/softer; ME_var: harder first emission spectrum;
PS_var: a different shower -> different multiplicity, response and resolution).

Entry point: :func:`parton_level` (the partons and the prompt lepton of a block of events).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agc.core.errors import AGCError
from agc.dataset.fourvectors import P4, p4_ptetaphim, system_p4, two_body
from agc.dataset.sampling import breit_wigner, cos_theta_1pc2, power_law

__all__ = ["Partons", "PromptLepton", "parton_level"]

# Particle masses and widths [GeV] and branching fractions.
TOP_MASS, TOP_WIDTH = 172.5, 1.4
W_MASS, W_WIDTH = 80.4, 2.1
B_MASS, C_MASS = 4.8, 1.5
#: Share of tau -> e/mu among W -> e/mu/tau(-> e/mu) decays: 0.1086*0.352 / (2*0.1086 + 0.1086*0.352).
TAU_SHARE = 0.1496


class Partons:
    """Growing list of parton slots: four-vector, hadron flavour (0, 4, 5) and presence."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.p4: list[np.ndarray] = []
        self.flavour: list[np.ndarray] = []
        self.valid: list[np.ndarray] = []

    def add(self, p4: P4, flavour: Any, valid: Any = True) -> None:
        """Append slots: ``p4`` (n, 4) or (n, k, 4); ``flavour``/``valid`` scalars, (n,) or (n, k)."""
        if p4.ndim == 2:
            p4 = p4[:, None, :]
        k = p4.shape[1]
        self.p4.append(p4)
        self.flavour.append(self._slots(flavour, np.int32, k))
        self.valid.append(self._slots(valid, bool, k))

    def _slots(self, value: Any, dtype: Any, k: int) -> np.ndarray:
        arr = np.asarray(value, dtype=dtype)
        if arr.ndim == 1:
            arr = arr[:, None]
        return np.broadcast_to(arr, (self.n, k))

    def arrays(self) -> tuple[P4, np.ndarray, np.ndarray]:
        """Four-vectors (n, slots, 4) [GeV], flavours (n, slots) and presence (n, slots)."""
        return (
            np.concatenate(self.p4, axis=1),
            np.concatenate(self.flavour, axis=1),
            np.concatenate(self.valid, axis=1),
        )


class PromptLepton:
    """The prompt lepton of the event: four-vector, electron flag, charge, from-tau flag."""

    def __init__(
        self, p4: P4, is_electron: np.ndarray, charge: np.ndarray, from_tau: np.ndarray
    ) -> None:
        self.p4, self.is_electron, self.charge, self.from_tau = p4, is_electron, charge, from_tau


def _radiation(
    rng: np.random.Generator, n: int, cfg: dict[str, Any]
) -> tuple[P4, np.ndarray, np.ndarray]:
    """Extra partons: multiplicity ~ Poisson(mean) (at most max), power-law pT, Gaussian eta."""
    kmax = int(cfg.get("max", 6))
    count = np.minimum(rng.poisson(cfg["mean"], n), kmax)
    valid = np.arange(kmax)[None, :] < count[:, None]
    pt = power_law(rng, (n, kmax), cfg["pt_min"], cfg["pt_index"])
    eta = rng.normal(0.0, cfg["eta_sigma"], (n, kmax))
    phi = rng.uniform(-np.pi, np.pi, (n, kmax))
    u = rng.random((n, kmax))
    flavour = np.where(
        u < cfg["b_fraction"], 5, np.where(u < cfg["b_fraction"] + cfg["c_fraction"], 4, 0)
    )
    mass = np.where(flavour == 5, B_MASS, np.where(flavour == 4, C_MASS, 0.0))
    p4 = p4_ptetaphim(pt, eta, phi, mass)
    return p4, flavour.astype(np.int32), valid


def _recoil(p4: P4, valid: np.ndarray) -> np.ndarray:
    """Minus the summed transverse momentum (n, 2) of the valid partons."""
    return -np.sum(np.where(valid[..., None], p4[..., :2], 0.0), axis=1)


def _lepton_flavour(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Electron flag and tau-origin flag of a W -> e/mu nu (incl. tau -> e/mu nu nu) decay."""
    return rng.random(n) < 0.5, rng.random(n) < TAU_SHARE


def _w_decay(
    rng: np.random.Generator,
    w: P4,
    w_mass: np.ndarray,
    leptonic: np.ndarray,
    charge: np.ndarray,
    partons: Partons,
) -> PromptLepton:
    """Decay W bosons: leptonic ones to l nu (lepton returned), hadronic ones to u d' or c s'."""
    n = w.shape[0]
    is_e, from_tau = _lepton_flavour(rng, n)
    f1, f2 = two_body(rng, w, w_mass, 0.0, 0.0)
    charm = rng.random(n) < 0.5  # W -> c s (Cabibbo-favoured, half of the hadronic decays)
    partons.add(f1, np.where(charm, 4, 0), ~leptonic)
    partons.add(f2, 0, ~leptonic)
    # tau -> l nu nu, collinear: the lepton carries a fraction x of the tau momentum.
    x = rng.beta(1.0, 1.85, n)
    lepton = f1 * np.where(from_tau, x, 1.0)[:, None]
    return PromptLepton(lepton, is_e, charge, from_tau & leptonic)


def _top_decay(
    rng: np.random.Generator,
    top: P4,
    top_mass: np.ndarray,
    leptonic: np.ndarray,
    charge: np.ndarray,
    partons: Partons,
) -> PromptLepton:
    """t -> b W (isotropic), W -> l nu where ``leptonic`` else q q'."""
    n = top.shape[0]
    w_mass = breit_wigner(rng, n, W_MASS, W_WIDTH)
    b, w = two_body(rng, top, top_mass, B_MASS, w_mass)
    partons.add(b, 5)
    return _w_decay(rng, w, w_mass, leptonic, charge, partons)


def _merge_leptons(
    first: PromptLepton, second: PromptLepton, use_first: np.ndarray
) -> PromptLepton:
    pick = use_first[:, None]
    return PromptLepton(
        np.where(pick, first.p4, second.p4),
        np.where(use_first, first.is_electron, second.is_electron),
        np.where(use_first, first.charge, second.charge),
        np.where(use_first, first.from_tau, second.from_tau),
    )


def _hard_ttbar(
    rng: np.random.Generator, n: int, cfg: dict[str, Any], recoil: np.ndarray, partons: Partons
) -> PromptLepton:
    """ttbar (or Z' -> ttbar) -> l nu b + q q' b."""
    hard = cfg.get("hard", {})
    m1 = breit_wigner(rng, n, TOP_MASS, TOP_WIDTH)
    m2 = breit_wigner(rng, n, TOP_MASS, TOP_WIDTH)
    if cfg["topology"] == "zprime":
        mass, width = (
            float(cfg["mass"]),
            float(cfg.get("width_fraction", 0.03)) * float(cfg["mass"]),
        )
        m_pair = np.maximum(breit_wigner(rng, n, mass, width), m1 + m2 + 1.0)
        cos_t = cos_theta_1pc2(rng, n)
    else:
        excess = rng.gamma(hard.get("mtt_shape", 1.3), hard.get("mtt_scale", 100.0), n)
        m_pair = m1 + m2 + excess
        cos_t = rng.uniform(-1.0, 1.0, n)
    rapidity = rng.normal(0.0, hard.get("rapidity_sigma", 0.9), n)
    system = system_p4(m_pair, recoil, rapidity)
    top, antitop = two_body(rng, system, m_pair, m1, m2, cos_t)
    top_leptonic = rng.random(n) < 0.5
    lep_t = _top_decay(rng, top, m1, top_leptonic, np.ones(n, np.int32), partons)
    lep_tbar = _top_decay(rng, antitop, m2, ~top_leptonic, -np.ones(n, np.int32), partons)
    return _merge_leptons(lep_t, lep_tbar, top_leptonic)


def _top_charge(rng: np.random.Generator, n: int, cfg: dict[str, Any]) -> np.ndarray:
    return np.where(rng.random(n) < cfg.get("hard", {}).get("top_fraction", 0.5), 1, -1).astype(
        np.int32
    )


def _hard_single_top_t(
    rng: np.random.Generator, n: int, cfg: dict[str, Any], partons: Partons
) -> PromptLepton:
    """t-channel: top (-> l nu b) + forward light quark + soft spectator b (4-flavour scheme)."""
    hard = cfg.get("hard", {})
    charge = _top_charge(rng, n, cfg)
    top_mass = breit_wigner(rng, n, TOP_MASS, TOP_WIDTH)
    phi = rng.uniform(-np.pi, np.pi, n)
    top = p4_ptetaphim(rng.gamma(2.2, 32.0, n), rng.normal(0.0, 1.1, n), phi, top_mass)
    sign = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    q_eta = sign * np.abs(rng.normal(hard.get("forward_eta", 2.3), 0.9, n))
    q_pt = 15.0 + rng.gamma(2.0, 22.0, n)
    q_phi = phi + np.pi + rng.normal(0.0, 0.7, n)
    partons.add(p4_ptetaphim(q_pt, q_eta, q_phi, 0.0), 0)
    spec_pt = 5.0 + rng.exponential(hard.get("spectator_pt", 22.0), n)
    spec = p4_ptetaphim(spec_pt, rng.normal(0.0, 1.8, n), rng.uniform(-np.pi, np.pi, n), B_MASS)
    partons.add(spec, 5)
    return _top_decay(rng, top, top_mass, np.ones(n, bool), charge, partons)


def _hard_single_top_s(
    rng: np.random.Generator, n: int, cfg: dict[str, Any], recoil: np.ndarray, partons: Partons
) -> PromptLepton:
    """s-channel: q q' -> W* -> t b, top -> l nu b."""
    hard = cfg.get("hard", {})
    charge = _top_charge(rng, n, cfg)
    top_mass = breit_wigner(rng, n, TOP_MASS, TOP_WIDTH)
    m_pair = top_mass + B_MASS + rng.gamma(1.5, hard.get("mass_scale", 90.0), n)
    system = system_p4(m_pair, recoil, rng.normal(0.0, 0.8, n))
    top, b = two_body(rng, system, m_pair, top_mass, B_MASS)
    partons.add(b, 5)
    return _top_decay(rng, top, top_mass, np.ones(n, bool), charge, partons)


def _hard_single_top_tw(
    rng: np.random.Generator, n: int, cfg: dict[str, Any], recoil: np.ndarray, partons: Partons
) -> PromptLepton:
    """tW: b g -> t W; exactly one of the two W bosons decays to e/mu; optional extra b."""
    hard = cfg.get("hard", {})
    charge = _top_charge(rng, n, cfg)
    top_mass = breit_wigner(rng, n, TOP_MASS, TOP_WIDTH)
    w_mass = breit_wigner(rng, n, W_MASS, W_WIDTH)
    m_pair = top_mass + w_mass + rng.gamma(1.5, hard.get("mass_scale", 90.0), n)
    system = system_p4(m_pair, recoil, rng.normal(0.0, 0.9, n))
    top, w = two_body(rng, system, m_pair, top_mass, w_mass)
    top_leptonic = rng.random(n) < 0.5
    lep_top = _top_decay(rng, top, top_mass, top_leptonic, charge, partons)
    lep_w = _w_decay(rng, w, w_mass, ~top_leptonic, -charge, partons)
    extra = rng.random(n) < hard.get("extra_b_probability", 0.0)
    b_pt = 15.0 + rng.exponential(hard.get("extra_b_pt", 35.0), n)
    b = p4_ptetaphim(b_pt, rng.normal(0.0, 1.6, n), rng.uniform(-np.pi, np.pi, n), B_MASS)
    partons.add(b, 5, extra)
    return _merge_leptons(lep_top, lep_w, top_leptonic)


def _hard_wjets(
    rng: np.random.Generator, n: int, cfg: dict[str, Any], partons: Partons
) -> PromptLepton:
    """W (-> l nu) + N >= min partons (Berends scaling), heavy flavour per event (bb, cc, c)."""
    pcfg, hf = cfg["partons"], cfg["heavy_flavour"]
    kmax = int(pcfg.get("max", 8))
    extra = rng.geometric(1.0 - pcfg["ratio"], n) - 1
    count = np.minimum(pcfg["min"] + extra, kmax)
    valid = np.arange(kmax)[None, :] < count[:, None]
    pt = power_law(rng, (n, kmax), pcfg["pt_min"], pcfg["pt_index"])
    eta = rng.normal(0.0, pcfg["eta_sigma"], (n, kmax))
    phi = rng.uniform(-np.pi, np.pi, (n, kmax))
    u = rng.random(n)
    kind = np.select(
        [u < hf["bb"], u < hf["bb"] + hf["cc"], u < hf["bb"] + hf["cc"] + hf["c"]], [5, 4, 1], 0
    )
    slot = np.arange(kmax)[None, :]  # parton pTs are i.i.d., so the first slots are random ones
    flavour = np.where((kind[:, None] == 5) & (slot < 2), 5, 0)
    flavour = np.where((kind[:, None] == 4) & (slot < 2), 4, flavour)
    flavour = np.where((kind[:, None] == 1) & (slot < 1), 4, flavour).astype(np.int32)
    mass = np.where(flavour == 5, B_MASS, np.where(flavour == 4, C_MASS, 0.0))
    p4 = p4_ptetaphim(pt, eta, phi, mass)
    partons.add(p4, flavour, valid)
    w_mass = breit_wigner(rng, n, W_MASS, W_WIDTH)
    w = system_p4(w_mass, _recoil(p4, valid), rng.normal(0.0, 1.3, n))
    charge = np.where(rng.random(n) < hf.get("w_plus_fraction", 0.58), 1, -1).astype(np.int32)
    return _w_decay(rng, w, w_mass, np.ones(n, bool), charge, partons)


def _hard_process(
    rng: np.random.Generator, n: int, cfg: dict[str, Any], recoil: np.ndarray, partons: Partons
) -> PromptLepton:
    """The hard process of the sample's ``topology``: its partons go to ``partons``."""
    topology = cfg["topology"]
    if topology in ("ttbar", "zprime"):
        return _hard_ttbar(rng, n, cfg, recoil, partons)
    if topology == "single_top_t_chan":
        return _hard_single_top_t(rng, n, cfg, partons)
    if topology == "single_top_s_chan":
        return _hard_single_top_s(rng, n, cfg, recoil, partons)
    if topology == "single_top_tW":
        return _hard_single_top_tw(rng, n, cfg, recoil, partons)
    if topology == "wjets":
        return _hard_wjets(rng, n, cfg, partons)
    raise AGCError(f"unknown topology '{topology}'")  # pragma: no cover - the schema's enum


def parton_level(
    rng: np.random.Generator, n: int, cfg: dict[str, Any]
) -> tuple[Partons, PromptLepton]:
    """Partons (hard process first, then radiation) and prompt lepton of ``n`` events.

    ``cfg`` is the sample's recipe entry. The radiation is drawn first: the hard system recoils
    against it.
    """
    partons = Partons(n)
    rad_p4, rad_flavour, rad_valid = _radiation(rng, n, cfg["radiation"])
    lepton = _hard_process(rng, n, cfg, _recoil(rad_p4, rad_valid), partons)
    partons.add(rad_p4, rad_flavour, rad_valid)
    return partons, lepton
