"""CITATION.cff is valid CFF 1.2.0 (validated with the schema in ../shared, by jsonschema)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml
from conftest import require_shared

import agc
from agc.publish.citation import author_name, codemeta, load_citation, zenodo_metadata

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO.parent / "shared" / "schemas" / "citation-file-format-1.2.0.schema.json"


def test_citation_cff_validates_against_cff_1_2_0() -> None:
    schema = json.loads(require_shared(SCHEMA, "CFF schema").read_text())
    # YAML would turn an unquoted date into a datetime.date, which the JSON schema rejects:
    # dates must be quoted strings in the file.
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    jsonschema.validators.validator_for(schema)(
        schema, format_checker=jsonschema.FormatChecker()
    ).validate(citation)
    assert citation["cff-version"] == "1.2.0"
    assert citation["version"] == agc.__version__


def test_zenodo_and_codemeta_are_generated_from_citation() -> None:
    """The committed .zenodo.json and codemeta.json equal what agc.publish.archive derives from CITATION.cff
    (regenerate: python -c "from agc.publish.citation import write_citation_metadata as w; w('.')")."""
    cff = load_citation(REPO / "CITATION.cff")
    assert json.loads((REPO / ".zenodo.json").read_text()) == zenodo_metadata(cff)
    assert json.loads((REPO / "codemeta.json").read_text()) == codemeta(cff)


def test_metadata_files_agree_on_title_version_authors_license() -> None:
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    zenodo = json.loads((REPO / ".zenodo.json").read_text())
    meta = json.loads((REPO / "codemeta.json").read_text())
    assert cff["title"] == zenodo["title"] == meta["name"]
    assert cff["version"] == zenodo["version"] == meta["version"]
    assert cff["license"] == zenodo["license"] == meta["license"].rsplit("/", 1)[-1]
    names = [author_name(a) for a in cff["authors"]]
    assert [c["name"] for c in zenodo["creators"]] == names
    assert [a.get("name") or a.get("alternateName") for a in meta["author"]] == names
    # every author has an affiliation (persons carry it in CFF; entities cannot)
    assert all(c.get("affiliation") for c in zenodo["creators"])
    assert {"repository-code", "keywords", "abstract", "references"} <= set(cff)
    assert isinstance(cff["date-released"], str)
