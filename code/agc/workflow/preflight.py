"""Checks of everything the workflow parameters name, made before any step runs.

The parameter schema checks each value's form (:func:`agc.core.parameters.validate_parameters`);
:func:`check_named_inputs` then checks what the values name in the workspace: the signal
declaration (it exists and passes its schema, :func:`agc.reinterpret.signals.load_signal`), the
manifest (its schema, the samples chosen, an entry count > 0 for every file read and every local
file present; the embedded default is made by the first step when missing) and the output
folder (writable). ``agc check-parameters`` (the first command of every workflow) and the local
runners call it, so a mistake stops a run before its first step.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from agc.core import resources
from agc.core.errors import AGCError
from agc.core.fileio import check_root_signature
from agc.core.parameters import default

#: Folder of the signal declarations (in the workspace; the analysis' own ones also count).
SIGNALS_DIR = Path("inputs") / "signals"
#: The ``signal`` value of the main measurement.
MAIN_SIGNAL = "ttbar"


def _value(params: dict[str, Any], name: str) -> Any:
    return params[name] if name in params else default(name)


def known_signals(root: Path) -> list[str]:
    """The declarations in ``<root>/inputs/signals`` and the analysis' own (those shipped with
    the package, :mod:`agc.core.resources`) as workspace paths, sorted, each once."""
    folders = [root / SIGNALS_DIR, resources.analysis_file(SIGNALS_DIR)]
    names = {p.name for folder in folders if folder is not None for p in folder.glob("*.y*ml")}
    return sorted((SIGNALS_DIR / name).as_posix() for name in names)


def suggest_signal(signal: str, root: Path) -> str:
    """``; did you mean ...?`` with the declarations closest to ``signal`` (by name), or
    the list of known declarations when none is close."""
    known = known_signals(root)
    names = {Path(p).stem: p for p in known}
    stem = Path(signal).stem

    def rank(name: str) -> tuple[float, int, str]:  # most similar, then longest common start
        ratio = difflib.SequenceMatcher(None, stem, name).ratio()
        pairs = enumerate(zip(stem, name, strict=False))
        start = next((i for i, (a, b) in pairs if a != b), min(len(stem), len(name)))
        return (-ratio, -start, name)

    close = sorted(difflib.get_close_matches(stem, list(names), n=len(names), cutoff=0.6), key=rank)
    close = close[:3]
    if close:
        return f"; did you mean {' or '.join(names[name] for name in close)}?"
    return f"; known: {', '.join(known)}" if known else ""


def resolve_signal(signal: str, root: Path) -> str:
    """The ``signal`` to run: ``ttbar`` and a declaration path as they are, a bare declaration
    name (``zprime_1000``) as its file ``inputs/signals/zprime_1000.yaml`` (in the workspace or
    shipped with the analysis); an unknown name is an :class:`AGCError` with the closest
    declarations."""
    from agc.reinterpret.signals import is_declaration

    if signal == MAIN_SIGNAL or is_declaration(signal):
        return signal
    for suffix in (".yaml", ".yml"):
        candidate = SIGNALS_DIR / f"{signal}{suffix}"
        if resources.resolve(candidate, root).is_file():
            return candidate.as_posix()
    raise AGCError(
        f"signal '{signal}' is neither '{MAIN_SIGNAL}' nor a signal declaration"
        f"{suggest_signal(signal, root)}"
    )


def check_signal(signal: str, root: Path) -> None:
    """``signal`` is ``ttbar`` or a declaration that exists in ``root`` and passes its schema.

    A bare declaration name is refused with the path to give (the workflows pass the value on
    to every step as it is)."""
    from agc.reinterpret.signals import (
        check_declaration,
        declaration_path,
        is_declaration,
        load_signal,
        read_declaration,
    )

    if signal == MAIN_SIGNAL:
        return
    if not is_declaration(signal):
        resolved = resolve_signal(signal, root)
        raise AGCError(
            f"signal '{signal}' is neither '{MAIN_SIGNAL}' nor a signal declaration; "
            f"did you mean {resolved}?"
        )
    if not resources.resolve(signal, root).is_file():
        raise AGCError(f"signal declaration not found: {signal}{suggest_signal(signal, root)}")
    data = read_declaration(declaration_path(signal, root))
    check_declaration(data, signal)
    if "embedded" not in data:  # the embedded dataset is made by the first step
        load_signal(signal, workspace=root)


def _files_read(inputs: str, samples: str, max_files: int, root: Path) -> list[tuple[str, Any]]:
    """``(sample, file record)`` of every file a run reads (the first ``max_files`` of each
    sample ``samples`` chooses) from the manifest ``inputs`` names, checked against its schema;
    none for ``inputs=embedded`` before its manifest exists (the dataset step makes it)."""
    from agc.dataset.manifest import EMBEDDED_KEYWORD, Manifest, resolve_inputs

    path = root / resolve_inputs(inputs)
    if inputs == EMBEDDED_KEYWORD and not path.is_file():
        return []
    manifest = Manifest.load(path)
    return [
        (sample.key, record)
        for sample in manifest.select(samples, max_files)
        for record in sample.files
    ]


def _refuse_empty(inputs: str, files: list[tuple[str, Any]]) -> None:
    """:class:`AGCError` naming the first of ``files`` whose entry count ``nevts`` is not > 0."""
    for key, record in files:
        if record.nevts <= 0:
            raise AGCError(
                f"{inputs}: sample '{key}': file {record.path} has nevts {record.nevts}; "
                "the entry count must be > 0"
            )


def check_entry_counts(inputs: str, samples: str, max_files: int, root: Path) -> None:
    """Every file a run reads from the manifest ``inputs`` has an entry count ``nevts`` > 0
    (the normalisation divides by it): what the histogram stage checks before processing."""
    _refuse_empty(inputs, _files_read(inputs, samples, max_files, root))


def check_manifest(inputs: str, samples: str, max_files: int, root: Path) -> None:
    """The manifest ``inputs`` names passes its schema, ``samples`` are in it, and every file
    a run reads (the first ``max_files`` of each chosen sample) has an entry count ``nevts`` > 0,
    exists locally and starts as a ROOT file does (URLs are not fetched).

    ``inputs=embedded`` is checked only when its manifest exists (the dataset step makes it)."""
    from agc.dataset.manifest import is_remote

    files = _files_read(inputs, samples, max_files, root)
    _refuse_empty(inputs, files)
    for key, record in files:
        if is_remote(record.path):
            continue
        if not os.path.isfile(record.path):
            raise AGCError(f"{inputs}: sample '{key}': file not found: {record.path}")
        try:
            check_root_signature(record.path, f"(sample {key})")
        except AGCError as exc:
            raise AGCError(f"{inputs}: {exc}") from None


def check_outdir(outdir: str, root: Path) -> None:
    """The output folder ``outdir`` (in ``root``) is a folder we may write into, or can be
    made: its closest existing parent is a writable folder."""
    path = root / outdir
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise AGCError(f"outdir '{outdir}': {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise AGCError(f"outdir '{outdir}': {existing} is not writable")


def check_named_inputs(params: dict[str, Any], root: Path | None = None) -> None:
    """Check what the validated parameters ``params`` name in the workspace ``root`` (default:
    the working directory): the signal, the manifest and the output folder; the first problem
    is an :class:`AGCError`."""
    root = Path.cwd() if root is None else Path(root)
    check_signal(str(_value(params, "signal")), root)
    check_manifest(
        str(_value(params, "inputs")),
        _value(params, "samples"),
        int(_value(params, "max_files")),
        root,
    )
    check_outdir(str(_value(params, "outdir")), root)
