"""The HTML report of a run: its summary, then the executed stage notebooks.

:func:`build_report` writes one self-contained HTML file that leads with the result: first the
run's summary built from its outputs (:func:`agc.report.summary.summary_html`: the POI, fit
quality and post-fit plots on the first screen, then pre-fit plots, pulls, impacts,
correlations, limits, cut flow, provenance and links to the outputs), then the executed
notebooks of ``outputs/notebooks/*.ipynb`` (name order) rendered with nbconvert's
``HTMLExporter`` and the report's own template (``templates/agc_report``, based on ``lab``):
code collapsed, prompts and the default ``parameters`` cells left out (nbconvert's
``TagRemovePreprocessor``), stderr (library log lines, warnings) summarised in collapsed log
boxes, images re-encoded as palette PNGs (:mod:`agc.report.notebookcells`). Volatile execution
metadata and progress-bar widgets are dropped; the provenance box shows start/end and step times.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_markdown_cell, new_notebook

from agc.core.errors import AGCError
from agc.core.fileio import write_text
from agc.report.notebookcells import capture_stderr, compress_images

REPORT_TITLE = "AGC ttbar analysis (CMS 2015 Open Data) — run report"
#: What the title adds for a run on the package's synthetic events (not CMS data).
SYNTHETIC_TITLE = "AGC ttbar analysis (CMS 2015 Open Data) on synthetic events — run report"


def report_title(outdir: str | os.PathLike[str]) -> str:
    """The report's title: :data:`SYNTHETIC_TITLE` when the run in ``outdir`` read the
    package's synthetic events (:func:`agc.dataset.origin.run_origin`), else
    :data:`REPORT_TITLE`."""
    from agc.dataset.origin import DataOrigin, run_origin

    return SYNTHETIC_TITLE if run_origin(outdir) is DataOrigin.SYNTHETIC else REPORT_TITLE


#: The report's nbconvert template (a folder under :data:`TEMPLATES`).
TEMPLATE = "agc_report"
TEMPLATES = Path(__file__).resolve().parent / "templates"
#: Cells with these tags are left out of the report (the notebooks' default parameters: the
#: values used are in papermill's injected cell and in the provenance box).
REMOVED_CELL_TAGS = ("parameters",)
_VOLATILE_CELL_METADATA = ("execution", "papermill", "collapsed", "scrolled")
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


# --------------------------------------------------------------------------- the report


def _read_notebook(path: Path) -> Any:
    try:
        return nbformat.read(path, as_version=4)
    except (OSError, ValueError, KeyError) as exc:
        raise AGCError(f"cannot read executed notebook {path}: {exc}") from None


def combine_notebooks(paths: Sequence[Path]) -> Any:
    """One notebook holding the cells of ``paths`` in order (fresh cell ids), each notebook's
    stderr moved into log boxes and its images compressed (:mod:`agc.report.notebookcells`)."""
    contents = "\n".join(f"{i}. `{p.name}`" for i, p in enumerate(paths, start=1))
    combined = new_notebook(
        metadata={
            "kernelspec": {
                "display_name": "Python 3 (agc)",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python"},
        }
    )
    heading = new_markdown_cell(contents)
    heading.id = "report-notebooks"
    combined.cells.append(heading)
    for number, path in enumerate(paths):
        book = _read_notebook(path)
        for index, cell in enumerate(book.cells):
            for key in _VOLATILE_CELL_METADATA:
                cell.metadata.pop(key, None)
            cell.id = f"nb{number:02d}-{index:03d}"
            if cell.cell_type == "code":  # progress widgets have no static view: drop them
                cell.outputs = [o for o in cell.outputs if _WIDGET_VIEW not in o.get("data", {})]
                capture_stderr(cell, path.name)
                compress_images(cell)
            combined.cells.append(cell)
    nbformat.validate(combined)
    return combined


def _navigation(summary: str) -> str:
    """Links to the summary's sections (their ids and ``<h2>`` titles)."""
    found = re.findall(r'<section class="agc-section" id="([^"]+)"><h2>([^<]+)</h2>', summary)
    # The second (ML) fit's sections repeat the main ones' names: prefixed "ML".
    return "".join(
        f'<a href="#{anchor}">{"ML " if anchor.startswith("ml") else ""}{title.split(": ")[-1]}</a>'
        for anchor, title in found
    )


def build_report(
    notebooks_dir: str | os.PathLike[str] = "outputs/notebooks",
    output: str | os.PathLike[str] = "outputs/report.html",
    *,
    outdir: str | os.PathLike[str] | None = None,
) -> Path:
    """Render the run in ``outdir`` (default: the folder holding ``notebooks_dir``) into one HTML
    file ``output``: its summary (:func:`agc.report.summary.summary_html`), then the executed
    notebooks of ``notebooks_dir``.

    Raises :class:`AGCError` if the folder holds no notebook or one cannot be read; the HTML is
    written atomically.
    """
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    from agc.report.summary import summary_html

    folder = Path(notebooks_dir)
    paths = sorted(folder.glob("*.ipynb"))
    if not paths:
        raise AGCError(f"no executed notebooks (*.ipynb) in {folder}")
    combined = combine_notebooks(paths)
    run_dir = Path(outdir) if outdir is not None else folder.parent
    summary = summary_html(run_dir)
    title = report_title(run_dir)
    exporter = HTMLExporter(
        template_name=TEMPLATE,
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags=set(REMOVED_CELL_TAGS)), enabled=True
    )
    resources = {
        "metadata": {"name": title},
        "agc_title": title,
        "agc_summary": summary,
        "agc_nav": _navigation(summary),
    }
    body, _ = exporter.from_notebook_node(combined, resources=resources)
    return write_text(output, body)
