"""Archival submission: citation metadata, a HEPData record and a checksummed BagIt bag.

``build_archive(outdir="outputs", dest="outputs/archive")`` (``agc archive``) turns a complete run
into the pieces that are deposited:

``<dest>/``
    ``CITATION.cff``, ``.zenodo.json``, ``codemeta.json`` -- citation metadata; the last two are
    generated from ``CITATION.cff`` (:mod:`agc.publish.citation`), so they agree;
    ``hepdata/`` + ``hepdata-submission.tar.gz`` -- the HEPData submission (:mod:`agc.publish.hepdata`);
    ``bag/`` -- a BagIt bag (sha256 manifests) holding, under ``data/``:
      ``code/``     the repository's files at its commit (git-tracked files plus untracked,
                    non-ignored ones; the modified and untracked lists and the dirty flag of
                    :func:`agc.publish.provenance.checkout_state` are in ``archive.json``):
                    package, notebooks, lock files (``environment/``), both workflow specs
                    (``reana.yaml``, ``reana-cwl.yaml`` + ``workflow/*.cwl``), recipe and configs;
      ``inputs/``   the inputs manifest with file checksums (+ ``generation.json`` for the
                    embedded default). The embedded ROOT files are NOT bagged: they are
                    regenerated bit for bit from ``code/inputs/embedded.yaml`` by
                    ``agc generate`` and checked against the manifest's sha256;
      ``outputs/``  the run's outputs (histograms, cut flow, workspace, fit results, plots,
                    notebooks, report, provenance, reinterpretation), the archive itself excluded;
      ``crate/``    the Workflow Run RO-Crate of the CWL run (:mod:`agc.publish.crate`), when
                    ``agc run-cwl --provenance`` left cwltool's provenance in the outputs; it
                    also describes the serial run's provenance.json. The embedded ROOT files
                    the run generated are described there but not held (declared absent,
                    with their sha256 and how ``agc generate`` recreates them);
      ``metadata/`` the citation files (codemeta.json carries the SWHID of ``code/`` as
                    ``identifier``), the HEPData submission tarball and ``archive.json``
                    (code/git state and SWHID, environment, output checksums, what is where).
    ``agc-ttbar-<version>-bag.tar.gz`` -- the bag as one reproducible tarball (for Zenodo);
    ``SHA256SUMS`` -- the sha256 of every file beside the bag, written last
    (:mod:`agc.publish.checksums`): what is deposited is covered by it or by the bag's manifests.

``agc verify-archive`` re-checks all of it (:mod:`agc.publish.verify`).

Everything is built in a temporary folder beside ``dest`` and renamed onto it at the end:
an interrupted archive never leaves a half-written ``dest``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import bagit

import agc
from agc.core.codeversion import code_hash
from agc.core.errors import AGCError
from agc.core.fileio import sha256_file, write_json
from agc.dataset.manifest import EMBEDDED_KEYWORD
from agc.publish import hepdata
from agc.publish.checksums import write_checksums
from agc.publish.citation import (
    CITATION_NAME,
    CODEMETA_NAME,
    ZENODO_NAME,
    author_name,
    load_citation,
    write_citation_metadata,
)
from agc.publish.crate import (
    CRATE_DIR,
    RESEARCH_OBJECT_DIR,
    build_crate,
    embedded_inputs,
    runcrate_python,
)
from agc.publish.hepdata import SubmissionResult
from agc.publish.provenance import (
    PROVENANCE_NAME,
    CheckoutState,
    CodeFiles,
    code_files,
    environment,
    output_checksums,
    package_root,
)
from agc.publish.swhid import directory_swhid

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
_SKIP_OUTPUTS = {".checkpoints", "cache", "cwl", RESEARCH_OBJECT_DIR}
#: The HEPData submission as one tarball (in the archive and in the bag's ``metadata/``).
HEPDATA_TARBALL = "hepdata-submission.tar.gz"


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


@dataclass(frozen=True)
class ArchiveResult:
    """An archive as :func:`build_archive` leaves it.

    Paths are absolute strings: ``archive`` (the folder), ``bag``, ``bag_tarball`` (``None``
    without the tarball); ``payload_bytes`` [bytes] and ``payload_files`` are the bag's
    Payload-Oxum; ``hepdata`` the submission (its folder inside the archive); ``commit`` /
    ``dirty`` the git state of the bagged code; ``missing_optional_outputs`` the entries of
    :data:`OPTIONAL_OUTPUTS` the run lacked; ``swhid`` the SWHID of the bagged code tree;
    ``crate`` the Workflow Run RO-Crate in the bag (``None`` without a CWL provenance run).
    """

    archive: str
    bag: str
    bag_valid: bool
    payload_bytes: int
    payload_files: int
    bag_tarball: str | None
    hepdata: SubmissionResult
    commit: str
    dirty: bool | None
    missing_optional_outputs: list[str]
    swhid: str | None = None
    crate: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``agc archive`` prints."""
        return {
            "archive": self.archive,
            "bag": self.bag,
            "bag_valid": self.bag_valid,
            "payload_bytes": self.payload_bytes,
            "payload_files": self.payload_files,
            "bag_tarball": self.bag_tarball,
            "hepdata": self.hepdata.to_dict(),
            "commit": self.commit,
            "dirty": self.dirty,
            "missing_optional_outputs": self.missing_optional_outputs,
            "swhid": self.swhid,
            "crate": self.crate,
        }


