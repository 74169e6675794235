"""Re-check an archive made by :func:`agc.publish.archive.build_archive` (``agc verify-archive``).

What is verified is what is deposited. ``path`` is the archive folder (holding ``bag/``), a bag,
or the bag tarball ``agc-ttbar-<version>-bag.tar.gz`` (unpacked to a temporary folder first):

``files``     the files beside the bag (the bag tarball, the HEPData submission tarball and
              folder, the citation files) against the archive's ``SHA256SUMS``
              (:mod:`agc.publish.checksums`); for a tarball: its gzip and tar streams are intact
              and hold one bag; skipped for a bag given alone;
``bag``       the BagIt bag (bagit): structure, Payload-Oxum, every manifest entry's sha256;
``patchset``  every ``BkgOnly.json`` in the bagged outputs is the same bytes, and
              ``reinterpretation/patchset.json`` verifies against it (pyhf) and applies;
``hepdata``   the bagged HEPData submission tarball passes hepdata-validator, and its
              likelihoods (pyhf JSON) are typed HistFactory;
``crate``     the Workflow Run RO-Crate of the CWL run loads with rocrate and is complete
              (:func:`agc.publish.crate.check_crate`): every file it describes is there,
              except inputs declared absent whose sha256 is in the bagged inputs manifest;
``swhid``     the SWHID of the bagged code tree equals the one in the bagged codemeta.json.

``files`` and ``bag`` name every missing, added and changed file, one per line. A check with
nothing to check (no reinterpretation outputs, an archive built without a CWL run) is skipped,
and says so.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import bagit
import yaml

from agc.core.errors import AGCError
from agc.publish.checksums import CHECKSUMS_NAME, Differences, compare_checksums
from agc.publish.crate import CRATE_DIR, check_crate, declared_absent, manifest_files
from agc.publish.swhid import directory_swhid

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
#: Endings of a bag tarball ``agc verify-archive`` unpacks and verifies.
TARBALL_SUFFIXES = (".tar.gz", ".tgz", ".tar")
#: What reading a damaged tarball raises (a truncated gzip stream raises EOFError).
_TARBALL_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error)


@dataclass(frozen=True)
class Check:
    """One check of an archive: its ``name``, ``status`` (PASS, FAIL or SKIP), one-line
    ``detail`` and the ``files`` it found at fault (``missing|added|changed <path>``)."""

    name: str
    status: str
    detail: str
    files: tuple[str, ...] = ()

    def line(self) -> str:
        """``STATUS name: detail`` (what ``agc verify-archive`` prints for it), then one indented
        line per file at fault."""
        return "\n".join(
            [f"{self.status} {self.name}: {self.detail}", *(f"  {f}" for f in self.files)]
        )


@dataclass(frozen=True)
class Verification:
    """Every check of the archive at ``bag`` (the bag's path, or the tarball's when one was
    given); ``ok`` when none failed."""

    bag: str
    checks: list[Check]

    @property
    def ok(self) -> bool:
        """True when no check failed (skipped ones do not fail)."""
        return all(c.status != FAIL for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """``{"bag", "ok", "checks": [{"name", "status", "detail", "files"}]}``."""
        return {"bag": self.bag, "ok": self.ok, "checks": [asdict(c) for c in self.checks]}


def find_bag(path: str | os.PathLike[str]) -> Path:
    """The bag of the archive folder ``path`` (``path/bag``) or ``path`` itself if it is a bag."""
    path = Path(path)
    for candidate in (path / "bag", path):
        if (candidate / "bagit.txt").is_file():
            return candidate
    raise AGCError(f"{path}: no BagIt bag (neither {path / 'bag'} nor {path} holds bagit.txt)")


def differs(name: str, what: str, differences: Differences) -> Check:
    """The FAIL check ``name`` naming every file of ``differences`` (``what``: against what)."""
    lines = differences.lines()
    count = "1 file differs" if len(lines) == 1 else f"{len(lines)} files differ"
    return Check(name, FAIL, f"{count} from {what}", tuple(lines))


def check_files(archive: Path | None) -> Check:
    """The files beside the bag of the archive folder ``archive`` against its ``SHA256SUMS``
    (skipped for a bag given alone: ``archive`` None)."""
    if archive is None:
        return Check("files", SKIP, "a bag given alone: no archive folder around it")
    if not (archive / CHECKSUMS_NAME).is_file():
        return Check(
            "files",
            FAIL,
            f"no {CHECKSUMS_NAME}: the files beside the bag are not covered (rebuild with "
            "agc archive)",
        )
    differences = compare_checksums(archive)
    if differences:
        return differs("files", CHECKSUMS_NAME, differences)
    listed = len((archive / CHECKSUMS_NAME).read_text(encoding="utf-8").splitlines())
    return Check("files", PASS, f"{listed} files beside the bag match {CHECKSUMS_NAME}")


def unlisted_tag_files(loaded: bagit.Bag) -> set[str]:
    """Files of the bag outside ``data/`` that no tag manifest lists (and that are not tag
    manifests): the archive's bags have none, so each is an added file."""
    root = Path(loaded.path)
    listed = set(loaded.tagfile_entries()) | {Path(p).name for p in loaded.tagmanifest_files()}
    found = set()
    for top in root.iterdir():
        if top.name == "data":
            continue
        for path in [top] if not top.is_dir() else top.rglob("*"):
            rel = path.relative_to(root).as_posix()
            if not path.is_dir() and rel not in listed:
                found.add(rel)
    return found


