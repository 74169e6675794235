"""Shared fixtures: the real CMS file in ../shared, the embedded default dataset and its small copy.

Two datasets come from the embedded recipe (``inputs/embedded.yaml``): the full default
(``embedded_manifest``, 5.84 M generated events) and the same recipe at :data:`SMALL_SCALE`
(``small_embedded_manifest``, ``agc generate --scale 0.01``). The end-to-end runs of ``make test`` use the
small one; a test that requests a fixture of :data:`FULL_DEFAULT_FIXTURES` (the regression
references of the full default) is marked ``full`` at collection and runs in ``make test-full``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from agc.processing.results import HistogramRun

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REAL_FILE = SHARED / "data" / "cms_opendata_2015_ttbar_nanoaod_200events.root"
REAL_RNTUPLE = SHARED / "data" / "cms_opendata_2015_ttbar_nanoaod_10events_rntuple.root"
AGC_FILE_LIST = SHARED / "data" / "agc_nanoaod_inputs.json"
EMBEDDED_RECIPE = REPO / "inputs" / "embedded.yaml"
#: Event-count factor of the small dataset (every sample of the embedded recipe, 58 k generated
#: events; the fit, the limits and every engine run on it in seconds).
SMALL_SCALE = 0.01
#: Fixtures that need the full embedded default: a test that requests one, directly or through
#: its own fixtures (``embedded_run``, ``embedded_histograms``, ...), is marked ``full``
#: (``make test-full``). ``default_run`` (tests/stats/test_fit.py, tests/plots/test_figures.py)
#: and ``ml_run`` (tests/stats/test_mlmodel.py) reach it through ``request.getfixturevalue``,
#: which the fixture closure does not show: they are named too.
FULL_DEFAULT_FIXTURES = frozenset({"embedded_manifest", "default_run", "ml_run"})
#: Fixtures that run a whole workflow, or build the wheel in the repository's ``build/`` folder:
#: with ``make test TEST_WORKERS=2`` the tests run in two pytest-xdist processes, each with its
#: own session, so every test that needs one of these is sent to the same process (``--dist
#: loadgroup``, one group per fixture): the workflow runs once, the wheel is built by one process.
SHARED_RUN_FIXTURES = ("run_outputs", "serial_reference", "wheel")


#: Tests that import JAX into the test process, which then runs JAX's thread pools: the tests of
#: these folders, those marked ``jax`` and those that need a fixture of :data:`JAX_FIXTURES` (the
#: ML fit, with its exact derivatives) run last, so that every other test finds a process with
#: one thread, as a workflow step has (the futures executor forks its workers only from such a
#: process).
JAX_TEST_FOLDERS = ("optimise",)
JAX_FIXTURES = frozenset({"ml_run"})


def _imports_jax(item: pytest.Item) -> bool:
    """Whether ``item`` imports JAX into the test process (:data:`JAX_TEST_FOLDERS`)."""
    folders = [REPO / "tests" / name for name in JAX_TEST_FOLDERS]
    return (
        any(item.path.is_relative_to(f) for f in folders)
        or item.get_closest_marker("jax") is not None
        or bool(JAX_FIXTURES.intersection(getattr(item, "fixturenames", ())))
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``full`` every test that needs the full embedded default (see
    :data:`FULL_DEFAULT_FIXTURES`); put every test that needs a fixture of
    :data:`SHARED_RUN_FIXTURES` in that fixture's ``xdist_group``; run the tests that import
    JAX last (:func:`_imports_jax`)."""
    items.sort(key=_imports_jax)
    for item in items:
        names = getattr(item, "fixturenames", ())
        if FULL_DEFAULT_FIXTURES.intersection(names):
            item.add_marker(pytest.mark.full)
        group = next((name for name in SHARED_RUN_FIXTURES if name in names), None)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


def require_shared(path: Path, what: str) -> Path:
    """``path`` in ../shared; when it is missing, a skip with the reason -- or, under CI
    (``CI=true``), where ../shared is always laid beside the checkout, a failure."""
    if not path.exists():
        message = f"{what} not available: {path} (../shared is not beside the checkout)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"under CI=true: {message}")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def real_nanoaod() -> Path:
    """The real 200-event CMS Open Data ttbar NanoAOD file (skips when ../shared is absent; fails under CI)."""
    return require_shared(REAL_FILE, "real CMS file")


@pytest.fixture(scope="session")
def real_rntuple() -> Path:
    """The real 10-event CMS Open Data ttbar NanoAOD converted to RNTuple by ROOT's
    RNTupleImporter (format v1.0.0.1, 1,313 fields; skips when ../shared is absent; fails
    under CI)."""
    return require_shared(REAL_RNTUPLE, "real CMS RNTuple file")


@pytest.fixture(scope="session")
def agc_file_list() -> Path:
    """The AGC file list in ../shared (skips when absent; fails under CI)."""
    return require_shared(AGC_FILE_LIST, "AGC file list")


