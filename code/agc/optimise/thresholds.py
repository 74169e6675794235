"""The selection thresholds ``agc optimise`` can relax, with their temperature, grid and step size.

No JAX here: the CLI and the workflow stage validate the threshold name without loading it.
Units: GeV for ``jet_pt``; the CSVv2 discriminant (dimensionless, 0-1) for ``btag``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agc.core import physics
from agc.core.errors import AGCError

#: The value of the ``optimise_cut`` workflow parameter that switches the stage off.
NO_THRESHOLD = "none"


@dataclass(frozen=True)
class Threshold:
    """One selection threshold of the card, relaxed into ``sigmoid((x - cut) / temperature)``.

    ``name``: ``btag`` (``Jet_btagCSVV2 > cut``: which selected jets are b-tagged) or ``jet_pt``
    (``Jet_pt > cut`` [GeV]: which jets are selected); ``nominal``: the card's value;
    ``temperature``: the sigmoid's width, in the unit of the cut; ``grid``: the scan's
    thresholds (float64, ascending, equal steps); ``learning_rate``: Adam's step size in the
    unit of the cut; ``steps``: gradient-descent steps; ``label``: axis label of the plot.
    """

    name: str
    nominal: float
    temperature: float
    grid: tuple[float, ...]
    learning_rate: float
    steps: int
    label: str

    @property
    def grid_step(self) -> float:
        """Distance between neighbouring grid points (unit of the cut)."""
        return float(self.grid[1] - self.grid[0])

    @property
    def bounds(self) -> tuple[float, float]:
        """The range the descent is kept in: the grid's ends."""
        return float(self.grid[0]), float(self.grid[-1])


def _grid(low: float, high: float, step: float) -> tuple[float, ...]:
    n = round((high - low) / step) + 1
    return tuple(float(x) for x in np.round(low + step * np.arange(n), 10))


#: Every threshold that can be optimised, by the name the ``optimise_cut`` parameter takes.
THRESHOLDS: dict[str, Threshold] = {
    "btag": Threshold(
        name="btag",
        nominal=physics.BTAG_CSVV2_MIN,
        temperature=0.02,
        grid=_grid(0.2, 0.9, 0.05),
        learning_rate=0.02,
        steps=40,
        label="b-tag threshold (Jet_btagCSVV2 >)",
    ),
    "jet_pt": Threshold(
        name="jet_pt",
        nominal=physics.JET_PT_MIN,
        temperature=1.0,
        grid=_grid(20.0, 60.0, 2.5),
        learning_rate=1.0,
        steps=40,
        label="jet pT threshold (Jet_pt >) [GeV]",
    ),
}


def threshold(name: str) -> Threshold:
    """The :class:`Threshold` called ``name``; an unknown name is one-line :class:`AGCError`."""
    try:
        return THRESHOLDS[name]
    except KeyError:
        known = ", ".join(sorted(THRESHOLDS))
        raise AGCError(f"optimise: unknown threshold {name!r} (known: {known})") from None
