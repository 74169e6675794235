"""The container runner's pieces (agc.workflow.container) and the guards around the image, fast:
upload as reana-client does, the buildah command line, the one image reference, the parameters
refused before any step, the code that runs. The runs in the image are in
tests/scenarios/test_container_runs.py (make test-container)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from string import Template

import pytest
import yaml

from agc.core.errors import AGCError
from agc.workflow.container import (
    MOUNT,
    USER,
    buildah_run,
    image_name,
    missing_outputs,
    upload,
)

REPO = Path(__file__).resolve().parents[2]
SERIAL = REPO / "reana.yaml"
INJECTION = 'x"; touch {marker}; echo "'


def _spec() -> dict:
    return yaml.safe_load(SERIAL.read_text(encoding="utf-8"))


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to 1000:0 needs root")
def test_upload_copies_exactly_the_spec_inputs_owned_by_1000_0_group_writable(
    tmp_path: Path,
) -> None:
    spec = _spec()
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "stale").write_text("from an earlier run")
    names = upload(spec, REPO, workspace)
    expected = spec["inputs"]["files"] + spec["inputs"]["directories"]
    assert names == expected
    assert sorted(p.name for p in workspace.iterdir()) == sorted(expected)
    assert not list(workspace.rglob("__pycache__"))
    for path in [workspace, *workspace.rglob("*")]:
        info = path.lstat()
        assert (info.st_uid, info.st_gid) == (1000, 0), path
        assert info.st_mode & 0o060 == 0o060, f"{path} is not group-writable"


def test_upload_names_a_missing_input(tmp_path: Path) -> None:
    spec = {"inputs": {"files": ["nope.txt"]}}
    with pytest.raises(AGCError, match=r"spec input not found.*nope\.txt"):
        upload(spec, tmp_path, tmp_path / "ws")


def test_buildah_run_is_reana_s_job_command_without_network_or_our_venv(tmp_path: Path) -> None:
    line = buildah_run("buildah", "c1", tmp_path, 'echo "hi"', {"AGC_ENGINE": "serial-container"})
    assert line[:3] == ["unshare", "--net", "--"]
    assert line[line.index("--user") + 1] == USER == "1000:0"
    assert line[-4:] == ["c1", "--", "bash", "-c", f'cd {MOUNT} && echo "hi"'][-4:]
    assert line[-1] == f'cd {MOUNT} && echo "hi"'
    assert f"{tmp_path.resolve()}:{MOUNT}:rw" in line
    assert "AGC_ENGINE=serial-container" in line
    assert not any(".venv" in token for token in line)


def test_missing_outputs_lists_what_the_spec_declares_and_the_run_lacks(tmp_path: Path) -> None:
    (tmp_path / "outputs" / "plots").mkdir(parents=True)
    (tmp_path / "outputs" / "a.json").write_text("{}")
    spec = {
        "outputs": {
            "files": ["outputs/a.json", "outputs/b.json"],
            "directories": ["outputs/plots", "outputs/notebooks"],
        }
    }
    assert missing_outputs(spec, tmp_path) == ["outputs/b.json", "outputs/notebooks"]


def test_without_the_ml_extension_its_histograms_are_not_expected(tmp_path: Path) -> None:
    spec = {"outputs": {"files": ["outputs/histograms.root", "outputs/histograms_ml.root"]}}
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "histograms.root").write_bytes(b"")
    assert missing_outputs(spec, tmp_path) == ["outputs/histograms_ml.root"]
    assert missing_outputs(spec, tmp_path, use_inference=False) == []


def test_the_image_is_named_in_one_place_that_every_spec_takes() -> None:
    image = image_name(REPO)
    steps = _spec()["workflow"]["specification"]["steps"]
    assert {step["environment"] for step in steps} == {image}
    for tool in sorted((REPO / "workflow").glob("*.cwl")):
        document = yaml.safe_load(tool.read_text(encoding="utf-8"))
        if document["class"] != "CommandLineTool":
            continue
        pulled = document["hints"]["DockerRequirement"]["dockerPull"]
        assert pulled == image, f"{tool.name}: {pulled} (environment/image says {image})"


def test_license_is_bsd_3_clause_as_pyproject_says_and_the_image_ships_it() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "BSD-3-Clause AND MIT"  # the package; the AGC's BDTs
    first_lines = [(REPO / name).read_text().splitlines()[0] for name in project["license-files"]]
    assert first_lines == ["BSD 3-Clause License", "MIT License"]
    assert "COPY LICENSE " in (REPO / "environment" / "Dockerfile").read_text()


def test_the_injection_is_refused_by_the_local_runner_and_creates_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "injected"
    value = INJECTION.format(marker=marker)
    result = subprocess.run(
        [sys.executable, "-m", "agc", "run-serial", str(SERIAL), "-p", f"signal={value}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "parameter 'signal'" in line
    assert "refused" in line
    assert not marker.exists()


@pytest.mark.parametrize(
    ("signal", "refused"),
    [("ttbar", False), (INJECTION, True), ("a\nb", True), ("a$(id)", True), ("a`id`", True)],
)
def test_reana_yaml_s_first_command_checks_the_parameters_before_any_work(
    tmp_path: Path, signal: str, refused: bool
) -> None:
    """On REANA nothing runs before the spec's commands: the first one must refuse a value that
    would escape the quoting of the others, without being escaped itself."""
    marker = tmp_path / "injected"
    first = _spec()["workflow"]["specification"]["steps"][0]["commands"][0]
    params = dict(_spec()["inputs"]["parameters"], signal=signal.format(marker=marker))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(
        ["bash", "-c", f"cd {REPO} && {Template(first).substitute(params)}"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert (result.returncode != 0) == refused, result.stderr
    if refused:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not marker.exists()


def test_every_command_runs_the_uploaded_code_first_on_the_path() -> None:
    for step in _spec()["workflow"]["specification"]["steps"]:
        for text in step["commands"]:
            for program in ("papermill ", "agc "):
                for at in range(len(text)):
                    if text.startswith(program, at) and (at == 0 or text[at - 1] == " "):
                        assert text[:at].endswith("PYTHONPATH=code "), f"{step['name']}: {text}"


def test_provenance_says_which_code_ran(tmp_path: Path) -> None:
    shutil.copytree(REPO / "code" / "agc", tmp_path / "code" / "agc")
    probe = "from agc.publish.provenance import code_source; print(code_source())"
    ran = {}
    for where, path in (("workspace", "code"), ("repository", str(REPO / "code"))):
        env = dict(os.environ, PYTHONPATH=path)
        out = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        ran[where] = out.stdout.strip()
    assert ran == {"workspace": "workspace", "repository": "checkout"}


def test_cwl_jobs_in_the_image_keep_none_of_the_local_environment(tmp_path: Path) -> None:
    from agc.workflow.runners import CwltoolOptions, cwltool_command

    env = {"PATH": "/x/.venv/bin", "JUPYTER_PATH": "/x", "AGC_ENGINE": "cwl-container"}
    wrapper = REPO / "environment" / "cwl-buildah"
    line = cwltool_command(
        Path("w.cwl"),
        Path("job.json"),
        outdir=tmp_path,
        scratch=tmp_path,
        env=env,
        local=CwltoolOptions(cwltool=Path("cwltool"), docker_cmd=wrapper),
    )
    assert line[1:3] == ["--user-space-docker-cmd", str(wrapper.resolve())]
    assert "--no-container" not in line
    kept = [line[i + 1] for i, token in enumerate(line) if token == "--preserve-environment"]
    assert kept == ["AGC_ENGINE"]
