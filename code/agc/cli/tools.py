"""The ``agc`` tools: dataset generation and read-back, archive verification, and the
throughput benchmarks (``agc bench ...``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from agc.cli.command import AgcGroup, command
from agc.cli.options import option, parameter_option, processing_options


@command(section="data")
@parameter_option("format")
@click.option(
    "--output",
    default="data/embedded",
    show_default=True,
    metavar="DIR",
    help="folder for the ROOT files and manifest.json",
)
@click.option(
    "--recipe",
    default="inputs/embedded.yaml",
    show_default=True,
    metavar="PATH",
    help="dataset recipe (YAML)",
)
@click.option("--scale", default=1.0, show_default=True, help="multiply every sample's event count")
@click.option("--force", is_flag=True, help="regenerate even if present and intact")
# default: agc.dataset.generate.DEFAULT_WORKERS (not imported: keeps start-up light)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(min=1),
    help="processes writing samples (same bytes for any)",
)
def generate(
    format: str, output: str, recipe: str, scale: float, force: bool, workers: int
) -> dict[str, str]:
    """Generate the embedded default dataset (if missing), as TTree or RNTuple files."""
    from agc.dataset.generate import generate_dataset

    manifest = generate_dataset(
        output, recipe=recipe, scale=scale, force=force, workers=workers, file_format=format
    )
    return {"manifest": str(manifest)}


@command("summary", section="data")
@parameter_option("inputs")
def dataset_summary(inputs: str) -> dict[str, Any]:
    """Read a dataset back and print a per-sample summary."""
    from agc.dataset.generate import summarize
    from agc.dataset.manifest import resolve_inputs

    return summarize(resolve_inputs(inputs))


def _check_lines(result: Any) -> str:
    """Every check of an archive verification, one line each."""
    return "\n".join(check.line() for check in result.checks)


@command(
    "verify-archive",
    section="data",
    human=_check_lines,
    status=lambda result: 0 if result.ok else 1,
)
@click.argument("path", default="outputs/archive", metavar="[PATH]")
def verify_archive(path: str) -> Any:
    """Re-check an archive: bag checksums, patchset, HEPData, RO-Crate, SWHID (exit 1 on failure).

    PATH is the archive folder (holding bag/) or the bag (default outputs/archive).
    """
    from agc.publish.verify import verify_archive as verify

    return verify(path)


@command(
    "reproduce",
    section="data",
    human=lambda result: result.summary(),
    status=lambda result: 0 if result.ok else 1,
)
@click.argument("archive", metavar="ARCHIVE")
@click.option(
    "--into",
    "folder",
    metavar="DIR",
    help="the fresh folder of the reproduction [default: build/reproduction-<UTC time>]",
)
@click.option(
    "--engine",
    type=click.Choice(["serial", "cwl", "snakemake"]),
    default="serial",
    show_default=True,
    help="the archived specification rerun: reana.yaml, workflow.cwl or the Snakefile",
)
@click.option(
    "--reuse-env",
    is_flag=True,
    help="rerun with the running interpreter instead of a venv from the archived lock",
)
@click.option(
    "--container",
    is_flag=True,
    help="rerun reana.yaml's steps in the image the archive names (buildah)",
)
@click.option("--python", metavar="PATH", help="interpreter that creates the venv")
@click.option("--snakemake", metavar="PATH", help="snakemake executable (--engine snakemake)")
@click.option(
    "--outputs",
    metavar="DIR",
    help="compare with this finished run's outputs (e.g. from REANA) instead of rerunning",
)
def reproduce(
    archive: str,
    folder: str | None,
    engine: str,
    reuse_env: bool,
    container: bool,
    **paths: str | None,
) -> Any:
    """Reproduce an archived run: verify, unpack, recreate the environment, regenerate the
    inputs, rerun, compare every output under the contract (exit 1 if any is not reproduced).

    ARCHIVE is the archive folder, its bag or the bag tarball. The verdict table is printed
    and written to DIR/verdict.json.
    """
    import datetime as dt

    from agc.core.errors import AGCError
    from agc.publish.reproduce import ReproduceOptions
    from agc.publish.reproduce import reproduce as run

    if reuse_env and container:
        raise AGCError("--reuse-env and --container exclude each other")
    environment = "container" if container else "current" if reuse_env else "venv"
    options = ReproduceOptions(engine=engine, environment=environment, **paths)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return run(archive, folder or f"build/reproduction-{stamp}", options)


@command("compile-kernels", section="tools")
def compile_kernels() -> dict[str, Any]:
    """Compile the numba kernels of a run into numba's on-disk cache (make does it once)."""
    from agc.processing.kernels import compile_kernels as compile_all

    return compile_all()


