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

Parton identity (for the machine-learning extension): every parton slot carries a gluon flag
(the radiation's light partons and W+jets' light partons drawn as gluons are gluons; quarks
otherwise), which the clustering hands on to the jets and :mod:`agc.dataset.qgl` turns into the
quark-gluon likelihood; and the hard process of every event is recorded in NanoAOD's ``GenPart``
layout (:class:`agc.dataset.genpart.GenRecord`, ``Partons.truth``): tops, W bosons, the Z', the b
quarks and W daughters with their pdgIds and mothers, at the partons' momenta before clustering
and smearing. The only new random numbers (W+jets' quark or gluon, a light quark's flavour) come
from the separate ``aux`` stream, so every earlier draw of ``rng`` is unchanged.

Entry point: :func:`parton_level` (the partons and the prompt lepton of a block of events).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agc.core.errors import AGCError
from agc.dataset.fourvectors import P4, p4_ptetaphim, system_p4, two_body
from agc.dataset.genpart import (
    DECAYED_STATUS,
    FINAL_STATUS,
    OUTGOING_STATUS,
    TAU_DECAY_FLAGS,
    GenRecord,
    lepton_pdg,
    quark_pdg,
)
from agc.dataset.sampling import breit_wigner, cos_theta_1pc2, power_law

__all__ = ["Partons", "PromptLepton", "parton_level"]

# Particle masses and widths [GeV] and branching fractions.
TOP_MASS, TOP_WIDTH = 172.5, 1.4
W_MASS, W_WIDTH = 80.4, 2.1
B_MASS, C_MASS = 4.8, 1.5
#: Share of tau -> e/mu among W -> e/mu/tau(-> e/mu) decays: 0.1086*0.352 / (2*0.1086 + 0.1086*0.352).
TAU_SHARE = 0.1496
#: Light quarks of W+jets' quark partons: d, u, s, dbar, ubar, sbar.
LIGHT_QUARKS = (0.2, 0.25, 0.05, 0.2, 0.25, 0.05)


