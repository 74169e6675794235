"""The stage notebooks: thin, committed clean, parameterised with the workflow's parameter names."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest

from agc.core.parameters import WORKFLOW_PARAMETERS, default
from agc.workflow import stages

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
EXPECTED = (
    "00_dataset.ipynb",
    "01_histograms.ipynb",
    "01_merge.ipynb",
    "02_statistical_model.ipynb",
    "03_fit.ipynb",
    "04_ml.ipynb",
    "05_optimise.ipynb",
)


def _read(name: str) -> Any:
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def _parameters_cell_values(book: Any) -> dict[str, Any]:
    """Names and literal values assigned in the notebook's ``parameters`` cell."""
    (cell,) = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
    values = {}
    for node in ast.parse(cell.source).body:
        assert isinstance(node, ast.Assign), (
            f"only assignments belong in the parameters cell: {ast.dump(node)}"
        )
        (target,) = node.targets
        values[target.id] = ast.literal_eval(node.value)
    return values


def test_the_stage_notebooks_are_there() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_is_valid_and_committed_without_outputs(name: str) -> None:
    book = _read(name)
    nbformat.validate(book)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert code, f"{name} has no code cell"
    for cell in code:
        assert cell.outputs == [], f"{name}: a cell was committed with outputs"
        assert cell.execution_count is None, f"{name}: a cell was committed with an execution count"
    assert book.metadata["kernelspec"]["name"] == "python3", (
        "the workflows run papermill -k python3"
    )


@pytest.mark.parametrize("name", EXPECTED)
def test_exactly_one_parameters_cell_with_the_schema_s_names_and_defaults(name: str) -> None:
    book = _read(name)
    tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: {len(tagged)} cells tagged 'parameters'"
    values = _parameters_cell_values(book)
    unknown = sorted(set(values) - set(WORKFLOW_PARAMETERS))
    assert not unknown, f"{name}: parameters not in the parameter schema: {unknown}"
    assert values == {key: default(key) for key in values}, (
        f"{name}: defaults differ from the schema"
    )
    # papermill sees the same parameters (it is what injects the workflow's values).
    assert set(papermill.inspect_notebook(str(NOTEBOOKS / name))) == set(values)


def test_notebooks_together_use_every_workflow_parameter() -> None:
    used = set().union(*(_parameters_cell_values(_read(name)) for name in EXPECTED))
    assert used == set(WORKFLOW_PARAMETERS)


def _stage_call(source: str) -> ast.Call:
    """The one call of an ``agc.workflow.stages`` function in ``source``."""
    tree = ast.parse(source)
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "agc.workflow.stages"
        for alias in node.names
    }
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in imported
    ]
    assert len(calls) == 1, f"expected one stage call, found {len(calls)}"
    return calls[0]


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_hands_every_parameter_to_its_stage_function(name: str) -> None:
    """The first code cell after the parameters is one call of the notebook's stage
    (agc.workflow.stages, which validates before any work) with every parameter by keyword."""
    book = _read(name)
    values = _parameters_cell_values(book)
    index = next(i for i, c in enumerate(book.cells) if "parameters" in c.metadata.get("tags", []))
    first_code = next(c for c in book.cells[index + 1 :] if c.cell_type == "code")
    call = _stage_call(first_code.source)
    stage = stages.STAGES[call.func.id]
    passed = {k.arg: k.value for k in call.keywords}
    assert not call.args, f"{name}: pass the parameters by keyword"
    assert set(passed) == set(values) == set(stages.stage_parameters(stage)), name
    for key, value in passed.items():
        assert isinstance(value, ast.Name), f"{name}: {key}= is not the parameter"
        assert value.id == key, f"{name}: {key}={value.id}"


def test_every_notebook_runs_a_different_stage() -> None:
    calls = []
    for name in EXPECTED:
        book = _read(name)
        code = [
            c for c in book.cells if c.cell_type == "code" and "agc.workflow.stages" in c.source
        ]
        assert len(code) == 1, f"{name}: one cell calls the stage"
        calls.append(_stage_call(code[0].source).func.id)
    assert calls == ["dataset", "histograms", "merge", "model", "fit", "ml", "optimise"]


@pytest.mark.parametrize("name", EXPECTED)
def test_notebooks_only_call_existing_package_functions(name: str) -> None:
    """Thin notebooks: every `from agc... import name` must resolve (catches API drift)."""
    book = _read(name)
    for cell in (c for c in book.cells if c.cell_type == "code"):
        source = "\n".join(line for line in cell.source.splitlines() if not line.startswith("%"))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "agc":
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(module, alias.name), (
                        f"{name}: {node.module}.{alias.name} does not exist"
                    )
