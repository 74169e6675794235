"""CITATION.cff is valid CFF 1.2.0 (validated with the schema in ../shared, by jsonschema)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO.parent / "shared" / "schemas" / "citation-file-format-1.2.0.schema.json"


def test_citation_cff_validates_against_cff_1_2_0() -> None:
    if not SCHEMA.exists():
        pytest.skip(f"CFF schema not available: {SCHEMA} (../shared is not beside the checkout)")
    schema = json.loads(SCHEMA.read_text())
    # YAML would turn an unquoted date into a datetime.date, which the JSON schema rejects:
    # dates must be quoted strings in the file.
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    jsonschema.validators.validator_for(schema)(schema, format_checker=jsonschema.FormatChecker()).validate(citation)
    assert citation["cff-version"] == "1.2.0"
    import agc

    assert citation["version"] == agc.__version__
