"""Re-check an archive made by :func:`agc.publish.archive.build_archive` (``agc verify-archive``).

Each check reads the bag (``<archive>/bag``, or a bag given directly), so what is verified is
what is deposited:

``bag``       the BagIt manifests and every payload file's sha256 (bagit); a changed file is
              named;
``patchset``  every ``BkgOnly.json`` in the bagged outputs is the same bytes, and
              ``reinterpretation/patchset.json`` verifies against it (pyhf) and applies;
``hepdata``   the bagged HEPData submission tarball passes hepdata-validator, and its
              likelihoods (pyhf JSON) are typed HistFactory;
``crate``     the Workflow Run RO-Crate of the CWL run loads with rocrate and is complete
              (:func:`agc.publish.crate.check_crate`): every file it describes is there,
              except inputs declared absent whose sha256 is in the bagged inputs manifest;
``swhid``     the SWHID of the bagged code tree equals the one in the bagged codemeta.json.

A check with nothing to check (no reinterpretation outputs, an archive built without a CWL run)
is skipped, and says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import tarfile
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import bagit
import yaml

from agc.core.errors import AGCError
from agc.publish.crate import CRATE_DIR, check_crate, declared_absent, manifest_files
from agc.publish.swhid import directory_swhid

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"


@dataclass(frozen=True)
class Check:
    """One check of an archive: its ``name``, ``status`` (PASS, FAIL or SKIP), one-line ``detail``."""

    name: str
    status: str
    detail: str

    def line(self) -> str:
        """``STATUS name: detail``: what ``agc verify-archive`` prints for it."""
        return f"{self.status} {self.name}: {self.detail}"


@dataclass(frozen=True)
class Verification:
    """Every check of the archive at ``bag``; ``ok`` when none failed."""

    bag: str
    checks: list[Check]

    @property
    def ok(self) -> bool:
        """True when no check failed (skipped ones do not fail)."""
        return all(c.status != FAIL for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """``{"bag", "ok", "checks": [{"name", "status", "detail"}]}``."""
        return {"bag": self.bag, "ok": self.ok, "checks": [asdict(c) for c in self.checks]}


def find_bag(path: str | os.PathLike[str]) -> Path:
    """The bag of the archive folder ``path`` (``path/bag``) or ``path`` itself if it is a bag."""
    path = Path(path)
    for candidate in (path / "bag", path):
        if (candidate / "bagit.txt").is_file():
            return candidate
    raise AGCError(f"{path}: no BagIt bag (neither {path / 'bag'} nor {path} holds bagit.txt)")


def check_bag(bag: Path) -> Check:
    """Manifests and sha256 of every payload file (bagit), the changed files named."""
    logger = bagit.LOGGER
    level = logger.level
    logger.setLevel("WARNING")
    try:
        loaded = bagit.Bag(str(bag))
        loaded.validate(processes=1)
    except bagit.BagValidationError as exc:
        culprits = [getattr(d, "path", str(d)) for d in (exc.details or [])]
        what = ", ".join(culprits) if culprits else " ".join(str(exc).split())
        return Check("bag", FAIL, f"checksum or manifest mismatch: {what}")
    except bagit.BagError as exc:
        return Check("bag", FAIL, " ".join(str(exc).split()))
    finally:
        logger.setLevel(level)
    files = len(list(loaded.payload_files()))
    return Check("bag", PASS, f"{files} payload files, sha256 manifests match")


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


def verify_archive(path: str | os.PathLike[str]) -> Verification:
    """Every check of the archive (folder holding ``bag/``) or bag at ``path``.

    Raises:
        AGCError: ``path`` holds no bag.
    """
    bag = find_bag(path)
    payload = bag / "data"
    checks = [check_bag(bag)]
    for name, check in (
        ("patchset", check_patchset),
        ("hepdata", check_hepdata),
        ("crate", check_crate_in_bag),
        ("swhid", check_swhid),
    ):
        try:
            checks.append(check(payload))
        except (OSError, ValueError, AGCError, yaml.YAMLError, tarfile.TarError) as exc:
            detail = " ".join(str(exc).split())[:300]
            checks.append(Check(name, FAIL, f"{type(exc).__name__}: {detail}"))
    with contextlib.suppress(ValueError):
        bag = bag.resolve()
    return Verification(str(bag), checks)
