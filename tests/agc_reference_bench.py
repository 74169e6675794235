"""The package against the AGC reference processor on one file (``make bench``).

CPU seconds, in one process, of the package's processor on the whole file (no ML; NanoEvents
built as coffea's Runner builds them, reading only the columns used), of
:func:`agc_reference.process_file` on the same file, and of the uproot read floor of the
columns the analysis reads (:func:`agc.bench.events.read_columns`); each the fastest of
``--repeats`` rounds in which the three run in turn, after one warm-up each, so that a change of
the machine's load touches all three. Prints the seconds and the two ratios. The reference
processor lives beside the tests because it shares no code with the package on purpose; this
comparison lives beside it.

    python tests/agc_reference_bench.py [--file data/embedded/ttbar__nominal_0.root] [--repeats 3]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

sys.path.insert(0, str(Path(__file__).resolve().parent))  # agc_reference, run as a script

import agc_reference
from coffea.nanoevents import NanoEventsFactory

from agc.analysis.processor import AGCProcessor, AGCSchema
from agc.bench.events import read_columns
from agc.dataset.manifest import sample_key

#: The file of the embedded default compared by default (ttbar nominal: every variation).
DEFAULT_FILE = "data/embedded/ttbar__nominal_0.root"


def package(path: str, process: str, variation: str) -> Any:
    """The package's sums of the whole file (every region, variation and weight)."""
    events = NanoEventsFactory.from_root(
        {path: "Events"}, schemaclass=AGCSchema, mode="virtual"
    ).events()
    events.metadata.update(
        dataset=sample_key(process, variation), process=process, variation=variation
    )
    return AGCProcessor(None).chunk_sums(events)


def reference(path: str, process: str, variation: str) -> Any:
    """The AGC reference processor's histograms of the file."""
    return agc_reference.process_file(path, process, variation, 1.0)


def floor(path: str, process: str, variation: str) -> Any:
    """The columns the analysis reads, read and decompressed."""
    del process, variation
    return read_columns(path, 0, None)


def compare(path: str, repeats: int = 3) -> dict[str, float]:
    """CPU seconds (fastest of ``repeats`` rounds) of :func:`package`, :func:`reference` and
    :func:`floor` on ``path`` (``<process>__<variation>_<n>.root``), and the two ratios."""
    process, variation = Path(path).name.rsplit("_", 1)[0].split("__")
    runs: dict[str, Callable[..., Any]] = {
        "package": package,
        "reference": reference,
        "floor": floor,
    }
    best = dict.fromkeys(runs, float("inf"))
    for run in runs.values():
        run(path, process, variation)  # warm-up: imports, compilation, page cache
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.process_time()
            run(path, process, variation)
            best[name] = min(best[name], time.process_time() - start)
    return {
        **best,
        "reference_over_package": best["reference"] / best["package"],
        "floor_over_package": best["floor"] / best["package"],
    }


@click.command()
@click.option(
    "--file",
    "path",
    default=DEFAULT_FILE,
    show_default=True,
    type=click.Path(exists=True, dir_okay=False),
    help="a file of a manifest, named <process>__<variation>_<n>.root",
)
@click.option("--repeats", default=3, show_default=True, type=click.IntRange(1, 100))
def main(path: str, repeats: int) -> None:
    """Print the package's, the AGC reference processor's and the read floor's CPU seconds on
    one file, and their ratios."""
    result = compare(path, repeats)
    click.echo(f"One file in one process ({path}), CPU seconds, fastest of {repeats}:")
    click.echo(f"  the package's processor (no ML)    {result['package']:8.3f} s")
    click.echo(f"  the AGC reference processor        {result['reference']:8.3f} s")
    click.echo(f"  uproot read floor (same columns)   {result['floor']:8.3f} s")
    click.echo(f"  reference / package: {result['reference_over_package']:.2f}x")
    click.echo(f"  read floor / package: {result['floor_over_package']:.2f}")


if __name__ == "__main__":
    main()
