"""The embedded default dataset: deterministic synthetic NanoAOD from a parton-level toy generator.

A recipe (``inputs/embedded.yaml``, schema ``schemas/recipe.schema.json``) names the samples
(the nine of the physics card plus Z' -> ttbar signals), their event counts, cross-sections
and the physics knobs of each; :func:`generate_dataset` turns it into ROOT files with the
NanoAOD layout of the real CMS file (tree ``Events``, counts ``nJet``/``nElectron``/``nMuon``
as ``uint32``, jagged ``Jet_*``/``Electron_*``/``Muon_*`` branches, same dtypes) and a
``manifest.json`` in the AGC layout.

Physics, in order (all vectorised over a block of events, no per-event Python loop):

1. **Hard process** (partons): ttbar and Z' -> ttbar (pair system of mass m_tt, rapidity y,
   recoiling against the radiation; t -> bW with Breit-Wigner top (172.5/1.4 GeV) and W
   (80.4/2.1 GeV) masses; one W -> e/mu nu, incl. tau -> e/mu, the other W -> q q'),
   single top t-channel (top + forward light quark + spectator b), s-channel (top + b),
   tW (top + W, optional extra b from g -> b bbar), W+jets (W -> l nu + >= N partons with
   Berends scaling and a heavy-flavour composition). Hadronic W decays give c s' half the time.
2. **Radiation**: extra partons, Poisson multiplicity, power-law pT above ``pt_min``,
   Gaussian rapidity, small g -> b bbar / c cbar fractions. The ttbar variations differ here
   (scaleup/scaledown: more/harder or fewer/softer; ME_var: harder first emission spectrum;
   PS_var: a different shower -> different multiplicity, response and resolution).
3. **Jets**: partons closer than R = 0.4 are merged (closest pair first, Cambridge-Aachen-like),
   then smeared (response per flavour, sigma/pT = N/pT (+) S/sqrt(pT) (+) C), given a mass,
   a jet ID (0/2/6), a CSVV2 b-tag discriminant drawn from per-flavour Beta distributions
   (-10 default when no secondary-vertex information), pileup jets added, and every
   reconstructed lepton also appears as a jet that fails the lepton veto (jetId 2) as in
   NanoAOD, where leptons are clustered into AK4 jets. Jets above 15 GeV, |eta| < 4.7, pT-ordered.
4. **Leptons**: the prompt lepton (pT/eta resolution, reconstruction efficiency), non-prompt
   leptons from b/c-hadron decays inside heavy-flavour jets (soft, non-isolated, displaced) and
   fake electrons/muons from light jets; ID (Electron_cutBased 0-4, Muon_tightId), isolation
   and sip3d drawn per origin so the analysis cuts act as on real data.

Normalisation: the manifest records, per sample, ``xsec`` [pb] and ``filter_efficiency`` =
(generator filter efficiency of the recipe: the fraction of ``xsec`` in the simulated phase
space, e.g. the l+jets branching fraction for ttbar) x the recipe's global
``yield_calibration`` (0.46 for the default: the reference yields come from NanoAOD files whose
muon ID flags are empty, so only electrons pass there; see ``inputs/embedded.yaml``).

Preselection (optional recipe section): only the generated events that can pass the analysis
selection are written (a necessary condition, looser than the JES/JER-varied selections); the
random numbers do not depend on it, so histograms equal those of the full sample. The manifest
then records ``nevts_generated`` and ``preselection_efficiency`` (kept / generated), and
``filter_efficiency`` includes the latter, so xsec * filter_efficiency * lumi / nevts_total is the
weight of one generated event.

Parallelism: files are independent (event *i* depends on the seed, the sample and its block
only), so ``workers`` processes write them, with the same bytes for any number of workers.

Randomness: one ``np.random.Generator(np.random.PCG64(...))`` per block of ``block_size``
events, seeded from ``(recipe seed, sample name, block index)`` through sha256 (never Python's
``hash``), so event *i* of a sample depends only on the recipe, not on the file split, and
the same recipe gives the same arrays bit for bit. Files are written with
:func:`agc.core.rootio.reproducible_recreate`, so the recorded sha256 of the bytes is reproducible
too (content determinism is what matters; the byte checksum is for integrity). Caveat: numpy's
SIMD-dispatched ``sin``/``exp``/``log`` may differ in the last bit between CPU families, so
"bit for bit on any machine" holds for machines with the same numpy build and instruction set.

Event identity: ``run`` = 1 (MC), ``luminosityBlock`` = a per-sample base (from sha256 of the
sample name) + i // 100, ``event`` = luminosityBlock * 100 + i % 100 + 1: unique within a sample
and distinct between samples (what the reproducible JER smearing keys on).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import hashlib
import json
import logging
import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot
import yaml
from uproot.writing._cascadetree import Tree

from agc.core import physics
from agc.core.errors import AGCError
from agc.core.fileio import canonical_json, read_input_text, sha256_file, write_json
from agc.core.rootio import reproducible_recreate
from agc.core.validation import validate
from agc.dataset.manifest import load_manifest, sample_key, write_manifest
from agc.dataset.readback import summarize

__all__ = [
    "BRANCH_TYPES",
    "DEFAULT_RECIPE",
    "GENERATOR_VERSION",
    "generate_dataset",
    "generate_events",
    "load_recipe",
    "sample_seed",
    "summarize",
]

log = logging.getLogger(__name__)

#: Bumped whenever the generated content for a given recipe changes.
GENERATOR_VERSION = "1"

#: The recipe used when none is given (resolved from the working directory, else the repository).
DEFAULT_RECIPE = "inputs/embedded.yaml"
_REPO_ROOT = Path(__file__).resolve().parents[2]

#: Name of the sidecar that records what produced a generated dataset.
GENERATION_RECORD = "generation.json"

TREE_NAME = "Events"

#: Branches written, in NanoAOD order, with the dtypes of the real CMS file. The counts
#: ``nElectron``/``nJet``/``nMuon`` (uint32) are generated by uproot from the jagged branches.
BRANCH_TYPES: dict[str, Any] = {
    "run": np.uint32,
    "luminosityBlock": np.uint32,
    "event": np.uint64,
    "genWeight": np.float32,
    "Electron_pt": "var * float32",
    "Electron_eta": "var * float32",
    "Electron_phi": "var * float32",
    "Electron_mass": "var * float32",
    "Electron_charge": "var * int32",
    "Electron_cutBased": "var * int32",
    "Electron_sip3d": "var * float32",
    "Jet_pt": "var * float32",
    "Jet_eta": "var * float32",
    "Jet_phi": "var * float32",
    "Jet_mass": "var * float32",
    "Jet_btagCSVV2": "var * float32",
    "Jet_jetId": "var * int32",
    "Jet_hadronFlavour": "var * int32",
    "Muon_pt": "var * float32",
    "Muon_eta": "var * float32",
    "Muon_phi": "var * float32",
    "Muon_mass": "var * float32",
    "Muon_charge": "var * int32",
    "Muon_tightId": "var * bool",
    "Muon_sip3d": "var * float32",
    "Muon_pfRelIso04_all": "var * float32",
}

# Particle masses and widths [GeV] and branching fractions.
TOP_MASS, TOP_WIDTH = 172.5, 1.4
W_MASS, W_WIDTH = 80.4, 2.1
B_MASS, C_MASS = 4.8, 1.5
ELECTRON_MASS, MUON_MASS = 0.000511, 0.10566
#: Share of tau -> e/mu among W -> e/mu/tau(-> e/mu) decays: 0.1086*0.352 / (2*0.1086 + 0.1086*0.352).
TAU_SHARE = 0.1496
#: Events per luminosity block (as in the real file: event = lumi * 100 + k).
EVENTS_PER_LUMI = 100
BREIT_WIGNER_CUT = 5.0  # truncate Breit-Wigners at +-5 widths

# Lepton origins (internal).
PROMPT, TAU, NONPROMPT, FAKE = 0, 1, 2, 3
ORIGINS = {"prompt": PROMPT, "tau": TAU, "nonprompt": NONPROMPT, "fake": FAKE}
JET_ID_VALUES = np.array([0, 2, 6], dtype=np.int32)
CUT_BASED_VALUES = np.arange(5, dtype=np.int32)
BTAG_DEFAULT = -10.0

P4 = np.ndarray  # (..., 4) array of (px, py, pz, E) [GeV]


# --------------------------------------------------------------------------------------------
# Recipe
# --------------------------------------------------------------------------------------------


def _resolve_recipe_path(recipe: str | os.PathLike[str]) -> Path:
    path = Path(recipe)
    if not path.exists() and not path.is_absolute() and (_REPO_ROOT / path).exists():
        return _REPO_ROOT / path
    return path


def load_recipe(path: str | os.PathLike[str] = DEFAULT_RECIPE) -> dict[str, Any]:
    """Read a generation recipe (YAML) and validate it against ``recipe.schema.json``.

    Raises :class:`AGCError` naming the file (and line for malformed YAML, the key for a
    schema violation such as an unknown key or a negative event count).
    """
    path = _resolve_recipe_path(path)
    text = read_input_text(path, "recipe")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise AGCError(f"{path}: malformed YAML{where}: {problem}") from None
    return validate_recipe(data, str(path))


def validate_recipe(data: Any, source: str = "recipe") -> dict[str, Any]:
    """Validate a recipe given as a dict; return it (raises :class:`AGCError` naming the key)."""
    validate(data, "recipe", source)
    for process, variations in data["samples"].items():
        for variation, cfg in variations.items():
            if cfg.get("files", 1) > cfg["events"]:
                raise AGCError(
                    f"{source}: invalid value at 'samples/{process}/{variation}/files': "
                    f"{cfg['files']} files for {cfg['events']} events"
                )
    return data


def sample_seed(seed: int, process: str, variation: str) -> int:
    """128-bit seed of one sample: sha256 of ``"{seed}/{process}__{variation}"`` (stable everywhere)."""
    digest = hashlib.sha256(f"{seed}/{sample_key(process, variation)}".encode()).digest()
    return int.from_bytes(digest[:16], "little")


def _block_rng(seed: int, block: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(block,))))


def _lumi_base(process: str, variation: str) -> int:
    """First luminosity block of a sample (distinct ranges per sample, room for 1e7 events)."""
    digest = hashlib.sha256(f"lumi/{sample_key(process, variation)}".encode()).digest()
    return 1 + (int.from_bytes(digest[:4], "little") % 40_000) * 100_000


# --------------------------------------------------------------------------------------------
# Four-vectors (numpy arrays with a trailing axis of (px, py, pz, E))
# --------------------------------------------------------------------------------------------


def _p4_ptetaphim(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, mass: Any) -> P4:
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    energy = np.sqrt(px**2 + py**2 + pz**2 + np.square(mass))
    return np.stack([px, py, pz, energy], axis=-1)


def _pt(p: P4) -> np.ndarray:
    return np.hypot(p[..., 0], p[..., 1])


def _eta(p: P4) -> np.ndarray:
    pt = _pt(p)
    return np.arcsinh(np.divide(p[..., 2], pt, out=np.zeros_like(pt), where=pt > 0))


def _phi(p: P4) -> np.ndarray:
    return np.arctan2(p[..., 1], p[..., 0])


def _mass(p: P4) -> np.ndarray:
    return np.sqrt(np.maximum(p[..., 3] ** 2 - np.sum(p[..., :3] ** 2, axis=-1), 0.0))


def _boost(p: P4, beta: np.ndarray) -> P4:
    """Lorentz-boost four-vectors ``p`` (..., 4) by velocity ``beta`` (..., 3)."""
    b2 = np.sum(beta**2, axis=-1)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = np.sum(beta * p[..., :3], axis=-1)
    coef = np.divide(gamma - 1.0, b2, out=np.zeros_like(b2), where=b2 > 0)
    space = p[..., :3] + ((coef * bp + gamma * p[..., 3])[..., None]) * beta
    energy = gamma * (p[..., 3] + bp)
    return np.concatenate([space, energy[..., None]], axis=-1)


def _two_body(
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
    return _boost(d1, beta), _boost(d2, beta)


def _system(mass: np.ndarray, recoil: np.ndarray, rapidity: np.ndarray) -> P4:
    """Four-vector of a system of ``mass`` with transverse momentum ``recoil`` (n, 2) and rapidity."""
    mt = np.sqrt(mass**2 + np.sum(recoil**2, axis=-1))
    return np.stack(
        [recoil[:, 0], recoil[:, 1], mt * np.sinh(rapidity), mt * np.cosh(rapidity)], axis=-1
    )


def _breit_wigner(rng: np.random.Generator, n: int, mass: float, width: float) -> np.ndarray:
    """Cauchy (non-relativistic Breit-Wigner) masses truncated at +-5 widths, by inverse CDF."""
    lo, hi = np.arctan(-BREIT_WIGNER_CUT * 2), np.arctan(BREIT_WIGNER_CUT * 2)
    return mass + 0.5 * width * np.tan(rng.uniform(lo, hi, n))


def _cos_theta_1pc2(rng: np.random.Generator, n: int) -> np.ndarray:
    """cos theta* with density proportional to 1 + cos^2 (spin-1 resonance), by inverse CDF."""
    q = 4.0 - 8.0 * rng.random(n)  # solve c^3 + 3 c + q = 0 (Cardano, one real root)
    root = np.sqrt(q**2 / 4.0 + 1.0)
    return np.cbrt(-q / 2.0 + root) + np.cbrt(-q / 2.0 - root)


def _power_law(rng: np.random.Generator, shape: Any, pt_min: float, index: float) -> np.ndarray:
    """pT [GeV] with density ~ pT^-index above pt_min (Pareto), capped at 3 TeV."""
    u = 1.0 - rng.random(shape)
    return np.minimum(pt_min * u ** (-1.0 / (index - 1.0)), 3000.0)


# --------------------------------------------------------------------------------------------
# Partons
# --------------------------------------------------------------------------------------------


class _Partons:
    """Growing list of parton slots: four-vector, hadron flavour (0, 4, 5) and presence."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.p4: list[np.ndarray] = []
        self.flavour: list[np.ndarray] = []
        self.valid: list[np.ndarray] = []

    def add(self, p4: P4, flavour: Any, valid: Any = True) -> None:
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
        return (
            np.concatenate(self.p4, axis=1),
            np.concatenate(self.flavour, axis=1),
            np.concatenate(self.valid, axis=1),
        )


