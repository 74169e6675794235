"""The quark-gluon likelihood of the generated jets (agc.dataset.qgl) against the real file."""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from agc.dataset.events import generate_events
from agc.dataset.qgl import (
    CLASSES,
    GLUON_JET,
    LEPTON_JET,
    PILEUP_JET,
    QGL_DEFAULT,
    QUARK_JET,
    jet_class,
    quark_gluon_likelihood,
)


def _table(n: int, origin: int, flavour: int = 0, pt: float = 50.0, jet_id: int = 6) -> dict:
    return {
        "pt": np.full(n, pt),
        "jetId": np.full(n, jet_id, np.int32),
        "flavour": np.full(n, flavour, np.int32),
        "origin": np.full(n, origin, np.int8),
    }


def test_quark_jets_are_quark_like_and_gluon_jets_gluon_like(recipe: dict[str, Any]) -> None:
    cfg = recipe["detector"]["qgl"]
    rng = np.random.default_rng(3)
    n = 20000
    means = {}
    for name, table in {
        "quark": _table(n, QUARK_JET),
        "gluon": _table(n, GLUON_JET),
        "b": _table(n, QUARK_JET, flavour=5),
        "lepton": _table(n, LEPTON_JET),
    }.items():
        qgl = quark_gluon_likelihood(rng, table, cfg)
        value = qgl[qgl != QGL_DEFAULT]
        assert np.all((value >= 0.0) & (value <= 1.0))
        means[name] = float(np.mean(value))
        if name == "quark":  # peaks towards 1
            assert np.mean(value > 0.8) > np.mean(value < 0.2)
        if name == "gluon":  # peaks towards 0
            assert np.mean(value < 0.2) > np.mean(value > 0.8)
    print(means)
    assert means["quark"] > means["gluon"] + 0.2
    assert means["b"] < means["quark"]
    assert means["lepton"] > means["quark"]


def test_default_value_follows_the_real_file(recipe: dict[str, Any]) -> None:
    """-1 for every jet below 20 GeV; above, ~6 % with jetId 6, ~83 % of the lepton jets failing
    the lepton veto, ~47 % of the other jets failing it (the real file's fractions)."""
    cfg = recipe["detector"]["qgl"]
    rng = np.random.default_rng(4)
    n = 20000
    soft = quark_gluon_likelihood(rng, _table(n, QUARK_JET, pt=19.9), cfg)
    assert np.all(soft == QGL_DEFAULT)
    for table, lo, hi in (
        (_table(n, QUARK_JET), 0.04, 0.08),
        (_table(n, PILEUP_JET), 0.04, 0.08),
        (_table(n, LEPTON_JET, jet_id=2), 0.80, 0.86),
        (_table(n, GLUON_JET, jet_id=0), 0.44, 0.50),
    ):
        assert lo < np.mean(quark_gluon_likelihood(rng, table, cfg) == QGL_DEFAULT) < hi


def test_jet_class_and_precision(recipe: dict[str, Any]) -> None:
    origin = np.array([QUARK_JET, GLUON_JET, QUARK_JET, GLUON_JET, PILEUP_JET, LEPTON_JET])
    flavour = np.array([0, 0, 5, 5, 0, 0])
    names = [CLASSES[i] for i in jet_class(origin, flavour)]
    assert names == ["quark", "gluon", "b", "b", "pileup", "lepton"]
    qgl = quark_gluon_likelihood(
        np.random.default_rng(5), _table(1000, QUARK_JET), recipe["detector"]["qgl"]
    )
    mantissa = qgl.astype(np.float32).view(np.uint32) & 0x7FFFFF
    assert np.all(mantissa & 0x1FFF == 0)  # 10 mantissa bits, as the real file's Jet_qgl


def test_generated_qgl_by_parton_type(recipe: dict[str, Any]) -> None:
    """In generated ttbar events, jets with a b hadron have a lower mean qgl than the others among
    the central jets the analysis selects, and the default fraction is in the real file's range
    for those jets (4 % of the real file's 77: 0-15 %)."""
    cfg = recipe["samples"]["ttbar"]["nominal"]
    arrays = generate_events(cfg, recipe["detector"], np.random.default_rng(6), 4000)
    qgl, flavour, pt, eta, jet_id = (
        ak.to_numpy(ak.flatten(arrays[f"Jet_{name}"]))
        for name in ("qgl", "hadronFlavour", "pt", "eta", "jetId")
    )
    assert qgl.dtype == np.float32
    selected = (pt > 30) & (np.abs(eta) < 2.4) & (jet_id == 6)
    assert 0.0 < np.mean(qgl[selected] == QGL_DEFAULT) < 0.15
    assert np.all(qgl[pt < 20] == QGL_DEFAULT)
    ok = selected & (qgl != QGL_DEFAULT)
    assert np.mean(qgl[ok & (flavour == 5)]) < np.mean(qgl[ok & (flavour == 0)]) - 0.1
