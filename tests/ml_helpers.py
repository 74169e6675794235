"""Test helper: a stand-in ``histograms_ml.root`` for the ML statistical model.

The histogram stage writes the real file (one TH1D per BDT feature, process and variation, AGC
naming ``{feature}_{process}[_{variation}]``, ``{feature}_pseudodata``, every bin + 1e-6, and a
``provenance`` string). Where it is not at hand, :func:`write_ml_histograms` makes a file of that
layout from 4j2b histograms of a ``histograms.root`` (or from the synthetic contents of
:mod:`stats_helpers`): each feature gets the 4j2b m_bjj contents, bin for bin, on its own axis
(the feature's 25 bins of ``inputs/cabinetry_ml.yaml``), mirrored for every second feature so that
the channels differ. No random numbers: the same input gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import hist
import numpy as np
import uproot
import yaml
from stats_helpers import REPO, synthetic_contents

from agc.core.rootio import reproducible_recreate

ML_CONFIG = REPO / "inputs" / "cabinetry_ml.yaml"
#: What the AGC adds to every bin of the ML histograms (utils/file_output.py).
BIN_OFFSET = 1e-6


def ml_features() -> list[tuple[str, list[float]]]:
    """(feature name, bin edges) of every region of ``inputs/cabinetry_ml.yaml``, in order."""
    config = yaml.safe_load(ML_CONFIG.read_text(encoding="utf-8"))
    return [(r["RegionPath"], [float(e) for e in r["Binning"]]) for r in config["Regions"]]


def _contents_4j2b(histograms: Path | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{process[_variation] | pseudodata: (sumw, sumw2)}`` of the 4j2b histograms (25 bins)."""
    if histograms is None:
        return {
            name.removeprefix("4j2b_"): contents
            for name, contents in synthetic_contents().items()
            if name.startswith("4j2b_")
        }
    out = {}
    with uproot.open(histograms) as source:
        for key in source.keys(cycle=False):
            if key.startswith("4j2b_"):
                h = source[key]
                out[key.removeprefix("4j2b_")] = (h.values(), h.variances())
    return out


def write_ml_histograms(path: str | Path, histograms: Path | None = None) -> Path:
    """Write the stand-in ``histograms_ml.root`` to ``path`` from ``histograms`` (a
    ``histograms.root``; ``None``: the synthetic contents of :mod:`stats_helpers`)."""
    contents = _contents_4j2b(histograms)
    with reproducible_recreate(path) as sink:
        for i, (feature, edges) in enumerate(ml_features()):
            for name in sorted(contents):
                values, variances = (np.asarray(a, dtype=float) for a in contents[name])
                if i % 2:
                    values, variances = values[::-1], variances[::-1]
                h = hist.Hist(
                    hist.axis.Variable(edges, name="observable"), storage=hist.storage.Weight()
                )
                h.view()["value"] = values + BIN_OFFSET
                h.view()["variance"] = variances
                sink[f"{feature}_{name}"] = h
        sink["provenance"] = "stand-in histograms_ml.root (tests/ml_helpers.py)"
    return Path(path)
