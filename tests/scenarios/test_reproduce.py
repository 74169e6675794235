"""agc reproduce on an archived workflow run: the serial reference run (reana.yaml on the small
dataset with the small model) archived with its code, its bag tarball reproduced in a fresh
folder with the running interpreter (verdict: reproduced), then the archive with one fit number
moved beyond its tolerance and with one histogram bin rewritten (bag manifests re-saved, so the
archive still verifies): each named, exit 1. The rerun of the same archive by the Snakemake
workflow is marked ``full`` (make test-full), the reproduction in the image ``container`` (make
test-container)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import bagit
import pytest
from engine_helpers import EngineReference
from tamper_helpers import tamper_bin, tamper_fit

from agc import cli
from agc.publish.archive import build_archive
from agc.publish.reproduce import VERDICT_NAME, ReproduceOptions, Reproduction, reproduce
from agc.publish.verdict import CONTRACT, NOT_COMPARED, REPRODUCED, SAME_CONTENT

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
#: What the archive bags as code besides the reference workspace (specs, notebooks, inputs).
CODE_FOLDERS = ("code", "environment")
CODE_FILES = ("CITATION.cff", "pyproject.toml", "README.md", "reana-cwl.yaml")


@pytest.fixture(scope="module")
def workflow_archive(
    serial_reference: EngineReference,
    small_embedded_manifest: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """The archive of the serial reference run: its workspace (with the small model and the
    run's outputs) plus the package, lock files and citation of the repository, bagged without
    git (every file is code); the archive folder."""
    top = tmp_path_factory.mktemp("archived-run")
    checkout = top / "checkout"
    shutil.copytree(serial_reference.workspace, checkout)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in CODE_FOLDERS:
        shutil.copytree(REPO / name, checkout / name, ignore=ignore)
    for name in CODE_FILES:
        shutil.copy2(REPO / name, checkout / name)
    result = build_archive(
        checkout / "outputs",
        top / "archive",
        inputs=str(small_embedded_manifest),
        repo=checkout,
    )
    return Path(result.archive)


@pytest.fixture(scope="module")
def reproduction(workflow_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Reproduction:
    """The bag tarball reproduced with the running interpreter in a fresh folder."""
    (tarball,) = workflow_archive.glob("agc-ttbar-*-bag.tar.gz")
    folder = tmp_path_factory.mktemp("reproduction") / "r"
    return reproduce(tarball, folder, ReproduceOptions(environment="current"))


def test_the_bag_tarball_is_reproduced(reproduction: Reproduction) -> None:
    assert reproduction.ok, reproduction.summary()
    rows = {v.output: v for v in reproduction.verdicts}
    for name in ("histograms.root", "cutflow.json", "workspace.json"):
        assert rows[name].verdict == REPRODUCED
        assert rows[name].largest_difference == 0.0
    assert rows["fit_results.json"].rule == CONTRACT
    assert rows["fit_results.json"].verdict == REPRODUCED
    # the small run's inputs were a manifest by path: where its files were is not compared
    assert rows["dataset.json"].rule == SAME_CONTENT
    assert rows["provenance.json"].verdict == NOT_COMPARED
    summary = reproduction.summary()
    assert summary.splitlines()[0].split()[:2] == ["output", "rule"]
    assert summary.splitlines()[-1].startswith("reproduced: ")
    record = json.loads((Path(reproduction.folder) / VERDICT_NAME).read_text())
    assert record["reproduced"] is True
    assert len(record["verdicts"]) == len(reproduction.verdicts)


def tampered_bag(archive: Path, folder: Path) -> tuple[Path, Path]:
    """A copy of the archive's bag (its outputs folder second); the caller changes an output
    and :func:`resave` makes the manifests match again."""
    bag = folder / "bag"
    shutil.copytree(archive / "bag", bag)
    return bag, bag / "data" / "outputs"


def resave(bag: Path) -> None:
    """Rewrite the bag's manifests for its current payload (bagit)."""
    bagit.Bag(str(bag)).save(manifests=True)


def test_a_fit_number_beyond_its_tolerance_is_named_with_exit_1(
    workflow_archive: Path,
    reproduction: Reproduction,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bag, outputs = tampered_bag(workflow_archive, tmp_path)
    label = tamper_fit(outputs / "fit_results.json", 3.0)
    resave(bag)
    assert reproduction.rerun_outputs is not None
    args = ["reproduce", str(bag), "--into", str(tmp_path / "r"), "--reuse-env"]
    assert cli.main([*args, "--outputs", reproduction.rerun_outputs]) == 1
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("NOT reproduced: fit_results.json (1 outside the tolerance")
    assert f"bestfit[{label}]" in last
    assert "histograms.root" not in last


def test_a_rewritten_histogram_bin_is_named_with_exit_1(
    workflow_archive: Path,
    reproduction: Reproduction,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bag, outputs = tampered_bag(workflow_archive, tmp_path)
    tamper_bin(outputs / "histograms.root", "4j1b_wjets", 3, -1.5)
    resave(bag)
    assert reproduction.rerun_outputs is not None
    args = ["reproduce", str(bag), "--into", str(tmp_path / "r"), "--reuse-env", "--json"]
    assert cli.main([*args, "--outputs", reproduction.rerun_outputs]) == 1
    record = json.loads(capsys.readouterr().out)
    assert record["reproduced"] is False
    (named,) = record["not_reproduced"]
    assert named.startswith("histograms.root (4j1b_wjets bin 3 content: ")


@pytest.mark.full
def test_the_archive_is_reproduced_by_the_snakemake_workflow(
    workflow_archive: Path, tmp_path: Path
) -> None:
    """The serial run's archive rerun by another engine, the Snakemake workflow (Snakemake
    7.32.4 from .venv-snakemake, the rerun's default): every output both engines write is
    reproduced, bit for bit where the serial rerun's are."""
    program = REPO / ".venv-snakemake" / "bin" / "snakemake"
    if not program.exists():
        pytest.fail(f"{program} missing: create it with `make snakemake`")
    options = ReproduceOptions(environment="current", engine="snakemake", snakemake=str(program))
    result = reproduce(workflow_archive, tmp_path / "r", options)
    assert result.ok, result.summary()
    assert result.rerun_outputs == str(tmp_path / "r" / "workspace" / "outputs" / "snakemake")
    rows = {v.output: v for v in result.verdicts}
    for name in ("histograms.root", "cutflow.json", "workspace.json"):
        assert rows[name].verdict == REPRODUCED
        assert rows[name].largest_difference == 0.0
    assert rows["fit_results.json"].verdict == REPRODUCED
    assert not [v.output for v in result.verdicts if v.failed]


@pytest.mark.container
def test_the_archive_is_reproduced_in_its_image(workflow_archive: Path, tmp_path: Path) -> None:
    """reana.yaml's steps in the image the archived code names (built by make image), over a
    fresh workspace holding the uploaded files and the regenerated inputs."""
    if shutil.which("buildah") is None:
        pytest.skip("buildah not installed (apt-get install -y podman buildah mmdebstrap)")
    subprocess.run(["bash", "environment/build-image.sh"], cwd=REPO, check=True)
    result = reproduce(workflow_archive, tmp_path / "r", ReproduceOptions(environment="container"))
    assert result.ok, result.summary()
    assert result.rerun_outputs == str(tmp_path / "r" / "container-workspace" / "outputs")
