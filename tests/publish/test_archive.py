"""Archival submission: HEPData record (hepdata-validator), BagIt bag (bagit), rerun from the bag."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import bagit
import pytest
import yaml

from agc.core.errors import AGCError
from agc.core.fileio import sha256_file
from agc.publish.archive import ArchiveResult, build_archive, code_files, validate_bag
from agc.publish.hepdata import (
    LIKELIHOOD_TARBALL,
    build_submission,
    reproducible_tarball,
    validate_submission,
)

REPO = Path(__file__).resolve().parents[2]


def test_archive_layout(archive: tuple[Path, ArchiveResult]) -> None:
    dest, result = archive
    for name in ("CITATION.cff", ".zenodo.json", "codemeta.json", "hepdata-submission.tar.gz"):
        assert (dest / name).is_file(), name
    data = dest / "bag" / "data"
    for rel in (
        "code/environment/requirements.lock",
        "code/reana.yaml",
        "code/reana-cwl.yaml",
        "code/inputs/embedded.yaml",
        "code/code/agc/publish/archive.py",
        "inputs/manifest.json",
        "outputs/histograms.root",
        "outputs/fit_results.json",
        "metadata/archive.json",
        "metadata/hepdata-submission.tar.gz",
    ):
        assert (data / rel).is_file(), rel
    assert not (data / "outputs" / "archive").exists(), "the archive must not bag itself"
    assert not list(data.rglob("*.root"))[1:], "only histograms.root: input ROOT files not bagged"
    record = json.loads((data / "metadata" / "archive.json").read_text())
    assert record["package"]["dirty"] == result.dirty
    assert record["outputs"]["histograms.root"] == sha256_file(data / "outputs" / "histograms.root")


def test_bag_is_valid_with_sha256(archive: tuple[Path, ArchiveResult]) -> None:
    bag = bagit.Bag(str(archive[0] / "bag"))
    bag.validate()
    assert bag.algorithms == ["sha256"]
    assert bag.info["Git-Dirty"] in {"true", "false"}
    assert archive[1].payload_files == len(list(bag.payload_files()))


def test_bag_detects_tampering(archive: tuple[Path, ArchiveResult], tmp_path: Path) -> None:
    copy = tmp_path / "bag"
    shutil.copytree(archive[0] / "bag", copy)
    validate_bag(copy)
    target = copy / "data" / "outputs" / "fit_results.json"
    target.write_text(target.read_text().replace("ttbar_norm", "ttbar_xorm", 1))
    with pytest.raises(AGCError, match="invalid BagIt bag"):
        validate_bag(copy)


def test_hepdata_submission_is_valid(
    archive: tuple[Path, ArchiveResult], run_outputs: Path
) -> None:
    folder = archive[0] / "hepdata"
    valid, messages = validate_submission(folder)
    assert valid, messages
    # one table per distribution plot, plus the fit result
    plots = sorted(p.stem for p in (run_outputs / "plots").glob("*fit.png"))
    tables = archive[1].hepdata.tables
    assert len(tables) == len(plots) + 1
    assert "Fit result" in tables
    # The pseudo-data column equals the workspace's observations.
    workspace = json.loads((run_outputs / "workspace.json").read_text())
    observed = {o["name"]: o["data"] for o in workspace["observations"]}
    submission = list(yaml.safe_load_all((folder / "submission.yaml").read_text()))
    for channel, data in observed.items():
        entry = next(d for d in submission if d.get("name") == f"{channel} pre-fit")
        table = yaml.safe_load((folder / entry["data_file"]).read_text())
        pseudo = next(
            v for v in table["dependent_variables"] if v["header"]["name"] == "Pseudo-data"
        )
        assert [v["value"] for v in pseudo["values"]] == pytest.approx(data, rel=1e-9)
    # The fit table carries the POI of fit_results.json.
    results = json.loads((run_outputs / "fit_results.json").read_text())
    fit = yaml.safe_load((folder / "fit_result.yaml").read_text())
    labels = [v["value"] for v in fit["independent_variables"][0]["values"]]
    i_poi = labels.index(results["poi"]["name"])
    assert fit["dependent_variables"][0]["values"][i_poi]["value"] == pytest.approx(
        results["poi"]["bestfit"], rel=1e-9
    )


def test_hepdata_with_reinterpretation_outputs(run_outputs: Path, tmp_path: Path) -> None:
    """Limits table and the HistFactory likelihood resource appear when the outputs exist."""
    out = tmp_path / "outputs"
    shutil.copytree(run_outputs, out, ignore=shutil.ignore_patterns("archive"))
    reint = out / "reinterpretation"
    (reint / "zprime_1000").mkdir(parents=True)
    shutil.copy(out / "workspace.json", reint / "BkgOnly.json")
    (reint / "patchset.json").write_text(json.dumps({"metadata": {}, "patches": []}))
    (reint / "zprime_1000" / "limits.json").write_text(
        json.dumps(
            {"observed": 0.5, "expected": [0.2, 0.3, 0.4, 0.6, 0.8], "labels": {"mass": 1000}}
        )
    )
    submission = build_submission(out, tmp_path / "hepdata")
    assert "Upper limits" in submission.tables
    assert LIKELIHOOD_TARBALL in submission.resources
    assert submission.to_dict()["folder"] == str(tmp_path / "hepdata")
    with tarfile.open(tmp_path / "hepdata" / LIKELIHOOD_TARBALL) as tar:
        assert tar.getnames() == ["BkgOnly.json", "patchset.json"]
    assert validate_submission(tmp_path / "hepdata")[0]
    table = yaml.safe_load((tmp_path / "hepdata" / "upper_limits.yaml").read_text())
    expected = table["dependent_variables"][1]["values"][0]
    assert expected["value"] == 0.4
    assert expected["errors"][0]["asymerror"] == {
        "minus": pytest.approx(-0.1),
        "plus": pytest.approx(0.2),
    }


def test_archive_is_reproducible(
    archive: tuple[Path, ArchiveResult],
    run_outputs: Path,
    small_embedded_manifest: Path,
    tmp_path: Path,
) -> None:
    """A second archive of the same run has the same HEPData tarball and payload checksums."""
    again = build_archive(
        run_outputs,
        tmp_path / "archive",
        allow_dirty=True,
        tarball=False,
        inputs=str(small_embedded_manifest),
    )
    first = archive[0]
    assert sha256_file(first / "hepdata-submission.tar.gz") == sha256_file(
        Path(again.archive) / "hepdata-submission.tar.gz"
    )

    def payload(folder: Path) -> set[str]:
        # outputs and inputs (the code may change under a developer's hands between the two)
        lines = (folder / "bag" / "manifest-sha256.txt").read_text().splitlines()
        return {line for line in lines if " data/outputs/" in line or " data/inputs/" in line}

    assert payload(first) == payload(Path(again.archive))
    assert any("data/outputs/histograms.root" in line for line in payload(first))


@pytest.mark.slow
def test_rerun_histograms_from_bag(archive: tuple[Path, ArchiveResult], tmp_path: Path) -> None:
    """Unpack the bag tarball, regenerate the data from the bagged recipe with the bagged code
    (at the scale and with the samples of the bagged generation.json), rerun the histogram
    stage: histograms.root has the bagged sha256."""
    _, result = archive
    assert result.bag_tarball is not None
    with tarfile.open(result.bag_tarball) as tar:
        tar.extractall(tmp_path, filter="data")
    (bag_dir,) = tmp_path.iterdir()
    validate_bag(bag_dir)
    code = bag_dir / "data" / "code"
    script = (
        "import json, sys, agc, pathlib\n"
        "from agc.dataset.generate import generate_dataset\n"
        "from agc.core.config import ProcessingConfig\n"
        "from agc.processing.histograms import run_histograms\n"
        "assert pathlib.Path(agc.__file__).is_relative_to(pathlib.Path.cwd()), agc.__file__\n"
        "record = json.loads(pathlib.Path(sys.argv[3]).read_text())\n"
        "m = generate_dataset(sys.argv[1], recipe='inputs/embedded.yaml',"
        " scale=record['scale'], samples=record['samples'])\n"
        "run_histograms(m, sys.argv[2], ProcessingConfig(workers=2))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(code / "code")}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            str(tmp_path / "data"),
            str(tmp_path / "histograms.root"),
            str(bag_dir / "data" / "inputs" / "generation.json"),
        ],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    bagged = bag_dir / "data" / "outputs" / "histograms.root"
    assert sha256_file(tmp_path / "histograms.root") == sha256_file(bagged)
    # the regenerated inputs are the ones the bagged manifest lists
    regenerated = json.loads((tmp_path / "data" / "manifest.json").read_text())
    bagged_manifest = json.loads((bag_dir / "data" / "inputs" / "manifest.json").read_text())
    assert regenerated == bagged_manifest


def test_archive_refuses_incomplete_run(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    out.mkdir()
    (out / "histograms.root").write_bytes(b"")
    with pytest.raises(
        AGCError, match=r"missing cutflow.json, workspace.json, fit_results.json, plots/"
    ):
        build_archive(out, tmp_path / "archive")
    assert not (tmp_path / "archive").exists()


def test_dirty_tree_refused_or_recorded(
    run_outputs: Path,
    small_embedded_manifest: Path,
    tmp_path: Path,
    git_repo: tuple[Path, Callable[..., str]],
) -> None:
    """A throw-away git repository (not the project's): clean -> not dirty; modified -> refused
    unless allow_dirty, and then recorded; an untracked source file is bagged and recorded."""
    repo, _ = git_repo
    clean = code_files(repo)
    assert clean.state.dirty is False
    assert clean.files == [".gitignore", "CITATION.cff"]
    (repo / "CITATION.cff").write_text((repo / "CITATION.cff").read_text() + "# edit\n")
    (repo / "extra.py").write_text("x = 1\n")
    code = code_files(repo)
    assert code.state.dirty is True
    assert code.state.modified == ["CITATION.cff"]
    assert code.state.untracked == ["extra.py"]
    assert code.files == [".gitignore", "CITATION.cff", "extra.py"]
    assert code.to_dict()["untracked"] == ["extra.py"]
    (repo / "data" / "embedded").mkdir(parents=True)
    shutil.copy(REPO / "inputs" / "embedded.yaml", repo / "data" / "embedded" / "manifest.json")
    with pytest.raises(AGCError, match=r"git tree is dirty \(1 modified, 1 untracked files"):
        build_archive(
            run_outputs, tmp_path / "archive", repo=repo, inputs=str(small_embedded_manifest)
        )
    assert not (tmp_path / "archive").exists()
    result = build_archive(
        run_outputs,
        tmp_path / "archive",
        repo=repo,
        allow_dirty=True,
        tarball=False,
        inputs=str(small_embedded_manifest),
    )
    assert result.dirty is True
    assert result.bag_tarball is None
    assert result.to_dict()["hepdata"]["folder"] == str(tmp_path / "archive" / "hepdata")
    bag = tmp_path / "archive" / "bag" / "data"
    record = json.loads((bag / "metadata" / "archive.json").read_text())
    assert record["package"]["modified"] == ["CITATION.cff"]
    assert record["package"]["untracked"] == ["extra.py"]
    assert (bag / "code" / "extra.py").is_file()
    assert not (bag / "code" / "data").exists()


def test_reproducible_tarball_keeps_the_executable_bit(tmp_path: Path) -> None:
    """Modes 0o755/0o644 as git records them (the SWHID of unpacked code depends on them);
    the bytes depend on the contents and modes only."""
    script, data = tmp_path / "run.sh", tmp_path / "data.txt"
    script.write_text("#!/bin/sh\n")
    data.write_text("x\n")
    script.chmod(0o700)
    data.chmod(0o600)
    first = reproducible_tarball(tmp_path / "a.tar.gz", {"run.sh": script, "data.txt": data})
    with tarfile.open(first) as tar:
        assert {m.name: m.mode for m in tar.getmembers()} == {"data.txt": 0o644, "run.sh": 0o755}
    os.utime(data, (0, 0))
    second = reproducible_tarball(tmp_path / "b.tar.gz", {"run.sh": script, "data.txt": data})
    assert first.read_bytes() == second.read_bytes()
