"""Citation metadata of the package, generated from one source: ``CITATION.cff``.

:func:`write_citation_metadata` copies ``CITATION.cff`` and derives ``.zenodo.json`` (Zenodo
deposit metadata, :func:`zenodo_metadata`) and ``codemeta.json`` (CodeMeta 3.0,
:func:`codemeta`) from it, so the three agree. With the repository root as destination it
regenerates the committed files; :func:`agc.publish.archive.build_archive` writes them into the
archive.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from agc.core.errors import AGCError
from agc.core.fileio import write_json

CITATION_NAME = "CITATION.cff"
ZENODO_NAME = ".zenodo.json"
CODEMETA_NAME = "codemeta.json"
_SPDX_URL = "https://spdx.org/licenses/{}"


def load_citation(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``CITATION.cff`` (YAML); dates must be quoted strings (the CFF JSON schema's type)."""
    path = Path(path)
    try:
        cff = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AGCError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise AGCError(f"{path}: invalid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(cff, dict):
        raise AGCError(f"{path}: CITATION.cff must be a YAML mapping")
    for key in ("title", "version", "authors", "license", "date-released"):
        if key not in cff:
            raise AGCError(f"{path}: missing key '{key}'")
    if not isinstance(cff["date-released"], str):
        raise AGCError(f"{path}: 'date-released' must be a quoted string (YYYY-MM-DD)")
    return cff


def author_name(author: Mapping[str, Any]) -> str:
    """Display name of a CFF person or entity: "Family, Given", the entity name, or the alias."""
    if "name" in author:
        return str(author["name"])
    family = " ".join(str(author[k]) for k in ("name-particle", "family-names") if author.get(k))
    given = author.get("given-names")
    if family and given:
        return f"{family}, {given}"
    return family or str(given or author.get("alias", ""))


def zenodo_metadata(cff: Mapping[str, Any]) -> dict[str, Any]:
    """``.zenodo.json`` (Zenodo deposit metadata) derived from a CITATION.cff mapping."""
    creators = []
    for author in cff["authors"]:
        creator: dict[str, Any] = {"name": author_name(author)}
        if author.get("affiliation"):
            creator["affiliation"] = author["affiliation"]
        if author.get("orcid"):
            creator["orcid"] = str(author["orcid"]).rsplit("/", 1)[-1]
        creators.append(creator)
    related = []
    if cff.get("repository-code"):
        related.append(
            {"identifier": cff["repository-code"], "relation": "isSupplementTo", "scheme": "url"}
        )
    for ref in cff.get("references", []):
        if ref.get("doi"):
            related.append({"identifier": ref["doi"], "relation": "references", "scheme": "doi"})
        elif ref.get("url") or ref.get("repository-code"):
            related.append(
                {
                    "identifier": ref.get("url") or ref["repository-code"],
                    "relation": "references",
                    "scheme": "url",
                }
            )
    return {
        "upload_type": "software",
        "access_right": "open",
        "title": cff["title"],
        "version": str(cff["version"]),
        "publication_date": cff["date-released"],
        "description": " ".join(str(cff.get("abstract", cff["title"])).split()),
        "creators": creators,
        "license": cff["license"],
        "keywords": list(cff.get("keywords", [])),
        "related_identifiers": related,
        "notes": cff.get("message", ""),
    }


def codemeta(cff: Mapping[str, Any]) -> dict[str, Any]:
    """``codemeta.json`` (CodeMeta 3.0 JSON-LD) derived from a CITATION.cff mapping."""
    authors = []
    for author in cff["authors"]:
        if "name" in author:
            person: dict[str, Any] = {"@type": "Organization", "name": author["name"]}
        else:
            person = {"@type": "Person"}
            if author.get("given-names"):
                person["givenName"] = author["given-names"]
            if author.get("family-names"):
                person["familyName"] = author["family-names"]
            if author.get("alias"):
                person["alternateName"] = author["alias"]
            if author.get("affiliation"):
                person["affiliation"] = {"@type": "Organization", "name": author["affiliation"]}
        if author.get("website"):
            person["url"] = author["website"]
        authors.append(person)
    return {
        "@context": "https://w3id.org/codemeta/3.0",
        "@type": "SoftwareSourceCode",
        "name": cff["title"],
        "version": str(cff["version"]),
        "datePublished": cff["date-released"],
        "description": " ".join(str(cff.get("abstract", cff["title"])).split()),
        "author": authors,
        "license": _SPDX_URL.format(cff["license"]),
        "codeRepository": cff.get("repository-code", ""),
        "keywords": list(cff.get("keywords", [])),
        "programmingLanguage": "Python",
        "runtimePlatform": "Python 3.11",
        "referencePublication": [
            (ref.get("doi") and f"https://doi.org/{ref['doi']}") or ref.get("url", "")
            for ref in cff.get("references", [])
        ],
    }


def write_citation_metadata(
    dest: str | os.PathLike[str], cff_path: str | os.PathLike[str] = CITATION_NAME
) -> list[Path]:
    """Write ``CITATION.cff`` (copied), ``.zenodo.json`` and ``codemeta.json`` into ``dest``.

    With ``dest`` = the repository root this regenerates the committed files."""
    dest, cff_path = Path(dest), Path(cff_path)
    cff = load_citation(cff_path)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    if (dest / CITATION_NAME).resolve() != cff_path.resolve():
        shutil.copyfile(cff_path, dest / CITATION_NAME)
        written.append(dest / CITATION_NAME)
    written.append(write_json(dest / ZENODO_NAME, zenodo_metadata(cff)))
    written.append(write_json(dest / CODEMETA_NAME, codemeta(cff)))
    return written