def inputs_manifest(root: Path, inputs: str | os.PathLike[str]) -> Path:
    """The manifest the ``inputs`` parameter names (``"embedded"``: the repository's embedded
    dataset; a relative path is taken from ``root``); AGCError if it does not exist."""
    if str(inputs) == EMBEDDED_KEYWORD:
        manifest = root / "data" / "embedded" / "manifest.json"
    else:
        manifest = Path(inputs) if Path(inputs).is_absolute() else root / inputs
    if not manifest.is_file():
        raise AGCError(f"inputs manifest not found: {manifest} (inputs={inputs!s})")
    return manifest


def check_archivable(outdir: Path, root: Path, allow_dirty: bool) -> CodeFiles:
    """The code to bag, once the run in ``outdir`` is complete and the checkout at ``root`` is
    clean (or ``allow_dirty``); AGCError naming what is missing or changed otherwise."""
    missing = missing_outputs(outdir)
    if missing:
        raise AGCError(
            f"{outdir}: not a complete run, missing {', '.join(missing)} "
            "(run the workflow first: make run)"
        )
    code = code_files(root)
    state = code.state
    if state.dirty and not allow_dirty:
        changed = state.modified + state.untracked
        raise AGCError(
            f"{root}: git tree is dirty ({len(state.modified)} modified, "
            f"{len(state.untracked)} untracked files, e.g. {changed[0]}): commit them or "
            "pass allow_dirty=True (--allow-dirty) to archive and record the dirty state"
        )
    return code


def stage_publication(
    top: Path, cff_path: Path, outdir: Path, swhid: str | None = None
) -> SubmissionResult:
    """Citation metadata (``swhid``: the bagged code's, into codemeta.json), the HEPData
    submission (``hepdata/``) and its tarball into ``top``."""
    write_citation_metadata(top, cff_path, swhid=swhid)
    submission = hepdata.build_submission(outdir, top / "hepdata")
    hepdata.reproducible_tarball(
        top / HEPDATA_TARBALL,
        {p.name: p for p in sorted((top / "hepdata").iterdir()) if p.is_file()},
    )
    return submission


def skipped_outputs(outdir: Path, dest: Path, staging: Path) -> set[str]:
    """Top-level entries of ``outdir`` never bagged: scratch state, earlier archives, this
    archive's destination and its staging folder."""
    skip = set(_SKIP_OUTPUTS)
    skip.update(p.name for p in outdir.iterdir() if (p / "bag" / "bagit.txt").is_file())
    if dest.parent == outdir or outdir in dest.parents:
        skip.add(dest.relative_to(outdir).parts[0])
    skip.add(staging.name)
    return skip


def stage_payload(
    payload: Path, code: CodeFiles, manifest: Path, outdir: Path, skip: set[str]
) -> list[str]:
    """Copy the code (``code/``), the inputs manifest (``inputs/``, + ``generation.json``) and
    the outputs (``outputs/``, entries in ``skip`` left out) into the bag payload; the copied
    output paths (relative to ``outdir``)."""
    root = Path(code.root)
    for name in code.files:
        (payload / "code" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, payload / "code" / name)
    (payload / "inputs").mkdir(parents=True)
    shutil.copy2(manifest, payload / "inputs" / "manifest.json")
    if (manifest.parent / "generation.json").is_file():
        shutil.copy2(manifest.parent / "generation.json", payload / "inputs")
    return _copy_tree(outdir, payload / "outputs", skip)


