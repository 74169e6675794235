"""Workflow parameters are validated before any work starts, naming the key and accepted values."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agc.core.errors import AGCError
from agc.core.parameters import (
    EXECUTORS,
    WORKFLOW_PARAMETERS,
    coerce,
    declared,
    default,
    defaults,
    help_text,
    json_type,
    markdown_table,
    validate_parameters,
)


def test_strings_are_coerced_to_declared_types() -> None:
    typed = validate_parameters(
        {"workers": "2", "max_files": "-1", "skip_bad_files": "true", "inputs": "embedded"}
    )
    assert typed == {"workers": 2, "max_files": -1, "skip_bad_files": True, "inputs": "embedded"}


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"workers": "0"}, "'workers'.*1-1024"),
        ({"workers": "-3"}, "'workers'"),
        ({"chunksize": "1e99"}, "'chunksize' must be an integer"),
        ({"max_files": "0"}, "'max_files'.*-1 \\(all files\\)"),
        ({"executor": "spark"}, "accepted: iterative, futures, dask"),
        ({"outdir": "../elsewhere"}, "'outdir'.*no '\\.\\.'"),
        ({"signal": "/etc/passwd"}, "'signal'.*not absolute"),
        ({"signal": "inputs/../../x.yaml"}, "'signal'"),
        ({"scheduler": "my-laptop"}, "'scheduler'.*tcp://"),
        ({"skip_bad_files": "maybe"}, "'skip_bad_files' must be true or false"),
        ({"colour": "red"}, "unknown parameter 'colour'"),
    ],
)
def test_bad_parameters_name_the_key(parameters: dict, message: str) -> None:
    with pytest.raises(AGCError, match=message):
        validate_parameters(parameters)


@given(
    name=st.sampled_from(sorted(declared())),
    value=st.text(max_size=12) | st.integers() | st.booleans(),
)
def test_any_value_is_accepted_or_cleanly_rejected(name: str, value: object) -> None:
    try:
        validate_parameters({name: value})
    except AGCError as exc:
        message = str(exc)
    else:
        return
    assert "\n" not in message
    assert name in message


def test_every_parameter_has_a_type_a_valid_default_and_help() -> None:
    for name, spec in declared().items():
        assert spec["type"] in {"string", "integer", "boolean"}, name
        assert json_type(name) == spec["type"]
        assert help_text(name) == spec["description"]
        assert "\n" not in help_text(name)
        assert default(name) == spec["default"]
    assert list(defaults()) == list(WORKFLOW_PARAMETERS) == list(declared())
    assert validate_parameters(defaults()) == defaults()


def test_the_defaults_are_those_of_the_preserved_analysis() -> None:
    assert defaults() == {
        "inputs": "embedded",
        "samples": "all",
        "executor": "futures",
        "workers": 2,
        "chunksize": 100_000,
        "max_files": -1,
        "scheduler": "",
        "outdir": "outputs",
        "signal": "ttbar",
        "poi": "ttbar_norm",
        "skip_bad_files": False,
        "format": "ttree",  # the NanoAOD of the analysis is TTree; RNTuple is opt-in
        "use_inference": True,  # the AGC's USE_INFERENCE default
        "optimise_cut": "none",  # the differentiable cut optimisation is opt-in
    }
    assert EXECUTORS == ("iterative", "futures", "dask")


def test_accessors_hand_out_copies_and_name_unknown_parameters() -> None:
    changed = defaults()
    changed["workers"] = 99
    declared()["workers"]["default"] = 99
    assert defaults()["workers"] == 2
    assert default("workers") == 2
    with pytest.raises(AGCError, match=r"unknown parameter 'colour'; known: chunksize"):
        help_text("colour")
    with pytest.raises(AGCError, match=r"unknown parameter 'partial_dir'"):
        coerce("partial_dir", "x")


def test_readme_lists_every_parameter_as_the_schema_declares_it() -> None:
    """The README's parameter table is the schema's (a drift in either fails here)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme
    rows = markdown_table().splitlines()[2:]
    assert [row.split("`")[1] for row in rows] == list(WORKFLOW_PARAMETERS)
    assert "| `workers` | `2` |" in markdown_table()
    assert '| `scheduler` | `""` |' in markdown_table()
    assert "| `skip_bad_files` | `false` |" in markdown_table()


def test_every_free_string_parameter_has_a_length_limit() -> None:
    """Every string parameter that is not an enumeration declares ``maxLength``; paths also
    limit each component to 255 characters."""
    for name, spec in declared().items():
        if spec["type"] == "string" and "enum" not in spec:
            assert 0 < spec["maxLength"] <= 4096, name
            assert len(str(spec["default"])) <= spec["maxLength"], name
    validate_parameters({"outdir": "/".join(["a" * 255] * 4)})  # 1023 characters


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("outdir", "a" * 5000, r"'outdir': 'aaa.*aaa' \(5000 characters\) is longer than 1024"),
        ("outdir", "o/" + "b" * 256, r"'outdir'.*no path component .* longer than 255"),
        ("signal", "s" * 252 + ".yaml", r"'signal'.*no path component"),
        ("inputs", "m/" * 600 + "x.json", r"'inputs'.* \(1206 characters\) is longer than 1024"),
        ("samples", "ttbar," * 700 + "wjets", r"'samples'.*is longer than 4096"),
        ("poi", "p" * 256, r"'poi'.*is longer than 255"),
        ("scheduler", "tcp://" + "h" * 1100, r"'scheduler'.*is longer than 1024"),
    ],
)
def test_overlong_strings_are_refused_in_one_short_line(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(AGCError, match=message) as info:
        validate_parameters({name: value})
    assert "\n" not in str(info.value)
    assert len(str(info.value)) < 300
