"""agc reproduce without a rerun: the rules of the verdict on a finished run's outputs against
tampered copies (one fit number, one histogram bin), and what stops a reproduction before the
rerun (a damaged archive, an archive without its run's parameters, a folder in use). The
reproduction of an archived workflow run is in tests/scenarios/test_reproduce.py."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from tamper_helpers import tamper_bin, tamper_fit

from agc import cli
from agc.core.errors import AGCError
from agc.publish.archive import ArchiveResult
from agc.publish.reproduce import (
    ArchivedRun,
    ReproduceOptions,
    Reproduction,
    file_mismatches,
    reproduce,
    rerun_parameters,
    venv_commands,
)
from agc.publish.verdict import (
    BIT_IDENTICAL,
    CONTRACT,
    NOT_COMPARED,
    NOT_REPRODUCED,
    REPRODUCED,
    SAME_CONTENT,
    Verdict,
    compare_outputs,
    format_table,
    rule_for,
)
from agc.publish.verify import Verification


def test_every_output_has_a_rule() -> None:
    assert rule_for("histograms.root") == (BIT_IDENTICAL, "")
    assert rule_for("workspace.json") == (BIT_IDENTICAL, "")
    assert rule_for("fit_results.json") == (CONTRACT, "")
    assert rule_for("ml/fit_results_ml.json") == (CONTRACT, "")
    assert rule_for("reinterpretation/zprime_1000/limits.json") == (CONTRACT, "")
    assert rule_for("dataset.json") == (BIT_IDENTICAL, "")
    assert rule_for("dataset.json", "/data/manifest.json") == (SAME_CONTENT, "inputs")
    assert rule_for("partial/ttbar__nominal.partial.json") == (SAME_CONTENT, "files")
    assert rule_for("histograms_cabinetry/4j2b-SR_ttbar.npz") == (SAME_CONTENT, "")
    for name in ("provenance.json", "report.html", "notebooks/03_fit.ipynb", "plots/pulls.png"):
        rule, reason = rule_for(name)
        assert rule == NOT_COMPARED
        assert reason


def test_identical_outputs_are_reproduced(run_outputs: Path) -> None:
    verdicts = compare_outputs(run_outputs, run_outputs)
    by_name = {v.output: v for v in verdicts}
    assert by_name["histograms.root"].verdict == REPRODUCED
    assert by_name["fit_results.json"].verdict == REPRODUCED
    assert by_name["fit_results.json"].share_used == 0.0
    assert by_name["plots/pulls.png"].verdict == NOT_COMPARED
    assert not [v for v in verdicts if v.failed]


def test_a_fit_number_is_judged_by_its_tolerance(run_outputs: Path, tmp_path: Path) -> None:
    rerun = tmp_path / "rerun"
    shutil.copytree(run_outputs, rerun)
    label = tamper_fit(rerun / "fit_results.json", 0.5)
    (inside,) = [v for v in compare_outputs(run_outputs, rerun) if v.output == "fit_results.json"]
    assert inside.verdict == REPRODUCED
    assert inside.share_used == pytest.approx(0.5, rel=1e-6)
    assert label in inside.detail
    tamper_fit(rerun / "fit_results.json", 2.5)  # now 3 tolerances away
    (beyond,) = [v for v in compare_outputs(run_outputs, rerun) if v.output == "fit_results.json"]
    assert beyond.verdict == NOT_REPRODUCED
    assert beyond.share_used == pytest.approx(3.0, rel=1e-6)
    assert f"bestfit[{label}]" in beyond.detail


def test_a_changed_histogram_bin_is_named(run_outputs: Path, tmp_path: Path) -> None:
    rerun = tmp_path / "rerun"
    shutil.copytree(run_outputs, rerun)
    tamper_bin(rerun / "histograms.root", "4j2b_ttbar", 5, 0.25)
    verdicts = {v.output: v for v in compare_outputs(run_outputs, rerun)}
    verdict = verdicts["histograms.root"]
    assert verdict.verdict == NOT_REPRODUCED
    assert verdict.detail.startswith("4j2b_ttbar bin 5 content: ")
    archived, rerun_value = verdict.detail.removeprefix("4j2b_ttbar bin 5 content: ").split(" vs ")
    assert float(rerun_value) - float(archived) == pytest.approx(0.25)  # plain numbers
    assert verdict.largest_difference == pytest.approx(0.25)
    assert math.isinf(verdict.share_used)
    table = format_table(list(verdicts.values()))
    assert "histograms.root" in table
    assert "plots/ (" in table  # figures folded into one row


def test_an_output_missing_from_the_rerun_is_not_reproduced(
    run_outputs: Path, tmp_path: Path
) -> None:
    rerun = tmp_path / "rerun"
    shutil.copytree(run_outputs, rerun)
    (rerun / "cutflow.json").unlink()
    (verdict,) = [v for v in compare_outputs(run_outputs, rerun) if v.output == "cutflow.json"]
    assert (verdict.verdict, verdict.detail) == (NOT_REPRODUCED, "missing from the rerun")


def test_intermediates_an_engine_does_not_keep_are_not_compared(tmp_path: Path) -> None:
    """The CWL workflow returns no partial outputs: missing there, they are listed, not failed;
    present and different, they fail."""
    archived, rerun = tmp_path / "archived", tmp_path / "rerun"
    (archived / "partial").mkdir(parents=True)
    (archived / "partial" / "ttbar__nominal.partial.json").write_text("{}")
    rerun.mkdir()
    (verdict,) = compare_outputs(archived, rerun)
    assert verdict.verdict == NOT_COMPARED
    assert "what is made from it is compared" in verdict.detail
    (rerun / "partial").mkdir()
    (rerun / "partial" / "ttbar__nominal.partial.json").write_text('{"a": 1}')
    (verdict,) = compare_outputs(archived, rerun)
    assert verdict.verdict == NOT_REPRODUCED


def test_an_archive_without_its_run_s_parameters_is_refused_in_one_line(
    archive: tuple[Path, ArchiveResult], tmp_path: Path
) -> None:
    """The small run was made by the stage functions, not by a workflow: no provenance.json."""
    folder, _ = archive
    with pytest.raises(AGCError, match=r"lacks the run's provenance \(provenance.json\)"):
        reproduce(folder, tmp_path / "r", ReproduceOptions(environment="current"))
    assert cli.main(["reproduce", str(folder), "--into", str(tmp_path / "r2"), "--reuse-env"]) == 2


def test_a_damaged_archive_is_not_reproduced(
    archive: tuple[Path, ArchiveResult], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = archive
    copy = tmp_path / "archive"
    shutil.copytree(folder, copy)
    histograms = copy / "bag" / "data" / "outputs" / "histograms.root"
    data = bytearray(histograms.read_bytes())
    data[len(data) // 2] ^= 0xFF
    histograms.write_bytes(bytes(data))
    code = cli.main(["reproduce", str(copy), "--into", str(tmp_path / "r"), "--reuse-env"])
    assert code == 1
    out = capsys.readouterr().out
    assert "FAIL bag: 1 file differs from the bag's manifests" in out
    assert out.splitlines()[-1] == "NOT reproduced: the archive fails verification (bag)"
    record = json.loads((tmp_path / "r" / "verdict.json").read_text())
    assert record["reproduced"] is False
    assert record["verification"]["ok"] is False


def test_a_folder_in_use_is_refused(archive: tuple[Path, ArchiveResult], tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "x").write_text("")
    with pytest.raises(AGCError, match="not empty; a reproduction needs a fresh folder"):
        reproduce(archive[0], tmp_path / "r")


def test_options_are_checked() -> None:
    with pytest.raises(AGCError, match="engine must be one of serial, cwl, snakemake"):
        ReproduceOptions(engine="make")
    with pytest.raises(AGCError, match=r"container rerun runs reana\.yaml"):
        ReproduceOptions(engine="cwl", environment="container")


def test_the_archived_parameters_are_passed_except_outdir() -> None:
    run = ArchivedRun(
        bag=Path("bag"),
        parameters={"inputs": "/old/manifest.json", "outdir": "out", "workers": 2, "flag": True},
        inputs="/old/manifest.json",
        generation=None,
        manifest={},
    )
    args = rerun_parameters(
        run, "inputs/archived-data/manifest.json", {"inputs", "workers", "flag"}
    )
    assert args == [
        "-p",
        "flag=true",
        "-p",
        "inputs=inputs/archived-data/manifest.json",
        "-p",
        "workers=2",
    ]


def test_the_venv_is_made_from_the_archived_lock_as_make_venv_does(tmp_path: Path) -> None:
    commands = venv_commands("python3", tmp_path / "venv", tmp_path / "ws")
    assert commands[0] == ["python3", "-m", "venv", str(tmp_path / "venv")]
    assert "--require-hashes" in commands[1]
    assert commands[1][-1] == str(tmp_path / "ws" / "environment" / "requirements.lock")
    assert commands[2][-2:] == ["-e", str(tmp_path / "ws")]


def test_input_files_are_checked_against_the_manifest_sha256(
    small_embedded_manifest: Path, tmp_path: Path
) -> None:
    manifest = json.loads(small_embedded_manifest.read_text())
    base = small_embedded_manifest.parent
    assert file_mismatches(manifest, base) == []
    copy = tmp_path / "data"
    shutil.copytree(base, copy)
    first = next(iter(sorted(copy.glob("*.root"))))
    first.write_bytes(first.read_bytes() + b"\0")
    bad = file_mismatches(manifest, copy)
    assert len(bad) == 1
    assert bad[0].startswith(first.name)


def test_the_last_line_names_five_outputs_and_counts_the_rest() -> None:
    verdicts = [
        Verdict(f"partial/s{i}.partial.json", SAME_CONTENT, 1.0, 1.0, NOT_REPRODUCED, "x")
        for i in range(7)
    ]
    result = Reproduction("a", "f", Verification("b", []), "serial", verdicts)
    assert not result.ok
    last = result.summary().splitlines()[-1]
    assert last.startswith("NOT reproduced: partial/s0.partial.json (x); ")
    assert last.endswith("partial/s4.partial.json (x); and 2 more")


def test_npz_templates_are_compared_array_by_array(tmp_path: Path) -> None:
    """The zip container's bytes may differ (another Python's zipfile); the arrays may not."""
    import zipfile

    import numpy as np

    archived, rerun = tmp_path / "archived", tmp_path / "rerun"
    for folder in (archived, rerun):
        (folder / "histograms_cabinetry").mkdir(parents=True)
    name = "histograms_cabinetry/4j2b-SR_ttbar.npz"
    np.savez(archived / name, yields=np.array([1.0, 2.0]), sumw2=np.array([0.5, 0.25]))
    with zipfile.ZipFile(rerun / name, "w", zipfile.ZIP_DEFLATED) as other_container:
        for key, value in np.load(archived / name).items():
            with other_container.open(f"{key}.npy", "w") as stream:
                np.lib.format.write_array(stream, value)
    assert (archived / name).read_bytes() != (rerun / name).read_bytes()
    (verdict,) = compare_outputs(archived, rerun)
    assert (verdict.rule, verdict.verdict) == (SAME_CONTENT, REPRODUCED)
    np.savez(rerun / name, yields=np.array([1.0, 2.5]), sumw2=np.array([0.5, 0.25]))
    (verdict,) = compare_outputs(archived, rerun)
    assert verdict.verdict == NOT_REPRODUCED
    assert verdict.detail == "yields: values differ"
    assert verdict.largest_difference == pytest.approx(0.5)
