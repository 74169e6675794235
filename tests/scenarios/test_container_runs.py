"""The image is real: built here (make image) and both workflows run in it as REANA runs them.

Marked ``container``: ``make test-container`` runs these, ``make test`` does not. Without podman
or buildah they skip with the reason, except under CI (``CI=true``), where they fail. One
module-scoped pair of runs (one file per sample, iterative executor, as the serial/CWL agreement
test of test_workflow) serves every check: reana.yaml in the image over a fresh workspace and the
same spec run locally by the development environment; the CWL workflow, run by the cwltool
version of REANA's CWL engine (.venv-reana) with every job in the image, must give the same
products.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from string import Template

import pytest
import yaml

from agc.core.codeversion import code_hash
from agc.core.errors import AGCError
from agc.dataset.generate import generate_dataset
from agc.workflow.container import (
    image_name,
    run_in_new_container,
    run_serial_in_container,
    upload,
)
from agc.workflow.runners import Command, CwltoolOptions, run_cwl, run_serial

pytestmark = [pytest.mark.container, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SERIAL = REPO / "reana.yaml"
EMBEDDED_RECIPE = REPO / "inputs" / "embedded.yaml"
OVERRIDES = {"max_files": "1", "executor": "iterative"}
#: The products that must be byte-identical between the runs (the ML extension is on by default).
PRODUCTS = (
    "histograms.root",
    "cutflow.json",
    "workspace.json",
    "fit_results.json",
    "dataset.json",
    "ml/workspace_ml.json",
    "ml/fit_results_ml.json",
)


def _require(tools: tuple[str, ...]) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        message = (
            f"{', '.join(missing)} not installed (apt-get install -y podman buildah mmdebstrap)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"under CI=true: {message}")
        pytest.skip(message)


@pytest.fixture(scope="module")
def image() -> str:
    """The analysis image, built (or found up to date) by ``make image``'s script."""
    _require(("podman", "buildah", "unshare", "ip"))
    subprocess.run(["bash", "environment/build-image.sh"], cwd=REPO, check=True)
    return image_name(REPO)


@pytest.fixture(scope="module")
def container_run(image: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """reana.yaml run in the image over a fresh workspace: the workspace."""
    workspace = tmp_path_factory.mktemp("container") / "workspace"
    run_serial_in_container(SERIAL, image, workspace, OVERRIDES)
    return workspace


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """reana.yaml run locally (the development .venv) over the same uploaded files."""
    workspace = tmp_path_factory.mktemp("local") / "workspace"
    upload(yaml.safe_load(SERIAL.read_text(encoding="utf-8")), REPO, workspace)
    shutil.copy(SERIAL, workspace / SERIAL.name)
    run_serial(workspace / SERIAL.name, OVERRIDES)
    return workspace


def assert_same_products(produced: Path, reference: Path) -> None:
    """The :data:`PRODUCTS` of two output folders are the same bytes; both drew the same figures
    (the analysis' and the ML step's)."""
    for name in PRODUCTS:
        assert (produced / name).read_bytes() == (reference / name).read_bytes(), f"{name} differs"
    for plots in ("plots", "ml/plots"):
        drawn = sorted(p.name for p in (produced / plots).iterdir())
        assert drawn, f"no figures in {plots}"
        assert drawn == sorted(p.name for p in (reference / plots).iterdir()), plots


def test_the_serial_workflow_in_the_image_gives_the_local_products_byte_for_byte(
    container_run: Path, local_run: Path
) -> None:
    assert_same_products(container_run / "outputs", local_run / "outputs")


def test_provenance_records_the_uploaded_code_and_the_container_engine(
    container_run: Path,
) -> None:
    record = json.loads((container_run / "outputs" / "provenance.json").read_text())
    assert record["engine"] == "serial-container"
    assert record["package"]["code_source"] == "workspace"
    assert record["package"]["code_sha256"] == code_hash()
    owners = {(p.stat().st_uid, p.stat().st_gid) for p in (container_run / "outputs").rglob("*")}
    assert owners == {(1000, 0)}, "every product is written by the step's user 1000:0"


def test_an_edit_to_the_uploaded_code_takes_effect(image: str, tmp_path: Path) -> None:
    """The dataset step over an uploaded 1 % dataset (it checks the manifest instead of generating
    the embedded default: what is tested is whose code runs)."""
    source = tmp_path / "source"
    upload(yaml.safe_load(SERIAL.read_text(encoding="utf-8")), REPO, source)
    shutil.copy(SERIAL, source / SERIAL.name)
    generate_dataset(source / "inputs" / "small", recipe=EMBEDDED_RECIPE, scale=0.01, workers=1)
    with (source / "code" / "agc" / "__init__.py").open("a", encoding="utf-8") as handle:
        handle.write('\nimport pathlib\npathlib.Path("edited-code-ran").touch()\n')
    workspace = tmp_path / "workspace"
    small = {**OVERRIDES, "inputs": "inputs/small/manifest.json"}
    run_serial_in_container(
        source / "reana.yaml", image, workspace, small, options={"TARGET": "dataset"}
    )
    assert (workspace / "outputs" / "dataset.json").is_file()
    assert (workspace / "edited-code-ran").is_file(), "the image's copy ran, not the uploaded one"


def test_the_injection_is_refused_in_the_image_and_creates_nothing(
    image: str, tmp_path: Path
) -> None:
    spec = yaml.safe_load(SERIAL.read_text(encoding="utf-8"))
    value = 'x"; touch injected; echo "'
    with pytest.raises(AGCError, match="parameter 'signal'"):
        run_serial_in_container(SERIAL, image, tmp_path / "refused", {"signal": value})
    # On REANA the spec's first command is the only guard: run it, expanded, in the image.
    workspace = tmp_path / "workspace"
    upload(spec, REPO, workspace)
    params = dict(spec["inputs"]["parameters"], signal=value)
    first = Template(spec["workflow"]["specification"]["steps"][0]["commands"][0])
    command = Command("dataset", 1, 2, first.substitute(params))
    assert run_in_new_container(shutil.which("buildah") or "buildah", image, workspace, command, {})
    assert not (workspace / "injected").exists()


def test_the_cwl_workflow_in_the_image_gives_the_serial_products(
    image: str, local_run: Path, tmp_path: Path
) -> None:
    """reana-cwl.yaml's workflow run by cwltool 3.1.20210628163208 (.venv-reana, the version of
    REANA's CWL engine) with every job in the image (--user-space-docker-cmd
    environment/cwl-buildah: buildah run as 1000:0, no network), the image's agc."""
    cwltool = REPO / ".venv-reana" / "bin" / "cwltool"
    if not cwltool.exists():
        pytest.fail(f"{cwltool} missing: create it with `make reana-client`")
    version = subprocess.run(
        [str(cwltool), "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.split()[-1] == "3.1.20210628163208"
    run = run_cwl(
        OVERRIDES,
        workdir=REPO,
        outdir=tmp_path / "cwl",
        local=CwltoolOptions(cwltool=cwltool, docker_cmd=REPO / "environment" / "cwl-buildah"),
    )
    assert_same_products(Path(run.outdir), local_run / "outputs")
    record = json.loads((Path(run.outdir) / "provenance.json").read_text())
    assert (record["engine"], record["package"]["code_source"]) == ("cwl-container", "installed")
