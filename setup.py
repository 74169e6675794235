"""Build step of the wheel: copy the analysis files into the package as ``agc/_data``.

The metadata are pyproject.toml's. The repository's inputs/, notebooks/, workflow/, environment/
and workflow specifications (``agc.core.resources.WORKSPACE``) stay the source of truth; the wheel
carries a copy, found at run time with importlib.resources (agc.core.resources). An editable
install reads them from the checkout and copies nothing.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
RESOURCES = HERE / "code" / "agc" / "core" / "resources.py"


def _constant(path: Path, name: str) -> object:
    """The literal value of the module-level assignment ``name`` in ``path`` (not imported: the
    build runs before the package's dependencies are installed)."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return ast.literal_eval(node.value)
    raise RuntimeError(f"{path}: no constant {name}")


class BuildWithAnalysisFiles(build_py):
    """build_py, then the analysis files copied into ``<build>/agc/_data``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        data = Path(self.build_lib) / "agc" / str(_constant(RESOURCES, "DATA_PACKAGE_DIR"))
        shutil.rmtree(data, ignore_errors=True)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
        for name in _constant(RESOURCES, "WORKSPACE"):
            source = HERE / name
            if source.is_dir():
                shutil.copytree(source, data / name, ignore=ignore)
            elif source.is_file():
                data.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, data / name)


setup(cmdclass={"build_py": BuildWithAnalysisFiles})
