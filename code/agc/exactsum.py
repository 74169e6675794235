"""Exact, order-independent histogram sums: every weight split into two fixed-point parts.

Why: the histograms must be the same bit for bit for any executor, chunk size, worker count and
merge order, and equal to a plain float64 fill to better than 1e-9 relative. Adding doubles in
different orders rounds differently; adding multiples of a fixed grid 2**-b does not round at
all while every partial sum stays below 2**(53 - b) in magnitude (it is an integer number of
grid steps of at most 53 bits). One grid cannot be both fine (accuracy) and coarse (range), so
each value ``x`` (a weight ``w`` for ``sumw``, ``w * w`` for ``sumw2``; unnormalised, order 1)
is split into

- ``hi = round(x * 2**HI_BITS) / 2**HI_BITS``: ``x`` on the coarse grid 2**-12;
- ``lo = round((x - hi) * 2**LO_BITS) / 2**LO_BITS``: the rest on the fine grid 2**-35
  (``x - hi`` is exact; ``|lo| <= 2**-13``).

Each part is summed in its own Double-storage cell (:func:`agc.processor.fill`); the value of a
bin is ``hi_sum + lo_sum`` (:func:`combine`: one rounding, once, when the final file is written).

Accuracy: ``hi + lo`` differs from ``x`` by at most 2**-36 ~ 1.5e-11 (absolute, weight units),
so a bin sum differs from the plain float64 sum of the same weights by at most
``n * 1.5e-11`` for ``n`` entries, i.e. by <= 1e-9 relative while the bin's mean weight
``|sum| / n`` is >= 0.015 (every weight of the analysis: 1, 1.025, 0.975 and b-tag weights
1 +/- 0.075 * pT / 50 for jet pT below 656 GeV; a down weight near zero only matters if the
whole bin is made of such weights).

Range (the bound; :data:`MAX_ENTRIES` entries per bin of one sample, each ``|w| <=``
:data:`MAX_WEIGHT`):

- ``hi`` of ``sumw2``: ``|w * w| <= 32**2 = 2**10``, so ``|sum hi| <= 2**31 * 2**10 = 2**41
  = 2**(53 - HI_BITS)`` (``sumw``: ``2**36``);
- ``lo``: ``|sum lo| <= 2**31 * 2**-13 = 2**18 = 2**(53 - LO_BITS)``.

Both at the edge, so every partial sum is an exact double: 2**31 ~ 2.1e9 entries per bin is more
than the whole AGC dataset (940 M events; the brief's worst case 1e9 in one bin). A weight
above :data:`MAX_WEIGHT` (the b-tag up weight reaches 32 only for a jet of 20.7 TeV, beyond the
13 TeV collision energy) or not finite raises :class:`agc.errors.AGCError` (:func:`check`)
instead of silently losing exactness; final sums beyond :data:`HI_BOUND` / :data:`LO_BOUND` are
reported by :func:`within_bounds`.
"""

from __future__ import annotations

import numpy as np

from agc.errors import AGCError

#: The two parts of every sum, in the order of the histograms' ``part`` axis.
PARTS: tuple[str, ...] = ("hi", "lo")
#: Coarse grid 2**-HI_BITS of the ``hi`` part.
HI_BITS: int = 12
#: Fine grid 2**-LO_BITS of the ``lo`` part (the resolution of every weight and squared weight).
LO_BITS: int = 35
#: Largest |weight| accepted (unnormalised event weight; its square enters ``sumw2``).
MAX_WEIGHT: float = 32.0
#: Entries per bin (of one sample) up to which every sum is exact.
MAX_ENTRIES: int = 2**31
#: Exact-sum bounds: |sum of hi parts| and |sum of lo parts| of a bin.
HI_BOUND: float = 2.0 ** (53 - HI_BITS)
LO_BOUND: float = 2.0 ** (53 - LO_BITS)
#: Grid step of each part.
GRID: dict[str, float] = {"hi": 2.0**-HI_BITS, "lo": 2.0**-LO_BITS}

_HI_SCALE = 2.0**HI_BITS
_LO_SCALE = 2.0**LO_BITS

# The bound of the module docstring, checked once at import (edits of the constants above).
if not (MAX_ENTRIES * MAX_WEIGHT**2 <= HI_BOUND and MAX_ENTRIES * 0.5 * GRID["hi"] <= LO_BOUND):
    raise ImportError("agc.exactsum: MAX_ENTRIES / MAX_WEIGHT exceed the exact-sum bounds")


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
            "(agc.exactsum.MAX_WEIGHT)"
        )
    return w


def split(values: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """``(hi, lo)`` float64 arrays: ``values`` on the 2**-12 grid and the rest on the 2**-35 grid.

    ``hi + lo`` (as real numbers) is within 2**-36 of each value. Values must satisfy
    ``|x| <= MAX_WEIGHT**2`` (checked by the caller with :func:`check` on the weight).
    """
    x = np.asarray(values, dtype=np.float64)
    hi = np.round(x * _HI_SCALE) / _HI_SCALE  # scaling by 2**k and rounding are exact
    lo = np.round((x - hi) * _LO_SCALE) / _LO_SCALE  # x - hi is exact (|x - hi| <= 2**-13)
    return hi, lo


def combine(hi_sum: np.ndarray | float, lo_sum: np.ndarray | float) -> np.ndarray:
    """A bin's value from its two exact part sums: ``hi_sum + lo_sum`` (one rounding)."""
    return np.asarray(hi_sum, dtype=np.float64) + np.asarray(lo_sum, dtype=np.float64)


def within_bounds(hi_sums: np.ndarray, lo_sums: np.ndarray) -> bool:
    """True if every |hi sum| <= :data:`HI_BOUND` and |lo sum| <= :data:`LO_BOUND`."""
    return bool(
        np.all(np.abs(np.asarray(hi_sums)) <= HI_BOUND)
        and np.all(np.abs(np.asarray(lo_sums)) <= LO_BOUND)
    )
