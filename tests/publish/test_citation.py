"""Citation metadata, each checked by its own tool.

- CITATION.cff: the CFF 1.2.0 JSON schema (../shared/schemas, jsonschema) and cffconvert
  (``--validate``, a CFF -> CFF round trip, its Zenodo conversion), run from .venv-archive
  (cffconvert needs jsonschema < 4: ``make archive-tools``);
- codemeta.json: expanded by pyld against the CodeMeta 3.0 JSON-LD context (vendored from the
  PyPI package codemetapy, see metadata_schemas/README.md): no term may be dropped;
- .zenodo.json: the JSON Schema of Zenodo's deposit metadata fields in metadata_schemas/
  (derived from Zenodo's REST API documentation; no official schema is on PyPI).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from conftest import require_shared
from pyld import jsonld

import agc
from agc.publish.citation import (
    author_name,
    codemeta,
    load_citation,
    software_requirements,
    zenodo_metadata,
)

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO.parent / "shared" / "schemas" / "citation-file-format-1.2.0.schema.json"
SCHEMAS = Path(__file__).resolve().parent / "metadata_schemas"
CODEMETA_CONTEXT_URL = "https://w3id.org/codemeta/3.0"
CFFCONVERT = REPO / ".venv-archive" / "bin" / "cffconvert"


def require_tool(path: Path, how: str) -> Path:
    """``path`` (a tool of .venv-archive); a skip with the reason, a failure under CI=true."""
    if not path.is_file():
        message = f"{path.name} not installed ({path}): {how}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"under CI=true: {message}")
        pytest.skip(message)
    return path


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
    # the team is an entity (name), not a person with an alias and a disclaimer as affiliation
    assert citation["authors"] == [
        {
            "name": "AGC preservation team",
            "website": "https://github.com/agc-preservation/agc-ttbar",
        }
    ]
    assert "10.5281/zenodo.7274936" in [r.get("doi") for r in citation["references"]]


def cffconvert(*args: str) -> subprocess.CompletedProcess[str]:
    tool = require_tool(CFFCONVERT, "make archive-tools")
    return subprocess.run(
        [str(tool), "-i", str(REPO / "CITATION.cff"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_cffconvert_validates_and_round_trips() -> None:
    validated = cffconvert("--validate")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    round_trip = cffconvert("-f", "cff")
    assert round_trip.returncode == 0, round_trip.stderr
    assert yaml.safe_load(round_trip.stdout) == yaml.safe_load((REPO / "CITATION.cff").read_text())
    converted = cffconvert("-f", "zenodo")
    assert converted.returncode == 0, converted.stderr
    theirs = json.loads(converted.stdout)
    ours = json.loads((REPO / ".zenodo.json").read_text())
    assert [c["name"] for c in theirs["creators"]] == [c["name"] for c in ours["creators"]]
    assert (theirs["title"], theirs["version"]) == (ours["title"], ours["version"])


def test_cffconvert_rejects_a_broken_citation(tmp_path: Path) -> None:
    """The validator can fail: an author with an unknown key."""
    require_tool(CFFCONVERT, "make archive-tools")
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    cff["authors"][0]["affiliation-note"] = "x"
    broken = tmp_path / "CITATION.cff"
    broken.write_text(yaml.safe_dump(cff))
    result = subprocess.run(
        [str(CFFCONVERT), "-i", str(broken), "--validate"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode != 0


def zenodo_validator() -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / "zenodo-deposit-metadata.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=jsonschema.FormatChecker())


def test_zenodo_json_has_only_documented_deposit_fields() -> None:
    zenodo = json.loads((REPO / ".zenodo.json").read_text())
    errors = list(zenodo_validator().iter_errors(zenodo))
    assert not errors, [e.message for e in errors]
    assert "as below" not in zenodo["notes"]  # means nothing on a Zenodo page
    assert "10.5281/zenodo.7274936" in zenodo["notes"]
    assert {"identifier": "10.5281/zenodo.7274936"}.items() <= zenodo["related_identifiers"][
        1
    ].items()


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda z: z["related_identifiers"][0].update(scheme="url"), "related_identifiers"),
        (lambda z: z["related_identifiers"][0].update(relation="cite"), "related_identifiers"),
        (lambda z: z.pop("license"), "license"),
        (lambda z: z["creators"][0].update(orcid="123"), "creators"),
        (lambda z: z.update(upload_type="publication"), "publication_type"),
    ],
)
def test_zenodo_schema_rejects_undocumented_or_missing_fields(change: Any, path: str) -> None:
    zenodo = copy.deepcopy(json.loads((REPO / ".zenodo.json").read_text()))
    change(zenodo)
    errors = list(zenodo_validator().iter_errors(zenodo))
    assert errors
    assert any(path in e.json_path or path in e.message for e in errors), [
        (e.json_path, e.message) for e in errors
    ]


def expand_codemeta(document: dict[str, Any]) -> list[dict[str, Any]]:
    """pyld expansion with the vendored CodeMeta 3.0 context (no network)."""
    context = json.loads((SCHEMAS / "codemeta-3.0-context.jsonld").read_text())

    def loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        if url.rstrip("/") != CODEMETA_CONTEXT_URL:
            raise jsonld.JsonLdError(f"offline: {url}", "loading document failed")
        return {"contextUrl": None, "documentUrl": url, "document": context}

    return jsonld.expand(document, {"documentLoader": loader})


def leaves(node: Any) -> set[str]:
    """Every string value of a JSON document (keys aside): the expanded form must keep them."""
    if isinstance(node, dict):
        return {v for k, item in node.items() if k != "@context" for v in leaves(item)} | {
            str(node[k]) for k in ("@id",) if k in node
        }
    if isinstance(node, list):
        return {v for item in node for v in leaves(item)}
    return {str(node)}


def test_codemeta_expands_against_its_context_without_dropping_terms() -> None:
    meta = json.loads((REPO / "codemeta.json").read_text())
    expanded = expand_codemeta(meta)
    (node,) = expanded
    assert node["@type"] == ["http://schema.org/SoftwareSourceCode"]
    kept = leaves(expanded)
    types = {"SoftwareSourceCode", "Organization", "SoftwareApplication", "schema:Dataset"}
    lost = {v for v in leaves(meta) - kept if v not in types}
    assert not lost, f"terms the CodeMeta 3.0 context does not define: {sorted(lost)[:5]}"
    # author is an Organization; requirements are there
    author = node["http://schema.org/author"][0]["@list"][0]
    assert author["@type"] == ["http://schema.org/Organization"]
    assert len(node["http://schema.org/softwareRequirements"]) >= 20


def test_codemeta_expansion_detects_an_undefined_term() -> None:
    meta = json.loads((REPO / "codemeta.json").read_text())
    meta["softwareRequirement"] = "typo"
    assert "typo" in leaves(meta) - leaves(expand_codemeta(meta))


def test_zenodo_and_codemeta_are_generated_from_citation() -> None:
    """The committed .zenodo.json and codemeta.json equal what agc.publish.citation derives from
    CITATION.cff, pyproject.toml and the lock (regenerate:
    python -c "from agc.publish.citation import write_citation_metadata as w; w('.')")."""
    cff = load_citation(REPO / "CITATION.cff")
    assert json.loads((REPO / ".zenodo.json").read_text()) == zenodo_metadata(cff)
    requirements = software_requirements(REPO)
    assert json.loads((REPO / "codemeta.json").read_text()) == codemeta(cff, requirements)
    pins = {r["name"]: r.get("version") for r in requirements}
    assert all(pins[name] for name in ("pyhf", "coffea", "cabinetry"))


def test_metadata_files_agree_on_title_version_authors_license() -> None:
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    zenodo = json.loads((REPO / ".zenodo.json").read_text())
    meta = json.loads((REPO / "codemeta.json").read_text())
    assert cff["title"] == zenodo["title"] == meta["name"]
    assert cff["version"] == zenodo["version"] == meta["version"]
    assert cff["license"].lower() == zenodo["license"] == meta["license"].rsplit("/", 1)[-1].lower()
    names = [author_name(a) for a in cff["authors"]]
    assert [c["name"] for c in zenodo["creators"]] == names
    assert [a["name"] for a in meta["author"]] == names
    assert {"repository-code", "keywords", "abstract", "references"} <= set(cff)
    assert isinstance(cff["date-released"], str)
