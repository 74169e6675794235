"""The pyhf model of a workspace, its specification checked once (agc.stats.pyhfmodel)."""

from __future__ import annotations

import pickle
from collections import Counter

import cabinetry
import pyhf
import pytest
from stats_helpers import assert_same_model, small_workspace_spec

from agc.core.errors import AGCError
from agc.stats.pyhfmodel import checked_workspace, model_and_data


@pytest.fixture
def schema_checks(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """How many times pyhf checks a specification against each of its schemas."""
    counts: Counter = Counter()
    validate = pyhf.schema.validate

    def counted(spec, schema_name, *args, **kwargs):
        counts[schema_name] += 1
        return validate(spec, schema_name, *args, **kwargs)

    monkeypatch.setattr(pyhf.schema, "validate", counted)
    return counts


def test_the_model_and_data_are_cabinetry_s() -> None:
    spec = small_workspace_spec()
    assert_same_model(model_and_data(spec), cabinetry.model_utils.model_and_data(spec))


def test_a_specification_is_checked_once(schema_checks: Counter) -> None:
    workspace = checked_workspace(small_workspace_spec())
    assert isinstance(workspace, pyhf.Workspace)
    assert schema_checks["workspace.json"] == 1
    assert checked_workspace(workspace) is workspace
    model_and_data(workspace)
    model_and_data(pickle.loads(pickle.dumps(workspace)))  # as a worker process receives it
    assert schema_checks["workspace.json"] == 1
    assert schema_checks["model.json"] == 0
    model_and_data(small_workspace_spec())  # a plain specification is checked
    assert schema_checks["workspace.json"] == 2


def test_an_invalid_specification_is_one_clear_error() -> None:
    with pytest.raises(AGCError, match="invalid pyhf workspace at 'channels'"):
        checked_workspace({"channels": []})
    spec = small_workspace_spec()
    spec["observations"] = spec["observations"][:1]  # a channel without observations
    with pytest.raises(AGCError, match="pyhf"):
        model_and_data(spec)
