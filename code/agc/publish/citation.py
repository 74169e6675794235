"""Citation metadata of the package, generated from one source: ``CITATION.cff``.

:func:`write_citation_metadata` copies ``CITATION.cff`` and derives ``.zenodo.json`` (Zenodo
deposit metadata, :func:`zenodo_metadata`) and ``codemeta.json`` (CodeMeta 3.0,
:func:`codemeta`) from it, so the three agree. With the repository root as destination it
regenerates the committed files; :func:`agc.publish.archive.build_archive` writes them into the
archive.
"""

from __future__ import annotations

import os
import re
import shutil
import tomllib
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


#: CFF reference type -> Zenodo ``resource_type`` of a related identifier (deposit metadata).
_ZENODO_TYPES = {"software": "software", "data": "dataset", "article": "publication-article"}
#: CFF reference type -> schema.org type of a codemeta ``citation`` (compact IRIs of the context).
_SCHEMA_TYPES = {"software": "SoftwareSourceCode", "data": "schema:Dataset"}


def reference_identifier(ref: Mapping[str, Any]) -> str:
    """The identifier of a CFF reference: its DOI, else its URL, else its repository."""
    return str(ref.get("doi") or ref.get("url") or ref.get("repository-code") or "")


def reference_text(ref: Mapping[str, Any]) -> str:
    """One-line citation of a CFF reference: "Authors. Title. Publisher. doi:... / URL"."""
    parts = ["; ".join(author_name(a) for a in ref.get("authors", [])), str(ref["title"])]
    publisher = ref.get("publisher", {})
    if publisher.get("name"):
        parts.append(str(publisher["name"]))
    parts.append(f"doi:{ref['doi']}" if ref.get("doi") else reference_identifier(ref))
    return ". ".join(p for p in parts if p)


def zenodo_metadata(cff: Mapping[str, Any]) -> dict[str, Any]:
    """``.zenodo.json`` (Zenodo deposit metadata, the fields of its legacy deposit API) derived
    from a CITATION.cff mapping: an entity author is a creator named by the entity's name,
    references become related identifiers (software the package derives from:
    ``isDerivedFrom``; data: ``references``) and the ``references`` list; ``notes`` says what
    to cite with it."""
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
            {
                "identifier": cff["repository-code"],
                "relation": "isSupplementTo",
                "resource_type": "software",
            }
        )
    references = list(cff.get("references", []))
    for ref in references:
        kind = str(ref.get("type", "generic"))
        related.append(
            {
                "identifier": reference_identifier(ref),
                "relation": "isDerivedFrom" if kind == "software" else "references",
                "resource_type": _ZENODO_TYPES.get(kind, "other"),
            }
        )
    notes = "Please cite this software together with: " + "; ".join(
        f"{ref['title']} ({'doi:' + ref['doi'] if ref.get('doi') else reference_identifier(ref)})"
        for ref in references
    )
    return {
        "upload_type": "software",
        "access_right": "open",
        "title": cff["title"],
        "version": str(cff["version"]),
        "publication_date": cff["date-released"],
        "description": " ".join(str(cff.get("abstract", cff["title"])).split()),
        "creators": creators,
        # Zenodo's licence vocabulary uses lower-case SPDX identifiers (SPDX ids are
        # case-insensitive, so this is still CITATION.cff's licence).
        "license": str(cff["license"]).lower(),
        "keywords": list(cff.get("keywords", [])),
        "related_identifiers": related,
        "references": [reference_text(ref) for ref in references],
        "notes": notes + "." if references else "",
    }


def codemeta_author(author: Mapping[str, Any]) -> dict[str, Any]:
    """A CFF author as a CodeMeta (schema.org) ``Organization`` (entity) or ``Person``."""
    if "name" in author:
        agent: dict[str, Any] = {"@type": "Organization", "name": author["name"]}
    else:
        agent = {"@type": "Person"}
        if author.get("given-names"):
            agent["givenName"] = author["given-names"]
        if author.get("family-names"):
            agent["familyName"] = author["family-names"]
        if author.get("alias"):
            agent["alternateName"] = author["alias"]
        if author.get("affiliation"):
            agent["affiliation"] = {"@type": "Organization", "name": author["affiliation"]}
    if author.get("website"):
        agent["url"] = author["website"]
    return agent


