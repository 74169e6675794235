"""Workflow parameters are validated before any work starts, naming the key and accepted values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agc.core.errors import AGCError
from agc.core.parameters import declared, validate_parameters


def test_strings_are_coerced_to_declared_types() -> None:
    typed = validate_parameters(
        {"workers": "2", "max_files": "-1", "skip_bad_files": "true", "inputs": "embedded"}
    )
    assert typed == {"workers": 2, "max_files": -1, "skip_bad_files": True, "inputs": "embedded"}


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"workers": "0"}, "'workers'.*1-1024"),
        ({"workers": "-3"}, "'workers'"),
        ({"chunksize": "1e99"}, "'chunksize' must be an integer"),
        ({"max_files": "0"}, "'max_files'.*-1 \\(all files\\)"),
        ({"executor": "spark"}, "accepted: iterative, futures, dask"),
        ({"outdir": "../elsewhere"}, "'outdir'.*no '\\.\\.'"),
        ({"signal": "/etc/passwd"}, "'signal'.*not absolute"),
        ({"signal": "inputs/../../x.yaml"}, "'signal'"),
        ({"scheduler": "my-laptop"}, "'scheduler'.*tcp://"),
        ({"skip_bad_files": "maybe"}, "'skip_bad_files' must be true or false"),
        ({"colour": "red"}, "unknown parameter 'colour'"),
    ],
)
def test_bad_parameters_name_the_key(parameters: dict, message: str) -> None:
    with pytest.raises(AGCError, match=message):
        validate_parameters(parameters)


@given(
    name=st.sampled_from(sorted(declared())),
    value=st.text(max_size=12) | st.integers() | st.booleans(),
)
def test_any_value_is_accepted_or_cleanly_rejected(name: str, value: object) -> None:
    try:
        validate_parameters({name: value})
    except AGCError as exc:
        message = str(exc)
    else:
        return
    assert "\n" not in message
    assert name in message
