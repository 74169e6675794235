"""The workflow parameters: one schema for reana.yaml, the CWL job file, notebooks and the CLI.

Parameters arrive as strings (``-p name=value``, papermill, the job file) or typed (YAML, a
notebook's ``parameters`` cell); :func:`coerce` turns strings into the declared types and
:func:`validate_parameters` checks them against ``schemas/parameters.schema.json`` before any work
starts, naming the key and the accepted values on error.
"""

from __future__ import annotations

from typing import Any

from agc.core.errors import AGCError
from agc.core.validation import load_schema, validate

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def declared() -> dict[str, Any]:
    """Name -> JSON-schema property of every known parameter."""
    return load_schema("parameters")["properties"]


#: The event-processing executors (the schema's enum of ``executor``): one definition for the
#: CLI's choices, the histogram stage and the benchmarks.
EXECUTORS: tuple[str, ...] = tuple(declared()["executor"]["enum"])


def coerce(name: str, value: Any) -> Any:
    """Convert a string value to the type parameter ``name`` declares (int, bool or str)."""
    spec = declared().get(name)
    if spec is None:
        raise AGCError(f"unknown parameter '{name}'; known: {', '.join(sorted(declared()))}")
    if not isinstance(value, str):
        return value
    kind = spec.get("type")
    if kind == "integer":
        try:
            return int(value.strip())
        except ValueError:
            raise AGCError(f"parameter '{name}' must be an integer, got {value!r}") from None
    if kind == "boolean":
        lowered = value.strip().lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE
        raise AGCError(f"parameter '{name}' must be true or false, got {value!r}")
    return value


def validate_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """Coerce and validate ``parameters``; return the typed dict or raise :class:`AGCError`."""
    typed = {name: coerce(name, value) for name, value in parameters.items()}
    try:
        validate(typed, "parameters", "parameters")
    except AGCError as exc:
        # Add the accepted values for enumerations to the one-line message.
        for name, spec in declared().items():
            if f"'{name}'" in str(exc) and "enum" in spec:
                raise AGCError(f"{exc} (accepted: {', '.join(map(str, spec['enum']))})") from None
        raise
    return typed
