"""Reference code run as numpy runs on a CPU without AVX-512.

numpy's AVX-512 loops of some elementary functions differ in the last bit from the C library's,
which the package uses on every CPU (:mod:`agc.core.portablemath`). Test references written with
numpy (the AGC's code, with scikit-hep vector) therefore run in a subprocess with those loops
switched off (``NPY_DISABLE_CPU_FEATURES``): there numpy computes the package's bits, on any CPU.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

#: numpy 2.x's names of its AVX-512 dispatch targets.
NO_AVX512 = "X86_V4 AVX512_ICL AVX512_SPR"
TESTS = Path(__file__).resolve().parent


def without_avx512(script: str, out: Path, *args: str) -> dict[str, np.ndarray]:
    """Run the Python source ``script`` with ``tests/`` on ``sys.path`` and ``sys.argv[1:]`` =
    (``out``, *``args``) in a process with numpy's AVX-512 loops off; the arrays it saved with
    ``np.savez(sys.argv[1], ...)``."""
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": NO_AVX512}
    source = f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n{script}"
    subprocess.run([sys.executable, "-c", source, str(out), *args], env=env, check=True)
    with np.load(out) as data:
        return {key: data[key] for key in data.files}
