"""Writing the files (agc.dataset.writer): independent of the file split and of the number of
processes, unique event identity."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from agc.dataset.branches import BRANCH_TYPES
from agc.dataset.generate import generate_dataset
from agc.dataset.manifest import load_manifest
from agc.dataset.writer import FileJob, write_file, write_files


def _arrays(path: str | Path) -> dict[str, Any]:
    with uproot.open(path) as handle:
        return handle["Events"].arrays(library="ak")


def test_content_does_not_depend_on_the_file_split(tmp_path: Path, recipe: dict[str, Any]) -> None:
    """Event i depends on (seed, sample, block) only: one file or three give the same events."""
    one, three = copy.deepcopy(recipe), copy.deepcopy(recipe)
    for r, files in ((one, 1), (three, 3)):
        r["block_size"] = 300
        r["samples"]["zprime_500"]["nominal"]["files"] = files

    def concatenated(r: dict[str, Any], name: str) -> dict[str, Any]:
        manifest = load_manifest(
            generate_dataset(tmp_path / name, recipe=r, scale=0.1, samples=["zprime_500"])
        )
        files = manifest["zprime_500"]["nominal"]["files"]
        parts = [_arrays(f["path"]) for f in files]
        return {b: ak.concatenate([p[b] for p in parts]) for b in BRANCH_TYPES}

    a, b = concatenated(one, "one"), concatenated(three, "three")
    assert 0 < len(a["event"]) < 1000  # 1000 generated, the preselected ones written
    for name in BRANCH_TYPES:
        assert ak.array_equal(a[name], b[name]), name
    with uproot.open(tmp_path / "one" / "zprime_500__nominal_0.root") as handle:
        assert handle["Events"]["Jet_pt"].num_baskets == 4  # streamed in blocks of 300 (extend)


def test_event_identity_is_unique(small_manifest: Path) -> None:
    seen: set[tuple[int, int]] = set()
    for variations in load_manifest(small_manifest).values():
        for entry in variations.values():
            ids = []
            for item in entry["files"]:
                with uproot.open(item["path"]) as handle:
                    arrays = handle["Events"].arrays(
                        ["run", "luminosityBlock", "event"], library="np"
                    )
                assert np.all(arrays["run"] == 1)
                ids.extend(
                    zip(arrays["luminosityBlock"].tolist(), arrays["event"].tolist(), strict=True)
                )
            assert len(set(ids)) == len(ids) == entry["nevts_total"]
            assert not seen & set(ids)  # distinct between samples too
            seen |= set(ids)


def test_bytes_do_not_depend_on_the_number_of_processes(
    tmp_path: Path, recipe: dict[str, Any]
) -> None:
    small = copy.deepcopy(recipe)
    small["samples"]["zprime_500"]["nominal"]["files"] = 2
    jobs = {
        workers: [
            FileJob(tmp_path / str(workers), "zprime_500", "nominal", small, 400, index)
            for index in range(2)
        ]
        for workers in (1, 2)
    }
    for workers, sample_jobs in jobs.items():
        (tmp_path / str(workers)).mkdir()
        entries = write_files(sample_jobs, workers)
        assert [e["path"] for e in entries] == [f"zprime_500__nominal_{i}.root" for i in range(2)]
    for index in range(2):
        name = f"zprime_500__nominal_{index}.root"
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes()
    # one file written on its own equals the same file written with its sibling
    alone = write_file(*FileJob(tmp_path, "zprime_500", "nominal", small, 400, 1))
    assert (tmp_path / alone["path"]).read_bytes() == (tmp_path / "1" / alone["path"]).read_bytes()
