"""Validation of user-facing configuration against the JSON schemas shipped in ``agc/core/schemas``.

The validator is ``jsonschema`` (draft 2020-12); this module only turns its first error into one
line that names the offending key path and what was expected (a long offending value is
shortened). Its ``items`` keyword takes a fast path for ``{"type": "number"}``: an array whose
every item is a JSON number (``int`` or ``float``, not ``bool``) passes in one loop, any other
array is checked item by item by jsonschema's own ``items`` (the same errors). The partial
outputs of the histogram stage hold their sums as such arrays (230,000 numbers for the embedded
default), which jsonschema's generic descent checks one at a time.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from agc.core.errors import AGCError

#: Characters of an offending value quoted in a message (a longer value is cut in the middle).
SHOWN_VALUE_CHARS = 80


#: The items schema :func:`_items` checks in one loop.
NUMBER_ITEMS = {"type": "number"}


def _items(validator: Any, items: Any, instance: Any, schema: dict[str, Any]) -> Any:
    """Draft 2020-12 ``items``, with an array of plain JSON numbers passing at once when
    ``items`` is :data:`NUMBER_ITEMS` and no ``prefixItems`` applies."""
    if (
        items == NUMBER_ITEMS
        and "prefixItems" not in schema
        and isinstance(instance, list)
        and all(type(value) is float or type(value) is int for value in instance)
    ):
        return
    yield from jsonschema.Draft202012Validator.VALIDATORS["items"](
        validator, items, instance, schema
    )


#: Draft 2020-12 with :func:`_items`.
Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"items": _items})


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The JSON schema ``agc/core/schemas/<name>.schema.json`` as a dict."""
    text = resources.files("agc.core.schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    return json.loads(text)


def shown(value: Any, limit: int = SHOWN_VALUE_CHARS) -> str:
    """``repr(value)``, cut to about ``limit`` characters (``'abc...xyz' (5000 characters)``)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, str) else ""
    half = limit // 2
    return f"{text[:half]}...{text[-half:]}{size}"


def validate(instance: Any, schema_name: str, source: str) -> None:
    """Validate ``instance`` against schema ``schema_name``; raise :class:`AGCError` naming the key.

    ``source`` names where the instance came from (a file path or "parameters").
    """
    schema = load_schema(schema_name)
    validator = Validator(schema)
    errors = sorted(  # a too long value is named as such, before what else it breaks
        validator.iter_errors(instance),
        key=lambda e: (list(e.absolute_path), e.validator != "maxLength", e.message),
    )
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        where = "/".join(str(p) for p in err.absolute_path) or "<top level>"
        message = err.message.replace(repr(err.instance), shown(err.instance))
        description = err.schema.get("description") if isinstance(err.schema, dict) else None
        if err.validator == "maxLength":
            message = f"{shown(err.instance)} is longer than {err.validator_value} characters"
        elif (
            err.validator in {"pattern", "not", "minimum", "maximum", "type", "minLength"}
            and description
        ):
            message = f"{shown(err.instance)} is not valid: expected {description}"
        raise AGCError(f"{source}: invalid value at '{where}': {message}")
