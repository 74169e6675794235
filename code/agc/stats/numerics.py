"""The numerical-environment matrix: the minimiser tests under other BLAS kernels, BLAS thread
counts and numpy SIMD paths, all against the same stored references.

A second machine is not needed to see how results move between machines: what differs between
two x86-64 machines of the same software is which OpenBLAS kernel runs (chosen from the CPU,
forced here with ``OPENBLAS_CORETYPE``), how many BLAS threads split a product
(``OPENBLAS_NUM_THREADS``) and which SIMD loops numpy dispatches to (``NPY_DISABLE_CPU_FEATURES``
switches the AVX2/AVX-512 ones off). Each leg runs :data:`TESTS` in a fresh pytest process with
its environment; the regression tests record what they obtained (``AGC_NUMERICS_RECORD``), and
the spread of every output family across the legs is printed next to its tolerance
(:mod:`agc.stats.reproducibility`). The exit status is non-zero if any leg fails.

``python -m agc.stats.numerics [--legs a,b] [--jobs N] [-- PYTEST_ARGS]`` (``make
test-numerics``). With ``--jobs N`` the first leg runs alone (it generates the data every leg
reads), then up to N legs at once, each leg's output printed when it ends.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from agc.stats.reproducibility import (
    Deviation,
    fit_deviations,
    format_spread,
    limit_deviations,
    spread,
)

#: The legs: name -> environment overrides. The kernels are older x86-64 ones that every
#: current CPU runs (AVX2 and AVX); numpy 2.x names its dispatched SIMD levels X86_V3 (AVX2),
#: X86_V4 (AVX-512) and AVX512_ICL / AVX512_SPR, and ignores names the CPU does not have.
LEGS: dict[str, dict[str, str]] = {
    "blas-threads-1": {"OPENBLAS_NUM_THREADS": "1"},
    "blas-threads-2": {"OPENBLAS_NUM_THREADS": "2"},
    "openblas-haswell": {"OPENBLAS_CORETYPE": "Haswell"},
    "openblas-sandybridge": {"OPENBLAS_CORETYPE": "Sandybridge"},
    "numpy-no-avx2-avx512": {"NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"},
}

#: The tests whose outputs come from a minimiser, or are drawn from one (plots).
TESTS: tuple[str, ...] = (
    "tests/stats/test_model.py",
    "tests/stats/test_fit.py",
    "tests/stats/test_ranking.py",
    "tests/plots/test_figures.py",
    "tests/stats/test_limits.py",
    "tests/reinterpret/test_pipeline.py::test_limits_regression",
)

#: Tests of :data:`TESTS` left out of the legs: the cross-check against ``cabinetry.fit.ranking``
#: measures our impacts against another minimiser's (cabinetry's own cold fits), not the contract,
#: and cabinetry's fit with its closing HESSE check fails on the default model with numpy's
#: AVX2/AVX-512 loops off; ``make test`` runs it in the machine's own environment.
NOT_IN_LEGS: tuple[str, ...] = (
    "tests/stats/test_fit.py::test_default_impacts_agree_with_cabinetry_ranking",
)

#: Which contract compares a recorded output (by the prefix of its reference's name).
COMPARERS: dict[str, Callable[[Any, Any], list[Deviation]]] = {
    "fit_results": fit_deviations,
    "limits": limit_deviations,
}


def run_leg(
    name: str,
    overrides: dict[str, str],
    record: Path,
    data: Path,
    pytest_args: Sequence[str],
    log: Path | None = None,
) -> tuple[int, float]:
    """Run :data:`TESTS` with ``overrides`` in the environment: (pytest's exit code, seconds).
    pytest's output goes to ``log`` when given, to this process' stdout otherwise."""
    env = {
        **os.environ,
        **overrides,
        "AGC_NUMERICS_RECORD": str(record),
        "AGC_TEST_DATA": str(data),
    }
    # A leg that forces one setting must not inherit another leg's (or the machine's) choice.
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "NPY_DISABLE_CPU_FEATURES"):
        if key not in overrides:
            env.pop(key, None)
    record.mkdir(parents=True, exist_ok=True)
    header = f"\n=== leg {name}: {' '.join(f'{k}={v}' for k, v in overrides.items())}"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        *TESTS,
        *(f"--deselect={test}" for test in NOT_IN_LEGS),
        *pytest_args,
    ]
    start = time.perf_counter()
    if log is None:
        print(header, flush=True)
        code = subprocess.call(command, env=env)
    else:
        with log.open("w", encoding="utf-8") as handle:
            handle.write(header.lstrip("\n") + "\n")
            handle.flush()
            code = subprocess.call(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
    return code, time.perf_counter() - start


def jobs_count(text: str) -> int:
    """``--jobs``: a whole number of legs at once, at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def leg_deviations(record: Path) -> list[Deviation]:
    """Every recorded output of one leg compared with its stored reference."""
    out: list[Deviation] = []
    for path in sorted(record.glob("*.json")):
        entry = json.loads(path.read_text())
        reference = json.loads(Path(entry["reference"]).read_text())
        compare = next(f for prefix, f in COMPARERS.items() if path.stem.startswith(prefix))
        out += compare(entry["obtained"], reference)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the legs, print the spread table; non-zero if a leg failed or recorded nothing."""
    parser = argparse.ArgumentParser(prog="python -m agc.stats.numerics", description=__doc__)
    parser.add_argument("--legs", default=",".join(LEGS), help="comma list of " + ", ".join(LEGS))
    parser.add_argument(
        "--jobs",
        type=jobs_count,
        default=1,
        help="legs run at once after the first, which runs alone and generates the shared data",
    )
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args(argv)
    legs = [leg.strip() for leg in args.legs.split(",") if leg.strip()]
    unknown = [leg for leg in legs if leg not in LEGS]
    if unknown:
        parser.error(f"unknown leg(s) {unknown}; known: {list(LEGS)}")
    results: dict[str, tuple[int, float, list[Deviation]]] = {}
    with tempfile.TemporaryDirectory(prefix="agc-numerics-") as tmp:
        folder = Path(tmp)

        def leg_result(leg: str, log: Path | None) -> tuple[int, float, list[Deviation]]:
            record = folder / "records" / leg
            code, seconds = run_leg(leg, LEGS[leg], record, folder / "data", args.pytest_args, log)
            return code, seconds, leg_deviations(record)

        def report(leg: str) -> None:
            code, seconds, deviations = results[leg]
            print(f"=== leg {leg}: pytest exit {code}, {seconds:.0f} s, {len(deviations)} numbers")

        alone = legs if args.jobs == 1 else legs[:1]
        for leg in alone:
            results[leg] = leg_result(leg, None)
            report(leg)
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            running = {
                pool.submit(leg_result, leg, folder / f"{leg}.log"): leg
                for leg in legs
                if leg not in alone
            }
            for done in as_completed(running):
                leg = running[done]
                results[leg] = done.result()
                print((folder / f"{leg}.log").read_text(encoding="utf-8"), end="", flush=True)
                report(leg)
    failed = [leg for leg in legs if results[leg][0] != 0 or not results[leg][2]]
    sets = [results[leg][2] for leg in legs]
    print(
        "\nSpread across the legs against the stored references (of tolerance: 1 = at the limit):"
    )
    print(format_spread(spread(sets)))
    if failed:
        print(f"\nFAILED legs: {', '.join(failed)}")
        return 1
    print(f"\nall {len(legs)} legs passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