@pytest.fixture(scope="session")
def embedded_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Manifest of the embedded default dataset, generated once per test session."""
    from agc.dataset.generate import DEFAULT_WORKERS, generate_dataset

    # AGC_TEST_DATA: a folder shared by several pytest runs (the numerical-environment matrix);
    # generate_dataset reuses it only when every file's sha256 matches the recipe's record.
    shared = os.environ.get("AGC_TEST_DATA")
    out = Path(shared) if shared else tmp_path_factory.mktemp("embedded")
    return generate_dataset(out, recipe=EMBEDDED_RECIPE, workers=DEFAULT_WORKERS)


@pytest.fixture(scope="session")
def small_embedded_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Manifest of the small dataset: every sample of the embedded recipe at :data:`SMALL_SCALE`
    (what ``agc generate --scale 0.01`` writes, with its ``generation.json``), once per session."""
    from agc.dataset.generate import DEFAULT_WORKERS, generate_dataset

    out = tmp_path_factory.mktemp("small_embedded")
    return generate_dataset(out, recipe=EMBEDDED_RECIPE, scale=SMALL_SCALE, workers=DEFAULT_WORKERS)


@pytest.fixture(scope="session")
def embedded_run(embedded_manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> HistogramRun:
    """The histogram stage on the embedded default (futures executor, 2 workers), once per
    session: its summary (``yields``, ``cutflow``; ``output`` is its ``histograms.root``, with
    ``cutflow.json`` beside it)."""
    from agc.core.config import ProcessingConfig
    from agc.processing.histograms import run_histograms

    out = tmp_path_factory.mktemp("embedded_run")
    return run_histograms(
        embedded_manifest,
        out / "histograms.root",
        processing=ProcessingConfig(executor="futures", workers=2, checkpoints=False),
    )


@pytest.fixture(scope="session")
def embedded_histograms(embedded_run: HistogramRun) -> Path:
    """``histograms.root`` (with ``cutflow.json`` beside it) of the embedded default, made once."""
    assert embedded_run.output is not None
    return Path(embedded_run.output)


class ContractRegression:
    """Regression check of minimiser outputs against a stored JSON reference, under the
    tolerances of :mod:`agc.stats.reproducibility` (not a blanket rtol).

    ``check(obtained, basename, deviations)``: the reference is
    ``tests/<test module>/<basename>.json``; ``deviations(obtained, reference)`` lists every
    compared number. A missing reference, or ``--force-regen``, writes it and fails (as
    pytest-regressions does). With ``AGC_NUMERICS_RECORD=DIR`` the obtained values are also
    written to ``DIR/<basename>.json`` for ``python -m agc.stats.numerics`` (the numerical-environment
    matrix) to report their spread.
    """

    def __init__(self, request: pytest.FixtureRequest) -> None:
        module = Path(request.node.path)
        self.folder = module.parent / module.stem
        self.force = bool(request.config.getoption("force_regen", default=False))

    def check(self, obtained: dict, basename: str, deviations) -> None:
        from agc.core.fileio import write_json
        from agc.stats.reproducibility import violations

        record = os.environ.get("AGC_NUMERICS_RECORD")
        path = self.folder / f"{basename}.json"
        if record:
            write_json(
                Path(record) / f"{basename}.json", {"reference": str(path), "obtained": obtained}
            )
        if self.force or not path.exists():
            write_json(path, obtained)
            pytest.fail(f"reference {path} (re)written: check it and commit it with the reason")
        reference = json.loads(path.read_text())
        bad = violations(deviations(obtained, reference))
        assert not bad, f"{len(bad)} outside the contract:\n" + "\n".join(map(str, bad[:20]))


@pytest.fixture
def contract_regression(request: pytest.FixtureRequest) -> ContractRegression:
    """See :class:`ContractRegression`."""
    return ContractRegression(request)


@pytest.fixture(scope="session")
def toy_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Manifest of the toy dataset (tests/toy_nanoaod.py), written once per session."""
    from toy_nanoaod import write_toy_dataset

    return write_toy_dataset(tmp_path_factory.mktemp("toy"))


@pytest.fixture(scope="session")
def toy_samples() -> str:
    """The toy samples the processing tests' reference run processes (~6k events)."""
    return "ttbar,wjets,single_top_tW,zprime_1000"


@pytest.fixture(scope="session")
def run_outputs(small_embedded_manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete run on the small dataset: histograms (with ``cutflow.json``), workspace, fit
    (no impacts), plots (shared by the report, archive, verify and reproducibility tests)."""
    from agc.core.config import ProcessingConfig
    from agc.plots.figures import fit_plots
    from agc.processing.histograms import run_histograms
    from agc.stats.fit import run_fit
    from agc.stats.model import build_workspace

    out = tmp_path_factory.mktemp("run") / "outputs"
    run_histograms(
        small_embedded_manifest, out / "histograms.root", processing=ProcessingConfig(workers=2)
    )
    build_workspace(
        out / "histograms.root",
        out / "workspace.json",
        config=REPO / "inputs" / "cabinetry.yaml",
    )
    fit_plots(
        run_fit(out / "workspace.json", out / "fit_results.json", impacts=False), out / "plots"
    )
    return out
