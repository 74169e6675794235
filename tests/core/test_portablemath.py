"""agc.core.portablemath: the C library's elementary functions as ufuncs, the same bits on every
x86-64 CPU, and numpy's loops where they do not depend on AVX-512.

The subprocess tests run numpy with its AVX-512 loops switched off (``NPY_DISABLE_CPU_FEATURES``,
what a CPU without AVX-512 runs); on such a CPU they compare numpy's loops with themselves and
the C library, on a CPU with AVX-512 they show which of its loops differ.
"""

from __future__ import annotations

import ast
import ctypes
import ctypes.util
import math
from pathlib import Path

import numpy as np
import pytest
from cpu_helpers import without_avx512

from agc.core import portablemath

REPO = Path(__file__).resolve().parents[2]

RNG = np.random.default_rng(20261205)
N = 200_000
#: Arguments of each function over the ranges the analysis and the generator use.
ARGS = {
    "sinh": (RNG.uniform(-6.0, 6.0, N),),
    "arcsinh": (RNG.uniform(-400.0, 400.0, N),),
    "cosh": (RNG.uniform(-6.0, 6.0, N),),
    "tan": (RNG.uniform(-1.47, 1.47, N),),
    "arctan": (RNG.uniform(-50.0, 50.0, N),),
    "arctan2": (RNG.uniform(-500.0, 500.0, N), RNG.uniform(-500.0, 500.0, N)),
    "cbrt": (RNG.uniform(-10.0, 10.0, N),),
    "exp": (RNG.uniform(-6.0, 6.0, N),),
    "log": (RNG.uniform(1e-16, 1.0, N),),
    "power": (RNG.uniform(1e-9, 1.0, N), np.full(N, -1.0 / 3.2)),
}
#: Python's math module calls the C library: the reference of each float64 ufunc.
MATH = {
    "sinh": math.sinh,
    "arcsinh": math.asinh,
    "cosh": math.cosh,
    "tan": math.tan,
    "arctan": math.atan,
    "arctan2": math.atan2,
    "cbrt": math.cbrt,
    "exp": math.exp,
    "log": math.log,
    "power": math.pow,
}


def test_every_ufunc_is_the_c_library_s_function_in_float64() -> None:
    assert set(MATH) == set(portablemath.__all__) - {"ufunc"}
    for name, args in ARGS.items():
        sample = tuple(a[:5000] for a in args)
        expected = np.array([MATH[name](*values) for values in zip(*sample, strict=True)])
        got = getattr(portablemath, name)(*sample)
        assert got.dtype == np.float64, name
        assert np.array_equal(got, expected), name


@pytest.mark.parametrize(("name", "symbol"), [("sinh", "sinhf"), ("arcsinh", "asinhf")])
def test_float32_loops_are_the_c_library_s_float_functions(name: str, symbol: str) -> None:
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    function = getattr(libm, symbol)
    function.restype, function.argtypes = ctypes.c_float, [ctypes.c_float]
    x = ARGS[name][0][:5000].astype(np.float32)
    got = getattr(portablemath, name)(x)
    assert got.dtype == np.float32
    assert np.array_equal(got, np.array([function(v) for v in x], dtype=np.float32))


def test_exp_and_log_keep_the_dtype_float32_by_numpy() -> None:
    x32 = ARGS["exp"][0][:1000].astype(np.float32)
    assert np.array_equal(portablemath.exp(x32), np.exp(x32))
    assert portablemath.exp(x32).dtype == np.float32
    y32 = ARGS["log"][0][:1000].astype(np.float32)
    assert np.array_equal(portablemath.log(y32), np.log(y32))
    assert portablemath.ufunc("sinh") is portablemath.ufunc("sinh")  # compiled once


_NUMPY_SCRIPT = """
import numpy as np
data = np.load(sys.argv[2])
out = {}
for key in sorted({k.rsplit(":", 1)[0] for k in data.files}):
    arguments = [data[k] for k in sorted(data.files) if k.rsplit(":", 1)[0] == key]
    out[key] = getattr(np, key.split(":")[0])(*arguments)
np.savez(sys.argv[1], **out)
"""