def bag_differences(loaded: bagit.Bag) -> Differences:
    """The files of ``loaded`` missing from, added to or changed since its manifests.

    bagit's ``validate`` stops at the first kind of fault, and at a Payload-Oxum mismatch
    before naming any file; here the manifests are compared with the folder
    (``compare_manifests_with_fs``) and every entry's checksum is checked by bagit's own
    entry validation, so that all three kinds are named.
    """
    only_in_manifests, only_on_fs = loaded.compare_manifests_with_fs()
    missing = set(only_in_manifests)
    changed: set[str] = set()
    try:
        loaded._validate_entries(processes=1)  # bagit's sha256 check of every manifest entry
    except bagit.BagValidationError as exc:
        mismatches = [d for d in exc.details if isinstance(d, bagit.ChecksumMismatch)]
        changed = {d.path for d in mismatches} - missing
    return Differences(
        missing=sorted(missing),
        added=sorted(set(only_on_fs) | unlisted_tag_files(loaded)),
        changed=sorted(changed),
    )


@contextlib.contextmanager
def quiet_bagit() -> Iterator[None]:
    """bagit logs a line per file checked and per fault found: keep errors only."""
    logger = bagit.LOGGER
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


def check_bag(bag: Path) -> Check:
    """Every file of the bag named if missing, added or changed; then bagit's validation of
    the structure, bagit.txt, fetch.txt and Payload-Oxum."""
    with quiet_bagit():
        try:
            loaded = bagit.Bag(str(bag))
            differences = bag_differences(loaded)
            if differences:
                return differs("bag", "the bag's manifests", differences)
            loaded.validate(processes=1, completeness_only=True)
        except bagit.BagError as exc:
            return Check("bag", FAIL, " ".join(str(exc).split()))
    files = len(list(loaded.payload_files()))
    return Check("bag", PASS, f"{files} payload files, sha256 manifests match")


