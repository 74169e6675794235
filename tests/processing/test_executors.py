"""agc.processing.executors: which Dask scheduler the dask executor connects to.

The parameter ``scheduler`` wins; when it is empty, ``$DASK_SCHEDULER_URI`` (what REANA >= 0.95
gives the jobs of a workflow with ``workflow.resources.dask``); neither: a LocalCluster. The
end-to-end run against a `dask scheduler` and two `dask worker` processes is
tests/scenarios/test_dask.py.
"""

from __future__ import annotations

import pytest

from agc.core.errors import AGCError
from agc.processing.executors import DASK_SCHEDULER_ENV, coffea_executor, dask_scheduler


def test_the_scheduler_parameter_wins_over_the_environment() -> None:
    environ = {DASK_SCHEDULER_ENV: "tcp://reana-dask:8786"}
    assert dask_scheduler("tcp://elsewhere:8786", environ) == "tcp://elsewhere:8786"


def test_an_empty_scheduler_takes_dask_scheduler_uri() -> None:
    assert DASK_SCHEDULER_ENV == "DASK_SCHEDULER_URI"
    environ = {DASK_SCHEDULER_ENV: " tcp://reana-dask:8786\n"}
    assert dask_scheduler("", environ) == "tcp://reana-dask:8786"


@pytest.mark.parametrize("environ", [{}, {DASK_SCHEDULER_ENV: ""}, {DASK_SCHEDULER_ENV: "  "}])
def test_without_either_a_local_cluster(environ: dict[str, str]) -> None:
    assert dask_scheduler("", environ) == ""


def test_the_process_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DASK_SCHEDULER_ENV, "tcp://127.0.0.1:8786")
    assert dask_scheduler("") == "tcp://127.0.0.1:8786"
    monkeypatch.delenv(DASK_SCHEDULER_ENV)
    assert dask_scheduler("") == ""


def test_a_bad_address_from_the_environment_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-line error names the address and where it came from."""
    monkeypatch.setenv(DASK_SCHEDULER_ENV, "nonsense://no-such-protocol")
    with (
        pytest.raises(
            AGCError, match=r"'nonsense://no-such-protocol' \(from \$DASK_SCHEDULER_URI\)"
        ),
        coffea_executor("dask", 1, "", 0),
    ):
        pass
