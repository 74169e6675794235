"""How a measured value and its uncertainty are written: the PDG rounding rule.

The Particle Data Group's rule (Review of Particle Physics, "Introduction", rounding): look at
the three highest-order digits of the uncertainty. From 100 to 354 keep two significant digits;
from 355 to 949 keep one; from 950 to 999 round up to 1000 and keep two. The value is rounded to
the same decimal place. Every place that shows the fit's result (the report, the notebooks, the
README) writes it with :func:`pdg_round`, so one number reads the same everywhere.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal


def _decimals(uncertainty: float) -> int:
    """Decimal places (negative: tens, hundreds, ...) the PDG rule keeps for ``uncertainty`` > 0."""
    exponent = math.floor(math.log10(uncertainty))
    leading = int(Decimal(repr(uncertainty)).scaleb(2 - exponent).to_integral_value(ROUND_HALF_UP))
    if leading >= 1000:  # 999.6 -> 1000: one order of magnitude up
        exponent, leading = exponent + 1, 100
    # 100-354: two significant digits; 355-949: one; 950-999: the same place, where the
    # uncertainty rounds up to two digits of the next order (0.0951 -> 0.10)
    return 1 - exponent if leading <= 354 else -exponent


def _fixed(value: float, decimals: int) -> str:
    quantum = Decimal(1).scaleb(-decimals)
    rounded = Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP)
    return f"{rounded:f}" if decimals > 0 else f"{rounded.to_integral_value():f}"


def pdg_round(value: float, uncertainty: float) -> tuple[str, str]:
    """``(value, uncertainty)`` as strings rounded by the PDG rule, e.g. ``(1.04117, 0.06591)``
    -> ``("1.04", "0.07")`` and ``(0.97, 0.1)`` -> ``("0.97", "0.10")``. A non-finite or
    non-positive uncertainty leaves both with four significant digits."""
    if not (math.isfinite(value) and math.isfinite(uncertainty)) or uncertainty <= 0:
        return f"{value:.4g}", f"{uncertainty:.4g}"
    decimals = _decimals(uncertainty)
    return _fixed(value, decimals), _fixed(uncertainty, decimals)
