"""agc.core.validation: jsonschema draft 2020-12 with a one-loop ``items`` for number arrays."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from agc.core.validation import NUMBER_ITEMS, Validator, load_schema

NUMBERS = {"type": "array", "items": NUMBER_ITEMS, "minItems": 3}
ARRAYS = [
    [0.0, 1, -2.5, 1e300, float("nan"), float("inf")],
    [1.0, "2", 3.0],
    [1.0, True, 3.0],
    [None, 1.0, 2.0],
    [1.0, [2.0], {"a": 1}],
    [1.0, 2.0],
    [],
    "not an array",
    {"a": 1.0},
]
SCHEMAS = [
    NUMBERS,
    {"type": "array", "items": {"type": "integer"}},
    {"type": "array", "prefixItems": [{"type": "string"}], "items": NUMBER_ITEMS},
]


def _errors(validator_class: Any, schema: dict[str, Any], instance: Any) -> list[tuple]:
    return sorted(
        (list(e.absolute_path), e.validator, e.message)
        for e in validator_class(schema).iter_errors(instance)
    )


@pytest.mark.parametrize("schema", SCHEMAS)
@pytest.mark.parametrize("instance", ARRAYS)
def test_errors_are_jsonschemas(schema: dict[str, Any], instance: Any) -> None:
    """Every array, valid or not, gets jsonschema's own errors (path, keyword, message)."""
    expected = _errors(jsonschema.Draft202012Validator, schema, instance)
    assert _errors(Validator, schema, instance) == expected


def test_one_bad_number_among_many_is_named() -> None:
    """The partial output's sums block (``$defs/parts`` of its schema): 100,000 numbers pass, and
    one string among them is the one error, at its key path."""
    parts = load_schema("histograms_partial")["$defs"]
    schema = {"$defs": parts, "$ref": "#/$defs/parts"}
    values: list[Any] = [0.5] * 100_000
    instance = {"hi": {"4j2b": {"nominal": values}}}
    assert not list(Validator(schema).iter_errors(instance))
    values[61_234] = "0.5"
    (error,) = list(Validator(schema).iter_errors(instance))
    assert list(error.absolute_path) == ["hi", "4j2b", "nominal", 61_234]
    assert error.message == "'0.5' is not of type 'number'"