class _Lepton:
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
    pt = _power_law(rng, (n, kmax), cfg["pt_min"], cfg["pt_index"])
    eta = rng.normal(0.0, cfg["eta_sigma"], (n, kmax))
    phi = rng.uniform(-np.pi, np.pi, (n, kmax))
    u = rng.random((n, kmax))
    flavour = np.where(
        u < cfg["b_fraction"], 5, np.where(u < cfg["b_fraction"] + cfg["c_fraction"], 4, 0)
    )
    mass = np.where(flavour == 5, B_MASS, np.where(flavour == 4, C_MASS, 0.0))
    p4 = _p4_ptetaphim(pt, eta, phi, mass)
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
    partons: _Partons,
) -> _Lepton:
    """Decay W bosons: leptonic ones to l nu (lepton returned), hadronic ones to u d' or c s'."""
    n = w.shape[0]
    is_e, from_tau = _lepton_flavour(rng, n)
    f1, f2 = _two_body(rng, w, w_mass, 0.0, 0.0)
    charm = rng.random(n) < 0.5  # W -> c s (Cabibbo-favoured, half of the hadronic decays)
    partons.add(f1, np.where(charm, 4, 0), ~leptonic)
    partons.add(f2, 0, ~leptonic)
    # tau -> l nu nu, collinear: the lepton carries a fraction x of the tau momentum.
    x = rng.beta(1.0, 1.85, n)
    lepton = f1 * np.where(from_tau, x, 1.0)[:, None]
    return _Lepton(lepton, is_e, charge, from_tau & leptonic)