def unpack_tarball(tarball: Path, scratch: Path) -> tuple[Check, Path | None]:
    """Unpack the bag tarball into ``scratch``: the ``files`` check of the tarball (its gzip
    stream read to the end, so its CRC is checked) and the bag it holds (None if it fails)."""
    try:
        if tarball.name.endswith((".gz", ".tgz")):
            with gzip.open(tarball) as stream:
                while stream.read(1 << 20):
                    pass
        with tarfile.open(tarball) as tar:
            tar.extractall(scratch, filter="data")
    except _TARBALL_ERRORS as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return Check("files", FAIL, f"{tarball.name}: damaged tarball ({reason})"), None
    bags = [p for p in (scratch, *scratch.iterdir()) if (p / "bagit.txt").is_file()]
    if len(bags) != 1:
        what = "no BagIt bag" if not bags else f"{len(bags)} BagIt bags"
        detail = f"{tarball.name}: holds {what} (a bag tarball holds one: agc-ttbar-*-bag.tar.gz)"
        return Check("files", FAIL, detail), None
    return Check("files", PASS, f"{tarball.name}: gzip and tar intact, holds one bag"), bags[0]


def check_patchset(payload: Path) -> Check:
    """Every bagged BkgOnly.json is one and the same; the patchset verifies and applies."""
    import pyhf

    outputs = payload / "outputs"
    copies = sorted(outputs.rglob("BkgOnly.json"))
    patchset_path = outputs / "reinterpretation" / "patchset.json"
    if not copies and not patchset_path.is_file():
        return Check("patchset", SKIP, "no reinterpretation outputs bagged")
    if len({p.read_bytes() for p in copies}) > 1:
        names = ", ".join(str(p.relative_to(payload)) for p in copies)
        return Check("patchset", FAIL, f"BkgOnly.json copies differ: {names}")
    if not copies or not patchset_path.is_file():
        return Check("patchset", FAIL, "BkgOnly.json without patchset.json (or the reverse)")
    try:
        bkg_only = json.loads(copies[0].read_text(encoding="utf-8"))
        patchset = pyhf.PatchSet(json.loads(patchset_path.read_text(encoding="utf-8")))
        patchset.verify(bkg_only)
        for patch in patchset.patches:
            patchset.apply(bkg_only, patch.name)
    except (
        ValueError,
        pyhf.exceptions.InvalidSpecification,
        pyhf.exceptions.PatchSetVerificationError,
        pyhf.exceptions.InvalidPatchLookup,
    ) as exc:
        return Check("patchset", FAIL, " ".join(str(exc).split())[:300])
    names = ", ".join(p.name for p in patchset.patches)
    return Check("patchset", PASS, f"verifies against BkgOnly.json; patches {names} apply")


def check_hepdata(payload: Path) -> Check:
    """The bagged HEPData tarball passes hepdata-validator; likelihoods are typed HistFactory."""
    from agc.publish.hepdata import validate_submission

    tarball = payload / "metadata" / "hepdata-submission.tar.gz"
    if not tarball.is_file():
        return Check("hepdata", FAIL, f"missing {tarball.relative_to(payload)}")
    with tempfile.TemporaryDirectory(prefix="agc-verify-hepdata-") as scratch:
        with tarfile.open(tarball) as tar:
            tar.extractall(scratch, filter="data")
        valid, messages = validate_submission(scratch)
        if not valid:
            return Check("hepdata", FAIL, f"hepdata-validator: {messages[0] if messages else '?'}")
        untyped = likelihoods_without_type(Path(scratch) / "submission.yaml")
    if untyped:
        return Check("hepdata", FAIL, f"likelihood resources not typed HistFactory: {untyped}")
    return Check("hepdata", PASS, "hepdata-validator passes; likelihoods typed HistFactory")


def likelihood_resource(location: str) -> bool:
    """A resource that is a pyhf likelihood: a workspace (.json) or likelihood tarball."""
    return location.endswith((".json", "likelihood.tar.gz"))


def likelihoods_without_type(submission_yaml: Path) -> list[str]:
    """Locations of likelihood resources in ``submission.yaml`` not typed HistFactory."""
    untyped = []
    for document in yaml.safe_load_all(submission_yaml.read_text(encoding="utf-8")):
        for resource in (document or {}).get("additional_resources", []):
            location = str(resource.get("location", ""))
            if likelihood_resource(location) and resource.get("type") != "HistFactory":
                untyped.append(location)
    return untyped