def _numpy_without_avx512(arrays: dict[str, list[np.ndarray]], tmp_path: Path) -> dict:
    """numpy's function ``name`` of the arguments of each ``"name:dtype"`` key, computed in a
    process with numpy's AVX-512 loops off (:func:`cpu_helpers.without_avx512`)."""
    stored = {f"{key}:{i}": a for key, args in arrays.items() for i, a in enumerate(args)}
    np.savez(tmp_path / "in.npz", **stored)
    return without_avx512(_NUMPY_SCRIPT, tmp_path / "out.npz", str(tmp_path / "in.npz"))


def test_numpy_without_avx512_gives_the_ufuncs_bits(tmp_path: Path) -> None:
    """What numpy computes on a CPU without AVX-512 is what the ufuncs compute on any CPU."""
    arrays = {f"{name}:float64": list(args) for name, args in ARGS.items()}
    for name in ("sinh", "arcsinh"):
        arrays[f"{name}:float32"] = [ARGS[name][0].astype(np.float32)]
    reference = _numpy_without_avx512(arrays, tmp_path)
    for key, args in arrays.items():
        got = portablemath.ufunc(key.split(":")[0])(*args)
        assert got.dtype == args[0].dtype, key
        assert np.array_equal(got, reference[key]), f"{key} differs from numpy without AVX-512"


def test_numpy_loops_left_to_numpy_do_not_depend_on_avx512(tmp_path: Path) -> None:
    """numpy's float32 exp, log, sin, cos and float64 sin, cos: the same bits with and without
    its AVX-512 loops (what the analysis leaves to numpy)."""
    phi = RNG.uniform(-np.pi, np.pi, N)
    arrays = {
        "exp:float32": [ARGS["exp"][0].astype(np.float32)],
        "log:float32": [ARGS["log"][0].astype(np.float32)],
        "sin:float32": [phi.astype(np.float32)],
        "cos:float32": [phi.astype(np.float32)],
        "sin:float64": [phi],
        "cos:float64": [phi],
    }
    reference = _numpy_without_avx512(arrays, tmp_path)
    for key, args in arrays.items():
        got = getattr(np, key.split(":")[0])(*args)
        assert np.array_equal(got, reference[key]), f"numpy's {key} depends on AVX-512"


#: numpy functions whose float64 (or float32) loops depend on AVX-512: the analysis and the
#: generator call agc.core.portablemath instead.
CPU_DEPENDENT = {
    "sinh",
    "cosh",
    "tanh",
    "tan",
    "arctan",
    "arctan2",
    "arcsin",
    "arccos",
    "arcsinh",
    "arccosh",
    "arctanh",
    "cbrt",
    "exp",
    "exp2",
    "expm1",
    "log",
    "log2",
    "log10",
    "log1p",
    "power",
    "float_power",
}


@pytest.mark.parametrize("package", ["analysis", "dataset"])
def test_event_code_calls_no_cpu_dependent_numpy_function(package: str) -> None:
    """The selection, the features, the JER smearing and the generator: no ``np.<function>``
    of :data:`CPU_DEPENDENT`, and no ``**`` of a variable to a variable or to a constant numpy
    does not compute exactly (it does 2 and 0.5: square and sqrt)."""
    found = []
    for path in sorted((REPO / "code" / "agc" / package).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "np"
                and node.attr in CPU_DEPENDENT
            ):
                found.append(f"{path.name}:{node.lineno} np.{node.attr}")
            if (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Pow)
                and not isinstance(node.left, ast.Constant)
                and not (isinstance(node.right, ast.Constant) and node.right.value in (2, 0.5))
            ):
                found.append(f"{path.name}:{node.lineno} ** {ast.unparse(node.right)}")
    assert not found, found
