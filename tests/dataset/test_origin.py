"""What a run's events are (agc.dataset.origin): decided from the manifest and the run's record."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from agc.dataset.manifest import GENERATION_RECORD
from agc.dataset.origin import DataOrigin, manifest_origin, run_origin


def test_a_generated_manifest_is_synthetic_any_other_cms_open_data(tmp_path: Path) -> None:
    generated, listed = tmp_path / "generated", tmp_path / "listed"
    for folder in (generated, listed):
        folder.mkdir()
        (folder / "manifest.json").write_text("{}")
    (generated / GENERATION_RECORD).write_text("{}")
    assert manifest_origin("embedded") is DataOrigin.SYNTHETIC
    assert manifest_origin(generated / "manifest.json") is DataOrigin.SYNTHETIC
    assert manifest_origin(listed / "manifest.json") is DataOrigin.CMS_OPEN_DATA
    assert manifest_origin(str(listed / "manifest.json")) is DataOrigin.CMS_OPEN_DATA


def test_a_run_origin_follows_its_dataset_record(tmp_path: Path) -> None:
    assert run_origin(tmp_path) is None  # no dataset stage ran here
    (tmp_path / "dataset.json").write_text("not json")
    assert run_origin(tmp_path) is None
    (tmp_path / "dataset.json").write_text(json.dumps({"inputs": "embedded"}))
    assert run_origin(tmp_path) is DataOrigin.SYNTHETIC
    manifest = tmp_path / "agc" / "nanoaod_inputs.json"
    (tmp_path / "dataset.json").write_text(json.dumps({"inputs": str(manifest)}))
    assert run_origin(tmp_path) is DataOrigin.CMS_OPEN_DATA


def test_the_origin_is_found_without_importing_the_generator(tmp_path: Path) -> None:
    # Every step that labels figures asks for the origin; the generator (numba kernels, the
    # writer) is a tenth of a second of imports that only the dataset step needs.
    listed = tmp_path / "listed"
    listed.mkdir()
    (listed / "manifest.json").write_text("{}")
    (tmp_path / "dataset.json").write_text(json.dumps({"inputs": str(listed / "manifest.json")}))
    code = (
        "import sys; from agc.dataset.origin import run_origin; "
        f"print(run_origin({str(tmp_path)!r}).name, 'agc.dataset.generate' in sys.modules)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert shown == ["CMS_OPEN_DATA", "False"]
