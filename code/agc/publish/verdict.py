"""The verdict of a reproduction: every archived output against the rerun's, under the contract.

Each archived output (a path relative to the bag's ``data/outputs/``) falls under one rule
(:func:`rule_for`), from :mod:`agc.stats.reproducibility`:

``bit-identical``   the event selection and its products (histograms, cut flow, workspaces,
                    dataset record, notes): byte for byte. When a ROOT file differs,
                    both are read (uproot) and the first differing histogram and bin are named;
                    the largest difference is the largest |bin content difference| over every
                    histogram of the file.
``contract``        what a minimiser makes (``fit_results.json``, ``limits.json``): every number
                    within its tolerance (:func:`agc.stats.reproducibility.fit_deviations`,
                    :func:`~agc.stats.reproducibility.limit_deviations`); the largest difference
                    is the one that uses the largest share of its tolerance.
``same content``    cabinetry's templates (``.npz``): the same arrays, value for value (the zip
                    container's bytes depend on the Python that wrote it); the partial outputs,
                    which record the absolute paths of their input files
                    (``files``), and, for a run whose ``inputs`` parameter names a manifest by
                    path, ``dataset.json`` (``inputs``): the same JSON apart from where the input
                    files were (the rerun's lie in its own folder); the manifest's sha256 and
                    every histogram are compared.
``not compared``    what records its own run (times, paths, the environment) or is drawn from
                    the outputs compared above: provenance, executed notebooks, step logs, the
                    report, figures; and the partial outputs, sample markers and cabinetry's
                    templates when the rerun's engine does not keep them (the CWL workflow).
                    Listed with the reason, never failed.

A :class:`Verdict` is one row of the table ``agc reproduce`` prints and writes as JSON.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agc.stats.reproducibility import Deviation, fit_deviations, limit_deviations, violations

BIT_IDENTICAL = "bit-identical"
CONTRACT = "contract"
SAME_CONTENT = "same content"
NOT_COMPARED = "not compared"

REPRODUCED = "reproduced"
NOT_REPRODUCED = "NOT reproduced"

#: Outputs never compared, by path prefix (a folder) or name, with the reason.
_NOT_COMPARED_PATHS: tuple[tuple[str, str], ...] = (
    ("provenance.json", "records its run's times, paths and environment"),
    ("report.html", "shows its run's provenance (times, paths)"),
    ("notebooks/", "executed notebooks hold their run's times and paths"),
    ("logs/", "step logs hold their run's timings"),
    ("reinterpretation/summary.json", "summarises the limits.json files, which are compared"),
)
#: Intermediates of the serial and Snakemake runs that the CWL workflow does not return: when the
#: rerun lacks them they are not compared (``histograms.root`` and the workspaces, made from
#: them, are).
_INTERMEDIATES = ("partial/", "samples/", "histograms_cabinetry/", "ml/histograms_cabinetry/")
_INTERMEDIATE_REASON = (
    "an intermediate the rerun's engine does not keep; what is made from it is compared"
)
#: Figures: drawn from the outputs that are compared.
_FIGURE_SUFFIXES = (".png", ".pdf", ".svg")
_FIGURE_REASON = "a figure drawn from the compared outputs (image bytes are not in the contract)"


@dataclass(frozen=True)
class Verdict:
    """One archived output against the rerun's: ``output`` (relative path), ``rule``
    (:data:`BIT_IDENTICAL`, :data:`CONTRACT`, :data:`SAME_CONTENT`, :data:`NOT_COMPARED`),
    ``largest_difference`` (in the output's own units; ``None`` when not compared),
    ``share_used`` (largest |difference| / tolerance: 0 = identical, > 1 violates; ``inf`` for
    any difference under a zero tolerance; ``None`` when not compared), ``verdict``
    (:data:`REPRODUCED`, :data:`NOT_REPRODUCED` or :data:`NOT_COMPARED`) and ``detail``
    (what differs first, or why it is not compared)."""

    output: str
    rule: str
    largest_difference: float | None
    share_used: float | None
    verdict: str
    detail: str = ""

    @property
    def failed(self) -> bool:
        """True when the output is not reproduced."""
        return self.verdict == NOT_REPRODUCED

    def to_dict(self) -> dict[str, Any]:
        """The JSON row (``inf`` written as the string ``"inf"``)."""
        row = asdict(self)
        for key in ("largest_difference", "share_used"):
            value = row[key]
            if value is not None and not math.isfinite(value):
                row[key] = str(value)
        return row


def rule_for(output: str, inputs_parameter: str = "embedded") -> tuple[str, str]:
    """The rule of the archived ``output`` (a path relative to the outputs folder) and, for
    :data:`NOT_COMPARED`, the reason, for :data:`SAME_CONTENT` the key left out.
    ``inputs_parameter``: the run's ``inputs`` parameter (a manifest named by path lies
    elsewhere in the rerun: the outputs that record where the input files were differ there)."""
    for prefix, reason in _NOT_COMPARED_PATHS:
        if output == prefix or (prefix.endswith("/") and output.startswith(prefix)):
            return NOT_COMPARED, reason
    name = output.rsplit("/", 1)[-1]
    if name.endswith(_FIGURE_SUFFIXES):
        return NOT_COMPARED, _FIGURE_REASON
    if (name.startswith("fit_results") and name.endswith(".json")) or name == "limits.json":
        return CONTRACT, ""
    if name.endswith(".npz"):
        return SAME_CONTENT, ""
    if output.startswith("partial/"):
        return SAME_CONTENT, "files"
    if output == "dataset.json" and inputs_parameter != "embedded":
        return SAME_CONTENT, "inputs"
    return BIT_IDENTICAL, ""


# --------------------------------------------------------------------------- the rules


def first_differing_byte(archived: bytes, rerun: bytes) -> int:
    """The offset [bytes] of the first byte where two contents differ (the shorter's length
    when one is a prefix of the other)."""
    for offset, (a, b) in enumerate(zip(archived, rerun, strict=False)):
        if a != b:
            return offset
    return min(len(archived), len(rerun))


def _histogram_arrays(path: Path) -> dict[str, Any]:
    """``{name: (values, variances)}`` of every histogram of a ROOT file (flow bins included)."""
    import uproot

    arrays = {}
    with uproot.open(path) as root:
        for name, classname in root.classnames().items():
            if classname.startswith(("TH1", "TH2", "TH3")):
                hist = root[name]
                arrays[name.split(";")[0]] = (hist.values(flow=True), hist.variances(flow=True))
    return arrays


def root_difference(archived: Path, rerun: Path) -> tuple[float, str]:
    """The largest |bin content difference| over the histograms of two ROOT files and the first
    differing histogram and bin (``"<name> bin <i>: <a> vs <b>"``; bins counted with the
    underflow bin as 0), or what else differs (a histogram on one side only, its binning)."""
    import numpy as np

    old, new = _histogram_arrays(archived), _histogram_arrays(rerun)
    if sorted(old) != sorted(new):
        only = sorted(set(old) ^ set(new))
        return math.inf, f"histograms on one side only: {', '.join(only[:3])}"
    largest, first = 0.0, ""
    for name in sorted(old):
        for kind, a, b in zip(("content", "variance"), old[name], new[name], strict=True):
            if a.shape != b.shape:
                return math.inf, f"{name}: binning differs ({a.shape} vs {b.shape})"
            differs = np.flatnonzero(a.ravel() != b.ravel())
            if differs.size:
                if kind == "content":
                    largest = max(largest, float(np.max(np.abs(a - b))))
                if not first:
                    i = int(differs[0])
                    first = (
                        f"{name} bin {i} {kind}: {float(a.ravel()[i])!r} vs {float(b.ravel()[i])!r}"
                    )
    return largest, first or "same histograms, other bytes (ROOT file metadata)"


def bit_identical(output: str, archived: Path, rerun: Path) -> Verdict:
    """The :data:`BIT_IDENTICAL` rule: same bytes, or the first difference named."""
    a, b = archived.read_bytes(), rerun.read_bytes()
    if a == b:
        return Verdict(output, BIT_IDENTICAL, 0.0, 0.0, REPRODUCED)
    if output.endswith(".root"):
        try:
            largest, detail = root_difference(archived, rerun)
        except (OSError, ValueError, KeyError) as exc:
            largest, detail = math.inf, f"unreadable ROOT file ({type(exc).__name__})"
    else:
        largest, detail = math.inf, f"bytes differ from byte {first_differing_byte(a, b)}"
    return Verdict(output, BIT_IDENTICAL, largest, math.inf, NOT_REPRODUCED, detail)


def within_contract(output: str, archived: Path, rerun: Path) -> Verdict:
    """The :data:`CONTRACT` rule: every number of a fit or limits record within its tolerance;
    the detail names the number using the largest share of its tolerance."""
    reference = json.loads(archived.read_text(encoding="utf-8"))
    obtained = json.loads(rerun.read_text(encoding="utf-8"))
    compare = limit_deviations if output.endswith("limits.json") else fit_deviations
    try:
        deviations = compare(obtained, reference)
    except (ValueError, KeyError, TypeError) as exc:
        detail = f"not comparable: {' '.join(str(exc).split())[:200]}"
        return Verdict(output, CONTRACT, math.inf, math.inf, NOT_REPRODUCED, detail)
    counted = [d for d in deviations if not (math.isnan(d.obtained) and math.isnan(d.reference))]
    if not counted:
        return Verdict(output, CONTRACT, 0.0, 0.0, REPRODUCED, "no numbers to compare")
    worst: Deviation = max(counted, key=lambda d: d.used)
    bad = violations(deviations)
    verdict = NOT_REPRODUCED if bad else REPRODUCED
    detail = f"{len(counted)} numbers, worst {worst.output}"
    if worst.used == 0:
        detail = f"{len(counted)} numbers, all identical"
    if bad:
        detail = f"{len(bad)} outside the tolerance, first {bad[0]}"
    largest = abs(worst.obtained - worst.reference)
    return Verdict(output, CONTRACT, largest, worst.used, verdict, detail)


def same_content(output: str, archived: Path, rerun: Path, ignored: str = "inputs") -> Verdict:
    """The :data:`SAME_CONTENT` rule: the same JSON apart from the key ``ignored``."""
    a = json.loads(archived.read_text(encoding="utf-8"))
    b = json.loads(rerun.read_text(encoding="utf-8"))
    a.pop(ignored, None)
    b.pop(ignored, None)
    if a == b:
        return Verdict(output, SAME_CONTENT, 0.0, 0.0, REPRODUCED, f"'{ignored}' not compared")
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    detail = f"differs in {', '.join(keys)}"
    return Verdict(output, SAME_CONTENT, math.inf, math.inf, NOT_REPRODUCED, detail)


def same_arrays(output: str, archived: Path, rerun: Path) -> Verdict:
    """The :data:`SAME_CONTENT` rule of a numpy ``.npz`` archive: the same arrays (names,
    dtypes, shapes, every value; the zip container's bytes depend on the Python that wrote it);
    the largest difference is the largest |value difference|."""
    import numpy as np

    with np.load(archived) as a, np.load(rerun) as b:
        if sorted(a.files) != sorted(b.files):
            return Verdict(
                output, SAME_CONTENT, math.inf, math.inf, NOT_REPRODUCED, "arrays differ"
            )
        for key in sorted(a.files):
            x, y = a[key], b[key]
            if x.dtype != y.dtype or x.shape != y.shape:
                detail = f"{key}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}"
                return Verdict(output, SAME_CONTENT, math.inf, math.inf, NOT_REPRODUCED, detail)
            if not np.array_equal(x, y, equal_nan=x.dtype.kind in "fc"):
                largest = float(np.nanmax(np.abs(x - y))) if x.dtype.kind in "fciu" else math.inf
                detail = f"{key}: values differ"
                return Verdict(output, SAME_CONTENT, largest, math.inf, NOT_REPRODUCED, detail)
    return Verdict(output, SAME_CONTENT, 0.0, 0.0, REPRODUCED, "same arrays")


def compare_output(
    output: str, archived_dir: Path, rerun_dir: Path, inputs_parameter: str = "embedded"
) -> Verdict:
    """The verdict on one archived ``output`` (relative path) of ``archived_dir`` against the
    same path in ``rerun_dir``."""
    rule, reason = rule_for(output, inputs_parameter)
    if rule == NOT_COMPARED:
        return Verdict(output, rule, None, None, NOT_COMPARED, reason)
    archived, rerun = archived_dir / output, rerun_dir / output
    if not rerun.is_file() and output.startswith(_INTERMEDIATES):
        return Verdict(output, NOT_COMPARED, None, None, NOT_COMPARED, _INTERMEDIATE_REASON)
    if not rerun.is_file():
        return Verdict(output, rule, None, None, NOT_REPRODUCED, "missing from the rerun")
    if rule == CONTRACT:
        return within_contract(output, archived, rerun)
    if rule == SAME_CONTENT and output.endswith(".npz"):
        return same_arrays(output, archived, rerun)
    if rule == SAME_CONTENT:
        return same_content(output, archived, rerun, ignored=reason)
    return bit_identical(output, archived, rerun)


def compare_outputs(
    archived_dir: str | os.PathLike[str],
    rerun_dir: str | os.PathLike[str],
    inputs_parameter: str = "embedded",
) -> list[Verdict]:
    """One :class:`Verdict` per file of ``archived_dir`` (the archived outputs), sorted by path,
    against the files of ``rerun_dir``; ``inputs_parameter``: the archived run's ``inputs``."""
    archived_dir, rerun_dir = Path(archived_dir), Path(rerun_dir)
    outputs = sorted(
        p.relative_to(archived_dir).as_posix() for p in archived_dir.rglob("*") if p.is_file()
    )
    return [compare_output(o, archived_dir, rerun_dir, inputs_parameter) for o in outputs]


# --------------------------------------------------------------------------- the table


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return "inf" if math.isinf(value) else f"{value:.3g}"


def _foldable(verdict: Verdict) -> bool:
    """A row that can share one line with its folder's like rows: in a folder, and not
    compared or identical (nothing to single out)."""
    return "/" in verdict.output and verdict.largest_difference in (None, 0.0)


def format_table(verdicts: list[Verdict], collapse: bool = True) -> str:
    """The verdict table: output, rule, largest difference, share of tolerance used, verdict
    (then what differs first). ``collapse``: the rows of one folder with the same rule, verdict
    and detail that are identical or not compared are one row (``notebooks/ (6 files)``);
    an output that differs at all keeps its own row."""
    groups: dict[tuple[str, str, str, str], list[Verdict]] = {}
    for v in verdicts:
        name = v.output.rsplit("/", 1)[0] + "/" if collapse and _foldable(v) else v.output
        groups.setdefault((name, v.rule, v.verdict, v.detail), []).append(v)
    rows = [["output", "rule", "largest diff", "of tolerance", "verdict", ""]]
    for (name, rule, verdict, detail), members in groups.items():
        first = members[0]
        label = first.output if len(members) == 1 else f"{name} ({len(members)} files)"
        largest, used = _number(first.largest_difference), _number(first.share_used)
        rows.append([label, rule, largest, used, verdict, detail])
    width = max(len(r[0]) for r in rows)
    lines = []
    for r in rows:
        line = f"{r[0]:{width}s}  {r[1]:13s}  {r[2]:>12s}  {r[3]:>12s}  {r[4]:14s}  {r[5]}"
        lines.append(line.rstrip())
    return "\n".join(lines)
