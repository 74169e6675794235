"""The quark-gluon likelihood ``Jet_qgl`` of the generated jets (CMS's QGL discriminator).

CMS's likelihood combines a jet's constituent multiplicity, width and fragmentation: jets from
quarks (fewer, harder constituents, narrower) score towards 1, jets from gluons towards 0, and
b jets (wider, more constituents) lie in between, closer to gluons. The generator draws it per
jet from a Beta distribution chosen by the jet's origin (:func:`jet_class`):

- quark jets (u, d, s, c from the hard process, W decays, the light quarks of W+jets; a merged
  jet takes the type of its harder constituent) -- quark-like;
- gluon jets (radiation partons, W+jets' gluons) -- gluon-like;
- b jets (hadron flavour 5, whatever the origin) -- their own, gluon-leaning shape;
- pileup jets -- as the real file's jets without a parton match (broad, mean ~0.65);
- lepton jets (the AK4 jet around an isolated lepton) -- few, hard constituents: very quark-like.

The real file's default value -1 (the likelihood is not computed): in the 200 real events
(537 jets) every jet below 20 GeV has -1 (208 of 208), and above 20 GeV it follows the jet ID,
not |eta| (5.8 % in |eta| < 2.5 and 7.3 % above 3 among the jets passing the tight lepton veto):
5.8 % of the jets with ``jetId`` 6 (tight + lepton veto), 83 % of the lepton jets failing the
lepton veto, 47 % of the other jets failing it. The recipe's ``detector.qgl`` holds these
fractions and the Beta parameters (method-of-moments fits to the real file's jets above 20 GeV
by ``Jet_partonFlavour``: u/d/s/c mean 0.56, gluons 0.34, unmatched 0.68, lepton jets 0.79).

All draws come from the block's auxiliary stream (``aux``), after every draw of the main
stream, so the other branches do not move.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agc.dataset.branches import Table, reduce_mantissa

__all__ = [
    "CLASSES",
    "GLUON_JET",
    "LEPTON_JET",
    "PILEUP_JET",
    "QGL_DEFAULT",
    "QGL_MANTISSA_BITS",
    "QUARK_JET",
    "jet_class",
    "quark_gluon_likelihood",
]

#: Jet origins (the ``origin`` column of the generator's jet tables).
QUARK_JET, GLUON_JET, PILEUP_JET, LEPTON_JET = 0, 1, 2, 3
#: Distribution classes, in the recipe's ``detector.qgl`` names, indexed by :func:`jet_class`.
CLASSES: tuple[str, ...] = ("quark", "gluon", "pileup", "lepton", "b")
#: Mantissa bits of Jet_qgl (NanoAOD's precision, as in the real file).
QGL_MANTISSA_BITS = 10
#: The value of jets without a likelihood, as in NanoAOD.
QGL_DEFAULT = -1.0
#: jetId with the tight and the tight-lepton-veto bits (2 | 4).
_TIGHT_LEPTON_VETO = 6


def jet_class(origin: np.ndarray, flavour: np.ndarray) -> np.ndarray:
    """Index into :data:`CLASSES` per jet: the origin, except b for quark/gluon b jets."""
    hard = (origin == QUARK_JET) | (origin == GLUON_JET)
    return np.where(hard & (flavour == 5), CLASSES.index("b"), origin)


def quark_gluon_likelihood(
    rng: np.random.Generator, jets: Table, cfg: dict[str, Any]
) -> np.ndarray:
    """``Jet_qgl`` (float32, shape of ``jets["pt"]``, 10 mantissa bits as in NanoAOD):
    Beta(alpha, beta) of the jet's class, or -1 below ``cfg["pt_min"]`` [GeV] and with the default probabilities of ``cfg["default"]``.

    ``jets``: the flat jet table (``pt`` [GeV], ``jetId``, ``flavour``, ``origin``); ``cfg``:
    the recipe's ``detector.qgl``. Draws len(jets) Beta variates and len(jets) uniforms.
    """
    cls = jet_class(jets["origin"], jets["flavour"])
    alpha = np.array([cfg[name]["alpha"] for name in CLASSES], float)[cls]
    beta = np.array([cfg[name]["beta"] for name in CLASSES], float)[cls]
    value = rng.beta(alpha, beta) if len(cls) else np.empty(0)
    default = cfg["default"]
    tight = jets["jetId"] == _TIGHT_LEPTON_VETO
    p_default = np.where(
        tight,
        default["tight"],
        np.where(jets["origin"] == LEPTON_JET, default["lepton"], default["other"]),
    )
    missing = (jets["pt"] < cfg["pt_min"]) | (rng.random(len(cls)) < p_default)
    return np.where(missing, QGL_DEFAULT, reduce_mantissa(value, QGL_MANTISSA_BITS))
