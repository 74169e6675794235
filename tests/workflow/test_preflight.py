"""What the parameters name, checked before any step (agc.workflow.preflight)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agc.core.errors import AGCError
from agc.workflow.preflight import check_named_inputs, resolve_signal

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace with the analysis' signal declarations and one local input file."""
    shutil.copytree(REPO / "inputs" / "signals", tmp_path / "inputs" / "signals")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.root").write_bytes(b"root" + bytes(96))  # a ROOT file's first bytes
    (tmp_path / "data" / "notes.root").write_text("this is not a ROOT file\n")
    return tmp_path


def manifest(folder: Path, files: list[dict], name: str = "inputs.json") -> str:
    """A one-sample manifest (ttbar nominal) with ``files``; its name in ``folder``."""
    data = {"ttbar": {"nominal": {"nevts_total": 10, "xsec": 1.0, "files": files}}}
    (folder / name).write_text(json.dumps(data))
    return name


def test_the_defaults_pass_before_the_embedded_dataset_exists(workspace: Path) -> None:
    check_named_inputs({}, workspace)
    check_named_inputs({"signal": "inputs/signals/zprime_1000.yaml"}, workspace)


@pytest.mark.parametrize(
    ("signal", "message"),
    [
        (
            "inputs/signals/zprime_9999.yaml",
            (
                r"^signal declaration not found: inputs/signals/zprime_9999\.yaml; did you mean "
                r"inputs/signals/zprime_\d+\.yaml"
            ),
        ),
        (
            "zprime_1000",
            (
                r"^signal 'zprime_1000' is neither 'ttbar' nor a signal declaration; did you mean "
                r"inputs/signals/zprime_1000\.yaml\?$"
            ),
        ),
        (
            "higgs",
            (
                r"^signal 'higgs' is neither 'ttbar' nor a signal declaration; known: "
                r"inputs/signals/zprime_1000\.yaml, "
            ),
        ),
    ],
)
def test_a_signal_that_names_no_declaration_is_refused_with_a_suggestion(
    workspace: Path, signal: str, message: str
) -> None:
    with pytest.raises(AGCError, match=message) as info:
        check_named_inputs({"signal": signal}, workspace)
    assert "\n" not in str(info.value)


def test_a_declaration_that_breaks_its_schema_is_refused(workspace: Path) -> None:
    (workspace / "inputs" / "signals" / "bad.yaml").write_text("embedded: zprime_1000\n")
    with pytest.raises(AGCError, match=r"inputs/signals/bad\.yaml: .*'xsec'"):
        check_named_inputs({"signal": "inputs/signals/bad.yaml"}, workspace)


def test_resolve_signal_finds_a_bare_declaration_name(workspace: Path) -> None:
    assert resolve_signal("zprime_1000", workspace) == "inputs/signals/zprime_1000.yaml"
    assert resolve_signal("ttbar", workspace) == "ttbar"
    assert resolve_signal("x/y.yaml", workspace) == "x/y.yaml"
    with pytest.raises(AGCError, match=r"did you mean inputs/signals/zprime_1500\.yaml"):
        resolve_signal("zprime_1501", workspace)


def test_a_good_manifest_passes(workspace: Path) -> None:
    name = manifest(workspace, [{"path": "data/a.root", "nevts": 10}])
    check_named_inputs({"inputs": name, "samples": "ttbar"}, workspace)


@pytest.mark.parametrize(
    ("files", "samples", "message"),
    [
        ([{"path": "data/a.root", "nevts": 0}], "ttbar", r"data/a\.root has nevts 0; .* > 0"),
        ([{"path": "data/none.root", "nevts": 5}], "ttbar", r"file not found: .*none\.root"),
        ([{"path": "data/a.root", "nevts": 5}], "wjets", r"unknown sample 'wjets'"),
        ([{"path": "data/a.root", "nevts": 5}], "ttbarr", r"'ttbarr' \(did you mean 'ttbar'\?\)"),
        (
            [{"path": "data/notes.root", "nevts": 5}],
            "ttbar",
            (
                r"^inputs\.json: input file .*notes\.root \(sample ttbar__nominal\) is not a "
                r"ROOT file: it starts with b'this', not b'root'$"
            ),
        ),
        ([{"path": "data/a.root", "nevts": "5"}], "ttbar", r"inputs\.json"),
    ],
)
def test_a_manifest_mistake_is_found_before_any_step(
    workspace: Path, files: list[dict], samples: str, message: str
) -> None:
    name = manifest(workspace, files)
    with pytest.raises(AGCError, match=message):
        check_named_inputs({"inputs": name, "samples": samples}, workspace)


def test_a_missing_manifest_is_named(workspace: Path) -> None:
    with pytest.raises(AGCError, match=r"nowhere\.json"):
        check_named_inputs({"inputs": "nowhere.json"}, workspace)


def test_an_outdir_that_cannot_be_made_is_refused(workspace: Path) -> None:
    (workspace / "taken").write_text("a file")
    with pytest.raises(AGCError, match=r"^outdir 'taken/run': .*taken is not a folder$"):
        check_named_inputs({"outdir": "taken/run"}, workspace)
    check_named_inputs({"outdir": "new/run"}, workspace)
    assert not (workspace / "new").exists()


def test_the_histogram_stage_refuses_an_empty_file_before_processing(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """data/a.root is not a ROOT file: reading it would fail differently, after the start."""
    from agc.workflow import stages

    monkeypatch.chdir(workspace)
    name = manifest(workspace, [{"path": "data/a.root", "nevts": 0}])
    with pytest.raises(AGCError, match=r"^inputs\.json: sample 'ttbar__nominal': .* has nevts 0"):
        stages.STAGES["histograms"](inputs=name, samples="ttbar", executor="iterative")
    assert not (workspace / "outputs").exists()
