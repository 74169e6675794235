"""The run configuration is validated once, on creation, and typed from strings."""

from __future__ import annotations

import dataclasses

import pytest

from agc.core.config import ProcessingConfig, RunConfig
from agc.core.errors import AGCError
from agc.core.parameters import default


def test_processing_config_from_strings_is_typed() -> None:
    config = ProcessingConfig.from_parameters(
        {"executor": "iterative", "workers": "3", "max_files": "-1", "skip_bad_files": "yes"}
    )
    assert (config.executor, config.workers, config.max_files) == ("iterative", 3, -1)
    assert config.skip_bad_files is True
    assert config.chunksize == default("chunksize")
    assert config.use_inference is False  # the library default: no ML extension unless asked
    assert config.checkpoints is True


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"executor": "spark"}, "accepted: iterative, futures, dask"),
        ({"workers": 0}, "'workers'"),
        ({"max_files": 0}, "'max_files'"),
        ({"scheduler": "tcp://x;rm"}, "'scheduler' contains ';'"),
        ({"checkpoints": "no"}, "checkpoints must be true or false"),
    ],
)
def test_bad_processing_settings_fail_on_creation(changes: dict, message: str) -> None:
    with pytest.raises(AGCError, match=message):
        ProcessingConfig(**changes)
    with pytest.raises(AGCError, match=message):
        ProcessingConfig().replace(**changes)


def test_processing_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ProcessingConfig().workers = 4  # type: ignore[misc]


def test_run_config_takes_the_schema_defaults_and_splits_processing() -> None:
    run = RunConfig.from_parameters({"outdir": "run", "workers": "4", "signal": "ttbar"})
    assert (run.outdir, run.inputs, run.samples, run.poi) == (
        "run",
        "embedded",
        "all",
        "ttbar_norm",
    )
    assert run.processing.workers == 4
    assert run.processing.use_inference is default("use_inference")
    assert RunConfig().processing.use_inference is default("use_inference")
    off = RunConfig.from_parameters({"use_inference": "false"})
    assert off.processing.use_inference is False


def test_run_config_refuses_unknown_and_invalid_parameters() -> None:
    with pytest.raises(AGCError, match="unknown parameter 'max-files'"):
        RunConfig.from_parameters({"max-files": 1})
    with pytest.raises(AGCError, match="'outdir'"):
        RunConfig.from_parameters({"outdir": "/abs"})
    with pytest.raises(AGCError, match="processing must be a ProcessingConfig"):
        RunConfig(processing={"workers": 2})  # type: ignore[arg-type]
