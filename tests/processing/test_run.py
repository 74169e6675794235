"""agc.processing.run: the up-front input checks (spread over the executor's cores, in the
files' order) and the chunking metadata they hand to coffea's Runner."""

from __future__ import annotations

import concurrent.futures
from dataclasses import replace
from pathlib import Path

import pytest
from coffea.processor import Runner
from coffea.processor.executor import FileMeta

from agc.core.errors import AGCError
from agc.dataset.manifest import Manifest
from agc.processing.inputs import TREE
from agc.processing.run import _check_files


def test_checks_hand_coffea_the_metadata_its_preprocessing_reads(toy_manifest: Path) -> None:
    """Per checked file, the cache entry equals what coffea's preprocessing would fetch
    (process, variation, number of entries, ROOT UUID): same chunks, no second opening."""
    samples = Manifest.of(toy_manifest).select("ttbar,wjets")
    checked = _check_files(samples, skip_bad_files=False)
    cache = checked.coffea_metadata()
    assert len(cache) == sum(len(sample.files) for sample in samples)
    for sample in samples:
        for item in sample.files:
            user = {"process": sample.process, "variation": sample.variation}
            (fetched,) = Runner.metadata_fetcher_root(
                60, False, {}, FileMeta(sample.key, item.path, TREE, dict(user))
            )
            assert cache[FileMeta(sample.key, item.path, TREE)] == fetched.metadata


def test_checks_on_a_pool_equal_the_serial_checks_and_stop_at_the_first_bad_file(
    toy_manifest: Path, tmp_path: Path
) -> None:
    samples = Manifest.of(toy_manifest).select("ttbar,wjets")
    serial = _check_files(samples, skip_bad_files=False)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        spread = _check_files(samples, False, mapper=pool.map)
        assert spread == serial
        first, *rest = samples[0].files
        *others, last = samples[-1].files
        broken = [
            samples[0].with_files([replace(first, path=str(tmp_path / "missing-a.root")), *rest]),
            *samples[1:-1],
            samples[-1].with_files([*others, replace(last, path=str(tmp_path / "missing-b.root"))]),
        ]
        with pytest.raises(AGCError, match=r"missing-a\.root"):
            _check_files(broken, False, mapper=pool.map)
