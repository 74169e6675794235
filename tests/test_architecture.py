"""The package's shape: stages depend downwards, no cycles, no private imports, short code.

The layer contract itself is in pyproject.toml (``[tool.importlinter]``) and is run by
import-linter; the other rules are checked here on the sources' syntax trees (grimp, the graph
library under import-linter, for the cycles).
"""

from __future__ import annotations

import ast
import re
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
    assert "2 kept, 0 broken" in result.stdout


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
        "optimise",
        "publish",
        "report",
        "workflow",
    ):
        init = PACKAGE / stage / "__init__.py"
        assert init.is_file(), stage
        assert len(ast.get_docstring(ast.parse(init.read_text())) or "") > 40, stage


#: A public function taking more parameters than this states why in its docstring, with
#: WIDE_MARKER (the stage functions mirror the workflow parameters papermill injects).
MAX_PARAMETERS = 8
WIDE_MARKER = "Wide by design:"


def _public_functions(tree: ast.Module) -> Iterator[ast.FunctionDef]:
    """Module-level public functions and the public methods (and ``__init__``) of public classes."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            yield node
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and (
                    not item.name.startswith("_") or item.name == "__init__"
                ):
                    yield item


def wide_signatures(root: Path = PACKAGE) -> list[str]:
    """Public functions with more than MAX_PARAMETERS parameters (``self``/``cls`` not
    counted) whose docstring does not give the reason (WIDE_MARKER)."""
    found = []
    for name, _path, tree in modules(root):
        for node in _public_functions(tree):
            args = node.args
            named = [*args.posonlyargs, *args.args, *args.kwonlyargs]
            count = len(named) - (1 if named and named[0].arg in ("self", "cls") else 0)
            if count > MAX_PARAMETERS and WIDE_MARKER not in (ast.get_docstring(node) or ""):
                found.append(f"{name}.{node.name}: {count} parameters")
    return found


def test_no_wide_signatures_without_a_reason() -> None:
    """Settings travel as typed objects (agc.core.config), not as long keyword lists."""
    assert wide_signatures() == []


def test_wide_signature_check_is_not_vacuous(tmp_path: Path) -> None:
    package = tmp_path / "agc"
    package.mkdir()
    params = ", ".join(f"p{i}" for i in range(9))
    (package / "a.py").write_text(
        f"def wide({params}): pass\n"
        f"def ok(self, {', '.join(f'p{i}' for i in range(8))}): pass\n"
        f"def told({params}):\n    '''Wide by design: mirrors the schema.'''\n"
        f"class C:\n    def method(self, {params}): pass\n"
    )
    assert wide_signatures(package) == ["agc.a.wide: 9 parameters", "agc.a.method: 9 parameters"]


#: The product speaks to its users: no issue numbers or process history in code, specs, notebooks,
#: inputs or docs (history lives in git log and CHANGELOG.md).
PRODUCT = ("code", "workflow", "notebooks", "inputs", "environment", "docs", "tests")
PRODUCT_FILES = (
    "README.md",
    "Makefile",
    "reana.yaml",
    "reana-cwl.yaml",
    "reana-snakemake.yaml",
    "reana-dask.yaml",
    "reana-cwl-job.yaml",
    "CITATION.cff",
    "pyproject.toml",
)
HISTORY = re.compile(r"\bissues?\s*#\s*\d+|\(#\d+\)|\bwas tried\b|\bbefore/now\b", re.IGNORECASE)
#: The tests that state the patterns they look for.
CHECKERS = {"test_architecture.py", "test_docs.py"}
TEXT_SUFFIXES = {
    ".py",
    ".md",
    ".yaml",
    ".yml",
    ".cwl",
    ".ipynb",
    ".json",
    ".toml",
    ".cff",
    ".sh",
    ".txt",
    ".in",
    "",
}


def history_mentions(repo: Path = REPO) -> list[str]:
    """``path:line`` of every mention of an issue number or process history in the product."""
    files = [repo / name for name in PRODUCT_FILES]
    for folder in PRODUCT:
        files += sorted(p for p in (repo / folder).rglob("*") if p.is_file())
    found = []
    for path in files:
        if not path.is_file() or path.suffix not in TEXT_SUFFIXES or "__pycache__" in path.parts:
            continue
        if path.stat().st_size > 2_000_000 or path.name in CHECKERS:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if HISTORY.search(line):
                found.append(f"{path.relative_to(repo)}:{number}: {line.strip()[:80]}")
    return found


def test_no_issue_numbers_or_history_in_the_product() -> None:
    assert history_mentions() == []


def test_history_check_is_not_vacuous(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "m.py").write_text("x = 1  # fixed in issue #21\ny = 2  # fine\n")
    (tmp_path / "README.md").write_text("Faster (#14), see before/now.\n")
    assert history_mentions(tmp_path) == [
        "README.md:1: Faster (#14), see before/now.",
        "code/m.py:1: x = 1  # fixed in issue #21",
    ]
