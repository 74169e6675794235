"""agc verify-archive: one line per check, exit 1 on any failure; the Workflow Run RO-Crate of a
(tiny) CWL run made by cwltool --provenance and runcrate, loaded back with rocrate, with the
embedded dataset's files it read described but declared absent."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyhf
import pytest
from rocrate.rocrate import ROCrate

from agc import cli
from agc.core.fileio import sha256_file
from agc.publish.archive import ArchiveResult, build_archive
from agc.publish.checksums import CHECKSUMS_NAME, read_checksums
from agc.publish.crate import (
    SERIAL_PROVENANCE,
    build_crate,
    check_crate,
    declared_absent,
    embedded_inputs,
)
from agc.publish.verify import FAIL, PASS, SKIP, Check, verify_archive

REPO = Path(__file__).resolve().parents[2]
RUNCRATE = REPO / ".venv-archive" / "bin" / "runcrate"

TOOL = """\
cwlVersion: v1.2
class: CommandLineTool
baseCommand: [echo]
inputs:
  message: {type: string, inputBinding: {position: 1}}
  data: File
stdout: message.txt
outputs:
  out: {type: stdout}
"""
WORKFLOW = """\
cwlVersion: v1.2
class: Workflow
inputs:
  message: string
  data: File
outputs:
  out: {type: File, outputSource: say/out}
steps:
  say:
    run: echo.cwl
    in: {message: message, data: data}
    out: [out]
"""


def statuses(path: Path) -> dict[str, str]:
    return {c.name: c.status for c in verify_archive(path).checks}


def test_a_fresh_archive_verifies(archive: tuple[Path, ArchiveResult]) -> None:
    dest, result = archive
    assert statuses(dest) == {
        "files": PASS,
        "bag": PASS,
        "patchset": SKIP,  # no reinterpretation in this run
        "hepdata": PASS,
        "crate": SKIP,  # no CWL provenance run
        "swhid": PASS,
    }
    meta = json.loads((dest / "bag" / "data" / "metadata" / "codemeta.json").read_text())
    assert meta["identifier"] == result.swhid
    assert result.swhid is not None
    assert result.swhid.startswith("swh:1:dir:")
    record = json.loads((dest / "bag" / "data" / "metadata" / "archive.json").read_text())
    assert record["package"]["swhid"] == result.swhid


def test_one_corrupted_byte_is_named_and_exits_1(
    archive: tuple[Path, ArchiveResult], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "archive"
    shutil.copytree(archive[0] / "bag", copy / "bag")
    target = copy / "bag" / "data" / "outputs" / "histograms.root"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    assert cli.main(["verify-archive", str(copy)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    at = lines.index("FAIL bag: 1 file differs from the bag's manifests")
    assert lines[at + 1] == "  changed data/outputs/histograms.root"
    assert "FAIL files: no SHA256SUMS" in "\n".join(lines)  # only the bag was copied
    assert len([line for line in lines if line.split(" ")[0] in {PASS, FAIL, SKIP}]) == 6
    assert cli.main(["verify-archive", str(copy), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is False
    (bag_check,) = [c for c in result["checks"] if c["name"] == "bag"]
    assert bag_check["files"] == ["changed data/outputs/histograms.root"]


def test_cli_passes_a_good_archive(
    archive: tuple[Path, ArchiveResult], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["verify-archive", str(archive[0])]) == 0
    assert "PASS bag:" in capsys.readouterr().out


def flip_byte(path: Path, at: int | None = None) -> None:
    """Flip one bit of the byte at index ``at`` of the file (default: the middle one)."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2 if at is None else at] ^= 0x01
    path.write_bytes(bytes(data))


def check_of(path: Path, name: str) -> Check:
    return next(c for c in verify_archive(path).checks if c.name == name)


def test_sha256sums_covers_every_file_beside_the_bag(archive: tuple[Path, ArchiveResult]) -> None:
    """SHA256SUMS lists the tarballs, the HEPData folder and the citation files (not bag/), in
    sha256sum's format."""
    dest, result = archive
    listed = read_checksums(dest / CHECKSUMS_NAME)
    beside = sorted(
        p.relative_to(dest).as_posix()
        for p in dest.rglob("*")
        if p.is_file() and p.relative_to(dest).parts[0] != "bag" and p.name != CHECKSUMS_NAME
    )
    assert sorted(listed) == beside
    assert result.bag_tarball is not None
    for name in (Path(result.bag_tarball).name, "hepdata-submission.tar.gz", "CITATION.cff"):
        assert listed[name] == sha256_file(dest / name)
    assert ".zenodo.json" in listed
    assert any(name.startswith("hepdata/") and name.endswith(".yaml") for name in listed)
    if shutil.which("sha256sum"):
        checked = subprocess.run(
            ["sha256sum", "--check", "--quiet", CHECKSUMS_NAME], cwd=dest, check=False
        )
        assert checked.returncode == 0


