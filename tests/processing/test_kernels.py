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


def _compile_kernels(cache: Path) -> tuple[dict, str]:
    """compile_kernels() in a fresh interpreter whose numba cache is ``cache``: its result and
    numba's cache log."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "NUMBA_DEBUG_CACHE": "1"}
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


@pytest.mark.slow
def test_a_second_process_loads_every_kernel_the_first_compiled(tmp_path: Path) -> None:
    first, log = _compile_kernels(tmp_path / "numba")
    saved = re.findall(r"\[cache\] data saved to '([^']+)'", log)
    assert len(saved) > 10  # the generator's, the analysis' and the elementary functions'
    modules = {Path(path).parent.name.split("_")[0] for path in saved}
    assert {"dataset", "analysis", "core"} <= modules
    nominal = [
        p
        for p, variations in load_recipe(REPO / "inputs/embedded.yaml")["samples"].items()
        if "nominal" in variations
    ]
    assert first["processes"] == sorted(nominal)
    assert first["4j2b_events"] > 0

    second, log = _compile_kernels(tmp_path / "numba")
    assert second["4j2b_events"] == first["4j2b_events"]
    assert "data saved" not in log  # nothing compiled again
    loaded = set(re.findall(r"\[cache\] data loaded from '([^']+)'", log))
    # the entry points are loaded (the kernels they call are compiled into them)
    assert loaded <= set(saved)
    assert {Path(path).parent.name.split("_")[0] for path in loaded} == modules
