"""The PDG rounding rule of agc.core.rounding."""

from __future__ import annotations

import pytest

from agc.core.rounding import pdg_round


@pytest.mark.parametrize(
    ("value", "uncertainty", "expected"),
    [
        (1.04117, 0.06591, ("1.04", "0.07")),  # 659: one significant digit
        (0.97, 0.1, ("0.97", "0.10")),  # 100: two
        (0.8235, 0.0354, ("0.824", "0.035")),  # 354: still two
        (0.8235, 0.0355, ("0.82", "0.04")),  # 355: one
        (5.0, 0.0949, ("5.00", "0.09")),  # 949: one
        (5.0, 0.0951, ("5.00", "0.10")),  # 951: up to 1000, two digits
        (5.0, 0.09996, ("5.00", "0.10")),  # 999.6 rounds to 1000
        (12345.0, 234.0, ("12350", "230")),  # tens
        (-0.00123456, 0.0000123, ("-0.001235", "0.000012")),
    ],
)
def test_pdg_rule(value: float, uncertainty: float, expected: tuple[str, str]) -> None:
    assert pdg_round(value, uncertainty) == expected


def test_no_uncertainty_keeps_four_digits() -> None:
    assert pdg_round(1.234567, 0.0) == ("1.235", "0")
    assert pdg_round(1.234567, float("nan")) == ("1.235", "nan")
