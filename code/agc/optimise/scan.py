"""The validation scan: the figure of merit with hard cuts on the threshold's grid, beside the
relaxed value and its gradient at each grid point, and the finite differences of the hard
values (:func:`numpy.gradient`: central inside, one-sided at the ends)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from agc.optimise.objective import Objective


@dataclass(frozen=True)
class Scan:
    """Per grid point (unit of the cut): ``hard`` and ``relaxed`` sigma(ttbar_norm),
    ``gradient`` (d relaxed / d cut), ``finite_difference`` (d hard / d cut from the grid);
    ``seconds``: wall time of the scan."""

    grid: tuple[float, ...]
    hard: tuple[float, ...]
    relaxed: tuple[float, ...]
    gradient: tuple[float, ...]
    finite_difference: tuple[float, ...]
    seconds: float

    @property
    def best(self) -> float:
        """The grid point with the smallest hard sigma(ttbar_norm)."""
        return self.grid[int(np.argmin(self.hard))]

    def sign_agreement(self) -> float:
        """Fraction of grid points where gradient and finite difference have the same sign."""
        same = np.sign(self.gradient) == np.sign(self.finite_difference)
        return float(np.mean(same))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record."""
        return {
            "grid": list(self.grid),
            "hard": list(self.hard),
            "relaxed": list(self.relaxed),
            "gradient": list(self.gradient),
            "finite_difference": list(self.finite_difference),
            "best": self.best,
            "sign_agreement": self.sign_agreement(),
            "seconds": self.seconds,
        }


def scan(objective: Objective) -> Scan:
    """Evaluate ``objective`` on its threshold's grid (hard and relaxed, with the gradient)."""
    start = time.perf_counter()
    grid = objective.threshold.grid
    hard, relaxed, gradient = [], [], []
    for cut in grid:
        views = objective.views(cut)
        hard.append(objective.hard(cut, views))
        value, grad = objective.relaxed(cut, views)
        relaxed.append(value)
        gradient.append(grad)
    finite = np.gradient(np.asarray(hard), np.asarray(grid))
    return Scan(
        grid=tuple(grid),
        hard=tuple(hard),
        relaxed=tuple(relaxed),
        gradient=tuple(gradient),
        finite_difference=tuple(float(x) for x in finite),
        seconds=time.perf_counter() - start,
    )
