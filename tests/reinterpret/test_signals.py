"""Signal declarations: the shipped ones load, bad ones are rejected before any processing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from agc.core.errors import AGCError
from agc.reinterpret.signals import load_signal

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "inputs" / "signals").glob("*.yaml"))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace with a small embedded-like manifest (dummy files) and the shipped declarations."""
    data = tmp_path / "data" / "embedded"
    data.mkdir(parents=True)
    manifest = {}
    for mass in (500, 1000, 1500, 2000):
        name = f"zprime_{mass}"
        (data / f"{name}.root").write_bytes(b"dummy")
        manifest[name] = {
            "nominal": {"nevts_total": 10, "files": [{"path": f"{name}.root", "nevts": 10}]}
        }
    (data / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    shutil.copytree(REPO / "inputs" / "signals", tmp_path / "inputs" / "signals")
    return tmp_path


def _write(workspace: Path, text: str, name: str = "bad.yaml") -> str:
    path = workspace / "inputs" / "signals" / name
    path.write_text(text, encoding="utf-8")
    return f"inputs/signals/{name}"


def test_shipped_declarations_are_the_four_zprime_masses() -> None:
    assert [p.stem for p in SHIPPED] == [f"zprime_{m}" for m in (1000, 1500, 2000, 500)]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_declaration_loads(workspace: Path, path: Path) -> None:
    decl = load_signal(f"inputs/signals/{path.name}", workspace=workspace)
    mass = int(path.stem.split("_")[1])
    assert decl.name == path.stem
    assert decl.labels == {"mass": float(mass)}
    assert decl.xsec > 0
    assert 0 < decl.filter_efficiency <= 1
    assert decl.sample == f"{path.stem}__nominal"
    (record,) = decl.files
    assert Path(record["path"]) == (workspace / "data" / "embedded" / f"{path.stem}.root").resolve()
    entry = decl.manifest()[decl.name]["nominal"]
    assert entry["xsec"] == decl.xsec
    assert entry["nevts_total"] == 10


def test_shipped_embedded_declarations_match_the_embedded_recipe() -> None:
    recipe = yaml.safe_load((REPO / "inputs" / "embedded.yaml").read_text(encoding="utf-8"))
    for path in SHIPPED:
        decl = yaml.safe_load(path.read_text(encoding="utf-8"))
        sample = recipe["samples"][decl["embedded"]]["nominal"]
        assert decl["xsec"] == sample["xsec"]
        expected = sample["filter_efficiency"] * recipe["yield_calibration"]
        assert decl["filter_efficiency"] == pytest.approx(expected, rel=1e-5)


def test_inline_files_and_manifest_sources(workspace: Path) -> None:
    inline = _write(
        workspace,
        "name: my_signal\nxsec: 2.5\nlabels: {mass: 750}\n"
        "files: [{path: data/embedded/zprime_500.root, nevts: 10}]\n",
    )
    decl = load_signal(inline, workspace=workspace)
    assert decl.name == "my_signal"
    assert decl.xsec == 2.5
    assert decl.filter_efficiency == 1.0
    via_manifest = _write(
        workspace,
        "manifest: data/embedded/manifest.json\nprocess: zprime_1500\nxsec: 1\nlabels: {mass: 1500}\n",
        "m.yaml",
    )
    assert load_signal(via_manifest, workspace=workspace).name == "zprime_1500"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name: s\nxsec: 1\nlabels: {mass: 1}\nfiles: [{path: /etc/passwd, nevts: 1}]\n",
            "not absolute",
        ),
        ("name: s\nxsec: 1\nlabels: {mass: 1}\nfiles: [{path: ../x.root, nevts: 1}]\n", "no '..'"),
        ("manifest: ../other/manifest.json\nprocess: p\nxsec: 1\nlabels: {mass: 1}\n", "no '..'"),
        ("embedded: zprime_1000\nlabels: {mass: 1000}\n", "missing key 'xsec'"),
        ("embedded: zprime_1000\nxsec: -1\nlabels: {mass: 1000}\n", "xsec"),
        (
            "name: s\nxsec: 1\nlabels: {mass: 1}\nfiles: [{path: data/nope.root, nevts: 1}]\n",
            "signal file not found: ",
        ),
        ("embedded: zprime_999\nxsec: 1\nlabels: {mass: 999}\n", "zprime_999__nominal"),
        (
            "embedded: zprime_1000\nxsec: 1\nlabels: {mass: 1000}\ncolour: red\n",
            "unknown key 'colour'",
        ),
        ("embedded: zprime_1000\nxsec: [1\n", "malformed YAML"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        (
            "embedded: zprime_1000\nname: s\nxsec: 1\nlabels: {mass: 1}\nfiles: [{path: a, nevts: 1}]\n",
            "exactly one of",
        ),
        ("embedded: zprime_1000\nname: ttbar\nxsec: 1\nlabels: {mass: 1}\n", "name"),
    ],
    ids=[
        "absolute-file",
        "dotdot-file",
        "dotdot-manifest",
        "missing-xsec",
        "negative-xsec",
        "missing-file",
        "unknown-sample",
        "unknown-key",
        "malformed-yaml",
        "not-a-mapping",
        "two-sources",
        "background-name",
    ],
)
def test_bad_declaration_is_rejected(workspace: Path, text: str, message: str) -> None:
    source = _write(workspace, text)
    with pytest.raises(AGCError, match=message) as info:
        load_signal(source, workspace=workspace)
    assert "\n" not in str(info.value)
    assert source in str(info.value)


