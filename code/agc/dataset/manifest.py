"""Input file lists in the AGC layout, for the embedded default and the real AGC inputs alike.

Layout (the AGC's ``nanoaod_inputs.json``)::

    {process: {variation: {"nevts_total": N, "files": [{"path": P, "nevts": n}, ...]}}}

The embedded default's manifest adds, per sample, ``xsec`` [pb] and ``filter_efficiency``
and, per file, ``sha256`` and ``size`` [bytes]. Relative paths resolve from the manifest's
folder; URLs (``root://``, ``https://``) are passed to uproot untouched.

A run reads its manifest once, as a :class:`Manifest` (validated on creation); its
:meth:`Manifest.select` gives the chosen samples (:class:`SelectedSample`, each with its
:class:`InputFile` records, kept by ``max_files``), which the input checks, the coffea fileset
(:func:`coffea_fileset`), the cache key and the partial outputs all read.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agc.core import physics
from agc.core.errors import AGCError
from agc.core.fileio import read_input_text, write_json
from agc.core.validation import validate

SAMPLE_SEPARATOR = "__"


def sample_key(process: str, variation: str) -> str:
    """Dataset name of one sample as coffea sees it, e.g. ``ttbar__nominal``."""
    return f"{process}{SAMPLE_SEPARATOR}{variation}"


def is_remote(path: str) -> bool:
    """True for URLs (``root://``, ``https://``, ...) that uproot opens over the network."""
    return "://" in path and not path.startswith("file://")


def load_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a manifest; relative file paths are made absolute.

    Raises :class:`AGCError` naming the file for a missing file, malformed JSON or a schema
    violation (naming the key).
    """
    path = Path(path)
    text = read_input_text(path, "manifest")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AGCError(
            f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    validate(data, "manifest", str(path))
    base = path.resolve().parent
    for variations in data.values():
        for entry in variations.values():
            for item in entry["files"]:
                if not is_remote(item["path"]):
                    local = item["path"].removeprefix("file://")
                    item["path"] = (
                        str((base / local).resolve()) if not os.path.isabs(local) else local
                    )
    return data


def write_manifest(path: str | os.PathLike[str], data: dict[str, Any]) -> Path:
    """Validate and atomically write a manifest (canonical, sorted JSON)."""
    validate(data, "manifest", str(path))
    return write_json(path, data)


def cross_section(process: str, entry: dict[str, Any]) -> float:
    """Effective cross-section [pb] of a sample: its own ``xsec`` x ``filter_efficiency`` if given,
    else the physics card's value; unknown process without ``xsec`` is an error."""
    if "xsec" in entry:
        return float(entry["xsec"]) * float(entry.get("filter_efficiency", 1.0))
    if process in physics.XSEC_PB:
        return physics.XSEC_PB[process] * float(entry.get("filter_efficiency", 1.0))
    raise AGCError(f"no cross-section for process '{process}': add 'xsec' to its manifest entry")


def select_samples(
    manifest: Mapping[str, Any], samples: str | list[str] | None = None
) -> list[tuple[str, str]]:
    """(process, variation) pairs chosen by ``samples``.

    ``samples`` is ``None``/``"all"`` (the analysis processes of the physics card that the
    manifest has), or a list / comma-separated string of ``process`` (all its variations) or
    ``process__variation`` names. An unknown name is an error listing the known ones.
    """
    if samples is None or samples in ("all", ["all"]):
        chosen = [(p, v) for p in physics.VARIATIONS for v in manifest.get(p, {})]
        if not chosen:
            raise AGCError(
                f"manifest has none of the analysis processes {sorted(physics.VARIATIONS)}"
            )
        return chosen
    names = [s.strip() for s in samples.split(",")] if isinstance(samples, str) else list(samples)
    chosen: list[tuple[str, str]] = []
    for name in names:
        if not name:
            continue
        process, sep, variation = name.partition(SAMPLE_SEPARATOR)
        if process not in manifest or (sep and variation not in manifest[process]):
            known = sorted(sample_key(p, v) for p, vs in manifest.items() for v in vs)
            close = difflib.get_close_matches(name, [*sorted(manifest), *known], n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise AGCError(
                f"unknown sample '{name}'{hint}; known: {', '.join(sorted(manifest))} or "
                f"{', '.join(known)}"
            )
        pairs = [(process, variation)] if sep else [(process, v) for v in manifest[process]]
        chosen.extend(pair for pair in pairs if pair not in chosen)
    if not chosen:
        raise AGCError("no sample selected: 'samples' is empty")
    return chosen


def fileset(
    manifest: Manifest | Mapping[str, Any],
    samples: str | list[str] | None = None,
    max_files: int = -1,
) -> dict[str, dict[str, Any]]:
    """coffea fileset of the samples a manifest (:class:`Manifest` or its dict) selects
    (:meth:`Manifest.select`, :func:`coffea_fileset`)."""
    return coffea_fileset(Manifest.of(manifest).select(samples, max_files))


def coffea_fileset(samples: Iterable[SelectedSample]) -> dict[str, dict[str, Any]]:
    """coffea fileset ``{dataset: {"files": {path: "Events"}, "metadata": {...}}}``.

    The metadata's ``nevts`` is the sum of ``nevts`` of the sample's files (the MC
    normalisation's N_generated), ``xsec`` the effective cross-section [pb], ``checksums`` the
    manifest's sha256 per path.
    """
    return {
        sample.key: {
            "files": {item.path: "Events" for item in sample.files},
            "metadata": {
                "process": sample.process,
                "variation": sample.variation,
                "xsec": sample.xsec,
                "nevts": sample.nevts,
                "checksums": {item.path: item.sha256 for item in sample.files},
            },
        }
        for sample in samples
    }


@dataclass(frozen=True)
class InputFile:
    """One input file of a sample: its ``path`` (absolute, or a URL), the manifest's ``nevts``
    (N_generated of the file), ``sha256`` and ``size`` [bytes] (None when not recorded); once
    read, ``content``: the sha256 of its bytes (equal to ``sha256`` when that is recorded) and
    ``entries``: the number of entries of its ``Events`` tree."""

    path: str
    nevts: int
    sha256: str | None = None
    size: int | None = None
    content: str | None = None
    entries: int | None = None

    @property
    def remote(self) -> bool:
        """True for a URL that uproot opens over the network (:func:`is_remote`)."""
        return is_remote(self.path)


@dataclass(frozen=True)
class SelectedSample:
    """One sample chosen by :meth:`Manifest.select`: ``process``, ``variation``, the effective
    cross-section ``xsec`` [pb] (1 for data) and its ``files`` (kept by ``max_files``)."""

    process: str
    variation: str
    xsec: float
    files: tuple[InputFile, ...]

    @property
    def key(self) -> str:
        """The dataset name, e.g. ``ttbar__nominal``."""
        return sample_key(self.process, self.variation)

    @property
    def nevts(self) -> int:
        """N_generated of the sample: the sum of ``nevts`` of its files."""
        return int(sum(item.nevts for item in self.files))

    @property
    def paths(self) -> list[str]:
        """The paths of its files, in manifest order."""
        return [item.path for item in self.files]

    def with_files(self, files: Iterable[InputFile]) -> SelectedSample:
        """The same sample with ``files`` (e.g. the files once checked)."""
        return dataclasses.replace(self, files=tuple(files))


class Manifest:
    """A manifest in the AGC layout, validated against ``schemas/manifest.schema.json`` on
    creation; :meth:`select` gives the samples a run reads.

    ``data``: the manifest's dict (local paths already absolute, as :func:`load_manifest`
    makes them); ``source``: what to name in error messages (the file, or ``"inputs"``).
    """

    def __init__(self, data: Mapping[str, Any], source: str = "inputs") -> None:
        validate(data, "manifest", source)
        self.data: dict[str, Any] = dict(data)
        self.source = source

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Manifest:
        """Read and validate the manifest file ``path`` (:func:`load_manifest`)."""
        return cls._checked(load_manifest(path), str(path))

    @classmethod
    def _checked(cls, data: dict[str, Any], source: str) -> Manifest:
        """A manifest whose dict was validated already (by :func:`load_manifest`)."""
        manifest = cls.__new__(cls)
        manifest.data, manifest.source = data, source
        return manifest

    @classmethod
    def of(cls, inputs: Manifest | str | os.PathLike[str] | Mapping[str, Any]) -> Manifest:
        """The manifest named by ``inputs``: a :class:`Manifest` (returned as it is), a path,
        ``"embedded"`` (:func:`resolve_inputs`) or a manifest dict (validated)."""
        if isinstance(inputs, Manifest):
            return inputs
        if isinstance(inputs, Mapping):
            return cls(inputs)
        return cls.load(resolve_inputs(inputs))

    def __getitem__(self, process: str) -> dict[str, Any]:
        return self.data[process]

    def __contains__(self, process: object) -> bool:
        return process in self.data

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def select(
        self, samples: str | list[str] | None = "all", max_files: int = -1
    ) -> list[SelectedSample]:
        """The samples chosen by ``samples`` (:func:`select_samples`), each with its first
        ``max_files`` files (like the AGC's ``N_FILES_MAX_PER_SAMPLE``; -1 = all).

        A file listed twice in a sample is an error naming it.
        """
        if max_files == 0 or max_files < -1:
            raise AGCError(f"max_files must be -1 (all) or a positive integer, got {max_files}")
        chosen = []
        for process, variation in select_samples(self.data, samples):
            entry = self.data[process][variation]
            records = entry["files"] if max_files == -1 else entry["files"][:max_files]
            name = sample_key(process, variation)
            paths = [item["path"] for item in records]
            duplicates = sorted({p for p in paths if paths.count(p) > 1})
            if duplicates:
                raise AGCError(
                    f"sample '{name}': file {duplicates[0]} is listed twice in the manifest"
                )
            files = tuple(
                InputFile(
                    path=item["path"],
                    nevts=int(item["nevts"]),
                    sha256=item.get("sha256"),
                    size=item.get("size"),
                )
                for item in records
            )
            xsec = cross_section(process, entry) if process != "data" else 1.0
            chosen.append(SelectedSample(process, variation, xsec, files))
        return chosen


#: Where ``inputs=embedded`` points: the embedded default's manifest (relative to the workspace).
EMBEDDED_MANIFEST = Path("data") / "embedded" / "manifest.json"
EMBEDDED_KEYWORD = "embedded"
#: Name of the sidecar beside a generated dataset's manifest that records what produced it
#: (written by :func:`agc.dataset.generate.generate_dataset`).
GENERATION_RECORD = "generation.json"


def resolve_inputs(inputs: str | os.PathLike[str]) -> Path:
    """Path of the manifest named by the ``inputs`` parameter.

    ``"embedded"`` is the embedded default (``data/embedded/manifest.json`` in the working
    directory); anything else is a path to a manifest in the AGC layout.
    """
    if str(inputs) == EMBEDDED_KEYWORD:
        return EMBEDDED_MANIFEST
    if not str(inputs).strip():
        raise AGCError("parameter 'inputs' is empty: give 'embedded' or a manifest path")
    return Path(inputs)