class Partons:
    """Growing list of parton slots: four-vector, hadron flavour (0, 4, 5), presence and gluon
    flag, plus the event record of the hard process (``truth``)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.p4: list[np.ndarray] = []
        self.flavour: list[np.ndarray] = []
        self.valid: list[np.ndarray] = []
        self.gluon: list[np.ndarray] = []
        self.truth = GenRecord(n)

    def add(self, p4: P4, flavour: Any, valid: Any = True, gluon: Any = False) -> None:
        """Append slots: ``p4`` (n, 4) or (n, k, 4); ``flavour``/``valid``/``gluon`` scalars,
        (n,) or (n, k)."""
        if p4.ndim == 2:
            p4 = p4[:, None, :]
        k = p4.shape[1]
        self.p4.append(p4)
        self.flavour.append(self._slots(flavour, np.int32, k))
        self.valid.append(self._slots(valid, bool, k))
        self.gluon.append(self._slots(gluon, bool, k))

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

    def gluons(self) -> np.ndarray:
        """Gluon flags (n, slots) in the slot order of :meth:`arrays`."""
        return np.concatenate(self.gluon, axis=1)


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
    w_slot: int,
) -> PromptLepton:
    """Decay W bosons: leptonic ones to l nu (lepton returned), hadronic ones to u d' or c s'.

    ``charge`` (n,) is the W charge (+-1); the daughters go to ``partons.truth`` with the W's
    record slot ``w_slot`` as mother.
    """
    n = w.shape[0]
    is_e, from_tau = _lepton_flavour(rng, n)
    f1, f2 = two_body(rng, w, w_mass, 0.0, 0.0)
    charm = rng.random(n) < 0.5  # W -> c s (Cabibbo-favoured, half of the hadronic decays)
    partons.add(f1, np.where(charm, 4, 0), ~leptonic)
    partons.add(f2, 0, ~leptonic)
    # tau -> l nu nu, collinear: the lepton carries a fraction x of the tau momentum.
    x = rng.beta(1.0, 1.85, n)
    lepton = f1 * np.where(from_tau, x, 1.0)[:, None]
    # the record: W -> l nu (tau -> l) or q qbar'
    up, down = quark_pdg(charge, charm)
    charged, neutrino = lepton_pdg(charge, is_e, from_tau)
    first = partons.truth.add(
        f1,
        np.where(leptonic, charged, up),
        w_slot,
        status=np.where(
            leptonic, np.where(from_tau, DECAYED_STATUS, FINAL_STATUS), OUTGOING_STATUS
        ),
    )
    partons.truth.add(
        f2,
        np.where(leptonic, neutrino, down),
        w_slot,
        status=np.where(leptonic, FINAL_STATUS, OUTGOING_STATUS),
    )
    light_lepton, _ = lepton_pdg(charge, is_e, False)
    partons.truth.add(
        lepton, light_lepton, first, leptonic & from_tau, FINAL_STATUS, TAU_DECAY_FLAGS
    )
    return PromptLepton(lepton, is_e, charge, from_tau & leptonic)


def _top_decay(
    rng: np.random.Generator,
    top: P4,
    top_mass: np.ndarray,
    leptonic: np.ndarray,
    charge: np.ndarray,
    partons: Partons,
    mother: Any = -1,
) -> PromptLepton:
    """t -> b W (isotropic), W -> l nu where ``leptonic`` else q q'.

    ``charge`` (n,): +1 for a top, -1 for an antitop; the top, its W and b (and the W's
    daughters) go to ``partons.truth``, the top with the record slot ``mother`` as mother.
    """
    n = top.shape[0]
    w_mass = breit_wigner(rng, n, W_MASS, W_WIDTH)
    b, w = two_body(rng, top, top_mass, B_MASS, w_mass)
    partons.add(b, 5)
    top_slot = partons.truth.add_resonance(top, 6 * charge, mother)
    w_slot = partons.truth.add_resonance(w, 24 * charge, top_slot)
    partons.truth.add(b, 5 * charge, top_slot)
    return _w_decay(rng, w, w_mass, leptonic, charge, partons, w_slot)


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
    # a Z' (pdgId 32) is the tops' mother in the record; ttbar's tops have none
    mother = partons.truth.add_resonance(system, 32) if cfg["topology"] == "zprime" else -1
    ones = np.ones(n, np.int32)
    lep_t = _top_decay(rng, top, m1, top_leptonic, ones, partons, mother)
    lep_tbar = _top_decay(rng, antitop, m2, ~top_leptonic, -ones, partons, mother)
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
    forward = p4_ptetaphim(q_pt, q_eta, q_phi, 0.0)
    partons.add(forward, 0)
    spec_pt = 5.0 + rng.exponential(hard.get("spectator_pt", 22.0), n)
    spec = p4_ptetaphim(spec_pt, rng.normal(0.0, 1.8, n), rng.uniform(-np.pi, np.pi, n), B_MASS)
    partons.add(spec, 5)
    # u b -> d t (ubar bbar -> dbar tbar); the spectator is the bbar (b) of the g -> b bbar
    partons.truth.add(forward, charge)
    partons.truth.add(spec, -5 * charge)
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
    partons.truth.add(b, -5 * charge)  # u dbar -> W+* -> t bbar
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
    w_slot = partons.truth.add_resonance(w, -24 * charge)  # b g -> t W- (bbar g -> tbar W+)
    lep_w = _w_decay(rng, w, w_mass, ~top_leptonic, -charge, partons, w_slot)
    extra = rng.random(n) < hard.get("extra_b_probability", 0.0)
    b_pt = 15.0 + rng.exponential(hard.get("extra_b_pt", 35.0), n)
    b = p4_ptetaphim(b_pt, rng.normal(0.0, 1.6, n), rng.uniform(-np.pi, np.pi, n), B_MASS)
    partons.add(b, 5, extra)
    partons.truth.add(b, -5 * charge, valid=extra)  # the bbar (b) of a g -> b bbar
    return _merge_leptons(lep_top, lep_w, top_leptonic)


def _hard_wjets(
    rng: np.random.Generator,
    n: int,
    cfg: dict[str, Any],
    partons: Partons,
    aux: np.random.Generator,
) -> PromptLepton:
    """W (-> l nu) + N >= min partons (Berends scaling), heavy flavour per event (bb, cc, c).

    The light partons are gluons with probability ``partons.gluon_fraction`` (else u, d, s
    quarks or antiquarks), drawn from ``aux``.
    """
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
    gluon = (flavour == 0) & (aux.random((n, kmax)) < pcfg.get("gluon_fraction", 0.6))
    partons.add(p4, flavour, valid, gluon)
    w_mass = breit_wigner(rng, n, W_MASS, W_WIDTH)
    w = system_p4(w_mass, _recoil(p4, valid), rng.normal(0.0, 1.3, n))
    charge = np.where(rng.random(n) < hf.get("w_plus_fraction", 0.58), 1, -1).astype(np.int32)
    # record: the partons (a pair b bbar / c cbar; a single cbar with a W+, c with a W-), the W
    light = aux.choice(np.array([1, 2, 3, -1, -2, -3], np.int32), (n, kmax), p=LIGHT_QUARKS)
    pdg = np.where(gluon, 21, light)
    heavy_sign = np.where(kind == 1, -charge, 1)[:, None] * np.where(slot == 0, 1, -1)
    pdg = np.where(flavour > 0, flavour * heavy_sign, pdg)
    for k in range(kmax):
        partons.truth.add(p4[:, k], pdg[:, k], valid=valid[:, k])
    w_slot = partons.truth.add_resonance(w, 24 * charge)
    return _w_decay(rng, w, w_mass, np.ones(n, bool), charge, partons, w_slot)


def _hard_process(
    rng: np.random.Generator,
    n: int,
    cfg: dict[str, Any],
    recoil: np.ndarray,
    partons: Partons,
    aux: np.random.Generator,
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
        return _hard_wjets(rng, n, cfg, partons, aux)
    raise AGCError(f"unknown topology '{topology}'")  # pragma: no cover - the schema's enum


def parton_level(
    rng: np.random.Generator,
    n: int,
    cfg: dict[str, Any],
    aux: np.random.Generator | None = None,
) -> tuple[Partons, PromptLepton]:
    """Partons (hard process first, then radiation) and prompt lepton of ``n`` events.

    ``cfg`` is the sample's recipe entry. The radiation is drawn first: the hard system recoils
    against it. ``aux``: the stream of the draws added for the parton identity (default: the
    first child of ``rng``'s seed sequence, ``rng.spawn(1)[0]``); ``rng``'s draws do not depend
    on it. The hard process's event record is ``partons.truth``.
    """
    aux = rng.spawn(1)[0] if aux is None else aux
    partons = Partons(n)
    rad_p4, rad_flavour, rad_valid = _radiation(rng, n, cfg["radiation"])
    lepton = _hard_process(rng, n, cfg, _recoil(rad_p4, rad_valid), partons, aux)
    partons.add(rad_p4, rad_flavour, rad_valid, rad_flavour == 0)
    return partons, lepton
