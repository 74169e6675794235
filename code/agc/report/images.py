"""Plots made small enough to embed in the run report.

The paper plots are RGBA PNGs of 0.1-0.6 MB each (matplotlib, 100-200 dpi). Flat-coloured line
art survives a reduction to a palette of :data:`PALETTE_COLOURS` colours (median cut, no
dithering) unchanged to the eye, at about a third of the bytes; that is what the report embeds.
Pillow's quantizer and PNG encoder release the GIL: a report's images are compressed
:data:`COMPRESS_THREADS` at a time (:func:`png_data_uris`, :func:`compress_base64_pngs`).
"""

from __future__ import annotations

import base64
import functools
import io
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from agc.core.errors import AGCError

#: Colours of the palette an embedded plot is reduced to.
PALETTE_COLOURS = 64
#: Images compressed at a time.
COMPRESS_THREADS = 2

_In = TypeVar("_In")


@functools.lru_cache(maxsize=32)  # the fit notebook shows the same plots as the summary
def compress_png(data: bytes, colours: int = PALETTE_COLOURS) -> bytes:
    """``data`` (a PNG or JPEG image) as a palette PNG of ``colours`` colours (smaller bytes).

    Returns ``data`` itself when the palette version is not smaller; raises :class:`AGCError`
    when the bytes are no image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            palette = image.convert("RGB").quantize(
                colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
            )
    except (UnidentifiedImageError, OSError) as exc:
        raise AGCError(f"not an image ({len(data)} bytes): {exc}") from None
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return out.getvalue() if out.tell() < len(data) else data


def png_data_uri(path: str | os.PathLike[str]) -> str:
    """The image file ``path`` compressed (:func:`compress_png`) as a ``data:image/png`` URI."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise AGCError(f"cannot read image {path}: {exc.strerror}") from None
    encoded = base64.b64encode(compress_png(data)).decode("ascii")
    return f"data:image/png;base64,{encoded}"


def compress_base64_png(encoded: str) -> str:
    """A base64 PNG as notebooks store it (``image/png`` output data), compressed; base64."""
    data = base64.b64decode(encoded)
    return base64.b64encode(compress_png(data)).decode("ascii")


def _in_threads(function: Callable[[_In], str], items: Iterable[_In]) -> list[str]:
    """``function`` of each item, in order, :data:`COMPRESS_THREADS` at a time."""
    items = list(items)
    if len(items) < 2:
        return [function(item) for item in items]
    with ThreadPoolExecutor(min(COMPRESS_THREADS, len(items))) as threads:
        return list(threads.map(function, items))


def png_data_uris(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """:func:`png_data_uri` of each path, in order."""
    return _in_threads(png_data_uri, paths)


def compress_base64_pngs(encoded: Iterable[str]) -> list[str]:
    """:func:`compress_base64_png` of each base64 PNG, in order."""
    return _in_threads(compress_base64_png, encoded)
