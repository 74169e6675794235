"""Archival submission: citation metadata, a HEPData record and a checksummed BagIt bag.

``build_archive(outdir="outputs", dest="outputs/archive")`` (``agc archive``) turns a complete run
into the pieces that are deposited:

``<dest>/``
    ``CITATION.cff``, ``.zenodo.json``, ``codemeta.json`` -- citation metadata; the last two are
    generated from ``CITATION.cff`` (:func:`zenodo_metadata`, :func:`codemeta`), so they agree;
    ``hepdata/`` + ``hepdata-submission.tar.gz`` -- the HEPData submission (:mod:`agc.publish.hepdata`);
    ``bag/`` -- a BagIt bag (sha256 manifests) holding, under ``data/``:
      ``code/``     the repository's files at its commit (git-tracked files plus untracked,
                    non-ignored ones; both lists and the dirty flag are in ``archive.json``):
                    package, notebooks, lock files (``environment/``), both workflow specs
                    (``reana.yaml``, ``reana-cwl.yaml`` + ``workflow/*.cwl``), recipe and configs;
      ``inputs/``   the inputs manifest with file checksums (+ ``generation.json`` for the
                    embedded default). The embedded ROOT files are NOT bagged: they are
                    regenerated bit for bit from ``code/inputs/embedded.yaml`` by
                    ``agc generate`` and checked against the manifest's sha256;
      ``outputs/``  the run's outputs (histograms, cut flow, workspace, fit results, plots,
                    notebooks, report, provenance, reinterpretation), the archive itself excluded;
      ``metadata/`` the citation files, the HEPData submission tarball and ``archive.json``
                    (code/git state, environment, output checksums, what is where).
    ``agc-ttbar-<version>-bag.tar.gz`` -- the bag as one reproducible tarball (for Zenodo).

Everything is built in a temporary folder beside ``dest`` and renamed onto it at the end:
an interrupted archive never leaves a half-written ``dest``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import bagit
import yaml

import agc
from agc.core.codeversion import code_hash
from agc.core.errors import AGCError
from agc.core.fileio import sha256_file, write_json
from agc.dataset.manifest import EMBEDDED_KEYWORD
from agc.publish import hepdata
from agc.publish.provenance import environment, output_checksums, package_root

CITATION_NAME = "CITATION.cff"
ZENODO_NAME = ".zenodo.json"
CODEMETA_NAME = "codemeta.json"
#: Outputs a complete run must have (relative to ``outdir``); ``plots/`` must hold figures.
REQUIRED_OUTPUTS: tuple[str, ...] = (
    "histograms.root",
    "cutflow.json",
    "workspace.json",
    "fit_results.json",
    "plots/",
)
#: Outputs included when present (their absence is reported, not fatal).
OPTIONAL_OUTPUTS: tuple[str, ...] = (
    "provenance.json",
    "report.html",
    "dataset.json",
    "notebooks/",
    "reinterpretation/",
)
#: Top-level output entries never bagged (scratch state of a run).
_SKIP_OUTPUTS = {".checkpoints", "cache", "cwl"}
#: Repository paths never bagged even if not ignored by git.
_SKIP_CODE_PREFIXES = ("data/", "outputs/", ".venv", "build/")
_SPDX_URL = "https://spdx.org/licenses/{}"


# --------------------------------------------------------------------------- citation metadata


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


# --------------------------------------------------------------------------- inputs checks


def missing_outputs(outdir: str | os.PathLike[str]) -> list[str]:
    """The entries of :data:`REQUIRED_OUTPUTS` that ``outdir`` lacks (folders must be non-empty)."""
    outdir = Path(outdir)
    missing = []
    for name in REQUIRED_OUTPUTS:
        path = outdir / name.rstrip("/")
        if name.endswith("/"):
            if not path.is_dir() or not any(p.is_file() for p in path.iterdir()):
                missing.append(name)
        elif not path.is_file():
            missing.append(name)
    return missing


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    ).stdout


def code_files(root: str | os.PathLike[str]) -> dict[str, Any]:
    """The repository's files to bag and the git state.

    Returns ``{"root", "commit", "dirty", "modified": [...], "untracked": [...], "files": [...]}``
    with paths relative to ``root``: git-tracked files (as in the working tree) plus untracked
    files git does not ignore. ``dirty`` is true when tracked files differ from the commit or
    untracked files are included (the bag then differs from the commit). Without git, every file
    below ``root`` outside data/, outputs/ and virtual environments, with commit "unknown".
    """
    root = Path(root).resolve()
    try:
        commit = _git(root, "rev-parse", "HEAD").strip()
        tracked = _git(root, "ls-files", "-z", "--cached").split("\0")
        untracked = _git(root, "ls-files", "-z", "--others", "--exclude-standard").split("\0")
        modified = _git(root, "ls-files", "-z", "--modified", "--deleted").split("\0")
    except (OSError, subprocess.CalledProcessError):
        files = sorted(
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and ".git" not in p.parts
        )
        files = [f for f in files if not f.startswith(_SKIP_CODE_PREFIXES)]
        return {
            "root": str(root),
            "commit": "unknown (no git checkout)",
            "dirty": None,
            "modified": [],
            "untracked": [],
            "files": files,
        }

    def keep(name: str) -> bool:
        return bool(name) and not name.startswith(_SKIP_CODE_PREFIXES) and (root / name).is_file()

    modified_set = sorted({m for m in modified if m})
    untracked_kept = sorted(n for n in untracked if keep(n))
    files = sorted({n for n in tracked if keep(n)} | set(untracked_kept))
    return {
        "root": str(root),
        "commit": commit,
        "dirty": bool(modified_set or untracked_kept),
        "modified": modified_set,
        "untracked": untracked_kept,
        "files": files,
    }


def _copy_tree(src: Path, dst: Path, skip_top: set[str]) -> list[str]:
    copied = []
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if rel.parts[0] in skip_top or any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dst / rel)
            copied.append(rel.as_posix())
    return copied


@contextlib.contextmanager
def _quiet_bagit() -> Iterator[None]:
    """bagit logs one INFO line per file: keep warnings only."""
    logger = logging.getLogger("bagit")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _bagging_date() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date().isoformat()
    return dt.date.today().isoformat()


# --------------------------------------------------------------------------- the archive


def build_archive(
    outdir: str | os.PathLike[str] = "outputs",
    dest: str | os.PathLike[str] = "outputs/archive",
    allow_dirty: bool = False,
    *,
    inputs: str | os.PathLike[str] = "embedded",
    repo: str | os.PathLike[str] | None = None,
    tarball: bool = True,
) -> dict[str, Any]:
    """Build the archival submission of the run in ``outdir`` into ``dest`` (replaced atomically).

    Args:
        outdir: outputs of a complete run (see :data:`REQUIRED_OUTPUTS`).
        dest: folder to create (may lie inside ``outdir``; it is never bagged itself).
        allow_dirty: archive although the code differs from the git commit (modified tracked
            files or untracked files); the state is recorded in ``archive.json`` and bag-info.
        inputs: the run's ``inputs`` parameter: ``"embedded"`` or a manifest path (relative
            paths are taken from ``repo``).
        repo: repository root (default: the one holding the installed package).
        tarball: also write ``agc-ttbar-<version>-bag.tar.gz`` (reproducible tarball of the bag).

    Returns:
        Summary: paths written, git state, HEPData tables and validation, bag validity and
        payload size [bytes], missing optional outputs.

    Raises:
        AGCError: outputs missing (all listed), dirty tree without ``allow_dirty``, unreadable
            CITATION.cff or inputs manifest, invalid HEPData submission or bag.
    """
    outdir, dest = Path(outdir).resolve(), Path(dest).resolve()
    root = Path(repo).resolve() if repo is not None else package_root()
    missing = missing_outputs(outdir)
    if missing:
        raise AGCError(
            f"{outdir}: not a complete run, missing {', '.join(missing)} "
            "(run the workflow first: make run)"
        )
    code = code_files(root)
    if code["dirty"] and not allow_dirty:
        changed = code["modified"] + code["untracked"]
        raise AGCError(
            f"{root}: git tree is dirty ({len(code['modified'])} modified, "
            f"{len(code['untracked'])} untracked files, e.g. {changed[0]}): commit them or "
            "pass allow_dirty=True (--allow_dirty) to archive and record the dirty state"
        )
    if str(inputs) == EMBEDDED_KEYWORD:
        manifest = root / "data" / "embedded" / "manifest.json"
    else:
        manifest = Path(inputs) if Path(inputs).is_absolute() else root / inputs
    if not manifest.is_file():
        raise AGCError(f"inputs manifest not found: {manifest} (inputs={inputs!s})")
    cff_path = root / CITATION_NAME

    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        top = staging / "archive"
        top.mkdir()
        write_citation_metadata(top, cff_path)
        cff = load_citation(cff_path)
        sub = hepdata.build_submission(outdir, top / "hepdata")
        hepdata.reproducible_tarball(
            top / "hepdata-submission.tar.gz",
            {p.name: p for p in sorted((top / "hepdata").iterdir()) if p.is_file()},
        )

        payload = top / "bag"
        # code at its commit (plus the recorded dirty state)
        for name in code["files"]:
            (payload / "code" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, payload / "code" / name)
        # inputs manifest with checksums (+ the embedded generator's record)
        (payload / "inputs").mkdir(parents=True)
        shutil.copy2(manifest, payload / "inputs" / "manifest.json")
        if (manifest.parent / "generation.json").is_file():
            shutil.copy2(manifest.parent / "generation.json", payload / "inputs")
        # outputs (never the archive itself or scratch state)
        skip = set(_SKIP_OUTPUTS)
        # earlier archives written inside the outputs folder are never bagged again
        skip.update(p.name for p in outdir.iterdir() if (p / "bag" / "bagit.txt").is_file())
        if dest.parent == outdir or outdir in dest.parents:
            skip.add(dest.relative_to(outdir).parts[0])
        skip.add(staging.name)
        outputs = _copy_tree(outdir, payload / "outputs", skip)
        # metadata
        meta = payload / "metadata"
        meta.mkdir()
        for name in (CITATION_NAME, ZENODO_NAME, CODEMETA_NAME, "hepdata-submission.tar.gz"):
            shutil.copy2(top / name, meta / name)
        absent = [name for name in OPTIONAL_OUTPUTS if not (outdir / name.rstrip("/")).exists()]
        record = {
            "package": {
                "name": "agc-ttbar",
                "version": agc.__version__,
                "code_sha256": code_hash(),
                "commit": code["commit"],
                "dirty": code["dirty"],
                "modified": code["modified"],
                "untracked": code["untracked"],
            },
            "environment": environment(),
            "inputs": {
                "parameter": str(inputs),
                "manifest": "inputs/manifest.json",
                "manifest_sha256": sha256_file(manifest),
                "data_files": "not bagged: regenerate with `agc generate --output data/embedded "
                "--recipe inputs/embedded.yaml` (sha256 checked against the manifest)"
                if str(inputs) == EMBEDDED_KEYWORD
                else "not bagged: the manifest lists their locations and sizes/checksums",
            },
            "outputs": output_checksums(payload / "outputs"),
            "missing_optional_outputs": absent,
            "hepdata": {"tables": sub["tables"], "valid": sub["valid"]},
            "layout": {
                "code": "code/ (repository files; run `make run` there)",
                "lock_files": sorted(
                    f"code/{n}"
                    for n in code["files"]
                    if n.startswith("environment/") and n.endswith((".lock", ".txt"))
                ),
                "workflow_specs": sorted(
                    f"code/{n}"
                    for n in code["files"]
                    if n in ("reana.yaml", "reana-cwl.yaml") or n.startswith("workflow/")
                ),
                "recipe": "code/inputs/embedded.yaml",
                "outputs": "outputs/",
                "report": "outputs/report.html" if "report.html" in outputs else None,
                "provenance": "outputs/provenance.json" if "provenance.json" in outputs else None,
            },
        }
        write_json(meta / "archive.json", record)
        bag_info = {
            "Source-Organization": author_name(cff["authors"][0]),
            "External-Description": " ".join(str(cff.get("abstract", cff["title"])).split()),
            "External-Identifier": f"agc-ttbar {agc.__version__} ({code['commit']})",
            "Bagging-Date": _bagging_date(),
            "Bag-Software-Agent": f"bagit.py {bagit.VERSION} via agc.publish.archive",
            "Git-Commit": code["commit"],
            "Git-Dirty": str(code["dirty"]).lower(),
        }
        with _quiet_bagit():
            bag = bagit.make_bag(str(payload), bag_info, processes=1, checksums=["sha256"])
            try:
                bag.validate()
            except bagit.BagValidationError as exc:
                raise AGCError(f"BagIt validation failed: {' '.join(str(exc).split())}") from None
        oxum = bag.info.get("Payload-Oxum", "0.0")
        tar_path = None
        if tarball:
            tar_name = f"agc-ttbar-{agc.__version__}-bag.tar.gz"
            prefix = f"agc-ttbar-{agc.__version__}-bag"
            members = {
                f"{prefix}/{p.relative_to(payload).as_posix()}": p
                for p in payload.rglob("*")
                if p.is_file()
            }
            hepdata.reproducible_tarball(top / tar_name, members)
            tar_path = dest / tar_name
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(top, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {
        "archive": str(dest),
        "bag": str(dest / "bag"),
        "bag_valid": True,
        "payload_bytes": int(oxum.split(".")[0]),
        "payload_files": int(oxum.split(".")[1]),
        "bag_tarball": str(tar_path) if tar_path else None,
        "hepdata": {**sub, "folder": str(dest / "hepdata")},
        "commit": code["commit"],
        "dirty": code["dirty"],
        "missing_optional_outputs": absent,
    }


def validate_bag(path: str | os.PathLike[str]) -> None:
    """Check a bag's manifests and checksums (bagit); :class:`AGCError` naming the problem."""
    try:
        with _quiet_bagit():
            bagit.Bag(str(path)).validate()
    except (bagit.BagError, bagit.BagValidationError) as exc:
        raise AGCError(f"{path}: invalid BagIt bag ({' '.join(str(exc).split())})") from None


def main(args: Any) -> dict[str, Any]:
    """``agc archive`` entry: ``args`` has ``outdir``, ``dest``, ``allow_dirty``, ``inputs``."""
    return build_archive(
        args.outdir,
        args.dest,
        allow_dirty=args.allow_dirty,
        inputs=getattr(args, "inputs", "embedded"),
    )
