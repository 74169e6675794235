"""The ML step's second process (agc.plots.process)."""

from __future__ import annotations

import os
import sys

from agc.plots.mlfigures import worker_channels
from agc.plots.process import warm_figure_process


def _state() -> tuple[int, bool]:
    return os.getpid(), {"agc.plots.mlfigures", "agc.stats.mlmodel", "jax"} <= set(sys.modules)


def test_the_warm_process_is_another_one_with_the_fit_and_figure_modules_imported() -> None:
    with warm_figure_process() as pool:
        pid, imported = pool.submit(_state).result()
    assert pid != os.getpid()
    assert imported


def test_the_second_process_draws_all_post_fit_figures_but_the_last_quarter() -> None:
    channels = [f"Feature{i}" for i in (0, 1, 2, 4, 5, 6, 7)]  # the ML model's
    assert worker_channels(channels) == tuple(channels[:6])
    assert worker_channels(channels[:3]) == tuple(channels[:2])
    assert worker_channels(channels[:1]) == ()