def _top_decay(
    rng: np.random.Generator,
    top: P4,
    top_mass: np.ndarray,
    leptonic: np.ndarray,
    charge: np.ndarray,
    partons: _Partons,
) -> _Lepton:
    """t -> b W (isotropic), W -> l nu where ``leptonic`` else q q'."""
    n = top.shape[0]
    w_mass = _breit_wigner(rng, n, W_MASS, W_WIDTH)
    b, w = _two_body(rng, top, top_mass, B_MASS, w_mass)
    partons.add(b, 5)
    return _w_decay(rng, w, w_mass, leptonic, charge, partons)


def _merge_leptons(first: _Lepton, second: _Lepton, use_first: np.ndarray) -> _Lepton:
    pick = use_first[:, None]
    return _Lepton(
        np.where(pick, first.p4, second.p4),
        np.where(use_first, first.is_electron, second.is_electron),
        np.where(use_first, first.charge, second.charge),
        np.where(use_first, first.from_tau, second.from_tau),
    )


def _hard_ttbar(
    rng: np.random.Generator, n: int, cfg: dict[str, Any], recoil: np.ndarray, partons: _Partons
) -> _Lepton:
    """ttbar (or Z' -> ttbar) -> l nu b + q q' b."""
    hard = cfg.get("hard", {})
    m1 = _breit_wigner(rng, n, TOP_MASS, TOP_WIDTH)
    m2 = _breit_wigner(rng, n, TOP_MASS, TOP_WIDTH)
    if cfg["topology"] == "zprime":
        mass, width = (
            float(cfg["mass"]),
            float(cfg.get("width_fraction", 0.03)) * float(cfg["mass"]),
        )
        m_pair = np.maximum(_breit_wigner(rng, n, mass, width), m1 + m2 + 1.0)
        cos_t = _cos_theta_1pc2(rng, n)
    else:
        excess = rng.gamma(hard.get("mtt_shape", 1.3), hard.get("mtt_scale", 100.0), n)
        m_pair = m1 + m2 + excess
        cos_t = rng.uniform(-1.0, 1.0, n)
    rapidity = rng.normal(0.0, hard.get("rapidity_sigma", 0.9), n)
    system = _system(m_pair, recoil, rapidity)
    top, antitop = _two_body(rng, system, m_pair, m1, m2, cos_t)
    top_leptonic = rng.random(n) < 0.5
    lep_t = _top_decay(rng, top, m1, top_leptonic, np.ones(n, np.int32), partons)
    lep_tbar = _top_decay(rng, antitop, m2, ~top_leptonic, -np.ones(n, np.int32), partons)
    return _merge_leptons(lep_t, lep_tbar, top_leptonic)


def _top_charge(rng: np.random.Generator, n: int, cfg: dict[str, Any]) -> np.ndarray:
    return np.where(rng.random(n) < cfg.get("hard", {}).get("top_fraction", 0.5), 1, -1).astype(
        np.int32
    )


def _hard_single_top_t(
    rng: np.random.Generator, n: int, cfg: dict[str, Any], partons: _Partons
) -> _Lepton:
    """t-channel: top (-> l nu b) + forward light quark + soft spectator b (4-flavour scheme)."""
    hard = cfg.get("hard", {})
    charge = _top_charge(rng, n, cfg)
    top_mass = _breit_wigner(rng, n, TOP_MASS, TOP_WIDTH)
    phi = rng.uniform(-np.pi, np.pi, n)
    top = _p4_ptetaphim(rng.gamma(2.2, 32.0, n), rng.normal(0.0, 1.1, n), phi, top_mass)
    sign = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    q_eta = sign * np.abs(rng.normal(hard.get("forward_eta", 2.3), 0.9, n))
    q_pt = 15.0 + rng.gamma(2.0, 22.0, n)
    q_phi = phi + np.pi + rng.normal(0.0, 0.7, n)
    partons.add(_p4_ptetaphim(q_pt, q_eta, q_phi, 0.0), 0)
    spec_pt = 5.0 + rng.exponential(hard.get("spectator_pt", 22.0), n)
    spec = _p4_ptetaphim(spec_pt, rng.normal(0.0, 1.8, n), rng.uniform(-np.pi, np.pi, n), B_MASS)
    partons.add(spec, 5)
    return _top_decay(rng, top, top_mass, np.ones(n, bool), charge, partons)


def _hard_single_top_s(
    rng: np.random.Generator, n: int, cfg: dict[str, Any], recoil: np.ndarray, partons: _Partons
) -> _Lepton:
    """s-channel: q q' -> W* -> t b, top -> l nu b."""
    hard = cfg.get("hard", {})
    charge = _top_charge(rng, n, cfg)
    top_mass = _breit_wigner(rng, n, TOP_MASS, TOP_WIDTH)
    m_pair = top_mass + B_MASS + rng.gamma(1.5, hard.get("mass_scale", 90.0), n)
    system = _system(m_pair, recoil, rng.normal(0.0, 0.8, n))
    top, b = _two_body(rng, system, m_pair, top_mass, B_MASS)
    partons.add(b, 5)
    return _top_decay(rng, top, top_mass, np.ones(n, bool), charge, partons)


def _hard_single_top_tw(
    rng: np.random.Generator, n: int, cfg: dict[str, Any], recoil: np.ndarray, partons: _Partons
) -> _Lepton:
    """tW: b g -> t W; exactly one of the two W bosons decays to e/mu; optional extra b."""
    hard = cfg.get("hard", {})
    charge = _top_charge(rng, n, cfg)
    top_mass = _breit_wigner(rng, n, TOP_MASS, TOP_WIDTH)
    w_mass = _breit_wigner(rng, n, W_MASS, W_WIDTH)
    m_pair = top_mass + w_mass + rng.gamma(1.5, hard.get("mass_scale", 90.0), n)
    system = _system(m_pair, recoil, rng.normal(0.0, 0.9, n))
    top, w = _two_body(rng, system, m_pair, top_mass, w_mass)
    top_leptonic = rng.random(n) < 0.5
    lep_top = _top_decay(rng, top, top_mass, top_leptonic, charge, partons)
    lep_w = _w_decay(rng, w, w_mass, ~top_leptonic, -charge, partons)
    extra = rng.random(n) < hard.get("extra_b_probability", 0.0)
    b_pt = 15.0 + rng.exponential(hard.get("extra_b_pt", 35.0), n)
    b = _p4_ptetaphim(b_pt, rng.normal(0.0, 1.6, n), rng.uniform(-np.pi, np.pi, n), B_MASS)
    partons.add(b, 5, extra)
    return _merge_leptons(lep_top, lep_w, top_leptonic)


