"""Signal declarations for reinterpretation: which sample is the new signal, and its cross-section.

A declaration is a small YAML file (``inputs/signals/*.yaml``, schema
``schemas/signal.schema.json``) naming one signal sample in one of three ways::

    embedded: zprime_1000            # a sample of the embedded dataset (data/embedded/manifest.json)

    manifest: data/my/manifest.json  # a manifest in the AGC layout + the process (and variation)
    process: zprime_1000

    name: zprime_1000                # inline files in the AGC layout
    files: [{path: data/my/zp.root, nevts: 10000, sha256: ...}]

with the cross-section ``xsec`` [pb] (required), an optional ``filter_efficiency`` (default 1)
and the ``labels`` of the signal point (e.g. ``{mass: 1000}``, GeV), used as the pyhf PatchSet
labels. Every path is relative to the workspace (the working directory): an absolute path, a
``..`` component, a missing cross-section, a number that is not finite (``.nan``, ``.inf``), a key
given twice, an unknown key or a missing file is an :class:`~agc.core.errors.AGCError` raised by
:func:`load_signal`, before any processing.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from agc.core import resources
from agc.core.errors import AGCError
from agc.core.fileio import read_input_text
from agc.core.validation import load_schema, validate
from agc.core.yamlsafe import load_unique
from agc.dataset.manifest import EMBEDDED_MANIFEST, is_remote, load_manifest, sample_key

#: The keyword of the ``signal`` parameter that means "the default measurement" (ttbar as signal).
DEFAULT_SIGNAL = "ttbar"
#: The parameter of interest of a new signal's normalisation (signal strength).
SIGNAL_POI = "mu_sig"
_SOURCES = ("embedded", "manifest", "files")


@dataclass(frozen=True)
class SignalDeclaration:
    """One signal sample, resolved and checked.

    ``name``: process name of the signal (histograms ``{region}_{name}``); ``xsec``: cross-section
    [pb]; ``filter_efficiency``: fraction of ``xsec`` the files represent (effective cross-section
    = xsec * filter_efficiency); ``labels``: label values of the point (e.g. ``{"mass": 1000.0}``);
    ``files``: the AGC-layout file records ``{path (absolute or URL), nevts, sha256?, size?}``;
    ``source``: the declaration file (as given).
    """

    name: str
    xsec: float
    filter_efficiency: float
    labels: dict[str, float]
    files: list[dict[str, Any]]
    source: str
    description: str = ""
    origin: dict[str, str] = field(default_factory=dict)

    @property
    def sample(self) -> str:
        """The coffea dataset name of the signal sample, ``{name}__nominal``."""
        return sample_key(self.name, "nominal")

    def manifest(self) -> dict[str, Any]:
        """A one-sample manifest (AGC layout) holding the signal as ``{name: {nominal: ...}}``."""
        return {
            self.name: {
                "nominal": {
                    "nevts_total": int(sum(int(f["nevts"]) for f in self.files)),
                    "files": [dict(f) for f in self.files],
                    "xsec": self.xsec,
                    "filter_efficiency": self.filter_efficiency,
                    "label": self.description or self.name,
                }
            }
        }


def _inside(path_text: str, workspace: Path, source: str, key: str) -> Path:
    """``workspace / path_text`` if it is a relative path staying inside the workspace."""
    pure = PurePosixPath(path_text.replace("\\", "/"))
    if pure.is_absolute() or os.path.isabs(path_text) or ".." in pure.parts:
        raise AGCError(
            f"{source}: '{key}' must be a relative path inside the workspace (not absolute, "
            f"no '..'), got {path_text!r}"
        )
    resolved = (workspace / pure).resolve()
    root = workspace.resolve()
    if resolved != root and root not in resolved.parents:
        raise AGCError(f"{source}: '{key}' {path_text!r} resolves outside the workspace ({root})")
    return resolved


def read_declaration(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The raw YAML mapping of a declaration; AGCError naming the file (and line) if unreadable
    or if a mapping gives one key twice."""
    path = Path(path)
    text = read_input_text(path, "signal declaration")
    try:
        data = load_unique(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise AGCError(f"{path}:{where}: malformed YAML ({problem})") from None
    if not isinstance(data, dict):
        raise AGCError(
            f"{path}: a signal declaration must be a YAML mapping, got {type(data).__name__}"
        )
    return data


def non_finite_numbers(value: Any, where: str = "") -> list[tuple[str, float]]:
    """``(key path, number)`` of every NaN or infinite float in ``value`` (nested mappings and
    lists; paths as ``labels/mass`` or ``files/0/size``): JSON Schema cannot refuse them."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [(where, value)]
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return []
    found = []
    for key, item in items:
        found += non_finite_numbers(item, f"{where}/{key}" if where else str(key))
    return found


def check_declaration(data: dict[str, Any], source: str) -> None:
    """Schema checks with one-line messages for the common mistakes, then the full schema."""
    if non_finite := non_finite_numbers(data):
        where, number = non_finite[0]
        raise AGCError(f"{source}: '{where}' must be a finite number, got {number}")
    known = set(load_schema("signal")["properties"])
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise AGCError(f"{source}: unknown key '{unknown[0]}' (known: {', '.join(sorted(known))})")
    if "xsec" not in data:
        raise AGCError(f"{source}: missing key 'xsec' (the signal cross-section in pb)")
    if "labels" not in data:
        raise AGCError(
            f"{source}: missing key 'labels' (label values of the point, e.g. mass: 1000)"
        )
    given = [k for k in _SOURCES if k in data]
    if len(given) != 1:
        raise AGCError(
            f"{source}: give exactly one of 'embedded', 'manifest' (+ 'process') or 'files' "
            f"(+ 'name'), got {given or 'none'}"
        )
    if "manifest" in data and "process" not in data:
        raise AGCError(f"{source}: missing key 'process' (the manifest's process of the signal)")
    if "files" in data and "name" not in data:
        raise AGCError(f"{source}: missing key 'name' (process name of the inline signal files)")
    for key in ("process", "variation"):
        if key in data and "manifest" not in data:
            raise AGCError(f"{source}: key '{key}' is only allowed with 'manifest'")
    validate(data, "signal", source)


def declaration_path(path: str | os.PathLike[str], root: Path) -> Path:
    """The declaration file ``path`` (relative to the workspace ``root``, or absolute inside it);
    a relative one missing from the workspace is the analysis' own declaration of that name
    (:func:`agc.core.resources.analysis_file`) when there is one."""
    source = os.fspath(path)
    decl_path = Path(path)
    if not decl_path.is_absolute():
        inside = _inside(source, root, source, "signal")
        shipped = None if inside.exists() else resources.analysis_file(PurePosixPath(source))
        return shipped if shipped is not None and shipped.is_file() else inside
    if root.resolve() not in decl_path.resolve().parents:  # allowed (e.g. from Python) inside
        raise AGCError(
            f"{source}: the signal declaration must be inside the workspace ({root.resolve()})"
        )
    return decl_path


def signal_source(
    data: dict[str, Any], root: Path, source: str, embedded_manifest: Path | None
) -> tuple[Path | None, str, str, dict[str, str]]:
    """Where a checked declaration takes its sample from: ``(manifest or None for inline files,
    process, variation, origin record)``; AGCError if the manifest is missing."""
    if "embedded" in data:
        manifest_path = embedded_manifest or root / EMBEDDED_MANIFEST
        if not manifest_path.is_file():
            raise AGCError(
                f"{source}: 'embedded: {data['embedded']}' needs the embedded dataset, but "
                f"{manifest_path} is missing (run `agc generate --output data/embedded`)"
            )
        return manifest_path, data["embedded"], "nominal", {"embedded": data["embedded"]}
    if "manifest" in data:
        manifest_path = _inside(data["manifest"], root, source, "manifest")
        if not manifest_path.is_file():
            raise AGCError(f"{source}: manifest not found: {data['manifest']}")
        process, variation = data["process"], data.get("variation", "nominal")
        origin = {"manifest": data["manifest"], "process": process, "variation": variation}
        return manifest_path, process, variation, origin
    return None, data["name"], "nominal", {"files": "inline"}


def manifest_files(
    manifest_path: Path, process: str, variation: str, source: str
) -> list[dict[str, Any]]:
    """The file records of sample ``process``/``variation`` in a manifest (AGC layout)."""
    manifest = load_manifest(manifest_path)
    if process not in manifest or variation not in manifest[process]:
        known = ", ".join(sorted(manifest))
        raise AGCError(
            f"{source}: sample '{sample_key(process, variation)}' is not in {manifest_path} "
            f"(processes: {known})"
        )
    return [dict(item) for item in manifest[process][variation]["files"]]


def inline_files(data: dict[str, Any], root: Path, source: str) -> list[dict[str, Any]]:
    """The declaration's own ``files`` records, local paths resolved inside the workspace."""
    files = []
    for i, item in enumerate(data["files"]):
        record = dict(item)
        if not is_remote(record["path"]):
            record["path"] = str(_inside(record["path"], root, source, f"files/{i}/path"))
        files.append(record)
    return files


def check_signal_files(files: list[dict[str, Any]], source: str) -> None:
    """Every local file exists and has its declared ``size`` [bytes] (remote ones are skipped)."""
    for record in files:
        local = record["path"]
        if is_remote(local):
            continue
        if not os.path.isfile(local):
            raise AGCError(f"{source}: signal file not found: {local}")
        if "size" in record and os.path.getsize(local) != int(record["size"]):
            raise AGCError(
                f"{source}: signal file {local} is {os.path.getsize(local)} bytes, "
                f"declared {record['size']}"
            )


def load_signal(
    path: str | os.PathLike[str],
    *,
    workspace: str | os.PathLike[str] | None = None,
    embedded_manifest: str | os.PathLike[str] | None = None,
    check_files: bool = True,
) -> SignalDeclaration:
    """Read, validate and resolve a signal declaration; check that its files exist.

    Args:
        path: the declaration (YAML); a relative path is taken inside ``workspace``.
        workspace: the folder every relative path is resolved from and must stay inside
            (default: the working directory).
        embedded_manifest: manifest used for ``embedded:`` (default
            ``<workspace>/data/embedded/manifest.json``).
        check_files: verify that every local file exists (and has the declared size).

    Raises:
        AGCError: one line naming the declaration and the key or file at fault.
    """
    root = Path(workspace) if workspace is not None else Path.cwd()
    source = os.fspath(path)
    data = read_declaration(declaration_path(path, root))
    check_declaration(data, source)
    manifest_path, process, variation, origin = signal_source(
        data, root, source, Path(embedded_manifest) if embedded_manifest else None
    )
    if manifest_path is not None:
        files = manifest_files(manifest_path, process, variation, source)
    else:
        files = inline_files(data, root, source)
    if check_files:
        check_signal_files(files, source)
    return SignalDeclaration(
        name=data.get("name", process),
        xsec=float(data["xsec"]),
        filter_efficiency=float(data.get("filter_efficiency", 1.0)),
        labels={str(k): float(v) for k, v in sorted(data["labels"].items())},
        files=files,
        source=source,
        description=str(data.get("description", "")),
        origin=origin,
    )


def is_declaration(signal: str) -> bool:
    """True when the ``signal`` parameter names a signal declaration file (YAML), not a sample."""
    return str(signal).endswith((".yaml", ".yml"))


def analysis_signal(signal: str) -> str:
    """Signal sample of the main measurement for the workflow parameter ``signal``.

    A declaration file is the reinterpretation step's input: the main measurement (workspace,
    fit, plots) stays the preserved ttbar analysis, so this returns ``"ttbar"`` for it.
    """
    return "ttbar" if is_declaration(signal) else str(signal)