@click.group(cls=AgcGroup, section="tools", no_args_is_help=True)
def bench() -> None:
    """Throughput benchmarks: events, scaleout, formats, dask, ml, stats (figures printed)."""


def _report_of(name: str) -> Callable[[Any], str]:
    """The ``agc.bench`` function ``name`` that formats a benchmark's figures (lazy import)."""

    def human(result: Any) -> str:
        from agc import bench as benchmarks

        return str(getattr(benchmarks, name)(result))

    return human


@bench.command("events", human=_report_of("format_report"))
@click.option("--inputs", metavar="MANIFEST", help="manifest [default: a generated dataset]")
@click.option(
    "--scale",
    default=1.0,
    show_default=True,
    help="event-count factor of the generated dataset",
)
@processing_options
def bench_events(inputs: str | None, **options: Any) -> dict[str, Any]:
    """Processor throughput next to the uproot read floor."""
    from agc.bench import run_benchmark

    return run_benchmark(inputs, **options)


@bench.command("scaleout", human=_report_of("format_scale_out_table"))
@click.option("--inputs", metavar="MANIFEST", help="manifest [default: a generated dataset]")
@click.option(
    "--scale",
    default=1.0,
    show_default=True,
    help="event-count factor of the generated dataset (1: the embedded default)",
)
@click.option("--repeats", default=2, show_default=True, help="runs per row (the fastest counts)")
@parameter_option("chunksize")
def bench_scaleout(inputs: str | None, **options: Any) -> dict[str, Any]:
    """Iterative, futures and Dask side by side: events/s, per-core efficiency, read floor."""
    from agc.bench import run_scale_out

    return run_scale_out(inputs, **options)


@bench.command("formats", human=_report_of("format_format_report"))
@click.option(
    "--scale",
    default=1.0,
    show_default=True,
    help="event-count factor of the generated datasets",
)
@processing_options
def bench_formats(**options: Any) -> dict[str, Any]:
    """TTree vs RNTuple: read floor, processor rate and file size on the same events."""
    from agc.bench import run_format_benchmark

    return run_format_benchmark(**options)


@bench.command("dask", human=_report_of("format_scale_out"))
@click.option(
    "--inputs", metavar="MANIFEST", help="manifest [default: a generated temporary dataset]"
)
@click.option(
    "--scale",
    default=1.3,
    show_default=True,
    help="event-count factor of the generated dataset (1.3: about 2.2 M events)",
)
@parameter_option("chunksize")
def bench_dask(inputs: str | None, **options: Any) -> dict[str, Any]:
    """Events/s on the Dask executor with 1 and 2 workers, and the speed-up."""
    from agc.bench import dask_scale_out

    return dask_scale_out(inputs, **options)


@bench.command("ml", human=_report_of("format_ml_report"))
@click.option("--inputs", default="embedded", show_default=True, help="manifest")
@processing_options
def bench_ml(**options: Any) -> dict[str, Any]:
    """Events/s without and with the BDT inference, and the BDT's assignment accuracy."""
    from agc.bench import run_ml_benchmark

    return run_ml_benchmark(**options)


@bench.command("stats", human=_report_of("format_stats_report"))
@option(
    "--workspace-file",
    "workspace",
    default="outputs/workspace.json",
    show_default=True,
    metavar="PATH",
    help="the pyhf workspace",
)
@click.option("--repeats", default=3, show_default=True, help="main fits timed")
def bench_stats(**options: Any) -> dict[str, Any]:
    """The statistics stage's figures: fits/s, calls per fit, impact ranking wall time."""
    from agc.bench import run_stats_benchmark

    return run_stats_benchmark(**options)
