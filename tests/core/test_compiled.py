"""agc.core.compiled: numba with the package's settings (cache where possible, no SVML)."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from agc.core import compiled
from agc.core.errors import AGCError


def _hypot_sum(x, y, out):  # pragma: no cover - compiled
    for i in range(x.shape[0]):
        out[i] = math.sqrt(x[i] * x[i] + y[i] * y[i])


def test_njit_gives_numpys_bits() -> None:
    """A kernel spelling numpy's expression gives its bits: no reassociation, no fused
    multiply-add (numba's default, which the package keeps)."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(0, 1e3, 100_000), rng.normal(0, 1e-3, 100_000)
    out = np.empty_like(x)
    compiled.njit(_hypot_sum)(x, y, out)
    assert np.array_equal(out, np.sqrt(x * x + y * y))


def test_once_compiles_a_function_once_per_process() -> None:
    """compiled.once gives the same dispatcher for the same function (one compilation per
    process), a compiled one: numba's dispatcher, with numpy's bits."""
    first = compiled.once(_hypot_sum)
    assert compiled.once(_hypot_sum) is first
    assert isinstance(first, numba.core.registry.CPUDispatcher)
    x, y = np.array([3.0, 1e150]), np.array([4.0, 1e-150])
    out = np.empty(2)
    first(x, y, out)
    assert np.array_equal(out, np.sqrt(x * x + y * y))


def test_a_function_numba_cannot_cache_compiles_in_memory() -> None:
    """A function without a source file (numba has no cache locator for it) still compiles."""
    namespace: dict = {}
    exec("def twice(x):\n    return 2 * x\n", namespace)  # noqa: S102 - no file behind it
    with pytest.raises(RuntimeError, match="cannot cache"):
        numba.njit(cache=True)(namespace["twice"])
    assert compiled.njit(namespace["twice"])(21) == 42
    ufunc = compiled.vectorize(["float64(float64)"], namespace["twice"])
    assert np.array_equal(ufunc(np.array([1.5, -2.0])), [3.0, -4.0])


def test_svml_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """With Intel's SVML numba's vector math differs from the C library's: one line saying
    what to do, before anything compiles."""
    monkeypatch.setattr(numba.config, "USING_SVML", True)
    for compile_ in (
        lambda: compiled.njit(_hypot_sum),
        lambda: compiled.vectorize(["float64(float64)"], math.sinh),
    ):
        with pytest.raises(AGCError, match="NUMBA_DISABLE_INTEL_SVML=1") as info:
            compile_()
        assert "\n" not in str(info.value)
