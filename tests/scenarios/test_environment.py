"""The pinned environment: one lock for the Makefile, CI and the image, and it provides every import."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "environment" / "requirements.lock"
REQUIREMENTS_IN = REPO / "environment" / "requirements.in"

#: Imports of modules that run in another locked environment, with that environment's lock:
#: agc.workflow.featurecheck runs with reana-commons 0.95 (``.venv-reana-dask``, ``make reana-test``).
OTHER_ENVIRONMENTS = {"reana_commons": REPO / "environment" / "reana-dask.txt"}

# Import names that differ from their distribution names.
DIST_OF_IMPORT = {
    "yaml": "pyyaml",
    "hepdata_lib": "hepdata-lib",
    "hepdata_validator": "hepdata-validator",
    "swh": "swh.model",  # swh is a namespace package; swh.model is the distribution
    "xgboost": "xgboost-cpu",  # the CPU-only build of xgboost
    "PIL": "pillow",
}


def _pins(lock: Path) -> dict[str, str]:
    pins = {}
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", line)
        if match:
            pins[_norm(match.group(1))] = match.group(2)
    return pins


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _direct_requirements() -> list[str]:
    names = []
    for raw in REQUIREMENTS_IN.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            names.append(_norm(re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0]))
    return names


def test_lock_pins_every_direct_requirement_with_hashes() -> None:
    pins = _pins(LOCK)
    missing = [name for name in _direct_requirements() if name not in pins]
    assert not missing, f"not pinned in {LOCK.name}: {missing}"
    blocks = re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text())
    unhashed = [
        b.split("==")[0] for b in blocks if "==" in b.split("\n")[0] and "--hash=sha256:" not in b
    ]
    assert not unhashed, f"pins without hashes: {unhashed}"


def test_dockerfile_makefile_and_ci_use_the_same_lock() -> None:
    dockerfile = (REPO / "environment" / "Dockerfile").read_text()
    makefile = (REPO / "Makefile").read_text()
    lock_rel = str(LOCK.relative_to(REPO))
    assert re.search(
        rf"pip install --require-hashes --no-deps -r {re.escape(lock_rel)}$",
        dockerfile,
        re.MULTILINE,
    ), "the image must install environment/requirements.lock, hash-checked"
    assert f"LOCK := {lock_rel}" in makefile
    # One rule (venv_rule) builds every environment, hash-checked from the lock it is given;
    # .venv is the one given $(LOCK).
    assert "--require-hashes --no-deps -r $(3)" in makefile
    assert "$(eval $(call venv_rule,,$(VENV),$(LOCK)," in makefile
    assert "make test" in (REPO / ".ci" / "run").read_text()
    assert re.search(r"ipykernel install .*--name python3", dockerfile), (
        "image must register the python3 kernel"
    )
    assert re.search(r"useradd .*--uid 1000 --gid 0", dockerfile), "REANA runs steps as 1000:0"
    assert re.search(r"^USER 1000:0", dockerfile, re.MULTILINE)
    assert re.search(r"^FROM \$\{BASE\}", dockerfile, re.MULTILINE)
    base = re.search(r"^ARG BASE=\S*python:(\d+\.\d+)", dockerfile, re.MULTILINE)
    assert base, "the default base must be a python image"
    assert base.group(1) == f"{sys.version_info.major}.{sys.version_info.minor}"


def test_installed_versions_are_the_locked_ones() -> None:
    pins = _pins(LOCK)
    wrong = {}
    for name in _direct_requirements():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            wrong[name] = "not installed"
            continue
        if installed != pins[name]:
            wrong[name] = f"{installed} != {pins[name]}"
    assert not wrong, f"environment differs from the lock: {wrong}"


def _third_party_imports() -> set[str]:
    modules: set[str] = set()
    for path in (REPO / "code" / "agc").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m != "agc"}


def test_every_package_import_resolves_in_the_locked_environment() -> None:
    imports = _third_party_imports()
    assert {"coffea", "uproot", "awkward", "hist"} <= imports
    for module, lock in OTHER_ENVIRONMENTS.items():
        assert module in imports, f"{module} is no longer imported: drop it from OTHER_ENVIRONMENTS"
        assert _norm(DIST_OF_IMPORT.get(module, module)) in _pins(lock), f"{module} not in {lock}"
    imports -= set(OTHER_ENVIRONMENTS)
    unresolved = [m for m in sorted(imports) if importlib.util.find_spec(m) is None]
    assert not unresolved, f"imports not resolvable: {unresolved}"
    pins = _pins(LOCK)
    direct = set(_direct_requirements())
    undeclared = [
        m for m in sorted(imports) if _norm(DIST_OF_IMPORT.get(m, m)) not in direct | set(pins)
    ]
    assert not undeclared, f"imported but not in requirements.in/lock: {undeclared}"


def test_every_imported_distribution_is_a_declared_dependency() -> None:
    """What code/agc imports is a direct dependency in pyproject.toml (what ``pip install .``
    installs and codemeta.json cites) and in requirements.in (what the lock is compiled from),
    not only a dependency of a dependency."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {_norm(re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0]) for d in project["dependencies"]}
    direct = set(_direct_requirements())
    distributions = importlib.metadata.packages_distributions()
    missing = {}
    for module in sorted(_third_party_imports() - set(OTHER_ENVIRONMENTS)):
        names = {_norm(d) for d in distributions.get(module, [DIST_OF_IMPORT.get(module, module)])}
        where = [
            f for f, names_in in (("pyproject", declared), ("in", direct)) if not names & names_in
        ]
        if where:
            missing[module] = where
    assert not missing, f"imported but not declared (module: files lacking it): {missing}"


@pytest.mark.parametrize(
    "module", ["coffea.processor", "coffea.nanoevents", "cabinetry", "pyhf", "papermill", "mplhep"]
)
def test_key_modules_import(module: str) -> None:
    importlib.import_module(module)


def test_missing_shared_is_a_skip_locally_and_an_error_under_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import require_shared

    absent = tmp_path / "shared" / "absent.root"
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="under CI=true: real file not available"):
        require_shared(absent, "real file")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="not beside the checkout"):
        require_shared(absent, "real file")
    assert require_shared(tmp_path, "a folder") == tmp_path