def _hard_wjets(
    rng: np.random.Generator, n: int, cfg: dict[str, Any], partons: _Partons
) -> _Lepton:
    """W (-> l nu) + N >= min partons (Berends scaling), heavy flavour per event (bb, cc, c)."""
    pcfg, hf = cfg["partons"], cfg["heavy_flavour"]
    kmax = int(pcfg.get("max", 8))
    extra = rng.geometric(1.0 - pcfg["ratio"], n) - 1
    count = np.minimum(pcfg["min"] + extra, kmax)
    valid = np.arange(kmax)[None, :] < count[:, None]
    pt = _power_law(rng, (n, kmax), pcfg["pt_min"], pcfg["pt_index"])
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
    p4 = _p4_ptetaphim(pt, eta, phi, mass)
    partons.add(p4, flavour, valid)
    w_mass = _breit_wigner(rng, n, W_MASS, W_WIDTH)
    w = _system(w_mass, _recoil(p4, valid), rng.normal(0.0, 1.3, n))
    charge = np.where(rng.random(n) < hf.get("w_plus_fraction", 0.58), 1, -1).astype(np.int32)
    return _w_decay(rng, w, w_mass, np.ones(n, bool), charge, partons)


# --------------------------------------------------------------------------------------------
# Detector
# --------------------------------------------------------------------------------------------


def _cluster(
    p4: P4, flavour: np.ndarray, valid: np.ndarray, radius: float
) -> tuple[P4, np.ndarray, np.ndarray]:
    """Merge partons closer than ``radius`` in (eta, phi), closest pair first, until none is.

    Vectorised over events; one Python iteration per merging round, each on the events that
    merged in the previous round only. The merged flavour is the heaviest (b > c > light).
    Slots are first compacted (present partons first), so the result has as many slots as the
    busiest event.
    """
    order = np.argsort(~valid, axis=1, kind="stable")
    k = max(int(valid.sum(axis=1).max(initial=0)), 1)
    order = order[:, :k]
    p4 = np.take_along_axis(p4, order[..., None], axis=1)
    flavour = np.take_along_axis(flavour, order, axis=1)
    valid = np.take_along_axis(valid, order, axis=1)
    # Events are handled in groups of equal multiplicity c, over the c (c - 1) / 2 pairs of their
    # occupied slots only (the pairs keep the order of the k-slot pairs, so ties resolve alike).
    count = valid.sum(axis=1)
    for c in np.unique(count[count > 1]):
        rows = np.flatnonzero(count == c)
        sub_p4, sub_flavour, sub_valid = p4[rows, :c], flavour[rows, :c], valid[rows, :c]
        _merge_close(sub_p4, sub_flavour, sub_valid, radius)
        p4[rows, :c], flavour[rows, :c], valid[rows, :c] = sub_p4, sub_flavour, sub_valid
    return p4, flavour, valid


def _merge_close(p4: P4, flavour: np.ndarray, valid: np.ndarray, radius: float) -> None:
    """Merging rounds of :func:`_cluster` on events with partons in all slots, in place."""
    first, second = np.triu_indices(p4.shape[1], 1)
    r2 = radius**2
    active = np.arange(p4.shape[0])
    while active.size:
        sub, ok = p4[active], valid[active]
        eta, phi = _eta(sub), _phi(sub)
        dphi = np.abs(phi[:, first] - phi[:, second])
        dr2 = (eta[:, first] - eta[:, second]) ** 2 + np.minimum(dphi, 2 * np.pi - dphi) ** 2
        dr2[~(ok[:, first] & ok[:, second])] = np.inf
        best = np.argmin(dr2, axis=1)
        merge = dr2[np.arange(active.size), best] < r2
        active, best = active[merge], best[merge]
        i, j = first[best], second[best]
        p4[active, i] += p4[active, j]
        flavour[active, i] = np.maximum(flavour[active, i], flavour[active, j])
        valid[active, j] = False


#: Flat per-object arrays plus ``"event"`` (index of the object's event in the block).
Table = dict[str, np.ndarray]


