"""Manifests in the AGC layout: the real file list, our own, and malformed ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agc.core import physics
from agc.core.errors import AGCError
from agc.core.fileio import sha256_file
from agc.dataset.manifest import (
    Manifest,
    fileset,
    load_manifest,
    resolve_inputs,
    select_samples,
    write_manifest,
)


def _manifest(tmp_path: Path, content: str = "x") -> Path:
    data = tmp_path / "a.root"
    data.write_text(content)
    manifest = {
        "ttbar": {
            "nominal": {
                "nevts_total": 10,
                "files": [
                    {
                        "path": "a.root",
                        "nevts": 10,
                        "sha256": sha256_file(data),
                        "size": data.stat().st_size,
                    }
                ],
            }
        }
    }
    return write_manifest(tmp_path / "manifest.json", manifest)


def test_real_agc_file_list_loads_through_the_same_code(agc_file_list: Path) -> None:
    manifest = load_manifest(agc_file_list)
    assert set(manifest) == set(physics.VARIATIONS)
    chosen = fileset(manifest, max_files=1)
    assert len(chosen) == 9
    meta = chosen["ttbar__nominal"]["metadata"]
    first = manifest["ttbar"]["nominal"]["files"][0]
    assert meta["nevts"] == first["nevts"]
    assert meta["xsec"] == pytest.approx(729.84)
    assert list(chosen["ttbar__nominal"]["files"]) == [first["path"]]


def test_relative_paths_resolve_from_the_manifest_folder(tmp_path: Path) -> None:
    manifest = load_manifest(_manifest(tmp_path))
    assert manifest["ttbar"]["nominal"]["files"][0]["path"] == str(tmp_path / "a.root")
    # Input checks (existence, size, sha256, tree, branches) are agc.processing.histograms.check_file's:
    # tests/test_robustness.py and tests/test_histograms.py cover them.


def test_unknown_sample_lists_the_known_ones(tmp_path: Path) -> None:
    manifest = load_manifest(_manifest(tmp_path))
    with pytest.raises(AGCError, match="unknown sample 'wjets'; known: ttbar"):
        select_samples(manifest, "wjets")
    assert select_samples(manifest, "ttbar__nominal") == [("ttbar", "nominal")]


def test_missing_and_malformed_manifest(tmp_path: Path) -> None:
    with pytest.raises(AGCError, match="manifest not found"):
        load_manifest(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"ttbar": {"nominal": ')
    with pytest.raises(AGCError, match=r"bad\.json: malformed JSON at line 1"):
        load_manifest(bad)
    bad.write_text(json.dumps({"ttbar": {"nominal": {"nevts_total": -1, "files": []}}}))
    with pytest.raises(AGCError, match="invalid value at 'ttbar/nominal/"):
        load_manifest(bad)


def test_resolve_inputs() -> None:
    assert resolve_inputs("embedded") == Path("data/embedded/manifest.json")
    assert resolve_inputs("x/m.json") == Path("x/m.json")
    with pytest.raises(AGCError):
        resolve_inputs(" ")


def test_max_files_must_be_positive_or_all(tmp_path: Path) -> None:
    manifest = load_manifest(_manifest(tmp_path))
    with pytest.raises(AGCError, match="max_files"):
        fileset(manifest, max_files=0)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=_json)
def test_malformed_manifests_give_one_clean_error(tmp_path: Path, document: object) -> None:
    """Whatever JSON arrives, the loader either accepts it or raises AGCError (never a traceback)."""
    path = tmp_path / "m.json"
    path.write_text(json.dumps(document))
    try:
        manifest = load_manifest(path)
        fileset(manifest, samples=",".join(manifest))
    except AGCError as exc:
        message = str(exc)
    else:
        return
    assert "\n" not in message


def test_manifest_is_validated_on_creation_and_selects_sample_records(tmp_path: Path) -> None:
    path = _manifest(tmp_path)
    manifest = Manifest.load(path)
    assert Manifest.of(manifest) is manifest
    (sample,) = manifest.select("ttbar", max_files=1)
    assert (sample.key, sample.nevts, sample.paths) == (
        "ttbar__nominal",
        10,
        [str(tmp_path / "a.root")],
    )
    (item,) = sample.files
    assert item.sha256 == sha256_file(tmp_path / "a.root")
    assert item.size == (tmp_path / "a.root").stat().st_size
    assert (item.content, item.entries, item.remote) == (None, None, False)
    assert sample.xsec == pytest.approx(physics.XSEC_PB["ttbar"])
    with pytest.raises(AGCError, match="invalid value at 'ttbar/nominal/"):
        Manifest({"ttbar": {"nominal": {"nevts_total": -1, "files": []}}})


def test_a_file_listed_twice_in_a_sample_is_refused(tmp_path: Path) -> None:
    data = load_manifest(_manifest(tmp_path))
    files = data["ttbar"]["nominal"]["files"]
    files.append(dict(files[0]))
    with pytest.raises(AGCError, match=r"file .*a\.root is listed twice"):
        Manifest(data).select()
    assert len(Manifest(data).select(max_files=1)[0].files) == 1
