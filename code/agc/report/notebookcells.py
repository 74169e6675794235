"""What the run report does to the executed notebooks' cells before rendering them.

- :func:`capture_stderr`: library log lines and warnings (cabinetry's "has empty bins",
  MINUIT, Python warnings ...) reach a notebook as ``stderr`` stream outputs, which nbconvert
  shows as red blocks. They are taken out of the cell and summarised in one collapsed
  ``<details>`` log in their place: the number of lines and the first :data:`LOG_LINES` of them.
- :func:`compress_images`: ``image/png`` outputs are re-encoded as palette PNGs
  (:func:`agc.report.images.compress_png`).
"""

from __future__ import annotations

import html
from typing import Any

from agc.report.images import compress_base64_pngs

#: Lines of a captured log shown in the report (the count says how many there were).
LOG_LINES = 12
#: The class of the captured-log boxes (the browser test and the CSS use it).
LOG_CLASS = "agc-log"


def log_html(lines: list[str], where: str) -> str:
    """The collapsed log box of ``lines`` captured from ``where``: count and first lines."""
    shown = "\n".join(lines[:LOG_LINES])
    more = len(lines) - LOG_LINES
    tail = f"\n… {more} more line{'s' * (more != 1)}" if more > 0 else ""
    distinct = len(set(lines))
    return (
        f'<details class="{LOG_CLASS}"><summary>log of {html.escape(where)}: {len(lines)} '
        f"line{'s' * (len(lines) != 1)} on stderr ({distinct} distinct)</summary>"
        f"<pre>{html.escape(shown + tail)}</pre></details>"
    )


def capture_stderr(cell: Any, where: str) -> list[str]:
    """Move the ``stderr`` stream outputs of the code ``cell`` into one log box (a
    ``display_data`` ``text/html`` output where the first one was); return the lines."""
    lines: list[str] = []
    outputs: list[Any] = []
    position = None
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            text = output.get("text", "")
            lines += [line for line in "".join(text).splitlines() if line.strip()]
            position = len(outputs) if position is None else position
            continue
        outputs.append(output)
    if position is not None and lines:
        from nbformat.v4 import new_output

        outputs.insert(position, new_output("display_data", {"text/html": log_html(lines, where)}))
    cell["outputs"] = outputs
    return lines


def compress_images(cell: Any) -> None:
    """Re-encode the ``image/png`` outputs of ``cell`` as palette PNGs (in place)."""
    images = [o["data"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    compressed = compress_base64_pngs("".join(data["image/png"]) for data in images)
    for data, png in zip(images, compressed, strict=True):
        data["image/png"] = png
