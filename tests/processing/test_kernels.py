"""agc.processing.kernels: the kernels compiled when the environment is built are the ones a
later process loads from numba's cache instead of compiling them again."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agc.dataset.recipe import load_recipe

REPO = Path(__file__).resolve().parents[2]
COMPILE = (
    "import json; from agc.processing.kernels import compile_kernels; "
    "print('RESULT', json.dumps(compile_kernels()))"
)


def _compile_kernels() -> tuple[dict, str]:
    """compile_kernels() in a fresh interpreter (numba's cache where the package keeps it): its
    result and numba's cache log."""
    env = {**os.environ, "NUMBA_DEBUG_CACHE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", COMPILE],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1].splitlines()[0])
    return result, done.stdout


def _modules(paths: set[str]) -> set[str]:
    """The subpackages (``dataset``, ``analysis``, ...) of numba cache files: beside the module
    (``agc/dataset/__pycache__/...``) or under ``NUMBA_CACHE_DIR`` (``dataset_<hash>/...``)."""
    folders = [Path(path).parent for path in paths]
    return {f.parent.name if f.name == "__pycache__" else f.name.split("_")[0] for f in folders}


@pytest.mark.slow
def test_a_second_process_loads_every_kernel_compile_kernels_compiled() -> None:
    # the first call compiles what the cache lacks (nothing after make's set-up, every kernel
    # whose source changed since); the second must compile nothing
    first, _ = _compile_kernels()
    nominal = [
        process
        for process, variations in load_recipe(REPO / "inputs/embedded.yaml")["samples"].items()
        if "nominal" in variations
    ]
    assert first["processes"] == sorted(nominal)
    assert first["4j2b_events"] > 0

    second, log = _compile_kernels()
    assert second == {**first, "seconds": second["seconds"]}
    assert "data saved" not in log  # nothing compiled again
    loaded = set(re.findall(r"\[cache\] data loaded from '([^']+)'", log))
    # the kernels of the generator, the analysis and the elementary functions, from the cache
    assert {"dataset", "analysis", "core"} <= _modules(loaded)
