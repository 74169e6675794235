"""Faults a user meets in what they declare, pass or deposit, each ending in one line and a
non-zero exit: a damaged archive (``agc verify-archive``, exit 1, every file at fault named), a
signal declaration with a number that is not finite or a key given twice, and an overlong string
parameter (exit 2, before any step).

The archive is built once per module from a copy of the session's complete run on the small
dataset (``run_outputs``: histograms, workspace, a fit without impacts and the fit plots).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from agc.cli import main as cli_main
from agc.publish.archive import ArchiveResult, build_archive

REPO = Path(__file__).resolve().parents[2]
STATUSES = ("PASS ", "FAIL ", "SKIP ")


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``(exit code, stdout, stderr)`` of ``agc *args`` (argparse's own exits included)."""
    try:
        code = cli_main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


# -- verify-archive ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_archive(
    run_outputs: Path, small_embedded_manifest: Path, tmp_path_factory: pytest.TempPathFactory
) -> ArchiveResult:
    """The archive (with its bag tarball) of a copy of the session's complete run on the small
    dataset (``run_outputs``)."""
    out = tmp_path_factory.mktemp("faults_run") / "outputs"
    shutil.copytree(run_outputs, out, ignore=shutil.ignore_patterns("archive"))
    return build_archive(
        out, out / "archive", allow_dirty=True, inputs=str(small_embedded_manifest)
    )


@pytest.fixture
def archive_copy(small_archive: ArchiveResult, tmp_path: Path) -> Path:
    """A copy of the archive folder to damage."""
    return Path(shutil.copytree(small_archive.archive, tmp_path / "archive"))


def failures(err: str) -> list[str]:
    """The FAIL lines and the file lines under them."""
    lines, keep = [], False
    for line in err.splitlines():
        if line.startswith(STATUSES):
            keep = line.startswith("FAIL ")
        if keep:
            lines.append(line)
    return lines


@pytest.mark.parametrize(
    "damage",
    ["bag tarball", "hepdata tarball", "hepdata table", "CITATION.cff", "added", "deleted"],
)
def test_damage_beside_the_bag_is_named(
    archive_copy: Path,
    small_archive: ArchiveResult,
    damage: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tarball = Path(small_archive.bag_tarball or "").name
    table = min(p.name for p in (archive_copy / "hepdata").glob("*.yaml"))
    if damage == "bag tarball":
        flip_byte(archive_copy / tarball)
        expected = f"  changed {tarball}"
    elif damage == "hepdata tarball":
        flip_byte(archive_copy / "hepdata-submission.tar.gz")
        expected = "  changed hepdata-submission.tar.gz"
    elif damage == "hepdata table":
        path = archive_copy / "hepdata" / table
        path.write_text(path.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
        expected = f"  changed hepdata/{table}"
    elif damage == "CITATION.cff":
        path = archive_copy / "CITATION.cff"
        path.write_text(path.read_text(encoding="utf-8").replace("title:", "title: X", 1))
        expected = "  changed CITATION.cff"
    elif damage == "added":
        (archive_copy / "hepdata" / "extra.yaml").write_text("a: 1\n")
        expected = "  added hepdata/extra.yaml"
    else:
        (archive_copy / ".zenodo.json").unlink()
        expected = "  missing .zenodo.json"
    code, out, _ = run_cli(["verify-archive", str(archive_copy)], capsys)
    assert code == 1
    assert failures(out) == ["FAIL files: 1 file differs from SHA256SUMS", expected]
    code, out, _ = run_cli(["verify-archive", str(archive_copy), "--json"], capsys)
    assert (code, json.loads(out)["ok"]) == (1, False)


def test_damage_inside_the_bag_is_named_file_by_file(
    archive_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = archive_copy / "bag" / "data"
    (data / "outputs" / "cutflow.json").unlink()
    (data / "outputs" / "notes.txt").write_text("added\n")
    flip_byte(data / "outputs" / "histograms.root")
    code, out, _ = run_cli(["verify-archive", str(archive_copy)], capsys)
    assert code == 1
    assert failures(out) == [
        "FAIL bag: 3 files differ from the bag's manifests",
        "  missing data/outputs/cutflow.json",
        "  added data/outputs/notes.txt",
        "  changed data/outputs/histograms.root",
    ]


def test_the_bag_tarball_itself_is_verified(
    small_archive: ArchiveResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tarball = Path(small_archive.bag_tarball or "")
    code, out, err = run_cli(["verify-archive", str(tarball)], capsys)
    assert code == 0, err
    assert [line.split(":")[0] for line in out.splitlines() if line.startswith(STATUSES)] == [
        "PASS files",
        "PASS bag",
        "SKIP patchset",
        "PASS hepdata",
        "SKIP crate",
        "PASS swhid",
    ]
    code, out, _ = run_cli(["verify-archive", str(tarball), "--json"], capsys)
    assert (code, json.loads(out)["ok"]) == (0, True)
    damaged = Path(shutil.copy(tarball, tmp_path / tarball.name))
    flip_byte(damaged)
    code, out, _ = run_cli(["verify-archive", str(damaged)], capsys)
    assert code == 1
    (line,) = out.splitlines()
    assert line.startswith(f"FAIL files: {tarball.name}: damaged tarball (")


# -- signal declarations -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("xsec: .nan\n", "'xsec' must be a finite number, got nan"),
        ("xsec: .inf\n", "'xsec' must be a finite number, got inf"),
        (
            "xsec: 1\nxsec: 2\n",
            "line 4 column 1: malformed YAML (duplicate key 'xsec', first given on line 3)",
        ),
    ],
    ids=["nan", "inf", "duplicate-key"],
)
def test_bad_signal_declaration_is_one_line_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    message: str,
) -> None:
    """``agc reinterpret`` refuses the declaration before processing anything."""
    monkeypatch.chdir(tmp_path)
    Path("signal.yaml").write_text(
        "embedded: zprime_1000\nlabels: {mass: 1000}\n" + text, encoding="utf-8"
    )
    code, out, err = run_cli(["reinterpret", "--signal", "signal.yaml", "--outdir", "out"], capsys)
    assert code == 2
    (line,) = err.splitlines()
    assert line.startswith("agc reinterpret: error: ")
    assert "signal.yaml" in line
    assert line.endswith(message)
    assert out == ""
    assert not (tmp_path / "out" / "reinterpretation").exists()


# -- string parameters -------------------------------------------------------------------------

LONG_OUTDIR = "o" * 5000


@pytest.mark.parametrize(
    "args",
    [
        ["histograms", "--outdir", LONG_OUTDIR],
        ["run-serial", str(REPO / "reana.yaml"), "-p", f"outdir={LONG_OUTDIR}"],
        ["check-parameters"],
    ],
    ids=["histograms", "run-serial", "check-parameters"],
)
def test_overlong_outdir_is_one_line_exit_2_before_any_step(
    args: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"outdir={LONG_OUTDIR}\n"))
    code, out, err = run_cli(args, capsys)
    assert code == 2
    (line,) = err.splitlines()
    assert "'outdir'" in line
    assert "(5000 characters) is longer than 1024 characters" in line
    assert len(line) < 400
    assert out == ""
    assert list(tmp_path.iterdir()) == []
