"""The stage notebooks: thin, committed clean, parameterised with the workflow's parameter names."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
EXPECTED = (
    "00_dataset.ipynb",
    "01_histograms.ipynb",
    "01_merge.ipynb",
    "02_statistical_model.ipynb",
    "03_fit.ipynb",
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


def _reana_parameters() -> dict[str, Any]:
    return yaml.safe_load((REPO / "reana.yaml").read_text())["inputs"]["parameters"]


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
def test_exactly_one_parameters_cell_with_shared_names_and_defaults(name: str) -> None:
    book = _read(name)
    tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: {len(tagged)} cells tagged 'parameters'"
    values = _parameters_cell_values(book)
    shared = _reana_parameters()
    unknown = sorted(set(values) - set(shared))
    assert not unknown, f"{name}: parameters not declared in reana.yaml: {unknown}"
    for key, value in values.items():
        assert value == shared[key], (
            f"{name}: default of {key!r} is {value!r}, reana.yaml says {shared[key]!r}"
        )
    # papermill sees the same parameters (it is what injects the workflow's values).
    assert set(papermill.inspect_notebook(str(NOTEBOOKS / name))) == set(values)


def test_notebooks_together_use_every_shared_parameter() -> None:
    used = set().union(*(_parameters_cell_values(_read(name)) for name in EXPECTED))
    assert used == set(_reana_parameters())


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_parameters_are_validated_before_work(name: str) -> None:
    """Every notebook hands its parameters to agc.core.parameters.validate_parameters first."""
    book = _read(name)
    values = _parameters_cell_values(book)
    index = next(i for i, c in enumerate(book.cells) if "parameters" in c.metadata.get("tags", []))
    first_code = next(c for c in book.cells[index + 1 :] if c.cell_type == "code")
    assert "validate_parameters(" in first_code.source
    for key in values:
        assert re.search(rf"[\"']{key}[\"']\s*:\s*{key}\b", first_code.source), (
            f"{name}: parameter {key!r} is not validated"
        )


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