def _choice(rng: np.random.Generator, probabilities: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Draw ``values`` with per-element ``probabilities`` (..., m) (normalised here)."""
    cdf = np.cumsum(probabilities, axis=-1)
    cdf = cdf / cdf[..., -1:]
    u = rng.random(probabilities.shape[:-1])
    index = np.sum(u[..., None] >= cdf[..., :-1], axis=-1)
    return values[index]


def _jet_id(rng: np.random.Generator, probabilities: Any, size: int) -> np.ndarray:
    """jetId in {0, 2, 6} drawn with ``probabilities`` (3,) or (size, 3)."""
    return _choice(rng, np.broadcast_to(np.asarray(probabilities, float), (size, 3)), JET_ID_VALUES)


def _btag(
    rng: np.random.Generator, flavour: np.ndarray, eta: np.ndarray, cfg: dict[str, Any]
) -> np.ndarray:
    """CSVV2 discriminant: Beta(alpha, beta) per flavour; -10 without secondary-vertex information."""
    value = np.empty(flavour.shape)
    for flav, name in ((5, "b"), (4, "c"), (0, "light")):
        mask = flavour == flav
        value[mask] = rng.beta(cfg[name]["alpha"], cfg[name]["beta"], int(mask.sum()))
    in_tracker = np.abs(eta) < cfg["tracker_abs_eta"]
    p_default = np.where(in_tracker, cfg["default_fraction"], cfg["forward_default_fraction"])
    return np.where(rng.random(flavour.shape) < p_default, BTAG_DEFAULT, value)


def _jet_mass(rng: np.random.Generator, pt: np.ndarray, cfg: dict[str, Any]) -> np.ndarray:
    """Jet mass from hadronisation: pT times a Gamma-distributed m/pT."""
    return pt * rng.gamma(cfg["shape"], cfg["mean"] / cfg["shape"], pt.shape)


def _reco_jets(
    rng: np.random.Generator,
    p4: P4,
    flavour: np.ndarray,
    event: np.ndarray,
    det: dict[str, Any],
    shower: dict[str, Any],
) -> Table:
    """Smear clustered partons (flat arrays) into jets; drop those below threshold/outside the calorimeter."""
    jcfg = det["jets"]
    pt, eta, phi = _pt(p4), _eta(p4), _phi(p4)
    res = jcfg["resolution"]
    safe_pt = np.maximum(pt, 1.0)
    sigma = np.sqrt(
        (res["noise"] / safe_pt) ** 2 + res["stochastic"] ** 2 / safe_pt + res["constant"] ** 2
    )
    sigma = sigma * shower.get("resolution", 1.0)
    resp = jcfg["response"]
    mean = np.select([flavour == 5, flavour == 4], [resp["b"], resp["c"]], resp["light"])
    reco_pt = pt * np.maximum(rng.normal(mean * shower.get("response", 1.0), sigma), 0.05)
    eta = eta + rng.normal(0.0, jcfg["angular_resolution"], eta.shape)
    phi = (
        np.mod(phi + rng.normal(0.0, jcfg["angular_resolution"], phi.shape) + np.pi, 2 * np.pi)
        - np.pi
    )
    hadron_mass = _jet_mass(rng, reco_pt, jcfg["mass_over_pt"]) * np.where(flavour == 5, 1.15, 1.0)
    mass = np.hypot(_mass(p4) * reco_pt / np.maximum(pt, 1e-9), hadron_mass)
    ids = jcfg["jet_id"]
    probs = np.where(
        (np.abs(eta) < 2.7)[:, None], np.array(ids["central"]), np.array(ids["forward"])
    )
    jets = {
        "event": event,
        "pt": reco_pt,
        "eta": eta,
        "phi": phi,
        "mass": mass,
        "btag": _btag(rng, flavour, eta, det["btag"]),
        "jetId": _jet_id(rng, probs, len(pt)),
        "flavour": flavour,
    }
    keep = (reco_pt > jcfg["pt_min"]) & (np.abs(eta) < jcfg["abs_eta_max"])
    return {k: v[keep] for k, v in jets.items()}


def _pileup_jets(rng: np.random.Generator, n: int, det: dict[str, Any]) -> Table:
    """Soft jets from pileup and the underlying event, flat in eta within the calorimeter."""
    jcfg = det["jets"]
    pcfg = jcfg["pileup"]
    count = np.minimum(rng.poisson(pcfg["mean"], n), int(pcfg.get("max", 5)))
    event = np.repeat(np.arange(n), count)
    size = len(event)
    pt = jcfg["pt_min"] + rng.exponential(pcfg["pt_slope"], size)
    eta = rng.uniform(-jcfg["abs_eta_max"], jcfg["abs_eta_max"], size)
    flavour = np.zeros(size, np.int32)
    return {
        "event": event,
        "pt": pt,
        "eta": eta,
        "phi": rng.uniform(-np.pi, np.pi, size),
        "mass": _jet_mass(rng, pt, jcfg["mass_over_pt"]),
        "btag": _btag(rng, flavour, eta, det["btag"]),
        "jetId": _jet_id(rng, pcfg["jet_id"], size),
        "flavour": flavour,
    }


def _lepton_ids(
    rng: np.random.Generator, origin: np.ndarray, z: np.ndarray, det: dict[str, Any]
) -> Table:
    """ID, isolation and sip3d of lepton candidates according to their origin.

    ``z`` is the lepton's share of its jet's momentum (1 for prompt leptons); the isolation of a
    lepton inside a jet is the rest of the jet's momentum in the cone, relative to the lepton.
    """
    size = origin.shape
    ecfg, mcfg, sip = det["electrons"], det["muons"], det["sip3d"]
    icfg = mcfg["isolation"]
    # isolation (pfRelIso04 for muons; for electrons it enters the cut-based ID)
    iso_prompt = rng.exponential(icfg["prompt"], size)
    tail = rng.random(size) < icfg["prompt_tail_fraction"]
    iso_prompt = np.where(tail, rng.exponential(icfg["prompt_tail"], size), iso_prompt)
    in_jet = np.clip((1.0 - z) / np.maximum(z, 1e-3), 0.0, 50.0) * rng.uniform(0.15, 0.9, size)
    iso = np.select(
        [origin <= TAU, origin == NONPROMPT],
        [iso_prompt, in_jet],
        rng.exponential(icfg["fake"], size),
    )
    # sip3d: |N(0, sigma)| plus an exponential displacement for b/c-hadron decays
    sigma = np.select(
        [origin == PROMPT, origin == TAU, origin == NONPROMPT],
        [sip["prompt"], sip["tau"], sip["nonprompt"]],
        sip["fake"],
    )
    displaced = np.where(
        origin == NONPROMPT, rng.exponential(sip["nonprompt_displacement"], size), 0.0
    )
    prompt_tail = (origin == PROMPT) & (rng.random(size) < sip["prompt_tail_fraction"])
    displaced = np.where(prompt_tail, rng.exponential(sip["prompt_tail"], size), displaced)
    sip3d = np.abs(rng.normal(0.0, 1.0, size)) * sigma + displaced
    # electron cut-based ID (includes isolation): prompt-like if isolated, else mostly failing
    cb = ecfg["cut_based"]
    probs = np.empty((*size, 5))
    probs[...] = np.array(cb["fake"])
    real = origin <= NONPROMPT
    isolated = iso < ecfg["isolation_cut"]
    probs[real & ~isolated] = np.array(cb["nonisolated"])
    probs[real & isolated] = np.array(cb["prompt"])
    tight = mcfg["tight_id"]
    p_tight = np.select(
        [origin <= TAU, origin == NONPROMPT], [tight["prompt"], tight["nonprompt"]], tight["fake"]
    )
    return {
        "iso": iso,
        "sip3d": sip3d,
        "cutBased": _choice(rng, probs, CUT_BASED_VALUES),
        "tightId": rng.random(size) < p_tight,
    }


def _leptons(rng: np.random.Generator, prompt: _Lepton, jets: Table, det: dict[str, Any]) -> Table:
    """Reconstructed leptons: the prompt one plus non-prompt (b/c jets) and fake (light jets) ones."""
    n = prompt.p4.shape[0]
    ecfg, mcfg, ncfg = det["electrons"], det["muons"], det["nonprompt"]
    # one candidate per hadronic jet, with a flavour-dependent probability
    flavour = jets["flavour"]
    light_total = ncfg["light_electron"] + ncfg["light_muon"]
    has = rng.random(flavour.shape) < np.select(
        [flavour == 5, flavour == 4], [ncfg["b"], ncfg["c"]], light_total
    )
    src = {k: v[has] for k, v in jets.items()}
    m = len(src["pt"])
    heavy = src["flavour"] >= 4
    e_share = np.where(heavy, 0.5, ncfg["light_electron"] / light_total)
    z = np.where(heavy, rng.beta(ncfg["z_alpha"], ncfg["z_beta"], m), rng.beta(2.0, 2.0, m))
    cand = {
        "event": np.concatenate([np.arange(n), src["event"]]),
        "pt": np.concatenate([_pt(prompt.p4), src["pt"] * z]),
        "eta": np.concatenate([_eta(prompt.p4), src["eta"] + rng.normal(0.0, 0.05, m)]),
        "phi": np.concatenate([_phi(prompt.p4), src["phi"] + rng.normal(0.0, 0.05, m)]),
        "is_e": np.concatenate([prompt.is_electron, rng.random(m) < e_share]),
        "charge": np.concatenate([prompt.charge, np.where(rng.random(m) < 0.5, 1, -1)]).astype(
            np.int32
        ),
        "origin": np.concatenate(
            [np.where(prompt.from_tau, TAU, PROMPT), np.where(heavy, NONPROMPT, FAKE)]
        ),
        "z": np.concatenate([np.ones(n), z]),
    }
    cand["phi"] = np.mod(cand["phi"] + np.pi, 2 * np.pi) - np.pi
    is_e, eta = cand["is_e"], cand["eta"]
    cand["pt"] = cand["pt"] * np.maximum(
        rng.normal(1.0, np.where(is_e, ecfg["resolution"], mcfg["resolution"])), 0.5
    )
    crack = is_e & (np.abs(eta) > 1.4442) & (np.abs(eta) < 1.566)
    eff = np.where(
        crack, ecfg["crack_efficiency"], np.where(is_e, ecfg["efficiency"], mcfg["efficiency"])
    )
    accepted = np.where(
        is_e,
        (cand["pt"] > ecfg["pt_min"]) & (np.abs(eta) < ecfg["abs_eta_max"]),
        (cand["pt"] > mcfg["pt_min"]) & (np.abs(eta) < mcfg["abs_eta_max"]),
    )
    keep = (rng.random(len(eta)) < eff) & accepted
    cand = {k: v[keep] for k, v in cand.items()}
    cand.update(_lepton_ids(rng, cand["origin"], cand["z"], det))
    cand["mass"] = np.where(cand["is_e"], ELECTRON_MASS, MUON_MASS)
    return cand


def _lepton_jets(rng: np.random.Generator, leptons: Table, det: dict[str, Any]) -> Table:
    """The AK4 jet containing each isolated lepton (mostly fails the lepton veto: jetId 2)."""
    jcfg = det["jets"]
    src = {k: v[leptons["origin"] <= TAU] for k, v in leptons.items()}
    size = len(src["pt"])
    pt = src["pt"] * (1.0 + rng.exponential(jcfg["lepton_jet_extra"], size))
    flavour = np.zeros(size, np.int32)
    jets = {
        "event": src["event"],
        "pt": pt,
        "eta": src["eta"],
        "phi": src["phi"],
        "mass": 0.3 * _jet_mass(rng, pt, jcfg["mass_over_pt"]),
        "btag": _btag(rng, flavour, src["eta"], det["btag"]),
        "jetId": _jet_id(rng, jcfg["jet_id"]["lepton"], size),
        "flavour": flavour,
    }
    keep = pt > jcfg["pt_min"]
    return {k: v[keep] for k, v in jets.items()}


def _jagged(table: Table, n: int, columns: dict[str, tuple[str, Any]]) -> dict[str, ak.Array]:
    """Flat objects -> jagged branches ``{branch: (column, dtype)}``, pT-ordered within each event."""
    order = np.lexsort((-table["pt"], table["event"]))
    counts = np.bincount(table["event"], minlength=n)
    return {
        branch: ak.unflatten(table[col][order].astype(dtype), counts)
        for branch, (col, dtype) in columns.items()
    }


JET_COLUMNS = {
    "Jet_pt": ("pt", "f4"),
    "Jet_eta": ("eta", "f4"),
    "Jet_phi": ("phi", "f4"),
    "Jet_mass": ("mass", "f4"),
    "Jet_btagCSVV2": ("btag", "f4"),
    "Jet_jetId": ("jetId", "i4"),
    "Jet_hadronFlavour": ("flavour", "i4"),
}
ELECTRON_COLUMNS = {
    f"Electron_{c}": (c, d)
    for c, d in (
        ("pt", "f4"),
        ("eta", "f4"),
        ("phi", "f4"),
        ("mass", "f4"),
        ("charge", "i4"),
        ("cutBased", "i4"),
        ("sip3d", "f4"),
    )
}
MUON_COLUMNS = {
    **{
        f"Muon_{c}": (c, d)
        for c, d in (("pt", "f4"), ("eta", "f4"), ("phi", "f4"), ("mass", "f4"), ("charge", "i4"))
    },
    "Muon_tightId": ("tightId", "?"),
    "Muon_sip3d": ("sip3d", "f4"),
    "Muon_pfRelIso04_all": ("iso", "f4"),
}


# --------------------------------------------------------------------------------------------
# One block of events
# --------------------------------------------------------------------------------------------


def generate_events(
    cfg: dict[str, Any],
    detector: dict[str, Any],
    rng: np.random.Generator,
    n: int,
    preselection: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Generate ``n`` events of one sample; returns the NanoAOD branches (no event identity).

    ``cfg`` is the sample's recipe entry, ``detector`` the recipe's ``detector`` section.
    Values: flat numpy arrays and jagged awkward arrays (events, var) keyed by branch name, plus
    ``"index"``: the position (0..n-1) of each returned event among the ``n`` generated. With
    ``preselection`` (the recipe's section), only events that can pass the analysis selection are
    returned (:func:`_preselected`); the random numbers drawn do not depend on it.
    """
    topology = cfg["topology"]
    partons = _Partons(n)
    rad_p4, rad_flavour, rad_valid = _radiation(rng, n, cfg["radiation"])
    recoil = _recoil(rad_p4, rad_valid)
    if topology in ("ttbar", "zprime"):
        lepton = _hard_ttbar(rng, n, cfg, recoil, partons)
    elif topology == "single_top_t_chan":
        lepton = _hard_single_top_t(rng, n, cfg, partons)
    elif topology == "single_top_s_chan":
        lepton = _hard_single_top_s(rng, n, cfg, recoil, partons)
    elif topology == "single_top_tW":
        lepton = _hard_single_top_tw(rng, n, cfg, recoil, partons)
    elif topology == "wjets":
        lepton = _hard_wjets(rng, n, cfg, partons)
    else:  # pragma: no cover - the schema's enum prevents it
        raise AGCError(f"unknown topology '{topology}'")
    partons.add(rad_p4, rad_flavour, rad_valid)
    p4, flavour, valid = _cluster(*partons.arrays(), detector["jets"]["cluster_radius"])
    event = np.nonzero(valid)[0]
    hadronic = _reco_jets(rng, p4[valid], flavour[valid], event, detector, cfg.get("shower", {}))
    leptons = _leptons(rng, lepton, hadronic, detector)
    parts = [hadronic, _pileup_jets(rng, n, detector), _lepton_jets(rng, leptons, detector)]
    jets = {key: np.concatenate([p[key] for p in parts]) for key in hadronic}
    index = np.arange(n)
    if preselection is not None:
        index = np.flatnonzero(_preselected(jets, leptons, n, preselection))
        jets, leptons, n = _keep_events(jets, index, n), _keep_events(leptons, index, n), len(index)
    electrons = {k: v[leptons["is_e"]] for k, v in leptons.items()}
    muons = {k: v[~leptons["is_e"]] for k, v in leptons.items()}
    return {
        "index": index,
        "genWeight": np.ones(n, np.float32),
        **_jagged(jets, n, JET_COLUMNS),
        **_jagged(electrons, n, ELECTRON_COLUMNS),
        **_jagged(muons, n, MUON_COLUMNS),
    }


def _preselected(jets: Table, leptons: Table, n: int, cfg: dict[str, Any]) -> np.ndarray:
    """Events (bool, (n,)) that can pass the analysis selection: a necessary condition only.

    At least ``cfg["leptons"]`` leptons passing the card's tight electron/muon selection
    (lepton momenta are not varied by any systematic) and at least ``cfg["jets"]`` jets with the
    tight-lepton-veto ID, |eta| < ``jet_abs_eta_max`` and pT > ``jet_pt_min`` [GeV]; the pT
    threshold sits below the analysis' 30 GeV by more than the JES (x1.03) and 10 standard
    deviations of the JER (x N(1, 0.05)) variations, so no varied selection loses an event.
    """
    is_e = leptons["is_e"]
    tight = np.where(
        is_e,
        (leptons["cutBased"] == physics.ELECTRON_CUTBASED_TIGHT)
        & (np.abs(leptons["eta"]) < physics.ELECTRON_ABS_ETA_MAX)
        & (leptons["pt"] > physics.ELECTRON_PT_MIN)
        & (leptons["sip3d"] < physics.ELECTRON_SIP3D_MAX),
        leptons["tightId"]
        & (np.abs(leptons["eta"]) < physics.MUON_ABS_ETA_MAX)
        & (leptons["pt"] > physics.MUON_PT_MIN)
        & (leptons["sip3d"] < physics.MUON_SIP3D_MAX)
        & (leptons["iso"] < physics.MUON_RELISO_MAX),
    )
    good = (
        ((jets["jetId"] & physics.JET_ID_TIGHT_LEPTON_VETO_BIT) != 0)
        & (np.abs(jets["eta"]) < cfg["jet_abs_eta_max"])
        & (jets["pt"] > cfg["jet_pt_min"])
    )
    n_lep = np.bincount(leptons["event"][tight], minlength=n)
    n_jet = np.bincount(jets["event"][good], minlength=n)
    return (n_lep >= cfg["leptons"]) & (n_jet >= cfg["jets"])


def _keep_events(table: Table, index: np.ndarray, n: int) -> Table:
    """Objects of the events ``index`` (sorted), renumbered 0..len(index)-1."""
    new_number = np.full(n, -1, np.int64)
    new_number[index] = np.arange(len(index))
    event = new_number[table["event"]]
    keep = event >= 0
    out = {k: v[keep] for k, v in table.items()}
    out["event"] = event[keep]
    return out


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _unsigned_counters() -> Iterator[None]:
    """Make uproot's generated count branches ``uint32`` (``nJet/i``) like the real NanoAOD file.

    uproot (5.7) hard-codes ``int32`` counters; this wraps the private ``Tree._branch_np`` only
    while the tree is declared (``mktree``), under :func:`reproducible_recreate`'s lock.
    """
    original = Tree._branch_np

    def patched(
        self: Any, name: str, btype: Any, bdtype: Any, counter: Any = None, kind: str = "normal"
    ) -> Any:
        if kind == "counter":
            btype = bdtype = np.dtype(np.uint32)
        return original(self, name, btype, bdtype, counter=counter, kind=kind)

    Tree._branch_np = patched  # type: ignore[method-assign]
    try:
        yield
    finally:
        Tree._branch_np = original  # type: ignore[method-assign]


@functools.cache
def _tree_types() -> dict[str, Any]:
    """:data:`BRANCH_TYPES` as NumPy dtypes / Awkward types (uproot parses datashape strings slowly)."""
    parsed = {
        text: ak.types.from_datashape(text, highlevel=False)
        for text in set(BRANCH_TYPES.values())
        if isinstance(text, str)
    }
    return {
        name: parsed[t] if isinstance(t, str) else np.dtype(t) for name, t in BRANCH_TYPES.items()
    }


def _counter_name(branch: str) -> str:
    """``Jet_pt`` -> ``nJet`` (the NanoAOD count branch of a collection)."""
    return "n" + branch.split("_", 1)[0]


def _compression(recipe: dict[str, Any]) -> Any:
    comp = recipe.get("compression", {"algorithm": "ZLIB", "level": 1})
    return getattr(uproot, comp["algorithm"])(comp["level"])


class _BlockStream:
    """Events [start, stop) of one sample, generated block by block (one block cached).

    Positions count *generated* events; with a preselection a slice holds only the events of
    that range that pass it (``n_kept`` counts them), so the content still does not depend on
    the file split.
    """

    def __init__(
        self,
        cfg: dict[str, Any],
        detector: dict[str, Any],
        seed: int,
        block_size: int,
        identity: tuple[str, str],
        preselection: dict[str, Any] | None = None,
    ):
        self.cfg, self.detector, self.seed, self.block_size = cfg, detector, seed, block_size
        self.preselection = preselection
        self.lumi_base = _lumi_base(*identity)
        self._cached: tuple[int, dict[str, Any]] | None = None
        self.n_kept = 0

    def _block(self, index: int, n_total: int) -> dict[str, Any]:
        if self._cached is None or self._cached[0] != index:
            start = index * self.block_size
            n = min(self.block_size, n_total - start)
            arrays = generate_events(
                self.cfg, self.detector, _block_rng(self.seed, index), n, self.preselection
            )
            number = start + arrays["index"].astype(np.uint64)
            lumi = self.lumi_base + number // EVENTS_PER_LUMI
            arrays["run"] = np.ones(len(number), np.uint32)
            arrays["luminosityBlock"] = lumi.astype(np.uint32)
            arrays["event"] = lumi * EVENTS_PER_LUMI + number % EVENTS_PER_LUMI + 1
            self._cached = (index, arrays)
        return self._cached[1]

    def slices(self, start: int, stop: int, n_total: int) -> Iterator[dict[str, Any]]:
        position = start
        while position < stop:
            index = position // self.block_size
            block = self._block(index, n_total)
            lo = position - index * self.block_size
            hi = min(stop, (index + 1) * self.block_size) - index * self.block_size
            first, last = np.searchsorted(block["index"], [lo, hi])
            if last > first:
                self.n_kept += int(last - first)
                yield {name: block[name][first:last] for name in BRANCH_TYPES}
            position += hi - lo


def _n_files(cfg: dict[str, Any], n_events: int) -> int:
    """Files of a sample: the recipe's ``files`` (default 1), at most one per event."""
    return min(int(cfg.get("files", 1)), n_events)


def _file_sizes(n_events: int, n_files: int) -> list[int]:
    base, extra = divmod(n_events, n_files)
    return [base + (1 if i < extra else 0) for i in range(n_files)]


def _write_file(
    out_dir: Path,
    process: str,
    variation: str,
    recipe: dict[str, Any],
    n_events: int,
    index: int,
) -> dict[str, Any]:
    """Write file ``index`` of one sample of ``n_events`` generated events; return its manifest entry.

    File ``index`` holds the generated events of its share of [0, n_events) (those passing the
    preselection, if any); the files of a sample can be written independently.
    """
    cfg = recipe["samples"][process][variation]
    seed = sample_seed(recipe["seed"], process, variation)
    block_size = int(recipe.get("block_size", 50_000))
    stream = _BlockStream(
        cfg,
        recipe["detector"],
        seed,
        block_size,
        (process, variation),
        recipe.get("preselection"),
    )
    sizes = _file_sizes(n_events, _n_files(cfg, n_events))
    start = sum(sizes[:index])
    name = f"{sample_key(process, variation)}_{index}.root"
    path = out_dir / name
    with reproducible_recreate(path, compression=_compression(recipe)) as handle:
        with _unsigned_counters():
            tree = handle.mktree(TREE_NAME, _tree_types(), counter_name=_counter_name)
        for part in stream.slices(start, start + sizes[index], n_events):
            tree.extend(part)
    return {
        "path": name,
        "nevts": stream.n_kept,
        "sha256": sha256_file(path),
        "size": path.stat().st_size,
    }


# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------


def _selected(recipe: dict[str, Any], samples: list[str] | str | None) -> list[tuple[str, str]]:
    every = [(p, v) for p, vs in recipe["samples"].items() for v in vs]
    if samples is None or samples in ("all", ["all"]):
        return every
    names = [s.strip() for s in samples.split(",")] if isinstance(samples, str) else list(samples)
    chosen: list[tuple[str, str]] = []
    for name in filter(None, names):
        process, sep, variation = name.partition("__")
        pairs = [(p, v) for p, v in every if p == process and (not sep or v == variation)]
        if not pairs:
            known = ", ".join(sample_key(p, v) for p, v in every)
            raise AGCError(f"unknown sample '{name}' in the recipe; known: {known}")
        chosen.extend(pair for pair in pairs if pair not in chosen)
    if not chosen:
        raise AGCError("no sample selected: 'samples' is empty")
    return chosen


def _recipe_digest(recipe: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(recipe).encode()).hexdigest()


def _generation_record(
    recipe: dict[str, Any], scale: float, chosen: list[tuple[str, str]]
) -> dict[str, Any]:
    return {
        "generator": "agc.dataset.generate",
        "generator_version": GENERATOR_VERSION,
        "recipe_sha256": _recipe_digest(recipe),
        "scale": scale,
        "samples": [sample_key(p, v) for p, v in chosen],
        "numpy": np.__version__,
        "uproot": uproot.__version__,
    }


def _intact(out_dir: Path, record: dict[str, Any]) -> bool:
    """True if ``out_dir`` holds a dataset made from the same recipe/scale/samples, checksums OK."""
    manifest_path, record_path = out_dir / "manifest.json", out_dir / GENERATION_RECORD
    if not manifest_path.exists() or not record_path.exists():
        return False
    try:
        if json.loads(record_path.read_text("utf-8")) != record:
            log.info("%s: made from another recipe/scale/samples; regenerating", out_dir)
            return False
        manifest = load_manifest(manifest_path)
    except (AGCError, ValueError):
        return False
    for variations in manifest.values():
        for entry in variations.values():
            for item in entry["files"]:
                path = Path(item["path"])
                if not path.exists() or sha256_file(path) != item.get("sha256"):
                    log.info("%s: missing or modified; regenerating", path)
                    return False
    return True


#: Processes that write the embedded default's files (CLI, dataset stage, tests); the bytes do not
#: depend on it. The API's default stays 1 (in-process: tests patch the generator).
DEFAULT_WORKERS: int = 2

#: One file to write: (folder, process, variation, recipe, generated events of the sample, file index).
_Job = tuple[Path, str, str, dict[str, Any], int, int]


def _file_job(job: _Job) -> dict[str, Any]:
    return _write_file(*job)


def _run_jobs(jobs: list[_Job], workers: int) -> list[dict[str, Any]]:
    """Write every file (``workers`` processes, largest files first); entries in job order.

    Each event depends only on (seed, sample, block), so the bytes do not depend on ``workers``.
    """
    if workers <= 1 or len(jobs) <= 1:
        return [_file_job(job) for job in jobs]

    def share(job: _Job) -> float:
        return job[4] / _n_files(job[3]["samples"][job[1]][job[2]], job[4])

    order = sorted(range(len(jobs)), key=lambda i: -share(jobs[i]))
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(
        min(workers, len(jobs)), mp_context=context
    ) as pool:
        futures = {i: pool.submit(_file_job, jobs[i]) for i in order}
        return [futures[i].result() for i in range(len(jobs))]


def _n_events(events: int, scale: float) -> int:
    return max(1, round(events * scale))


def generate_dataset(
    output_dir: str | os.PathLike[str],
    recipe: str | os.PathLike[str] | dict[str, Any] = DEFAULT_RECIPE,
    scale: float = 1.0,
    samples: list[str] | str | None = None,
    force: bool = False,
    workers: int = 1,
) -> Path:
    """Generate the synthetic NanoAOD dataset of a recipe into ``output_dir``; return the manifest path.

    Writes ``{process}__{variation}_{i}.root`` per sample (``files`` per sample in the recipe),
    ``manifest.json`` in the AGC layout (per sample ``nevts_total``, ``xsec`` [pb],
    ``filter_efficiency``, ``label``; per file ``path`` (relative), ``nevts``, ``sha256``, ``size``)
    and ``generation.json`` (recipe digest, scale, samples, versions). If the dataset is already
    there, made from the same recipe/scale/samples and every checksum matches, nothing is
    regenerated unless ``force``. ``scale`` multiplies every sample's event count (generation
    streams blocks of ``block_size`` events, so memory stays bounded for millions of events).
    ``workers``: processes writing samples in parallel (the bytes do not depend on it).

    With a ``preselection`` in the recipe, files hold only the generated events that can pass the
    analysis selection: ``nevts`` counts those, ``nevts_generated`` the generated ones, and
    ``filter_efficiency`` includes ``preselection_efficiency`` = kept / generated, so every
    event keeps the weight xsec * (generator filter) * calibration * lumi / N_generated.
    """
    if not (isinstance(scale, (int, float)) and np.isfinite(scale) and scale > 0):
        raise AGCError(f"scale must be a positive number, got {scale!r}")
    recipe_data = (
        validate_recipe(recipe, "recipe") if isinstance(recipe, dict) else load_recipe(recipe)
    )
    chosen = _selected(recipe_data, samples)
    out_dir = Path(output_dir)
    record = _generation_record(recipe_data, float(scale), chosen)
    manifest_path = out_dir / "manifest.json"
    if not force and _intact(out_dir, record):
        log.info("%s is up to date", manifest_path)
        return manifest_path
    out_dir.mkdir(parents=True, exist_ok=True)
    # a failed regeneration must not leave a manifest pointing at half-replaced files
    for stale in (manifest_path, out_dir / GENERATION_RECORD):
        stale.unlink(missing_ok=True)
    manifest: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    n_of = {(p, v): _n_events(recipe_data["samples"][p][v]["events"], scale) for p, v in chosen}
    jobs: list[_Job] = [
        (out_dir, p, v, recipe_data, n_of[(p, v)], index)
        for p, v in chosen
        for index in range(_n_files(recipe_data["samples"][p][v], n_of[(p, v)]))
    ]
    written = _run_jobs(jobs, workers)
    total = 0
    calibration = float(recipe_data.get("yield_calibration", 1.0))
    for process, variation in chosen:
        n_events = n_of[(process, variation)]
        files = [
            e for job, e in zip(jobs, written, strict=True) if job[1:3] == (process, variation)
        ]
        cfg = recipe_data["samples"][process][variation]
        keep = {item["path"] for item in files}
        for leftover in out_dir.glob(f"{sample_key(process, variation)}_*.root"):
            if leftover.name not in keep:  # from an earlier recipe with more files
                leftover.unlink()
        total += n_events
        kept = sum(item["nevts"] for item in files)
        if kept == 0:
            raise AGCError(
                f"sample {sample_key(process, variation)}: none of its {n_events} generated events "
                "passes the recipe's preselection; generate more (--scale)"
            )
        entry: dict[str, Any] = {
            "nevts_total": kept,
            "files": files,
            "xsec": float(cfg["xsec"]),
            # the preselection's efficiency (kept / generated) is part of the filter efficiency,
            # so xsec * filter_efficiency * lumi / nevts_total is the weight of a generated event
            "filter_efficiency": float(
                f"{float(cfg['filter_efficiency']) * calibration * kept / n_events:.10g}"
            ),
            "generator_filter_efficiency": float(cfg["filter_efficiency"]),
            "yield_calibration": calibration,
            "label": cfg["label"],
        }
        if "preselection" in recipe_data:
            entry["nevts_generated"] = n_events
            entry["preselection_efficiency"] = float(f"{kept / n_events:.10g}")
        manifest.setdefault(process, {})[variation] = entry
        log.info(
            "generated %s: %d events (%d kept) in %d file(s)",
            sample_key(process, variation),
            n_events,
            kept,
            len(files),
        )
    # the record goes first: a crash before the manifest leaves no manifest, hence no false "intact"
    write_json(out_dir / GENERATION_RECORD, record)
    write_manifest(manifest_path, manifest)
    log.info("generated %d events in %.1f s into %s", total, time.perf_counter() - started, out_dir)
    return manifest_path
