"""Tampering with a run's outputs for the reproduction tests: one fit number moved by a given
share of its tolerance, one histogram bin rewritten."""

from __future__ import annotations

import json
from pathlib import Path

import uproot

from agc.stats.reproducibility import BESTFIT_SIGMA


def tamper_fit(path: Path, sigmas: float) -> str:
    """Move the first best-fit value of ``path`` (fit_results.json) by ``sigmas`` times its
    tolerance; the parameter's label."""
    record = json.loads(path.read_text())
    pars = record["parameters"]
    pars["bestfit"][0] += sigmas * BESTFIT_SIGMA * pars["uncertainty"][0]
    path.write_text(json.dumps(record, indent=2))
    return str(pars["labels"][0])


def tamper_bin(path: Path, name: str, index: int, delta: float) -> None:
    """Rewrite ``path`` (histograms.root) with bin ``index`` (flow bins counted) of histogram
    ``name`` moved by ``delta``; every other histogram as it was."""
    with uproot.open(path) as root:
        objects = {
            key: root[key].to_hist() if kind.startswith("TH") else str(root[key])
            for key, kind in root.classnames(cycle=False).items()
        }
    view = objects[name].view(flow=True)
    view.value[index] += delta
    with uproot.recreate(path) as out:
        for key, obj in objects.items():
            out[key] = obj
