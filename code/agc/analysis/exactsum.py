"""Exact, order-independent histogram sums: every weight split into three fixed-point parts.

Why: the histograms must be the same bit for bit for any executor, chunk size, worker count and
merge order, and equal to a plain float64 fill to better than 1e-9 relative. Adding doubles in
different orders rounds differently; adding multiples of a fixed grid 2**-b does not round at
all while every partial sum stays within 2**(53 - b) in magnitude (it is then an integer number
of grid steps of at most 53 bits). One grid cannot be both fine (accuracy) and coarse (range),
so each value ``x`` (a weight ``w`` for ``sumw``, ``w * w`` for ``sumw2``; unnormalised, order
1) is split (:func:`split`) into

- ``hi``  = ``x`` rounded to the grid 2**-12,
- ``mid`` = ``x - hi`` rounded to the grid 2**-35 (``|mid| <= 2**-13``),
- ``lo``  = ``x - hi - mid`` rounded to the grid 2**-58 (``|lo| <= 2**-36``);

every subtraction is exact, so ``hi + mid + lo`` is within 2**-59 ~ 1.7e-18 of ``x``: far below
the float64 rounding of ``x`` itself for any weight above ~1e-4. Each part is summed in its own
Double-storage cell (:func:`agc.analysis.processor.fill`); a bin's value is ``(lo + mid) + hi`` of its
part sums (:func:`combine`: two roundings, once, when the final file is written). A bin sum
therefore equals the exact sum of the weights to a few units in the last place, and a plain
float64 fill of the same weights to its own rounding error (~1e-16 * entries, worst case).

Range (the bound): at most :data:`MAX_ENTRIES` = 2**31 (2.1e9) entries per bin of one sample,
each with ``|w| <=`` :data:`MAX_WEIGHT` = 32:

- ``hi`` of ``sumw2``: ``|w * w| <= 2**10``, so ``|sum| <= 2**31 * 2**10 = 2**41 = 2**(53 - 12)``
  (``sumw``: ``2**36``);
- ``mid``: ``|sum| <= 2**31 * 2**-13 = 2**18 = 2**(53 - 35)``;
- ``lo``: ``|sum| <= 2**31 * 2**-36 = 2**-5 = 2**(53 - 58)``.

Every bound is met at its edge, so every partial sum is an exact double. 2**31 entries is more
than the whole AGC dataset (940 M events) in one bin. A weight above :data:`MAX_WEIGHT` (the
b-tag up weight 1 + 0.075 pT / 50 reaches 32 only for a jet of 20.7 TeV, beyond the 13 TeV
collision energy) or not finite raises :class:`agc.core.errors.AGCError` (:func:`check`) instead of
silently losing exactness; part sums beyond :data:`BOUNDS` (more entries than
:data:`MAX_ENTRIES`) are reported by :func:`within_bounds`.
"""

from __future__ import annotations

import numpy as np

from agc.core.errors import AGCError

#: The parts of every sum, coarse to fine (the order of the histograms' ``part`` axis).
PARTS: tuple[str, ...] = ("hi", "mid", "lo")
#: Grid 2**-bits of each part.
BITS: dict[str, int] = {"hi": 12, "mid": 35, "lo": 58}
#: Grid step of each part.
GRID: dict[str, float] = {part: 2.0 ** -BITS[part] for part in PARTS}
#: Largest |weight| accepted (unnormalised event weight; its square enters ``sumw2``).
MAX_WEIGHT: float = 32.0
#: Entries per bin (of one sample) up to which every part sum is exact.
MAX_ENTRIES: int = 2**31
#: Exact-sum bound of each part: |sum of the part over a bin's entries| <= 2**(53 - bits).
BOUNDS: dict[str, float] = {part: 2.0 ** (53 - BITS[part]) for part in PARTS}


def _largest_part(index: int) -> float:
    """Largest |value| of part ``index`` of a split value (|x| <= MAX_WEIGHT**2)."""
    return MAX_WEIGHT**2 if index == 0 else 0.5 * GRID[PARTS[index - 1]]


# The bound of the module docstring, checked once at import (against edits of the constants).
if any(MAX_ENTRIES * _largest_part(i) > BOUNDS[p] for i, p in enumerate(PARTS)):
    raise ImportError("agc.analysis.exactsum: MAX_ENTRIES / MAX_WEIGHT exceed the exact-sum bounds")


def check(weight: np.ndarray | float, what: str = "event weight") -> np.ndarray:
    """``weight`` as float64 after checking every entry is finite and ``|w| <= MAX_WEIGHT``.

    Raises :class:`AGCError` (one line, the first offending value) otherwise.
    """
    w = np.asarray(weight, dtype=np.float64)
    bad = ~(np.abs(w) <= MAX_WEIGHT)  # NaN compares False: caught too
    if bad.any():
        first = float(w[bad].flat[0])
        raise AGCError(
            f"{what} {first!r} is outside the exactly summable range |w| <= {MAX_WEIGHT:g} "
            "(agc.analysis.exactsum.MAX_WEIGHT)"
        )
    return w


def split(values: np.ndarray | float) -> tuple[np.ndarray, ...]:
    """The parts of ``values`` (float64 arrays in :data:`PARTS` order), each on its grid.

    Their sum (as real numbers) is within 2**-59 of each value. Values must satisfy
    ``|x| <= MAX_WEIGHT**2`` (the caller checks the weight with :func:`check`).
    """
    rest = np.asarray(values, dtype=np.float64)
    parts = []
    for part in PARTS:
        scale = 2.0 ** BITS[part]
        on_grid = np.round(rest * scale) / scale  # scaling by 2**k and rounding are exact
        parts.append(on_grid)
        rest = rest - on_grid  # exact: |rest - on_grid| <= half a grid step, same ulp or finer
    return tuple(parts)


def combine(*part_sums: np.ndarray | float) -> np.ndarray:
    """A bin's value from its exact part sums (in :data:`PARTS` order): finest first,
    ``(lo + mid) + hi`` (deterministic, a few units in the last place of the exact sum)."""
    if len(part_sums) != len(PARTS):
        raise ValueError(f"expected {len(PARTS)} part sums, got {len(part_sums)}")
    total = np.asarray(part_sums[-1], dtype=np.float64)
    for part_sum in reversed(part_sums[:-1]):
        total = total + np.asarray(part_sum, dtype=np.float64)
    return total


def within_bounds(part_sums: np.ndarray, axis: int) -> bool:
    """True if every part sum in ``part_sums`` (parts along ``axis``) is within its bound."""
    sums = np.moveaxis(np.asarray(part_sums, dtype=np.float64), axis, 0)
    return all(bool(np.all(np.abs(sums[i]) <= BOUNDS[p])) for i, p in enumerate(PARTS))