def test_every_file_beside_the_bag_is_verified_by_name(
    archive: tuple[Path, ArchiveResult], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A flipped byte in either tarball, an edited HEPData table and CITATION.cff, a deleted and
    an added file: each named on its own line, exit 1; the bag itself still passes."""
    copy = tmp_path / "archive"
    shutil.copytree(archive[0], copy)
    tarball = Path(archive[1].bag_tarball or "").name
    flip_byte(copy / tarball)
    flip_byte(copy / "hepdata-submission.tar.gz")
    table = max((copy / "hepdata").glob("*.yaml"))
    table.write_text(table.read_text() + "# edited\n")
    with (copy / "CITATION.cff").open("a") as handle:
        handle.write("# edited\n")
    (copy / ".zenodo.json").unlink()
    (copy / "notes.txt").write_text("not deposited\n")
    assert cli.main(["verify-archive", str(copy)]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    at = lines.index("FAIL files: 6 files differ from SHA256SUMS")
    assert lines[at + 1 : at + 7] == [
        "  missing .zenodo.json",
        "  added notes.txt",
        "  changed CITATION.cff",
        f"  changed {tarball}",
        "  changed hepdata-submission.tar.gz",
        f"  changed hepdata/{table.name}",
    ]
    assert "PASS bag:" in out
    assert cli.main(["verify-archive", str(copy), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False


def test_missing_added_and_changed_bag_files_are_named(
    archive: tuple[Path, ArchiveResult], tmp_path: Path
) -> None:
    """Payload files deleted, added and changed (the sizes change: Payload-Oxum differs) and a
    stray file beside the tag files: every one named."""
    copy = tmp_path / "archive"
    shutil.copytree(archive[0], copy)
    data = copy / "bag" / "data"
    (data / "outputs" / "cutflow.json").unlink()
    (data / "outputs" / "extra.txt").write_text("added\n")
    with (data / "metadata" / "CITATION.cff").open("a") as handle:
        handle.write("# edited\n")
    (copy / "bag" / "notes.txt").write_text("stray tag file\n")
    check = check_of(copy, "bag")
    assert check.status == FAIL
    assert check.detail == "4 files differ from the bag's manifests"
    assert check.files == (
        "missing data/outputs/cutflow.json",
        "added data/outputs/extra.txt",
        "added notes.txt",
        "changed data/metadata/CITATION.cff",
    )
    assert check_of(copy, "files").status == PASS


def test_a_changed_tag_file_is_named(archive: tuple[Path, ArchiveResult], tmp_path: Path) -> None:
    copy = tmp_path / "bag"
    shutil.copytree(archive[0] / "bag", copy)
    with (copy / "bag-info.txt").open("a") as handle:
        handle.write("Contact-Name: someone else\n")
    check = check_of(copy, "bag")
    assert (check.status, check.files) == (FAIL, ("changed bag-info.txt",))
    assert check_of(copy, "files").status == SKIP  # a bag given alone


def test_the_bag_tarball_is_unpacked_and_verified(
    archive: tuple[Path, ArchiveResult], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tarball = Path(archive[1].bag_tarball or "")
    assert cli.main(["verify-archive", str(tarball)]) == 0
    out = capsys.readouterr().out
    assert f"PASS files: {tarball.name}: gzip and tar intact, holds one bag" in out
    assert "PASS bag:" in out
    assert cli.main(["verify-archive", str(tarball), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["bag"] == str(tarball)
    damaged = tmp_path / tarball.name
    for at in (None, -6):  # in the deflate stream; in the gzip trailer (CRC32, size)
        shutil.copy(tarball, damaged)
        flip_byte(damaged, at)
        (check,) = verify_archive(damaged).checks
        assert check.status == FAIL
        assert check.detail.startswith(f"{tarball.name}: damaged tarball (")
    damaged.write_bytes(tarball.read_bytes()[: tarball.stat().st_size // 2])
    assert cli.main(["verify-archive", str(damaged)]) == 1
    assert f"FAIL files: {tarball.name}: damaged tarball" in capsys.readouterr().out
    hepdata = archive[0] / "hepdata-submission.tar.gz"
    (check,) = verify_archive(hepdata).checks
    assert (check.status, check.detail.split(" (")[0]) == (
        FAIL,
        "hepdata-submission.tar.gz: holds no BagIt bag",
    )


def test_a_path_that_is_no_archive_is_refused_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("x\n")
    for path, message in (
        (tmp_path / "nope", "no such archive folder, bag or bag tarball"),
        (tmp_path / "notes.txt", "not an archive folder, a bag or a bag tarball"),
        (tmp_path, "no BagIt bag"),
    ):
        assert cli.main(["verify-archive", str(path)]) == 2
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith(f"agc verify-archive: error: {path}: ")
        assert message in line


def test_patchset_and_bkg_only_copies_are_checked(
    archive: tuple[Path, ArchiveResult], tmp_path: Path
) -> None:
    """A valid BkgOnly + patchset passes; a second, different BkgOnly.json fails."""
    copy = tmp_path / "archive" / "bag"
    shutil.copytree(archive[0] / "bag", copy)
    outputs = copy / "data" / "outputs"
    reint = outputs / "reinterpretation"
    (reint / "zprime").mkdir(parents=True)
    bkg = json.loads((outputs / "workspace.json").read_text())
    (reint / "BkgOnly.json").write_text(json.dumps(bkg))
    patchset = {
        "metadata": {
            "description": "test",
            "digests": {"sha256": pyhf.utils.digest(bkg, algorithm="sha256")},
            "labels": ["mass"],
            "references": {"hepdata": "ins0000000"},
        },
        "patches": [
            {
                "metadata": {"name": "zprime", "values": [1000]},
                "patch": [{"op": "replace", "path": "/measurements/0/name", "value": "z"}],
            }
        ],
        "version": "1.0.0",
    }
    (reint / "patchset.json").write_text(json.dumps(patchset))
    import bagit

    bagit.Bag(str(copy)).save(manifests=True)
    assert statuses(copy)["patchset"] == PASS
    (reint / "zprime" / "BkgOnly.json").write_text(json.dumps(bkg, indent=1))
    bagit.Bag(str(copy)).save(manifests=True)
    result = verify_archive(copy)
    check = next(c for c in result.checks if c.name == "patchset")
    assert check.status == FAIL
    assert "copies differ" in check.detail
    assert not result.ok


#: The embedded dataset's file the tiny workflow reads (its smallest).
EMBEDDED_INPUT = "single_top_s_chan__nominal_0.root"


@pytest.fixture(scope="module")
def research_object(
    small_embedded_manifest: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """cwltool --provenance of a one-step CWL workflow (the same cwltool as agc run-cwl) that
    reads one file of the embedded dataset (captured in the research object)."""
    work = tmp_path_factory.mktemp("cwlprov")
    (work / "echo.cwl").write_text(TOOL)
    (work / "wf.cwl").write_text(WORKFLOW)
    data = {"class": "File", "path": str(small_embedded_manifest.parent / EMBEDDED_INPUT)}
    (work / "job.json").write_text(json.dumps({"message": "hello", "data": data}))
    (work / "tmp").mkdir()
    cwltool = Path(sys.executable).with_name("cwltool")
    result = subprocess.run(
        [
            str(cwltool),
            "--no-container",
            "--provenance",
            str(work / "ro"),
            "--outdir",
            str(work / "out"),
            "--tmpdir-prefix",
            f"{work}/tmp/",
            str(work / "wf.cwl"),
            str(work / "job.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "HOME": str(work)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return work / "ro"


def require_runcrate() -> Path:
    if not RUNCRATE.is_file():
        message = f"runcrate not installed ({RUNCRATE}): make archive-tools"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"under CI=true: {message}")
        pytest.skip(message)
    return RUNCRATE


def test_runcrate_makes_a_workflow_run_crate_that_rocrate_loads(
    research_object: Path, tmp_path: Path
) -> None:
    python = require_runcrate().with_name("python")
    provenance = tmp_path / "provenance.json"
    provenance.write_text('{"engine": "serial-local"}\n')
    crate_dir = build_crate(
        research_object,
        tmp_path / "crate",
        python=python,
        license_id="BSD-3-Clause",
        serial_provenance=provenance,
    )
    assert check_crate(crate_dir) == []
    crate = ROCrate(str(crate_dir))
    assert crate.mainEntity is not None
    assert "ComputationalWorkflow" in crate.mainEntity.type
    actions = [e for e in crate.get_entities() if "CreateAction" in e.type]
    assert actions  # the workflow run (and its step)
    serial = crate.dereference(SERIAL_PROVENANCE)
    assert serial is not None
    assert (crate_dir / SERIAL_PROVENANCE).read_text() == provenance.read_text()
    (crate_dir / SERIAL_PROVENANCE).unlink()
    assert any("missing" in p for p in check_crate(crate_dir))


def test_archive_bags_the_crate_and_verify_checks_it(
    research_object: Path, run_outputs: Path, small_embedded_manifest: Path, tmp_path: Path
) -> None:
    require_runcrate()
    result = build_archive(
        run_outputs,
        tmp_path / "archive",
        allow_dirty=True,
        tarball=False,
        inputs=str(small_embedded_manifest),
        research_object=research_object,
    )
    crate_dir = tmp_path / "archive" / "bag" / "data" / "crate"
    assert result.crate == str(crate_dir)
    check = next(c for c in verify_archive(tmp_path / "archive").checks if c.name == "crate")
    assert check.status == PASS
    assert "1 regenerable inputs declared absent" in check.detail
    assert declared_absent(crate_dir) == [f"#data/embedded/{EMBEDDED_INPUT}"]
    input_sha256 = sha256_file(small_embedded_manifest.parent / EMBEDDED_INPUT)
    assert input_sha256 not in {sha256_file(p) for p in crate_dir.rglob("*") if p.is_file()}
    shutil.rmtree(tmp_path / "archive" / "bag" / "data" / "crate")
    checks = statuses(tmp_path / "archive")
    assert checks["crate"] == FAIL
    assert checks["bag"] == FAIL  # the crate's files are in the manifest


def test_regenerable_inputs_are_described_but_declared_absent(
    research_object: Path, small_embedded_manifest: Path, tmp_path: Path
) -> None:
    """The embedded file the run read leaves the crate's payload; its entity (``#`` id,
    localPath, sha1, sha256, how to regenerate it) stays linked to the run. The check accepts
    it only with a sha256 among the regenerable inputs, and still fails on a file that is
    missing without being declared absent."""
    python = require_runcrate().with_name("python")
    provenance = tmp_path / "provenance.json"
    provenance.write_text('{"engine": "serial-local"}\n')
    regenerable = embedded_inputs(small_embedded_manifest)
    assert regenerable is not None
    crate_dir = build_crate(
        research_object,
        tmp_path / "crate",
        python=python,
        license_id="BSD-3-Clause",
        serial_provenance=provenance,
        regenerable=regenerable,
    )
    absent_id = f"#data/embedded/{EMBEDDED_INPUT}"
    assert declared_absent(crate_dir) == [absent_id]
    data = small_embedded_manifest.parent / EMBEDDED_INPUT
    assert sha256_file(data) not in {sha256_file(p) for p in crate_dir.rglob("*") if p.is_file()}
    assert check_crate(crate_dir, regenerable.paths) == []

    crate = ROCrate(str(crate_dir))
    entity = crate.dereference(absent_id)
    assert entity is not None
    assert entity["sha256"] == sha256_file(data)
    assert int(entity["contentSize"]) == data.stat().st_size
    assert entity["localPath"] == f"data/embedded/{EMBEDDED_INPUT}"
    assert "agc generate --output data/embedded" in entity["description"]
    metadata = (crate_dir / "ro-crate-metadata.json").read_text()
    assert metadata.count(f'"{absent_id}"') >= 3  # the entity, hasPart, the run's input value

    assert any("declared absent" in p for p in check_crate(crate_dir, {}))
    document = json.loads(metadata)
    for node in document["@graph"]:
        if node["@id"] == absent_id:
            del node["sha256"]
    (crate_dir / "ro-crate-metadata.json").write_text(json.dumps(document))
    assert any("without a sha256" in p for p in check_crate(crate_dir, regenerable.paths))
    (crate_dir / "ro-crate-metadata.json").write_text(metadata)

    (crate_dir / SERIAL_PROVENANCE).unlink()  # missing, not declared absent
    problems = check_crate(crate_dir, regenerable.paths)
    assert problems == [f"{crate_dir}: {SERIAL_PROVENANCE} is described but missing"]


def test_only_a_generated_dataset_is_regenerable(
    small_embedded_manifest: Path, tmp_path: Path
) -> None:
    regenerable = embedded_inputs(small_embedded_manifest)
    assert regenerable is not None
    assert regenerable.paths[sha256_file(small_embedded_manifest.parent / EMBEDDED_INPUT)] == (
        f"data/embedded/{EMBEDDED_INPUT}"
    )
    shutil.copy(small_embedded_manifest, tmp_path / "manifest.json")  # no generation.json beside it
    assert embedded_inputs(tmp_path / "manifest.json") is None
