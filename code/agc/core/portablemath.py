"""Elementary functions with the same bits on every x86-64 CPU (AVX2 or later).

numpy chooses some of its loops at run time from the CPU. On a CPU with AVX-512 (numpy's
``X86_V4``) its float64 ``sinh``, ``cosh``, ``tan``, ``arctan``, ``arctan2``, ``cbrt``, ``exp``,
``log``, ``power`` and ``arcsinh``, and its float32 ``sinh`` and ``arcsinh``, come from SVML-derived code
whose last bits differ from the C library's, which numpy calls on every other CPU. A selection
cut, a histogram bin edge or a BDT threshold turns such a last bit into another count, so the
analysis and the dataset generator evaluate these functions here: the C library's ``sinh``,
``sinhf``, ... compiled into ufuncs by numba (which calls the C library for ``math.*``). On a
CPU without AVX-512 they give numpy's bits exactly.

numpy's float32 ``exp``, ``log``, ``sin`` and ``cos`` have their own AVX2 and AVX-512 loops,
which agree with each other (and not with the C library's ``expf``, ...): :func:`exp` and
:func:`log` of float32 are numpy's. Its float64 ``sin`` and ``cos`` are the C library's on every
CPU: callers use ``np.sin`` and ``np.cos``. ``tests/core/test_portablemath.py`` checks these
statements on the machine it runs on.

The ufuncs (:func:`ufunc`) are compiled on first use (on-disk cached where numba can write its
cache) and keep numpy's ufunc behaviour (broadcasting, ``out=``, awkward arrays). ``sinh`` and
``arcsinh`` have float32 and float64 loops; the others compute in float64.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from agc.core import compiled

__all__ = [
    "arcsinh",
    "arctan",
    "arctan2",
    "cbrt",
    "cosh",
    "exp",
    "log",
    "power",
    "sinh",
    "tan",
    "ufunc",
]


# The scalar functions numba compiles into the ufuncs (numba calls the C library for math.*).
def _sinh(x):  # pragma: no cover - compiled
    return math.sinh(x)


def _arcsinh(x):  # pragma: no cover - compiled
    return math.asinh(x)


def _cosh(x):  # pragma: no cover - compiled
    return math.cosh(x)


def _tan(x):  # pragma: no cover - compiled
    return math.tan(x)


def _arctan(x):  # pragma: no cover - compiled
    return math.atan(x)


def _arctan2(y, x):  # pragma: no cover - compiled
    return math.atan2(y, x)


def _cbrt(x):  # pragma: no cover - compiled
    return np.cbrt(x)


def _exp(x):  # pragma: no cover - compiled
    return math.exp(x)


def _log(x):  # pragma: no cover - compiled
    return math.log(x)


def _power(x, y):  # pragma: no cover - compiled
    return math.pow(x, y)


_BOTH = ("float32(float32)", "float64(float64)")
_UNARY = ("float64(float64)",)
_BINARY = ("float64(float64, float64)",)
#: name -> (the scalar function, the ufunc's signatures).
_FUNCTIONS: dict[str, tuple[Callable[..., float], tuple[str, ...]]] = {
    "sinh": (_sinh, _BOTH),
    "arcsinh": (_arcsinh, _BOTH),
    "cosh": (_cosh, _UNARY),
    "tan": (_tan, _UNARY),
    "arctan": (_arctan, _UNARY),
    "arctan2": (_arctan2, _BINARY),
    "cbrt": (_cbrt, _UNARY),
    "exp": (_exp, _UNARY),
    "log": (_log, _UNARY),
    "power": (_power, _BINARY),
}


@functools.cache
def ufunc(name: str) -> np.ufunc:
    """The C library's ``name`` (``"sinh"``, ``"arcsinh"``, ``"cosh"``, ``"tan"``, ``"arctan"``,
    ``"arctan2"``, ``"cbrt"``, ``"exp"``, ``"log"`` or ``"power"``) as a numpy ufunc, compiled
    once per process."""
    scalar, signatures = _FUNCTIONS[name]
    return compiled.vectorize(signatures, scalar)


def sinh(x: Any, /, **kwargs: Any) -> Any:
    """Hyperbolic sine (float32 or float64, as given)."""
    return ufunc("sinh")(x, **kwargs)


def arcsinh(x: Any, /, **kwargs: Any) -> Any:
    """Inverse hyperbolic sine (float32 or float64, as given)."""
    return ufunc("arcsinh")(x, **kwargs)


def cosh(x: Any, /, **kwargs: Any) -> Any:
    """Hyperbolic cosine (float64)."""
    return ufunc("cosh")(x, **kwargs)


def tan(x: Any, /, **kwargs: Any) -> Any:
    """Tangent of ``x`` [rad] (float64)."""
    return ufunc("tan")(x, **kwargs)


def arctan(x: Any, /, **kwargs: Any) -> Any:
    """Arc tangent [rad] (float64)."""
    return ufunc("arctan")(x, **kwargs)


def arctan2(y: Any, x: Any, /, **kwargs: Any) -> Any:
    """Angle [rad] of the point (x, y), in [-pi, pi] (float64)."""
    return ufunc("arctan2")(y, x, **kwargs)


def cbrt(x: Any, /, **kwargs: Any) -> Any:
    """Real cube root (float64)."""
    return ufunc("cbrt")(x, **kwargs)


def exp(x: np.ndarray) -> np.ndarray:
    """Exponential, in the dtype of ``x``: float32 by numpy, anything else in float64 by the C
    library."""
    x = np.asarray(x)
    return np.exp(x) if x.dtype == np.float32 else ufunc("exp")(x)


def log(x: np.ndarray) -> np.ndarray:
    """Natural logarithm, in the dtype of ``x``: float32 by numpy, anything else in float64 by
    the C library."""
    x = np.asarray(x)
    return np.log(x) if x.dtype == np.float32 else ufunc("log")(x)


def power(x: Any, y: Any, /, **kwargs: Any) -> Any:
    """``x`` to the power ``y`` (float64)."""
    return ufunc("power")(x, y, **kwargs)