def check_crate_in_bag(payload: Path) -> Check:
    """The Workflow Run RO-Crate recorded in archive.json is there and complete."""
    record = json.loads((payload / "metadata" / "archive.json").read_text(encoding="utf-8"))
    recorded = record.get("crate")
    crate = payload / CRATE_DIR
    if recorded is None and not crate.exists():
        return Check("crate", SKIP, "archive built without a CWL provenance run")
    problems = check_crate(crate, manifest_files(payload / "inputs" / "manifest.json"))
    if problems:
        return Check("crate", FAIL, problems[0])
    detail = f"{CRATE_DIR}/ loads with rocrate: Workflow Run RO-Crate"
    if absent := declared_absent(crate):
        detail += f"; {len(absent)} regenerable inputs declared absent (sha256 in the manifest)"
    return Check("crate", PASS, detail)


def check_swhid(payload: Path) -> Check:
    """The bagged code tree has the SWHID its codemeta.json names."""
    meta = json.loads((payload / "metadata" / "codemeta.json").read_text(encoding="utf-8"))
    recorded = meta.get("identifier")
    if not recorded:
        return Check("swhid", FAIL, "codemeta.json records no SWHID (identifier)")
    computed = directory_swhid(payload / "code")
    if computed != recorded:
        return Check("swhid", FAIL, f"code/ is {computed}, codemeta.json says {recorded}")
    return Check("swhid", PASS, f"code/ is {computed}, as codemeta.json says")


def payload_checks(bag: Path) -> list[Check]:
    """The ``bag`` check and the checks of the bag's payload (each failing on its own)."""
    payload = bag / "data"
    checks = [check_bag(bag)]
    steps: tuple[tuple[str, Callable[[Path], Check]], ...] = (
        ("patchset", check_patchset),
        ("hepdata", check_hepdata),
        ("crate", check_crate_in_bag),
        ("swhid", check_swhid),
    )
    for name, check in steps:
        try:
            checks.append(check(payload))
        except (OSError, ValueError, AGCError, yaml.YAMLError, tarfile.TarError) as exc:
            detail = " ".join(str(exc).split())[:300]
            checks.append(Check(name, FAIL, f"{type(exc).__name__}: {detail}"))
    return checks


def verify_tarball(tarball: Path) -> Verification:
    """Every check of the bag tarball ``tarball``, unpacked into a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="agc-verify-bag-") as scratch:
        unpacked, bag = unpack_tarball(tarball, Path(scratch))
        checks = [unpacked] if bag is None else [unpacked, *payload_checks(bag)]
    return Verification(str(tarball.resolve()), checks)


def verify_archive(path: str | os.PathLike[str]) -> Verification:
    """Every check of the archive folder (holding ``bag/``), the bag or the bag tarball at
    ``path``.

    Raises:
        AGCError: ``path`` does not exist, or is neither a folder holding a bag nor a tarball.
    """
    path = Path(path)
    if not path.exists():
        raise AGCError(f"{path}: no such archive folder, bag or bag tarball")
    if path.is_file():
        if not path.name.endswith(TARBALL_SUFFIXES):
            raise AGCError(
                f"{path}: not an archive folder, a bag or a bag tarball "
                f"({', '.join(TARBALL_SUFFIXES)})"
            )
        return verify_tarball(path)
    bag = find_bag(path)
    archive = path if bag == path / "bag" else None
    try:
        files = check_files(archive)
    except (OSError, ValueError) as exc:
        files = Check("files", FAIL, f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
    checks = [files, *payload_checks(bag)]
    with contextlib.suppress(ValueError):
        bag = bag.resolve()
    return Verification(str(bag), checks)
