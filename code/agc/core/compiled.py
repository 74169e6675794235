"""numba compilation with the package's settings, in one place.

Kernels are compiled with ``nogil=True`` and without ``fastmath`` (numba's default: no
reassociation, no contraction into fused multiply-adds, so a kernel's float arithmetic is the
IEEE operations it spells, in that order, as numpy's are). The compiled code is cached on disk
where numba finds a writable cache folder (``__pycache__`` beside the module, or
``NUMBA_CACHE_DIR``), in memory otherwise (e.g. a read-only installation). numba is imported on
first use: it is heavy, and not every process compiles something.

``math.sin``, ``math.sinh``, ... in a kernel call the C library, unless numba finds Intel's SVML
(the ``icc_rt`` package), whose vector loops differ from it in the last bits: compiling is then
refused (:func:`check_no_svml`), as the analysis' bits would depend on the installation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from agc.core.errors import AGCError

__all__ = ["check_no_svml", "kernel_array", "njit", "once", "vectorize"]


def check_no_svml() -> None:
    """AGCError if numba would vectorise ``math.*`` calls with Intel's SVML."""
    import numba

    if numba.config.USING_SVML:
        raise AGCError(
            "numba uses Intel SVML (package icc_rt), whose math functions differ from the C "
            "library's in the last bits: set NUMBA_DISABLE_INTEL_SVML=1 or remove icc_rt"
        )


def njit(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` compiled by ``numba.njit(nogil=True)``, cached on disk where possible."""
    import numba

    check_no_svml()
    try:
        return numba.njit(nogil=True, cache=True)(function)
    except RuntimeError:  # no writable cache location: compile in memory
        return numba.njit(nogil=True)(function)


@functools.cache
def once(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` compiled by :func:`njit` on first use, the same dispatcher afterwards in
    this process (for kernels compiled lazily, so that importing their module needs no numba)."""
    return njit(function)


def vectorize(signatures: Sequence[str], function: Callable[..., Any]) -> Any:
    """``function`` (a scalar function) as a numpy ufunc with the loops of ``signatures``
    (``numba.vectorize``), cached on disk where possible."""
    import numba

    check_no_svml()
    try:
        return numba.vectorize(list(signatures), cache=True)(function)
    except RuntimeError:  # no writable cache location
        return numba.vectorize(list(signatures))(function)


def kernel_array(array: Any, dtype: Any = None) -> np.ndarray:
    """``array`` (as ``dtype``, default its own) C-contiguous and writable, a copy if it is not:
    one array type per dtype and dimension, so that a kernel is compiled (and cached by
    ``agc compile-kernels``) once, not again for a read-only or strided view."""
    return np.require(array, dtype, ["C", "W"])
