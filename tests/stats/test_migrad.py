"""The MINUIT settings (agc.stats.migrad.FitSettings) and the one worker pool (agc.stats.pool)."""

from __future__ import annotations

import dataclasses
import os

import pytest
from stats_helpers import small_workspace_spec

from agc.core.errors import AGCError
from agc.stats.fit import model_and_data, naming
from agc.stats.migrad import SETTINGS, Attempt, minuit_of
from agc.stats.pool import FitPool


def test_settings_are_frozen_and_typed() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SETTINGS.tolerance = 0.1  # type: ignore[misc]
    assert all(isinstance(a, Attempt) for a in SETTINGS.attempts)
    assert [a.init for a in SETTINGS.attempts] == ["given", "given", "suggested", "suggested"]


def test_attempts_skip_repeats_and_keep_fixed_values() -> None:
    model, _ = model_and_data(small_workspace_spec())
    suggested = model.config.suggested_init()
    # From the suggested start the "suggested" attempts would repeat the "given" ones.
    assert [i for i, _, _ in SETTINGS.starts(model)] == [0, 1]
    given = [x + 0.5 for x in suggested]
    fixed = [False] * len(given)
    fixed[1] = True
    starts = list(SETTINGS.starts(model, given, fixed))
    assert [i for i, _, _ in starts] == [0, 1, 2, 3]
    assert starts[0][2] == given
    assert starts[2][2] == [g if f else s for g, s, f in zip(given, suggested, fixed, strict=True)]
    assert starts[2][1] == SETTINGS.attempts[2]


def _square(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


@pytest.mark.parametrize("workers", [1, 2])
def test_pool_maps_in_order_and_runs_meanwhile_once_here(workers: int) -> None:
    seen = []
    with FitPool(workers) as pool:
        out = pool.map(_square, [3, 1, 2], meanwhile=lambda: seen.append(os.getpid()))
    assert [value for value, _ in out] == [9, 1, 4]
    assert seen == [os.getpid()]
    assert all((pid == os.getpid()) == (workers == 1) for _, pid in out)
    assert pool.pool is None  # closed


def test_errors_name_the_file_once() -> None:
    with (
        pytest.raises(AGCError, match=r"^ws\.json: invalid pyhf workspace at") as info,
        naming("ws.json"),
    ):
        model_and_data({"channels": []})
    assert str(info.value).count("ws.json") == 1


@pytest.mark.parametrize("strategy", [0, 1, 2])
def test_minuit_runs_the_strategy_it_is_given(strategy: int) -> None:
    model, data = model_and_data(small_workspace_spec())
    init = model.config.suggested_init()
    fixed = model.config.suggested_fixed()
    bounds = model.config.suggested_bounds()
    minuit = minuit_of(model, data, init, fixed, bounds, strategy)
    assert minuit.strategy.strategy == strategy