def archive_record(
    code: CodeFiles,
    inputs: str | os.PathLike[str],
    manifest: Path,
    payload: Path,
    outputs: list[str],
    absent: list[str],
    submission: SubmissionResult,
    crate: str | None = None,
) -> dict[str, Any]:
    """The content of ``metadata/archive.json``: code and git state, environment, inputs,
    output checksums, HEPData tables, the crate and where everything is in the bag."""
    embedded = str(inputs) == EMBEDDED_KEYWORD
    return {
        "package": {
            "name": "agc-ttbar",
            "version": agc.__version__,
            "code_sha256": code_hash(),
            "commit": code.state.commit,
            "dirty": code.state.dirty,
            "modified": code.state.modified,
            "untracked": code.state.untracked,
            "swhid": directory_swhid(payload / "code"),
        },
        "crate": crate,
        "environment": environment(),
        "inputs": {
            "parameter": str(inputs),
            "manifest": "inputs/manifest.json",
            "manifest_sha256": sha256_file(manifest),
            "data_files": "not bagged: regenerate with `agc generate --output data/embedded "
            "--recipe inputs/embedded.yaml` (sha256 checked against the manifest)"
            if embedded
            else "not bagged: the manifest lists their locations and sizes/checksums",
        },
        "outputs": output_checksums(payload / "outputs"),
        "missing_optional_outputs": absent,
        "hepdata": {"tables": submission.tables, "valid": submission.valid},
        "layout": bag_layout(code.files, outputs),
    }


def bag_layout(code: list[str], outputs: list[str]) -> dict[str, Any]:
    """The ``layout`` entry of ``archive.json``: where the code, locks, specs and outputs are."""
    return {
        "code": "code/ (repository files; run `make run` there)",
        "lock_files": sorted(
            f"code/{n}"
            for n in code
            if n.startswith("environment/") and n.endswith((".lock", ".txt"))
        ),
        "workflow_specs": sorted(
            f"code/{n}"
            for n in code
            if n in ("reana.yaml", "reana-cwl.yaml") or n.startswith("workflow/")
        ),
        "recipe": "code/inputs/embedded.yaml",
        "outputs": "outputs/",
        "report": "outputs/report.html" if "report.html" in outputs else None,
        "provenance": "outputs/provenance.json" if "provenance.json" in outputs else None,
    }


def make_bag(payload: Path, cff: dict[str, Any], state: CheckoutState) -> tuple[int, int]:
    """Turn ``payload`` into a validated BagIt bag (sha256); its ``(bytes, files)`` Payload-Oxum."""
    bag_info = {
        "Source-Organization": author_name(cff["authors"][0]),
        "External-Description": " ".join(str(cff.get("abstract", cff["title"])).split()),
        "External-Identifier": f"agc-ttbar {agc.__version__} ({state.commit})",
        "Bagging-Date": _bagging_date(),
        "Bag-Software-Agent": f"bagit.py {bagit.VERSION} via agc.publish.archive",
        "Git-Commit": state.commit,
        "Git-Dirty": str(state.dirty).lower(),
    }
    with _quiet_bagit():
        bag = bagit.make_bag(str(payload), bag_info, processes=1, checksums=["sha256"])
        try:
            bag.validate()
        except bagit.BagValidationError as exc:
            raise AGCError(f"BagIt validation failed: {' '.join(str(exc).split())}") from None
    size, count = bag.info.get("Payload-Oxum", "0.0").split(".")[:2]
    return int(size), int(count)


def bag_tarball(top: Path, payload: Path) -> str:
    """Write ``agc-ttbar-<version>-bag.tar.gz`` (reproducible) of the bag into ``top``; its name."""
    prefix = f"agc-ttbar-{agc.__version__}-bag"
    members = {
        f"{prefix}/{p.relative_to(payload).as_posix()}": p
        for p in payload.rglob("*")
        if p.is_file()
    }
    hepdata.reproducible_tarball(top / f"{prefix}.tar.gz", members)
    return f"{prefix}.tar.gz"