def test_declaration_outside_the_workspace_is_rejected(workspace: Path) -> None:
    for bad in ("../elsewhere.yaml", "/tmp/signal.yaml"):
        with pytest.raises(AGCError, match="inside the workspace"):
            load_signal(bad, workspace=workspace)


def test_missing_declaration_and_missing_embedded_dataset(workspace: Path) -> None:
    with pytest.raises(AGCError, match="signal declaration not found"):
        load_signal("inputs/signals/nope.yaml", workspace=workspace)
    shutil.rmtree(workspace / "data")
    with pytest.raises(AGCError, match="agc generate"):
        load_signal("inputs/signals/zprime_1000.yaml", workspace=workspace)


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("embedded: zprime_1000\nxsec: .nan\nlabels: {mass: 1000}\n", "xsec", "nan"),
        ("embedded: zprime_1000\nxsec: .inf\nlabels: {mass: 1000}\n", "xsec", "inf"),
        ("embedded: zprime_1000\nxsec: 1.0e+400\nlabels: {mass: 1000}\n", "xsec", "inf"),
        (
            "embedded: zprime_1000\nxsec: 1\nfilter_efficiency: -.inf\nlabels: {mass: 1000}\n",
            "filter_efficiency",
            "-inf",
        ),
        ("embedded: zprime_1000\nxsec: 1\nlabels: {mass: .NaN}\n", "labels/mass", "nan"),
    ],
    ids=["nan-xsec", "inf-xsec", "overflow-xsec", "minus-inf-efficiency", "nan-label"],
)
def test_non_finite_numbers_are_refused_naming_file_and_key(
    workspace: Path, text: str, key: str, value: str
) -> None:
    source = _write(workspace, text)
    with pytest.raises(AGCError) as info:
        load_signal(source, workspace=workspace)
    assert str(info.value) == f"{source}: '{key}' must be a finite number, got {value}"


def test_a_key_given_twice_is_refused_with_its_line(workspace: Path) -> None:
    source = _write(workspace, "embedded: zprime_1000\nxsec: 1\nlabels: {mass: 1000}\nxsec: 7\n")
    with pytest.raises(AGCError) as info:
        load_signal(source, workspace=workspace)
    assert str(info.value) == (
        f"{workspace / source}: line 4 column 1: malformed YAML "
        "(duplicate key 'xsec', first given on line 2)"
    )
    nested = _write(workspace, "embedded: zprime_1000\nxsec: 1\nlabels: {mass: 1, mass: 2}\n")
    with pytest.raises(AGCError, match=r"line 3 column 19: .*duplicate key 'mass'"):
        load_signal(nested, workspace=workspace)