def codemeta_citation(ref: Mapping[str, Any]) -> dict[str, Any]:
    """A CFF reference as a CodeMeta ``citation`` (the work cited: software or data set)."""
    entry: dict[str, Any] = {
        "@type": _SCHEMA_TYPES.get(str(ref.get("type")), "schema:CreativeWork"),
        "name": ref["title"],
        "author": [codemeta_author(a) for a in ref.get("authors", [])],
    }
    if ref.get("doi"):
        entry["identifier"] = f"https://doi.org/{ref['doi']}"
    if ref.get("url"):
        entry["url"] = ref["url"]
    if ref.get("repository-code"):
        entry["codeRepository"] = ref["repository-code"]
    return entry


def software_requirements(root: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The package's direct dependencies (``pyproject.toml``) with the versions pinned in
    ``environment/requirements.lock``, as CodeMeta ``SoftwareApplication`` entries (sorted by
    name); an empty list when either file is missing (e.g. an unpacked subset)."""
    root = Path(root)
    pyproject, lock = root / "pyproject.toml", root / "environment" / "requirements.lock"
    if not (pyproject.is_file() and lock.is_file()):
        return []

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    pinned = re.finditer(
        r"^([A-Za-z0-9_.-]+)==(\S+)", lock.read_text(encoding="utf-8"), re.MULTILINE
    )
    pins = {norm(m.group(1)): m.group(2) for m in pinned}
    requirements = []
    for dep in sorted({norm(re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0]) for d in deps}):
        entry = {"@type": "SoftwareApplication", "name": dep, "runtimePlatform": "Python 3.11"}
        if dep in pins:
            entry["version"] = pins[dep]
        requirements.append(entry)
    return requirements


def codemeta(
    cff: Mapping[str, Any],
    requirements: list[dict[str, Any]] | None = None,
    swhid: str | None = None,
) -> dict[str, Any]:
    """``codemeta.json`` (CodeMeta 3.0 JSON-LD) derived from a CITATION.cff mapping, with the
    pinned ``requirements`` (:func:`software_requirements`) and, in an archive, the ``swhid``
    of the archived code tree as ``identifier``."""
    meta: dict[str, Any] = {
        "@context": "https://w3id.org/codemeta/3.0",
        "@type": "SoftwareSourceCode",
        "name": cff["title"],
        "version": str(cff["version"]),
        "datePublished": cff["date-released"],
        "description": " ".join(str(cff.get("abstract", cff["title"])).split()),
        "author": [codemeta_author(a) for a in cff["authors"]],
        "license": _SPDX_URL.format(cff["license"]),
        "codeRepository": cff.get("repository-code", ""),
        "keywords": list(cff.get("keywords", [])),
        "programmingLanguage": "Python",
        "runtimePlatform": "Python 3.11",
        "softwareRequirements": list(requirements or []),
        "citation": [codemeta_citation(ref) for ref in cff.get("references", [])],
    }
    if swhid:
        meta["identifier"] = swhid
    return meta


def write_citation_metadata(
    dest: str | os.PathLike[str],
    cff_path: str | os.PathLike[str] = CITATION_NAME,
    *,
    swhid: str | None = None,
) -> list[Path]:
    """Write ``CITATION.cff`` (copied), ``.zenodo.json`` and ``codemeta.json`` into ``dest``.

    The software requirements come from the ``pyproject.toml`` and lock beside ``cff_path``;
    ``swhid`` (the archive's code tree) goes into codemeta.json only. With ``dest`` = the
    repository root (and no ``swhid``) this regenerates the committed files."""
    dest, cff_path = Path(dest), Path(cff_path)
    cff = load_citation(cff_path)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    if (dest / CITATION_NAME).resolve() != cff_path.resolve():
        shutil.copyfile(cff_path, dest / CITATION_NAME)
        written.append(dest / CITATION_NAME)
    written.append(write_json(dest / ZENODO_NAME, zenodo_metadata(cff)))
    requirements = software_requirements(cff_path.resolve().parent)
    written.append(write_json(dest / CODEMETA_NAME, codemeta(cff, requirements, swhid)))
    return written