def build_archive(
    outdir: str | os.PathLike[str] = "outputs",
    dest: str | os.PathLike[str] = "outputs/archive",
    allow_dirty: bool = False,
    *,
    inputs: str | os.PathLike[str] = "embedded",
    repo: str | os.PathLike[str] | None = None,
    tarball: bool = True,
    research_object: str | os.PathLike[str] | None = None,
) -> ArchiveResult:
    """Build the archival submission of the run in ``outdir`` into ``dest`` (replaced atomically).

    Steps: check the run and the checkout, stage the bag payload (code, inputs manifest,
    outputs), compute the code tree's SWHID, stage citation metadata (codemeta.json with the
    SWHID) and the HEPData submission, convert the CWL run's provenance into a Workflow Run
    RO-Crate, add the metadata, make and validate the bag, write its tarball and the
    ``SHA256SUMS`` of every file beside the bag, rename the staging folder onto ``dest``.

    Args:
        outdir: outputs of a complete run (see :data:`REQUIRED_OUTPUTS`).
        dest: folder to create (may lie inside ``outdir``; it is never bagged itself).
        allow_dirty: archive although the code differs from the git commit (modified tracked
            files or untracked files); the state is recorded in ``archive.json`` and bag-info.
        inputs: the run's ``inputs`` parameter: ``"embedded"`` or a manifest path (relative
            paths are taken from ``repo``).
        repo: repository root (default: the one holding the installed package).
        tarball: also write ``agc-ttbar-<version>-bag.tar.gz`` (reproducible tarball of the bag).
        research_object: cwltool's provenance of the CWL run (default
            ``<outdir>/cwl-provenance``, from ``agc run-cwl --provenance``); when it exists the
            bag holds its Workflow Run RO-Crate in ``crate/`` (needs runcrate:
            ``make archive-tools``).

    Raises:
        AGCError: outputs missing (all listed), dirty tree without ``allow_dirty``, unreadable
            CITATION.cff or inputs manifest, invalid HEPData submission or bag.
    """
    outdir, dest = Path(outdir).resolve(), Path(dest).resolve()
    root = Path(repo).resolve() if repo is not None else package_root()
    code = check_archivable(outdir, root, allow_dirty)
    manifest = inputs_manifest(root, inputs)
    research_object = outdir / RESEARCH_OBJECT_DIR if research_object is None else research_object
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        top, skip = staging / "archive", skipped_outputs(outdir, dest, staging)
        outputs = stage_payload(payload := top / "bag", code, manifest, outdir, skip)
        swhid = directory_swhid(payload / "code")
        submission = stage_publication(top, root / CITATION_NAME, outdir, swhid)
        cff = load_citation(root / CITATION_NAME)
        crate = stage_crate(payload, Path(research_object), root, cff, outdir, manifest)
        meta = payload / "metadata"
        meta.mkdir()
        for name in (CITATION_NAME, ZENODO_NAME, CODEMETA_NAME, HEPDATA_TARBALL):
            shutil.copy2(top / name, meta / name)
        absent = [name for name in OPTIONAL_OUTPUTS if not (outdir / name.rstrip("/")).exists()]
        record = archive_record(code, inputs, manifest, payload, outputs, absent, submission, crate)
        write_json(meta / "archive.json", record)
        payload_bytes, payload_files = make_bag(payload, cff, code.state)
        tar_name = bag_tarball(top, payload) if tarball else None
        write_checksums(top)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(top, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ArchiveResult(
        archive=str(dest),
        bag=str(dest / "bag"),
        bag_valid=True,
        payload_bytes=payload_bytes,
        payload_files=payload_files,
        bag_tarball=str(dest / tar_name) if tar_name else None,
        hepdata=replace(submission, folder=str(dest / "hepdata")),
        commit=code.state.commit,
        dirty=code.state.dirty,
        missing_optional_outputs=absent,
        swhid=swhid,
        crate=str(dest / "bag" / "data" / crate) if crate else None,
    )


def stage_crate(
    payload: Path,
    research_object: Path,
    root: Path,
    cff: dict[str, Any],
    outdir: Path,
    manifest: Path,
) -> str | None:
    """The Workflow Run RO-Crate of the CWL run (:func:`agc.publish.crate.build_crate`) into the
    payload's ``crate/`` when ``research_object`` (cwltool's provenance) exists, with the serial
    run's provenance.json described in it and the generated inputs of ``manifest`` (the
    embedded dataset) declared absent; its path in the payload, ``None`` without one."""
    if not research_object.is_dir():
        return None
    build_crate(
        research_object,
        payload / CRATE_DIR,
        python=runcrate_python(root),
        license_id=str(cff["license"]),
        serial_provenance=outdir / PROVENANCE_NAME,
        regenerable=embedded_inputs(manifest),
    )
    return f"{CRATE_DIR}/"


def validate_bag(path: str | os.PathLike[str]) -> None:
    """Check a bag's manifests and checksums (bagit); :class:`AGCError` naming the problem."""
    try:
        with _quiet_bagit():
            bagit.Bag(str(path)).validate()
    except (bagit.BagError, bagit.BagValidationError) as exc:
        raise AGCError(f"{path}: invalid BagIt bag ({' '.join(str(exc).split())})") from None
