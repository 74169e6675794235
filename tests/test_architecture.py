"""The package's shape: stages depend downwards, no cycles, no private imports, short code.

The layer contract itself is in pyproject.toml (``[tool.importlinter]``) and is run by
import-linter; the other rules are checked here on the sources' syntax trees (grimp, the graph
library under import-linter, for the cycles).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "code" / "agc"
#: A function or module longer than this states why in its docstring, with this marker.
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 600
LONG_MARKER = "Long by design:"


def modules(root: Path = PACKAGE) -> Iterator[tuple[str, Path, ast.Module]]:
    """(dotted name, path, syntax tree) of every module of the package under ``root``."""
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path, ast.parse(path.read_text(encoding="utf-8"))


def test_layer_contract_holds() -> None:
    """import-linter: every stage imports only from itself and the stages beneath it."""
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint), str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def import_cycles(package: str) -> list[tuple[str, str]]:
    """Pairs (a, b) of modules of ``package`` where a imports b and b imports a, directly or
    through others (any import statement, module level or inside a function)."""
    graph = grimp.build_graph(package, cache_dir=None)
    cycles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if imported.startswith(importer + "."):
                continue  # a package's __init__ importing its own submodule
            if graph.chain_exists(importer=imported, imported=importer):
                cycles.append((importer, imported))
    return cycles


def test_no_import_cycles() -> None:
    assert import_cycles("agc") == []


def test_cycle_check_finds_a_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cycle check is not vacuous: a two-module cycle is reported."""
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic import b\n")
    (package / "b.py").write_text("def f():\n    from cyclic.a import x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("cyclic") == [("cyclic.a", "cyclic.b"), ("cyclic.b", "cyclic.a")]


def private_imports(root: Path = PACKAGE) -> list[str]:
    """``from agc.x import _name`` and ``module._name`` uses across modules of the package."""
    found = []
    for name, path, tree in modules(root):
        aliases: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(root.name):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.append(f"{name}: from {node.module} import {alias.name}")
                    aliases.add(alias.asname or alias.name)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                found.append(f"{name}: {node.value.id}.{node.attr} ({path.name}:{node.lineno})")
    return found


def test_no_private_names_across_modules() -> None:
    assert private_imports() == []


def test_private_import_check_is_not_vacuous(tmp_path: Path) -> None:
    package = tmp_path / "agc"
    package.mkdir()
    (package / "a.py").write_text("from agc.b import _hidden\nfrom agc import c\nc._x()\n")
    assert private_imports(package) == [
        "agc.a: from agc.b import _hidden",
        "agc.a: c._x (a.py:3)",
    ]


def long_code(root: Path = PACKAGE) -> list[str]:
    """Functions over MAX_FUNCTION_LINES and modules over MAX_MODULE_LINES lines whose docstring
    does not give the reason (LONG_MARKER)."""
    found = []
    for name, path, tree in modules(root):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES and LONG_MARKER not in (ast.get_docstring(tree) or ""):
            found.append(f"module {name}: {lines} lines")
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                docstring = ast.get_docstring(node) or ""
                if length > MAX_FUNCTION_LINES and LONG_MARKER not in docstring:
                    found.append(f"function {name}.{node.name}: {length} lines")
    return found


def test_no_long_functions_or_modules_without_a_reason() -> None:
    assert long_code() == []


def test_every_stage_is_a_subpackage_with_a_docstring() -> None:
    """The stages of the layer contract exist and say what they hold."""
    for stage in (
        "core",
        "dataset",
        "analysis",
        "processing",
        "stats",
        "plots",
        "reinterpret",
        "publish",
        "report",
        "workflow",
    ):
        init = PACKAGE / stage / "__init__.py"
        assert init.is_file(), stage
        assert len(ast.get_docstring(ast.parse(init.read_text())) or "") > 40, stage
