"""Validation of user-facing configuration against the JSON schemas shipped in ``agc/core/schemas``.

The validator is ``jsonschema``; this module only turns its first error into one line that
names the offending key path and what was expected.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from agc.core.errors import AGCError


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The JSON schema ``agc/core/schemas/<name>.schema.json`` as a dict."""
    text = resources.files("agc.core.schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    return json.loads(text)


def validate(instance: Any, schema_name: str, source: str) -> None:
    """Validate ``instance`` against schema ``schema_name``; raise :class:`AGCError` naming the key.

    ``source`` names where the instance came from (a file path or "parameters").
    """
    schema = load_schema(schema_name)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(
        validator.iter_errors(instance), key=lambda e: (list(e.absolute_path), e.message)
    )
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        where = "/".join(str(p) for p in err.absolute_path) or "<top level>"
        message = err.message
        description = err.schema.get("description") if isinstance(err.schema, dict) else None
        if (
            err.validator in {"pattern", "not", "minimum", "maximum", "type", "minLength"}
            and description
        ):
            message = f"{err.instance!r} is not valid: expected {description}"
        raise AGCError(f"{source}: invalid value at '{where}': {message}")
