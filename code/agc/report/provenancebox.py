"""The provenance box and the list of outputs of the run report.

:func:`provenance_section` shows ``provenance.json`` (written by the report stage just before
the HTML) for a person: engine, start/end, the wall time of every step (papermill's record in
the executed notebooks), code and lock hashes, the image, parameters and the input files with
their checksums. :func:`outputs_section` links the run's products.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any

from agc.report import htmlparts as h
from agc.report.runoutputs import RunOutputs, step_times

#: Products the outputs section links when they exist (files, then folders).
PRODUCTS = (
    "histograms.root",
    "cutflow.json",
    "workspace.json",
    "fit_results.json",
    "dataset.json",
    "provenance.json",
)
FOLDERS = ("plots", "notebooks", "reinterpretation")
#: The file naming the analysis image (environment/image), looked up from the working directory.
IMAGE_FILE = Path("environment") / "image"


def _image() -> str:
    """The image named in environment/image (the workspace's, else the package's)."""
    from agc.publish.provenance import package_root

    for path in (IMAGE_FILE, package_root() / IMAGE_FILE):
        try:
            return path.read_text(encoding="utf-8").strip() or "–"
        except OSError:
            continue
    return "– (environment/image not found)"


def _wall_time(record: dict[str, Any]) -> str:
    try:
        started = dt.datetime.fromisoformat(record["started"])
        finished = dt.datetime.fromisoformat(record["finished"])
    except (KeyError, TypeError, ValueError):
        return "–"
    return f"{(finished - started).total_seconds():.0f} s"


def _code(record: dict[str, Any]) -> dict[str, Any]:
    package = record.get("package") or {}
    env = record.get("environment") or {}
    dirty = {True: " (with uncommitted changes)", False: "", None: " (no git)"}
    return {
        "package": f"{html.escape(str(package.get('name')))} "
        f"{html.escape(str(package.get('version')))}",
        "git commit": h.short_hash(package.get("commit")) + dirty.get(package.get("dirty"), ""),
        "code sha256": h.short_hash(package.get("code_sha256"))
        + f" ({html.escape(str(package.get('code_source')))})",
        "lock sha256": h.short_hash(env.get("lock_sha256"))
        + f" ({html.escape(str(env.get('lock_file')))})",
        "Python": html.escape(f"{env.get('implementation', '')} {env.get('python', '')}"),
        "image": f"<code>{html.escape(_image())}</code>",
    }


def _inputs(record: dict[str, Any]) -> str:
    inputs = record.get("inputs") or {}
    files = inputs.get("files") or []
    head = (
        f"<p>manifest <code>{html.escape(str(inputs.get('manifest')))}</code> "
        f"(sha256 {h.short_hash(inputs.get('manifest_sha256'))}): {len(files)} files, "
        f"{h.escape(sum(int(f.get('nevts') or 0) for f in files))} events</p>"
    )
    rows = [
        {
            "sample": f.get("sample"),
            "file": f.get("path"),
            "events": f.get("nevts"),
            "sha256": h.short_hash(f.get("sha256"), 16),
        }
        for f in files
    ]
    return head + h.details(f"the {len(files)} input files", h.table(rows, raw=("sha256",)))


def provenance_section(run: RunOutputs) -> str | None:
    """Inputs and checksums, parameters, engine, code and lock hashes, image, times."""
    record = run.json("provenance.json")
    if not isinstance(record, dict):
        return None
    times = {
        "engine": record.get("engine"),
        "started": record.get("started"),
        "finished": record.get("finished"),
        "wall time": _wall_time(record),
    }
    steps = step_times(run.path("notebooks"))
    step_table = h.table(steps, ["step", "seconds", "started"]) if steps else ""
    parameters = record.get("parameters") or {}
    body = (
        '<div class="agc-row agc-provenance">'
        f"<div><h3>Run</h3>{h.key_values(times)}{step_table}</div>"
        f"<div><h3>Code</h3>{h.key_values(_code(record), raw=tuple(_code(record)))}</div>"
        f"<div><h3>Parameters</h3>{h.key_values(parameters)}</div>"
        "</div>"
        f"<h3>Inputs</h3>{_inputs(record)}"
    )
    return h.section("provenance", "Provenance", body)


def outputs_section(run: RunOutputs) -> str | None:
    """Links to the run's products (files and folders beside the report)."""
    links = [
        f'<li><a href="{run.link(name)}">{html.escape(name)}</a></li>'
        for name in PRODUCTS
        if run.exists(name)
    ]
    links += [
        f'<li><a href="{run.link(name)}/">{html.escape(name)}/</a></li>'
        for name in FOLDERS
        if run.path(name).is_dir()
    ]
    if not links:
        return None
    return h.section("outputs", "Outputs", f'<ul class="agc-links">{"".join(links)}</ul>')
