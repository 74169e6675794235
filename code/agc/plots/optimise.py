"""The figure of ``agc optimise``: the hard-cut scan, the relaxed curve and the descent path.

Upper panel: expected sigma(ttbar_norm) against the threshold -- the scan with hard cuts
(markers), the relaxed figure of merit at the same points (line) and the points the gradient
descent visited (numbered path, the optimum marked). Lower panel: d sigma / d threshold, the
relaxed gradient against the finite differences of the scan.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure


def optimise_plot(result: Mapping[str, Any], label: str, output: str | os.PathLike[str]) -> Path:
    """Draw ``result`` (the content of ``optimise.json``) into ``output`` (PNG); ``label``: the
    threshold axis' label. Returns the path."""
    found, path = result["scan"], result["descent"]
    figure = Figure(figsize=(7, 7))
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    top.plot(found["grid"], found["hard"], "o", color="black", label="scan, hard cuts")
    top.plot(
        found["grid"],
        found["relaxed"],
        "-",
        color="tab:blue",
        label=f"relaxed, temperature {result['temperature']:g}",
    )
    top.plot(path["cuts"], path["values"], ".-", color="tab:orange", alpha=0.7, label="descent")
    top.axvline(result["optimum"], color="tab:orange", ls="--", label="descent optimum")
    top.axvline(result["scan_best"], color="black", ls=":", label="scan best")
    top.set_ylabel(r"expected $\sigma$(ttbar_norm)")
    top.legend(fontsize="small")
    bottom.plot(found["grid"], found["gradient"], "-", color="tab:blue", label="relaxed gradient")
    bottom.plot(
        found["grid"], found["finite_difference"], "o", color="black", label="scan differences"
    )
    bottom.axhline(0.0, color="grey", lw=0.5)
    bottom.set_xlabel(label)
    bottom.set_ylabel(r"d$\sigma$ / d threshold")
    bottom.legend(fontsize="small")
    figure.tight_layout()
    output = Path(output)
    figure.savefig(output, dpi=100, metadata={"Software": None})  # no version: same bytes
    return output
