"""The published likelihood of the reinterpretation, the HEPData way: BkgOnly + PatchSet.

Every signal point writes ``<folder>/<signal>/patch.json`` (:func:`signal_patch`): the JSON Patch
turning the sorted background-only workspace into the sorted signal-plus-background one, with
the sha256 (``pyhf.utils.digest``) of the BkgOnly it was made against, the point's labels and the
declaration. :func:`build_patchset` joins the patches made against the current BkgOnly into one
pyhf PatchSet (``patchset.json``), :func:`collect_limits` their limits into ``summary.json``.
Patches made against another BkgOnly (stale) are left out.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import jsonpatch
import pyhf

from agc.core.errors import AGCError
from agc.reinterpret.results import LimitsSummary, PointLimits
from agc.reinterpret.signals import SignalDeclaration
from agc.stats.model import plain_json

log = logging.getLogger(__name__)

BKG_ONLY = "BkgOnly.json"
PATCHSET = "patchset.json"
PATCH = "patch.json"
LIMITS = "limits.json"
#: PatchSet references: pyhf's schema allows only a HEPData INSPIRE id (``ins`` + 7 digits).
#: The AGC has no HEPData record: this placeholder says so (see the patchset description).
HEPDATA_PLACEHOLDER = "ins0000000"
#: Keys of a point's ``limits.json`` copied into ``summary.json`` (when present).
SUMMARY_LIMIT_KEYS = ("observed", "expected", "converged", "poi", "level")


def read_json(path: Path) -> Any:
    """The content of a JSON file; AGCError naming the file if unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AGCError(f"cannot read {path}: {exc}") from None


def sorted_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The workspace in pyhf's canonical order (``pyhf.Workspace.sorted``) as plain JSON types."""
    try:
        ws = pyhf.Workspace.sorted(pyhf.Workspace(spec))
    except pyhf.exceptions.InvalidSpecification as exc:
        raise AGCError(f"workspace: invalid pyhf specification: {exc}") from None
    return plain_json(json.loads(json.dumps(ws)), "")


def make_patch(bkg_only: dict[str, Any], signal_spec: dict[str, Any]) -> list[dict[str, Any]]:
    """JSON Patch (RFC 6902 operations, ``jsonpatch.make_patch``) turning the sorted background-only
    workspace into the sorted signal-plus-background one."""
    return list(jsonpatch.make_patch(bkg_only, sorted_spec(signal_spec)).patch)


def signal_patch(
    declaration: SignalDeclaration,
    bkg_only: dict[str, Any],
    digest: str,
    signal_spec: dict[str, Any],
) -> dict[str, Any]:
    """The content of a point's ``patch.json``: the BkgOnly digest, the label names, the
    declaration file and the PatchSet entry (metadata with the label values, cross-section [pb]
    and filter efficiency, and the patch from ``bkg_only`` to ``signal_spec``)."""
    labels = list(declaration.labels)
    return {
        "bkg_only_sha256": digest,
        "labels": labels,
        "declaration": declaration.source,
        "patch": {
            "metadata": {
                "name": declaration.name,
                "values": [declaration.labels[k] for k in labels],
                "description": declaration.description,
                "xsec_pb": declaration.xsec,
                "filter_efficiency": declaration.filter_efficiency,
            },
            "patch": make_patch(bkg_only, signal_spec),
        },
    }


def point_patches(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """``(path, content)`` of every ``<folder>/*/patch.json``, sorted by path."""
    return [(path, read_json(path)) for path in sorted(folder.glob(f"*/{PATCH}"))]


def build_patchset(folder: Path, bkg_only: dict[str, Any]) -> dict[str, Any] | None:
    """The PatchSet of every ``<folder>/*/patch.json`` made against ``bkg_only`` (others are
    stale: skipped with a warning). None if there is no patch. Validated and verified by pyhf."""
    digest = pyhf.utils.digest(bkg_only, algorithm="sha256")
    patches, labels = [], None
    for path, entry in point_patches(folder):
        if entry.get("bkg_only_sha256") != digest:
            log.warning("patch %s was made for another BkgOnly workspace: left out", path)
            continue
        if labels is None:
            labels = entry["labels"]
        elif entry["labels"] != labels:
            raise AGCError(
                f"{path}: labels {entry['labels']} differ from the other signal points' {labels}"
            )
        patches.append(entry["patch"])
    if not patches:
        return None
    patches.sort(key=lambda p: ([float(v) for v in p["metadata"]["values"]], p["metadata"]["name"]))
    spec = {
        "metadata": {
            "description": (
                "AGC CMS 2015 Open Data ttbar analysis: signal-plus-background likelihoods "
                "(signal strength mu_sig, ttbar_norm free) for the declared signal points. "
                f"references.hepdata is a placeholder ({HEPDATA_PLACEHOLDER}): no HEPData record."
            ),
            "digests": {"sha256": digest},
            "labels": list(labels or []),
            "references": {"hepdata": HEPDATA_PLACEHOLDER},
        },
        "patches": patches,
        "version": "1.0.0",
    }
    try:
        patchset = pyhf.PatchSet(spec)
        patchset.verify(bkg_only)
    except (pyhf.exceptions.InvalidSpecification, pyhf.exceptions.PatchSetVerificationError) as exc:
        raise AGCError(f"{folder / PATCHSET}: invalid patchset: {exc}") from None
    return spec


def collect_limits(folder: Path, digest: str) -> LimitsSummary:
    """The limits of every signal point in ``folder`` made against the BkgOnly of sha256
    ``digest`` and having a ``limits.json`` (the content of ``summary.json``), sorted by mass
    (0 without one), then name."""
    points = []
    for path, entry in point_patches(folder):
        limits_path = path.parent / LIMITS
        if entry.get("bkg_only_sha256") != digest or not limits_path.is_file():
            continue
        limits = read_json(limits_path)
        metadata = entry["patch"]["metadata"]
        points.append(
            PointLimits(
                signal=metadata["name"],
                labels={
                    k: float(v) for k, v in zip(entry["labels"], metadata["values"], strict=True)
                },
                limits={k: limits[k] for k in SUMMARY_LIMIT_KEYS if k in limits},
            )
        )
    points.sort(key=lambda p: (p.to_dict().get("mass", 0.0), p.signal))
    return LimitsSummary(bkg_only_sha256=digest, points=points)
