"""Small HTML building blocks of the run report: tables, figures, collapsible boxes.

Every text is escaped (:func:`html.escape`); numbers are formatted by :func:`number`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def number(value: Any, digits: int = 4) -> str:
    """A value for a table cell: floats with ``digits`` significant digits, the rest as text."""
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "–"}[value]
    if isinstance(value, float):
        return f"{value:.{digits}g}" if math.isfinite(value) else str(value)
    if isinstance(value, int):
        return f"{value:,}".replace(",", "\u202f")  # thin spaces group the thousands
    return str(value)


def escape(value: Any) -> str:
    """``value`` formatted (:func:`number`) and HTML-escaped."""
    return html.escape(number(value))


def table(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    css: str = "agc-table",
    raw: Sequence[str] = (),
) -> str:
    """An HTML table of ``rows`` (dicts; columns default to the keys in first-seen order).

    Cells of the ``raw`` columns are inserted as HTML (already escaped by the caller)."""
    rows = list(rows)
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{row.get(c, '') if c in raw else escape(row.get(c, ''))}</td>" for c in columns
        )
        + "</tr>"
        for row in rows
    )
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def key_values(pairs: Mapping[str, Any], *, raw: Sequence[str] = ()) -> str:
    """A two-column table (name, value) of ``pairs``; values of the ``raw`` names are HTML."""
    body = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{v if k in raw else escape(v)}</td></tr>"
        for k, v in pairs.items()
    )
    return f'<table class="agc-kv"><tbody>{body}</tbody></table>'


def figure(src: str, caption: str, *, role: str = "", width: str = "") -> str:
    """An ``<img>`` (``src``: a data URI or a relative link) with its caption; ``role`` becomes
    ``data-role`` (what the browser test looks for), ``width`` a CSS width such as ``48%``."""
    style = f' style="width:{html.escape(width)}"' if width else ""
    data_role = f' data-role="{html.escape(role)}"' if role else ""
    return (
        f'<figure class="agc-figure"{style}><img src="{src}" alt="{html.escape(caption)}"'
        f"{data_role}><figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def details(summary: str, body: str, *, css: str = "agc-details", open_: bool = False) -> str:
    """A collapsible ``<details>`` box: ``summary`` (text, escaped) over ``body`` (HTML)."""
    state = " open" if open_ else ""
    return (
        f'<details class="{css}"{state}><summary>{html.escape(summary)}</summary>{body}</details>'
    )


def section(anchor: str, title: str, body: str) -> str:
    """A report section with an ``id`` (link target) and an ``<h2>`` title."""
    return (
        f'<section class="agc-section" id="{html.escape(anchor)}">'
        f"<h2>{html.escape(title)}</h2>{body}</section>"
    )


def short_hash(digest: str | None, length: int = 12) -> str:
    """The first ``length`` characters of a hex digest in ``<code>``, the whole as its title."""
    if not digest:
        return "–"
    return f'<code title="{html.escape(digest)}">{html.escape(digest[:length])}</code>'
