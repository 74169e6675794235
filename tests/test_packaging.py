"""The package outside the checkout: the wheel carries the analysis files (inputs, notebooks,
workflow specifications) and finds them with importlib.resources; its metadata declare the SPDX
licence expression; ``agc init`` lays out a workspace from the installed package.

The wheel is built from the repository and installed with ``pip --target`` into a temporary
folder; every check then runs with that folder on PYTHONPATH from a working directory outside the
checkout.
"""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from agc.core import resources
from agc.core.codeversion import code_hash
from agc.core.errors import AGCError

REPO = Path(__file__).resolve().parents[1]
#: Files of each kind the installed package must find (relative to a workspace).
BDT_MODEL = "inputs/models/agc_reconstruction_bdt/model_even.json"
BDT_LICENCE = "inputs/models/agc_reconstruction_bdt/LICENSE"
PIP = (sys.executable, "-m", "pip", "--quiet")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the repository's files (as ``pip wheel
    --no-build-isolation``): building in the checkout would leave ``code/*.egg-info`` there,
    whose entry points, once stale, would shadow the installed package's on ``PYTHONPATH=code``
    (e.g. papermill's engine ``agc``)."""
    folder = tmp_path_factory.mktemp("wheel")
    source = tmp_path_factory.mktemp("source")
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    result = subprocess.run(
        [*PIP, "wheel", "--no-deps", "--no-build-isolation", str(source), "-w", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (built,) = folder.glob("agc_ttbar-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed with ``pip install --target`` (the folder to put on PYTHONPATH)."""
    target = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [*PIP, "install", "--no-deps", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return target


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """An empty working directory outside the checkout."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    assert REPO not in folder.resolve().parents
    return folder


def _run(installed: Path, cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """``python ARGS`` with only the installed wheel providing ``agc`` (PYTHONPATH first)."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "AGC_DEBUG"}}
    env["PYTHONPATH"] = str(installed)
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


# --------------------------------------------------------------------------- the wheel


def test_wheel_carries_the_analysis_files_and_the_licences(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_bytes(archive.read(metadata_name))
    data = "agc/_data/"
    for name in (
        BDT_MODEL,
        BDT_LICENCE,
        "inputs/cabinetry.yaml",
        "inputs/cabinetry_ml.yaml",
        "inputs/embedded.yaml",
        "inputs/signals/zprime_1000.yaml",
        "notebooks/03_fit.ipynb",
        "workflow/Snakefile",
        "workflow/workflow.cwl",
        "reana.yaml",
        "reana-snakemake.yaml",
        "environment/requirements.lock",
    ):
        assert data + name in names, name
    assert not [n for n in names if "__pycache__" in n or n.startswith(data + "code/")]
    assert metadata["License-Expression"] == "BSD-3-Clause AND MIT"
    assert sorted(metadata.get_all("License-File")) == sorted(["LICENSE", BDT_LICENCE])
    assert metadata["Requires-Python"] == ">=3.11"
    dist_info = metadata_name.rsplit("/", 1)[0]
    assert f"{dist_info}/licenses/{BDT_LICENCE}" in names
    with zipfile.ZipFile(wheel) as archive:
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    assert (
        "[papermill.engine]\nagc-nbclient = agc.workflow.notebookengine:AGCEngine" in entry_points
    )


def test_installed_package_finds_models_configs_signals_and_recipe(
    installed: Path, outside: Path
) -> None:
    script = textwrap.dedent(
        """
        from pathlib import Path
        import agc
        from agc.analysis.inference import load_models
        from agc.core import resources
        from agc.dataset.recipe import load_recipe
        from agc.stats.mlmodel import ml_template
        from agc.stats.model import load_template, validate_config
        from agc.workflow.preflight import check_signal, known_signals, resolve_signal

        print("package", Path(agc.__file__).resolve().parent)
        print("root", resources.analysis_root())
        print("models", sorted(load_models().sha256))
        validate_config(load_template())
        print("ml", len(ml_template()["Regions"]))
        print("recipe", len(load_recipe()["samples"]))
        print("signals", " ".join(known_signals(Path.cwd())))
        signal = resolve_signal("zprime_1000", Path.cwd())
        check_signal(signal, Path.cwd())
        print("signal", signal)
        """
    )
    result = _run(installed, outside, "-c", script)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert Path(lines["package"]) == (installed / "agc").resolve()
    assert Path(lines["root"]) == (installed / "agc" / "_data").resolve()
    assert lines["models"] == "['model_even.json', 'model_odd.json']"
    assert int(lines["recipe"]) > 0
    assert int(lines["ml"]) > 0
    assert "inputs/signals/zprime_1000.yaml" in lines["signals"].split()
    assert lines["signal"] == "inputs/signals/zprime_1000.yaml"
    assert list(outside.iterdir()) == []  # found in the package, nothing written


def test_installed_cli_checks_parameters_and_names_signals_outside_the_checkout(
    installed: Path, outside: Path
) -> None:
    good = _run(
        installed,
        outside,
        "-m",
        "agc",
        "check-parameters",
        stdin="signal=inputs/signals/zprime_1500.yaml\noutdir=outputs\n",
    )
    assert good.returncode == 0, good.stderr
    assert "zprime_1500" in good.stdout
    typo = _run(installed, outside, "-m", "agc", "reinterpret", "--signal", "zprime_1001")
    assert typo.returncode == 2
    assert "did you mean inputs/signals/zprime_1000.yaml" in typo.stderr.strip().splitlines()[-1]
    helped = _run(installed, outside, "-m", "agc", "reinterpret", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "--signal" in helped.stdout


def test_installed_agc_init_lays_out_a_workspace(installed: Path, outside: Path) -> None:
    result = _run(installed, outside, "-m", "agc", "init", "ws")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("next: cd ws && agc run-serial reana.yaml")
    workspace = outside / "ws"
    for name in ("reana.yaml", "workflow/Snakefile", "notebooks/00_dataset.ipynb", BDT_MODEL):
        assert (workspace / name).is_file(), name
    assert (workspace / "code" / "agc" / "cli" / "__init__.py").is_file()
    assert not (workspace / "code" / "agc" / "_data").exists()
    assert not list(workspace.rglob("__pycache__"))
    again = _run(installed, outside, "-m", "agc", "init", "ws")
    assert again.returncode == 2
    assert "folder is not empty" in again.stderr


# --------------------------------------------------------------------------- in the checkout


def test_checkout_is_the_source_of_truth() -> None:
    assert resources.analysis_root() == REPO
    assert resources.analysis_file(BDT_LICENCE) == REPO / BDT_LICENCE
    assert resources.analysis_file("inputs/missing.yaml") is None


def test_resolve_prefers_the_workspace_copy(tmp_path: Path) -> None:
    own = tmp_path / "inputs" / "cabinetry.yaml"
    own.parent.mkdir()
    own.write_text("own copy\n")
    assert resources.resolve("inputs/cabinetry.yaml", tmp_path) == own
    assert resources.resolve("inputs/embedded.yaml", tmp_path) == REPO / "inputs/embedded.yaml"
    assert resources.resolve("inputs/nothing.yaml", tmp_path) == tmp_path / "inputs/nothing.yaml"
    assert resources.resolve(own) == own


def test_lay_out_workspace_refuses_a_file_and_a_folder_in_use(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(AGCError, match="not a folder"):
        resources.lay_out_workspace(tmp_path / "file")
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine\n")
    with pytest.raises(AGCError, match="not empty"):
        resources.lay_out_workspace(used)
    copied = resources.lay_out_workspace(used, force=True)
    assert set(copied) == {*resources.WORKSPACE, "code"} - {
        name for name in resources.WORKSPACE if not (REPO / name).exists()
    }
    assert (used / "notes.txt").read_text() == "mine\n"


@pytest.mark.parametrize("command", [["run-serial"], ["run-cwl"]])
def test_a_runner_outside_a_workspace_points_at_agc_init(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    from agc import cli

    monkeypatch.chdir(tmp_path)
    assert cli.main(command) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert f"agc {command[0]}: error: " in line
    assert "not found: " in line
    assert line.endswith("(`agc init DIR` lays out a workspace)")


def test_every_workspace_entry_is_in_the_repository_and_the_sdist_manifest() -> None:
    manifest = (REPO / "MANIFEST.in").read_text(encoding="utf-8").split()
    for name in resources.WORKSPACE:
        assert (REPO / name).exists(), name
        assert name in manifest, f"MANIFEST.in does not include {name}"


def test_code_hash_leaves_out_the_packaged_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "agc"
    (package / "core").mkdir(parents=True)
    (package / "core" / "x.py").write_text("x = 1\n")
    monkeypatch.setattr("agc.core.codeversion.package_dir", lambda: package)
    before = code_hash()
    (package / "_data" / "inputs").mkdir(parents=True)
    (package / "_data" / "inputs" / "model.json").write_text("{}")
    assert code_hash() == before
    (package / "core" / "y.json").write_text("{}")
    assert code_hash() != before
