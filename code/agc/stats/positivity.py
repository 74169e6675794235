"""Non-negative expected yields: what the workspace builder guarantees before any fit.

Two places where a HistFactory model of this analysis predicts a negative yield, found when the
fits wandered into NaN -2 ln L (a Poisson term with a negative mean):

1. **Symmetrised templates.** cabinetry builds the down template of a one-sided variation as
   ``2 * nominal - up``. Where the nominal is empty (or small) and the up variation is not (events
   migrating into a bin, e.g. the single-top s-channel jet energy scale and resolution in the
   4j1b tail), that is negative. :func:`clip_templates` sets such bins to 0: a yield cannot be
   negative, and an empty nominal bin has no defined downward variation.
2. **Linear extrapolation.** Beyond +-1 sigma pyhf's HistoSys interpolation (code 4p) is linear,
   so a large shape effect reaches zero yield a little further out: the ttbar ME variation
   (up to 77 % in the high-m_bjj bins) makes the ttbar yield negative below -1.3 sigma and the
   bin's total, the mean of its Poisson term, below -1.95 sigma. :func:`physical_bounds` gives
   every HistoSys parameter the bounds within which, moved alone, it keeps every bin's total
   yield >= 0 (pyhf's default [-5, 5] otherwise); they go into the workspace's measurement, so
   every consumer of ``workspace.json`` fits in the same domain. (A small sample's own yield may
   still dip below 0 inside these bounds, as in any HistFactory model; the likelihood does not.)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pyhf

#: pyhf's default bounds of a constrained (normsys/histosys) parameter, in sigma.
DEFAULT_BOUNDS: tuple[float, float] = (-5.0, 5.0)
#: Grid step [sigma] of the bound scan; a bound is the first grid point inside the physical range.
BOUND_STEP: float = 0.01


def _histosys(ws: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], list[float]]]:
    """(channel, sample, histosys modifier, nominal) of every HistoSys in the workspace."""
    for channel in ws["channels"]:
        for sample in channel["samples"]:
            for modifier in sample["modifiers"]:
                if modifier["type"] == "histosys":
                    yield channel["name"], sample["name"], modifier, sample["data"]


def clip_templates(ws: dict[str, Any]) -> list[str]:
    """Set negative bins of every HistoSys template (``lo_data``/``hi_data``) of ``ws`` to 0, in
    place. Returns one description per clipped template, e.g.
    ``"4j1b CR/single top s-channel/Jet energy scale lo_data: bins [6, 8]"``."""
    clipped = []
    for channel, sample, modifier, _ in _histosys(ws):
        for key in ("lo_data", "hi_data"):
            values = np.asarray(modifier["data"][key], dtype=float)
            bins = np.flatnonzero(values < 0)
            if bins.size:
                modifier["data"][key] = np.maximum(values, 0.0).tolist()
                clipped.append(f"{channel}/{sample}/{modifier['name']} {key}: bins {bins.tolist()}")
    return clipped


def physical_bounds(ws: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """Bounds [sigma] of every HistoSys parameter whose own variation (code 4p, every other
    parameter at its nominal value) would bring the expected yield of a bin -- the mean of its
    Poisson term, summed over samples -- to 0 or below within :data:`DEFAULT_BOUNDS`: the grid
    points (:data:`BOUND_STEP`) nearest to 0 inside which every bin filled at nominal stays
    positive. Parameters that never do are left out (they keep pyhf's default bounds)."""
    pyhf.set_backend("numpy")
    grid = np.round(
        np.arange(DEFAULT_BOUNDS[0], DEFAULT_BOUNDS[1] + BOUND_STEP / 2, BOUND_STEP), 10
    )
    totals = {
        channel["name"]: np.sum([sample["data"] for sample in channel["samples"]], axis=0)
        for channel in ws["channels"]
    }
    shifts: dict[tuple[str, str], np.ndarray] = {}  # (parameter, channel) -> (grid, bins)
    for channel, _, modifier, nominal in _histosys(ws):
        sets = [[modifier["data"]["lo_data"], nominal, modifier["data"]["hi_data"]]]
        deltas = pyhf.interpolators.get("4p")([sets])(np.asarray([grid]))[0, 0]  # (grid, bins)
        key = (modifier["name"], channel)
        shifts[key] = shifts.get(key, 0.0) + np.asarray(deltas)
    negative: dict[str, np.ndarray] = {}
    for (name, channel), delta in shifts.items():
        filled = totals[channel] > 0  # a bin empty at nominal has no Poisson mean to keep
        below = np.any((totals[channel] + delta <= 0) & filled, axis=1)
        negative[name] = below | negative.get(name, np.zeros(grid.size, dtype=bool))
    bounds = {}
    for name, below in sorted(negative.items()):
        if not below.any():
            continue
        low = grid[(grid < 0) & below].max(initial=DEFAULT_BOUNDS[0] - BOUND_STEP) + BOUND_STEP
        high = grid[(grid > 0) & below].min(initial=DEFAULT_BOUNDS[1] + BOUND_STEP) - BOUND_STEP
        bounds[name] = (round(float(low), 10), round(float(high), 10))
    return bounds


def apply_bounds(ws: dict[str, Any], bounds: Mapping[str, tuple[float, float]]) -> None:
    """Write ``bounds`` into the parameter settings of every measurement of ``ws`` (in place;
    a parameter already configured there keeps its other settings)."""
    for measurement in ws["measurements"]:
        parameters = measurement["config"].setdefault("parameters", [])
        by_name = {p["name"]: p for p in parameters}
        for name in sorted(bounds):
            entry = by_name.get(name)
            if entry is None:
                entry = {"name": name}
                parameters.append(entry)
            entry["bounds"] = [list(bounds[name])]
        parameters.sort(key=lambda p: p["name"])
